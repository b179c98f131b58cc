"""Pixel ladders packaged as prompt ladders are (ptcodec.streaming.pixel), per-frame quality of a package
(ptcodec.streaming.quality), and simulate-abr's share of badly distorted frames from it."""

from __future__ import annotations

import json
from pathlib import Path

import av
import m3u8
import numpy as np
import pytest
from mpegdash.parser import MPEGDASHParser

from ptcodec.cli import main
from ptcodec.errors import InputError
from ptcodec.media import VideoWriter, load_clip
from ptcodec.metrics import psnr
from ptcodec.streaming.ladder import labels_of, load_ladder, ranks_of
from ptcodec.streaming.package import package_file
from ptcodec.streaming.pixel import FORMATS, package_pixel, parse_rates
from ptcodec.streaming.quality import load_quality, package_quality, parse_bad, write_quality

FRAMES, SIDE = 40, 64  # 1.33 s at 30 fps; segments of 0.5 s: 15, 15 and 10 frames
RATES = (150.0, 300.0)


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """A moving, textured clip (random texture, so every rate of the ladder is reachable)."""
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    rng = np.random.default_rng(0)
    texture = rng.integers(0, 256, (SIDE * 2, SIDE * 3, 3), dtype=np.uint8)
    with VideoWriter(path, 30) as writer:
        for i in range(FRAMES):
            writer.write(np.ascontiguousarray(texture[i:i + SIDE, 2 * i:2 * i + SIDE]))
    return path


@pytest.fixture(scope="module", params=sorted(FORMATS))
def pixel_package(request, clip, tmp_path_factory) -> tuple[str, Path]:
    out = tmp_path_factory.mktemp("pixel") / "pkg"
    package_pixel(clip, out, codec=request.param, kbps=RATES, segment_s=0.5)
    return request.param, out


def count_frames(data: bytes, demuxer: str, tmp_path: Path) -> int:
    path = tmp_path / f"alone.{demuxer}"
    path.write_bytes(data)
    with av.open(str(path), format=demuxer) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_each_segment_decodes_alone_to_its_frames(pixel_package, tmp_path):
    codec, out = pixel_package
    demuxer = FORMATS[codec].demuxer
    index = json.loads((out / "index.json").read_text())
    assert not out.with_name("pkg.partial").exists()
    assert [len(r["segments"]) for r in index["representations"]] == [3, 3]
    for rep in index["representations"]:
        assert rep["codec"] == codec and "rank" not in rep
        segments = rep["segments"]
        assert [(s["first_frame"], s["frames"]) for s in segments] == [(0, 15), (15, 15), (30, 10)]
        init = (out / rep["init"]).read_bytes()
        for seg in segments:
            data = (out / seg["file"]).read_bytes()
            assert len(data) == seg["bytes"]
            assert count_frames(data, demuxer, tmp_path) == seg["frames"], seg["file"]  # alone
            assert count_frames(init + data, demuxer, tmp_path) == seg["frames"], seg["file"]  # after its init
        assert 0 < len(init) == rep["init_bytes"] < segments[0]["bytes"]
        assert (out / segments[0]["file"]).read_bytes().startswith(init)


def test_rates_are_near_their_targets(pixel_package):
    codec, out = pixel_package
    index = json.loads((out / "index.json").read_text())
    reps = index["representations"]
    assert [r["label"] for r in reps] == [f"{codec}-150k", f"{codec}-300k"]
    for rep, target in zip(reps, RATES, strict=True):
        seconds = sum(s["frames"] for s in rep["segments"]) / 30
        kbps = sum(s["bytes"] for s in rep["segments"]) * 8 / 1000 / seconds
        assert abs(kbps / target - 1) < 0.05, (rep["label"], kbps)
        assert abs(rep["bandwidth_mean_bps"] / 1000 / kbps - 1) < 1e-3
        assert rep["encoder_settings"]["encoder"] == f"lib{codec}"


def test_the_ladder_reads_a_pixel_package_in_rate_order(pixel_package):
    codec, out = pixel_package
    ladder = load_ladder(out)
    index = json.loads((out / "index.json").read_text())
    assert ladder.bitrates_kbps == tuple(r["bandwidth_mean_bps"] / 1000 for r in index["representations"])
    assert ladder.sizes == tuple(tuple(s["bytes"] for s in r["segments"]) for r in index["representations"])
    assert labels_of(out) == [f"{codec}-150k", f"{codec}-300k"] and ranks_of(out) == []


