"""`ptcodec evaluate run`: codec specifications, the VAE tiling, ptcodec's points, and resuming a run
(ptcodec/evaluate/specs.py, points.py, run.py, quality.py)."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest

from ptcodec.errors import InputError, PtcodecError
from ptcodec.evaluate import run as run_module
from ptcodec.evaluate.points import Clip, Made, PtcodecPoints, tile, tile_grid, untile
from ptcodec.evaluate.quality import MetricContext, measure, parse_metrics
from ptcodec.evaluate.run import clip_sha256, run
from ptcodec.evaluate.specs import parse_codec, parse_rates


def test_a_codec_spec_is_a_name_and_a_grid():
    spec = parse_codec("ptcodec:generator=sd-turbo,ranks=4/8,K=2/5/10")
    assert spec.name == "ptcodec" and spec.single("generator") == "sd-turbo"
    assert spec.grid(("ranks", "K")) == [{"generator": "sd-turbo", "ranks": r, "K": k}
                                        for r in ("4", "8") for k in ("2", "5", "10")]
    assert parse_codec("x265").options == {}
    for bad, why in [("h263", "unknown codec"), ("x265:preset", "not key=value"), ("ptcodec:K=2,K=3", "twice"),
                     ("ptcodec:ranks=4//8", "not key=value")]:
        with pytest.raises(InputError, match=why):
            parse_codec(bad)
    assert parse_rates("140,225,540") == (140.0, 225.0, 540.0)
    with pytest.raises(InputError, match="above 0"):
        parse_rates("140,0")
    with pytest.raises(InputError, match="unknown lpips-squeeze"):
        parse_metrics("psnr,lpips-squeeze")


def test_ptcodec_points_are_its_grid_or_the_rungs_of_a_ladder():
    grid = PtcodecPoints(parse_codec("ptcodec:ranks=4/8,K=2/10"))
    assert [(k["rank"], k["K"]) for k in grid.keys((140.0,))] == [(4, 2), (4, 10), (8, 2), (8, 10)]
    ladder = PtcodecPoints(parse_codec("ptcodec:ladder=16/4/8,K=5"))
    assert [(k["rank"], k["ladder"]) for k in ladder.keys(())] == [(4, [4, 8, 16]), (8, [4, 8, 16]), (16, [4, 8, 16])]
    with pytest.raises(InputError, match="not both"):
        PtcodecPoints(parse_codec("ptcodec:ranks=4,ladder=4/8"))
    with pytest.raises(InputError, match="unknown option colour"):
        PtcodecPoints(parse_codec("ptcodec:colour=red"))


@pytest.mark.parametrize("channels", [1, 3, 4, 6, 16])
def test_latent_tiles_are_a_picture_and_back(channels):
    codes = np.random.RandomState(channels).randint(0, 256, (3, channels, 4, 5)).astype(np.uint8)
    rows, cols = tile_grid(channels)
    assert rows * cols == channels and rows <= cols
    pictures = tile(codes)
    assert pictures.shape == (3, rows * 4, cols * 5)
    assert np.array_equal(pictures[:, :4, :5], codes[:, 0])  # channel 0 at the top left
    assert np.array_equal(untile(pictures, channels), codes)


def test_metrics_pair_frames_by_index_and_name_their_implementation():
    rng = np.random.RandomState(0)
    a = rng.randint(0, 256, (3, 48, 48, 3)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.randint(-3, 4, a.shape), 0, 255).astype(np.uint8)
    values, names = measure(("psnr", "psnr_y", "ssim"), a, b, MetricContext())
    assert len(values["psnr"]["per_frame"]) == 3 and 35 < values["psnr"]["mean"] < 60
    assert values["ssim"]["mean"] < 1 and measure(("ssim",), a, a, MetricContext())[0]["ssim"]["mean"] == pytest.approx(1)
    assert "ptcodec.metrics" in names["psnr"] and "pytorch-msssim" in names["ssim"]
    with pytest.raises(PtcodecError, match="paired by index"):
        measure(("psnr",), a, b[:2], MetricContext())


class FakeMaker:
    """A codec that adds noise scaled by its target rate, and counts the points it makes."""

    label = "fake"
    made: list = []

    def __init__(self, spec) -> None:
        self.spec = spec

    def keys(self, rates):
        return [{"target_kbps": r} for r in rates]

    def make(self, key, clip, workdir, generator_options):
        FakeMaker.made.append(key["target_kbps"])
        if FakeMaker.fail_at == key["target_kbps"]:
            raise KeyboardInterrupt
        noise = np.random.RandomState(int(key["target_kbps"])).randint(-2, 3, clip.frames.shape)
        decoded = np.clip(clip.frames.astype(int) + noise * int(1000 / key["target_kbps"]), 0, 255).astype(np.uint8)
        return Made(decoded, {"settings": {"encoder": "fake"}, "bytes": 100, "kbps": {"total": key["target_kbps"]},
                              "generator": None})


@pytest.fixture
def clip() -> Clip:
    frames = np.random.RandomState(1).randint(0, 256, (4, 32, 32, 3)).astype(np.uint8)
    return Clip("noise", frames, Fraction(30), "natural", clip_sha256(frames))


def test_an_interrupted_run_resumes_without_computing_a_finished_point_again(clip, tmp_path, monkeypatch):
    monkeypatch.setattr(run_module, "points_of", FakeMaker)
    FakeMaker.made, FakeMaker.fail_at = [], 225.0
    with pytest.raises(KeyboardInterrupt):
        run([clip], [parse_codec("x265")], (140.0, 225.0, 540.0), ("psnr",), tmp_path / "out")
    assert FakeMaker.made == [140.0, 225.0]
    assert len(list((tmp_path / "out" / "points").glob("*.json"))) == 1  # the finished one, whole
    FakeMaker.made, FakeMaker.fail_at = [], None
    result = run([clip], [parse_codec("x265")], (140.0, 225.0, 540.0), ("psnr",), tmp_path / "out")
    assert FakeMaker.made == [225.0, 540.0] and (result.made, result.kept) == (2, 1)
    points = sorted(result.points, key=lambda p: p["target_kbps"])
    assert [p["target_kbps"] for p in points] == [140.0, 225.0, 540.0]
    assert points[0]["metrics"]["psnr"]["mean"] < points[2]["metrics"]["psnr"]["mean"]  # more rate, less noise
    FakeMaker.made = []
    run([clip], [parse_codec("x265")], (140.0, 225.0, 540.0), ("psnr",), tmp_path / "out")
    assert FakeMaker.made == []  # everything kept
    run([clip], [parse_codec("x265")], (140.0,), ("psnr", "psnr_y"), tmp_path / "out")
    assert FakeMaker.made == [140.0]  # other metrics asked for: another point
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    assert manifest["clips"][0]["sha256"] == clip.sha256 and "ptcodec" in manifest["versions"]


def test_ptcodec_points_measure_a_reachable_clip_with_its_generator(tmp_path):
    """A two-point grid on 4 frames of the reference generator's own content, for the plumbing."""
    from ptcodec.evaluate.run import load_clip

    clip = load_clip("reachable:3", size=64, frames=4)
    assert clip.content == "reachable" and clip.frames.shape == (4, 64, 64, 3)
    result = run([clip], [parse_codec("ptcodec:ranks=2/4,K=3,steps=5")], (), ("psnr",), tmp_path / "out")
    assert result.made == 2
    by_rank = {p["key"]["rank"]: p for p in result.points}
    assert by_rank[2]["bytes"] < by_rank[4]["bytes"]
    for point in by_rank.values():
        kbps = point["kbps"]
        assert kbps["keyframe"] < kbps["steady"] < kbps["total"]
        assert point["generator"]["id"] == "reference" and len(point["generator"]["fingerprint"]) == 64
        assert len(point["metrics"]["psnr"]["per_frame"]) == 4


