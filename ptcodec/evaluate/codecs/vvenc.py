"""H.266/VVC by VVenC through the imageio-ffmpeg binary: two-pass VBR at a rate, QP at a parameter.

Tables use VVenC's `medium` preset with its default perceptual QP adaptation (QPA on), which
VVenC's authors recommend for subjective quality; both are recorded with every result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.evaluate.codecs.base import Encoded, decode_file, finish, output_path, rate_mode
from ptcodec.evaluate.codecs.colour import check_frames
from ptcodec.evaluate.codecs.ffmpeg import encode_ffmpeg, ffmpeg_version


@dataclass
class VVenC:
    """VVenC at `preset` (medium for tables), QPA `qpa`, intra period `keyint` frames, one thread."""

    preset: str = "medium"
    qpa: bool = True
    keyint: int = 256
    name: str = "vvenc"

    def encode(
        self, frames: np.ndarray, fps: Fraction, *, kbps: float | None = None, param: int | None = None, workdir: Path
    ) -> Encoded:
        frames = check_frames(frames)
        mode = rate_mode(kbps, param)
        path = output_path(workdir, "vvenc.266")
        args = ["-c:v", "libvvenc", "-preset", self.preset, "-qpa", str(int(self.qpa)), "-threads", "1",
                "-vvenc-params", f"IntraPeriod={self.keyint}"]  # fmt: skip
        if mode == "rate":
            assert kbps is not None
            args += ["-b:v", str(round(kbps * 1000))]
        else:
            args += ["-qp", str(param)]
        stderr = encode_ffmpeg(frames, fps, path, codec_args=args, muxer="vvc", passes=2 if mode == "rate" else 1,
                               what="vvenc")  # fmt: skip
        version = re.search(r"libvvenc version: (\S+)", stderr)
        settings: dict[str, Any] = {
            "codec": self.name,
            "encoder": "libvvenc",
            "encoder_version": f"VVenC {version.group(1)}" if version else "unknown",
            "library": ffmpeg_version(),
            "preset": self.preset,
            "tune": "none",
            "qpa": self.qpa,
            "keyint": self.keyint,
            "threads": 1,
            "pix_fmt": "yuv420p in, coded as yuv420p10le (VVenC codes 10-bit only)",
            "rate_mode": "two-pass VBR" if mode == "rate" else "QP",
            "passes": 2 if mode == "rate" else 1,
            "container": "raw Annex B (.266)",
        }
        return finish(path, len(frames), fps, settings, kbps=kbps, param=param)

    def decode(self, encoded: Encoded) -> np.ndarray:
        return decode_file(encoded, "vvc")