def test_mpd_and_hls_parse_back(pixel_package):
    codec, out = pixel_package
    fmt = FORMATS[codec]
    index = json.loads((out / "index.json").read_text())
    mpd = MPEGDASHParser.parse(str(out / "manifest.mpd"))
    adaptation = mpd.periods[0].adaptation_sets[0]
    assert adaptation.mime_type == fmt.mime_type and adaptation.codecs == fmt.codecs
    for node, rep in zip(adaptation.representations, index["representations"], strict=True):
        assert node.id == rep["label"] and node.bandwidth == rep["bandwidth_peak_bps"]
        segment_list = node.segment_lists[0]
        assert segment_list.initializations[0].source_url == rep["init"]
        assert [u.media for u in segment_list.segment_urls] == [s["file"] for s in rep["segments"]]
        assert [s.d for s in segment_list.segment_timelines[0].Ss] == [s["frames"] for s in rep["segments"]]
    master = m3u8.load(str(out / "master.m3u8"))
    assert [p.uri for p in master.playlists] == [r["playlist"] for r in index["representations"]]
    assert [p.stream_info.codecs for p in master.playlists] == [fmt.codecs] * 2
    for rep in index["representations"]:
        media = m3u8.load(str(out / rep["playlist"]))
        assert [s.uri for s in media.segments] == [Path(s["file"]).name for s in rep["segments"]]
        assert [round(s.duration * 30) for s in media.segments] == [s["frames"] for s in rep["segments"]]


