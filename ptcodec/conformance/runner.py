"""Judge a decoder against the vectors: a verdict per vector and tier, a table, a JSON report.

Tiers (spec/ptv.md section 13): 1 parse (exact dump; faulty streams rejected
with their error class), 2 reconstruction (bit-exact arrays, by SHA-256),
3 generation (frames within the vector's tolerance). `--tier N` judges tiers
1 to N. A tier that does not apply (2 and 3 of a faulty vector) or that the
decoder cannot show (no generator, no {dump}) is "skip", with the reason.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptcodec.conformance import compare
from ptcodec.conformance.candidates import Outcome
from ptcodec.conformance.vectors import Vector

PASS, FAIL, SKIP = "pass", "fail", "skip"


@dataclass
class TierVerdict:
    tier: int
    status: str
    detail: str = ""
    score_db: float | None = None


@dataclass
class VectorVerdict:
    vector: str
    expect: str
    tiers: list[TierVerdict]
    seconds: float = 0.0

    @property
    def status(self) -> str:
        statuses = {t.status for t in self.tiers}
        return FAIL if FAIL in statuses else PASS if PASS in statuses else SKIP


@dataclass
class SuiteResult:
    decoder: str
    tiers: int
    verdicts: list[VectorVerdict] = field(default_factory=list)

    @property
    def failures(self) -> list[tuple[str, TierVerdict]]:
        return [(v.vector, t) for v in self.verdicts for t in v.tiers if t.status == FAIL]

    @property
    def passed(self) -> bool:
        return not self.failures

    def counts(self, tier: int) -> dict[str, int]:
        out = {PASS: 0, FAIL: 0, SKIP: 0}
        for v in self.verdicts:
            for t in v.tiers:
                if t.tier == tier:
                    out[t.status] += 1
        return out

    def table(self) -> str:
        width = max([len(v.vector) for v in self.verdicts] + [6])
        lines = [f"{'vector':<{width}}  expect   " + "  ".join(f"tier {n}" for n in range(1, self.tiers + 1))
                 + "  detail"]
        for v in self.verdicts:
            cells = []
            for n in range(1, self.tiers + 1):
                t = next((t for t in v.tiers if t.tier == n), None)
                cells.append(f"{(t.status if t else '-'):<6}")
            details = "; ".join(f"tier {t.tier}: {t.detail}" for t in v.tiers
                                if t.status == FAIL or (t.status == SKIP and v.expect == "decode" and t.detail))
            if not details:
                shown = [t for t in v.tiers if t.status == PASS]
                details = shown[-1].detail if shown else ""
            lines.append(f"{v.vector:<{width}}  {v.expect:<7}  " + "  ".join(cells) + f"  {details}")
        summary = ", ".join(f"tier {n}: {c[PASS]} pass, {c[FAIL]} fail, {c[SKIP]} skip"
                            for n in range(1, self.tiers + 1) for c in [self.counts(n)])
        lines.append(f"{len(self.verdicts)} vectors; {summary}")
        lines.append("CONFORMS" if self.passed else f"DOES NOT CONFORM: {len(self.failures)} failures")
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {
            "decoder": self.decoder, "tiers": self.tiers, "passed": self.passed,
            "counts": {f"tier{n}": self.counts(n) for n in range(1, self.tiers + 1)},
            "vectors": [{"vector": v.vector, "expect": v.expect, "status": v.status, "seconds": round(v.seconds, 3),
                         "tiers": [{"tier": t.tier, "status": t.status, "detail": t.detail,
                                    **({"score_db": _json_db(t.score_db)} if t.score_db is not None else {})}
                                   for t in v.tiers]} for v in self.verdicts],
        }


def _json_db(value: float) -> float | str:
    return round(value, 3) if math.isfinite(value) else ("inf" if value > 0 else "-inf")


# -- judging one vector ---------------------------------------------------------------------------------


def judge(vector: Vector, outcome: Outcome, tiers: int) -> list[TierVerdict]:
    if vector.expect == "reject":
        return [_judge_reject(vector, outcome)] + [TierVerdict(n, SKIP, "a faulty vector") for n in range(2, tiers + 1)]
    if outcome.failure is not None:
        return [TierVerdict(1, FAIL, _failure(outcome))] + [TierVerdict(n, FAIL, "not decoded")
                                                             for n in range(2, tiers + 1)]
    if not outcome.accepted:
        return [TierVerdict(1, FAIL, f"rejected a valid stream: {outcome.message}")] + [
            TierVerdict(n, FAIL, "not decoded") for n in range(2, tiers + 1)]
    ref = vector.reference
    verdicts = [_judge_parse(ref, outcome)]
    if tiers >= 2:
        verdicts.append(_judge_reconstruction(ref, outcome))
    if tiers >= 3:
        verdicts.append(_judge_frames(ref, outcome))
    return verdicts


def _judge_reject(vector: Vector, outcome: Outcome) -> TierVerdict:
    expected = [vector.error_class, *vector.test["expect"].get("also_accepted", [])]
    rule = vector.test["expect"].get("rule", "")
    if outcome.failure is not None:  # a crash or a hang is not a rejection
        return TierVerdict(1, FAIL, f"{_failure(outcome)}; expected a reject with {expected[0]} ({rule})")
    if outcome.accepted:
        return TierVerdict(1, FAIL, f"decoded it; expected a reject with {expected[0]} ({rule})")
    if outcome.error_class is None:
        return TierVerdict(1, FAIL, f"rejected without naming an error class ({outcome.message}); "
                                    f"expected {expected[0]} ({rule})")
    if outcome.error_class not in expected:
        return TierVerdict(1, FAIL, f"rejected with {outcome.error_class}; expected {' or '.join(expected)} ({rule})")
    return TierVerdict(1, PASS, f"{outcome.error_class} ({rule})")


def _failure(outcome: Outcome) -> str:
    return (outcome.failure or "") + (f" (its last output: {outcome.message})" if outcome.message else "")


def _judge_parse(ref: Vector, outcome: Outcome) -> TierVerdict:
    if 1 in outcome.unusable:
        return TierVerdict(1, FAIL, f"parse dump: {outcome.unusable[1]}")
    if outcome.parse is None:
        return TierVerdict(1, PASS, "accepted; " + outcome.notes.get(1, "no parse dump"))
    difference = compare.first_parse_difference(ref.test["parse"], outcome.parse)
    if difference:
        return TierVerdict(1, FAIL, f"parse dump: {difference}")
    return TierVerdict(1, PASS, f"{len(ref.test['parse']['units'])} units as the reference")


def _judge_reconstruction(ref: Vector, outcome: Outcome) -> TierVerdict:
    if 2 in outcome.unusable:
        return TierVerdict(2, FAIL, f"dump: {outcome.unusable[2]}")
    if outcome.tier2 is None:
        return TierVerdict(2, SKIP, outcome.notes.get(2, "no dump"))
    expected = ref.test["tier2"]["sha256"]
    wrong = compare.tier2_differences(expected, outcome.tier2)
    if not wrong:
        return TierVerdict(2, PASS, f"{len(expected)} arrays bit-exact")
    details = [_explain(ref, outcome, name) for name in wrong[:3]]
    return TierVerdict(2, FAIL, f"{len(wrong)} of {len(expected)} arrays differ: " + "; ".join(details))


def _explain(ref: Vector, outcome: Outcome, name: str) -> str:
    """The first differing element, from the committed tensor or (for c, not committed) a recomputation.
    The decoder's array is read only when its shape is the reference's."""
    if outcome.tier2_dir is None or outcome.tier2 is None or name not in outcome.tier2:
        return f"{name}: missing"
    reference = reference_array(ref, name)
    try:
        shape = compare.read_dump_index(outcome.tier2_dir, ref.test["tier2"]["sha256"])[name]
        if shape != reference.shape:
            return f"{name}: shape {shape}, the reference has {reference.shape}"
        return compare.explain_array(name, reference, compare.read_array(outcome.tier2_dir, name, shape))
    except (compare.OutputError, KeyError) as error:  # changed since it was hashed
        return f"{name}: {error}"


def reference_array(ref: Vector, name: str) -> np.ndarray:
    from ptcodec.process.reconstruction import reconstruct
    from ptcodec.ptv import read_all

    tensors = ref.directory / ref.test["tier2"]["tensors"]
    if (tensors / f"{name}.f32").exists():
        return compare.read_dump(tensors, only=[name])[name]
    header, records = read_all(ref.stream.read_bytes())
    return dict(reconstruct(header, [r.unit for r in records[1:]]).arrays())[name]


def _judge_frames(ref: Vector, outcome: Outcome) -> TierVerdict:
    spec = ref.test.get("tier3")
    if spec is None:
        return TierVerdict(3, SKIP, f"no reference frames ({ref.test['parse']['units'][0]['fields']['generator_id']}"
                                    " is not a generator of the suite)")
    if outcome.frames is None and outcome.frames_file is None:
        if outcome.generator_missing:
            return TierVerdict(3, SKIP, outcome.notes[3])
        return TierVerdict(3, FAIL, outcome.notes.get(3, "no frames written"))
    frames: Iterable[np.ndarray]
    if outcome.frames is not None:
        frames = outcome.frames
    else:
        assert outcome.frames_file is not None, "checked above"
        frames = compare.read_frames(outcome.frames_file, outcome.frames_format, spec["width"], spec["height"])
    try:
        ok, detail, low = compare.score_vector(ref, frames, outcome.frames_format)
    except compare.OutputError as error:
        return TierVerdict(3, FAIL, str(error))
    return TierVerdict(3, PASS if ok else FAIL, detail, low)


# -- the suite -----------------------------------------------------------------------------------------------


def run_suite(vectors: list[Vector], candidate, *, tiers: int = 3, workdir: str | os.PathLike[str] | None = None,
              on_vector: Callable[[VectorVerdict], None] | None = None) -> SuiteResult:
    result = SuiteResult(candidate.name, tiers)
    wanted = set(range(1, tiers + 1))
    with tempfile.TemporaryDirectory(prefix="ptcodec-conformance-", ignore_cleanup_errors=True) as scratch:
        base = Path(workdir) if workdir is not None else Path(scratch)
        for vector in vectors:
            vector.check_files()
            started = time.perf_counter()
            outcome = candidate.run(vector, wanted, base / vector.kind / vector.name)
            verdict = VectorVerdict(vector.id, vector.expect, judge(vector, outcome, tiers),
                                    time.perf_counter() - started)
            result.verdicts.append(verdict)
            if on_vector is not None:
                on_vector(verdict)
    return result


def write_results(result: SuiteResult, path: str | os.PathLike[str]) -> None:
    Path(path).write_text(json.dumps(result.to_json(), indent=1) + "\n")
