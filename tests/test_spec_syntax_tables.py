"""The syntax tables in spec/ptv.md and the construct definitions in
ptcodec.ptv.syntax must say the same thing, element for element."""

from __future__ import annotations

import re
from pathlib import Path

import construct as c
import pytest

from ptcodec.ptv import LEVELS, syntax

SPEC = Path(__file__).resolve().parents[1] / "spec" / "ptv.md"
FORMATS = {"<B": "u8", "<H": "u16", "<L": "u32", "<f": "f32"}


def descriptor(con: c.Construct) -> str:
    """The spec's descriptor for one field's construct."""
    if isinstance(con, syntax.Leb128):
        return "leb128"
    if isinstance(con, c.FormatField):
        return FORMATS[con.fmtstr]
    if isinstance(con, c.BitsInteger):
        return f"bits({con.length})"
    if con is c.Flag:
        return "flag"
    if isinstance(con, c.Checksum):
        return descriptor(con.checksumfield)
    if isinstance(con, c.StringEncoded):
        return "string8"
    if isinstance(con, c.Switch):
        # a switch among byte strings of different lengths is still a byte string
        all_bytes = all(isinstance(case, c.Bytes) for case in con.cases.values())
        return "bytes" if all_bytes else "switch"
    if isinstance(con, c.Bytes) or con is c.GreedyBytes:
        return "bytes"
    if isinstance(con, c.GreedyRange):
        return "repeated"
    if isinstance(con, c.IfThenElse):
        return descriptor(con.thensubcon)
    if hasattr(con, "subcon"):  # Valid, Const, Renamed
        return descriptor(con.subcon)
    raise AssertionError(f"no descriptor for {con!r}")


def rows(con: c.Construct) -> list[tuple[str, str]]:
    """(element, descriptor) for each named field, nested structures flattened."""
    while not isinstance(con, c.Struct):
        con = con.subcon  # BitStruct, RawCopy
    out = []
    for sub in con.subcons:
        if sub.name is None:
            continue  # checks and terminators carry no bits
        inner = sub.subcon
        nested = isinstance(getattr(inner, "subcon", None), c.Struct) and not isinstance(inner, c.GreedyRange)
        if isinstance(inner, c.RawCopy) or nested:
            out += rows(inner)
        else:
            out.append((sub.name, descriptor(inner)))
    return out


def spec_tables() -> dict[str, list[tuple[str, str]]]:
    tables: dict[str, list[tuple[str, str]]] = {}
    for match in re.finditer(r"<!-- syntax: (\w+) -->\n((?:\|.*\n)+)", SPEC.read_text()):
        body = match.group(2).strip().splitlines()[2:]  # skip header and rule lines
        cells = [[cell.strip().strip("`") for cell in line.strip("|").split("|")] for line in body]
        tables[match.group(1)] = [(cells_[0], cells_[1]) for cells_ in cells]
    return tables


NAMES = ["UNIT_HEADER", "UNIT", "SEQUENCE_HEADER", "SCENE_INIT", "QUANT_PARAMS_PER_TENSOR",
         "QUANT_PARAMS_PER_COMPONENT", "KEYFRAME", "METADATA_ENTRY", "METADATA", "PADDING"]


@pytest.mark.parametrize("name", NAMES)
def test_spec_table_matches_the_construct_definition(name):
    tables = spec_tables()
    assert name in tables, f"spec/ptv.md has no syntax table for {name}"
    assert tables[name] == rows(getattr(syntax, name))


def test_every_payload_syntax_is_in_the_spec():
    defined = {name for name in NAMES}
    for kind, struct in syntax.PAYLOADS.items():
        assert any(getattr(syntax, n) is struct for n in defined), kind


def test_levels_table_matches_the_code():
    text = SPEC.read_text()
    block = text[text.index("<!-- levels -->"):]
    lines = [line for line in block.splitlines()[3:] if line.startswith("|")]
    parsed = [[int(x.replace(",", "")) for x in line.strip("|").split("|")] for line in lines]
    expected = [[lv.number, lv.max_picture_size, lv.max_dimension, lv.max_rank, lv.max_tokens, lv.max_embed_dim,
                 lv.max_latent_channels, lv.max_keyframe_rate, lv.max_unit_size] for lv in LEVELS.values()]
    assert parsed == expected
