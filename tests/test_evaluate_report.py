"""`ptcodec evaluate report` (issue 13): tables, CompressAI JSON, honest labels and plots,
from synthetic results points whose expected figures are worked out here by hand."""

from __future__ import annotations

import csv
import json
import math
import os

import pytest

from ptcodec.errors import InputError, PtcodecError
from ptcodec.evaluate.report import PLUMBING, REACHABLE_NOTE, write_report

pytest.importorskip("matplotlib")
pytest.importorskip("bjontegaard")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
RATES = [140.0, 225.0, 540.0, 900.0]


def psnr(rate):
    return 30 + 5 * math.log2(rate / 140)


def lpips(rate):
    return 0.3 * (rate / 140) ** -0.5  # 0.3 at 140 kbit/s: below the 0.32 threshold


def frames_for(mean, count=10, severe=0):
    """`count` per-frame values with mean `mean`, `severe` of them above 0.32 (for means below 0.32)."""
    high = [0.4] * severe
    rest = (mean * count - sum(high)) / (count - severe)
    return high + [rest] * (count - severe)


def point(clip="sky", content="natural", codec="x265", label="x265 medium", generator=None, kbps=None,
          quality=None, severe=0, per_second=None):
    lp = lpips(quality)
    data = {
        "clip": clip, "clip_sha256": "ab" * 32, "content": content, "codec": codec, "label": label,
        "settings": {"preset": "medium"}, "target_kbps": None, "kbps": kbps, "bytes": int(kbps["total"] * 1000 / 8 * 3),
        "frames": 10, "fps": 30.0, "width": 64, "height": 64, "generator": generator,
        "metrics": {"psnr_rgb": {"mean": psnr(quality), "per_frame": [psnr(quality)] * 10},
                    "lpips-vgg": {"mean": lp, "per_frame": frames_for(lp, severe=severe)},
                    "lpips-alex": {"mean": lp / 2, "per_frame": frames_for(lp / 2)}},
        "implementations": {"lpips-vgg": "ptcodec plain-torch LPIPS v0.1, weights sha256 1234"},
    }
    if per_second is not None:
        data["per_second_kbps"] = per_second
    return data


def write_run(folder, points, manifest=None):
    os.makedirs(os.path.join(folder, "points"))
    with open(os.path.join(folder, "manifest.json"), "w") as handle:
        json.dump(manifest or {"ptcodec": "0.test", "settings": {"frames": 10}}, handle)
    for i, data in enumerate(points):
        with open(os.path.join(folder, "points", f"p{i:03d}.json"), "w") as handle:
            json.dump(data, handle)
    return str(folder)


def run_with(generator_id, tmp_path, name="run", contents=("natural",)):
    generator = {"id": generator_id, "fingerprint": "f" * 64}
    points = []
    for content in contents:
        points += [point(content=content, kbps={"total": r}, quality=r, severe=1 if r == 140.0 else 0) for r in RATES]
        # ptcodec: the same quality at 0.9x the rate (steady), and a total that counts the scene init on top.
        points += [point(content=content, codec="ptcodec", label="ptcodec K=10", generator=generator,
                         kbps={"total": 0.9 * r + 100, "steady": 0.9 * r, "keyframe": 0.9 * r - 1}, quality=r,
                         per_second=[0.9 * r + 300, 0.9 * r, 0.9 * r]) for r in RATES]
    return write_run(tmp_path / name, points)


