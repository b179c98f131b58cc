"""The conformance suite judges decoders: ours passes every vector at every tier, and
decoders broken in the ways real ports go wrong each fail, naming the vector and tier."""

from __future__ import annotations

import json
import math
import shlex
import subprocess
import sys
from pathlib import Path

import construct
import numpy as np
import pytest

from ptcodec import conformance
from ptcodec.conformance.candidates import CommandCandidate, PtcodecCandidate
from ptcodec.conformance.runner import FAIL, PASS, SKIP, run_suite
from ptcodec.conformance.vectors import PACKAGED_SET, VectorError, default_vectors_dir, load_vectors
from ptcodec.generators.onestep import sigma_at
from ptcodec.process import conditioning

VECTORS = default_vectors_dir()
PTCODEC = f"{shlex.quote(sys.executable)} -m ptcodec"


@pytest.fixture(scope="module")
def ours():
    """One in-process run over every vector, shared by the tests that read it."""
    return run_suite(load_vectors(VECTORS), PtcodecCandidate(), tiers=3)


def statuses(result) -> dict[tuple[str, int], str]:
    return {(v.vector, t.tier): t.status for v in result.verdicts for t in v.tiers}


def test_our_decoder_passes_every_vector_at_every_tier(ours):
    assert ours.passed, ours.table()
    table = statuses(ours)
    vectors = load_vectors(VECTORS)
    assert {v.kind for v in vectors} == {"valid", "faulty", "mkv"}
    for v in vectors:
        if v.expect == "reject":
            assert table[(v.id, 1)] == PASS
        else:
            assert table[(v.id, 1)] == PASS and table[(v.id, 2)] == PASS
            # tier 3 is judged wherever the suite has reference frames (all but the imported sd-turbo prompts)
            assert table[(v.id, 3)] == (SKIP if v.reference.test["tier3"] is None else PASS), v.id
    assert sum(1 for v in vectors if v.reference.test.get("tier3")) >= 10


def test_faulty_vectors_cover_every_rule_of_section_9():
    rules = {v.test["expect"]["rule"] for v in load_vectors(VECTORS) if v.kind == "faulty"}
    assert rules == {f"F{i}" for i in range(1, 38)}


def test_table_and_json_report_every_vector_and_tier(ours, tmp_path):
    text = ours.table()
    assert "CONFORMS" in text and text.count("\n") == len(ours.verdicts) + 2
    report = ours.to_json()
    assert report["passed"] is True and len(report["vectors"]) == len(ours.verdicts)
    assert report["counts"]["tier3"]["fail"] == 0


# -- broken decoders ------------------------------------------------------------------------------

SUBSET = ["valid/basic", "valid/scenes", "valid/ladder_mixed", "valid/latent_f16", "faulty/crc_mismatch",
          "faulty/payload_corrupted", "mkv/basic"]


def _interp_off_by_one(monkeypatch):
    real = conditioning.interpolation_weight
    monkeypatch.setattr(conditioning, "interpolation_weight", lambda t, a, b: real(min(t + 1, b), a, b))


def _zero_point_ignored(monkeypatch):
    import ptcodec.process.quant as quant

    real = quant.dequantize
    monkeypatch.setattr(quant, "dequantize", lambda codes, scale, zero: real(codes, scale, np.zeros_like(zero)))


def _scene_init_ignored(monkeypatch):
    from ptcodec.ptv.units import SceneInit

    monkeypatch.setattr(SceneInit, "latent", lambda self: np.zeros((1, self.channels, self.height, self.width),
                                                                      np.float32))


def _wrong_sigma(monkeypatch):
    """N0 scaled by the scheduler's init_noise_sigma, as diffusers' pipelines do before their first step."""
    import ptcodec.decoder
    import ptcodec.process.reconstruction
    from ptcodec.process.noise import initial_noise

    sigma = np.float32(sigma_at())

    def scaled(seed, shape):
        return (initial_noise(seed, shape) * sigma).astype(np.float32)

    monkeypatch.setattr(ptcodec.process.reconstruction, "initial_noise", scaled)
    monkeypatch.setattr(ptcodec.decoder, "initial_noise", scaled)


def _uv_transposed(monkeypatch):
    """u read as r x m (column-major), v as n x r."""
    from ptcodec.ptv.units import Keyframe

    monkeypatch.setattr(Keyframe, "u_codes", lambda self: np.frombuffer(self.u, np.uint8).reshape(self.rank, -1).T)
    monkeypatch.setattr(Keyframe, "v_codes", lambda self: np.frombuffer(self.v, np.uint8).reshape(-1, self.rank).T)


def _crc_skipped(monkeypatch):
    monkeypatch.setattr(construct.Checksum, "_parse",
                        lambda self, stream, context, path: self.checksumfield._parsereport(stream, context, path))


