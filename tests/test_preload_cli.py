"""`ptcodec preload-sim` (issue 16, item 6): outputs, resuming, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ptcodec.cli import main
from tests.conftest import SHARED_DATA

TRACES = SHARED_DATA / "traces" / "svsc_network"
VIDEOS = SHARED_DATA / "short_video"
needs_data = pytest.mark.skipif(not TRACES.is_dir() or not VIDEOS.is_dir(), reason="the challenge data is not in ../shared/data")


@needs_data
def test_a_small_sweep_writes_json_report_and_plots_then_resumes(tmp_path: Path, monkeypatch, capsys) -> None:
    out = tmp_path / "out"
    args = ["preload-sim", str(TRACES), str(VIDEOS), "--class", "low", "--users", "retention", "--scheduler",
            "fixed_preload,search_prompts", "--gen-fps", "60", "--out", str(out), "-q"]
    assert main(args) == 0
    results = json.loads((out / "results.json").read_text())
    assert set(results["runs"]) == {"retention/low/fixed_preload", "retention/low/search_prompts@60"}
    prompts = results["runs"]["retention/low/search_prompts@60"]["mean"]
    assert len(results["runs"]["retention/low/fixed_preload"]["traces"]) == 20
    assert 0 < prompts["prompt_share"] <= 1
    assert results["runs"]["retention/low/fixed_preload"]["mean"]["score"] == pytest.approx(-33.25, abs=0.05)
    report = (out / "report.md").read_text()
    assert "ASSUMPTION" in report and "search_prompts | 60" in report
    assert {p.name for p in (out / "plots").iterdir()} == {
        "retention_per_class.png", "retention_score_vs_G.png", "retention_prompt_share_vs_G.png"}

    import ptcodec.preload.report as report_module

    def refuse(*a, **k):
        raise AssertionError("a finished run was redone")

    monkeypatch.setattr(report_module, "run_setup", refuse)
    assert main(args) == 0  # everything is in results.json already


@pytest.mark.parametrize(("extra", "words"), [(["--class", "huge"], "--class huge"),
                                              (["--scheduler", "magic"], "--scheduler magic"),
                                              (["--users", "bots"], "--users bots")])
def test_bad_choices_are_one_line_errors(tmp_path: Path, capsys, extra: list[str], words: str) -> None:
    assert main(["preload-sim", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "-q", *extra]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err


@needs_data
def test_search_options_run_apart_and_qoe_adds_up(tmp_path: Path, capsys) -> None:
    """An ablation (`--search-option`) is recorded, changes the scheduler, and cannot resume into a sweep
    made with other options; every session's QoE is quality - smoothness - 1.85 x stall."""
    base = ["preload-sim", str(TRACES), str(VIDEOS), "--class", "high", "--users", "retention", "--scheduler",
            "search_prompts", "--gen-fps", "60", "-q", "--search-option", "ample_kbps=none"]
    plain, ablated = tmp_path / "plain", tmp_path / "ablated"
    assert main([*base, "--out", str(plain), "--search-option", "budget_ms=1e6", "--search-option", "depth=1"]) == 0
    assert main([*base, "--out", str(ablated), "--search-option", "budget_ms=1e6", "--search-option", "depth=1",
                 "--search-option", "first_chunks_ahead=false", "--search-option", "head_cap_ms=none"]) == 0
    runs = {}
    for out in (plain, ablated):
        results = json.loads((out / "results.json").read_text())
        runs[out.name] = results["runs"]["retention/high/search_prompts@60"]
        for t in runs[out.name]["traces"]:
            assert t["qoe"] == pytest.approx(t["quality"] - t["smoothness"] - 1.85 * t["stall_s"], abs=1e-9)
            assert 0 <= t["rule2"] <= t["smoothness"]
    assert json.loads((ablated / "results.json").read_text())["search_options"] == {
        "ample_kbps": None, "budget_ms": 1e6, "depth": 1, "first_chunks_ahead": False, "head_cap_ms": None}
    assert "first_chunks_ahead = False" in (ablated / "report.md").read_text()
    # Without first chunks fetched ahead, rule 2 costs less (fewer first chunks come before the chunk it links).
    assert runs["ablated"]["mean"]["rule2"] < runs["plain"]["mean"]["rule2"]
    capsys.readouterr()
    assert main([*base, "--out", str(ablated), "--search-option", "depth=1"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "search options" in err and "another --out" in err


@pytest.mark.parametrize(("option", "words"), [("magic=1", "NAME one of"), ("horizon_ms=soon", "a number"),
                                                ("first_chunks_ahead=2", "true or false"), ("depth", "NAME=VALUE")])
def test_a_bad_search_option_is_a_one_line_error(tmp_path: Path, capsys, option: str, words: str) -> None:
    assert main(["preload-sim", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "-q",
                 "--search-option", option]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and words in err and option in err


def test_a_bad_generator_speed_is_refused(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["preload-sim", str(tmp_path), str(tmp_path), "--out", str(tmp_path / "o"), "--gen-fps", "0,30"])
    assert "positive" in capsys.readouterr().err
