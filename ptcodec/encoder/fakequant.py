"""Quantization-aware training: the bitstream's 8-bit quantizer with a straight-through gradient.

The forward pass uses the same formulas as `ptcodec.quant` (min/max with 0,
scale = (hi - lo) / 255, rounded zero point, rounded and clamped codes), so the
loss sees the factors a decoder will dequantize; the backward pass treats the
rounding as the identity, as the released Promptus code does.
"""

from __future__ import annotations

import torch

from ptcodec.ptv.syntax import QuantScheme


def fake_quantize(x: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Quantize and dequantize x per tensor (dim None) or per slice along `dim`
    (the dimension that is reduced: 0 for the columns of u, 1 for the rows of v)."""
    if dim is None:
        lo, hi = x.min().clamp(max=0), x.max().clamp(min=0)
    else:
        lo, hi = x.amin(dim, keepdim=True).clamp(max=0), x.amax(dim, keepdim=True).clamp(min=0)
    scale = ((hi - lo) / 255).detach()
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero_point = torch.where(scale > 0, torch.round(255 - hi.detach() / safe).clamp(0, 255), torch.zeros_like(scale))
    codes = torch.round(zero_point + x / safe).clamp(0, 255)
    quantized = torch.where(scale > 0, (codes - zero_point) * scale, torch.zeros_like(x))
    return x + (quantized - x).detach()


def fake_quantize_factors(u: torch.Tensor, v: torch.Tensor, scheme: int) -> tuple[torch.Tensor, torch.Tensor]:
    """u (m, r) and v (r, n) as a keyframe of `scheme` will carry them."""
    if scheme == QuantScheme.PER_TENSOR:
        return fake_quantize(u), fake_quantize(v)
    return fake_quantize(u, 0), fake_quantize(v, 1)
