"""The coverage report: every "shall" of spec/ptv.md, every F rule and every syntax element maps to vectors.

These tests use synthetic `Vector` objects (no files, no torch): the point is
the extraction of requirements from the spec and the coverage rules, and the
check that conformance/requirements.json follows the spec.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ptcodec.conformance.coverage import DEFAULT_MAP, DEFAULT_SPEC, check_coverage, coverage
from ptcodec.conformance.coverage_map import load_map
from ptcodec.conformance.spec_requirements import requirements, split_sentences, syntax_elements
from ptcodec.conformance.vectors import Vector, default_vectors_dir

ROOT = Path(__file__).resolve().parents[1]
SPEC_TEXT = (ROOT / DEFAULT_SPEC).read_text(encoding="utf-8")
MAP = json.loads((ROOT / DEFAULT_MAP).read_text(encoding="utf-8"))

MINI_SPEC = """# A spec

Preamble: a stream shall not be read here (no section).

## 1. Scope

The key words "shall" and "must" are to be read as follows.

## 4. Framing

### 4.2 Semantics

**layer_id** labels the unit. A rewriter shall preserve layer_id. Any unit may carry one.

**level**: the level. It shall be a level of the table (F10).

Note (informative): an encoder shall do nothing here.

**Seeking** (informative). A decoder shall seek.

```
code shall not count
```

| Element | Meaning |
|---|---|
| x | shall be 0 |

<!-- forbidden: FORBIDDEN_VALUES -->
| ID | Forbidden condition | Detected in | Error class |
|---|---|---|---|
| F6 | a crc does not match | framing | CrcMismatchError |
| F10 | level is unknown | sequence header | InvalidValueError |

<!-- syntax: UNIT -->
| Syntax element | Descriptor | Condition / size |
|---|---|---|
| layer_id | u8 | present when extension_flag is 1 |

### 4.3 Informative things (informative)

An implementation shall ignore this.

## Annex A (informative): files

A tool must not count here.

## Annex B: Matroska mapping

### B.1 Track

