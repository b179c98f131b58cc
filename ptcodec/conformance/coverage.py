"""Which conformance vectors exercise each requirement and syntax element of spec/ptv.md.

The issue this answers: "A report maps every syntax element and every
"shall"/"must" sentence of spec/ptv.md to at least one vector. The runner
fails CI when a requirement has no vector, so the spec and the suite grow
together." The requirements are extracted from the spec text itself, so a
new "shall" sentence is uncovered until `conformance/requirements.json` says
which vectors exercise it, and an entry whose sentence left the spec is stale.

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

import hashlib
import json
import os
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ptcodec.conformance.vectors import Vector, load_vectors

REPO = Path(__file__).resolve().parents[2]
DEFAULT_SPEC = REPO / "spec" / "ptv.md"
DEFAULT_MAP = REPO / "conformance" / "requirements.json"

Alternatives = list[list[str]]
"""Conditions: the outer list is "any of", each inner list "all of, on one vector"."""
CONDITION_KINDS = ("feature", "rule", "kind", "derived", "imported", "vector", "field")

# -- reading the spec ------------------------------------------------------

HEADING = re.compile(r"^(#{1,6})\s+(.*)$")
SECTION_NUMBER = re.compile(r"^(?:Annex\s+([A-Z])\b|(\d+(?:\.\d+)*|[A-Z]\.\d+(?:\.\d+)*)\.?\s)")
MARK = re.compile(r"^<!--\s*(\w+):\s*(\w+)\s*-->")
LIST_ITEM = re.compile(r"^\s*(?:[-*]|\d+\.)\s+")
RULE_REF = re.compile(r"\bF(\d{1,2})\b")
NORMATIVE_WORD = re.compile(r"\b(shall|must)\b", re.IGNORECASE)
QUOTED = re.compile(r'"[^"]*"')
PRONOUN = re.compile(r"^(It|They|Each|Neither|When it)\b")
ABBREVIATIONS = ("e.g.", "i.e.", "et al.", "etc.", "cf.", "vs.")


@dataclass(frozen=True)
class Requirement:
    id: str
    """Stable: "<section>#<4 hex of the sentence>", or the rule ("F6") for a row of the forbidden-values table."""
    section: str
    text: str
    rules: tuple[str, ...] = ()


def _table_rows(lines: Sequence[str], start: int) -> list[list[str]]:
    """The body rows (cells stripped) of the markdown table at or after line `start`."""
    i = start
    while i < len(lines) and not lines[i].lstrip().startswith("|"):
        i += 1
    rows = []
    while i < len(lines) and lines[i].lstrip().startswith("|"):
        cells = [cell.strip() for cell in lines[i].strip().strip("|").split("|")]
        rows.append(cells)
        i += 1
    return [row for row in rows[2:]]  # drop the header row and the |---| rule


def _marked_tables(spec_text: str, kind: str) -> list[tuple[str, list[list[str]]]]:
    lines = spec_text.splitlines()
    out = []
    for i, line in enumerate(lines):
        match = MARK.match(line.strip())
        if match and match.group(1) == kind:
            out.append((match.group(2), _table_rows(lines, i + 1)))
    return out


def syntax_elements(spec_text: str) -> list[tuple[str, str]]:
    """(table, element) for every row of every `<!-- syntax: NAME -->` table, in spec order."""
    return [(name, row[0].strip("`*")) for name, rows in _marked_tables(spec_text, "syntax") for row in rows]


def forbidden_rows(spec_text: str) -> list[tuple[str, str, str]]:
    """(rule id, forbidden condition, error class) for each row of the section 9 table."""
    return [(row[0], row[1], row[-1]) for _, rows in _marked_tables(spec_text, "forbidden") for row in rows]


def _section_of(title: str) -> str | None:
    match = SECTION_NUMBER.match(title)
    if not match:
        return None
    return match.group(1) or match.group(2)


def _blocks(spec_text: str) -> Iterable[tuple[str, str, int]]:
    """(section, text, line number) of each normative paragraph or list item; tables and code are left out.

    A forbidden-values table is passed through as one block of text "<!-- forbidden -->"
    so that its rows land in document order.
    """
    section: str | None = None
    skip_level = 0  # while inside an informative section: the level of its heading
    in_fence = False
    block: list[str] = []
    block_line = 0

    def flush() -> Iterable[tuple[str, str, int]]:
        if block and section is not None and not skip_level:
            first = block[0]
            if not (first.startswith("    ") and not LIST_ITEM.match(first)):  # indented code
                yield section, " ".join(line.strip() for line in block), block_line
        block.clear()

    for number, line in enumerate(spec_text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("```"):
            yield from flush()
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        heading = HEADING.match(line)
        if heading:
            yield from flush()
            level, title = len(heading.group(1)), heading.group(2)
            if skip_level and level > skip_level:
                continue
            skip_level = level if "informative" in title.lower() else 0
            section = _section_of(title) if level > 1 else None
            continue
        mark = MARK.match(stripped)
        if mark:
            yield from flush()
            if mark.group(1) == "forbidden" and section is not None and not skip_level:
                yield section, "<!-- forbidden -->", number
            continue
        if not stripped or stripped.startswith("|"):
            yield from flush()
            continue
        if LIST_ITEM.match(line):
            yield from flush()
        if not block:
            block_line = number
        block.append(line)
    yield from flush()


def _is_abbreviation(text: str, end: int) -> bool:
    return any(text[: end + 1].endswith(abbreviation) for abbreviation in ABBREVIATIONS)


def split_sentences(text: str) -> list[str]:
    """Sentences of one paragraph: split after . ? ! followed by a space, outside parentheses.

    Ranges ("0 .. n"), decimals ("1.0"), abbreviations ("e.g.") and a full
    stop inside a parenthesis do not end a sentence; "(... .)" as a whole does.
    """
    sentences = []
    depth = 0
    start = 0
    i = 0
    while i < len(text):
        char = text[i]
        if char == "(":
            depth += 1
        elif char == ")":
            depth = max(depth - 1, 0)
        elif char in ".?!" and not (char == "." and ((i > 0 and text[i - 1] == ".") or text[i + 1: i + 2] == ".")):
            end = i + 1
            while end < len(text) and text[end] in ")\"'*":
                if text[end] == ")":
                    depth = max(depth - 1, 0)
                end += 1
            if depth == 0 and (end == len(text) or text[end] == " ") and not _is_abbreviation(text, i):
                sentences.append(text[start:end].strip())
                start = end
            i = end
            continue
        i += 1
    rest = text[start:].strip()
    if rest:
        sentences.append(rest)
    return [s for s in sentences if s]


def normalize(text: str) -> str:
    """One line, single spaces, no bold markers: the form ids are computed from."""
    return " ".join(text.replace("**", "").split())


def _informative(text: str) -> bool:
    """A note, or a paragraph or parenthesis marked informative ("**Seeking** (informative).")."""
    head = text[:60].lower()
    return head.startswith("note") or head.startswith("(") and "informative" in head or bool(
        re.match(r"^(\*\*[^*]+\*\*\s*)?\(informative", text, re.IGNORECASE))


def is_requirement(sentence: str) -> bool:
    """"shall" or "must" as whole words, not quoted ('"shall" states a requirement' is not one)."""
    return bool(NORMATIVE_WORD.search(QUOTED.sub("", sentence)))


def cited_rules(text: str, known: Iterable[str] | None = None) -> tuple[str, ...]:
    """The F rules a sentence cites, in order, without repeats; only rules of the table when `known` is given."""
    known_set = set(known) if known is not None else None
    out: list[str] = []
    for match in RULE_REF.finditer(text):
        rule = f"F{int(match.group(1))}"
        if rule not in out and (known_set is None or rule in known_set):
            out.append(rule)
    return tuple(out)


def _defined_term(paragraph: str) -> tuple[str, list[str]]:
    """The element a paragraph defines ("**noise_rule**: ...", "**width**, **height**: ..."), and its bold terms."""
    if not paragraph.startswith("**"):
        return "", []
    head, colon, _ = paragraph.partition(":")
    if not colon or len(head) > 80 or ". " in head:
        head = paragraph[: paragraph.index("**", 2) + 2]
    return normalize(head), re.findall(r"\*\*([^*]+)\*\*", head)


def _sentence_id(section: str, text: str, taken: set[str]) -> str:
    """4 hex digits of the sentence's SHA-1; 8 on a clash; a count for a sentence repeated in one section."""
    digest = hashlib.sha1(text.encode()).hexdigest()
    for width in (4, 8):
        candidate = f"{section}#{digest[:width]}"
        if candidate not in taken:
            return candidate
    n = 2
    while f"{section}#{digest[:8]}-{n}" in taken:
        n += 1
    return f"{section}#{digest[:8]}-{n}"