def test_a_run_makes_a_report_that_names_its_generator(clip, tmp_path, monkeypatch):
    """The runner's points are what the report reads: a fake pixel codec and ptcodec on reachable content."""
    from ptcodec.cli import main
    from ptcodec.evaluate.run import load_clip

    monkeypatch.setattr(run_module, "points_of", FakeMaker)
    FakeMaker.made, FakeMaker.fail_at = [], None
    reachable = load_clip("reachable:3", size=64, frames=4)
    run([reachable], [parse_codec("x265")], (140.0, 225.0, 540.0), ("psnr",), tmp_path / "pixel")
    monkeypatch.undo()
    run([reachable], [parse_codec("ptcodec:ranks=2/4,K=3,steps=5")], (), ("psnr",), tmp_path / "prompts")
    assert main(["evaluate", "report", str(tmp_path / "pixel"), str(tmp_path / "prompts"),
                 "--out", str(tmp_path / "report")]) == 0
    report = (tmp_path / "report" / "report.md").read_text()
    assert "reference" in report and "plumbing" in report
    assert main(["evaluate", "report", str(tmp_path / "prompts"), "--out", str(tmp_path / "strict"), "--strict"]) == 1


def test_check_lists_every_encoder_and_metric_with_a_reason(capsys):
    from ptcodec.cli import main

    status = main(["evaluate", "check"])
    lines = capsys.readouterr().out.splitlines()
    names = [line.split()[0] for line in lines]
    for name in ("x264", "x265", "svtav1", "vvenc", "libaom", "vmaf", "lpips-alex", "lpips-vgg", "dists", "bd-rate"):
        assert name in names
    assert all(len(line.split()) >= 3 for line in lines)  # available or missing, and what or why
    assert status == (0 if all(" available " in f" {line} " for line in lines) else 1)


def test_pixel_points_run_side_by_side_in_worker_processes_and_resume_alike(tmp_path):
    from ptcodec.evaluate.run import load_clip

    clip = load_clip("reachable:2", size=64, frames=4)
    specs = [parse_codec("x264"), parse_codec("x265")]
    first = run([clip], specs, (200.0, 400.0), ("psnr",), tmp_path / "out", jobs=2)
    assert (first.made, first.kept) == (4, 0)
    assert [(p["codec"], p["target_kbps"]) for p in first.points] == [
        ("x264", 200.0), ("x264", 400.0), ("x265", 200.0), ("x265", 400.0)]  # in plan order
    assert all(p["frames"] == 4 and p["settings"] for p in first.points)
    again = run([clip], specs, (200.0, 400.0), ("psnr",), tmp_path / "out", jobs=2)
    assert (again.made, again.kept) == (0, 4)
