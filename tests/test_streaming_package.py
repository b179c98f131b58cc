"""`ptcodec package`: a rank ladder as DASH and HLS, each rank byte for byte `ptcodec truncate`."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import m3u8
import numpy as np
import pytest
from mpegdash.parser import MPEGDASHParser

from ptcodec.cli import main
from ptcodec.errors import InputError
from ptcodec.jobs.truncate import truncate_file
from ptcodec.process.quant import quantize_keyframe
from ptcodec.ptv import Keyframe, Metadata, Padding, PtvReader, QuantScheme, SceneInit, Unit, serialize
from ptcodec.streaming.package import package_file
from tests.conftest import make_header, tiny_scene

RANK = 8
FRAMES = 100  # 3.33 s at 30 fps
INTERVAL = 10
SCENES = (0, 40, 70)  # scene starts; the second scene's keyframes are off the interval grid
KEYFRAMES = (0, 10, 20, 30, 40, 45, 55, 65, 70, 80, 90, 99)
PADDED = 45


def make_stream(path: Path, scheme: int = QuantScheme.PER_COMPONENT) -> Path:
    header = make_header(frame_count=FRAMES, tokens=6, embed_dim=12)
    rng = np.random.default_rng(0)
    units: list[Unit] = [Metadata((("title", b"package test"),))]  # a leading unit: in the init segment
    for frame in KEYFRAMES:
        if frame in SCENES:
            units.append(tiny_scene(header, frame))
        u = rng.standard_normal((header.tokens, RANK)).astype(np.float32)
        v = rng.standard_normal((RANK, header.embed_dim)).astype(np.float32)
        units.append(quantize_keyframe(frame, u, v, scheme))
        if frame == PADDED:
            units.append(Padding(7))  # part of keyframe 45's temporal unit
    path.write_bytes(serialize(header, units))
    return path


@pytest.fixture
def stream(tmp_path) -> Path:
    return make_stream(tmp_path / "in.ptv")


def test_each_rank_is_its_truncation_byte_for_byte(stream, tmp_path):
    result = package_file(stream, tmp_path / "pkg", ranks=(2, 4, RANK), segment_s=1.0)
    out = tmp_path / "pkg"
    assert not (tmp_path / "pkg.partial").exists()
    for rep in result.representations:
        joined = (out / rep.init).read_bytes() + b"".join((out / s.file).read_bytes() for s in rep.segments)
        truncate_file(stream, tmp_path / f"t{rep.rank}.ptv", rep.rank)
        assert joined == (tmp_path / f"t{rep.rank}.ptv").read_bytes(), rep.rank
        with PtvReader(out / rep.init) as reader:
            assert [type(r.unit) for r in reader.units()] == [type(reader.header), Metadata]
    top = result.representations[-1]
    assert (out / top.init).read_bytes() + b"".join((out / s.file).read_bytes() for s in top.segments) == \
        stream.read_bytes()
    assert len({tuple((s.first_frame, s.frames) for s in r.segments) for r in result.representations}) == 1


def test_segments_start_at_keyframes_with_their_scene_inits(stream, tmp_path):
    result = package_file(stream, tmp_path / "pkg", ranks=(4,), segment_s=0.5)
    segments = result.representations[0].segments
    # whole temporal units until a segment holds 15 frames (0.5 s at 30 fps); the last takes what is left
    # (10 frames: at least half a segment).
    # Unit durations 10 10 10 10 | 5 10 10 5 | 10 10 9 1 (frames), so segments 3 and 5 open scenes 40 and 70
    assert [(s.first_frame, s.frames) for s in segments] == [(0, 20), (20, 20), (40, 15), (55, 15), (70, 20), (90, 10)]
    out = tmp_path / "pkg"
    rep = result.representations[0]
    joined = (out / rep.init).read_bytes() + b"".join((out / s.file).read_bytes() for s in segments)
    with PtvReader(joined) as reader:
        records = list(reader.units())[1:]
    start = rep.init_bytes
    for s in segments:  # the units whose bytes lie in the segment's byte range
        units = [r.unit for r in records if start <= r.offset < start + s.bytes]
        assert all(r.offset + r.size <= start + s.bytes for r in records if start <= r.offset < start + s.bytes)
        start += s.bytes
        assert isinstance(units[0], (Keyframe, SceneInit)) and units[0].frame_index == s.first_frame
        assert s.starts_scene == isinstance(units[0], SceneInit) == (s.first_frame in SCENES)
        for i, unit in enumerate(units):
            if isinstance(unit, SceneInit):  # its keyframe follows it in the same segment
                assert isinstance(units[i + 1], Keyframe) and units[i + 1].frame_index == unit.frame_index
        assert [u.frame_index for u in units if isinstance(u, Keyframe)] == \
            [k for k in KEYFRAMES if s.first_frame <= k < s.first_frame + s.frames]
        assert any(isinstance(u, Padding) for u in units) == (s.first_frame <= PADDED < s.first_frame + s.frames)
    assert [s.starts_scene for s in segments] == [True, False, True, False, True, False]


def test_a_segment_boundary_falls_only_between_temporal_units(stream, tmp_path):
    result = package_file(stream, tmp_path / "pkg", segment_s=1.0)
    starts = [s.first_frame for s in result.representations[0].segments]
    # 30 frames a segment: units 0-30 | 30 40 45 55 (35 frames) | 65 70 80 90 99 (35: after 90, the one
    # frame left is under half a segment, so it does not get a segment of its own)
    assert starts == [0, 30, 65]
    assert result.representations[0].rank == RANK  # the default ladder: the stream's own rank
    assert set(starts) <= set(KEYFRAMES) and starts[0] == 0
    assert sum(s.frames for s in result.representations[0].segments) == FRAMES


def test_manifests_parse_back_to_the_index(stream, tmp_path):
    out = tmp_path / "pkg"
    assert main(["package", str(stream), str(out), "--ranks", "2,4,8", "--segment-seconds", "1"]) == 0
    index = json.loads((out / "index.json").read_text())
    tb = Fraction(*index["time_base"])
    reps = index["representations"]
    assert [r["rank"] for r in reps] == [2, 4, 8]
    for r in reps:
        segs = r["segments"]
        assert [s["bytes"] for s in segs] == [(out / s["file"]).stat().st_size for s in segs]
        rates = [Fraction(8 * s["bytes"]) / (s["frames"] * tb) for s in segs]
        assert r["bandwidth_peak_bps"] == -(-max(rates) // 1)
        assert r["bandwidth_mean_bps"] == -(-Fraction(8 * sum(s["bytes"] for s in segs)) / (FRAMES * tb) // 1)

    mpd = MPEGDASHParser.parse(str(out / "manifest.mpd"))
    (adaptation,) = mpd.periods[0].adaptation_sets
    assert adaptation.mime_type == "video/x-ptv" and adaptation.codecs == "ptv1"
    for node, r in zip(adaptation.representations, reps, strict=True):
        assert node.bandwidth == r["bandwidth_peak_bps"]
        (seglist,) = node.segment_lists
        assert seglist.initializations[0].source_url == r["init"]
        assert [u.media for u in seglist.segment_urls] == [s["file"] for s in r["segments"]]
        timeline = seglist.segment_timelines[0].Ss
        assert [Fraction(s.d, seglist.timescale) for s in timeline] == [s["frames"] * tb for s in r["segments"]]
        assert [Fraction(s.t, seglist.timescale) for s in timeline] == [s["first_frame"] * tb for s in r["segments"]]

    master = m3u8.load(str(out / "master.m3u8"))
    assert [p.uri for p in master.playlists] == [r["playlist"] for r in reps]
    for variant, r in zip(master.playlists, reps, strict=True):
        assert variant.stream_info.bandwidth == r["bandwidth_peak_bps"]
        assert variant.stream_info.average_bandwidth == r["bandwidth_mean_bps"]
        media = m3u8.load(str(out / r["playlist"]))
        assert media.is_endlist and len(media.segments) == len(r["segments"])
        assert [seg.duration for seg in media.segments] == [s["duration_s"] for s in r["segments"]]
        assert [float(s["frames"] * tb) for s in r["segments"]] == [s["duration_s"] for s in r["segments"]]
        assert media.segment_map[0].uri == Path(r["init"]).name
        for seg, s in zip(media.segments, r["segments"], strict=True):
            assert (out / r["playlist"]).parent / seg.uri == out / s["file"]


def test_a_per_tensor_stream_is_refused(tmp_path):
    stream = make_stream(tmp_path / "pt.ptv", QuantScheme.PER_TENSOR)
    with pytest.raises(InputError, match="quantized per tensor"):
        package_file(stream, tmp_path / "pkg")
    assert not (tmp_path / "pkg").exists() and not (tmp_path / "pkg.partial").exists()


def test_bad_inputs_and_outputs_are_one_line_errors(stream, tmp_path, capsys):
    assert main(["package", str(tmp_path / "missing.ptv"), str(tmp_path / "a")]) == 1
    assert main(["package", str(stream), str(tmp_path / "b"), "--ranks", "16"]) == 1
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    assert main(["package", str(stream), str(tmp_path / "full")]) == 1
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 3 and all(line.startswith("ptcodec: error: ") for line in lines), lines
    assert "missing.ptv: no such file" in lines[0]
    assert "rank 8" in lines[1] and "not empty" in lines[2]
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_an_empty_outdir_is_filled_and_a_stale_partial_of_ours_is_replaced(stream, tmp_path):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg.partial").mkdir()
    (tmp_path / "pkg.partial" / ".ptcodec-package").touch()
    (tmp_path / "pkg.partial" / "junk").touch()
    package_file(stream, tmp_path / "pkg")
    assert (tmp_path / "pkg" / "manifest.mpd").is_file() and not (tmp_path / "pkg" / "junk").exists()
    assert not (tmp_path / "pkg.partial").exists()


def test_an_outdir_that_is_a_file_is_refused(stream, tmp_path, capsys):
    (tmp_path / "file").write_text("mine")
    assert main(["package", str(stream), str(tmp_path / "file")]) == 1
    assert "not a directory" in capsys.readouterr().err
    assert (tmp_path / "file").read_text() == "mine" and not (tmp_path / "file.partial").exists()


def test_packaging_does_not_import_torch(stream, tmp_path):
    probe = ("import sys; from ptcodec.cli import main; status = main(sys.argv[1:]); "
             "print('torch' in sys.modules, status)")
    done = subprocess.run([sys.executable, "-c", probe, "package", str(stream), str(tmp_path / "pkg")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert done.stdout.split()[-2:] == ["False", "0"], done.stderr


def test_a_coded_stream_scheme_2_packages_as_its_truncations(tmp_path):
    from tests.test_recode import coded_ladder

    source = coded_ladder(tmp_path)
    result = package_file(source, tmp_path / "pkg", ranks=(1, 2, 4), segment_s=0.5)
    for rep in result.representations:
        joined = b"".join((tmp_path / "pkg" / f).read_bytes() for f in (rep.init, *(s.file for s in rep.segments)))
        truncate_file(source, tmp_path / f"t{rep.rank}.ptv", rep.rank)
        assert joined == (tmp_path / f"t{rep.rank}.ptv").read_bytes(), rep.rank


def test_a_stream_shorter_than_a_segment_is_one_segment(stream, tmp_path):
    (rep,) = package_file(stream, tmp_path / "pkg", segment_s=10).representations
    assert [(s.first_frame, s.frames, s.starts_scene) for s in rep.segments] == [(0, FRAMES, True)]


def test_a_file_that_is_not_a_stream_is_a_one_line_error(tmp_path, capsys):
    (tmp_path / "junk.ptv").write_bytes(b"not a ptv stream at all")
    assert main(["package", str(tmp_path / "junk.ptv"), str(tmp_path / "pkg")]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("ptcodec: error: ") and "junk.ptv" in line
    assert not (tmp_path / "pkg").exists() and not (tmp_path / "pkg.partial").exists()


def test_a_failure_midway_leaves_no_package_and_no_partial(stream, tmp_path, monkeypatch):
    import ptcodec.streaming.package as package

    def fail(result):
        raise OSError("disk full")

    monkeypatch.setattr(package, "mpd_text", fail)
    with pytest.raises(OSError, match="disk full"):
        package_file(stream, tmp_path / "pkg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ptv"]