BROKEN = {
    "interpolation weight off by one frame": (_interp_off_by_one, {("valid/basic", 2), ("valid/basic", 3),
                                                                   ("valid/ladder_mixed", 2)}),
    "zero point ignored": (_zero_point_ignored, {("valid/basic", 2), ("valid/basic", 3), ("mkv/basic", 2)}),
    "scene-init unit ignored": (_scene_init_ignored, {("valid/basic", 2), ("valid/scenes", 2), ("valid/scenes", 3)}),
    "wrong sigma": (_wrong_sigma, {("valid/basic", 2), ("valid/basic", 3), ("valid/latent_f16", 2)}),
    "u and v transposed": (_uv_transposed, {("valid/basic", 2), ("valid/basic", 3), ("valid/ladder_mixed", 2)}),
    "CRC skipped": (_crc_skipped, {("faulty/crc_mismatch", 1), ("faulty/payload_corrupted", 1)}),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_decoder_fails_naming_the_vector_and_tier(monkeypatch, name):
    breaks, expected = BROKEN[name]
    breaks(monkeypatch)
    result = run_suite(load_vectors(VECTORS, SUBSET), PtcodecCandidate(), tiers=3)
    failed = {(vector, verdict.tier) for vector, verdict in result.failures}
    assert not result.passed
    assert expected <= failed, f"{name}: failed only {sorted(failed)}\n{result.table()}"
    table = result.table()
    for vector, tier in expected:
        row = next(line for line in table.splitlines() if line.startswith(vector + " "))
        assert "fail" in row and f"tier {tier}:" in row
    assert "DOES NOT CONFORM" in table


def test_the_crc_skipping_decoder_is_told_what_it_should_have_raised(monkeypatch):
    _crc_skipped(monkeypatch)
    result = run_suite(load_vectors(VECTORS, ["faulty/crc_mismatch"]), PtcodecCandidate(), tiers=1)
    (_, verdict), = result.failures
    assert "decoded it; expected a reject with CrcMismatchError (F6)" in verdict.detail


def test_a_tier2_failure_shows_the_first_differing_element(monkeypatch):
    _zero_point_ignored(monkeypatch)
    result = run_suite(load_vectors(VECTORS, ["valid/basic"]), PtcodecCandidate(), tiers=2)
    detail = next(t.detail for v in result.verdicts for t in v.tiers if t.tier == 2)
    assert "u_00000: 308 of 308 elements differ, first at (0, 0)" in detail  # from the committed tensor


def test_a_wrong_c_is_located_against_a_recomputed_reference():
    """c is not committed (315 KB a frame): the runner recomputes it to say where a dump goes wrong."""
    flip = ("import sys; f = open(sys.argv[1] + '/c_00002.f32', 'r+b'); f.seek(4 * 1029); "
            "b = f.read(1); f.seek(4 * 1029); f.write(bytes([b[0] ^ 1]))")
    command = (f"{PTCODEC} reconstruct {{in}} {{dump}} > /dev/null && "
               f"{shlex.quote(sys.executable)} -c {shlex.quote(flip)} {{dump}}")
    result = run_suite(load_vectors(VECTORS, ["valid/basic"]), CommandCandidate(command), tiers=2)
    detail = next(t.detail for v in result.verdicts for t in v.tiers if t.tier == 2)
    assert "1 of 16 arrays differ: c_00002: 1 of 78848 elements differ, first at (1, 5)" in detail


# -- an external decoder ----------------------------------------------------------------------------------

EXTERNAL = ["valid/basic", "valid/empty", "valid/sky_import", "mkv/hold", "faulty/crc_mismatch",
            "faulty/version_major_2", "faulty/leb128_above_2_32", "faulty/truncated_payload"]


def our_cli_as_a_command() -> str:
    return (f"{PTCODEC} info --json --hash-bytes {{in}} > {{parse}} && {PTCODEC} reconstruct {{in}} {{dump}} "
            f"> /dev/null && {PTCODEC} decode -q {{in}} {{out}}")


def test_an_external_decoder_gets_the_verdicts_of_the_in_process_run(ours):
    vectors = load_vectors(VECTORS, EXTERNAL)
    external = run_suite(vectors, CommandCandidate(our_cli_as_a_command()), tiers=3)
    assert external.passed, external.table()
    theirs = statuses(external)
    assert theirs == {key: status for key, status in statuses(ours).items() if key[0] in set(EXTERNAL)}
    # the scores are the same too: the same frames came through the files
    mine = {v.vector: t.score_db for v in ours.verdicts for t in v.tiers if t.tier == 3}
    for v in external.verdicts:
        for t in v.tiers:
            if t.tier == 3 and t.score_db is not None:
                assert t.score_db == mine[v.vector] or (math.isinf(t.score_db) and math.isinf(mine[v.vector]))


def test_an_external_decoder_that_names_no_error_class_fails_tier_1(tmp_path):
    vectors = load_vectors(VECTORS, ["faulty/crc_mismatch", "valid/basic"])
    result = run_suite(vectors, CommandCandidate("test -s {in} && false"), tiers=1)
    table = {v.vector: v.tiers[0] for v in result.verdicts}
    assert table["faulty/crc_mismatch"].status == FAIL
    assert "without naming an error class" in table["faulty/crc_mismatch"].detail
    assert table["valid/basic"].status == FAIL and "rejected a valid stream" in table["valid/basic"].detail


def test_y4m_output_is_judged_in_the_y4m_colour_space(tmp_path):
    candidate = CommandCandidate(f"{PTCODEC} decode -q {{in}} {{out}}", frames_format="y4m")
    result = run_suite(load_vectors(VECTORS, ["valid/basic"]), candidate, tiers=3)
    tier3 = next(t for t in result.verdicts[0].tiers if t.tier == 3)
    assert tier3.status == PASS and tier3.score_db > 70, tier3.detail  # as on raw RGB, give or take rounding


# -- the command --------------------------------------------------------------------------------------------


def test_ptcodec_conformance_command_prints_a_table_and_writes_json(tmp_path):
    out = tmp_path / "results.json"
    done = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--tier", "1", "--only", "valid/basic",
                           "faulty/bad_signature", "--json", str(out), "-q", "--vectors", str(VECTORS)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "CONFORMS" in done.stdout and "2 vectors" in done.stdout
    report = json.loads(out.read_text())
    assert [v["vector"] for v in report["vectors"]] == ["valid/basic", "faulty/bad_signature"]


def test_a_damaged_vector_set_is_refused_in_one_line(tmp_path):
    import shutil

    shutil.copytree(VECTORS / "valid" / "basic", tmp_path / "valid" / "basic")
    with open(tmp_path / "valid" / "basic" / "stream.ptv", "r+b") as f:
        f.seek(100)
        byte = f.read(1)
        f.seek(100)
        f.write(bytes([byte[0] ^ 1]))
    with pytest.raises(VectorError, match="valid/basic: stream.ptv does not have the SHA-256"):
        run_suite(load_vectors(tmp_path), PtcodecCandidate(), tiers=1)
    done = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--vectors", str(tmp_path), "--json", "-"],
                          capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "SHA-256" in done.stderr


def test_the_compare_tool_scores_a_frames_file_on_its_own(capsys):
    from ptcodec.conformance.compare import main

    basic = VECTORS / "valid" / "basic"
    assert main([str(basic), str(basic / "frames.rgb")]) == 0
    assert "valid/basic: pass: identical" in capsys.readouterr().out
    # another clip's frames (same size and count) are tens of dB off
    assert main([str(VECTORS / "valid" / "hold"), str(basic / "frames.rgb")]) == 1
    assert "valid/hold: fail: lowest" in capsys.readouterr().out


# -- where the vectors are ----------------------------------------------------------------------------------

PACKAGE = Path(conformance.__file__).resolve().parents[1]
"""The ptcodec package directory (the tests may know the checkout; the package must not)."""


def test_the_vectors_are_package_data_declared_for_installs():
    import tomllib

    assert VECTORS == Path(conformance.__file__).resolve().parent / PACKAGED_SET
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["ptcodec.conformance"]
    assert f"{PACKAGED_SET}/**/*" in globs, "an installed ptcodec would have no vectors"


def test_no_module_builds_a_path_up_out_of_the_package():
    """Vectors and data are found by argument or as package data, never beside a checkout."""
    walking = [f"{path.relative_to(PACKAGE)}:{n}" for path in sorted(PACKAGE.rglob("*.py"))
               for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
               if "__file__" in line and ("parents[" in line or ".parent.parent" in line)]
    assert not walking, walking


def test_the_command_finds_the_vectors_anywhere_and_checks_coverage_only_where_the_spec_is(tmp_path):
    here = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--tier", "1", "--json", "-", "-q"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert here.returncode == 0, here.stderr
    assert "CONFORMS" in here.stdout
    assert "coverage: not checked (no spec/ptv.md here" in here.stdout
    checkout = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--tier", "1", "--json", "-", "-q"],
                              capture_output=True, text=True, cwd=PACKAGE.parent)
    assert checkout.returncode == 0, checkout.stderr
    assert "coverage: every requirement and syntax element has a vector" in checkout.stdout


def test_a_spec_that_is_not_there_is_refused_before_the_vectors_run(tmp_path):
    done = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--spec", str(tmp_path / "ptv.md"),
                           "--json", "-"], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert f"--spec {tmp_path / 'ptv.md'}: no such file" in done.stderr and "vectors;" not in done.stdout
