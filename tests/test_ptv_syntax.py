"""spec/ptv.md and the code must say the same thing.

The syntax tables of the spec (each preceded by `<!-- syntax: NAME -->`) are
compared, row for row, with the construct definitions `ptcodec.ptv.syntax.NAME`:
element names, their order and their descriptors. Adding, removing, renaming,
reordering or retyping a field in syntax.py without changing the spec (or the
reverse) fails here. The same holds for the levels table (`LEVELS`), the
enumerations, and the F numbers that rules.py cites.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import operator
import re
from pathlib import Path

import construct as c
import construct.expr as cexpr
import pytest

from ptcodec import errors
from ptcodec.ptv import LEVELS, levels, rules, syntax

SPEC = Path(__file__).resolve().parents[1] / "spec" / "ptv.md"
COLUMNS = ["Syntax element", "Descriptor", "Condition / size"]
FORMATS = {"<B": "u8", "<H": "u16", "<L": "u32", "<I": "u32", "<f": "f32"}
OPERATORS = {operator.mul: "×", operator.add: "+", operator.sub: "−", operator.floordiv: "÷"}
ASSOCIATIVE = {operator.mul, operator.add}
FLAG, GREEDY_BYTES, PASS = type(c.Flag), type(c.GreedyBytes), type(c.Pass)
"""construct exposes these as singleton instances, not as classes."""
PARAMETER_SCOPES = ("_", "_params")
"""Path prefixes that reach outside the structure: `this._.rank` (the enclosing
structure's rank) and `this._params.tokens` (a sequence header value) are
written `rank` and `tokens` in the spec."""


# -- describing construct objects ------------------------------------------


def named_constructs() -> dict[int, str]:
    """id(construct) -> its variable name in syntax.py (compiled copies excluded)."""
    return {
        id(obj): name
        for name, obj in vars(syntax).items()
        if isinstance(obj, c.Construct) and not isinstance(obj, c.Compiled) and name.isupper()
    }


def render(expr) -> str:
    """A construct `this` expression in the spec's notation: `this._.rank * 4` -> `rank × 4`."""
    if isinstance(expr, bool) or not isinstance(expr, (int, cexpr.Path, cexpr.BinExpr)):
        raise AssertionError(f"cannot write {expr!r} in the spec's notation")
    if isinstance(expr, int):
        return str(expr)
    if isinstance(expr, cexpr.Path):
        fields = []
        node = expr
        while node is not None and getattr(node, "_Path__field", None) is not None:
            fields.append(node._Path__field)
            node = node._Path__parent
        fields.reverse()
        while fields and fields[0] in PARAMETER_SCOPES:
            fields.pop(0)
        return ".".join(fields)
    symbol = OPERATORS.get(expr.op)
    if symbol is None:
        raise AssertionError(f"no spec notation for operator {expr.op!r}")
    lhs, rhs = render(expr.lhs), render(expr.rhs)
    if isinstance(expr.lhs, cexpr.BinExpr) and not (expr.lhs.op is expr.op and expr.op in ASSOCIATIVE):
        lhs = f"({lhs})"
    if isinstance(expr.rhs, cexpr.BinExpr):
        rhs = f"({rhs})"
    return f"{lhs} {symbol} {rhs}"


def descriptor(con: c.Construct, names: dict[int, str]) -> str:
    """The spec's descriptor for the construct of one field."""
    if id(con) in names:
        return names[id(con)]  # a structure with its own table
    if isinstance(con, syntax.Leb128):
        return "leb128"
    if isinstance(con, c.FormatField):
        if con.fmtstr not in FORMATS:
            raise AssertionError(f"no descriptor for format {con.fmtstr!r}")
        return FORMATS[con.fmtstr]
    if isinstance(con, c.BitsInteger):
        if con.signed or con.swapped:
            raise AssertionError("signed or byte-swapped bit fields have no descriptor")
        return f"bits({con.length})"
    if isinstance(con, FLAG):
        return "flag"
    if isinstance(con, c.Checksum):
        return descriptor(con.checksumfield, names)
    if isinstance(con, c.StringEncoded):
        prefixed = con.subcon
        if (
            con.encoding == "ascii"
            and isinstance(prefixed, c.Prefixed)
            and isinstance(prefixed.subcon, GREEDY_BYTES)
            and descriptor(prefixed.lengthfield, names) == "u8"
        ):
            return "string8"
        raise AssertionError(f"no descriptor for string {con!r} ({con.encoding})")
    if isinstance(con, GREEDY_BYTES):
        return "bytes(rest)"
    if isinstance(con, c.Bytes):
        return f"bytes({render(con.length)})"
    if isinstance(con, c.Switch):
        if not isinstance(con.default, PASS):
            raise AssertionError("a switch with a default case has no descriptor")
        seen: list[str] = []
        for key in sorted(con.cases):
            case = descriptor(con.cases[key], names)
            if case not in seen:
                seen.append(case)
        return " / ".join(seen)
    if isinstance(con, c.GreedyRange):
        return f"repeated({descriptor(con.subcon, names)})"
    if isinstance(con, c.IfThenElse):
        if not isinstance(con.elsesubcon, PASS):
            raise AssertionError("an If with an else branch has no descriptor")
        return descriptor(con.thensubcon, names)
    if isinstance(con, (c.Renamed, syntax.Valid, c.Const)):
        return descriptor(con.subcon, names)
    raise AssertionError(f"no descriptor for {con!r}")


def structure(con: c.Construct) -> c.Struct | None:
    """The Struct inside RawCopy / BitStruct (Transformed, Restreamed) / Renamed wrappers, if any."""
    while isinstance(con, (c.Renamed, c.RawCopy, c.Transformed, c.Restreamed)):
        con = con.subcon
    return con if isinstance(con, c.Struct) else None


def code_rows(con: c.Construct, names: dict[int, str]) -> list[tuple[str, str, c.Construct]]:
    """(element, descriptor, construct) per named field, in order.

    Unnamed constructs (Terminated, the payload-size check) carry no bits and
    are not rows. A field holding a structure that has its own table is one row
    naming that table; an anonymous nested structure (the sequence header's
    flags byte, the unit body inside RawCopy) is flattened into its fields.
    """
    struct = structure(con)
    if struct is None:
        raise AssertionError(f"{con!r} is not a structure")
    out = []
    for sub in struct.subcons:
        if sub.name is None:
            continue
        inner = sub.subcon if isinstance(sub, c.Renamed) else sub
        nested = structure(inner)
        if nested is not None and id(inner) not in names and id(nested) not in names:
            out += code_rows(nested, names)
        else:
            out.append((sub.name, descriptor(inner, names), inner))
    return out


# -- reading the spec --------------------------------------------------------


def cells(line: str) -> list[str]:
    return [cell.strip().strip("`").strip() for cell in line.strip().strip("|").split("|")]


def marked_tables(kind: str) -> dict[str, tuple[list[str], list[list[str]]]]:
    """{NAME: (header cells, body rows)} for every table preceded by `<!-- kind: NAME -->`."""
    text = SPEC.read_text(encoding="utf-8")
    tables: dict[str, tuple[list[str], list[list[str]]]] = {}
    for match in re.finditer(rf"<!-- {kind}: (\w+) -->\n((?:\|.*\n?)+)", text):
        name = match.group(1)
        assert name not in tables, f"spec/ptv.md has two `{kind}: {name}` tables"
        lines = match.group(2).strip().splitlines()
        assert len(lines) >= 2 and set(lines[1].replace("|", "").strip()) <= set("-: "), (
            f"`{kind}: {name}` is not followed by a Markdown table"
        )
        tables[name] = (cells(lines[0]), [cells(line) for line in lines[2:]])
    return tables


SYNTAX_NAMES = sorted(set(named_constructs().values()))


# -- tests -------------------------------------------------------------------


def test_the_test_describes_constructs_as_expected():
    names = named_constructs()
    assert render(c.this._.rank * 4) == "rank × 4"
    assert render(c.this._params.tokens * c.this.rank) == "tokens × rank"
    assert render((c.this.a + c.this.b) * 2) == "(a + b) × 2"
    assert descriptor(c.Bytes(c.this.payload_size), names) == "bytes(payload_size)"
    assert descriptor(c.Int16ul, names) == "u16"
    assert descriptor(c.PascalString(c.Int8ul, "ascii"), names) == "string8"
    with pytest.raises(AssertionError):
        descriptor(c.PascalString(c.Int8ul, "utf8"), names)
    with pytest.raises(AssertionError):
        descriptor(c.Int64ul, names)


@pytest.mark.parametrize("name", SYNTAX_NAMES)
def test_spec_table_matches_the_construct_definition(name):
    tables = marked_tables("syntax")
    assert name in tables, f"spec/ptv.md has no `<!-- syntax: {name} -->` table"
    header, body = tables[name]
    assert header == COLUMNS, f"{name}: columns should be {COLUMNS}"
    assert all(len(row) == 3 for row in body), f"{name}: every row needs three cells"
    expected = code_rows(getattr(syntax, name), named_constructs())
    spec_rows = [(row[0], row[1]) for row in body]
    assert spec_rows == [(element, desc) for element, desc, _ in expected], (
        f"syntax table {name} in spec/ptv.md disagrees with ptcodec/ptv/syntax.py"
    )
    # The condition column, loosely: conditional fields say when they are present,
    # and a switch names the element that selects its case.
    for row, (_, _, con) in zip(body, expected, strict=True):
        inner = con.subcon if isinstance(con, c.Renamed) else con
        if isinstance(inner, c.IfThenElse):
            assert "present" in row[2], f"{name}.{row[0]}: say when the element is present"
        if isinstance(inner, c.Switch):
            assert render(inner.keyfunc) in row[2], f"{name}.{row[0]}: name the element that selects the case"


def test_every_structure_of_the_format_has_a_table():
    tables = marked_tables("syntax")
    names = named_constructs()
    required = {"UNIT_HEADER", "UNIT"} | {names[id(struct)] for struct in syntax.PAYLOADS.values()}
    assert required <= set(tables), f"tables missing for {sorted(required - set(tables))}"
    unknown = set(tables) - set(SYNTAX_NAMES)
    assert not unknown, f"spec/ptv.md has syntax tables for names syntax.py does not define: {sorted(unknown)}"


def test_levels_table_matches_the_code():
    tables = marked_tables("levels")
    assert "LEVELS" in tables, "spec/ptv.md has no `<!-- levels: LEVELS -->` table"
    header, body = tables["LEVELS"]
    fields = [f.name for f in dataclasses.fields(levels.Level)]
    assert header == ["level", *fields[1:]], "levels table columns should be the Level fields, in order"
    parsed = [[int(cell.replace(",", "")) for cell in row] for row in body]
    expected = [[getattr(level, f) for f in fields] for level in LEVELS.values()]
    assert parsed == expected


@pytest.mark.parametrize(
    "enum_type",
    [syntax.UnitType, syntax.LatentDtype, syntax.QuantScheme, syntax.NoiseRule, syntax.PrevLatentRule, syntax.InterpRule],
)
def test_enumeration_tables_match_the_code(enum_type: type[enum.IntEnum]):
    tables = marked_tables("enum")
    assert enum_type.__name__ in tables, f"spec/ptv.md has no `<!-- enum: {enum_type.__name__} -->` table"
    _, body = tables[enum_type.__name__]
    defined = {int(row[0]): row[1] for row in body if row[1] != "reserved"}
    assert defined == {int(m): m.name for m in enum_type}


def test_latent_sample_sizes_match_the_code():
    _, body = marked_tables("enum")["LatentDtype"]
    sizes = {int(row[0]): int(row[2]) for row in body if row[1] != "reserved" and row[2]}  # u8 dtypes: no fixed size
    assert sizes == {int(k): v for k, v in syntax.LATENT_DTYPE_SIZE.items()}


def test_constants_match_the_code():
    text = " ".join(SPEC.read_text(encoding="utf-8").split())
    assert " ".join(f"{b:02X}" for b in syntax.MAGIC) in text
    assert f"version {syntax.VERSION_MAJOR}.{syntax.VERSION_MINOR}" in text
    assert f"{syntax.MAX_SEQUENCE_HEADER_SIZE:,} bytes" in text
    assert f"at most {syntax.LEB128_MAX_BYTES} bytes" in text
    assert syntax.LEB128_MAX_VALUE == 2**32 - 1 and "2^32 − 1" in text


def forbidden_values() -> dict[str, str]:
    """{F id: error class} from the spec's table of forbidden values."""
    tables = marked_tables("forbidden")
    assert "FORBIDDEN_VALUES" in tables, "spec/ptv.md has no `<!-- forbidden: FORBIDDEN_VALUES -->` table"
    header, body = tables["FORBIDDEN_VALUES"]
    assert header[0] == "ID" and header[-1] == "Error class"
    return {row[0]: row[-1] for row in body}


def test_forbidden_values_are_numbered_in_order_with_real_error_classes():
    table = forbidden_values()
    assert list(table) == [f"F{i}" for i in range(1, len(table) + 1)]
    for rule, name in table.items():
        cls = getattr(errors, name, None)
        assert isinstance(cls, type) and issubclass(cls, errors.PtvError), f"{rule}: {name} is not a PtvError class"


def test_every_f_number_the_rules_cite_is_in_the_spec():
    tree = ast.parse(Path(rules.__file__).read_text(encoding="utf-8"))
    cited = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)):
            doc = ast.get_docstring(node) or ""
            for first, last in re.findall(r"\bF(\d+)(?:\s+to\s+F(\d+))?\b", doc):
                cited.update(range(int(first), int(last or first) + 1))
    assert cited, "rules.py cites no F numbers"
    missing = {f"F{n}" for n in cited} - set(forbidden_values())
    assert not missing, f"rules.py cites {sorted(missing)}, which spec/ptv.md does not define"
