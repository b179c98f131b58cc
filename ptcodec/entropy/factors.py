"""Entropy coding of a keyframe's factor codes (spec section 7.5).

Each code q is coded as the zigzag of (q - centre) mod 256, where the centre is
the code of the factor's zero point (intra) or the code that the previous
keyframe's dequantized factor requantizes to (predicted). The symbols of u go
first, row by row; a u symbol's context is the bucket of the symbol before it in
its row. Then the symbols of v, row by row, in one context. Intra and predicted
keyframes use separate contexts, CONTEXTS in all.

Measured on the authors' sky prompts: per-component contexts for v and
neighbour contexts for v cost bytes (their codes are nearly independent and
identically spread), while the neighbour bucket saves 6% of u's bytes, because
a token's magnitude is shared by its rank components.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ptcodec.entropy import rans

CONTEXTS = 12
PREDICTED = 6  # the first context of predicted keyframes
_V = 5  # v's context, after u's five


@njit(cache=True, inline="always")
def _bucket(z):
    if z < 4:
        return 1
    if z < 12:
        return 2
    if z < 32:
        return 3
    return 4


@njit(cache=True, inline="always")
def _zigzag(d):
    d = d & 0xFF
    if d >= 128:
        d -= 256
    return 2 * d if d >= 0 else -2 * d - 1


@njit(cache=True, inline="always")
def _unzigzag(z):
    return z >> 1 if (z & 1) == 0 else -((z + 1) >> 1)


@njit(cache=True)
def _symbols(u, v, cu, cv, base):
    m, r = u.shape
    n = v.shape[1]
    symbols = np.zeros(m * r + r * n, dtype=np.int64)
    contexts = np.zeros(m * r + r * n, dtype=np.int64)
    i = 0
    for a in range(m):
        t = 0
        for k in range(r):
            z = _zigzag(u[a, k] - cu[a, k])
            symbols[i] = z
            contexts[i] = base + t
            t = _bucket(z)
            i += 1
    for k in range(r):
        for j in range(n):
            symbols[i] = _zigzag(v[k, j] - cv[k, j])
            contexts[i] = base + _V
            i += 1
    return symbols, contexts


@njit(cache=True)
def _decode(data, cu, cv, base, model):
    m, r = cu.shape
    n = cv.shape[1]
    u = np.zeros((m, r), dtype=np.uint8)
    v = np.zeros((r, n), dtype=np.uint8)
    x, pos, status = rans.start(data)
    if status != rans.OK:
        return status, pos, u, v
    for a in range(m):
        t = 0
        for k in range(r):
            z, x, pos = rans.decode_symbol(model[base + t], x, pos, data)
            u[a, k] = (cu[a, k] + _unzigzag(z)) & 0xFF
            t = _bucket(z)
    row = model[base + _V]
    for k in range(r):
        for j in range(n):
            z, x, pos = rans.decode_symbol(row, x, pos, data)
            v[k, j] = (cv[k, j] + _unzigzag(z)) & 0xFF
    status, pos = rans.finish(x, pos, data)
    return status, pos, u, v


def new_model() -> np.ndarray:
    return rans.new_model(CONTEXTS)


def encode(u: np.ndarray, v: np.ndarray, centre_u: np.ndarray, centre_v: np.ndarray, predicted: bool,
           model: np.ndarray) -> bytes:
    """The coded factor codes of one keyframe; `model` moves on to its state after them."""
    symbols, contexts = _symbols(u.astype(np.int64), v.astype(np.int64), centre_u.astype(np.int64),
                                 centre_v.astype(np.int64), PREDICTED if predicted else 0)
    return rans.encode(symbols, contexts, model).tobytes()


def decode(data: bytes, centre_u: np.ndarray, centre_v: np.ndarray, predicted: bool,
           model: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(status, bytes read, u codes, v codes); `model` moves on as in encode."""
    return _decode(np.frombuffer(data, dtype=np.uint8), centre_u.astype(np.int64), centre_v.astype(np.int64),
                   PREDICTED if predicted else 0, model)
