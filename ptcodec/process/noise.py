"""The input noise of every frame (spec/ptv.md, 12.6 and 12.8), NumPy only.

N0 is drawn once per stream from the header's seed; each frame's noise mixes
it with the latent the previous-latent rule names: N = w_prev Z_prev + w_noise N0,
with the weights from the header's gamma = num / den. Every operation is one
binary32 operation, so any machine gets the same bits.
"""

from __future__ import annotations

import numpy as np

RELEASED_SEED = 88
"""The released Promptus code's seed of N0 (numpy.random.RandomState(88))."""
RELEASED_GAMMA = (95, 100)
"""The released code's noise weight gamma = 0.95, as the header's (gamma_num, gamma_den)."""


def initial_noise(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """N0: NumPy's legacy RandomState(seed).randn(*shape), rounded to float32 (frozen across NumPy versions)."""
    return np.random.RandomState(seed).randn(*shape).astype(np.float32)


def noise_weights(gamma_num: int, gamma_den: int) -> tuple[np.float32, np.float32]:
    """(weight of Z_prev, weight of N0): binary32((den-num)/den) and binary32(num/den)."""
    den = np.float32(gamma_den)
    return np.float32(gamma_den - gamma_num) / den, np.float32(gamma_num) / den


def mix_noise(z_prev: np.ndarray, n0: np.ndarray, gamma_num: int, gamma_den: int) -> np.ndarray:
    """N = w_prev * Z_prev + w_noise * N0, in binary32."""
    w_prev, w_noise = noise_weights(gamma_num, gamma_den)
    return (w_prev * z_prev.astype(np.float32) + w_noise * n0).astype(np.float32)