def one_line_error(capsys, *args: str) -> str:
    assert main(list(args)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ptcodec: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def test_bad_codec_and_rates_are_one_line_errors(clip, tmp_path, capsys):
    out = str(tmp_path / "out")
    assert "x264, x265" in one_line_error(capsys, "package", str(clip), out, "--codec", "x266", "--kbps", "100")
    assert "x264, x265" in one_line_error(capsys, "package", str(clip), out, "--codec", "svtav1", "--kbps", "100")
    assert "separated by commas" in one_line_error(capsys, "package", str(clip), out, "--codec", "x265",
                                                   "--kbps", "100,fast")
    assert "positive" in one_line_error(capsys, "package", str(clip), out, "--codec", "x265", "--kbps", "100,0")
    assert "positive" in one_line_error(capsys, "package", str(clip), out, "--codec", "x265", "--kbps", "nan")
    assert "same kbit/s" in one_line_error(capsys, "package", str(clip), out, "--codec", "x265",
                                           "--kbps", "100,100.2")
    assert "at least one rate" in one_line_error(capsys, "package", str(clip), out, "--codec", "x265")
    assert "--ranks is for a prompt ladder" in one_line_error(capsys, "package", str(clip), out, "--codec", "x265",
                                                              "--kbps", "100", "--ranks", "4")
    assert "no such file" in one_line_error(capsys, "package", str(clip), out, "--align", str(tmp_path / "none"),
                                            "--kbps", "100")
    assert not Path(out).exists() and not Path(out + ".partial").exists()
    with pytest.raises(InputError):
        parse_rates("")


@pytest.fixture(scope="module")
def prompt_package(clip, tmp_path_factory) -> tuple[Path, Path]:
    """A real rank-scalable stream of the reference generator (ranks 2 and 4, few fitting steps), packaged."""
    from ptcodec.encoder import Encoder, FitOptions, StreamOptions
    from ptcodec.generators import load_generator

    folder = tmp_path_factory.mktemp("prompt")
    frames = load_clip(clip, size=SIDE).frames
    encoder = Encoder(load_generator("reference"), StreamOptions(ranks=(2, 4), interval=5),
                      FitOptions(first_steps=2, later_steps=1), width=SIDE, height=SIDE, fps=30,
                      frame_count=len(frames))
    data = encoder.codec_private
    for frame in [*frames, None]:
        data += b"".join(p.data for p in encoder.encode(frame))
    (folder / "in.ptv").write_bytes(data)
    package_file(folder / "in.ptv", folder / "pkg", ranks=(2, 4), segment_s=0.5)
    return folder / "in.ptv", folder / "pkg"


def test_a_pixel_ladder_aligns_to_a_prompt_package(clip, prompt_package, tmp_path):
    _, prompt = prompt_package
    out = tmp_path / "aligned"
    assert main(["package", str(clip), str(out), "--codec", "x265", "--align", str(prompt)]) == 0
    prompt_index, index = (json.loads((p / "index.json").read_text()) for p in (prompt, out))
    cut = [(s["first_frame"], s["frames"]) for s in prompt_index["representations"][0]["segments"]]
    assert len(cut) > 1
    for rep, prompt_rep in zip(index["representations"], prompt_index["representations"], strict=True):
        assert [(s["first_frame"], s["frames"]) for s in rep["segments"]] == cut
        target = prompt_rep["bandwidth_mean_bps"] / 1000  # the default rates: the prompt ladder's
        assert rep["encoder_settings"]["target_kbps"] == pytest.approx(target)
    assert index["time_base"] == prompt_index["time_base"]


def test_quality_of_a_pixel_package_per_segment_and_frame(pixel_package, clip):
    codec, out = pixel_package
    data = package_quality(out, clip, metrics=("psnr",))
    source = load_clip(clip, size=SIDE).frames
    index = json.loads((out / "index.json").read_text())
    means = []
    for rep, measured in zip(index["representations"], data["representations"], strict=True):
        assert measured["id"] == rep["label"] and measured["codec"] == codec
        values = []
        for seg, per_frame in zip(rep["segments"], measured["segments"], strict=True):
            decoded = FORMATS[codec].demuxer
            with av.open(str(out / seg["file"]), format=decoded) as container:  # PyAV alone, not the adapter
                images = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
            expected = [psnr(source[seg["first_frame"] + i], image) for i, image in enumerate(images)]
            assert len(per_frame["psnr"]) == seg["frames"] == len(expected)
            assert np.allclose(per_frame["psnr"], expected, atol=0.5)  # colour conversions differ slightly
            values += per_frame["psnr"]
        means.append(np.mean(values))
    assert means[0] < means[1]  # more bits, better pictures
    assert data["generator"] is None and "psnr" in data["implementations"]


def test_quality_of_a_prompt_package_decodes_each_rank(prompt_package, clip):
    from ptcodec.decoder import Decoder
    from ptcodec.generators import load_generator
    from ptcodec.jobs.truncate import truncate_file
    from ptcodec.ptv import PtvReader

    stream, prompt = prompt_package
    data = package_quality(prompt, clip, metrics=("psnr",))
    generator = load_generator("reference")
    assert data["generator"]["id"] == "reference"
    assert data["generator"]["fingerprint"] == generator.fingerprint().hex()
    assert "not Promptus quality" in data["generator"]["note"]
    source = load_clip(clip, size=SIDE).frames
    for measured, rank in zip(data["representations"], (2, 4), strict=True):
        assert measured["rank"] == rank
        cut = stream.with_name(f"r{rank}.ptv")
        truncate_file(stream, cut, rank)
        with PtvReader(cut) as reader:
            images = [f.image for f in Decoder(reader.header, generator).decode_range(reader.packets())]
        expected = [psnr(a, b) for a, b in zip(source, images, strict=True)]
        assert [v for seg in measured["segments"] for v in seg["psnr"]] == pytest.approx(expected)


def test_simulate_abr_reports_the_share_of_bad_frames(pixel_package, clip, tmp_path, capsys):
    _, out = pixel_package
    quality = tmp_path / "quality.json"
    write_quality(package_quality(out, clip, metrics=("psnr",)), quality)
    trace = tmp_path / "flat.txt"
    trace.write_text("".join(f"{t} 0.05\n" for t in range(60)))  # 50 kbit/s: the ABR keeps to the lowest rate
    result = tmp_path / "sim.json"
    psnr_values = load_quality(quality, labels_of(out), "psnr")
    threshold = float(np.median([v for seg in psnr_values[0] for v in seg]))
    assert main(["simulate-abr", str(out), str(trace), "--abr", "bb", "--quality", str(quality),
                 "--bad", f"psnr<{threshold}", "--out", str(result), "-q"]) == 0
    assert "bad psnr<" in capsys.readouterr().out
    session = json.loads(result.read_text())["abrs"]["bb"][0]
    shown = [v for log in session["segments"] for v in psnr_values[log["rep"]][log["segment"]]]
    assert session["bad_frame_share"] == pytest.approx(sum(v < threshold for v in shown) / len(shown))
    assert 0 < session["bad_frame_share"] < 1
    assert "go together" in one_line_error(capsys, "simulate-abr", str(out), str(trace), "--quality", str(quality))
    assert "METRIC>VALUE" in one_line_error(capsys, "simulate-abr", str(out), str(trace), "--quality", str(quality),
                                            "--bad", "psnr=3")
    assert "has no 'lpips-vgg'" in one_line_error(capsys, "simulate-abr", str(out), str(trace), "--quality",
                                                  str(quality), "--bad", "lpips-vgg>0.32")


def test_bad_rules_parse():
    rule = parse_bad("lpips-vgg>0.32")
    assert (rule.metric, rule.threshold, rule.higher_is_better) == ("lpips-vgg", 0.32, False)
    rule = parse_bad("psnr < 25")
    assert (rule.metric, rule.threshold, rule.higher_is_better) == ("psnr", 25.0, True)
    for text in ("psnr", "psnr<", "psnr<x", "<3", "psnr<nan"):
        with pytest.raises(InputError):
            parse_bad(text)
