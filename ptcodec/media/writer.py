"""Video output through PyAV: decoded frames to MP4/MKV/MOV, y4m or a PNG sequence.

A decoder's output must be easy to compare and never half-written: files are
written under a temporary name beside the target and renamed when complete
(an exception removes them), frame i has pts i in time base 1/fps so the file
reads back with the same rate and count, H.264 is encoded single-threaded so
two runs give the same bytes, and FFV1 and PNG keep RGB exactly.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable
from fractions import Fraction

import av
import numpy as np
from av.audio.resampler import AudioResampler
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc

from ptcodec.errors import InputError, PtcodecError, one_line
from ptcodec.media.reader import _check_path, as_fraction
from ptcodec.outputs import check_output

# Container extensions, their FFmpeg muxers and default codecs.
_MUXERS = {".mp4": "mp4", ".mov": "mov", ".mkv": "matroska"}
_DEFAULT_CODECS = {".mp4": "h264", ".mov": "h264", ".mkv": "ffv1"}
_CODEC_NAMES = {"h264": "h264", "libx264": "h264", "x264": "h264", "ffv1": "ffv1"}

# libx264 settings: near-transparent 4:4:4. One thread, because x264's output
# depends on its thread count, which would otherwise follow the CPU count.
H264_OPTIONS = {"crf": "12", "preset": "medium"}
H264_PIX_FMT = "yuv444p"
FFV1_PIX_FMT = "bgr0"  # FFV1 has no 8-bit planar RGB; bgr0 is lossless RGB (RCT inside)
Y4M_PIX_FMT = "yuv444p"

# Audio codecs MP4/MOV take as they are; others are re-encoded to AAC, in the
# standard layout for their channel count (WAV's "1 channels" is not one AAC takes).
_MP4_AUDIO_COPY = frozenset({"aac", "mp3", "alac", "ac3", "eac3", "opus", "flac"})
_AAC_LAYOUTS = {1: "mono", 2: "stereo", 3: "2.1", 4: "quad", 5: "5.0", 6: "5.1", 7: "6.1", 8: "7.1"}

PNG_PATTERN = "frame_%05d.png"


def takes_audio(path: str | os.PathLike[str]) -> bool:
    """Whether an output of this name can carry an audio track (the container formats)."""
    return os.path.splitext(os.fspath(path))[1].lower() in _MUXERS


def to_y4m_frame(image: av.VideoFrame) -> av.VideoFrame:
    """RGB to the samples a .y4m holds. y4m cannot say which matrix it used; readers
    assume BT.601 limited range, FFmpeg's default, so that is what it gets."""
    return image.reformat(format=Y4M_PIX_FMT, dst_colorspace=Colorspace.ITU601, dst_color_range=ColorRange.MPEG)


def _partial_name(path: str) -> str:
    """name.partial.ext: the real extension stays last so FFmpeg picks the same muxer."""
    stem, ext = os.path.splitext(path)
    return f"{stem}.partial{ext}"


def _is_png_target(path: str) -> bool:
    return os.path.isdir(path) or path.endswith(("/", os.sep)) or "%" in os.path.basename(path)