def requirements(spec_text: str) -> list[Requirement]:
    """Every normative "shall"/"must" sentence, and every row of the forbidden-values table, in spec order.

    Normative text: sections 1 to 13 and Annex B, less informative sections
    (Annex A, 1.4, 7.4, 12.10), notes, paragraphs and parentheses marked
    informative, code blocks and tables.
    """
    rows = forbidden_rows(spec_text)
    known = [rule for rule, _, _ in rows]
    out: list[Requirement] = []
    taken: set[str] = set()
    for section, text, _ in _blocks(spec_text):
        if text == "<!-- forbidden -->":
            for rule, condition, error_class in rows:
                out.append(Requirement(rule, section, normalize(f"{condition} ({error_class})"), (rule,)))
            continue
        if _informative(text):
            continue
        text = LIST_ITEM.sub("", text, count=1)
        subject, terms = _defined_term(text)
        for sentence in split_sentences(text):
            if _informative(sentence) or not is_requirement(sentence):
                continue
            if subject and (PRONOUN.match(sentence) or
                            not any(re.search(rf"\b{re.escape(term)}\b", sentence) for term in terms)):
                sentence = f"{subject}: {sentence}"  # "It shall be a defined value" says little on its own
            sentence = normalize(sentence)
            requirement_id = _sentence_id(section, sentence, taken)
            taken.add(requirement_id)
            out.append(Requirement(requirement_id, section, sentence, cited_rules(sentence, known)))
    return out


