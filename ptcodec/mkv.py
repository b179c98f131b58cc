"""Prompt streams in Matroska (spec/ptv.md, Annex B), through PyAV.

FFmpeg's Matroska muxer cannot write a new CodecID and refuses data streams, so
the prompt track is a video track that FFmpeg will carry but never decode:
codec `rawvideo` with the codec tag (fourcc) `PTV1`, the stream's codec private
data (signature, sequence header, leading units) as CodecPrivate, and one Block
per temporal unit. FFmpeg marks every Block of such a track as a keyframe, so
the random access flag travels in the payload (a packet that begins with a
scene-init unit), and frame indices are read from the payload too (Matroska
timestamps have 1 ms resolution). The codec private data is also stored,
base64-encoded, in the track's tag `PTV_CODEC_PRIVATE`, for tools that cannot
reach CodecPrivate (a tag rather than an attachment, so that the file lists
only its media tracks).

Demuxing restores the `.ptv` file bit for bit: the codec private data, then
every Block's bytes in order (spec 11.2).
"""

from __future__ import annotations

import base64
import contextlib
import heapq
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

from ptcodec.errors import InputError
from ptcodec.outputs import atomic_file, check_output, refuse_inputs, write_error
from ptcodec.ptv import MAGIC, Packet, PtvReader

CODEC_TAG = "PTV1"
PRIVATE_TAG = "PTV_CODEC_PRIVATE"
MKV_OPTIONS = {"strict": "unofficial", "avoid_negative_ts": "disabled", "fflags": "+bitexact"}
"""bitexact: no random UIDs and no library version in the file, so the same stream gives the same bytes."""


def is_matroska(path: str | os.PathLike[str]) -> bool:
    """True for an EBML file (Matroska, WebM): its first bytes are 1A 45 DF A3."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x1a\x45\xdf\xa3"
    except OSError:
        return False


@dataclass
class PromptTrack:
    """The prompt track of a Matroska file."""

    path: str
    stream_index: int
    codec_private: bytes
    packets: list[tuple[bytes, Fraction, Fraction | None]]
    """(Block bytes, presentation time in seconds, duration in seconds) in file order."""

    def ptv_bytes(self) -> bytes:
        return self.codec_private + b"".join(data for data, _, _ in self.packets)


def _open(path: str):
    import av

    try:
        return av.open(path)
    except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
        raise InputError(f"{path}: cannot open as Matroska ({e.__class__.__name__}: {e})") from None


def read_prompt_track(path: str | os.PathLike[str]) -> PromptTrack:
    """Find the PTV1 track and read its CodecPrivate and Blocks (payloads are not parsed here)."""
    path = os.fspath(path)
    container = _open(path)
    try:
        stream = next((s for s in container.streams if s.type == "video" and s.codec_context.codec_tag == CODEC_TAG),
                      None)
        if stream is None:
            raise InputError(f"{path}: no prompt track (a video track with codec tag {CODEC_TAG})")
        private = bytes(stream.codec_context.extradata or b"")
        if not private and PRIVATE_TAG in stream.metadata:
            private = base64.b64decode(stream.metadata[PRIVATE_TAG])
        if not private.startswith(MAGIC):
            raise InputError(f"{path}: the prompt track has no .ptv codec private data")
        packets = []
        for packet in container.demux(stream):
            if packet.size == 0 or packet.pts is None:
                continue
            tb = packet.time_base
            duration = packet.duration * tb if packet.duration else None
            packets.append((bytes(packet), packet.pts * tb, duration))
        return PromptTrack(path, stream.index, private, packets)
    finally:
        container.close()


@dataclass
class MuxResult:
    packets: int
    streams: list[str]
    bytes: int


def mux(source: str | os.PathLike[str], output: str | os.PathLike[str], *, with_source: str | None = None,
        with_video: bool = False) -> MuxResult:
    """`.ptv` -> Matroska; `with_source` adds that file's audio (and, with
    `with_video`, its video) to the same file, copied without re-encoding."""
    refuse_inputs(os.fspath(output), [source])
    with PtvReader(os.fspath(source)) as reader:
        return write_matroska(output, reader.header, reader.codec_private(), list(reader.packets()),
                              with_source=with_source, with_video=with_video)


def write_matroska(output: str | os.PathLike[str], header, private: bytes, packets: list[Packet], *,
                   with_source: str | None = None, with_video: bool = False) -> MuxResult:
    """Write these temporal units as the prompt track of a new Matroska file (atomically)."""
    import av

    output = os.fspath(output)
    check_output(output, inputs=[with_source])
    temporary = f"{output}.partial.mkv"
    try:
        out = av.open(temporary, "w", format="matroska", options=MKV_OPTIONS)
    except (av.FFmpegError, OSError) as error:
        raise write_error(temporary, error, "cannot create") from None
    inputs = []
    try:
        track = out.add_stream("rawvideo", rate=header.fps)
        track.width, track.height = header.width, header.height
        track.codec_context.codec_tag = CODEC_TAG
        track.codec_context.extradata = private
        track.time_base = header.time_base
        track.metadata["title"] = f"ptcodec prompt stream ({header.generator_id})"
        track.metadata[PRIVATE_TAG] = base64.b64encode(private).decode("ascii")
        names = ["prompt"]
        copies = []
        if with_source is not None:
            container = _open(os.fspath(with_source))
            inputs.append(container)
            for stream in container.streams:
                if stream.type == "audio" or (with_video and stream.type == "video"):
                    copy = out.add_stream_from_template(stream)
                    copies.append((stream, copy))
                    names.append(stream.type)
        queue = _merge(track, packets, copies, inputs[0] if inputs else None)
        for packet in queue:
            out.mux(packet)
        out.close()
        os.replace(temporary, output)
    except BaseException as error:
        with contextlib.suppress(av.FFmpegError, OSError):  # a full disk fails the close too
            out.close()
        if os.path.exists(temporary):
            os.remove(temporary)
        if isinstance(error, (av.FFmpegError, OSError)):
            raise write_error(output, error, "writing the Matroska file failed") from None
        raise
    finally:
        for container in inputs:
            container.close()
    return MuxResult(len(packets), names, os.path.getsize(output))


def _merge(track, packets: list[Packet], copies, container) -> Iterator:
    """Every packet to write, in presentation-time order across tracks."""
    import av

    def prompt() -> Iterator[tuple[Fraction, int, av.Packet]]:
        for i, p in enumerate(packets):
            packet = av.Packet(p.data)
            packet.pts = packet.dts = p.pts
            packet.duration = p.duration
            packet.time_base = p.time_base
            packet.is_keyframe = p.is_keyframe
            packet.stream = track
            yield p.pts * p.time_base, 0, packet

    def copied() -> Iterator[tuple[Fraction, int, av.Packet]]:
        if container is None:
            return
        targets = {stream.index: copy for stream, copy in copies}
        for packet in container.demux([stream for stream, _ in copies]):
            if packet.dts is None and packet.pts is None:
                continue
            packet.stream = targets[packet.stream.index]
            yield (packet.dts if packet.dts is not None else packet.pts) * packet.time_base, 1, packet

    for _, _, packet in heapq.merge(prompt(), copied(), key=lambda item: (item[0], item[1])):
        yield packet


def demux(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> int:
    """Matroska -> `.ptv`, bit for bit; returns the number of Blocks."""
    output = os.fspath(output)
    check_output(output, inputs=[source])
    track = read_prompt_track(source)
    with atomic_file(output) as f:
        f.write(track.ptv_bytes())
    return len(track.packets)
