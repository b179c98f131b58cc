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
import io
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

from ptcodec.errors import InputError, one_line
from ptcodec.outputs import atomic_file, check_output, write_error
from ptcodec.ptv import MAGIC, Packet, PtvReader

CODEC_TAG = "PTV1"
SUFFIXES = (".mkv",)
"""Output names that get a prompt stream muxed into Matroska (transcode)."""
PRIVATE_TAG = "PTV_CODEC_PRIVATE"
MKV_OPTIONS = {"strict": "unofficial", "avoid_negative_ts": "disabled", "fflags": "+bitexact"}
"""bitexact: no random UIDs and no library version in the file, so the same stream gives the same bytes."""
EBML_MAGIC = b"\x1a\x45\xdf\xa3"
STDIN = "-"
"""The path that means standard input."""


def is_matroska(path: str | os.PathLike[str]) -> bool:
    """True for an EBML file (Matroska, WebM): its first bytes are 1A 45 DF A3."""
    try:
        with open(path, "rb") as f:
            return f.read(4) == EBML_MAGIC
    except OSError:
        return False


@dataclass
class Input:
    """An input path opened for reading: `stream` is None for a regular file
    (read by name, as often as needed), else the stream itself, which can be
    read once, front to back: standard input ("-"), a pipe, a FIFO."""

    path: str
    matroska: bool
    stream: BinaryIO | None = None

    def close(self) -> None:
        if self.stream is not None:
            self.stream.close()


def open_input(path: str | os.PathLike[str]) -> Input:
    """Open a stream's path ("-" for standard input) and sniff its format; InputError when it cannot be read."""
    path = os.fspath(path)
    if path == STDIN:
        return _sniffed(path, sys.stdin.buffer, close=False)
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as e:
        raise InputError(f"{path}: cannot open ({e.strerror})") from None
    if stat.S_ISDIR(mode):
        raise InputError(f"{path}: is a directory, not a stream")
    try:
        if stat.S_ISREG(mode):
            with open(path, "rb") as f:
                return Input(path, f.read(4) == EBML_MAGIC)
        return _sniffed(path, open(path, "rb"), close=True)
    except OSError as e:
        raise InputError(f"{path}: cannot read ({e.strerror})") from None


def _sniffed(path: str, stream: BinaryIO, *, close: bool) -> Input:
    head = stream.read(4)
    return Input(path, head == EBML_MAGIC, io.BufferedReader(_PutBack(head, stream, close=close)))


class _PutBack(io.RawIOBase):
    """A stream that cannot seek, with the bytes read to sniff its format put back in front."""

    def __init__(self, head: bytes, stream: BinaryIO, *, close: bool) -> None:
        super().__init__()
        self._head = head
        self._stream = stream
        self._close = close

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self._head[: len(buffer)] if self._head else self._stream.read1(len(buffer))  # type: ignore[attr-defined]  # a BufferedReader
        self._head = self._head[len(data) :]
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self._close and not self.closed:
            self._stream.close()
        super().close()


@dataclass
class PromptTrack:
    """The prompt track of a Matroska file."""

    path: str
    stream_index: int
    codec_private: bytes
    packets: list[tuple[bytes, Fraction, Fraction | None]]
    """(Block bytes, presentation time in seconds, duration in seconds) in file order."""
    has_audio: bool = False

    def ptv_bytes(self) -> bytes:
        return self.codec_private + b"".join(data for data, _, _ in self.packets)