# -- the element map -------------------------------------------------------

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
    """The condition, or ValueError when it names no known kind or is malformed."""
    if not isinstance(condition, str):
        raise ValueError(f"a coverage condition is a string, not {condition!r}")
    kind, sep, value = condition.partition(":")
    if not sep or kind not in CONDITION_KINDS or not value:
        raise ValueError(f"unknown coverage condition {condition!r} (expected one of {', '.join(CONDITION_KINDS)})")
    if kind == "field" and not FIELD_CONDITION.match(value):
        raise ValueError(f"malformed field condition {condition!r} (expected field:TYPE.NAME[KEY=VALUE])")
    if kind == "rule" and not re.fullmatch(r"F\d{1,2}", value):
        raise ValueError(f"malformed rule condition {condition!r}")
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
    raise ValueError(f"unknown coverage condition {condition!r}")


def _alternatives(covered_by: object) -> Alternatives:
    """[["a", "b"], "c"] -> [["a", "b"], ["c"]], every condition checked."""
    if not isinstance(covered_by, list):
        raise ValueError(f"covered_by must be a list of alternatives, not {covered_by!r}")
    out = []
    for alternative in covered_by:
        conditions = [alternative] if isinstance(alternative, str) else alternative
        if not isinstance(conditions, list) or not conditions:
            raise ValueError(f"an alternative is a condition or a non-empty list of them, not {alternative!r}")
        out.append([check_condition(condition) for condition in conditions])
    return out


def load_map(entries: object) -> dict[str, Cover]:
    """requirements.json (a list of {"id", "text", "covered_by", "requires"}) as {id: Cover}.

    An entry needs covered_by, requires, or both. A {id: covered_by} dict is accepted too.
    """
    if isinstance(entries, Mapping):
        return {key: Cover(_alternatives(value)) for key, value in entries.items()}
    if not isinstance(entries, list):
        raise ValueError("the requirement map must be a list of entries")
    out: dict[str, Cover] = {}
    for entry in entries:
        requirement_id = entry["id"]
        if requirement_id in out:
            raise ValueError(f"requirement {requirement_id} is mapped twice")
        if "covered_by" not in entry and not entry.get("requires"):
            raise ValueError(f"requirement {requirement_id}: the entry has neither covered_by nor requires")
        covered_by = _alternatives(entry["covered_by"]) if "covered_by" in entry else None
        requires = tuple(check_condition(condition) for condition in entry.get("requires", []))
        out[requirement_id] = Cover(covered_by, requires)
    return out