def read_csv(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_tables_and_json_hold_the_hand_derived_figures(tmp_path):
    files = write_report([run_with("reference", tmp_path)], str(tmp_path / "out"), rate="steady")

    rows = read_csv(files.points_csv)
    assert len(rows) == 8
    ptcodec = [r for r in rows if r["codec"] == "ptcodec"]
    assert sorted(float(r["kbps_used_steady"]) for r in ptcodec) == pytest.approx([0.9 * r for r in RATES])
    x265 = [r for r in rows if r["codec"] == "x265"]  # a pixel codec's only rate is its total
    assert sorted(float(r["kbps_used_steady"]) for r in x265) == pytest.approx(RATES)
    assert {r["generator"] for r in ptcodec} == {"reference"} and {r["generator"] for r in x265} == {"none"}

    frames = read_csv(files.frames_csv)
    assert len(frames) == 8 * 10
    first = [r for r in frames if r["point"] == "p000"]
    assert [float(r["lpips-vgg"]) for r in first] == pytest.approx(frames_for(lpips(140.0), severe=1))

    bd_rows = read_csv(files.bd_csv)
    by_metric = {r["metric"]: r for r in bd_rows if r["test"] == "ptcodec K=10" and r["anchor"] == "x265 medium"}
    assert set(by_metric) == {"psnr_rgb", "lpips-vgg", "lpips-alex"}
    for metric in by_metric:  # the same quality at 0.9x the rate: -10% whatever the metric
        assert float(by_metric[metric]["bd_rate_pct"]) == pytest.approx(-10.0, abs=0.1)
    assert by_metric["lpips-vgg"]["quality_axis"] == "-lpips-vgg"
    assert by_metric["psnr_rgb"]["rate"] == "steady"
    # ptcodec is no baseline by default: no row has it as the anchor.
    assert all(r["anchor"] != "ptcodec K=10" for r in bd_rows)

    results = {os.path.basename(f): f for f in files.compressai}
    with open(results["natural_sky_x265-medium.json"]) as handle:
        x265_json = json.load(handle)
    assert x265_json["name"] == "x265 medium"
    assert x265_json["results"]["kbps"] == pytest.approx(RATES)
    assert x265_json["results"]["bpp"] == pytest.approx([r * 1000 / (30 * 64 * 64) for r in RATES])
    assert x265_json["results"]["psnr-rgb"] == pytest.approx([psnr(r) for r in RATES])
    with open(results["natural_sky_ptcodec-K-10-reference.json"]) as handle:
        ptcodec_json = json.load(handle)
    assert "generator reference" in ptcodec_json["description"] and PLUMBING in ptcodec_json["description"]


def test_report_names_the_generator_says_plumbing_and_refuses_the_paper_table(tmp_path):
    files = write_report([run_with("reference", tmp_path)], str(tmp_path / "out"))
    with open(files.report) as handle:
        report = handle.read()
    assert "`reference`" in report and "f" * 16 in report  # the generator and its fingerprint
    assert PLUMBING in report
    assert "Not filled: the paper's table is filled only from sd-turbo results" in report
    assert files.paper_csv is None and "natural" in files.paper_refused
    assert "total kbit/s" in report  # the captions say which rate
    assert '"ptcodec": "0.test"' in report  # the manifest is passed through


def test_strict_makes_the_refusal_a_one_line_error(tmp_path):
    with pytest.raises(InputError) as caught:
        write_report([run_with("reference", tmp_path)], str(tmp_path / "out"), strict=True)
    assert isinstance(caught.value, PtcodecError)
    assert "\n" not in str(caught.value) and "sd-turbo" in str(caught.value)
    assert not os.path.exists(tmp_path / "out")  # refused before anything was written


def test_paper_table_from_sd_turbo(tmp_path):
    files = write_report([run_with("sd-turbo", tmp_path)], str(tmp_path / "out"), strict=True)
    assert files.paper_csv is not None
    rows = read_csv(files.paper_csv)
    x265 = {r["net"]: r for r in rows if r["codec"] == "x265 medium"}
    # x265 has points at exactly 140, 225 and 540 kbit/s: the values are those points' own.
    for rate in (140, 225, 540):
        assert float(x265["lpips-vgg"][f"lpips_at_{rate}"]) == pytest.approx(lpips(rate))
        assert float(x265["lpips-alex"][f"lpips_at_{rate}"]) == pytest.approx(lpips(rate) / 2)
    assert float(x265["lpips-vgg"]["severe_share_at_140"]) == pytest.approx(0.1)  # 1 frame of 10
    assert float(x265["lpips-vgg"]["severe_share_at_540"]) == 0.0
    assert {r["threshold_for"] for r in rows} == {"lpips-vgg"}
    with open(files.report) as handle:
        report = handle.read()
    assert PLUMBING not in report
    assert "whose LPIPS is VGG" in report


def test_natural_and_reachable_content_are_separate_sections(tmp_path):
    files = write_report([run_with("reference", tmp_path, contents=("natural", "reachable"))], str(tmp_path / "out"))
    with open(files.report) as handle:
        report = handle.read()
    natural, reachable = report.index("## Natural content"), report.index("## Reachable content")
    assert natural < reachable and REACHABLE_NOTE in report[reachable:]
    assert REACHABLE_NOTE not in report[natural:reachable]
    assert {r["content"] for r in read_csv(files.bd_csv)} == {"natural", "reachable"}


def test_plots_are_png_files(tmp_path):
    files = write_report([run_with("reference", tmp_path)], str(tmp_path / "out"))
    names = sorted(os.path.basename(p) for p in files.plots)
    assert names == ["lpips-cdf_natural_sky.png", "rate_natural_sky.png", "rd_natural_sky.png"]
    for plot in files.plots:
        with open(plot, "rb") as handle:
            assert handle.read(8) == PNG_SIGNATURE
    with open(files.report) as handle:
        report = handle.read()
    assert all(f"(plots/{name})" in report for name in names)


def test_several_runs_are_merged(tmp_path):
    a = write_run(tmp_path / "a", [point(kbps={"total": r}, quality=r) for r in RATES])
    b = write_run(tmp_path / "b", [point(codec="svtav1", label="SVT-AV1", kbps={"total": 0.8 * r}, quality=r)
                                   for r in RATES])
    files = write_report([a, b], str(tmp_path / "out"))
    rows = read_csv(files.bd_csv)
    row = next(r for r in rows if r["test"] == "SVT-AV1" and r["anchor"] == "x265 medium" and r["metric"] == "psnr_rgb")
    assert float(row["bd_rate_pct"]) == pytest.approx(-20.0, abs=0.1)
    assert {r["run"] for r in read_csv(files.points_csv)} == {"a", "b"}


def test_bad_inputs_are_one_line_errors(tmp_path):
    with pytest.raises(InputError, match="no points/ folder"):
        write_report([str(tmp_path)], str(tmp_path / "out"))
    broken = write_run(tmp_path / "broken", [])
    with open(os.path.join(broken, "points", "bad.json"), "w") as handle:
        handle.write("{not json")
    with pytest.raises(InputError, match="bad.json: not a JSON results file"):
        write_report([broken], str(tmp_path / "out"))
    no_steady = write_run(tmp_path / "no_steady", [point(codec="ptcodec", kbps={"total": 100.0}, quality=100.0)])
    with pytest.raises(InputError, match="p000.json: a ptcodec point without a 'steady' rate"):
        write_report([no_steady], str(tmp_path / "out"), rate="steady")
    with pytest.raises(InputError, match="unknown rate"):
        write_report([broken], str(tmp_path / "out"), rate="median")
