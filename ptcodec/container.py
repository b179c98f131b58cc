"""`ptcodec.open`: a prompt stream in a `.ptv` file or a Matroska track, read the way PyAV reads media.

    with ptcodec.open("movie.mkv") as container:
        stream = container.streams[0]            # the prompt stream
        for packet in container.demux():         # ptcodec Packets (temporal units)
            ...
        for frame in container.decode():         # av.VideoFrame, generated
            ...

Parsing needs no torch; `decode()` loads the generator the stream names.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from ptcodec import mkv
from ptcodec.errors import InputError, PtcodecError
from ptcodec.ptv import Packet, PtvReader, SceneInit, SequenceHeader
from ptcodec.ptv.framing import read_unit


@dataclass
class PromptStream:
    """What a container says about its prompt stream (cf. av.VideoStream)."""

    index: int
    header: SequenceHeader
    codec_private: bytes
    type: str = "prompt"

    @property
    def time_base(self) -> Fraction:
        return self.header.time_base

    @property
    def average_rate(self) -> Fraction:
        return self.header.fps

    @property
    def frames(self) -> int:
        return self.header.frame_count

    @property
    def width(self) -> int:
        return self.header.width

    @property
    def height(self) -> int:
        return self.header.height


class InputContainer:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        if not os.path.isfile(self.path):
            raise InputError(f"{self.path}: no such file")
        self.format = "matroska" if mkv.is_matroska(self.path) else "ptv"
        self._track = mkv.read_prompt_track(self.path) if self.format == "matroska" else None
        source = self._track.codec_private if self._track else self.path
        with PtvReader(source, path=self.path) as reader:
            header = reader.header
            private = reader.codec_private() if self._track is None else self._track.codec_private
        index = self._track.stream_index if self._track else 0
        self.streams = [PromptStream(index, header, private)]

    @property
    def header(self) -> SequenceHeader:
        return self.streams[0].header

    def reader(self) -> PtvReader:
        """The whole stream as a `.ptv` byte stream (Matroska: CodecPrivate + Blocks)."""
        if self._track is None:
            return PtvReader(self.path)
        return PtvReader(self._track.ptv_bytes(), path=f"{self.path} (prompt track)")

    def demux(self) -> Iterator[Packet]:
        """The temporal units in order. From a `.ptv` file they are parsed and
        checked as a whole stream; from Matroska each Block is handed out as it
        stands (a damaged Block reaches the decoder, which conceals it)."""
        if self._track is None:
            with PtvReader(self.path) as reader:
                yield from reader.packets()
            return
        fps = self.header.fps
        for data, seconds, duration in self._track.packets:
            pts = round(seconds * fps)  # Matroska keeps 1 ms; frame indices are exact in the payload
            frame, is_rap = _payload_start(data, self.header)
            yield Packet(data, frame if frame is not None else pts,
                         round(duration * fps) if duration else 0, self.header.time_base, is_rap)

    def access_points(self) -> list[int]:
        """Frame indices where decoding can start (scene starts, spec 11.3)."""
        return [p.pts for p in self.demux() if p.is_keyframe]

    def decode(self, *, start: int = 0, end: int | None = None, generator=None, **generator_options
               ) -> Iterator[object]:
        """av.VideoFrames of frames start .. end-1, decoding from the access point at or before `start`."""
        from ptcodec.decoder import Decoder
        from ptcodec.generators import load_generator

        gen = generator or load_generator(self.header.generator_id, **generator_options)
        decoder = Decoder(self.header, gen)
        for frame in decode_range(decoder, self.demux(), start, end):
            yield frame.to_av(self.header.time_base)

    def close(self) -> None:
        self._track = None

    def __enter__(self) -> "InputContainer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def decode_range(decoder, packets, start: int = 0, end: int | None = None) -> Iterator:
    """DecodedFrames start .. end-1: packets before the last access point at or
    before `start` are skipped, frames before `start` are generated but not returned."""
    packets = list(packets)
    access = [i for i, p in enumerate(packets) if p.is_keyframe and p.pts <= start]
    first = access[-1] if access else 0
    for packet in [*packets[first:], None]:
        for frame in decoder.decode_iter(packet):  # a frame at a time: a long temporal unit is never held whole
            if frame.index >= start and (end is None or frame.index < end):
                yield frame
            if end is not None and decoder.next_index >= end:
                return


def _payload_start(data: bytes, header: SequenceHeader) -> tuple[int | None, bool]:
    """(frame_index, opens a scene) of a Block's first unit, when it parses."""
    try:
        record = read_unit(io.BytesIO(data), header, 0)
    except PtcodecError:
        return None, False
    unit = record.unit if record else None
    return getattr(unit, "frame_index", None), isinstance(unit, SceneInit)


def open(path: str | os.PathLike[str]) -> InputContainer:  # noqa: A001 - mirrors av.open
    return InputContainer(path)
