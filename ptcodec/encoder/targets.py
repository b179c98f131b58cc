"""`--target-kbps`: the rank (and, for a 1.1 stream, the RDOQ lambda) for a bit rate, before encoding.

ptcodec's rate is set by its stream's shape, not by a control loop: every keyframe of rank r
carries m*r + r*n codes, and keyframes come every `interval` frames. So the rate of a rank
is known up to the bits that each code takes once entropy-coded, which were measured:
8 in a 1.0 stream; about 6.95 in a 1.1 stream of the authors' sky prompts, and fewer with
RDOQ. The plan takes the largest rank whose estimate fits the target, then, for a 1.1 stream,
the next rank up with the smallest lambda that makes it fit, when one does. The one-time bytes
(the scene-init latent, the header) are left out: over more than a few seconds they are small.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

from ptcodec.encoder.options import StreamOptions

BITS_PER_CODE = {"1.0": 8.0, "1.1": 6.95}
"""Bits per factor code: raw in 1.0; entropy-coded in 1.1 (the sky import recoded, -13%)."""
RDOQ_BITS = {0.5: 0.965, 1.0: 0.92, 2.0: 0.90}
"""1.1 with RDOQ: the share of the bits left at each lambda, measured on the sky prompts' factors
(with their rounding undone); RDOQ only ever moves a factor to its other neighbour code, so the
saving levels off near 10%."""
KEYFRAME_OVERHEAD_BYTES = 40
"""Frame index, rank, scheme, quantization parameters and framing, about."""
MAX_RANK = 64


def keyframe_kbps(rank: int, *, tokens: int, embed_dim: int, fps: Fraction, interval: int, bits_per_code: float) -> float:
    """The estimated rate of keyframes of `rank` every `interval` frames."""
    keyframe_bytes = (tokens * rank + rank * embed_dim) * bits_per_code / 8 + KEYFRAME_OVERHEAD_BYTES
    return keyframe_bytes * 8 / 1000 * float(fps) / interval


def for_target(stream: StreamOptions, target_kbps: float, *, tokens: int, embed_dim: int, fps: Fraction) -> StreamOptions:
    """`stream` with the rank (and lambda) that the target rate buys; rank 1 when even it does not fit."""
    bits = BITS_PER_CODE[stream.coding]

    def rate(rank: int, share: float = 1.0) -> float:
        return keyframe_kbps(rank, tokens=tokens, embed_dim=embed_dim, fps=fps, interval=stream.interval,
                             bits_per_code=bits * share)

    rank = max([r for r in range(1, MAX_RANK + 1) if rate(r) <= target_kbps], default=1)
    lam = 0.0
    if stream.coded and rank < MAX_RANK:
        fitting = [lam for lam, share in sorted(RDOQ_BITS.items()) if rate(rank + 1, share) <= target_kbps]
        if fitting:
            rank, lam = rank + 1, fitting[0]
    return dataclasses.replace(stream, ranks=(rank,), rdoq_lambda=lam)
