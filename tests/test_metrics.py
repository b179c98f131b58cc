"""PSNR, defined once (ptcodec/metrics.py): 8-bit frames, generator samples, and batches of tensors."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptcodec.metrics import psnr, psnr_from_mse, signed_psnr, signed_psnr_per_frame


def test_psnr() -> None:
    a = np.zeros((4, 4, 3), np.uint8)
    assert psnr(a, a) == float("inf")
    b = a.copy()
    b[0, 0, 0] = 255  # mse = 255^2 / 48
    assert psnr(a, b) == pytest.approx(10 * np.log10(48))
    with pytest.raises(ValueError, match="different shapes"):
        psnr(a, b[:2])
    with pytest.raises(ValueError, match="uint8"):
        psnr(a.astype(np.float32), b)


def test_signed_psnr_is_the_8_bit_psnr_of_the_same_pictures():
    """On [-1, 1] samples the peak-to-peak is 2: a difference of d samples is one of 127.5 d in 8 bits."""
    rng = np.random.RandomState(0)
    a = rng.uniform(-1, 1, (3, 8, 8)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.05, a.shape), -1, 1).astype(np.float32)
    mse_8bit = float(np.mean((127.5 * (a.astype(np.float64) - b)) ** 2))
    assert signed_psnr(a, b) == pytest.approx(10 * math.log10(255.0**2 / mse_8bit))
    assert signed_psnr(torch.from_numpy(a), torch.from_numpy(b)) == pytest.approx(signed_psnr(a, b), rel=1e-6)
    assert signed_psnr(a, a) == math.inf and psnr_from_mse(0.0) == math.inf


def test_the_batched_form_gives_each_picture_its_own_psnr():
    rng = np.random.RandomState(1)
    frames = torch.from_numpy(rng.uniform(-1, 1, (4, 3, 8, 8)).astype(np.float32))
    targets = frames + torch.from_numpy(rng.normal(0, 0.1, (4, 3, 8, 8)).astype(np.float32))
    batched = signed_psnr_per_frame(frames, targets)
    assert batched.shape == (4,)
    for i in range(4):
        assert float(batched[i]) == pytest.approx(signed_psnr(frames[i], targets[i]), rel=1e-4)
    assert float(signed_psnr_per_frame(frames, frames)[0]) == pytest.approx(10 * math.log10(4 / 1e-12))
