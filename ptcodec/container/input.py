"""`ptcodec.open`: a prompt stream in a `.ptv` file or a Matroska track, read the way PyAV reads media.

    with ptcodec.open("movie.mkv") as container:
        stream = container.streams[0]            # the prompt stream
        for packet in container.demux():         # ptcodec Packets (temporal units)
            ...
        for frame in container.decode():         # ptcodec.decoder.DecodedFrame, generated
            ...

Parsing needs no torch; `decode()` loads the generator the stream names.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from ptcodec.container import matroska as mkv
from ptcodec.errors import PtcodecError
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
    """A prompt stream opened by path ("-" for standard input). A regular file
    can be demuxed any number of times; standard input, a pipe or a FIFO is
    read once, front to back (`rereadable` is False)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        given = mkv.open_input(path)
        self.path = given.path
        self.format = "matroska" if given.matroska else "ptv"
        self.rereadable = given.stream is None
        self._reader: PtvReader | None = None
        try:
            self._track = mkv.read_prompt_track(given) if given.matroska else None
            if self._track is not None:
                with PtvReader(self._track.codec_private, path=f"{self.path} (codec private data)") as reader:
                    header, private = reader.header, self._track.codec_private
            else:
                reader = PtvReader(given.stream or self.path, path=self.path, closes=True)
                header, private = reader.header, reader.codec_private()
                if self.rereadable:
                    reader.close()
                else:
                    self._reader = reader  # a stream is read once: demux() goes on from here
        finally:
            if given.matroska:
                given.close()
        index = self._track.stream_index if self._track else 0
        self.streams = [PromptStream(index, header, private)]
        self.has_audio = bool(self._track and self._track.has_audio)
        """A Matroska file with audio beside its prompt track."""

    @property
    def header(self) -> SequenceHeader:
        return self.streams[0].header

    def _ptv_reader(self) -> PtvReader:
        """The whole stream as a `.ptv` byte stream (Matroska: CodecPrivate + Blocks)."""
        if self._track is not None:
            return PtvReader(self._track.ptv_bytes(), path=f"{self.path} (prompt track)")
        return self._reader or PtvReader(self.path)

    def demux(self) -> Iterator[Packet]:
        """The temporal units in order. From a `.ptv` file they are parsed and
        checked as a whole stream; from Matroska each Block is handed out as it
        stands (a damaged Block reaches the decoder, which conceals it)."""
        if self._track is None:
            with self._ptv_reader() as reader:
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

    def decode(self, *, start: int = 0, end: int | None = None, generator=None, options=None) -> Iterator:
        """Decoded frames start .. end-1, decoding from the access point at or before `start`.
        The generator the stream names is loaded (with `options`, a GeneratorOptions) unless one is given."""
        from ptcodec.decoder import Decoder

        decoder = Decoder.load(self.streams[0], generator, options=options)
        yield from decoder.decode_range(self.demux(), start, end)

    def close(self) -> None:
        self._track = None
        if self._reader is not None:
            self._reader.close()

    def __enter__(self) -> "InputContainer":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _payload_start(data: bytes, header: SequenceHeader) -> tuple[int | None, bool]:
    """(frame_index, opens a scene) of a Block's first unit, when it parses."""
    try:
        record = read_unit(io.BytesIO(data), header, 0)
    except PtcodecError:
        return None, False
    unit = record.unit if record else None
    return getattr(unit, "frame_index", None), isinstance(unit, SceneInit)


def open(path: str | os.PathLike[str] | InputContainer) -> InputContainer:  # noqa: A001 - mirrors av.open
    """A container for this path; an open container is handed back as it is."""
    return path if isinstance(path, InputContainer) else InputContainer(path)
