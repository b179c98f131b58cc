"""H.265 by x265 through PyAV: two-pass ABR at a rate, CRF at a parameter.

The x265 (4.2) inside PyAV 18's wheel gives slightly different bytes from run to run (about 1%
in size) even with one pool and one frame thread, the same frames and the same settings; the
FFmpeg binary's x265 does not. Results say so ("deterministic": False); rate control absorbs it.
"""

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
class X265:
    """x265 at `preset` (default tuning, its default AQ and psy-RD), keyframe every `keyint` frames."""

    preset: str = "medium"
    keyint: int = 256
    name: str = "x265"
    # One thread pool and one frame thread: x265 output then does not follow the machine's core count.
    QUIET = "log-level=error:pools=1:frame-threads=1"

    def encode(
        self, frames: np.ndarray, fps: Fraction, *, kbps: float | None = None, param: int | None = None, workdir: Path
    ) -> Encoded:
        frames = check_frames(frames)
        mode = rate_mode(kbps, param)
        path = output_path(workdir, "x265.265")
        stats = path.parent.resolve() / "x265.stats"
        common = {"preset": self.preset}
        if mode == "rate":
            assert kbps is not None
            for pass_ in (1, 2):
                options = {**common, "x265-params": f"pass={pass_}:stats={stats}:{self.QUIET}"}
                encode_pyav(frames, fps, path, encoder="libx265", muxer="hevc", options=options,
                            bit_rate=round(kbps * 1000), gop_size=self.keyint)  # fmt: skip
        else:
            options = {**common, "crf": str(param), "x265-params": self.QUIET}
            encode_pyav(frames, fps, path, encoder="libx265", muxer="hevc", options=options, gop_size=self.keyint)
        settings: dict[str, Any] = {
            "codec": self.name,
            "encoder": "libx265",
            "encoder_version": banner(path, rb"x265 \(build \d+\) - [^:\s]+") or "unknown",
            "library": pyav_version(),
            "preset": self.preset,
            "tune": "none",
            "aq": "x265 default (aq-mode 2, auto-variance AQ; psy-rd 2.0)",
            "keyint": self.keyint,
            "scenecut": "x265 default (40)",
            "threads": "1 (pools=1, frame-threads=1)",
            "deterministic": False,
            "pix_fmt": PIX_FMT,
            "rate_mode": "two-pass ABR" if mode == "rate" else "CRF",
            "passes": 2 if mode == "rate" else 1,
            "container": "raw Annex B (.265)",
        }
        return finish(path, len(frames), fps, settings, kbps=kbps, param=param)

    def decode(self, encoded: Encoded) -> np.ndarray:
        return decode_file(encoded, "hevc")