A reader shall look for the track.
"""


def vector(kind: str, name: str, **test: object) -> Vector:
    test.setdefault("expect", {"outcome": "decode" if kind != "faulty" else "reject"})
    return Vector(kind, name, Path("/nonexistent") / kind / name, {"kind": kind, "name": name, **test})


def faulty(name: str, rule: str, error_class: str) -> Vector:
    return vector("faulty", name, expect={"outcome": "reject", "error_class": error_class, "rule": rule})


def by_text(found, fragment: str):
    matches = [r for r in found if fragment in r.text]
    assert len(matches) == 1, (fragment, [r.text for r in matches])
    return matches[0]


# -- extraction --------------------------------------------------------------


def test_every_forbidden_row_is_a_requirement():
    found = {r.id: r for r in requirements(SPEC_TEXT)}
    for n in range(1, 33):
        assert found[f"F{n}"].rules == (f"F{n}",)
        assert found[f"F{n}"].section == "9"
    assert "CrcMismatchError" in found["F6"].text


def test_known_sentences_are_extracted():
    found = requirements(SPEC_TEXT)
    layer = by_text(found, "A rewriter shall preserve layer_id.")
    assert layer.section == "4.2" and layer.text == "A rewriter shall preserve layer_id." and layer.rules == ()
    assert layer.id.startswith("4.2#")
    version = by_text(found, "A decoder shall reject a stream whose version_major it does not implement")
    assert version.section == "5.3" and version.rules == ("F8",)
    assert version.text.endswith("before it interprets any later element.")
    reserved = by_text(found, "A decoder shall skip a unit of a reserved type by its payload_size")
    assert reserved.section == "4.5" and reserved.rules == ("F5", "F6")
    leb = by_text(found, "A `leb128` value shall occupy at most 8 bytes")
    assert leb.text.endswith("shall not exceed 2^32 − 1 (F4).")  # one sentence through the "(a value ...)" aside
    mkv = by_text(found, "readers shall take the random access flag from the payload")
    assert mkv.section == "B.2"


def test_sentences_about_an_element_name_it():
    found = requirements(SPEC_TEXT)
    assert by_text(found, "noise_rule: It shall be a defined value (F15).").section == "5.2"
    assert by_text(found, "dtype: It shall be a defined value (F15).").section == "6.2"


def test_ids_are_unique_and_stable_under_rewrapping():
    found = requirements(SPEC_TEXT)
    assert len({r.id for r in found}) == len(found)
    rewrapped = SPEC_TEXT.replace("absent. A rewriter shall preserve layer_id. Any unit, the sequence header",
                                  "absent.\nA rewriter   shall preserve\nlayer_id. Any unit, the sequence header")
    assert rewrapped != SPEC_TEXT
    assert [r.id for r in requirements(rewrapped)] == [r.id for r in found]


def test_informative_text_yields_no_requirement():
    found = requirements(MINI_SPEC)
    assert [r.text for r in found] == [
        "A rewriter shall preserve layer_id.",
        "level: It shall be a level of the table (F10).",
        "a crc does not match (CrcMismatchError)",
        "level is unknown (InvalidValueError)",
        "A reader shall look for the track.",
    ]
    assert [r.id for r in found][2:4] == ["F6", "F10"]
    assert found[1].rules == ("F10",)
    assert found[-1].section == "B.1"
    real = requirements(SPEC_TEXT)
    assert not [r for r in real if r.section.startswith("A") or r.section in ("1.4", "7.4", "12.10")]
    assert not [r for r in real if "informative" in r.text.lower() or r.text.startswith("Note")]
    assert not [r for r in real if r.text.startswith("The key words")]


def test_sentence_splitting():
    assert split_sentences("A shall be 1.0 exactly, e.g. here. It shall not exceed 2^32 − 1. Next one.") == [
        "A shall be 1.0 exactly, e.g. here.", "It shall not exceed 2^32 − 1.", "Next one."]
    assert split_sentences("Frames 0 .. n − 1 shall exist (see x. y). (An aside.) last") == [
        "Frames 0 .. n − 1 shall exist (see x. y).", "(An aside.)", "last"]


def test_syntax_elements():
    elements = syntax_elements(SPEC_TEXT)
    assert elements[:2] == [("UNIT_HEADER", "forbidden_bit"), ("UNIT_HEADER", "unit_type")]
    assert ("QUANT_PARAMS_PER_COMPONENT", "u_scales") in elements
    assert ("METADATA_ENTRY", "value_size") in elements and ("PADDING", "padding") in elements
    assert len(elements) == len(set(elements))
    assert syntax_elements(MINI_SPEC) == [("UNIT", "layer_id")]


# -- the map follows the spec ------------------------------------------------


def test_every_requirement_of_the_spec_has_an_entry_or_cites_a_rule():
    """The spec and the suite grow together: a new "shall" needs a line in requirements.json."""
    report = coverage(SPEC_TEXT, [], MAP)
    assert report.stale == []
    no_entry = [r.id for r in report.requirements if "no entry in requirements.json" in
                report.requirement_coverage[r.id].missing]
    assert no_entry == [], f"add these to conformance/requirements.json: {no_entry}"
    for entry in MAP:  # the text is for humans, but it should still be the sentence's
        requirement = next(r for r in report.requirements if r.id == entry["id"])
        assert requirement.text.startswith(entry["text"].removesuffix("...")), entry["id"]


def test_a_new_shall_sentence_is_uncovered():
    grown = SPEC_TEXT.replace("A rewriter shall preserve layer_id.",
                              "A rewriter shall preserve layer_id. A muxer shall keep every layer.")
    report = coverage(grown, [], MAP)
    new = by_text(report.requirements, "A muxer shall keep every layer.")
    assert new.id in report.uncovered
    assert report.requirement_coverage[new.id].missing == ["no entry in requirements.json"]
    assert not report.ok


def test_an_entry_for_a_removed_sentence_is_stale():
    layer_id = by_text(requirements(SPEC_TEXT), "A rewriter shall preserve layer_id.").id
    shrunk = SPEC_TEXT.replace("A rewriter shall preserve layer_id.", "")
    report = coverage(shrunk, [], MAP)
    assert report.stale == [layer_id]
    assert not report.ok


# -- coverage rules ----------------------------------------------------------


def mini_map(covered_by):
    layer_id = by_text(requirements(MINI_SPEC), "A rewriter shall preserve layer_id.").id
    return layer_id, [{"id": layer_id, "text": "A rewriter shall preserve layer_id.", "covered_by": covered_by}]


def test_a_feature_requirement_is_covered_only_by_a_vector_with_the_feature():
    layer_id, entries = mini_map([["feature:unit.layer_id"]])
    plain = vector("valid", "basic", features=["header.crc_present=0"])
    report = coverage(MINI_SPEC, [plain], entries)
    assert layer_id in report.uncovered
    assert report.requirement_coverage[layer_id].vectors == []
    layered = vector("valid", "layers", features=["header.crc_present=0", "unit.layer_id"])
    report = coverage(MINI_SPEC, [plain, layered], entries)
    assert layer_id not in report.uncovered
    assert report.requirement_coverage[layer_id].vectors == ["valid/layers"]


def test_an_alternative_needs_one_vector_meeting_all_its_conditions():
    layer_id, entries = mini_map([["derived:truncate", "feature:unit.layer_id"], ["vector:mkv/special"]])
    truncated = vector("valid", "cut", derived="truncate", features=[])
    layered = vector("valid", "layers", features=["unit.layer_id"])
    assert layer_id in coverage(MINI_SPEC, [truncated, layered], entries).uncovered
    both = vector("valid", "cut_layers", derived="truncate", features=["unit.layer_id"])
    assert coverage(MINI_SPEC, [truncated, both], entries).requirement_coverage[layer_id].vectors == [
        "valid/cut_layers"]
    special = vector("mkv", "special", source="valid/cut", features=[])
    assert coverage(MINI_SPEC, [special], entries).requirement_coverage[layer_id].covered


def test_requires_needs_each_condition_met_by_some_vector():
    layer_id = by_text(requirements(MINI_SPEC), "A rewriter shall preserve layer_id.").id
    entries = [{"id": layer_id, "text": "", "requires": ["feature:a", "kind:mkv"]}]
    a = vector("valid", "a", features=["a"])
    report = coverage(MINI_SPEC, [a], entries)
    assert report.requirement_coverage[layer_id].missing == ["no vector has kind:mkv"]
    report = coverage(MINI_SPEC, [a, vector("mkv", "m", source="valid/a", features=[])], entries)
    assert report.requirement_coverage[layer_id].vectors == ["mkv/m", "valid/a"]


def test_a_rule_requirement_needs_a_faulty_vector_of_that_rule_and_its_error_class():
    _, entries = mini_map([["kind:valid"]])
    valid = vector("valid", "basic", features=[])
    report = coverage(MINI_SPEC, [valid, faulty("crc", "F6", "CrcMismatchError")], entries)
    assert "F10" in report.uncovered and "F6" not in report.uncovered
    level = by_text(report.requirements, "It shall be a level of the table (F10).").id
    assert level in report.uncovered  # cites F10, which no faulty vector breaks
    assert report.requirement_coverage[level].missing == ["no vector has rule:F10 (InvalidValueError)"]
    wrong_class = faulty("level_wrong", "F10", "LimitExceededError")
    assert "F10" in coverage(MINI_SPEC, [valid, wrong_class], entries).uncovered
    report = coverage(MINI_SPEC, [valid, faulty("level", "F10", "InvalidValueError")], entries)
    assert "F10" not in report.uncovered and level not in report.uncovered
    assert report.requirement_coverage[level].vectors == ["faulty/level"]


def test_syntax_elements_are_covered_through_parse_dumps_and_the_element_map():
    report = coverage(MINI_SPEC, [vector("valid", "basic", features=[])], mini_map(["kind:valid"])[1])
    assert report.uncovered[-1] == "syntax:UNIT.layer_id"  # the only element; it needs feature:unit.layer_id
    keyframe = {"type": "keyframe", "layer_id": None,
                "fields": {"frame_index": 0, "rank": 2, "quant_scheme": 1, "u_scale": [0.5, 0.25]}}
    dumped = vector("valid", "pc", features=["unit.layer_id"], parse={"units": [keyframe]})
    report = coverage(SPEC_TEXT, [dumped], MAP)
    elements = report.element_coverage
    assert elements["UNIT.layer_id"].vectors == ["valid/pc"]
    assert elements["KEYFRAME.rank"].vectors == ["valid/pc"]
    assert elements["QUANT_PARAMS_PER_COMPONENT.u_scales"].vectors == ["valid/pc"]
    assert not elements["QUANT_PARAMS_PER_TENSOR.u_scale"].covered  # that needs a scheme-0 keyframe
    assert not elements["SCENE_INIT.data"].covered
    assert not elements["UNIT_HEADER.forbidden_bit"].covered  # needs a faulty F3 vector too
    assert "syntax:UNIT_HEADER.forbidden_bit" in report.uncovered


def test_map_conditions_are_checked():
    with pytest.raises(ValueError, match="unknown coverage condition"):
        load_map([{"id": "4.2#0000", "text": "", "covered_by": [["feture:unit.layer_id"]]}])
    with pytest.raises(ValueError, match="mapped twice"):
        load_map([{"id": "x", "covered_by": ["kind:valid"]}, {"id": "x", "covered_by": ["kind:mkv"]}])
    with pytest.raises(ValueError, match="neither"):
        load_map([{"id": "x", "text": ""}])


def test_report_formats():
    vectors = [vector("valid", "basic", features=["unit.layer_id"]), faulty("crc", "F6", "CrcMismatchError"),
               faulty("level", "F10", "InvalidValueError")]
    reader = by_text(requirements(MINI_SPEC), "A reader shall look for the track.").id
    entries = mini_map([["feature:unit.layer_id"]])[1] + [{"id": reader, "text": "", "covered_by": ["kind:valid"]}]
    report = coverage(MINI_SPEC, vectors, entries)
    assert report.uncovered == []
    assert "syntax:UNIT_HEADER.forbidden_bit" in report.stale  # the element map follows the (real) spec too
    text = report.markdown()
    assert "## Section 4.2" in text and "## Annex B.1" in text and "`faulty/crc`" in text
    data = report.to_json()
    assert data["uncovered"] == [] and len(data["requirements"]) == 5
    assert data["syntax"][0]["vectors"] == ["valid/basic"]
    json.dumps(data)


def test_the_committed_vectors_cover_everything_and_the_report_is_current():
    """The real suite: no requirement without a vector, and conformance/coverage.md is what the tool makes now."""
    report = check_coverage(default_vectors_dir(), ROOT / DEFAULT_SPEC, ROOT / DEFAULT_MAP)
    assert not report.uncovered and not report.stale, (report.uncovered, report.stale)
    assert (ROOT / "conformance" / "coverage.md").read_text() == report.markdown()


def test_a_missing_spec_or_a_malformed_map_is_one_input_error_naming_the_file(tmp_path):
    from ptcodec.errors import InputError

    vectors = default_vectors_dir()
    with pytest.raises(InputError, match=r"ptv\.md: cannot read the spec"):
        check_coverage(vectors, tmp_path / "ptv.md", ROOT / DEFAULT_MAP)
    for name, text, why in (("broken.json", "[{", "not a requirement map"),
                            ("strings.json", '["1.2#abcd"]', "an entry is an object with an id"),
                            ("condition.json", '[{"id": "x", "covered_by": ["colour:red"]}]',
                             "unknown coverage condition")):
        (tmp_path / name).write_text(text)
        with pytest.raises(InputError, match=why) as info:
            check_coverage(vectors, ROOT / DEFAULT_SPEC, tmp_path / name)
        assert str(info.value).startswith(str(tmp_path / name)) and "\n" not in str(info.value)
