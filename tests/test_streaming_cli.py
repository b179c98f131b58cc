"""`ptcodec package` then `ptcodec simulate-abr` end to end: the ladder read back from index.json,
every ABR over a trace directory, the compute-aware choice, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ptcodec.cli import main
from ptcodec.streaming.ladder import load_ladder
from tests.test_streaming_package import make_stream


@pytest.fixture
def package(tmp_path) -> Path:
    out = tmp_path / "pkg"
    assert main(["package", str(make_stream(tmp_path / "in.ptv")), str(out), "--ranks", "2,4,8",
                 "--segment-seconds", "1"]) == 0
    return out


@pytest.fixture
def traces(tmp_path) -> Path:
    folder = tmp_path / "traces"
    (folder / "norway").mkdir(parents=True)
    (folder / "norway" / "slow").write_text("".join(f"{t}\t0.002\n" for t in range(10)))  # 2 kbit/s
    (folder / "fast.down").write_text("0\n1\n")  # Mahimahi: a 1,500-byte packet a millisecond, 12 Mbit/s
    return folder


def test_the_ladder_is_the_index(package):
    index = json.loads((package / "index.json").read_text())
    ladder = load_ladder(package)
    reps = index["representations"]
    assert ladder.bitrates_kbps == tuple(r["bandwidth_mean_bps"] / 1000 for r in reps)
    assert ladder.sizes == tuple(tuple(s["bytes"] for s in r["segments"]) for r in reps)
    assert ladder.fps == 30 and ladder.segments == len(reps[0]["segments"])


def test_every_abr_runs_over_every_trace(package, traces, tmp_path, capsys):
    out = tmp_path / "sim.json"
    assert main(["simulate-abr", str(package), str(traces), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    result = json.loads(out.read_text())
    assert set(result["abrs"]) == {"bb", "rb", "bola", "mpc"} and result["ranks"] == [2, 4, 8]
    for sessions in result["abrs"].values():
        assert sorted(s["trace"] for s in sessions) == ["fast.down", "norway/slow"]
        assert all(len(s["segments"]) == load_ladder(package).segments for s in sessions)
    fast = {name: next(s for s in sessions if s["trace"] == "fast.down") for name, sessions in result["abrs"].items()}
    assert all(s["stall_s"] == 0 for s in fast.values())  # 12 Mbit/s for a ladder of a few kbit/s
    assert fast["rb"]["segments"][-1]["rep"] == 2  # and rate-based goes to the top rank
    assert "mpc" in printed and "QoE weights" in printed


def test_a_compute_aware_abr_keeps_to_ranks_the_client_can_generate(package, traces, tmp_path):
    out = tmp_path / "sim.json"
    fast = str(traces / "fast.down")
    assert main(["simulate-abr", str(package), fast, "--abr", "rb", "--gen-fps", "60,60,10", "--out", str(out),
                 "-q"]) == 0
    aware = json.loads(out.read_text())["abrs"]["rb"][0]
    assert max(s["rep"] for s in aware["segments"]) == 1 and aware["gen_stall_s"] == 0
    assert main(["simulate-abr", str(package), fast, "--abr", "rb", "--gen-fps", "60,60,10", "--compute-unaware",
                 "--out", str(out), "-q"]) == 0
    unaware = json.loads(out.read_text())["abrs"]["rb"][0]
    assert max(s["rep"] for s in unaware["segments"]) == 2 and unaware["gen_stall_s"] > 0


def one_line_error(capsys, *args: str) -> str:
    assert main(list(args)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ptcodec: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_bad_inputs_are_one_line_errors(package, traces, tmp_path, capsys):
    assert "no such file" in one_line_error(capsys, "simulate-abr", str(tmp_path / "none"), str(traces))
    assert "choose from bb, rb, bola, mpc" in one_line_error(capsys, "simulate-abr", str(package), str(traces),
                                                             "--abr", "pensieve")
    bad = tmp_path / "bad"
    bad.write_text("0 1.0\nnot a line\n")
    assert f"{bad}:2" in one_line_error(capsys, "simulate-abr", str(package), str(bad))
    assert "3 representations" in one_line_error(capsys, "simulate-abr", str(package), str(traces),
                                                 "--gen-fps", "30,30")
