"""The codec end to end on the reference generator: transcode, decode, scene
cuts, rank ladders, truncation, and the closed loop (the decoder's frames are
the encoder's reconstruction, bit for bit)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from ptcodec.decoder import DecodedFrame
from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.jobs.decode import decode_file
from ptcodec.jobs.transcode import transcode_file
from ptcodec.jobs.truncate import truncate_file
from ptcodec.media import load_clip, write_video
from ptcodec.metrics import psnr
from ptcodec.ptv import Keyframe, PtvReader, SceneInit
from tests.conftest import SHARED_DATA

SIZE = (64, 64)
QUICK = dict(first_steps=150, later_steps=60, lr=0.1, quality="fast")


@pytest.fixture(scope="module")
def gen() -> ReferenceGenerator:
    torch.set_num_threads(2)
    return ReferenceGenerator()


def write_clip(path, frames: np.ndarray) -> str:
    write_video(path, frames, Fraction(30), codec="ffv1")
    return str(path)


def decode_frames(path, tmp_path) -> list[DecodedFrame]:
    frames: list[DecodedFrame] = []
    decode_file(path, tmp_path / f"{path.stem}.mkv", on_frame=frames.append)
    return frames


def mean_psnr(frames: list[DecodedFrame], source: np.ndarray) -> float:
    return float(np.mean([min(psnr(f.image, source[f.index]), 99.0) for f in frames]))


def test_reachable_content_round_trip_and_closed_loop(gen, tmp_path):
    clip = reachable_clip(gen, frames=10, size=SIZE, interval=3, seed=1)
    source = write_clip(tmp_path / "in.mkv", clip)
    closed_loop: list[DecodedFrame] = []
    result = transcode_file(source, tmp_path / "out.ptv", StreamOptions(interval=3), FitOptions(**QUICK), size=SIZE,
                            on_frame=closed_loop.append)
    decoded = decode_frames(tmp_path / "out.ptv", tmp_path)
    assert [f.index for f in decoded] == list(range(10))
    for ours, theirs in zip(closed_loop, decoded, strict=True):
        assert np.array_equal(ours.image, theirs.image), f"frame {ours.index}"
    assert mean_psnr(decoded, clip) >= 35.0
    assert result.report.psnr == pytest.approx([min(psnr(f.image, clip[f.index]), 1e9) for f in decoded])
    # The written video holds exactly the decoded frames (FFV1 is lossless).
    written = load_clip(tmp_path / "out.mkv").frames
    assert np.array_equal(written, np.stack([f.image for f in decoded]))


def test_scene_cut_gets_a_scene_init_unit_and_no_ghosts(gen, tmp_path):
    first = reachable_clip(gen, frames=5, size=SIZE, interval=3, seed=2)
    second = reachable_clip(gen, frames=5, size=SIZE, interval=3, seed=3)
    clip = np.concatenate([first, second])
    source = write_clip(tmp_path / "cut.mkv", clip)
    transcode_file(source, tmp_path / "cut.ptv", StreamOptions(interval=3), FitOptions(**QUICK), size=SIZE)
    with PtvReader(tmp_path / "cut.ptv") as reader:
        units = [r.unit for r in reader.units()]
    assert [u.frame_index for u in units if isinstance(u, SceneInit)] == [0, 5]
    assert [u.frame_index for u in units if isinstance(u, Keyframe)] == [0, 3, 4, 5, 8, 9]
    decoded = decode_frames(tmp_path / "cut.ptv", tmp_path)
    for frame in decoded[5:]:
        ghost = psnr(frame.image, first[-1])
        own = psnr(frame.image, second[frame.index - 5])
        assert own >= 30.0 and own > ghost + 10, (frame.index, own, ghost)


def test_rank_ladder_truncates_to_streams_that_lose_quality_monotonically(gen, tmp_path):
    clip = reachable_clip(gen, frames=7, size=SIZE, interval=3, rank=8, seed=4)
    source = write_clip(tmp_path / "in.mkv", clip)
    transcode_file(source, tmp_path / "r8.ptv", StreamOptions(ranks=(2, 4, 8), interval=3), FitOptions(**QUICK), size=SIZE)
    scores, sizes = {}, {}
    for rank in (8, 4, 2):
        path = tmp_path / f"r{rank}.ptv"
        if rank != 8:
            result = truncate_file(tmp_path / "r8.ptv", path, rank)
            assert result.truncated == result.keyframes == 3
        with PtvReader(path) as reader:
            keyframes = [r.unit for r in reader.units() if isinstance(r.unit, Keyframe)]
        assert {k.rank for k in keyframes} == {rank}
        scores[rank] = mean_psnr(decode_frames(path, tmp_path), clip)
        sizes[rank] = path.stat().st_size
    assert scores[8] >= scores[4] >= scores[2], scores
    assert sizes[8] > sizes[4] > sizes[2]


def test_real_clip_runs_and_its_bitrate_is_the_payload_arithmetic(gen, tmp_path):
    sky = SHARED_DATA / "clips" / "sky_512.mp4"
    if not sky.exists():
        pytest.skip(f"{sky} not found (shared data is beside the repo, not in it)")
    options = StreamOptions(ranks=(4,), interval=2), FitOptions(first_steps=30, later_steps=15, lr=0.1)
    result = transcode_file(sky, tmp_path / "sky.ptv", *options, size=(128, 128), max_frames=5)
    r = result.report
    assert r.frames == 5 and len(r.psnr) == 5 and all(np.isfinite(r.psnr))
    assert [k.frame for k in r.keyframes] == [0, 2, 4]
    # Bytes: signature + sequence header + metadata + scene init + 3 keyframes, each
    # keyframe payload 6 + 16 + m r + r n (spec 7.2) and the latent 4 x 16 x 16 x f32.
    with PtvReader(tmp_path / "sky.ptv") as reader:
        records = list(reader.units())
    keyframe_payload = 6 + 16 + 77 * 4 + 4 * 1024
    for record in records:
        if isinstance(record.unit, Keyframe):
            assert len(record.unit.u) + len(record.unit.v) + 22 == keyframe_payload
    assert 8 + sum(rec.size for rec in records) == result.bytes
    assert result.kbps == pytest.approx(result.bytes * 8 / 1000 / (5 / 30))
    assert sum(k.bytes for k in r.keyframes) == sum(rec.size for rec in records if rec.index >= 2)


def test_the_encoders_level_admits_its_frame_count_and_keyframe_interval(gen):
    from ptcodec.encoder.encoder import make_header
    from ptcodec.errors import LimitExceededError
    from ptcodec.ptv import LEVELS, rules

    def level(frame_count: int, interval: int = 10) -> int:
        header = make_header(gen, StreamOptions(interval=interval), 64, 64, Fraction(30), frame_count)
        rules.check_sequence_header(header)
        return header.level

    assert level(0) == level(LEVELS[1].max_frame_count) == 1
    assert level(LEVELS[1].max_frame_count + 1) == 2
    assert level(0, interval=LEVELS[1].max_frame_gap + 1) == 2
    assert level(20, interval=LEVELS[1].max_frame_gap + 1) == 1  # 20 frames: no temporal unit is longer
    with pytest.raises(LimitExceededError, match="frames"):
        level(LEVELS[4].max_frame_count + 1)
