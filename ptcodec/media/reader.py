"""Video input through PyAV: probe a file and read RGB frames at the codec's geometry and rate.

The encoder needs uint8 RGB frames whose sides are multiples of the generator's
latent grid (8 for SD-Turbo), at a frame rate the user picks, in display order.
Every way an input can be unusable (missing, empty, not a video, no video
stream, nothing decodable, truncated, bad options) surfaces as one `InputError`
line that names the file, never as an FFmpeg traceback.
"""

from __future__ import annotations

import bisect
import glob
import math
import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from fractions import Fraction

import av
import numpy as np
from av.video.reformatter import Interpolation

from ptcodec.errors import InputError, one_line

FITS = ("crop", "keep")

# Demuxers and decoders that accept plain text (ANSI art): FFmpeg opens a .txt
# file as a "video", which is never what a user of a video codec meant.
_TEXT_FORMATS = frozenset({"tty"})
_TEXT_CODECS = frozenset({"ansi", "bintext", "xbin", "idf"})

# Timestamps in 1/1000 s time bases (Matroska, WebM) are rounded to the tick;
# a frame counts as shown at time T when it starts no later than T + this slack.
_MAX_TIME_SLACK = Fraction(1, 1000)

# A stream that ends this many frame intervals short of its header's duration
# is reported as truncated (edit lists and rounding make a frame or two normal).
_TRUNCATION_SLACK_FRAMES = 3

_PATTERN = re.compile(r"%0?\d*d")

# Demuxers whose timestamp seeking FFmpeg does not index (image sequences, GIF, animated images):
# reading from frame N decodes from the start and skips.
_UNSEEKABLE_FORMATS = frozenset({"gif", "image2", "image2pipe", "apng", "webp_pipe", "gif_pipe"})


@dataclass(frozen=True)
class VideoInfo:
    """What `probe` learns about a video file without decoding all of it."""

    path: str
    width: int
    height: int
    fps: Fraction
    frame_count: int | None
    codec: str
    has_audio: bool


@dataclass
class Clip:
    """A whole clip in memory: frames (T, H, W, 3) uint8 RGB at `fps`."""

    frames: np.ndarray
    fps: Fraction
    info: VideoInfo


