"""AV1 by SVT-AV1 through PyAV: one-pass VBR at a rate (FFmpeg's libsvtav1 wrapper has no
two-pass), CRF at a parameter. Rate control's re-encoding makes up for the single pass."""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from ptcodec.evaluate.codecs._pyav import encode_pyav, pyav_version
from ptcodec.evaluate.codecs.base import Encoded, decode_file, finish, output_path, rate_mode
from ptcodec.evaluate.codecs.colour import PIX_FMT, check_frames


@functools.cache
def svt_version() -> str:
    """SVT-AV1's version from the library PyAV loaded (svt_av1_get_version), or 'unknown'."""
    here = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs", "libSvtAv1Enc*")
    for path in glob.glob(here):
        try:
            function = ctypes.CDLL(path).svt_av1_get_version
        except (OSError, AttributeError):
            continue
        function.restype = ctypes.c_char_p
        return "SVT-AV1 " + function().decode("ascii", "replace")
    return "unknown (libSvtAv1Enc not found beside PyAV)"


@dataclass
class SvtAv1:
    """SVT-AV1 at `preset` (0 slowest .. 13 fastest), tune PSNR (its default), keyframe every `keyint` frames."""

    preset: int = 8
    keyint: int = 256
    name: str = "svtav1"

    def encode(
        self, frames: np.ndarray, fps: Fraction, *, kbps: float | None = None, param: int | None = None, workdir: Path
    ) -> Encoded:
        frames = check_frames(frames)
        mode = rate_mode(kbps, param)
        path = output_path(workdir, "svtav1.obu")
        # lp=1: one thread of parallelism, so the output does not follow the core count.
        params = "lp=1:rc=1" if mode == "rate" else "lp=1"
        options = {"preset": str(self.preset), "svtav1-params": params}
        if mode == "param":
            options["crf"] = str(param)
        # SVT-AV1 prints its banner and configuration to stderr unless told otherwise.
        os.environ.setdefault("SVT_LOG", "1")
        bit_rate = round(kbps * 1000) if kbps is not None else None
        encode_pyav(frames, fps, path, encoder="libsvtav1", muxer="obu", options=options, bit_rate=bit_rate,
                    gop_size=self.keyint)  # fmt: skip
        settings: dict[str, Any] = {
            "codec": self.name,
            "encoder": "libsvtav1",
            "encoder_version": svt_version(),
            "library": pyav_version(),
            "preset": self.preset,
            "tune": "SVT-AV1 default (tune 1, PSNR)",
            "aq": "SVT-AV1 default (aq-mode 2)",
            "keyint": self.keyint,
            "threads": "lp=1",
            "pix_fmt": PIX_FMT,
            "rate_mode": "one-pass VBR" if mode == "rate" else "CRF",
            "passes": 1,
            "container": "raw OBUs (.obu, low-overhead format)",
        }
        return finish(path, len(frames), fps, settings, kbps=kbps, param=param)

    def decode(self, encoded: Encoded) -> np.ndarray:
        return decode_file(encoded, "obu")
