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

from ptcodec.entropy import rans

CONTEXTS = 12
PREDICTED = 6
"""The first context of predicted keyframes (u's five, then v's, as intra's 0..5)."""


_INITIAL: np.ndarray | None = None


def new_model() -> np.ndarray:
    """A model of CONTEXTS contexts in their initial state (a copy of one made once)."""
    global _INITIAL
    if _INITIAL is None:
        _INITIAL = rans.new_model(CONTEXTS)
    return _INITIAL.copy()


def encode(u: np.ndarray, v: np.ndarray, centre_u: np.ndarray, centre_v: np.ndarray, predicted: bool,
           model: np.ndarray) -> bytes:
    """The coded factor codes of one keyframe; `model` moves on to its state after them."""
    symbols, contexts = rans.factor_symbols(u.astype(np.int64), v.astype(np.int64), centre_u.astype(np.int64),
                                            centre_v.astype(np.int64), PREDICTED if predicted else 0)
    return rans.encode(symbols, contexts, model).tobytes()


def decode(data: bytes, centre_u: np.ndarray, centre_v: np.ndarray, predicted: bool,
           model: np.ndarray) -> tuple[int, int, np.ndarray, np.ndarray]:
    """(status, bytes read, u codes, v codes); `model` moves on as in encode."""
    return rans.decode_factors(np.frombuffer(data, dtype=np.uint8), np.asarray(centre_u, dtype=np.int64),
                               np.asarray(centre_v, dtype=np.int64), PREDICTED if predicted else 0, model)
