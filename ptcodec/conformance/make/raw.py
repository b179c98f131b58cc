"""Unit bytes from parts, with any value: how the vector maker writes what ptcodec's writer refuses.

A faulty vector breaks one rule and keeps everything else as a valid stream has
it. Its payloads are built with the construct definitions of `ptcodec.ptv.syntax`
with their checks taken out (`unchecked`), so a forbidden value lands where the
spec puts its field, and a change to the syntax changes the faulty vectors with
it. Valid vectors use the framing here too, for what a writer does not offer (a
layer_id on the sequence header).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping

import construct as c

from ptcodec.ptv import MAGIC, Keyframe, SequenceHeader, Unit, read_all, serialize, syntax
from ptcodec.ptv.syntax import UnitType, crc32c
from ptcodec.ptv.units import encode_payload, parse_params, syntax_values, unit_type_of


def unchecked(con: c.Construct, cases: Mapping[str, int] | None = None) -> c.Construct:
    """A build-only copy of a definition with its checks taken out.

    Value checks (`syntax.Valid`) are dropped; constants (reserved and forbidden
    bits) become fields that default to the constant; a Switch field named in
    `cases` always builds that case, so its selector may say anything while the
    field keeps a real layout.
    """
    cases = cases or {}
    if isinstance(con, syntax.Valid):
        return unchecked(con.subcon, cases)
    if isinstance(con, c.Const):
        return c.Default(unchecked(con.subcon, cases), con.value)
    if isinstance(con, c.Struct):
        return c.Struct(*[_unchecked_field(sub, cases) for sub in con.subcons])
    if isinstance(con, c.Subconstruct):  # a name, a bit-level wrapper, a string encoding...
        out = copy.copy(con)
        out.subcon = unchecked(con.subcon, cases)
        return out
    return con


def _unchecked_field(sub: c.Construct, cases: Mapping[str, int]) -> c.Construct:
    if sub.name in cases and _switch(sub) is not None:
        return sub.name / unchecked(sub.subcon.cases[cases[sub.name]], cases)
    return unchecked(sub, cases)


def _switch(sub: c.Construct) -> c.Switch | None:
    """The Switch a named field holds, if it holds one."""
    inner = sub.subcon if isinstance(sub, c.Renamed) else None
    return inner if isinstance(inner, c.Switch) else None


def payload(unit: Unit, header: SequenceHeader | None, **override) -> bytes:
    """A unit's payload with elements set to any value, by name (`reserved_zero_7bits=1`, `rank=17`,
    a coded keyframe's `predicted=True` or `coded_factors=...`);
    every other byte is what `encode_payload` writes. A switched layout (quant_params, the latent data)
    stays the unit's own whatever its selector is set to."""
    coded = isinstance(unit, Keyframe) and unit.coded
    definition = syntax.CODED_KEYFRAME if coded else syntax.PAYLOADS[UnitType(unit_type_of(unit))]
    values = syntax_values(unit)
    cases = {sub.name: switch.keyfunc(values) for sub in definition.subcons if (switch := _switch(sub)) is not None}
    struct = unchecked(definition, cases)
    paths = {path[-1]: path for path in syntax.stored_fields(struct)}
    for name, value in override.items():
        if name not in paths:
            raise KeyError(f"{type(unit).__name__} has no syntax element {name}")
        slot = values
        for key in paths[name][:-1]:
            slot = slot[key]
        slot[name] = value
    return struct.build(values, **parse_params(unit if isinstance(unit, SequenceHeader) else header))


_HEADER = unchecked(syntax.UNIT_HEADER)
_LAYER_ID = syntax.UNIT.body.subcon.subcon.layer_id.subcon.thensubcon
"""The layer_id field of the unit syntax (inside RawCopy and its If)."""
_CRC = syntax.UNIT.crc.subcon.thensubcon.checksumfield
"""The crc field of the unit syntax, as a plain value (inside its If and Checksum)."""


def frame_unit(unit_type: int, data: bytes, *, crc: bool, layer_id: int | None = None,
               size_field: bytes | None = None, crc_xor: int = 0, **header_bits: int) -> bytes:
    """One unit around a payload; the keyword arguments let a faulty vector break exactly one thing:
    a unit-header bit (`forbidden_bit=1`), the bytes of payload_size, or the crc (xored)."""
    body = _HEADER.build({"unit_type": unit_type, "extension_flag": layer_id is not None, **header_bits})
    if layer_id is not None:
        body += _LAYER_ID.build(layer_id)
    body += size_field if size_field is not None else syntax.Leb128().build(len(data))
    body += data
    if crc or unit_type == UnitType.SEQUENCE_HEADER:
        body += _CRC.build(crc32c(body) ^ crc_xor)
    return body


def unit_bytes(unit: Unit, header: SequenceHeader, layer_id: int | None = None) -> bytes:
    """A valid unit as the writer frames it (with a layer_id when given)."""
    return frame_unit(unit_type_of(unit), encode_payload(unit, header), crc=header.crc_present, layer_id=layer_id)


def stream_with_header_layer(header: SequenceHeader, units: list, *, header_layer: int | None = None) -> bytes:
    """A valid stream; (unit, layer_id) pairs give units a layer_id. `serialize` checks every rule."""
    data = serialize(header, units)
    if header_layer is None:
        return data
    _, records = read_all(data)
    rest = data[records[1].offset:] if len(records) > 1 else b""
    return MAGIC + frame_unit(UnitType.SEQUENCE_HEADER, encode_payload(header, None), crc=True,
                              layer_id=header_layer) + rest
