"""The search scheduler (issue 16, items 3-4): the challenge interface's assertions and the time budget."""

from __future__ import annotations

import ast
import itertools
import sys
from pathlib import Path

import pytest

from ptcodec.preload.session import Session
from ptcodec.preload.solutions import DashletStyle, PdasStyle, SearchPixels, SearchScheduler
from ptcodec.preload.solutions import search as search_module
from tests.test_preload_compute import link, video


class Audited:
    """Wraps an Algorithm and checks each decision as the challenge's simulator asserts it."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.decisions: list[tuple[int, int, float]] = []

    def Initialize(self) -> None:  # noqa: N802
        self.inner.Initialize()

    def run(self, delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False):  # noqa: N803
        video_id, level, sleep = self.inner.run(delay, rebuf, video_size, end_of_video, play_video_id, Players,
                                                first_step)
        assert play_video_id <= video_id < play_video_id + len(Players)
        assert level in (0, 1, 2)
        assert sleep >= 0
        if sleep == 0:
            assert Players[video_id - play_video_id].get_remain_video_num() > 0
        self.decisions.append((video_id, level, sleep))
        return video_id, level, sleep


@pytest.mark.parametrize("make", [SearchPixels, PdasStyle, DashletStyle])
def test_decisions_respect_the_challenge_interface(make) -> None:
    vids = [video(str(i), n) for i, n in enumerate((8, 3, 12, 5, 7, 4, 9))]
    watch = [7200.0, 1000.0, 11999.0, 300.0, 7000.0, 2500.0, 4100.0]
    algorithm = Audited(make())
    algorithm.Initialize()
    result = Session(vids, watch, link()).run(algorithm)
    assert result.steps == len(algorithm.decisions) and any(s == 0 for _, _, s in algorithm.decisions)


class FakeClock:
    """Each reading is `step_ms` later than the last."""

    def __init__(self, step_ms: float) -> None:
        self.ticks = itertools.count()
        self.step_s = step_ms / 1000

    def __call__(self) -> float:
        return next(self.ticks) * self.step_s


def _players():
    session = Session([video(str(i), 6) for i in range(5)], [5000.0] * 5, link())
    session.step((0, 0, 0))
    return session.players()


def test_the_time_budget_stops_the_search() -> None:
    """A clock that moves 6 ms per reading: the 10 ms budget lets the second ply start (6 ms) but not the
    third (12 ms); with no limit all three plies run."""
    limited = SearchScheduler(depth=3, budget_ms=10, clock=FakeClock(6))
    limited.plan(_players())
    assert (limited.last_depth, limited.over_budget) == (2, 1)
    unlimited = SearchScheduler(depth=3, budget_ms=1e9, clock=FakeClock(6))
    unlimited.plan(_players())
    assert (unlimited.last_depth, unlimited.over_budget) == (3, 0)


def test_the_first_ply_is_always_complete() -> None:
    scheduler = SearchScheduler(depth=3, budget_ms=0, clock=FakeClock(1000))
    q, level, sleep = scheduler.plan(_players())
    assert scheduler.last_depth == 1 and 0 <= q < 5 and 0 <= level <= 2


def test_the_default_budget_is_10_ms() -> None:
    assert SearchPixels().budget_ms == 10


def test_the_challenge_file_imports_only_the_standard_library_and_numpy() -> None:
    tree = ast.parse(Path(search_module.__file__).read_text())
    roots = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    roots |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert roots <= set(sys.stdlib_module_names) | {"numpy"}, roots


def test_sleeping_never_starves_the_playing_video() -> None:
    """The pruning rule: with the playing video's buffer empty and its next chunk wanted, it fetches."""
    session = Session([video(str(i), 6) for i in range(5)], [5000.0] * 5, link())
    scheduler = SearchScheduler(budget_ms=1e9)
    decision = scheduler.run(0, 0, 0, False, 0, session.players(), True)
    assert decision[2] == 0


def _root_actions(scheduler: SearchScheduler, players) -> dict[tuple[int, int], float]:
    """The first ply's (queue position, level) -> value, as the search scores them."""
    views = scheduler._views(players)
    root = search_module._Plan(0.0, 0.0, None, [v.chunk for v in views], [None] * len(views), 0.0,
                               views[0].ready_until)
    return {(q, level): value for q, level, value, *_ in scheduler._actions(views, root)}