@dataclass(frozen=True)
class Geometry:
    """How source frames become codec frames whose sides are multiples of `multiple`.

    fit="crop" (the Promptus setting): centre-crop to the target aspect ratio and
    resize to exactly `size`; with no size, keep the largest centred square, its
    side rounded down to a multiple. fit="keep": keep the aspect ratio, scale to
    fit inside `size` (or keep the source size) and round each side down to a
    multiple (at least `multiple`).
    """

    size: tuple[int, int] | int | None = None
    fit: str = "crop"
    multiple: int = 8

    def __post_init__(self) -> None:
        if not isinstance(self.multiple, int) or isinstance(self.multiple, bool) or self.multiple < 1:
            raise InputError(f"multiple must be a positive integer, not {self.multiple!r}")
        if self.fit not in FITS:
            raise InputError(f"unknown fit {self.fit!r} (expected 'crop' or 'keep')")
        size = self.size
        if size is not None:
            if isinstance(size, int) and not isinstance(size, bool):
                size = (size, size)
            if (
                not isinstance(size, (tuple, list))
                or len(size) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
            ):
                raise InputError(f"size must be an integer N or a (width, height) pair, not {self.size!r}")
            width, height = size
            if width < 1 or height < 1 or width % self.multiple or height % self.multiple:
                raise InputError(f"size {width}x{height} is not a positive multiple of {self.multiple} in each side")
            object.__setattr__(self, "size", (width, height))

    def output_size(self, src_w: int, src_h: int) -> tuple[int, int]:
        """Width and height of the frames this policy makes from src_w x src_h frames."""
        m = self.multiple
        if self.fit == "crop":
            if self.size is None:
                side = max(m, min(src_w, src_h) // m * m)
                return side, side
            return self.size  # type: ignore[return-value]
        if self.size is None:
            return max(m, src_w // m * m), max(m, src_h // m * m)
        box_w, box_h = self.size  # type: ignore[misc]
        if src_w * box_h >= src_h * box_w:  # the source is wider than the box: width limits
            width, height = box_w, src_h * box_w // src_w
        else:
            width, height = src_w * box_h // src_h, box_h
        return max(m, width // m * m), max(m, height // m * m)

    def crop_box(self, src_w: int, src_h: int) -> tuple[int, int, int, int]:
        """(x, y, width, height) of the source region that is resized to `output_size`."""
        if self.fit == "keep":
            return 0, 0, src_w, src_h
        if self.size is None:
            side = min(self.output_size(src_w, src_h)[0], src_w, src_h)
            return (src_w - side) // 2, (src_h - side) // 2, side, side
        out_w, out_h = self.size  # type: ignore[misc]
        if src_w * out_h > src_h * out_w:  # wider than the target: crop the sides
            crop_w, crop_h = max(1, (2 * src_h * out_w + out_h) // (2 * out_h)), src_h
        else:  # taller than the target: crop top and bottom
            crop_w, crop_h = src_w, max(1, (2 * src_w * out_h + out_w) // (2 * out_w))
        return (src_w - crop_w) // 2, (src_h - crop_h) // 2, crop_w, crop_h


def output_size(
    src_w: int,
    src_h: int,
    size: tuple[int, int] | int | None = None,
    fit: str = "crop",
    multiple: int = 8,
) -> tuple[int, int]:
    """Output (width, height) for a src_w x src_h source under the `Geometry` policy."""
    return Geometry(size, fit, multiple).output_size(src_w, src_h)


def as_fraction(value: Fraction | int | float | str, what: str = "fps") -> Fraction:
    """A positive frame rate as a Fraction (floats snap to denominators up to 1001)."""
    try:
        if isinstance(value, float):
            rate = Fraction(value).limit_denominator(1001)
        else:
            rate = Fraction(value)
    except (TypeError, ValueError, ZeroDivisionError) as exc:
        raise InputError(f"{what} must be a positive number, not {value!r}") from exc
    if rate <= 0:
        raise InputError(f"{what} must be a positive number, not {value!r}")
    return rate


def probe(path: str | os.PathLike[str]) -> VideoInfo:
    """Describe a video file; raises InputError when it cannot be used as one.

    The first frame is decoded, so a file that opens but decodes to nothing is
    rejected here, and the video packets are counted without decoding them: that
    is the frame count where the header has none (Matroska, WebM, y4m), and a
    file holding fewer packets than its header lists (an MP4 cut short) is
    reported as truncated.
    """
    name = os.fspath(path)
    if is_stream(name):
        raise InputError(f"{name}: is a pipe or FIFO, which can be read only once; probing reads the file twice "
                         "(to decode its first frame, then to count its packets): save it to a file first")
    container, stream = _open(name)
    try:
        info = _info(name, container, stream, next(_decode(container, stream, name), None))
    finally:
        container.close()
    packets = _count_packets(name)
    if info.frame_count is None:
        info = replace(info, frame_count=packets)
    elif packets < info.frame_count:
        raise InputError(
            f"{name}: the file ends at frame {packets} of the {info.frame_count} its header lists: it is truncated"
        )
    return info


def read_frames(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | int | None = None,
    fit: str = "crop",
    multiple: int = 8,
    fps: Fraction | int | None = None,
    start: int = 0,
    max_frames: int | None = None,
) -> Iterator[np.ndarray]:
    """Yield RGB uint8 frames (H, W, 3) in display order, shaped by `Geometry`.

    With `fps`, output frame i is the source frame shown at time i / fps (frames
    are dropped or repeated by timestamp). `start` skips output frames (by seeking
    to the keyframe before it where the file allows, so that a late scene does not
    decode the clip from its beginning: the same frames either way) and
    `max_frames` limits them. Options and the file are checked now, so errors
    raise at the call; the file is closed when the iterator is exhausted or closed.
    """
    name = os.fspath(path)
    geometry, rate = _options(name, size, fit, multiple, fps, start, max_frames)
    container, stream = _open(name)
    return _read(container, stream, name, geometry, rate, start, max_frames)


def _options(
    name: str, size, fit: str, multiple: int, fps, start: int, max_frames: int | None
) -> tuple[Geometry, Fraction | None]:
    """The options of `read_frames`, checked: (geometry, output rate or None)."""
    try:
        geometry = Geometry(size, fit, multiple)
        rate = None if fps is None else as_fraction(fps)
        if not isinstance(start, int) or start < 0:
            raise InputError(f"start must be a non-negative integer, not {start!r}")
        if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 0):
            raise InputError(f"max_frames must be a non-negative integer or None, not {max_frames!r}")
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from exc
    return geometry, rate


def load_clip(
    path: str | os.PathLike[str],
    *,
    size: tuple[int, int] | int | None = None,
    fit: str = "crop",
    multiple: int = 8,
    fps: Fraction | int | None = None,
    start: int = 0,
    max_frames: int | None = None,
) -> Clip:
    """Read a clip into memory with the options of `read_frames`; at least one frame."""
    name = os.fspath(path)
    if is_stream(name):
        info, frames = _load_once(name, size, fit, multiple, fps, start, max_frames)
    else:
        info = probe(name)
        frames = list(
            read_frames(name, size=size, fit=fit, multiple=multiple, fps=fps, start=start, max_frames=max_frames)
        )
    if not frames:
        raise InputError(f"{name}: no frames to read (start={start}, max_frames={max_frames})")
    return Clip(np.stack(frames), info.fps if fps is None else as_fraction(fps), info)


def _load_once(
    name: str, size, fit: str, multiple: int, fps, start: int, max_frames: int | None
) -> tuple[VideoInfo, list[np.ndarray]]:
    """`load_clip` of a pipe or FIFO, which can be read only once: what `probe`
    reports comes from the same pass that reads the frames (the frame count is
    the frames decoded; truncation is found from the stream's duration alone)."""
    geometry, rate = _options(name, size, fit, multiple, fps, start, max_frames)
    container, stream = _open(name)
    try:
        info = _info(name, container, stream, None)
    except BaseException:
        container.close()
        raise
    frames = list(_read(container, stream, name, geometry, rate, start, max_frames))
    return replace(info, frame_count=info.frame_count or len(frames)), frames


def _info(
    name: str, container: av.container.InputContainer, stream: av.video.stream.VideoStream,
    first: av.VideoFrame | None,
) -> VideoInfo:
    """What `probe` says of an open file (the first decoded frame gives the size when the codec does not)."""
    width, height = stream.codec_context.width, stream.codec_context.height
    if first is not None and (width <= 0 or height <= 0):
        width, height = first.width, first.height
    return VideoInfo(
        path=name,
        width=width,
        height=height,
        fps=_stream_rate(name, stream),
        frame_count=stream.frames if stream.frames > 0 else None,
        codec=stream.codec_context.codec.canonical_name,  # "mp3", not the decoder "mp3float"
        has_audio=len(container.streams.audio) > 0,
    )


# --- opening -----------------------------------------------------------------


def is_stream(name: str) -> bool:
    """A FIFO, a pipe (/dev/stdin, <(...)) or a device: it can be read only once, front to back."""
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError):
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _is_pattern(name: str) -> bool:
    """A printf-style image sequence such as frames/frame_%05d.png (and no such file)."""
    return _PATTERN.search(os.path.basename(name)) is not None and not os.path.exists(name)


def _check_path(name: str) -> str | None:
    """Checks that need no FFmpeg; returns the demuxer to force (image2 for patterns)."""
    if _is_pattern(name):
        directory = os.path.dirname(name) or "."
        if not os.path.isdir(directory):
            raise InputError(f"{name}: no such directory {directory!r} for the image sequence")
        if not glob.glob(os.path.join(glob.escape(directory), _PATTERN.sub("*", os.path.basename(name)))):
            raise InputError(f"{name}: no files match the image sequence pattern")
        return "image2"
    if not os.path.exists(name):
        raise InputError(f"{name}: no such file")
    if os.path.isdir(name):
        raise InputError(
            f"{name}: is a directory, not a video file (for a PNG sequence pass a pattern like DIR/frame_%05d.png)"
        )
    if not is_stream(name) and os.path.getsize(name) == 0:  # a FIFO's size is always 0
        raise InputError(f"{name}: the file is empty (0 bytes)")
    return None


def _open(name: str) -> tuple[av.container.InputContainer, av.video.stream.VideoStream]:
    """Open a file for decoding its first video stream; InputError when that is impossible."""
    forced_format = _check_path(name)
    try:
        container = av.open(name, mode="r", format=forced_format, metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        if not is_stream(name) and _looks_like_mp4(name):  # a FIFO cannot be opened a second time
            raise InputError(
                f"{name}: cannot be opened ({one_line(exc)}): it starts like an MP4/MOV file but its index "
                "(moov box) is missing or damaged: the file is truncated or corrupt"
            ) from exc
        raise InputError(
            f"{name}: cannot be opened as a video ({one_line(exc)}): not a video file, or truncated or corrupt"
        ) from exc
    try:
        if container.format.name in _TEXT_FORMATS:
            raise InputError(f"{name}: is a text file, not a video")
        if not container.streams.video:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
            raise InputError(f"{name}: has no video stream (streams: {kinds})")
        stream = container.streams.video[0]
        if stream.codec_context.name in _TEXT_CODECS:
            raise InputError(f"{name}: is text art ({stream.codec_context.name}), not a video")
    except BaseException:
        container.close()
        raise
    return container, stream


def _looks_like_mp4(name: str) -> bool:
    """An ISO-BMFF file begins with an ftyp box; FFmpeg then fails only for a missing index."""
    try:
        with open(name, "rb") as handle:
            head = handle.read(12)
    except OSError:
        return False
    return len(head) == 12 and head[4:8] == b"ftyp"


def _stream_rate(name: str, stream: av.video.stream.VideoStream) -> Fraction:
    """The stream's nominal frame rate, snapped to a small denominator when within rounding."""
    for rate in (stream.average_rate, stream.guessed_rate, stream.base_rate):
        if rate is not None and rate > 0:
            rate = Fraction(rate)
            snapped = rate.limit_denominator(1001)
            return snapped if abs(snapped - rate) <= rate * Fraction(1, 10**6) else rate
    raise InputError(f"{name}: the video stream has no frame rate")


def _count_packets(name: str) -> int:
    """Video packets in the file, demuxed but not decoded; a file ending early is an error."""
    container, stream = _open(name)
    count = 0
    last_end: Fraction | None = None
    try:
        for packet in container.demux(stream):
            if packet.size:
                count += 1
                last_end = _later_end(last_end, packet.pts, packet.duration, stream)
        _check_complete(name, container, stream, count, last_end)
    except (av.FFmpegError, OSError) as exc:
        raise InputError(
            f"{name}: reading failed at video packet {count} ({one_line(exc)}): the file is truncated or corrupt"
        ) from exc
    finally:
        container.close()
    return count


# --- decoding ----------------------------------------------------------------


def _later_end(
    last_end: Fraction | None, pts: int | None, duration: int | None, stream: av.video.stream.VideoStream
) -> Fraction | None:
    """The latest end time (seconds) seen so far; frames and packets may come out of display order."""
    if pts is None or not stream.time_base:
        return last_end
    end = (pts + (duration or 0)) * Fraction(stream.time_base)
    return end if last_end is None or end > last_end else last_end


def _decode(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str
) -> Iterator[av.VideoFrame]:
    """Decoded frames in display order; truncation and corruption become InputError."""
    count = 0
    last_end: Fraction | None = None
    frames = container.decode(stream)
    while True:
        try:
            frame = next(frames)
        except StopIteration:
            break
        except (av.FFmpegError, OSError) as exc:
            raise InputError(
                f"{name}: decoding failed at frame {count} ({one_line(exc)}): the file is truncated or corrupt"
            ) from exc
        count += 1
        last_end = _later_end(last_end, frame.pts, frame.duration, stream)
        yield frame
    if count == 0:
        raise InputError(f"{name}: the video stream has no decodable frames")
    _check_complete(name, container, stream, count, last_end)


def _check_complete(
    name: str,
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    count: int,
    last_end: Fraction | None,
) -> None:
    """Raise when the video stops well before the duration the header announces.

    FFmpeg ends a truncated MP4 or Matroska file quietly (or with an error,
    depending on the decoder's threading), so the end time is compared with the
    video stream's duration, or the file's when video is its only stream.
    """
    if last_end is None or not stream.time_base:
        return
    time_base = Fraction(stream.time_base)
    if stream.duration:
        expected = (stream.duration + (stream.start_time or 0)) * time_base
    elif container.duration and len(container.streams) == 1:
        expected = Fraction(container.duration + (container.start_time or 0), av.time_base)
    else:
        return
    try:
        interval = 1 / _stream_rate(name, stream)
    except InputError:
        return
    if expected - last_end > _TRUNCATION_SLACK_FRAMES * interval:
        raise InputError(
            f"{name}: the video ends after frame {count - 1} at {float(last_end):.3f} s but its header says "
            f"{float(expected):.3f} s: the file is truncated"
        )


def _timed(
    frames: Iterable[av.VideoFrame], stream: av.video.stream.VideoStream, rate: Fraction,
    origin: Fraction | None = None,
) -> Iterator[tuple[av.VideoFrame, Fraction, Fraction]]:
    """(frame, start, end) in seconds from `origin` (the first frame's time when None); frames without
    pts count at the nominal rate."""
    for index, frame in enumerate(frames):
        time_base = frame.time_base or stream.time_base
        if frame.pts is not None and time_base:
            t = Fraction(frame.pts) * time_base
            duration = Fraction(frame.duration) * time_base if frame.duration else 1 / rate
        else:
            t = index / rate
            duration = 1 / rate
        if origin is None:
            origin = t
        yield frame, t - origin, t - origin + duration


def _resample(
    timed: Iterable[tuple[av.VideoFrame, Fraction, Fraction]], fps: Fraction, slack: Fraction, first: int = 0
) -> Iterator[av.VideoFrame]:
    """Output frame i is the source frame shown at time i / fps (the last one started by then), from
    output frame `first` (the first timed frame must start by then)."""
    index = first
    previous: av.VideoFrame | None = None
    previous_end = Fraction(0)
    for frame, start, end in timed:
        if previous is not None:
            while index / fps + slack < start:
                yield previous
                index += 1
        previous, previous_end = frame, end
    if previous is not None:
        while index / fps + slack < previous_end:
            yield previous
            index += 1


def _to_rgb(frame: av.VideoFrame, geometry: Geometry) -> np.ndarray:
    """Crop in numpy after conversion to RGB, then resize with swscale (area down, bicubic up)."""
    src_w, src_h = frame.width, frame.height
    out_w, out_h = geometry.output_size(src_w, src_h)
    x, y, crop_w, crop_h = geometry.crop_box(src_w, src_h)
    color_range = frame.color_range or None
    interpolation = Interpolation.AREA if out_w <= crop_w and out_h <= crop_h else Interpolation.BICUBIC
    if (crop_w, crop_h) == (src_w, src_h):
        rgb = frame.reformat(out_w, out_h, "rgb24", interpolation=interpolation, src_color_range=color_range)
        return rgb.to_ndarray()
    full = frame.reformat(format="rgb24", src_color_range=color_range).to_ndarray()
    crop = np.ascontiguousarray(full[y : y + crop_h, x : x + crop_w])
    if (crop_w, crop_h) == (out_w, out_h):
        return crop
    picture = av.VideoFrame.from_ndarray(crop.astype(np.uint8, copy=False), format="rgb24")
    resized = picture.reformat(out_w, out_h, interpolation=interpolation)
    return resized.to_ndarray()


def _read(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    name: str,
    geometry: Geometry,
    fps: Fraction | None,
    start: int,
    max_frames: int | None,
) -> Iterator[np.ndarray]:
    """The body of `read_frames`, run lazily; owns and closes the container.

    From a `start` past 0 the container is seeked (`_seek_indexed`); where seeking turns out not
    to reproduce a read from the beginning, the file is reopened and read from the start, skipping
    to the next frame still owed, so the frames are the same either way.
    """
    try:
        if max_frames == 0:
            return
        stop = None if max_frames is None else start + max_frames
        if start > 0 and _seekable(name, container):
            frames = _seek_indexed(container, stream, name, fps, start)
        else:
            frames = _indexed(container, stream, name, fps)
        wanted = start
        last_frame: av.VideoFrame | None = None
        last_rgb: np.ndarray | None = None
        while True:
            try:
                index, frame = next(frames)
            except StopIteration:
                return
            except _SeekFailed:
                container.close()
                container, stream = _open(name)
                frames = _indexed(container, stream, name, fps)
                continue
            if index < wanted:
                continue
            if frame is not last_frame or last_rgb is None:
                last_frame, last_rgb = frame, _to_rgb(frame, geometry)
            # A resampled frame may repeat: hand out copies so callers may modify them.
            yield last_rgb if fps is None else last_rgb.copy()
            wanted = index + 1
            if stop is not None and wanted >= stop:
                return
    finally:
        container.close()


def _slack(stream: av.video.stream.VideoStream) -> Fraction:
    """How late a frame may start and still count as shown at a time (timestamps rounded to the tick)."""
    return min(Fraction(stream.time_base), _MAX_TIME_SLACK) if stream.time_base else _MAX_TIME_SLACK


def _indexed(
    container: av.container.InputContainer, stream: av.video.stream.VideoStream, name: str, fps: Fraction | None
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(output index, frame) from the beginning: decoded frames, or resampled to `fps` by timestamp."""
    decoded: Iterable[av.VideoFrame] = _decode(container, stream, name)
    if fps is not None:
        decoded = _resample(_timed(decoded, stream, _stream_rate(name, stream)), fps, _slack(stream))
    return enumerate(decoded)


# --- seeking -----------------------------------------------------------------


class _SeekFailed(Exception):
    """Seeking cannot reproduce a read from the beginning here: read from the start instead."""


def _seekable(name: str, container: av.container.InputContainer) -> bool:
    """Whether to try seeking: never in a pipe or FIFO (read once, front to back) nor in an image
    sequence, GIF or animated image (their demuxers have no timestamp index to seek in)."""
    return not is_stream(name) and container.format.name not in _UNSEEKABLE_FORMATS


def _seek_indexed(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    name: str,
    fps: Fraction | None,
    start: int,
) -> Iterator[tuple[int, av.VideoFrame]]:
    """(output index, frame) as `_indexed` gives them, from at or before output frame `start`,
    by seeking to the keyframe at or before that frame's timestamp and decoding forward.

    Output frame N is the Nth decoded frame (no `fps`): its timestamp is the Nth smallest video
    packet pts, from a demux (no decoding) of the file up to it. With `fps` it is the frame shown
    at N / fps from the first frame's time, so that time is taken from the first decoded frame.
    Frames decoded after a seek are those of a read from the start when the keyframes are sync
    points (frames shown after a keyframe never reference frames before it; leading frames of an
    open GOP are shown before it, so they are dropped as too early). Raises `_SeekFailed` (before
    a frame that could differ is given) where seeking cannot reproduce the read from the start:
    no timestamps, the first frame is not the first packet (edit lists, discarded packets), the
    demuxer cannot seek, the seek lands after the frame (no index or a bad one), timestamps that
    are missing or out of display order after the seek (H.264 in AVI), or a decoding error after
    the seek (a genuine one is then met again, and reported, by the read from the start).
    """
    if not stream.time_base:
        raise _SeekFailed
    time_base = Fraction(stream.time_base)
    first = next(_decode(container, stream, name), None)
    if first is None or first.pts is None:
        raise _SeekFailed
    if fps is None:
        pts = _display_pts(name, start)
        if pts[0] != first.pts:
            raise _SeekFailed
        target = pts[start]
    else:
        origin = Fraction(first.pts) * time_base
        shown_at = Fraction(start) / fps + _slack(stream)
        target = math.floor((origin + shown_at) / time_base)
    try:
        container.seek(target, stream=stream, backward=True, any_frame=False)
    except (av.FFmpegError, OSError):
        raise _SeekFailed from None
    decoded = _in_order(_decode(container, stream, name))
    if fps is None:
        yield from _numbered(decoded, pts, start)
    else:
        timed = _timed(decoded, stream, _stream_rate(name, stream), origin)
        yield from enumerate(_resample(_starting_by(timed, shown_at), fps, _slack(stream), start), start)


def _numbered(frames: Iterable[av.VideoFrame], pts: list[int], start: int) -> Iterator[tuple[int, av.VideoFrame]]:
    """(decoded frame index, frame) after a seek, the index found from `pts` (display order); raises
    `_SeekFailed` when the first frame is after frame `start` or a frame's pts is not the one listed."""
    index: int | None = None
    for frame in frames:
        if frame.pts is None:
            raise _SeekFailed
        if index is None:
            index = bisect.bisect_left(pts, frame.pts)
            if index > start:
                raise _SeekFailed
        if index < len(pts) and frame.pts != pts[index]:
            raise _SeekFailed
        yield index, frame
        index += 1


def _starting_by(
    timed: Iterable[tuple[av.VideoFrame, Fraction, Fraction]], time: Fraction
) -> Iterator[tuple[av.VideoFrame, Fraction, Fraction]]:
    """`timed`, raising `_SeekFailed` when the first frame starts after `time` (the seek overshot)."""
    for position, item in enumerate(timed):
        if position == 0 and item[1] > time:
            raise _SeekFailed
        yield item


def _in_order(frames: Iterable[av.VideoFrame]) -> Iterator[av.VideoFrame]:
    """`frames` after a seek, raising `_SeekFailed` at one without pts or earlier than the one before
    it (a read from the start counts such frames by position, which a seek does not know) and at a
    decoding error."""
    previous: int | None = None
    try:
        for frame in frames:
            if frame.pts is None or (previous is not None and frame.pts < previous):
                raise _SeekFailed
            previous = frame.pts
            yield frame
    except InputError:
        raise _SeekFailed from None


def _display_pts(name: str, frame: int) -> list[int]:
    """The pts of the video frames 0..frame in display order, from demuxing up to them.

    A packet's dts is no later than its pts and dts never decrease, so once a packet's dts is
    past the (frame+1)th smallest pts seen, no later packet can come before it in display order."""
    container, stream = _open(name)
    seen: list[int] = []
    try:
        for packet in container.demux(stream):
            if not packet.size:
                continue
            if packet.pts is None:
                raise _SeekFailed
            if len(seen) > frame and packet.dts is not None and packet.dts > seen[frame]:
                break
            bisect.insort(seen, packet.pts)
    except (av.FFmpegError, OSError):
        raise _SeekFailed from None
    finally:
        container.close()
    if len(seen) <= frame:
        raise _SeekFailed
    return seen[: frame + 1]  # later ones may still miss a packet not yet demuxed
