"""A feed of packaged videos as the challenge's session sees it (issue 16, item 7): the model side.

A feed is a directory served by `ptcodec serve`: `feed.json` lists the videos, each with a pixel ladder
(`ptcodec package CLIP --codec`, three representations: levels 0..2 by bitrate) and a prompt ladder
(`ptcodec package STREAM.ptv`: levels 3.. by rank), both cut at the same 1-s segments, and a retention
curve. `feed_items` turns it into the simulator's `Video`s (a chunk's bytes are its segment's bytes, so
the simulator and the player use the same sizes) plus the URLs the player fetches.

`FeedSession` is the simulator's `ComputeSession` with a log of the session (every fetch, every
generated chunk, when each chunk began to play) so that a real playback (`ptcodec.preload.feed_player`)
and a simulated one are compared event by event with one implementation of the score and stall rules.
`ServedLink` is the link of `ptcodec serve`: the trace runs on the session's clock from the server's
first request (`offset_s` earlier than the session's start), one RTT before each response and the body
at the trace's rate (`traces.download_time`, the arithmetic the server paces by). That is not the
challenge's Pensieve link (whose trace clock stops between transfers): it is the model of the network
the feed is actually played over.

Init segments (the prompt stream's sequence header, the pixel representations' parameter sets) are
fetched with the manifests before the session starts: they are a few hundred bytes, and fetching them
during the session would add one RTT to a chunk depending on what was fetched before.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

from ptcodec.errors import InputError
from ptcodec.preload.compute import PIXEL_LEVELS, ComputeSession, chunk_generation_ms
from ptcodec.preload.network import Link
from ptcodec.preload.session import CHALLENGE_RULES, Rules, Session, StepOutcome
from ptcodec.preload.videos import CHUNK_MS, Video
from ptcodec.streaming.traces import Trace, download_time

FEED_SCHEMA = "ptcodec-feed/1"


@dataclass(frozen=True)
class FeedItem:
    """One video of the feed: the simulator's Video and what the player fetches for it."""

    video: Video
    prompt_init: str
    prompt_init_bytes: int
    pixel_inits: tuple[tuple[str, int], ...]  # (URL, bytes) per pixel level
    urls: tuple[tuple[str, ...], ...]  # urls[level][chunk]
    frames: tuple[tuple[int, int], ...]  # per chunk: (first frame, frame count)

    @property
    def setup_urls(self) -> list[tuple[str, int]]:
        """The init segments, fetched before the session: (URL, bytes)."""
        return [(self.prompt_init, self.prompt_init_bytes), *self.pixel_inits]


def _field(data: Any, key: str, where: str) -> Any:
    try:
        return data[key]
    except (KeyError, TypeError, IndexError):
        raise InputError(f"{where}: malformed feed (no {key!r})") from None


