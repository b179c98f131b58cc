"""The normative 8-bit output (ptcodec/process/pixels.py, spec 12.9) and its inverse for the encoder."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from ptcodec.process.pixels import to_signed, to_uint8


def test_to_signed_is_the_bin_centre_and_to_uint8_inverts_it() -> None:
    x = np.arange(256, dtype=np.uint8)
    y = to_signed(x)
    assert y.dtype == np.float32
    assert -1 < y[0] < -0.99 and y[255] == 1
    np.testing.assert_allclose(y[:255], (x[:255] + 0.5) / 127.5 - 1, atol=1e-7)
    assert np.array_equal(to_uint8(y), x)


def spec_truncation(x: np.ndarray) -> np.ndarray:
    """floor(255 (x + 1) / 2) in binary32, clamped: ptv 12.9 / reference annex 3.3."""
    x = x.astype(np.float32)
    y = np.floor(np.float32(255) * (x + np.float32(1)) / np.float32(2))
    return np.clip(y, 0, 255).astype(np.uint8)


def test_to_uint8_matches_the_spec_truncation() -> None:
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.uniform(-1.5, 1.5, 20000), [-3, -1, -0.999, 0, 0.5, 0.999, 1, 3]]).astype(np.float32)
    out = to_uint8(x)
    assert out.dtype == np.uint8
    assert np.array_equal(out, spec_truncation(x))
    assert out[x <= -1].max() == 0 and out[x >= 1].min() == 255
    # Away from integer boundaries the float32 result is the exact real-number one.
    exact = np.clip(np.floor(255 * (x.astype(np.float64) + 1) / 2), 0, 255)
    far = np.abs(255 * (x.astype(np.float64) + 1) / 2 - np.round(255 * (x.astype(np.float64) + 1) / 2)) > 1e-3
    assert np.array_equal(out[far], exact[far])


@given(st.lists(st.floats(-2, 2, width=32), min_size=1, max_size=50))
def test_to_uint8_property(values: list[float]) -> None:
    x = np.asarray(values, np.float32)
    assert np.array_equal(to_uint8(x), spec_truncation(x))
