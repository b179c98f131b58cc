"""Rate-distortion optimised quantization of a keyframe's factors (bitstream 1.1).

Plain rounding puts every factor on its nearest code. With entropy-coded codes
a code nearer its centre (the zero point, or the code predicted from the previous
keyframe) costs fewer bits, so each factor may take the other neighbour of its
exact position t = z + x / s when that saves more bits than it costs distortion:

    J(q) = w * (q - t)^2 + lambda * bits(q)

in units of one quantization step squared. The weight w is the factor's share of
the prompt's error: an error e in u[i][k] moves row i of c = u v / sqrt(r) by
e v[k] / sqrt(r), so w is ||v[k]||^2 (and ||u[:, k]||^2 for v[k][j]), relative to
the mean over k; then every factor's error costs what it costs in c. bits(q) is
-log2 of the symbol's frequency in the keyframe's own codes, re-estimated twice
(the coder adapts to the same statistics). lambda 0 is plain rounding.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ptcodec.process.quant import predict_codes
from ptcodec.ptv.syntax import QuantScheme, quant_layout
from ptcodec.ptv.units import Keyframe

ITERATIONS = 2


def _zigzag(d: np.ndarray) -> np.ndarray:
    d = ((d + 128) & 0xFF) - 128
    return np.where(d >= 0, 2 * d, -2 * d - 1)


def _choose(t: np.ndarray, centre: np.ndarray, weight: np.ndarray, lam: float, levels: int) -> np.ndarray:
    low = np.clip(np.floor(t), 0, levels)
    high = np.clip(low + 1, 0, levels)
    q = np.clip(np.rint(t), 0, levels)
    for _ in range(ITERATIONS):
        counts = np.bincount(_zigzag(q.astype(np.int64) - centre).ravel(), minlength=256) + 0.5
        bits = -np.log2(counts / counts.sum())
        cost = [weight * (c - t) ** 2 + lam * bits[_zigzag(c.astype(np.int64) - centre)] for c in (low, high)]
        q = np.where(cost[0] <= cost[1], low, high)
    return q.astype(np.uint8)


def rdoq_keyframe(keyframe: Keyframe, u: np.ndarray, v: np.ndarray, lam: float, *,
                  previous: Keyframe | None = None, levels: int = 255) -> Keyframe:
    """The keyframe (from quant.quantize_keyframe of the float factors u, v) with its codes
    chosen for rate plus distortion; its quantization parameters are kept. `previous`: the
    keyframe before it in the scene, whose prediction is the centre when it has the same rank."""
    if lam <= 0:
        return keyframe
    u = np.asarray(u, dtype=np.float32)
    v = np.asarray(v, dtype=np.float32)
    m, r = u.shape
    n = v.shape[1]
    us, uz, vs, vz = (np.asarray(p, dtype=np.float32) for p in (
        keyframe.u_scale, keyframe.u_zero_point, keyframe.v_scale, keyframe.v_zero_point))
    if quant_layout(keyframe.quant_scheme) == QuantScheme.PER_COMPONENT:
        us, uz, vs, vz = us[None, :], uz[None, :], vs[:, None], vz[:, None]
    safe_u, safe_v = np.where(us > 0, us, 1), np.where(vs > 0, vs, 1)
    tu, tv = uz + u / safe_u, vz + v / safe_v
    if previous is not None and previous.rank == r:
        cu, cv = (c.astype(np.int64) for c in predict_codes(previous, keyframe))
    else:
        cu = np.broadcast_to(np.rint(uz), (m, r)).astype(np.int64)
        cv = np.broadcast_to(np.rint(vz), (r, n)).astype(np.int64)
    # Each factor's share of the error in c, in units of its own step squared.
    v_energy = (v.astype(np.float64) ** 2).sum(axis=1)  # ||v[k]||^2, weighs u[:, k]
    u_energy = (u.astype(np.float64) ** 2).sum(axis=0)  # ||u[:, k]||^2, weighs v[k]
    wu = np.broadcast_to(v_energy[None, :] * np.broadcast_to(us, (1, r)) ** 2, (m, r))
    wv = np.broadcast_to(u_energy[:, None] * np.broadcast_to(vs, (r, 1)) ** 2, (r, n))
    mean = (wu.sum() + wv.sum()) / (wu.size + wv.size)
    if mean <= 0:
        return keyframe
    qu = _choose(tu, cu, wu / mean, lam, levels)
    qv = _choose(tv, cv, wv / mean, lam, levels)
    qu = np.where(np.broadcast_to(us, (m, r)) > 0, qu, keyframe.u_codes())
    qv = np.where(np.broadcast_to(vs, (r, n)) > 0, qv, keyframe.v_codes())
    return dataclasses.replace(keyframe, u=qu.astype(np.uint8).tobytes(), v=qv.astype(np.uint8).tobytes())
