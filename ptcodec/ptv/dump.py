"""A JSON-ready dump of every syntax element (for `ptcodec info --json` and the
conformance suite's reference parse dumps). Byte strings become hex; floats
stay exact (a JSON number round-trips every binary32 value).

With `hash_over` set, byte strings longer than that many bytes (factor codes,
latent samples, long payloads) are written as "sha256:<64 hex digits>" of their
bytes instead: the conformance parse-dump format, exact but small.
"""

from __future__ import annotations

import dataclasses
import hashlib

from ptcodec.ptv.framing import UnitRecord

CONFORMANCE_HASH_OVER = 32
"""Byte strings longer than this are hashed in conformance parse dumps (the 32-byte fingerprint stays hex)."""


def _jsonable(value: object, hash_over: int | None) -> object:
    if isinstance(value, bytes):
        if hash_over is not None and len(value) > hash_over:
            return "sha256:" + hashlib.sha256(value).hexdigest()
        return value.hex()
    if isinstance(value, tuple):
        return [_jsonable(v, hash_over) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # IntEnum members become plain numbers
    return value


CODED_ONLY = frozenset({"predicted", "carry_models", "coded_factors"})
"""Keyframe fields that only a coded scheme's syntax has (an uncoded keyframe's dump leaves them out)."""


def unit_fields(unit: object, hash_over: int | None = None) -> dict:
    from ptcodec.ptv.units import Keyframe

    skip = CODED_ONLY if isinstance(unit, Keyframe) and not unit.coded else frozenset()
    return {f.name: _jsonable(getattr(unit, f.name), hash_over)
            for f in dataclasses.fields(unit) if f.name not in skip}  # type: ignore[arg-type]


def record_dict(record: UnitRecord, hash_over: int | None = None) -> dict:
    return {
        "index": record.index,
        "offset": record.offset,
        "size": record.size,
        "type": record.name,
        "layer_id": record.layer_id,
        "fields": unit_fields(record.unit, hash_over),
    }
