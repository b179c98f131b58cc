"""The requirement map (conformance/requirements.json): the conditions that cover a requirement.

How a requirement is covered:

- A condition is a string tested against ONE vector:
  `feature:NAME` (NAME is among the vector's `features`), `rule:Fn` (a faulty
  vector whose expect.rule is Fn and whose error class is the one section 9
  gives for Fn), `kind:K` (valid, faulty, mkv), `derived:D` (test.json
  "derived" is D, e.g. truncate), `imported:I` (test.json "imported" is I),
  `vector:KIND/NAME`, or `field:TYPE.NAME[KEY=VALUE]` (the vector's parse dump
  has a unit of type TYPE with field NAME, and field KEY equal to VALUE when
  given).
- A map entry is {"id", "text" (for humans), "covered_by", "requires"}.
  `covered_by` is a list of alternatives, each a list of conditions (a bare
  string is a one-condition alternative): it is met when ONE vector meets
  every condition of SOME alternative. `requires` is a list of conditions
  that must EACH be met by some vector (different vectors allowed).
- A requirement is covered when every F rule its sentence cites is met
  (`rule:Fn` is implicitly in `requires`), every condition of its entry's
  `requires` is met, and its entry's `covered_by`, when given, is met. A
  sentence that cites no rule needs an entry; an entry whose id the spec no
  longer yields is stale, which fails the check as an uncovered one does.

Syntax elements follow the same model: by default an element is covered by a
valid vector whose parse dump carries it as a field of a unit of its table's
type; `ELEMENT_MAP` names the conditions for elements the parser does not store
under their own name (framing, reserved bits, per-component arrays...).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from ptcodec.conformance.vectors import Vector


class MapError(ValueError):
    """requirements.json (or a condition in it) is malformed."""


Alternatives = list[list[str]]
"""Conditions: the outer list is "any of", each inner list "all of, on one vector"."""
CONDITION_KINDS = ("feature", "rule", "kind", "derived", "imported", "vector", "field")

TABLE_UNITS: dict[str, str] = {
    "SEQUENCE_HEADER": "sequence_header",
    "SCENE_INIT": "scene_init",
    "KEYFRAME": "keyframe",
    "QUANT_PARAMS_PER_TENSOR": "keyframe[quant_scheme=0]",
    "QUANT_PARAMS_PER_COMPONENT": "keyframe[quant_scheme=1]",
    "METADATA": "metadata",
    "PADDING": "padding",
}
"""The unit type (as parse dumps name it) whose fields hold a table's elements, and the filter that selects it."""


@dataclass(frozen=True)
class Cover:
    """How a requirement or element is covered: some alternative met by one vector, each `requires` by some vector."""

    covered_by: Alternatives | None = None
    requires: tuple[str, ...] = ()


ELEMENT_MAP: dict[str, Cover] = {
    # Framing: every unit has these; the parser checks or consumes them without keeping a field.
    "UNIT_HEADER.forbidden_bit": Cover([["kind:valid"]], ("rule:F3",)),
    "UNIT_HEADER.unit_type": Cover([["kind:valid"]]),
    "UNIT_HEADER.extension_flag": Cover([["feature:unit.layer_id"]]),
    "UNIT_HEADER.reserved_zero_2bits": Cover([["kind:valid"]], ("rule:F3",)),
    "UNIT.header": Cover([["kind:valid"]]),
    "UNIT.layer_id": Cover([["feature:unit.layer_id"]]),
    "UNIT.payload_size": Cover([["kind:valid"]]),
    "UNIT.payload": Cover([["kind:valid"]]),
    "UNIT.crc": Cover([["feature:header.crc_present=1"]], ("rule:F6",)),
    # The flags byte's reserved bits are checked, not stored; extension_data is always a field, maybe empty.
    "SEQUENCE_HEADER.reserved_zero_7bits": Cover([["kind:valid"]], ("rule:F3",)),
    "SEQUENCE_HEADER.extension_data": Cover([["feature:header.extension_data"]]),
    # quant_params is a choice of structure: both schemes exercise it.
    "KEYFRAME.quant_params": Cover(requires=("feature:keyframe.quant_scheme=0", "feature:keyframe.quant_scheme=1")),
    # Scheme 1's arrays are stored under the scheme-0 names, one value per rank component.
    "QUANT_PARAMS_PER_COMPONENT.u_scales": Cover([["field:keyframe.u_scale[quant_scheme=1]"]]),
    "QUANT_PARAMS_PER_COMPONENT.u_zero_points": Cover([["field:keyframe.u_zero_point[quant_scheme=1]"]]),
    "QUANT_PARAMS_PER_COMPONENT.v_scales": Cover([["field:keyframe.v_scale[quant_scheme=1]"]]),
    "QUANT_PARAMS_PER_COMPONENT.v_zero_points": Cover([["field:keyframe.v_zero_point[quant_scheme=1]"]]),
    # Version 1.1. A coded keyframe's elements are covered by both coded schemes; its coding byte's flags
    # by each coding (intra, predicted, carried models), its reserved bits by their faulty vector.
    **{f"CODED_KEYFRAME.{name}": Cover(requires=(f"field:keyframe.{name}[quant_scheme=2]",
                                                 f"field:keyframe.{name}[quant_scheme=3]"))
       for name in ("frame_index", "rank", "quant_scheme", "coded_factors")},
    "CODED_KEYFRAME.quant_params": Cover(requires=("feature:keyframe.quant_scheme=2",
                                                   "feature:keyframe.quant_scheme=3")),
    "CODED_KEYFRAME.reserved_zero_6bits": Cover([["feature:keyframe.quant_scheme=3"]], ("rule:F3",)),
    "CODED_KEYFRAME.predicted": Cover(requires=("feature:keyframe.coding=intra", "feature:keyframe.coding=predicted",
                                                "feature:keyframe.coding=predicted+carry_models")),
    "CODED_KEYFRAME.carry_models": Cover(requires=("feature:keyframe.coding=intra",
                                                   "feature:keyframe.coding=carry_models",
                                                   "feature:keyframe.coding=predicted+carry_models")),
    # A u8 latent's parameters are the first bytes of its data (dtypes 3 and 4).
    "LATENT_U8_PARAMS.scales": Cover(requires=("feature:scene_init.dtype=3", "feature:scene_init.dtype=4")),
    "LATENT_U8_PARAMS.zero_points": Cover(requires=("feature:scene_init.dtype=3", "feature:scene_init.dtype=4")),
    # Metadata entries are stored as (key, value) pairs; padding as its size.
    "METADATA_ENTRY.key": Cover([["feature:metadata.entries>0"]]),
    "METADATA_ENTRY.value_size": Cover([["feature:metadata.entries>0"]]),
    "METADATA_ENTRY.value": Cover([["feature:metadata.entries>0"]]),
    "PADDING.padding": Cover([["feature:padding.nonempty"]]),
}
"""Conditions for the syntax elements that a parse dump does not carry as a field of their own name."""