def feed_items(feed_url: str, feed: Any, read: Callable[[str], Any]) -> list[FeedItem]:
    """The items of a parsed feed.json at `feed_url`; `read(url)` gives a package's parsed index.json."""
    if _field(feed, "schema", feed_url) != FEED_SCHEMA:
        raise InputError(f"{feed_url}: not a {FEED_SCHEMA} feed")
    items = []
    for n, entry in enumerate(_field(feed, "videos", feed_url)):
        where = f"{feed_url}: video {n}"
        pixel_url = urljoin(feed_url, _field(entry, "pixel", where))
        prompt_url = urljoin(feed_url, _field(entry, "prompt", where))
        pixel = sorted(_field(read(pixel_url), "representations", pixel_url), key=lambda r: r["bandwidth_mean_bps"])
        prompt = sorted(_field(read(prompt_url), "representations", prompt_url), key=lambda r: r["rank"])
        if len(pixel) != PIXEL_LEVELS or not prompt:
            raise InputError(f"{where}: needs {PIXEL_LEVELS} pixel representations and at least one prompt rank")
        reps = [(pixel_url, r) for r in pixel] + [(prompt_url, r) for r in prompt]
        counts = {len(r["segments"]) for _, r in reps}
        if len(counts) != 1:
            raise InputError(f"{where}: the representations have different segment counts ({sorted(counts)})")
        kbps = tuple(int(k) for k in _field(entry, "kbps", where))
        shares = tuple(float(s) for s in _field(entry, "retention", where))
        n_chunks = counts.pop()
        if len(kbps) != len(reps) or len(shares) != n_chunks + 2:
            raise InputError(f"{where}: expected {len(reps)} kbps values and {n_chunks + 2} retention shares")
        segments = [r["segments"] for _, r in reps]
        if any(abs(s["duration_s"] * 1000 - CHUNK_MS) > 1 for s in segments[0][:-1]):
            raise InputError(f"{where}: segments must last {CHUNK_MS / 1000:g} s (package with --segment-seconds 1)")
        video = Video(str(_field(entry, "name", where)), tuple(tuple(int(s["bytes"]) for s in segs) for segs in segments),
                      tuple(float(t) for t in range(n_chunks + 2)), shares, kbps)
        items.append(FeedItem(
            video, urljoin(prompt_url, prompt[0]["init"]), int(prompt[0]["init_bytes"]),
            tuple((urljoin(pixel_url, r["init"]), int(r["init_bytes"])) for r in pixel),
            tuple(tuple(urljoin(base, s["file"]) for s in r["segments"]) for base, r in reps),
            tuple((int(s["first_frame"]), int(s["frames"])) for s in segments[-1]),
        ))
    if not items:
        raise InputError(f"{feed_url}: the feed lists no videos")
    return items


class ServedLink(Link):
    """`ptcodec serve`'s link (see the module docstring): `bind` it to the session whose clock it follows.

    `overhead_ms`: the client's time between a step's start and its request going out (the scheduler's decision
    and the HTTP client's own work, which a real player spends and the challenge's simulator does not); it
    delays the request on the trace and counts in the step's delay. `response_ms`: time per response beyond
    the trace's delivery (the HTTP stacks' own, and the server's pacing granularity), added to the delay."""

    def __init__(self, trace: Trace, rtt_s: float, offset_s: float = 0.0, overhead_ms: float = 0.0,
                 response_ms: float = 0.0) -> None:
        self.trace, self.rtt_s, self.offset_s = trace, rtt_s, offset_s
        self.overhead_ms, self.response_ms = overhead_ms, response_ms
        self.name = trace.name or "trace"
        self._clock: Callable[[], float] = lambda: 0.0

    def bind(self, session: Session) -> None:
        self._clock = lambda: session.clock_ms

    def transfer_ms(self, nbytes: float) -> float:
        start_s = self.offset_s + (self._clock() + self.overhead_ms) / 1000
        return self.overhead_ms + download_time(self.trace, start_s, int(nbytes), self.rtt_s) * 1000 + self.response_ms

    def download_ms(self, nbytes: float) -> int:
        return math.floor(self.transfer_ms(nbytes) + 0.5)


@dataclass(frozen=True)
class Fetch:
    """One download of the session: at `at_ms` (session clock), chunk `chunk` of `video` at `level`."""

    at_ms: float
    video: int
    chunk: int
    level: int
    bytes: int
    delay_ms: float
    prompt: bool


