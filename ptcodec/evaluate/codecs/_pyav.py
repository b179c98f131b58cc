"""The PyAV encode loop shared by the in-process adapters (x264, x265, SVT-AV1).

Frames go through colour.to_yuv, pts i in time base 1/fps, into FFmpeg's raw elementary-stream
muxer, so the file is the bitstream and its size is the rate. Two-pass runs the same loop twice
with the encoder's own stats file in workdir.
"""

from __future__ import annotations

import re
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from ptcodec.errors import PtcodecError, one_line
from ptcodec.evaluate.codecs.colour import PIX_FMT, to_yuv_frames


def banner(path: Path, pattern: bytes) -> str | None:
    """The encoder's self-description that x264 and x265 write into an SEI of every stream, matched by `pattern`."""
    match = re.search(pattern, path.read_bytes()[:65536])
    return match.group(0).decode("ascii", "replace") if match else None


def pyav_version() -> str:
    """'PyAV 18.1.0, libavcodec 62.28.102': the library that ran the in-process encoders."""
    major, minor, micro = av.library_versions["libavcodec"]
    return f"PyAV {av.__version__}, libavcodec {major}.{minor}.{micro}"


def encode_pyav(
    frames: np.ndarray,
    fps: Fraction,
    path: Path,
    *,
    encoder: str,
    muxer: str,
    options: dict[str, str],
    bit_rate: int | None = None,
    gop_size: int | None = None,
) -> None:
    """Encode frames to `path` with PyAV encoder `encoder` and `options`; one line on failure."""
    height, width = frames.shape[1:3]
    try:
        with av.open(str(path), "w", format=muxer) as container:
            stream = container.add_stream(encoder, rate=Fraction(fps))
            stream.width, stream.height, stream.pix_fmt = width, height, PIX_FMT
            stream.time_base = 1 / Fraction(fps)
            stream.codec_context.colorspace = av.video.reformatter.Colorspace.ITU709
            stream.codec_context.color_range = av.video.reformatter.ColorRange.MPEG
            if bit_rate is not None:
                stream.bit_rate = bit_rate
            if gop_size is not None:
                stream.codec_context.gop_size = gop_size
            stream.codec_context.thread_count = 1
            stream.options = dict(options)
            for index, frame in enumerate(to_yuv_frames(frames)):
                frame.pts = index
                frame.time_base = stream.time_base
                container.mux(stream.encode(frame))
            container.mux(stream.encode(None))
    except av.FFmpegError as error:
        raise PtcodecError(f"{encoder}: encoding failed: {one_line(error)}") from error
