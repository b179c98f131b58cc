"""Prompt chunk sizes come from the PTV format (issue 16, item 2): each figure checked against an independent one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ptcodec.preload import prompts
from ptcodec.preload.prompts import PromptLadder, keyframe_unit_bytes, keyframes_in_chunk, with_prompts
from ptcodec.preload.videos import Video
from tests.conftest import SHARED_DATA

CODING_JSON = Path(__file__).resolve().parents[1] / "benchmarks" / "results" / "coding.json"


def test_keyframe_bytes_hold_the_factor_codes_of_the_rank() -> None:
    """77·r + r·1024 code bytes (the spec's keyframe syntax at 77 x 1024) plus an overhead that does not grow with r."""
    overheads = set()
    for rank in (1, 4, 8, 16):
        size = keyframe_unit_bytes(rank)
        overheads.add(size - 1101 * rank)
        assert 1101 * rank < size < 1101 * rank + 40
    assert len(overheads) <= 2  # the payload-size varint gains a byte past 16 KiB


def test_rank_8_matches_the_released_sky_prompts_as_imported() -> None:
    """benchmarks/bench_coding.py measured the authors' 15 rank-8 keyframes and scene init, imported as 1.0."""
    sky = json.loads(CODING_JSON.read_text())["sky_import"]
    keyframes = sky["1.0"]["by_kind"]["keyframe"]
    assert keyframe_unit_bytes(8) * keyframes["units"] == keyframes["total"]
    assert prompts.SCENE_INIT_F32_BYTES == sky["1.0"]["by_kind"]["scene_init"]["total"]
    assert prompts.SKY_KEYFRAME_BYTES_11 == sky["1.1"]["by_kind"]["keyframe"]["total"]
    assert prompts.SCENE_INIT_U8_CODED_BYTES == sky["1.1_u8c8"]["by_kind"]["scene_init"]["total"]


@pytest.mark.skipif(not (SHARED_DATA / "promptus_official" / "sky").is_dir(), reason="the sky prompts are not in ../shared/data")
def test_coded_sizes_remeasured_on_the_sky_prompts(tmp_path: Path) -> None:
    from ptcodec.interop.promptus import import_promptus
    from ptcodec.jobs.recode import recode_file
    from ptcodec.ptv import PtvReader
    from ptcodec.ptv.summary import summarize

    def kinds(path: Path) -> dict:
        with PtvReader(path) as reader:
            return summarize(reader.header, reader.units()).by_kind

    import_promptus(SHARED_DATA / "promptus_official" / "sky", tmp_path / "a.ptv")
    recode_file(tmp_path / "a.ptv", tmp_path / "b.ptv", "1.0")
    recode_file(tmp_path / "b.ptv", tmp_path / "c.ptv", "1.1", latent="u8-coded", latent_bits=8)
    raw, coded = kinds(tmp_path / "b.ptv"), kinds(tmp_path / "c.ptv")
    assert raw["keyframe"].total == prompts.SKY_KEYFRAME_BYTES_10
    assert coded["keyframe"].total == prompts.SKY_KEYFRAME_BYTES_11
    assert coded["scene_init"].total == prompts.SCENE_INIT_U8_CODED_BYTES


@pytest.mark.parametrize(("fps", "interval"), [(30, 10), (25, 10), (30, 7), (24, 12)])
def test_keyframes_per_chunk_count_the_multiples_of_the_interval(fps: int, interval: int) -> None:
    for chunk in range(6):
        brute = sum(1 for f in range(chunk * fps, (chunk + 1) * fps) if f % interval == 0)
        assert keyframes_in_chunk(chunk, fps, interval) == brute


def test_prompt_levels_follow_the_pixel_levels() -> None:
    video = Video("v", ((100, 100, 100),) * 3, (0.0, 1.0, 2.0, 3.0, 4.0), (1.0, 0.8, 0.5, 0.2, 0.0))
    for coding, init in (("1.0", 65_550), ("1.1", 13_724)):
        ladder = PromptLadder(coding=coding)
        out = with_prompts(video, ladder)
        assert out.kbps == (750, 1200, 1850, 750, 1200, 1850)
        rank8 = out.sizes[4]
        key = ladder.keyframe_bytes(8)
        assert rank8 == (3 * key + init, 3 * key, 3 * key)
        assert key == (8833 if coding == "1.0" else round(8833 * 115_241 / 132_495))


def test_a_rank_without_a_quality_value_is_refused() -> None:
    from ptcodec.errors import InputError

    with pytest.raises(InputError, match="H.265-equivalent"):
        PromptLadder(ranks=(4, 32))