class _Timeline(Session):
    """Records, for each chunk, the session time at which it began to play (the start of the span in which
    its video's play position first passed the chunk's start)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.span_ms = 0.0
        self.play_started: dict[tuple[int, int], float] = {}

    def _play(self, action_ms: float) -> float:
        before = {s.index: s.played_ms for s in self.queue}
        heads = {s.index: s for s in self.queue}
        stall = super()._play(action_ms)
        for index, was in before.items():
            now = heads[index].played_ms
            for chunk in range(math.ceil(was / CHUNK_MS), math.ceil(now / CHUNK_MS)):
                self.play_started.setdefault((index, chunk), self.span_ms)
        self.span_ms += action_ms
        return stall


class FeedSession(ComputeSession, _Timeline):
    """The simulator's session with prompt levels and a generator, logging fetches and playback."""

    def __init__(self, videos: Sequence[Video], watch_ms: Sequence[float], link: Link, rules: Rules = CHALLENGE_RULES,
                 *, chunk_gen_ms: float) -> None:
        super().__init__(videos, watch_ms, link, rules, chunk_gen_ms=chunk_gen_ms)
        self.fetches: list[Fetch] = []
        self.decisions: list[tuple[int, int, int, float]] = []  # (video, chunk, level, sleep ms) of every step
        if isinstance(link, ServedLink):
            link.bind(self)

    def _play(self, action_ms: float) -> float:
        self.span_ms = self.clock_ms
        return super()._play(action_ms)

    def step(self, decision: Any) -> StepOutcome:
        video_id, level, sleep_ms = self._check(decision)
        at = self.clock_ms
        chunk = self.queue[video_id - self.start].downloaded
        self.decisions.append((video_id, chunk, level, sleep_ms))
        outcome = super().step(decision)
        if sleep_ms == 0:
            self.fetches.append(Fetch(at, video_id, chunk, level, outcome.video_size, outcome.delay_ms,
                                      level >= self.first_prompt_level))
        return outcome

    def summary(self) -> dict[str, Any]:
        """The figures the end-to-end comparison reads (stalls, bytes, waste, chunks) and the event log."""
        r = self.result
        return {
            "stall_s": r.stall_ms / 1000, "downloaded_bytes": r.downloaded_bytes, "wasted_bytes": r.wasted_bytes,
            "score": r.score, "qoe": r.qoe, "steps": r.steps, "session_s": self.clock_ms / 1000,
            "prompt_chunks": self.prompt_chunks, "pixel_chunks": self.pixel_chunks,
            "fetches": [f.__dict__ for f in self.fetches], "decisions": [list(d) for d in self.decisions],
            "generated": [{"video": v, "chunk": c, "done_ms": d} for v, c, d in self.generated],
            "play_started": [{"video": v, "chunk": c, "at_ms": t} for (v, c), t in sorted(self.play_started.items())],
        }


class Replay:
    """An Algorithm that repeats another session's decisions, `(video, chunk, level, sleep ms)` per step, so
    that the simulator's timing and accounting can be checked on the same path: a logged fetch that no longer
    fits (its video swiped already, or that chunk fetched) is skipped, and once the log is spent it sleeps."""

    def __init__(self, decisions: Sequence[Sequence[float]], sleep_ms: float = 100.0) -> None:
        self.decisions = [tuple(d) for d in decisions]
        self.sleep_ms = sleep_ms
        self.skipped = 0
        self.Initialize()

    def Initialize(self) -> None:  # noqa: N802 (the challenge's name)
        self.next = 0

    def run(self, delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False):  # noqa: N803
        while self.next < len(self.decisions):
            video, chunk, level, sleep = self.decisions[self.next]
            self.next += 1
            q = int(video) - play_video_id
            if sleep > 0:
                return play_video_id, 0, sleep
            if 0 <= q < len(Players) and Players[q].get_chunk_counter() == chunk:
                return int(video), int(level), 0.0
            self.skipped += 1
        return play_video_id, 0, self.sleep_ms


def local_items(feed_json: str | os.PathLike[str]) -> list[FeedItem]:
    """The items of a feed on disk (its URLs are then file paths)."""
    path = os.fspath(feed_json)

    def read(name: str) -> Any:
        try:
            return json.loads(Path(name).read_text())
        except (OSError, json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{name}: cannot read ({error})") from None

    return feed_items(path, read(path), read)


def simulate_feed(items: Sequence[FeedItem], watch_ms: Sequence[float], link: ServedLink, gen_fps: float,
                  scheduler: Callable[[float], Any]) -> dict[str, Any]:
    """The feed's session in the simulator: `FeedSession` over `link`, generation at `gen_fps` frames/s, under
    `scheduler(chunk_gen_ms)` (the same Algorithm the player is given); the session's summary."""
    chunk_ms = chunk_generation_ms(gen_fps, items[0].frames[0][1])
    session = FeedSession([i.video for i in items], watch_ms, link, chunk_gen_ms=chunk_ms)
    algorithm = scheduler(chunk_ms)
    algorithm.Initialize()
    session.run(algorithm)
    return session.summary()
