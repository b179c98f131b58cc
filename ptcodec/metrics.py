"""Picture quality figures, defined once: PSNR of 8-bit frames and of generator samples.

An 8-bit frame has peak 255; a generator sample lies in [-1, 1], peak-to-peak 2,
so 10 log10(4 / MSE) on samples is the 8-bit PSNR of the same pictures before
rounding. NumPy only; the batched form takes torch tensors without importing torch.
"""

from __future__ import annotations

import math

import numpy as np

PEAK_8BIT = 255.0
PEAK_SIGNED = 2.0
"""Peak-to-peak range of a generator sample in [-1, 1]."""


def psnr_from_mse(mse: float, peak: float = PEAK_8BIT) -> float:
    """10 log10(peak^2 / MSE) in dB; inf for MSE 0."""
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two uint8 arrays of the same shape (peak 255); inf when equal."""
    a = np.asarray(a)
    b = np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"psnr of arrays with different shapes {a.shape} and {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise ValueError(f"psnr expects uint8 arrays, got {a.dtype} and {b.dtype}")
    return psnr_from_mse(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def signed_psnr(a, b) -> float:
    """PSNR in dB of two pictures as generator samples in [-1, 1]: NumPy arrays or torch tensors."""
    if isinstance(a, np.ndarray):
        diff = a.astype(np.float64) - np.asarray(b, dtype=np.float64)
    else:
        diff = a.double() - b.double()
    return psnr_from_mse(float((diff**2).mean()), PEAK_SIGNED)


def signed_psnr_per_frame(frames, targets):
    """PSNR (dB) of each picture of a batch (B, ...) of torch tensors in [-1, 1]; MSE floored at 1e-12."""
    mse = ((frames.float() - targets.float()) ** 2).flatten(1).mean(1).clamp_min(1e-12)
    return 10 * (PEAK_SIGNED**2 / mse).log10()


BT709_LUMA = (0.2126, 0.7152, 0.0722)
"""Rec. ITU-R BT.709 luma weights of R', G', B'."""


def luma(frames: np.ndarray) -> np.ndarray:
    """Y' of 8-bit RGB frames (..., 3) in float64 on the 0..255 scale (full range, BT.709 weights)."""
    return np.asarray(frames, dtype=np.float64) @ np.asarray(BT709_LUMA)


def luma_psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of the luma (`luma`) of two uint8 RGB pictures (peak 255); inf when equal."""
    if np.shape(a) != np.shape(b):
        raise ValueError(f"luma_psnr of arrays with different shapes {np.shape(a)} and {np.shape(b)}")
    return psnr_from_mse(float(np.mean((luma(a) - luma(b)) ** 2)))


def msssim_window(side: int) -> int | None:
    """The largest odd window (11 down to 3) that pytorch-msssim's five-scale MS-SSIM accepts for
    pictures whose shorter side is `side` (it needs side > 16 (window - 1)); None when none does."""
    for window in range(11, 2, -2):
        if (window - 1) * 16 < side:
            return window
    return None