def element_cover(table: str, element: str) -> Cover:
    """The explicit mapping, else: a vector whose parse dump has the element as a field of its table's unit."""
    explicit = ELEMENT_MAP.get(f"{table}.{element}")
    if explicit is not None:
        return explicit
    unit = TABLE_UNITS.get(table)
    if unit is None:
        return Cover([])  # a new table with no unit type and no mapping: uncovered until mapped
    base, _, selector = unit.partition("[")
    return Cover([[f"field:{base}.{element}" + (f"[{selector}" if selector else "")]])


# -- conditions ------------------------------------------------------------

FIELD_CONDITION = re.compile(r"^(\w+)\.(\w+)(?:\[(\w+)=([^\]]+)\])?$")


def check_condition(condition: object) -> str:
    """The condition, or MapError when it names no known kind or is malformed."""
    if not isinstance(condition, str):
        raise MapError(f"a coverage condition is a string, not {condition!r}")
    kind, sep, value = condition.partition(":")
    if not sep or kind not in CONDITION_KINDS or not value:
        raise MapError(f"unknown coverage condition {condition!r} (expected one of {', '.join(CONDITION_KINDS)})")
    if kind == "field" and not FIELD_CONDITION.match(value):
        raise MapError(f"malformed field condition {condition!r} (expected field:TYPE.NAME[KEY=VALUE])")
    if kind == "rule" and not re.fullmatch(r"F\d{1,2}", value):
        raise MapError(f"malformed rule condition {condition!r}")
    return condition


def _field_matches(vector: Vector, value: str) -> bool:
    unit_type, name, key, wanted = FIELD_CONDITION.match(value).groups()  # type: ignore[union-attr]
    for unit in vector.test.get("parse", {}).get("units", []):
        fields = unit.get("fields", {})
        if unit.get("type") == unit_type and name in fields and (key is None or str(fields.get(key)) == wanted):
            return True
    return False


def meets(vector: Vector, condition: str, rule_classes: Mapping[str, str] | None = None) -> bool:
    """Whether one vector meets one condition (see the module docstring)."""
    kind, _, value = condition.partition(":")
    test = vector.test
    if kind == "feature":
        return value in test.get("features", [])
    if kind == "rule":
        expect = test.get("expect", {})
        if vector.kind != "faulty" or expect.get("rule") != value:
            return False
        wanted = (rule_classes or {}).get(value)
        return wanted is None or expect.get("error_class") == wanted
    if kind == "kind":
        return vector.kind == value
    if kind in ("derived", "imported"):
        return test.get(kind) == value
    if kind == "vector":
        return vector.id == value
    if kind == "field":
        return _field_matches(vector, value)
    raise MapError(f"unknown coverage condition {condition!r}")


def _alternatives(covered_by: object) -> Alternatives:
    """[["a", "b"], "c"] -> [["a", "b"], ["c"]], every condition checked."""
    if not isinstance(covered_by, list):
        raise MapError(f"covered_by must be a list of alternatives, not {covered_by!r}")
    out = []
    for alternative in covered_by:
        conditions = [alternative] if isinstance(alternative, str) else alternative
        if not isinstance(conditions, list) or not conditions:
            raise MapError(f"an alternative is a condition or a non-empty list of them, not {alternative!r}")
        out.append([check_condition(condition) for condition in conditions])
    return out


def load_map(entries: object) -> dict[str, Cover]:
    """requirements.json (a list of {"id", "text", "covered_by", "requires"}) as {id: Cover}.

    An entry needs covered_by, requires, or both. A {id: covered_by} dict is accepted too.
    """
    if isinstance(entries, Mapping):
        return {key: Cover(_alternatives(value)) for key, value in entries.items()}
    if not isinstance(entries, list):
        raise MapError("the requirement map must be a list of entries")
    out: dict[str, Cover] = {}
    for entry in entries:
        if not isinstance(entry, Mapping) or "id" not in entry:
            raise MapError(f"an entry is an object with an id, not {entry!r}")
        requirement_id = entry["id"]
        if requirement_id in out:
            raise MapError(f"requirement {requirement_id} is mapped twice")
        if "covered_by" not in entry and not entry.get("requires"):
            raise MapError(f"requirement {requirement_id}: the entry has neither covered_by nor requires")
        covered_by = _alternatives(entry["covered_by"]) if "covered_by" in entry else None
        requires = tuple(check_condition(condition) for condition in entry.get("requires", []))
        out[requirement_id] = Cover(covered_by, requires)
    return out
