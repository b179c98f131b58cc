"""Compute (issue 16): a prompt chunk never plays before it is generated, and the scheduler's generator
model is the session's. Hand-made videos on an 8 Mbit/s link (950 payload bytes per ms, 80 ms RTT)."""

from __future__ import annotations

import pytest

from ptcodec.preload.compute import ComputeSession, chunk_generation_ms
from ptcodec.preload.network import Link
from ptcodec.preload.session import Session
from ptcodec.preload.solutions import GeneratorQueue, SearchScheduler
from ptcodec.preload.solutions.search import AMPLE_KBPS
from ptcodec.preload.videos import Video
from tests.conftest import SHARED_DATA

PROMPT = 3  # the first prompt level


def video(name: str, n: int, pixel: int = 95_000, prompt: int = 9_500) -> Video:
    shares = tuple(1.0 - i / (2 * n) for i in range(n + 1)) + (0.0,)
    sizes = ((pixel,) * n, (pixel * 3 // 2,) * n, (pixel * 2,) * n, (prompt,) * n)
    return Video(name, sizes, tuple(float(i) for i in range(n + 2)), shares, (750, 1200, 1850, 1200))


def link() -> Link:
    return Link([0.0, 1000.0], [0.0, 8.0])


def test_generation_time_per_chunk() -> None:
    assert chunk_generation_ms(15, 30) == 2000
    assert chunk_generation_ms(60, 30) == 500


def test_a_prompt_chunk_waits_for_its_generation() -> None:
    """Fetch chunk 0 as a prompt (9,500 bytes: 10 + 80 ms, a startup stall), then sleep 3 s with a generator
    taking 2 s per chunk: 2 s more of stall, then 1 s of play. As pixels, the sleep would play at once."""
    vids, watch = [video("a", 2)], [2000.0]
    compute = ComputeSession(vids, watch, link(), chunk_gen_ms=2000)
    compute.step((0, PROMPT, 0))
    assert compute.queue[0].buffer_ms == 0 and compute.result.stall_ms == 90
    compute.step((0, 0, 3000))
    assert compute.result.stall_ms == 90 + 2000
    assert compute.queue[0].played_ms == 1000
    assert compute.generated == [(0, 0, 90 + 2000)]
    pixels = Session(vids, watch, link())
    pixels.step((0, 0, 0))
    pixels.step((0, 0, 3000))
    assert pixels.queue[0].played_ms == 1000 and pixels.result.stall_ms == 180 + 2000  # 100 ms fetch, then dry


def test_a_pixel_chunk_behind_a_prompt_chunk_waits_too() -> None:
    compute = ComputeSession([video("a", 3)], [3000.0], link(), chunk_gen_ms=5000)
    compute.step((0, PROMPT, 0))
    compute.step((0, 0, 0))  # chunk 1 as pixels, arrives long before chunk 0 is generated
    assert compute.queue[0].buffer_ms == 0
    compute.step((0, 0, 5000))
    assert compute.queue[0].played_ms > 0 and compute.generated


class Checked(ComputeSession):
    """After every step: no video has played or buffered past its chunks that are playable."""

    def step(self, decision):
        outcome = super().step(decision)
        made = {(v, c) for v, c, _ in self.generated}
        for state in self.queue:
            playable = 0
            for i, level in enumerate(state.levels[: state.downloaded]):
                if level >= PROMPT and (state.index, i) not in made:
                    break
                playable += 1
            assert state.played_ms + state.buffer_ms <= playable * 1000 + 1e-6
        return outcome


@pytest.mark.parametrize("fps", [10, 30, 90])
def test_no_prompt_chunk_plays_before_it_is_generated(fps: float) -> None:
    vids = [video(str(i), 6) for i in range(4)]
    session = Checked(vids, [5500.0, 2500.0, 4200.0, 6000.0], link(), chunk_gen_ms=chunk_generation_ms(fps, 30))
    result = session.run(SearchScheduler((1200,), chunk_generation_ms(fps, 30), budget_ms=1e9))
    assert session.prompt_chunks > 0 and session.finished and result.steps > 0


@pytest.mark.parametrize("ample_kbps", [None, AMPLE_KBPS])
@pytest.mark.parametrize("fps", [30, 45])
def test_the_schedulers_generator_mirror_is_the_sessions(fps: float, ample_kbps: float | None) -> None:
    """Drive a session and the prompt scheduler step by step: after each decision both generators hold the
    same running chunk (with its finishing time) and the same waiting chunks, swipes included. The 8-Mbit/s
    link is ample bandwidth: with the threshold (the default) the scheduler plans in its ample regime."""
    gen_ms = chunk_generation_ms(fps, 30)
    vids = [video(str(i), 5) for i in range(7)]
    watch = [1500.0, 4500.0, 700.0, 5000.0, 300.0, 2000.0, 3000.0]
    session = ComputeSession(vids, watch, link(), chunk_gen_ms=gen_ms)
    scheduler = SearchScheduler((1200,), gen_ms, budget_ms=1e9, ample_kbps=ample_kbps)
    decision = scheduler.run(0, 0, 0, False, 0, session.players(), True)
    compared = 0
    while not session.finished:
        out = session.step(decision)
        if session.finished:
            break
        decision = scheduler.run(out.delay_ms, out.rebuf_ms, out.video_size, out.end_of_video, out.play_video_id,
                                 session.players(), False)
        mine, theirs = scheduler.generator, session.generator
        assert mine.running == theirs.running
        assert sorted(mine.waiting) == sorted(theirs.waiting)
        compared += mine.running is not None
    assert compared > 3 and session.prompt_chunks > 3
    if fps == 45 and ample_kbps is None:
        assert session.generator.dropped > 0  # a swipe dropped queued chunks, and the mirror followed


def test_generator_order_and_drop() -> None:
    gen = GeneratorQueue(100)
    gen.add(2, 0, 0)
    gen.add(1, 0, 10)
    gen.add(1, 1, 20)
    gen.add(2, 1, 30)
    assert gen.drain() == [(2, 0, 100), (1, 0, 200), (1, 1, 300), (2, 1, 400)]
    gen.advance(150)
    gen.drop_before(2)
    assert gen.drain() == [(1, 0, 200), (2, 1, 300)]  # the chunk being made runs on; video 1's next is dropped


def test_without_prompt_chunks_the_session_is_the_challenges() -> None:
    from ptcodec.preload.baselines import NoSave

    vids = [video(str(i), 6) for i in range(3)]
    watch = [3500.0, 6000.0, 1200.0]
    plain = Session(vids, watch, link()).run(NoSave())
    compute = ComputeSession(vids, watch, link(), chunk_gen_ms=1000).run(NoSave())
    assert compute == plain


@pytest.mark.skipif(not (SHARED_DATA / "traces" / "svsc_network").is_dir(), reason="the challenge data is not in ../shared/data")
def test_a_generator_of_fractional_ms_per_chunk_does_not_hang_the_session() -> None:
    """At G = 90 a chunk takes 333.3 ms: a step cut at a fractional completion once left a remainder too small
    to move playback (high/2 looped forever)."""
    from ptcodec.preload.experiment import Setup, run_one
    from ptcodec.preload.prompts import PromptLadder
    from ptcodec.preload.runner import session_videos
    from ptcodec.preload.users import RetentionUsers
    from ptcodec.preload.videos import load_catalogue

    videos = session_videos(load_catalogue(SHARED_DATA / "short_video"))
    trace = SHARED_DATA / "traces" / "svsc_network" / "high" / "2"
    outcome = run_one(Setup("search_prompts", 90.0, PromptLadder()), trace, videos, RetentionUsers())
    assert outcome.result.steps > 0 and not outcome.result.stuck


def test_the_compute_simulator_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = ("import sys, ptcodec.preload.experiment, ptcodec.preload.report; "
            "from ptcodec.preload.prompts import keyframe_unit_bytes; keyframe_unit_bytes(8); "
            "assert 'torch' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
