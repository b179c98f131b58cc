"""Video in and out for ptcodec, through PyAV (FFmpeg).

Why a package of its own: the encoder wants frames as uint8 RGB at a size the
generator's latent grid accepts and at a chosen rate, the decoder wants to hand
its frames to ordinary files (H.264, FFV1, y4m, PNG) atomically and
reproducibly, and every unusable input must become one `InputError` line
rather than an FFmpeg traceback. It needs numpy and av only: importing it
never imports torch, so muxing tools and tests stay light.
"""

from ptcodec.media.reader import (
    Clip,
    Geometry,
    VideoInfo,
    as_fraction,
    load_clip,
    output_size,
    probe,
    read_frames,
)
from ptcodec.media.writer import VideoWriter, write_video

__all__ = [
    "Clip",
    "Geometry",
    "VideoInfo",
    "VideoWriter",
    "as_fraction",
    "load_clip",
    "output_size",
    "probe",
    "read_frames",
    "write_video",
]
