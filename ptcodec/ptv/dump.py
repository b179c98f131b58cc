"""A JSON-ready dump of every syntax element (for `ptcodec info --json` and the
conformance suite's reference parse dumps). Byte strings become hex; floats
stay exact (a JSON number round-trips every binary32 value)."""

from __future__ import annotations

import dataclasses

from ptcodec.ptv.framing import UnitRecord


def _jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return int(value)  # IntEnum members become plain numbers
    return value


def unit_fields(unit: object) -> dict:
    return {f.name: _jsonable(getattr(unit, f.name)) for f in dataclasses.fields(unit)}  # type: ignore[arg-type]


def record_dict(record: UnitRecord) -> dict:
    return {
        "index": record.index,
        "offset": record.offset,
        "size": record.size,
        "type": record.name,
        "layer_id": record.layer_id,
        "fields": unit_fields(record.unit),
    }
