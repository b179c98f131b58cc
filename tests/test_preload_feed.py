"""The feed player (issue 16, item 7) on a tiny feed: loopback only, generation before play, bytes, the generator model."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest

from ptcodec.preload.feed import FeedSession, ServedLink, local_items
from ptcodec.preload.solutions.search import GeneratorQueue
from tests.conftest import SHARED_DATA

DATA = SHARED_DATA
pytestmark = pytest.mark.skipif(not (DATA / "clips").is_dir() or not (DATA / "short_video").is_dir(),
                                reason="needs ../shared/data (clips, short_video)")


class PromptsFirst:
    """Every chunk of the playing video as a prompt (level 3), then the next video's; sleeps when all is in."""

    def Initialize(self) -> None:  # noqa: N802 (the challenge's name)
        pass

    def run(self, delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False):  # noqa: N803
        for q, player in enumerate(Players):
            if player.get_remain_video_num() > 0:
                return play_video_id + q, 3, 0.0
        return play_video_id, 0, 200.0


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Path:
    from ptcodec.preload.feed_build import build_feed

    out = tmp_path_factory.mktemp("feed") / "feed"
    build_feed([DATA / "clips" / "sky_512.mp4", DATA / "clips" / "chaplin.mp4"], out, DATA / "short_video",
               size=32, fps=10, seconds=2, interval=5, steps="2,1", pixel_kbps="60,100,160")
    return out


class Served:
    """`serve.make_app` on 127.0.0.1 in a thread, counting the body bytes of every response."""

    def __init__(self, root: Path) -> None:
        from aiohttp import web

        from ptcodec.streaming.serve import HOST, make_app
        from ptcodec.streaming.traces import Trace

        self.sent = 0
        self.trace = Trace((0.0,), (400.0,), 1.0, "flat")
        app = make_app(root, self.trace, rtt_s=0.02)

        async def count(request, handler):
            response = await handler(request)
            self.sent += response.content_length or 0
            return response

        app.middlewares.append(web.middleware(count))
        self.loop = asyncio.new_event_loop()
        self.runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        site = web.TCPSite(self.runner, HOST, 0)
        self.loop.run_until_complete(site.start())
        self.host, self.port = self.runner.addresses[0][:2]
        self.bound = {s.getsockname()[0] for s in site._server.sockets}
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def played(feed):
    from ptcodec.generators import GeneratorOptions, load_generator
    from ptcodec.preload.feed_player import play_feed

    server = Served(feed)
    try:
        log = play_feed(f"http://127.0.0.1:{server.port}/feed.json", lambda ms: PromptsFirst(),
                        load_generator("reference", GeneratorOptions()), gen_fps=100.0, watch_ms=[2000.0, 1500.0])
    finally:
        server.close()
    return server, log


def test_server_and_player_stay_on_loopback(played):
    server, log = played
    assert server.host == "127.0.0.1" and server.bound == {"127.0.0.1"}
    assert log["feed"].startswith("http://127.0.0.1:")


def test_prompt_chunk_never_plays_before_it_is_generated(played):
    _, log = played
    done = {(g["video"], g["chunk"]): g["done_ms"] for g in log["generation"]}  # the real generator's clock
    started = {(p["video"], p["chunk"]): p["at_ms"] for p in log["play_started"]}
    prompts = [(f["video"], f["chunk"]) for f in log["fetches"] if f["prompt"]]
    assert prompts and log["prompt_chunks"] == len(prompts)
    played_prompts = [key for key in prompts if key in started]
    assert played_prompts  # the watch times reach them
    for key in played_prompts:
        assert started[key] >= done[key], key
    assert all(g["frames"] == 10 for g in log["generation"])  # a chunk is 1 s at 10 frames/s, generated whole


def test_log_bytes_equal_the_bytes_the_server_sent(played):
    server, log = played
    assert log["http_bytes"] == server.sent
    assert log["setup_bytes"] + log["downloaded_bytes"] == server.sent
    assert log["downloaded_bytes"] == sum(f["bytes"] for f in log["fetches"])


def test_generator_model_matches_the_schedulers(played):
    """The real generator follows GeneratorQueue's rules (the class the scheduler mirrors): replayed with the
    measured time per chunk at each chunk's arrival, the queue gives the same order and the same start times."""
    _, log = played
    real = sorted(log["generation"], key=lambda g: g["start_ms"])
    assert len(real) >= 2
    mean_ms = sum(g["done_ms"] - g["start_ms"] for g in real) / len(real)
    queue = GeneratorQueue(mean_ms)
    model = []
    for g in sorted(real, key=lambda g: g["added_ms"]):
        model += queue.advance(g["added_ms"])
        queue.add(g["video"], g["chunk"], g["added_ms"])
    model += queue.advance(float("inf"))
    assert [(v, c) for v, c, _ in model] == [(g["video"], g["chunk"]) for g in real]
    # each real chunk starts when it has arrived and the one before it is done (work-conserving, one at a time)
    previous_done = 0.0
    for g in real:
        assert g["start_ms"] >= max(g["added_ms"], previous_done) - 1.0
        assert g["start_ms"] <= max(g["added_ms"], previous_done) + 250.0  # thread wake-up on a loaded machine
        previous_done = g["done_ms"]


def test_simulator_session_uses_the_feeds_sizes(feed):
    from ptcodec.streaming.traces import Trace

    items = local_items(feed / "feed.json")
    session = FeedSession([i.video for i in items], [2000.0, 1500.0],
                          ServedLink(Trace((0.0,), (400.0,), 1.0), 0.02), chunk_gen_ms=100.0)
    result = session.run(PromptsFirst())
    sizes = {(v, c): items[v].video.sizes[3][c] for v in range(2) for c in range(2)}
    assert result.downloaded_bytes == sum(sizes.values())
    assert session.prompt_chunks == 4 and session.pixel_chunks == 0


def test_replay_repeats_a_simulated_session(feed):
    """Replay of a session's own decisions gives the same session (so a replay of the player's checks timing only)."""
    from ptcodec.preload.feed import Replay, simulate_feed
    from ptcodec.preload.prompts import ASSUMED_H265_KBPS
    from ptcodec.preload.solutions import SearchScheduler
    from ptcodec.streaming.traces import Trace

    items = local_items(feed / "feed.json")
    trace = Trace((0.0, 1.0), (300.0, 80.0), 2.0, "steps")
    kbps = tuple(ASSUMED_H265_KBPS.values())
    first = simulate_feed(items, [1500.0, 2000.0], ServedLink(trace, 0.03, 0.5, 2.0, 10.0), 60.0,
                          lambda ms: SearchScheduler(kbps, ms, budget_ms=1000.0))
    replay = Replay(first["decisions"])
    again = simulate_feed(items, [1500.0, 2000.0], ServedLink(trace, 0.03, 0.5, 2.0, 10.0), 60.0, lambda ms: replay)
    assert replay.skipped == 0
    assert [(f["video"], f["chunk"], f["level"]) for f in again["fetches"]] == \
        [(f["video"], f["chunk"], f["level"]) for f in first["fetches"]]
    assert (again["downloaded_bytes"], again["stall_s"], again["steps"]) == \
        (first["downloaded_bytes"], first["stall_s"], first["steps"])
    assert first["stall_s"] > 0  # a session with something to get right