class VideoWriter:
    """Write RGB uint8 frames to a video file, y4m file or PNG sequence, atomically.

    The format follows the path: .mp4/.mov (H.264 4:4:4 by default) and .mkv
    (FFV1 by default; `codec` picks "h264" or "ffv1"), .y4m (yuv444p), .rgb (raw
    RGB frames back to back, as the conformance suite reads them), and a
    directory, a path ending in "/" or a printf pattern such as
    out/frame_%05d.png for PNGs. `audio_from` copies the audio of another file
    into an MP4/MKV/MOV output, trimmed to the video's duration.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        fps: Fraction | int,
        *,
        codec: str | None = None,
        audio_from: str | os.PathLike[str] | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.fps = as_fraction(fps)
        self.frames_written = 0
        self._size: tuple[int, int] | None = None
        self._container: av.container.OutputContainer | None = None
        self._stream: av.video.stream.VideoStream | None = None
        self._audio: _AudioCopy | None = None
        self._closed = False
        self._png: _PngSequence | None = None
        ext = os.path.splitext(self.path)[1].lower()
        if _is_png_target(self.path):
            if codec not in (None, "png"):
                raise PtcodecError(f"{self.path}: an image sequence is written as PNG, not {codec}")
            self.format, self.codec = "png", "png"
        elif ext == ".y4m":
            if codec not in (None, "rawvideo"):
                raise PtcodecError(f"{self.path}: y4m holds raw yuv444p, not {codec}")
            self.format, self.codec = "yuv4mpegpipe", "rawvideo"
        elif ext == ".rgb":
            if codec not in (None, "rawvideo"):
                raise PtcodecError(f"{self.path}: .rgb holds raw RGB frames, not {codec}")
            self.format, self.codec = "rawvideo", "rgb24"
        elif ext in _MUXERS:
            chosen = _DEFAULT_CODECS[ext] if codec is None else _CODEC_NAMES.get(codec.lower())
            if chosen is None:
                raise PtcodecError(f"{self.path}: unknown codec {codec!r} (expected 'h264' or 'ffv1')")
            self.format, self.codec = _MUXERS[ext], chosen
        else:
            raise PtcodecError(
                f"{self.path}: unknown output format {ext or '(no extension)'!r} "
                "(expected .mp4, .mkv, .mov, .y4m, .rgb, or a directory or pattern for PNGs)"
            )
        self.audio_from = None if audio_from is None else os.fspath(audio_from)
        if self.audio_from is not None and self.format not in _MUXERS.values():
            raise PtcodecError(f"{self.path}: audio can only be added to .mp4, .mkv or .mov outputs")
        if self.format == "png":
            self._png = _PngSequence(self.path)
            self.partial_path = self._png.directory  # until the first frame makes the temporary one
            check_output(self._png.directory, inputs=[self.audio_from], directory=True)
        else:
            check_output(self.path, inputs=[self.audio_from])  # now, not after the first frame's work
            self.partial_path = _partial_name(self.path)
        if self.audio_from is not None:
            _open_audio(self.audio_from).close()  # fail now rather than after encoding

    # --- public -------------------------------------------------------------

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame (H, W, 3); every frame must have the first one's size."""
        if self._closed:
            raise PtcodecError(f"{self.path}: write after close")
        frame = np.asarray(frame)
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")
        height, width = frame.shape[:2]
        if self._size is None:
            self._size = (width, height)
            self._start(width, height)
        elif self._size != (width, height):
            first_w, first_h = self._size
            raise ValueError(f"frame {self.frames_written} is {width}x{height}, earlier frames are {first_w}x{first_h}")
        image = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        try:
            if self._png is not None:
                self._png.write(image, self.frames_written)
            else:
                self._encode(image)
        except (av.FFmpegError, OSError) as exc:
            raise PtcodecError(f"{self.path}: writing frame {self.frames_written} failed: {exc}") from exc
        self.frames_written += 1

    def close(self) -> None:
        """Finish the output and move it under its final name; an empty output is an error (but for .rgb)."""
        if self._closed:
            return
        if self.frames_written == 0:
            self.abort()
            if self.codec == "rgb24":  # raw frames can be none: a stream with no frames decodes to an empty file
                with open(self.partial_path, "wb"):
                    pass
                os.replace(self.partial_path, self.path)
                return
            raise PtcodecError(f"{self.path}: no frames were written")
        try:
            if self._png is not None:
                self._png.commit()
            else:
                assert self._container is not None and self._stream is not None
                for packet in self._stream.encode(None):
                    self._container.mux(packet)
                if self._audio is not None:
                    self._audio.finish(self.frames_written / self.fps)
                self._container.close()
                os.replace(self.partial_path, self.path)
        except BaseException as exc:
            self.abort()
            if isinstance(exc, (av.FFmpegError, OSError)):
                raise PtcodecError(f"{self.path}: finishing the output failed: {exc}") from exc
            raise
        self._closed = True

    def abort(self) -> None:
        """Stop writing and remove the partial output (the final name is never touched)."""
        self._closed = True
        if self._audio is not None:
            self._audio.close()
        if self._container is not None:
            try:
                self._container.close()
            except (av.FFmpegError, OSError):
                pass
            self._container = None
        if self._png is not None:
            self._png.discard()
        elif os.path.exists(self.partial_path):
            os.remove(self.partial_path)

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # --- encoding -----------------------------------------------------------

    def _start(self, width: int, height: int) -> None:
        """Open the container on the first frame, when the size is known."""
        try:
            if self._png is not None:
                self._png.start(width, height, self.fps)
                assert self._png.temp_dir is not None, "start() makes the temporary directory"
                self.partial_path = self._png.temp_dir
                return
            container = av.open(self.partial_path, mode="w", format=self.format)
        except (av.FFmpegError, OSError) as exc:
            raise PtcodecError(f"{self.path}: cannot create the output: {exc}") from exc
        self._container = container
        time_base = 1 / self.fps
        if self.codec == "h264":
            stream = container.add_stream("libx264", rate=self.fps, options=dict(H264_OPTIONS))
            stream.pix_fmt = H264_PIX_FMT
            stream.codec_context.thread_count = 1
            # Tag BT.709 limited range, the matrix `_convert` uses, so players agree.
            stream.codec_context.colorspace = Colorspace.ITU709
            stream.codec_context.color_range = ColorRange.MPEG
            stream.codec_context.color_primaries = ColorPrimaries.BT709  # sRGB's primaries
            stream.codec_context.color_trc = ColorTrc.BT709
        elif self.codec == "ffv1":
            stream = container.add_stream("ffv1", rate=self.fps, options={"level": "3"})
            stream.pix_fmt = FFV1_PIX_FMT
        else:
            stream = container.add_stream("rawvideo", rate=self.fps)
            stream.pix_fmt = "rgb24" if self.codec == "rgb24" else Y4M_PIX_FMT
        stream.width, stream.height = width, height
        stream.codec_context.time_base = time_base
        stream.time_base = time_base
        self._stream = stream
        if self.audio_from is not None:
            self._audio = _AudioCopy(self.audio_from, container, copy_any=self.format == "matroska")
            if not self._audio.routes:
                self._audio.close()
                self._audio = None

    def _convert(self, image: av.VideoFrame) -> av.VideoFrame:
        """RGB to the stream's pixel format: exact for FFV1, BT.709 (H.264) or BT.601 (y4m, untagged)."""
        if self.codec == "rgb24":
            return image
        if self.codec == "ffv1":
            return image.reformat(format=FFV1_PIX_FMT)
        if self.codec == "h264":
            return image.reformat(format=H264_PIX_FMT, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
        return to_y4m_frame(image)

    def _encode(self, image: av.VideoFrame) -> None:
        assert self._container is not None and self._stream is not None
        frame = self._convert(image)
        frame.pts = self.frames_written
        frame.time_base = 1 / self.fps
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        if self._audio is not None:
            self._audio.mux_until((self.frames_written + 1) / self.fps)


def write_video(
    path: str | os.PathLike[str],
    frames: Iterable[np.ndarray] | np.ndarray,
    fps: Fraction | int,
    **kw: object,
) -> int:
    """Write all frames (an iterable or a (T, H, W, 3) array) with `VideoWriter`; returns the count."""
    with VideoWriter(path, fps, **kw) as writer:  # type: ignore[arg-type]
        for frame in frames:
            writer.write(frame)
        return writer.frames_written


class _PngSequence:
    """Lossless RGB PNGs numbered from 0, written in a temporary directory and moved into place."""

    def __init__(self, path: str) -> None:
        if "%" in os.path.basename(path):
            directory, pattern = os.path.dirname(path) or ".", os.path.basename(path)
            try:
                pattern % 0
            except (TypeError, ValueError) as exc:
                raise PtcodecError(f"{path}: the pattern needs exactly one %d field, like frame_%05d.png") from exc
            if not pattern.lower().endswith(".png"):
                raise PtcodecError(f"{path}: an image sequence pattern must end in .png")
        else:
            directory, pattern = path.rstrip("/" + os.sep) or os.sep, PNG_PATTERN
        self.directory, self.pattern = directory, pattern
        self.existed = os.path.isdir(directory)
        self.parent = os.path.dirname(os.path.abspath(directory))
        if not self.existed and not os.path.isdir(self.parent):
            raise PtcodecError(f"{path}: the directory {self.parent!r} does not exist")
        self.temp_dir: str | None = None
        self._codec: av.CodecContext | None = None

    def start(self, width: int, height: int, fps: Fraction) -> None:
        # A new directory is built beside its final name and renamed; an existing one
        # gets a hidden temporary subdirectory whose files are moved up on commit.
        if self.existed:
            self.temp_dir = tempfile.mkdtemp(prefix=".partial-", dir=self.directory)
        else:
            self.temp_dir = tempfile.mkdtemp(prefix=os.path.basename(self.directory) + ".partial-", dir=self.parent)
        codec = av.CodecContext.create("png", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "rgb24"
        codec.time_base = 1 / fps
        self._codec = codec

    def write(self, image: av.VideoFrame, index: int) -> None:
        assert self._codec is not None and self.temp_dir is not None
        data = b"".join(bytes(packet) for packet in self._codec.encode(image))  # type: ignore[attr-defined]  # a VideoCodecContext
        with open(os.path.join(self.temp_dir, self.pattern % index), "wb") as handle:
            handle.write(data)

    def commit(self) -> None:
        assert self.temp_dir is not None
        if self.existed:
            for name in sorted(os.listdir(self.temp_dir)):
                os.replace(os.path.join(self.temp_dir, name), os.path.join(self.directory, name))
            os.rmdir(self.temp_dir)
        else:
            os.rename(self.temp_dir, self.directory)

    def discard(self) -> None:
        if self.temp_dir is not None:
            shutil.rmtree(self.temp_dir, ignore_errors=True)


class _AudioCopy:
    """The audio streams of a source file, muxed into an output as the video advances.

    Packets are copied as they are when the output container takes their codec
    (MP4/MOV: a known list; Matroska: whatever FFmpeg can mux), otherwise decoded
    and re-encoded to AAC. Audio is trimmed at the end of the video.
    """

    def __init__(self, source: str, output: av.container.OutputContainer, *, copy_any: bool) -> None:
        self.source = _open_audio(source)
        self.output = output
        self.routes: dict[int, tuple[av.stream.Stream, AudioResampler | None]] = {}
        for stream in self.source.streams.audio:
            name = stream.codec_context.codec.canonical_name  # "mp3", not the decoder "mp3float"
            if name in _MP4_AUDIO_COPY or (copy_any and name in output.supported_codecs):
                self.routes[stream.index] = (output.add_stream_from_template(stream), None)
            else:
                rate = stream.sample_rate or 48000
                layout = _AAC_LAYOUTS.get(stream.layout.nb_channels if stream.layout else 2, "stereo")
                target = output.add_stream("aac", rate=rate)
                target.layout = layout
                self.routes[stream.index] = (target, AudioResampler(format="fltp", layout=layout, rate=rate))
        streams = list(self.source.streams.audio)
        self._packets = self.source.demux(*streams) if streams else iter(())
        self._pending: av.Packet | None = None
        self._done = False

    def mux_until(self, end: Fraction) -> None:
        """Mux the source packets that start before `end` seconds."""
        while not self._done:
            packet = self._pending if self._pending is not None else next(self._packets, None)
            self._pending = None
            if packet is None:
                self._done = True
                return
            if packet.size == 0:
                continue
            if packet.pts is not None and packet.time_base and packet.pts * packet.time_base >= end:
                self._pending = packet
                return
            self._mux(packet)

    def finish(self, end: Fraction) -> None:
        """Mux what is left up to `end`, flush re-encoders and close the source."""
        self.mux_until(end)
        for target, resampler in self.routes.values():
            if resampler is not None:
                for frame in resampler.resample(None):
                    self._encode(target, frame)
                for out in target.encode(None):  # type: ignore[attr-defined]  # an AudioStream
                    self.output.mux(out)
        self.close()

    def close(self) -> None:
        self.source.close()

    def _mux(self, packet: av.Packet) -> None:
        target, resampler = self.routes[packet.stream.index]
        if resampler is None:
            packet.stream = target
            self.output.mux(packet)
            return
        for frame in packet.decode():
            for converted in resampler.resample(frame):  # type: ignore[arg-type]  # packets of audio tracks only
                self._encode(target, converted)

    def _encode(self, target: av.stream.Stream, frame: av.AudioFrame) -> None:
        frame.pts = None  # the encoder numbers its own fixed-size frames
        for out in target.encode(frame):  # type: ignore[attr-defined]  # an AudioStream
            self.output.mux(out)


def _open_audio(source: str) -> av.container.InputContainer:
    """Open the file whose audio is copied; one without audio opens fine and adds nothing."""
    _check_path(source)
    try:
        return av.open(source, mode="r", metadata_errors="replace")
    except (av.FFmpegError, OSError, UnicodeDecodeError, ValueError) as exc:
        raise InputError(f"{source}: cannot be opened for its audio ({one_line(exc)})") from exc
