"""`ptcodec preload-play`: a feed played for real under a preloading scheduler (issue 16, item 7).

The player is the simulator's `FeedSession` driven by the same `Session.run` loop and the same
Algorithm; only where time comes from differs:

- **Downloads.** A fetch is a real HTTP GET over loopback (`streaming.player.fetch`, its size checked
  against the index) on an aiohttp session running in a thread of its own; its delay is the wall clock
  from the session's time at the decision to the last byte (so the decision's own time is counted too,
  and the session clock stays on the wall clock).
- **Sleeps** are slept, until the session's time plus the sleep (so a decision's time is not added).
- **Generation.** Every downloaded prompt chunk goes through the reference generator for real: a worker
  thread decodes one chunk at a time with a fresh `Decoder` over that segment's units (each 1-s
  segment opens a scene, so it decodes alone), in the order of `GeneratorQueue` (lowest video, then
  chunk: in order within a video), swiped videos' waiting chunks dropped at the end of the step as the
  simulator does. Each chunk's start and end are taken on the session's clock; a chunk becomes
  playable at its measured end. The frames/s achieved is the generation speed reported.

The manifests (feed.json, each package's index.json) and the init segments are fetched, and the generator
warmed up once on zeros, before the session's clock starts; the setup's bytes are reported apart
(`setup_bytes`).
"""

from __future__ import annotations

import asyncio
import heapq
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from ptcodec.errors import InputError
from ptcodec.preload.compute import chunk_generation_ms
from ptcodec.preload.feed import FeedItem, FeedSession, feed_items
from ptcodec.preload.network import Link
from ptcodec.preload.session import StepOutcome, VideoState

if TYPE_CHECKING:
    import aiohttp

    from ptcodec.generators.base import Generator
    from ptcodec.ptv import SequenceHeader


class Wall:
    """The session's clock on the wall: ms since `start()`."""

    def __init__(self) -> None:
        self.origin = time.perf_counter()

    def start(self) -> None:
        self.origin = time.perf_counter()

    def now_ms(self) -> float:
        return (time.perf_counter() - self.origin) * 1000

    def sleep_until(self, ms: float) -> None:
        left = ms - self.now_ms()
        if left > 0:
            time.sleep(left / 1000)


class Http:
    """Real GETs from synchronous code: an aiohttp session on an event loop in a thread; counts bytes."""

    def __init__(self, timeout_s: float = 60.0) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="feed-http", daemon=True)
        self.thread.start()
        self.timeout_s = timeout_s
        self.session: aiohttp.ClientSession | None = self._call(self._open())
        self.bytes = 0
        self.requests = 0

    async def _open(self) -> aiohttp.ClientSession:
        import aiohttp

        return aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(sock_connect=self.timeout_s, sock_read=self.timeout_s))

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result()

    def get(self, url: str, expected: int | None = None) -> bytes:
        from ptcodec.streaming.player import FetchFailed, fetch

        assert self.session is not None
        try:
            data: bytes = self._call(fetch(self.session, url, expected=expected))
        except FetchFailed as error:
            raise InputError(f"{url}: cannot fetch ({error})") from None
        self.bytes += len(data)
        self.requests += 1
        return data

    def json(self, url: str) -> Any:
        try:
            return json.loads(self.get(url))
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{url}: not JSON ({error})") from None

    def close(self) -> None:
        if self.session is not None:
            self._call(self.session.close())
            self.session = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


class HttpLink(Link):
    """The session's link: the URL to fetch is set before each download step (`PlayedSession.step`)."""

    def __init__(self, http: Http, wall: Wall) -> None:  # noqa: D107 (no trace: the network is real)
        self.http, self.wall, self.name = http, wall, "http"
        self.url = ""
        self.data = b""
        self.session_ms: float = 0.0

    def transfer_ms(self, nbytes: float) -> float:
        self.data = self.http.get(self.url, expected=int(nbytes))
        return self.wall.now_ms() - self.session_ms

    def download_ms(self, nbytes: float) -> int:
        return max(0, math.ceil(self.transfer_ms(nbytes)))  # up: the session's clock never runs ahead of the wall


