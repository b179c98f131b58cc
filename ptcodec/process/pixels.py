"""Sample conversions between 8-bit RGB and the generator's [-1, 1] range.

The output direction is normative: the spec (reference-generator annex 3.3,
ptv section 12.9) maps a generator sample x to 8 bits as floor(255 (x + 1) / 2)
in binary32, clamped to 0 .. 255, which is the released Promptus code's
`uint8(255 * (x + 1) / 2)`. A conformance check compares frames made by this
exact truncation, so it is computed here operation by operation in float32.
"""

from __future__ import annotations

import numpy as np

_F32 = np.float32


def to_signed(frames: np.ndarray) -> np.ndarray:
    """uint8 RGB (..., H, W, 3) -> float32 in (-1, 1): the centre of each 8-bit bin,
    (x + 0.5) / 127.5 - 1 in float32 (1 for x = 255).

    The output conversion truncates (`to_uint8`), so the 8-bit value x stands for
    the signed interval [x / 127.5 - 1, (x + 1) / 127.5 - 1); the encoder fits its
    frames to the middle of that interval, and `to_uint8(to_signed(x)) == x` for
    every x (with x / 127.5 - 1, float32 rounding sends x = 1 .. 63 to x - 1).
    """
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise ValueError(f"to_signed expects uint8 samples, got {frames.dtype}")
    signed = (frames.astype(_F32) + _F32(0.5)) / _F32(127.5) - _F32(1.0)
    return np.minimum(signed, _F32(1.0))  # 255's bin starts at 1, the most a generator outputs


def to_uint8(x: np.ndarray) -> np.ndarray:
    """float in [-1, 1] -> uint8 by the spec's truncation floor(255 (x + 1) / 2).

    Computed in float32 in that order ((x + 1), times 255, halved), then floored
    and clamped to 0 .. 255; values outside [-1, 1] clamp, NaN maps to 0.
    """
    x32 = np.asarray(x, dtype=_F32)
    y = np.floor(_F32(255.0) * (x32 + _F32(1.0)) / _F32(2.0))
    y = np.nan_to_num(y, nan=0.0, posinf=255.0, neginf=0.0)
    return np.clip(y, 0, 255).astype(np.uint8)