def _open(source: str | BinaryIO, path: str):
    import av

    try:
        return av.open(source, metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as e:
        raise InputError(f"{path}: cannot open as Matroska ({e.__class__.__name__}: {one_line(e)})") from None


def read_prompt_track(source: str | os.PathLike[str] | Input) -> PromptTrack:
    """Find the PTV1 track and read its CodecPrivate and Blocks (payloads are not parsed here).

    `source` is a path or an `Input` (which may be a pipe: the file is read once, front to back)."""
    import av

    given = source if isinstance(source, Input) else Input(os.fspath(source), True)
    path = given.path
    container = _open(given.stream if given.stream is not None else path, path)
    try:
        stream = _prompt_stream(container, path)
        private = _codec_private(stream, path)
        packets = []
        try:
            for packet in container.demux(stream):
                if packet.size == 0 or packet.pts is None or not packet.time_base:
                    continue
                tb = packet.time_base
                duration = packet.duration * tb if packet.duration else None
                packets.append((bytes(packet), packet.pts * tb, duration))
        except (av.FFmpegError, OSError) as e:
            raise InputError(f"{path}: reading the prompt track failed after {len(packets)} Blocks "
                             f"({one_line(e)}): the file is truncated or corrupt") from None
        has_audio = any(s.type == "audio" for s in container.streams)
        return PromptTrack(path, stream.index, private, packets, has_audio)
    finally:
        container.close()


def _prompt_stream(container, path: str):
    """The video track whose codec tag (FourCC) is PTV1."""
    for stream in container.streams:
        if stream.type != "video":
            continue
        context = stream.codec_context
        if context is None:
            if PRIVATE_TAG in stream.metadata:
                raise InputError(f"{path}: track {stream.index} has a {PRIVATE_TAG} tag but no codec FFmpeg knows "
                                 "(its CodecID is damaged)")
            continue
        try:
            tag = context.codec_tag
        except UnicodeDecodeError:
            continue  # a FourCC that is not text is not PTV1
        if tag == CODEC_TAG:
            return stream
    raise InputError(f"{path}: no prompt track (a video track with codec tag {CODEC_TAG})")


def _codec_private(stream, path: str) -> bytes:
    """CodecPrivate, or else the base64 tag that carries the same bytes."""
    private = bytes(stream.codec_context.extradata or b"")
    if not private and PRIVATE_TAG in stream.metadata:
        try:
            private = base64.b64decode(stream.metadata[PRIVATE_TAG], validate=True)
        except ValueError:  # binascii.Error, or characters that are not ASCII
            raise InputError(f"{path}: the prompt track's {PRIVATE_TAG} tag is not valid base64") from None
    if not private.startswith(MAGIC):
        raise InputError(f"{path}: the prompt track has no .ptv codec private data")
    return private


@dataclass
class MuxResult:
    packets: int
    streams: list[str]
    bytes: int


def mux(source: str | os.PathLike[str], output: str | os.PathLike[str], *, with_source: str | None = None,
        with_video: bool = False) -> MuxResult:
    """`.ptv` -> Matroska; `with_source` adds that file's audio (and, with
    `with_video`, its video) to the same file, copied without re-encoding."""
    check_output(os.fspath(output), inputs=[source, with_source])  # before the stream is read
    given = open_input(source)
    if given.matroska:
        given.close()
        raise InputError(f"{given.path}: is a Matroska file already; mux takes a .ptv stream")
    with PtvReader(given.stream or given.path, path=given.path, closes=True) as reader:
        private = reader.codec_private()
        packets = list(reader.packets())
    return write_matroska(output, reader.header, private, packets, with_source=with_source, with_video=with_video)


def write_matroska(output: str | os.PathLike[str], header, private: bytes, packets: list[Packet], *,
                   with_source: str | None = None, with_video: bool = False) -> MuxResult:
    """Write these temporal units as the prompt track of a new Matroska file (atomically)."""
    import av

    output = os.fspath(output)
    check_output(output, inputs=[with_source])
    if not packets:
        raise InputError(f"{output}: the stream has no temporal units (no keyframes), and a Matroska file without "
                         "Blocks cannot be read back (FFmpeg's demuxer needs a Cluster); keep the .ptv file as it is")
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
            container = _open(os.fspath(with_source), os.fspath(with_source))
            inputs.append(container)
            copies = _copies(out, container, os.fspath(with_source), with_video)
            names += [stream.type for stream, _ in copies]
        try:
            for packet in _merge(track, packets, copies, inputs[0] if inputs else None):
                out.mux(packet)
        except av.FFmpegError as e:
            copied = f" (with the tracks of {with_source}, which may be damaged)" if copies else ""
            raise InputError(f"{output}: FFmpeg cannot write this Matroska file{copied}: {one_line(e)}") from None
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


def _copies(out, container, path: str, with_video: bool) -> list:
    """(source stream, output stream) for each track of `container` that is copied."""
    import av

    copies = []
    for stream in container.streams:
        if stream.type == "audio" or (with_video and stream.type == "video"):
            try:
                copies.append((stream, out.add_stream_from_template(stream)))
            except (av.FFmpegError, ValueError) as e:
                raise InputError(f"{path}: its {stream.type} track {stream.index} cannot be copied ({one_line(e)})"
                                 ) from None
    return copies


def _merge(track, packets: list[Packet], copies, container) -> Iterator:
    """Every packet to write, in presentation-time order across tracks."""
    import av

    def prompt() -> Iterator[tuple[Fraction, int, av.Packet]]:
        for p in packets:
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
        count = 0
        try:
            for packet in container.demux([stream for stream, _ in copies]):
                if (packet.dts is None and packet.pts is None) or not packet.time_base:
                    continue
                packet.stream = targets[packet.stream.index]
                count += 1
                yield (packet.dts if packet.dts is not None else packet.pts) * packet.time_base, 1, packet
        except (av.FFmpegError, OSError) as e:
            raise InputError(f"{container.name}: reading failed after {count} packets ({one_line(e)}): "
                             "the file is truncated or corrupt") from None

    for _, _, packet in heapq.merge(prompt(), copied(), key=lambda item: (item[0], item[1])):
        yield packet


def demux(source: str | os.PathLike[str], output: str | os.PathLike[str]) -> int:
    """Matroska -> `.ptv`, bit for bit; returns the number of Blocks."""
    check_output(os.fspath(output), inputs=[source])
    given = open_input(source)
    try:
        if not given.matroska:
            raise InputError(f"{given.path}: not a Matroska file (it does not start with an EBML header)")
        track = read_prompt_track(given)
    finally:
        given.close()
    with atomic_file(output) as f:
        f.write(track.ptv_bytes())
    return len(track.packets)