# -- the report ------------------------------------------------------------


@dataclass
class Coverage:
    """What covers one requirement or element: the vectors, or why none does."""

    vectors: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def covered(self) -> bool:
        return not self.missing


def _cover(vectors: Sequence[Vector], cover: Cover, rule_classes: Mapping[str, str]) -> Coverage:
    def describe(condition: str) -> str:
        wanted = rule_classes.get(condition[5:]) if condition.startswith("rule:") else None
        return condition + (f" ({wanted})" if wanted else "")

    result = Coverage()
    found: set[str] = set()
    for condition in cover.requires:
        hits = [v.id for v in vectors if meets(v, condition, rule_classes)]
        if not hits:
            result.missing.append(f"no vector has {describe(condition)}")
        found.update(hits)
    if cover.covered_by is not None:
        hits = [v.id for v in vectors
                if any(all(meets(v, c, rule_classes) for c in alternative) for alternative in cover.covered_by)]
        if not hits:
            wanted = " | ".join(" & ".join(alternative) for alternative in cover.covered_by) or "nothing"
            result.missing.append(f"no vector meets {wanted}")
        found.update(hits)
    elif not cover.requires:
        result.missing.append("no entry in requirements.json")
    result.vectors = sorted(found)
    return result


def requirement_cover(requirement: Requirement, entry: Cover | None) -> Cover:
    """The rules a sentence cites are required; its map entry adds alternatives and requirements."""
    rules = tuple(f"rule:{rule}" for rule in requirement.rules)
    if entry is None:
        return Cover(None, rules)
    return Cover(entry.covered_by, rules + tuple(c for c in entry.requires if c not in rules))


@dataclass
class CoverageReport:
    requirements: list[Requirement]
    requirement_coverage: dict[str, Coverage]
    elements: list[tuple[str, str]]
    element_coverage: dict[str, Coverage]
    """Keyed "TABLE.element"."""
    stale: list[str]
    """Map entries whose requirement (or element) is no longer in the spec: the map must follow the spec."""

    @property
    def uncovered(self) -> list[str]:
        """Requirement ids, then "syntax:TABLE.element" keys, that no vector covers."""
        return ([r.id for r in self.requirements if not self.requirement_coverage[r.id].covered]
                + [f"syntax:{key}" for key, cov in self.element_coverage.items() if not cov.covered])

    @property
    def ok(self) -> bool:
        return not self.uncovered and not self.stale

    def summary(self) -> str:
        covered = sum(self.requirement_coverage[r.id].covered for r in self.requirements)
        elements = sum(cov.covered for cov in self.element_coverage.values())
        return (f"{covered} of {len(self.requirements)} requirements and {elements} of {len(self.elements)} "
                f"syntax elements covered; {len(self.stale)} stale map entries")

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "uncovered": self.uncovered,
            "stale": self.stale,
            "requirements": [
                {"id": r.id, "section": r.section, "text": r.text, "rules": list(r.rules),
                 "vectors": self.requirement_coverage[r.id].vectors,
                 "missing": self.requirement_coverage[r.id].missing}
                for r in self.requirements
            ],
            "syntax": [
                {"table": table, "element": element,
                 "vectors": self.element_coverage[f"{table}.{element}"].vectors,
                 "missing": self.element_coverage[f"{table}.{element}"].missing}
                for table, element in self.elements
            ],
        }

    def markdown(self, max_vectors: int = 6) -> str:
        """The report committed as conformance/coverage.md: a summary, then a table per section."""

        def cell(text: str) -> str:
            return text.replace("|", "\\|")

        def vectors_cell(cov: Coverage) -> str:
            if not cov.covered:
                return "**UNCOVERED**: " + cell("; ".join(cov.missing))
            shown = ", ".join(f"`{v}`" for v in cov.vectors[:max_vectors])
            more = len(cov.vectors) - max_vectors
            return shown + (f" and {more} more" if more > 0 else "")

        lines = [
            "# Conformance coverage of spec/ptv.md",
            "",
            "Generated by `python -m ptcodec.conformance.coverage --markdown conformance/coverage.md`; do not edit.",
            "Requirements are the \"shall\"/\"must\" sentences of the normative text and the rows of the",
            "forbidden-values table; `conformance/requirements.json` says which vectors cover each",
            "(the rules are in the docstring of `ptcodec/conformance/coverage.py`).",
            "",
            f"- {self.summary()}",
        ]
        if self.uncovered:
            lines.append(f"- uncovered: {', '.join(self.uncovered)}")
        if self.stale:
            lines.append(f"- stale map entries (no longer in the spec): {', '.join(self.stale)}")
        section = None
        for requirement in self.requirements:
            if requirement.section != section:
                section = requirement.section
                label = f"Annex {section}" if section[0].isalpha() else f"Section {section}"
                lines += ["", f"## {label}", "", "| Requirement | Sentence | Vectors |", "|---|---|---|"]
            lines.append(f"| {requirement.id} | {cell(requirement.text)} | "
                         f"{vectors_cell(self.requirement_coverage[requirement.id])} |")
        table = None
        lines += ["", "## Syntax elements"]
        for table_name, element in self.elements:
            if table_name != table:
                table = table_name
                lines += ["", f"### {table}", "", "| Element | Vectors |", "|---|---|"]
            lines.append(f"| {element} | {vectors_cell(self.element_coverage[f'{table}.{element}'])} |")
        return "\n".join(lines) + "\n"


