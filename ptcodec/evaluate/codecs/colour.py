"""The one RGB <-> YUV conversion of the evaluation: BT.709 matrix, limited (TV) range, 4:2:0.

Every pixel codec codes YUV 4:2:0, so colour conversion and chroma subsampling are part of
what each baseline costs. Doing them here once, with swscale's explicit matrix and range,
means every adapter (and VMAF, which reads YUV) sees the same samples for the same RGB.
"""

from __future__ import annotations

from collections.abc import Iterator

import av
import numpy as np
from av.video.reformatter import ColorRange, Colorspace

from ptcodec.errors import InputError

PIX_FMT = "yuv420p"
DESCRIPTION = "RGB -> YUV 4:2:0 by swscale, BT.709 matrix, limited range; back the same way"


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Frames as (N, H, W, 3) uint8 RGB with even H and W (4:2:0 needs them), else an InputError."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
        raise InputError(f"frames must be (N, H, W, 3) uint8 RGB, got {frames.shape} {frames.dtype}")
    n, h, w, _ = frames.shape
    if n == 0 or h % 2 or w % 2:
        raise InputError(f"frames must be at least one frame of even width and height for 4:2:0, got {n}x{h}x{w}")
    return frames


def to_yuv(frame: np.ndarray) -> av.VideoFrame:
    """One (H, W, 3) uint8 RGB frame as a yuv420p VideoFrame, BT.709 limited range, tagged so."""
    rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
    yuv = rgb.reformat(format=PIX_FMT, dst_colorspace=Colorspace.ITU709, dst_color_range=ColorRange.MPEG)
    yuv.colorspace = Colorspace.ITU709
    yuv.color_range = ColorRange.MPEG
    return yuv


def to_yuv_frames(frames: np.ndarray) -> Iterator[av.VideoFrame]:
    """Each frame of (N, H, W, 3) through `to_yuv`."""
    for frame in check_frames(frames):
        yield to_yuv(frame)


def to_yuv_bytes(frames: np.ndarray) -> bytes:
    """(N, H, W, 3) RGB as raw planar yuv420p, frame after frame: what `-f rawvideo -pix_fmt yuv420p` reads."""
    return b"".join(frame.to_ndarray().tobytes() for frame in to_yuv_frames(frames))


def from_yuv(frame: av.VideoFrame) -> np.ndarray:
    """A decoded YUV frame (any bit depth) back to (H, W, 3) uint8 RGB with the same matrix and range."""
    rgb = frame.reformat(format="rgb24", src_colorspace=Colorspace.ITU709, src_color_range=ColorRange.MPEG)
    return rgb.to_ndarray()
