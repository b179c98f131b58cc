"""H.264 by x264 through PyAV: two-pass ABR at a rate, CRF at a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.evaluate.codecs._pyav import banner, encode_pyav, pyav_version
from ptcodec.evaluate.codecs.base import Encoded, decode_file, finish, output_path, rate_mode
from ptcodec.evaluate.codecs.colour import PIX_FMT, check_frames


@dataclass
class X264:
    """x264 at `preset` (default tuning, its default variance AQ and psy-RD), keyframe every `keyint` frames."""

    preset: str = "medium"
    keyint: int = 256
    name: str = "x264"

    def encode(
        self, frames: np.ndarray, fps: Fraction, *, kbps: float | None = None, param: int | None = None, workdir: Path
    ) -> Encoded:
        frames = check_frames(frames)
        mode = rate_mode(kbps, param)
        path = output_path(workdir, "x264.264")
        stats = path.parent.resolve() / "x264.stats"
        common = {"preset": self.preset, "threads": "1"}
        if mode == "rate":
            assert kbps is not None
            for pass_ in (1, 2):
                options = {**common, "x264-params": f"pass={pass_}:stats={stats}:log=-1"}
                encode_pyav(frames, fps, path, encoder="libx264", muxer="h264", options=options,
                            bit_rate=round(kbps * 1000), gop_size=self.keyint)  # fmt: skip
        else:
            options = {**common, "crf": str(param), "x264-params": "log=-1"}
            encode_pyav(frames, fps, path, encoder="libx264", muxer="h264", options=options, gop_size=self.keyint)
        settings: dict[str, Any] = {
            "codec": self.name,
            "encoder": "libx264",
            "encoder_version": (banner(path, rb"x264 - core \d+[^-]*") or "unknown").strip(),
            "library": pyav_version(),
            "preset": self.preset,
            "tune": "none",
            "aq": "x264 default (aq-mode 1, variance AQ; psy-rd on)",
            "keyint": self.keyint,
            "scenecut": "x264 default (40)",
            "threads": 1,
            "pix_fmt": PIX_FMT,
            "rate_mode": "two-pass ABR" if mode == "rate" else "CRF",
            "passes": 2 if mode == "rate" else 1,
            "container": "raw Annex B (.264)",
        }
        return finish(path, len(frames), fps, settings, kbps=kbps, param=param)

    def decode(self, encoded: Encoded) -> np.ndarray:
        return decode_file(encoded, "h264")