def coverage(spec_text: str, vectors: Sequence[Vector], requirement_map: object) -> CoverageReport:
    """Match the spec's requirements and syntax elements against the vectors, through the map.

    `requirement_map` is requirements.json as loaded (a list of entries), or {id: covered_by}.
    """
    mapping = load_map(requirement_map)
    rule_classes = {rule: error_class for rule, _, error_class in forbidden_rows(spec_text)}
    found = requirements(spec_text)
    requirement_coverage = {r.id: _cover(vectors, requirement_cover(r, mapping.get(r.id)), rule_classes)
                            for r in found}
    elements = syntax_elements(spec_text)
    element_coverage = {f"{table}.{element}": _cover(vectors, element_cover(table, element), rule_classes)
                        for table, element in elements}
    stale = [key for key in mapping if key not in requirement_coverage]
    stale += [f"syntax:{key}" for key in ELEMENT_MAP if key not in element_coverage]
    return CoverageReport(found, requirement_coverage, elements, element_coverage, stale)


def check_coverage(vectors_root: str | os.PathLike[str], spec_path: str | os.PathLike[str] = DEFAULT_SPEC,
                   map_path: str | os.PathLike[str] = DEFAULT_MAP) -> CoverageReport:
    """Load the spec, the vectors under `vectors_root` and the map, and compute the report."""
    spec_text = Path(spec_path).read_text(encoding="utf-8")
    entries = json.loads(Path(map_path).read_text(encoding="utf-8"))
    return coverage(spec_text, load_vectors(vectors_root), entries)


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ptcodec.conformance.coverage [VECTORS_DIR] [--markdown FILE] [--json FILE]`; 1 when not ok."""
    import argparse

    parser = argparse.ArgumentParser(description="Which conformance vectors cover each requirement of spec/ptv.md.")
    parser.add_argument("vectors", nargs="?", default=str(REPO / "bitstream"))
    parser.add_argument("--spec", default=str(DEFAULT_SPEC))
    parser.add_argument("--map", default=str(DEFAULT_MAP))
    parser.add_argument("--markdown", help="write the report here (conformance/coverage.md)")
    parser.add_argument("--json", help="write the report as JSON here")
    args = parser.parse_args(argv)
    report = check_coverage(args.vectors, args.spec, args.map)
    if args.markdown:
        Path(args.markdown).write_text(report.markdown(), encoding="utf-8")
    if args.json:
        Path(args.json).write_text(json.dumps(report.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    for key in report.uncovered:
        missing = (report.requirement_coverage.get(key) or report.element_coverage[key[len("syntax:"):]]).missing
        print(f"uncovered: {key}: {'; '.join(missing)}", file=sys.stderr)
    for key in report.stale:
        print(f"stale: {key}", file=sys.stderr)
    print(report.summary())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
