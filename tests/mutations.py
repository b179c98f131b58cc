"""Seeded byte-level mutations of valid files, for the bounded fuzz tests.

Each mutation is one of: a few bytes changed, the file cut short, a chunk
duplicated in place, or a chunk deleted. These are the damage a transfer, a
disk or a careless tool does, and they reach past the first bytes of a file
into its structure (sizes, element IDs, payloads).
"""

from __future__ import annotations

import random


def mutate(data: bytes, rng: random.Random, focus: int = 0) -> bytes:
    """One damaged copy of `data`. With `focus`, half of the positions fall in
    the first `focus` bytes: where a file keeps its structure (the header of a
    .ptv, the EBML header, Tracks and Tags of a Matroska file) rather than its
    payload bytes, so that mutations reach every field."""
    out = bytearray(data)

    def position() -> int:
        if focus and rng.random() < 0.5:
            return rng.randrange(min(focus, len(out)))
        return rng.randrange(len(out))

    kind = rng.randrange(4)
    if kind == 0:  # flip bits or overwrite a few bytes
        for _ in range(rng.randint(1, 4)):
            at = position()
            out[at] = out[at] ^ (1 << rng.randrange(8)) if rng.random() < 0.5 else rng.randrange(256)
    elif kind == 1:  # cut short
        del out[position():]
    elif kind == 2:  # duplicate a chunk right after itself
        start = position()
        out[start:start] = out[start : start + rng.randint(1, 64)]
    else:  # delete a chunk
        start = position()
        del out[start : start + rng.randint(1, 64)]
    return bytes(out)