def _long_queue(head_fetches: int):
    """Five 30-chunk videos, watched for 25 s each, after `head_fetches` fetches of the playing video."""
    session = Session([video(str(i), 30) for i in range(5)], [25_000.0] * 5, link())
    for _ in range(head_fetches):
        session.step((0, 0, 0))
    return session.players()


def test_queued_first_chunks_are_weighed_beyond_the_horizon() -> None:
    """The next videos start seconds from now on average, past a 1-s horizon: only `first_chunks_ahead`
    offers their first chunks (never waste once reached) so that an early swipe's stall is weighed."""
    players = _long_queue(1)
    ahead = _root_actions(SearchScheduler(horizon_ms=1000, head_cap_ms=None, budget_ms=1e9), players)
    assert {q for q, _ in ahead} == {0, 1, 2, 3, 4}
    plain = SearchScheduler(horizon_ms=1000, head_cap_ms=None, first_chunks_ahead=False, budget_ms=1e9)
    assert {q for q, _ in _root_actions(plain, players)} == {0}


def test_an_early_first_chunk_costs_its_kbps_times_the_chance_the_video_before_goes_on() -> None:
    """The challenge's rule 2: video 1's first chunk fetched before video 0's last watched chunk costs its
    full kbps when that chunk is fetched. Video 0 has 1 of 30 chunks, so chunk 1 is watched with probability
    share(1)/share(0) = (1 - 1/60)/1: at level 1 (1200 kbit/s) the value drops by 1.2 x 59/60."""
    players = _long_queue(1)
    charged = _root_actions(SearchScheduler(head_cap_ms=None, budget_ms=1e9), players)
    free = _root_actions(SearchScheduler(head_cap_ms=None, early_first_penalty=False, budget_ms=1e9), players)
    assert free[1, 1] - charged[1, 1] == pytest.approx(1.2 * 59 / 60)
    assert free[0, 1] == charged[0, 1]  # the playing video's own chunks carry no such charge


def test_the_head_cap_stops_buffering_the_playing_video_far_ahead() -> None:
    """Eight fetches buffer about 7 s of video 0: past a 2-s cap (x its watch probability) it is not offered;
    without a cap it is."""
    players = _long_queue(8)
    assert players[0].get_buffer_size() > 4000
    capped = _root_actions(SearchScheduler(head_cap_ms=2000, horizon_ms=1e9, budget_ms=1e9), players)
    assert 0 not in {q for q, _ in capped} and capped
    uncapped = _root_actions(SearchScheduler(head_cap_ms=None, horizon_ms=1e9, budget_ms=1e9), players)
    assert 0 in {q for q, _ in uncapped}


def test_the_session_mean_throughput_is_all_bytes_over_all_transfer_time() -> None:
    """Two fetches: 1,000 B in 180 ms and 3,000 B in 1,080 ms, less the 80-ms RTT each: 4,000 B / 1,100 ms."""
    forecast = search_module.Forecast()
    assert forecast.mean_bytes_per_ms() == search_module.START_BYTES_PER_MS
    forecast.measure(1000, 180)
    forecast.measure(3000, 1080)
    assert forecast.mean_bytes_per_ms() == pytest.approx(4000 / 1100)


@pytest.mark.parametrize(("bytes_per_ms", "ample_kbps", "ample"), [(1000.0, 2000.0, True), (200.0, 2000.0, False),
                                                                   (1000.0, None, False)])
def test_ample_bandwidth_switches_the_plan_to_the_ample_settings(bytes_per_ms: float, ample_kbps, ample: bool) -> None:
    """1,000 B/ms is 8,000 kbit/s, above the 2,000 threshold; 200 B/ms is 1,600 kbit/s, below it."""
    scheduler = SearchScheduler(budget_ms=1e9, ample_kbps=ample_kbps)
    normal = (scheduler.stall_weight, scheduler.first_chunks_ahead, scheduler.head_cap_ms, scheduler.horizon_ms)
    assert normal == (search_module.STALL_WEIGHT, True, search_module.HEAD_CAP_MS, 6000.0)
    scheduler.forecast.measure(bytes_per_ms * 1000, 1080)
    scheduler.plan(_players())
    knobs = (scheduler.stall_weight, scheduler.first_chunks_ahead, scheduler.head_cap_ms, scheduler.horizon_ms)
    assert knobs == (search_module.AMPLE if ample else normal)
    assert search_module.AMPLE != normal