class RealGenerator:
    """The reference generator behind `GeneratorQueue`'s interface (the one ComputeSession calls), for real.

    `put(video, chunk, data)` hands over a downloaded chunk's bytes before ComputeSession's `add` queues it.
    Completions are published under the lock with their time, so that `advance(t)` called once the wall
    clock has passed `t` sees every chunk done by `t`."""

    def __init__(self, generator: Generator, items: Sequence[FeedItem], headers: Sequence[SequenceHeader],
                 wall: Wall, max_batch: int = 16) -> None:
        self.generator, self.items, self.headers, self.wall, self.max_batch = generator, items, headers, wall, max_batch
        self.lock = threading.Condition()
        self.waiting: list[tuple[int, int]] = []
        self.data: dict[tuple[int, int], bytes] = {}
        self.running: tuple[int, int] | None = None
        self.finished: list[tuple[int, int, float]] = []  # (video, chunk, done ms), not yet reported by advance
        self.log: list[dict[str, Any]] = []  # every chunk generated: video, chunk, added/start/done ms, frames
        self.added: dict[tuple[int, int], float] = {}
        self.drops: list[dict[str, Any]] = []
        self.dropped = 0
        self.frames = 0
        self.seconds = 0.0
        self.error: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._work, name="feed-generator", daemon=True)
        self.thread.start()

    def warm_up(self) -> None:
        """One chunk's worth of generation on zeros before the session, as an app loads its model before the
        feed starts: the first real generation is otherwise slower by the framework's first-call costs."""
        import numpy as np

        from ptcodec.decoder import run_generator

        header, (_, frames) = self.headers[0], self.items[0].frames[0]
        size = (header.height // header.latent_downscale, header.width // header.latent_downscale)
        noise = np.zeros((frames, header.latent_channels, *size), np.float32)
        cond = np.zeros((frames, header.tokens, header.embed_dim), np.float32)
        run_generator(self.generator, noise, cond, self.max_batch)

    # --- the interface ComputeSession uses ---
    def put(self, video: int, chunk: int, data: bytes) -> None:
        self.data[video, chunk] = data

    def add(self, video: int, chunk: int, at: float) -> None:
        with self.lock:
            self.added[video, chunk] = at
            heapq.heappush(self.waiting, (video, chunk))
            self.lock.notify()

    def drop_before(self, video: int) -> None:
        with self.lock:
            kept = [job for job in self.waiting if job[0] >= video]
            for v, c in self.waiting:
                if v < video:
                    self.data.pop((v, c), None)
                    self.drops.append({"video": v, "chunk": c, "at_ms": self.wall.now_ms()})
            self.dropped += len(self.waiting) - len(kept)
            self.waiting = kept
            heapq.heapify(self.waiting)

    def next_done(self) -> float | None:
        self._check()
        with self.lock:
            return self.finished[0][2] if self.finished else None

    def advance(self, until: float) -> list[tuple[int, int, float]]:
        self._check()
        with self.lock:
            done = [f for f in self.finished if f[2] <= until]
            self.finished = self.finished[len(done):]
            return done

    # --- the worker ---
    def _check(self) -> None:
        if self.error is not None:
            raise InputError(f"generation failed: {self.error}")

    def _work(self) -> None:
        while True:
            with self.lock:
                while not self.waiting and not self.closed:
                    self.lock.wait()
                if self.closed:
                    return
                video, chunk = heapq.heappop(self.waiting)
                data = self.data.pop((video, chunk))
                self.running = (video, chunk)
                start = self.wall.now_ms()
            try:
                frames = self._decode(video, chunk, data)
            except BaseException as error:  # reported to the session's thread by _check
                self.error = error
                return
            with self.lock:
                done = self.wall.now_ms()
                self.running = None
                self.finished.append((video, chunk, done))
                self.frames += frames
                self.seconds += (done - start) / 1000
                self.log.append({"video": video, "chunk": chunk, "added_ms": self.added[video, chunk],
                                 "start_ms": start, "done_ms": done, "frames": frames})

    def _decode(self, video: int, chunk: int, data: bytes) -> int:
        from ptcodec.decoder import Decoder
        from ptcodec.ptv.framing import read_packet_units

        header = self.headers[video]
        first, count = self.items[video].frames[chunk]
        decoder = Decoder(header, self.generator, max_batch=self.max_batch)
        frames = 0
        for unit in read_packet_units(data, header):
            frames += sum(1 for _ in decoder.push(unit))
        frames += sum(1 for _ in decoder.flush(first + count))
        if frames != count:
            raise InputError(f"{self.items[video].urls[0][chunk]}: generated {frames} frames, the index says {count}")
        return frames

    @property
    def fps(self) -> float | None:
        return self.frames / self.seconds if self.seconds > 0 else None

    def close(self) -> None:
        with self.lock:
            self.closed = True
            self.lock.notify()
        self.thread.join()


class PlayedSession(FeedSession):
    """The FeedSession played for real: HTTP downloads, real sleeps, real generation (module docstring)."""

    def __init__(self, items: Sequence[FeedItem], watch_ms: Sequence[float], link: HttpLink, wall: Wall,
                 generator: RealGenerator, *, chunk_gen_ms: float) -> None:
        super().__init__([i.video for i in items], watch_ms, link, chunk_gen_ms=chunk_gen_ms)
        self.items, self.http_link, self.wall = items, link, wall
        self.generator = generator  # type: ignore[assignment]  # the same interface, for real
        self.overheads_ms: list[float] = []  # per download: wall time past the session clock when the request goes out

    def step(self, decision: Any) -> StepOutcome:
        video_id, level, sleep_ms = self._check(decision)
        if sleep_ms > 0:
            self.wall.sleep_until(self.clock_ms + int(sleep_ms))
        else:
            state = self.queue[video_id - self.start]
            self.http_link.url = self.items[video_id].urls[level][state.downloaded]
            self.http_link.session_ms = self.clock_ms
            self.overheads_ms.append(self.wall.now_ms() - self.clock_ms)
        return super().step(decision)

    def _arrived(self, state: VideoState, level: int) -> None:
        if level >= self.first_prompt_level:
            self.generator.put(state.index, state.downloaded, self.http_link.data)  # type: ignore[attr-defined]
        super()._arrived(state, level)


def play_feed(url: str, scheduler: Callable[[float], Any], generator: Generator, *, gen_fps: float,
              watch_ms: Sequence[float] | None = None, users: Any = None) -> dict[str, Any]:
    """Play the feed at `url` (its feed.json) under `scheduler(chunk_gen_ms)`, an Algorithm made once the feed
    gives the frames per chunk; the session's summary and logs.

    `gen_fps` is the generator speed the scheduler models (`chunk_gen_ms` = frames per chunk / gen_fps);
    completions come from the real generator. Watch times are `watch_ms`, or drawn by `users` (default:
    the challenge's retention users and seeds)."""
    from ptcodec.ptv import PtvReader

    http = Http()
    wall = Wall()
    first_request = time.perf_counter()
    generation: RealGenerator | None = None
    try:
        feed = http.json(url)
        items = feed_items(url, feed, http.json)
        headers = []
        for item in items:
            for init_url, size in item.setup_urls:
                data = http.get(init_url, expected=size)
                if init_url == item.prompt_init:
                    with PtvReader(data, path=init_url) as reader:
                        headers.append(reader.header)
        setup_bytes, setup_requests = http.bytes, http.requests
        if watch_ms is None:
            from ptcodec.preload.users import RetentionUsers, challenge_seeds

            users = users or RetentionUsers(challenge_seeds(max(7, len(items))))
            watch_ms = [users.watch_ms(i, item.video) for i, item in enumerate(items)]
        if len(watch_ms) != len(items):
            raise InputError(f"{len(watch_ms)} watch times for {len(items)} videos")
        frames_per_chunk = items[0].frames[0][1]
        generation = RealGenerator(generator, items, headers, wall)
        generation.warm_up()
        link = HttpLink(http, wall)
        chunk_ms = chunk_generation_ms(gen_fps, frames_per_chunk)
        session = PlayedSession(items, watch_ms, link, wall, generation, chunk_gen_ms=chunk_ms)
        algorithm = scheduler(chunk_ms)
        wall.start()
        offset_s = wall.origin - first_request
        algorithm.Initialize()
        session.run(algorithm)
        ended_ms = wall.now_ms()
    finally:
        if generation is not None:
            generation.close()
        http.close()
    out = session.summary()
    out.update({
        "feed": url, "watch_ms": list(watch_ms), "frames_per_chunk": frames_per_chunk,
        "videos": [{"name": i.video.name, "chunks": i.video.n_chunks, "sizes": [list(s) for s in i.video.sizes],
                    "kbps": list(i.video.kbps), "retention": list(i.video.retention)} for i in items],
        "generator": {"id": generator.id, "fingerprint": generator.fingerprint().hex()},
        "gen_fps_model": gen_fps, "gen_fps_measured": generation.fps, "generation": generation.log,
        "generator_drops": generation.drops, "setup_bytes": setup_bytes, "setup_requests": setup_requests,
        "session_bytes_fetched": http.bytes - setup_bytes, "http_bytes": http.bytes, "http_requests": http.requests,
        "link_offset_s": offset_s, "wall_s": ended_ms / 1000, "decision_overhead_ms": session.overheads_ms,
    })
    return out
