"""Differentiable mirrors of the normative decoding process, in torch, for the fit's gradients.

The decoding process is defined once, in NumPy (ptcodec/process/). Fitting
needs gradients through it, so each function here mirrors one of those, as
diffusers marks its "Copied from" code: it computes the same formula with the
same constants, and tests/test_encoder_mirrors.py pins it to its original on
random inputs, every rank prefix of a ladder included. The mirrors are not
bit-exact (torch sums a matrix product in its own order); the closed loop
decodes the real units with the NumPy process, so nothing drifts.
"""

from __future__ import annotations

import numpy as np
import torch

from ptcodec.process import conditioning, noise
from ptcodec.ptv.syntax import InterpRule, QuantScheme, quant_layout


def fake_quantize(x: torch.Tensor, dim: int | None = None, levels: int = 255) -> torch.Tensor:
    """Mirror of `quant.quant_params`, `quant.quantize` and `quant.dequantize` in turn, per tensor
    (dim None) or per slice along `dim` (the dimension reduced: 0 for u's columns, 1 for v's rows).
    The backward pass treats the rounding as the identity (straight-through), as the released code does."""
    if dim is None:
        lo, hi = x.min().clamp(max=0), x.max().clamp(min=0)
    else:
        lo, hi = x.amin(dim, keepdim=True).clamp(max=0), x.amax(dim, keepdim=True).clamp(min=0)
    scale = ((hi - lo) / levels).detach()
    safe = torch.where(scale > 0, scale, torch.ones_like(scale))
    zero_point = torch.where(scale > 0, torch.round(levels - hi.detach() / safe).clamp(0, levels),
                             torch.zeros_like(scale))
    codes = torch.where(scale > 0, torch.round(zero_point + x / safe), zero_point).clamp(0, levels)
    quantized = (codes - zero_point) * scale
    return x + (quantized - x).detach()


def fake_quantize_factors(u: torch.Tensor, v: torch.Tensor, scheme: int,
                          levels: int = 255) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror of `quant.quantize_keyframe` then `quant.dequantize_keyframe`: u (m, r) and v (r, n)
    as a keyframe of `scheme` carries them."""
    if quant_layout(scheme) == QuantScheme.PER_TENSOR:
        return fake_quantize(u, levels=levels), fake_quantize(v, levels=levels)
    return fake_quantize(u, 0, levels), fake_quantize(v, 1, levels)


def compose(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Mirror of `conditioning.compose`: c = u v / sqrt(r), with the same binary32 sqrt(r);
    batched factors (B, m, r) and (B, r, n) give (B, m, n)."""
    return u @ v / float(conditioning.sqrt_rank(u.shape[-1]))


def lerp(a: torch.Tensor, b: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Mirror of `conditioning.lerp`: (1 - w) a + w b."""
    return (1 - w) * a + w * b


def segment_weights(a: int, b: int, interp_rule: int) -> np.ndarray:
    """The weight of keyframe b in the conditioning of each frame a+1 .. b of the segment (a, b],
    as `conditioning.frame_conditioning` takes it: `interpolation_weight` under the linear rule;
    0 under the hold rule (the frames hold keyframe a), 1 for frame b itself."""
    if interp_rule == InterpRule.HOLD:
        return np.array([np.float32(t == b) for t in range(a + 1, b + 1)], dtype=np.float32)
    return np.array([conditioning.interpolation_weight(t, a, b) for t in range(a + 1, b + 1)], dtype=np.float32)


def segment_conditioning(left: tuple[torch.Tensor, torch.Tensor], right: tuple[torch.Tensor, torch.Tensor],
                         weights: torch.Tensor) -> torch.Tensor:
    """Mirror of `conditioning.frame_conditioning` for the frames of a segment: c_t (B, m, n)
    between keyframes a (`left`) and b (`right`), with b's weight per frame (`segment_weights`).
    Factors of equal rank are interpolated; otherwise the composed prompts are."""
    (ua, va), (ub, vb) = left, right
    w = weights.view(-1, 1, 1)
    if ua.shape == ub.shape:
        return compose(lerp(ua, ub, w), lerp(va, vb, w))
    return lerp(compose(ua, va), compose(ub, vb), w)


def mix_noise(z_prev: torch.Tensor, n0: torch.Tensor, gamma: tuple[int, int]) -> torch.Tensor:
    """Mirror of `noise.mix_noise`: N = w_prev Z_prev + w_noise N0 with the same binary32 weights."""
    w_prev, w_noise = noise.noise_weights(*gamma)
    return float(w_prev) * z_prev + float(w_noise) * n0
