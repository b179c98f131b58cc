"""Which conformance vectors exercise each requirement and syntax element of spec/ptv.md.

The issue this answers: "A report maps every syntax element and every
"shall"/"must" sentence of spec/ptv.md to at least one vector. The runner
fails CI when a requirement has no vector, so the spec and the suite grow
together." The requirements are extracted from the spec text itself, so a
new "shall" sentence is uncovered until `conformance/requirements.json` says
which vectors exercise it, and an entry whose sentence left the spec is stale.

This module matches them and writes the report; the requirements come from
`spec_requirements`, the conditions that cover each from `coverage_map`
(where the rules are written). The spec and the map are files of a ptcodec
checkout, passed by path (the defaults are relative to the working directory,
the checkout's root).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ptcodec.conformance.coverage_map import (
    ELEMENT_MAP,
    Cover,
    MapError,
    element_cover,
    load_map,
    meets,
)
from ptcodec.conformance.spec_requirements import (
    Requirement,
    forbidden_rows,
    requirements,
    syntax_elements,
)
from ptcodec.conformance.vectors import Vector, default_vectors_dir, load_vectors
from ptcodec.errors import InputError, PtcodecError, one_line

DEFAULT_SPEC = Path("spec") / "ptv.md"
DEFAULT_MAP = Path("conformance") / "requirements.json"
"""Where a checkout keeps the spec and the requirement map, relative to its root."""


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
            "(the rules are in the docstring of `ptcodec/conformance/coverage_map.py`).",
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


def check_coverage(vectors_root: str | os.PathLike[str], spec_path: str | os.PathLike[str],
                   map_path: str | os.PathLike[str]) -> CoverageReport:
    """Load the spec, the vectors under `vectors_root` and the map, and compute the report."""
    spec_text = _read(spec_path, "the spec (spec/ptv.md of a ptcodec checkout)")
    map_text = _read(map_path, "the requirement map (conformance/requirements.json)")
    vectors = load_vectors(vectors_root)
    try:
        return coverage(spec_text, vectors, json.loads(map_text))
    except (json.JSONDecodeError, MapError) as error:
        raise InputError(f"{map_path}: not a requirement map: {one_line(error)}") from None


def _read(path: str | os.PathLike[str], what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeError) as error:
        raise InputError(f"{path}: cannot read {what}: {one_line(error)}") from None


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m ptcodec.conformance.coverage [VECTORS_DIR] [--markdown FILE] [--json FILE]`; 1 when not ok."""
    import argparse

    parser = argparse.ArgumentParser(description="Which conformance vectors cover each requirement of spec/ptv.md.")
    parser.add_argument("vectors", nargs="?", help="the vector set (default: the vectors installed with ptcodec)")
    parser.add_argument("--spec", default=str(DEFAULT_SPEC), help=f"the spec (default {DEFAULT_SPEC})")
    parser.add_argument("--map", default=str(DEFAULT_MAP), help=f"the requirement map (default {DEFAULT_MAP})")
    parser.add_argument("--markdown", help="write the report here (conformance/coverage.md)")
    parser.add_argument("--json", help="write the report as JSON here")
    args = parser.parse_args(argv)
    try:
        report = check_coverage(args.vectors or default_vectors_dir(), args.spec, args.map)
    except PtcodecError as error:
        parser.exit(2, f"{parser.prog}: {error}\n")
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
