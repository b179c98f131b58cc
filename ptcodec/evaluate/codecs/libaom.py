"""AV1 by libaom through the imageio-ffmpeg binary: two-pass VBR at a rate, constant quality (CRF) at a parameter."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.evaluate.codecs.base import Encoded, decode_file, finish, output_path, rate_mode
from ptcodec.evaluate.codecs.colour import PIX_FMT, check_frames
from ptcodec.evaluate.codecs.ffmpeg import encode_ffmpeg, ffmpeg_version


@dataclass
class Libaom:
    """libaom, usage good, `cpu_used` (0 slowest .. 8), default tuning (PSNR), keyframe every `keyint` frames."""

    cpu_used: int = 4
    keyint: int = 256
    name: str = "libaom"

    def encode(
        self, frames: np.ndarray, fps: Fraction, *, kbps: float | None = None, param: int | None = None, workdir: Path
    ) -> Encoded:
        frames = check_frames(frames)
        mode = rate_mode(kbps, param)
        path = output_path(workdir, "libaom.obu")
        args = ["-c:v", "libaom-av1", "-usage", "good", "-cpu-used", str(self.cpu_used), "-threads", "1",
                "-row-mt", "0", "-g", str(self.keyint), "-pix_fmt", PIX_FMT]  # fmt: skip
        if mode == "rate":
            assert kbps is not None
            args += ["-b:v", str(round(kbps * 1000))]
        else:
            args += ["-crf", str(param), "-b:v", "0"]
        stderr = encode_ffmpeg(frames, fps, path, codec_args=args, muxer="obu", passes=2 if mode == "rate" else 1,
                               what="libaom")  # fmt: skip
        version = re.search(r"\[libaom-av1 @ \w+\] (v\d\S*)", stderr)
        settings: dict[str, Any] = {
            "codec": self.name,
            "encoder": "libaom-av1",
            "encoder_version": f"libaom {version.group(1)}" if version else "unknown",
            "library": ffmpeg_version(),
            "preset": f"usage good, cpu-used {self.cpu_used}",
            "tune": "libaom default (PSNR)",
            "aq": "libaom default (aq-mode 0)",
            "keyint": self.keyint,
            "threads": 1,
            "pix_fmt": PIX_FMT,
            "rate_mode": "two-pass VBR" if mode == "rate" else "constant quality (CRF, b:v 0)",
            "passes": 2 if mode == "rate" else 1,
            "container": "raw OBUs (.obu, low-overhead format)",
        }
        return finish(path, len(frames), fps, settings, kbps=kbps, param=param)

    def decode(self, encoded: Encoded) -> np.ndarray:
        return decode_file(encoded, "obu")
