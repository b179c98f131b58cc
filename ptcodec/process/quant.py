"""8-bit asymmetric quantization of the prompt factors (spec/ptv.md, "Dequantization").

NumPy only: a muxer or conformance tool can dequantize without torch. The
encoder's fake quantization (straight-through) follows exactly these formulas.

Per tensor (the released Promptus code, scheme 0):
    lo = min(min(x), 0), hi = max(max(x), 0), scale = (hi - lo) / 255
    zero_point = clamp(round(255 - hi / scale), 0, 255)
    q = clamp(round(zero_point + x / scale), 0, 255)
Per component (scheme 1): the same per column of u and per row of v, so that
any prefix of rank components carries its own scales.
Dequantization, for both: x = (float32(q) - zero_point) * scale, in binary32.
"""

from __future__ import annotations

import numpy as np

from ptcodec.ptv.syntax import QuantScheme, quant_layout
from ptcodec.ptv.units import Keyframe


def quant_params(x: np.ndarray, axis: int | None = None, levels: int = 255) -> tuple[np.ndarray, np.ndarray]:
    """(scale, zero_point) as float32, per tensor (axis None) or reduced over `axis`; the range
    spans codes 0..levels (255: 8 bits, the released code; fewer: coarser codes for a 1.1 stream)."""
    x = np.asarray(x, dtype=np.float32)
    lo = np.minimum(x.min(axis=axis), np.float32(0))
    hi = np.maximum(x.max(axis=axis), np.float32(0))
    scale = ((hi - lo) / np.float32(levels)).astype(np.float32)
    safe = np.where(scale > 0, scale, np.float32(1))
    zero_point = np.clip(np.round(np.float32(levels) - hi / safe), 0, levels).astype(np.float32)
    zero_point = np.where(scale > 0, zero_point, np.float32(0)).astype(np.float32)
    return scale, zero_point


def quantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """uint8 codes; scale and zero_point broadcast against x."""
    x = np.asarray(x, dtype=np.float32)
    safe = np.where(scale > 0, scale, np.float32(1)).astype(np.float32)
    q = np.round(zero_point + x / safe)
    q = np.where(scale > 0, q, zero_point)
    return np.clip(q, 0, 255).astype(np.uint8)


def dequantize(codes: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    """The normative dequantization: (float32(q) - zero_point) * scale, each op in binary32."""
    diff = codes.astype(np.float32) - np.asarray(zero_point, dtype=np.float32)
    return (diff * np.asarray(scale, dtype=np.float32)).astype(np.float32)


def quantize_keyframe(frame_index: int, u: np.ndarray, v: np.ndarray, scheme: int, levels: int = 255) -> Keyframe:
    """Quantize float factors u (m, r) and v (r, n) into a keyframe unit (codes 0..levels)."""
    u = np.asarray(u, dtype=np.float32)
    v = np.asarray(v, dtype=np.float32)
    rank = u.shape[1]
    params: tuple[tuple[float, ...], ...]  # (u_scale, u_zero_point, v_scale, v_zero_point)
    if quant_layout(scheme) == QuantScheme.PER_TENSOR:
        us, uz = quant_params(u, levels=levels)
        vs, vz = quant_params(v, levels=levels)
        uq, vq = quantize(u, us, uz), quantize(v, vs, vz)
        params = ((float(us),), (float(uz),), (float(vs),), (float(vz),))
    else:
        us, uz = quant_params(u, axis=0, levels=levels)
        vs, vz = quant_params(v, axis=1, levels=levels)
        uq, vq = quantize(u, us[None, :], uz[None, :]), quantize(v, vs[:, None], vz[:, None])
        params = tuple(tuple(float(x) for x in arr) for arr in (us, uz, vs, vz))
    u_scale, u_zero_point, v_scale, v_zero_point = params
    return Keyframe(frame_index, rank, int(scheme), u_scale, u_zero_point, v_scale, v_zero_point, uq.tobytes(), vq.tobytes())


def dequantize_keyframe(keyframe: Keyframe) -> tuple[np.ndarray, np.ndarray]:
    """Float32 factors u (m, r) and v (r, n) of a keyframe unit."""
    us, uz, vs, vz = (np.asarray(p, dtype=np.float32) for p in (
        keyframe.u_scale, keyframe.u_zero_point, keyframe.v_scale, keyframe.v_zero_point))
    if quant_layout(keyframe.quant_scheme) == QuantScheme.PER_TENSOR:
        return dequantize(keyframe.u_codes(), us[0], uz[0]), dequantize(keyframe.v_codes(), vs[0], vz[0])
    return (
        dequantize(keyframe.u_codes(), us[None, :], uz[None, :]),
        dequantize(keyframe.v_codes(), vs[:, None], vz[:, None]),
    )


def truncate_keyframe(keyframe: Keyframe, rank: int) -> Keyframe:
    """The keyframe cut to its first `rank` components (per-component schemes only). A coded
    keyframe keeps its scheme but is predicted and carries models no more: its writer codes it anew."""
    if quant_layout(keyframe.quant_scheme) != QuantScheme.PER_COMPONENT:
        raise ValueError("only per-component keyframes can be cut to a lower rank")
    if not 1 <= rank <= keyframe.rank:
        raise ValueError(f"rank {rank} is not in 1..{keyframe.rank}")
    return Keyframe(
        keyframe.frame_index,
        rank,
        keyframe.quant_scheme,
        keyframe.u_scale[:rank],
        keyframe.u_zero_point[:rank],
        keyframe.v_scale[:rank],
        keyframe.v_zero_point[:rank],
        np.ascontiguousarray(keyframe.u_codes()[:, :rank]).tobytes(),
        keyframe.v_codes()[:rank].tobytes(),
    )


def predict_codes(previous: Keyframe, keyframe: Keyframe) -> tuple[np.ndarray, np.ndarray]:
    """Spec 7.5.2: the codes that the previous keyframe's dequantized factors take under this
    keyframe's quantization parameters: clamp(round(z + X / s), 0, 255), each op in binary32,
    and round(z) where s is 0."""
    pu, pv = dequantize_keyframe(previous)
    us, uz, vs, vz = (np.asarray(p, dtype=np.float32) for p in (
        keyframe.u_scale, keyframe.u_zero_point, keyframe.v_scale, keyframe.v_zero_point))
    if quant_layout(keyframe.quant_scheme) == QuantScheme.PER_COMPONENT:
        us, uz, vs, vz = us[None, :], uz[None, :], vs[:, None], vz[:, None]
    return _requantize(pu, us, uz), _requantize(pv, vs, vz)


def _requantize(x: np.ndarray, scale: np.ndarray, zero_point: np.ndarray) -> np.ndarray:
    scale = np.broadcast_to(scale, x.shape)
    zero_point = np.broadcast_to(zero_point, x.shape).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        t = np.where(scale == 0, zero_point, (x / np.where(scale == 0, np.float32(1), scale)).astype(np.float32) + zero_point)
    return np.clip(np.rint(t.astype(np.float32)), 0, 255).astype(np.uint8)
