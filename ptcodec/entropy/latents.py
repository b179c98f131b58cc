"""Entropy coding of a quantized scene-init latent (spec section 6.3).

Each channel is coded as an image, in raster order: a sample's symbol is the
zigzag of its code minus the median-edge-detector prediction from its left,
upper and upper-left neighbours (LOCO-I's predictor), in the context of the
local gradient. The latents of the generators are smooth, so the residuals are
small: the sky clip's 8-bit latent codes take 13.4 KB instead of 16 KB, and its
float32 latent 64 KB.
"""

from __future__ import annotations

import numpy as np

from ptcodec.entropy import rans

CONTEXTS = 5


def encode(codes: np.ndarray) -> bytes:
    """The coded form of u8 codes (C, H, W)."""
    symbols, contexts = rans.latent_symbols(codes.astype(np.int64))
    return rans.encode(symbols, contexts, rans.new_model(CONTEXTS)).tobytes()


def decode(data: bytes, shape: tuple[int, int, int]) -> tuple[int, int, np.ndarray]:
    """(status, bytes read, u8 codes (C, H, W))."""
    status, pos, q = rans.decode_latent(np.frombuffer(data, dtype=np.uint8), *shape, rans.new_model(CONTEXTS))
    return status, pos, q.astype(np.uint8)
