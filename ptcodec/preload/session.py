"""One viewing session of the challenge: the queue, the decision loop, and the score.

The rules (matched against the challenge's simulator; `Rules(exact_challenge=False)` gives the
published description instead where the two differ):

- **Queue.** The session's videos are shown in order; the queue holds the playing video and the next
  ones, up to 5. When the user swipes, the head leaves, the next unseen video joins the tail, and the
  session ends when the last video is swiped (or watched to its end).
- **A step.** The Algorithm returns `(video_id, level, sleep_ms)`. A positive sleep plays for
  `int(sleep_ms)` ms; otherwise the next chunk of that video is fetched at that level. Playback runs for
  the fetch's delay and only then does the chunk join its video's buffer (so it cannot be played within
  the step that fetches it).
- **Playback.** The head plays from its buffer until its watch time, then the user swipes and the
  remaining time goes to the next video. If the head's buffer runs dry, the rest of the step is a stall
  and nothing else plays in that step. The first video's first fetch is therefore a stall (startup).
- **Score**, counted when a chunk is *requested*: if it will be watched, `kbps/1000`, minus
  `|Δkbps|/1000` against each neighbouring watched chunk already fetched (the previous chunk of the same
  video; across videos, the last watched chunk of the previous video and the first chunk of the next);
  every step adds `-1.85 × stall_s`. `score = QoE − 0.5 × downloaded Mbit`.
- **Waste**: the bytes of a swiped video's chunks from `ceil(watch_s)` on, including a chunk whose fetch
  was under way when the user swiped (the challenge adds that one a second time; we count it once).

Where the challenge's simulator differs from that description (`exact_challenge=True`, the default,
which reproduces its published baseline scores):

1. A chunk counts as watched if its index ≤ `floor(watch_s)`: a chunk starting exactly at the swipe
   counts, and the last watched chunk of a video watched to its end is never recognised, so no
   penalty links it to the next video.
2. When the last watched chunk of a video is fetched after the next video's first chunk, the penalty is
   that first chunk's full kbps, not the difference (what this costs beyond the difference is kept
   apart in `SessionResult.rule2_kbps`, so that reports can show it).
3. The last watched level of each video is kept across sessions (the runner replays this: see
   `SessionResult.unresolved_first_chunks`): a first chunk fetched before its predecessor's last
   watched chunk is compared with the level that chunk had in the previous trace.
4. A session whose QoE falls below −10,000 stops with score −10⁹.

Extension points (issue 16, items 2-3): a chunk's bytes and quality come from `Session._chunk_bytes`
and `Session._chunk_kbps` (per level of `Video.sizes`/`Video.kbps`: extra representations such as
prompt ranks are extra levels); a fetched chunk becomes playable in `Session._arrived`, the one place a
generator queue would delay it; `Session.clock_ms` is the wall clock such a model needs; and `step`
is usable without `run`, for a scheduler that drives (or clones) a session itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ptcodec.preload.challenge import Algorithm, DecisionError, Player
from ptcodec.preload.network import Link
from ptcodec.preload.videos import CHUNK_MS, Video

QUEUE_LEN = 5
REBUF_WEIGHT = 1.85
BANDWIDTH_WEIGHT = 0.5
MIN_QOE = -1e4
STUCK_SCORE = -1e9
MAX_IDLE_STEPS = 100_000


@dataclass(frozen=True)
class Rules:
    """`exact_challenge`: reproduce the challenge simulator's edge cases (see the module docstring)."""

    exact_challenge: bool = True
    queue_len: int = QUEUE_LEN


CHALLENGE_RULES = Rules()


@dataclass
class VideoState:
    """One video of the session, as the simulator tracks it; `Player` is an Algorithm's view of it."""

    index: int
    video: Video
    watch_ms: float
    levels: list[int] = field(default_factory=list)  # level of each chunk requested, in order
    downloaded: int = 0  # chunks arrived, so the index of the next one to fetch
    bytes_downloaded: int = 0
    buffer_ms: float = 0.0
    played_ms: float = 0.0
    view: Player = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.view = Player(self)


@dataclass(frozen=True)
class StepOutcome:
    """What the Algorithm is told after a step (the arguments of its next `run`)."""

    delay_ms: float
    rebuf_ms: float
    video_size: int
    end_of_video: bool
    play_video_id: int


@dataclass
class SessionResult:
    """Totals of one session. `qoe` is the score before the bandwidth term."""

    score: float = 0.0
    qoe: float = 0.0
    quality_kbps: float = 0.0  # sum of watched chunks' kbps counted
    smooth_kbps: float = 0.0  # sum of |Δkbps| penalties
    rule2_kbps: float = 0.0  # the part of smooth_kbps that rule 2 adds beyond |Δkbps|
    stall_ms: float = 0.0
    downloaded_bytes: int = 0
    wasted_bytes: int = 0
    watched_ms: float = 0.0
    steps: int = 0
    stuck: bool = False
    # For rule 3: first chunks whose predecessor's last watched level was unknown, as (video index, kbps),
    # and the last watched kbps this session recorded per video.
    unresolved_first_chunks: list[tuple[int, int]] = field(default_factory=list)
    last_watched_kbps: dict[int, int] = field(default_factory=dict)

    def charge_smoothness(self, kbps: float) -> None:
        """Add a smoothness penalty found after the session (rule 3)."""
        self.smooth_kbps += kbps
        self.qoe -= kbps / 1000.0
        if not self.stuck:
            self.score -= kbps / 1000.0


class Session:
    """The challenge's environment for one trace and one user."""

    def __init__(self, videos: Sequence[Video], watch_ms: Sequence[float], link: Link, rules: Rules = CHALLENGE_RULES) -> None:
        if not videos or len(videos) != len(watch_ms):
            raise DecisionError("a session needs at least one video and one watch time per video")
        self.videos = list(videos)
        self.watch_ms = [float(w) for w in watch_ms]
        self.link = link
        self.rules = rules
        self.queue: list[VideoState] = []
        self.start = 0  # absolute id of the playing video
        self.clock_ms = 0.0
        self.result = SessionResult()
        self._added = 0
        while self._added < min(rules.queue_len, len(self.videos)):
            self._enqueue()

    @property
    def finished(self) -> bool:
        return self.start >= len(self.videos)

    def players(self) -> list[Player]:
        return [state.view for state in self.queue]

    def _enqueue(self) -> None:
        i = self._added
        video = self.videos[i]
        self.queue.append(VideoState(i, video, min(self.watch_ms[i], video.length_ms)))
        self._added += 1

    # --- what a chunk is (extension point: other representations) ---
    def _chunk_bytes(self, state: VideoState, level: int) -> int:
        return state.video.sizes[level][state.downloaded]

    def _chunk_kbps(self, state: VideoState, level: int) -> int:
        return state.video.kbps[level]

    def _arrived(self, state: VideoState, level: int) -> None:
        """A fetched chunk joins its video's buffer (a generated representation would wait here)."""
        state.downloaded += 1
        state.buffer_ms += CHUNK_MS

    # --- score ---
    def _last_watched_chunk(self, state: VideoState) -> int:
        if self.rules.exact_challenge:
            return math.floor(state.watch_ms / CHUNK_MS)
        return math.ceil(state.watch_ms / CHUNK_MS) - 1

    def _score_request(self, rel: int, level: int) -> tuple[float, float]:
        """Quality and smoothness penalty (kbps) of requesting the next chunk of queue[rel] at `level`."""
        state = self.queue[rel]
        chunk = state.downloaded
        last = self._last_watched_chunk(state)
        if chunk > last:
            return 0.0, 0.0
        quality = self._chunk_kbps(state, level)
        smooth = 0.0
        if chunk == last:
            self.result.last_watched_kbps[state.index] = quality
            if rel + 1 < len(self.queue) and self.queue[rel + 1].downloaded > 0:
                after = self.queue[rel + 1]
                first = self._chunk_kbps(after, after.levels[0])
                smooth += abs(quality - first)
                if self.rules.exact_challenge:
                    smooth += first - abs(quality - first)
                    self.result.rule2_kbps += first - abs(quality - first)
        if chunk > 0:
            smooth += abs(quality - self._chunk_kbps(state, state.levels[chunk - 1]))
        elif state.index > 0:
            before = self.result.last_watched_kbps.get(state.index - 1)
            if before is not None:
                smooth += abs(quality - before)
            elif self.rules.exact_challenge:
                self.result.unresolved_first_chunks.append((state.index, quality))
        return quality, smooth

    # --- playback ---
    def _swipe(self) -> None:
        head = self.queue.pop(0)
        first_waste = math.ceil(head.watch_ms / CHUNK_MS)
        sizes = head.video.sizes
        self.result.wasted_bytes += sum(sizes[lv][i] for i, lv in enumerate(head.levels) if i >= first_waste)
        self.result.watched_ms += head.watch_ms
        self.start += 1
        if self._added < len(self.videos):
            self._enqueue()

    def _play(self, action_ms: float) -> float:
        """Play the queue for `action_ms`; return the stall (ms) that ended the step, if any."""
        remaining = float(action_ms)
        after = 0.0  # buffer left after the last play, negative when the head ran dry
        while after >= 0 and remaining > 0 and not self.finished:
            head = self.queue[0]
            before = head.played_ms
            left = head.watch_ms - before
            want = min(remaining, left)
            after = head.buffer_ms - want
            head.played_ms += min(head.buffer_ms, want)
            head.buffer_ms = max(after, 0.0)
            played = head.played_ms - before
            remaining -= played
            if played == left:
                self._swipe()
        return remaining if after < 0 else 0.0

    # --- the decision loop ---
    def _check(self, decision: Any) -> tuple[int, int, float]:
        try:
            raw_id, raw_level, raw_sleep = decision
            video_id, level, sleep_ms = int(raw_id), int(raw_level), float(raw_sleep)
        except (TypeError, ValueError):
            raise DecisionError(f"an Algorithm returns (video id, level, sleep ms), not {decision!r}") from None
        last = self.start + len(self.queue) - 1
        if not self.start <= video_id <= last:
            raise DecisionError(f"video id {video_id} is not in the queue (videos {self.start}..{last})")
        if not 0 <= level < len(self.queue[video_id - self.start].video.kbps):
            raise DecisionError(f"level {level} for video {video_id} is outside 0..{len(self.queue[0].video.kbps) - 1}")
        if not math.isfinite(sleep_ms) or sleep_ms < 0:
            raise DecisionError(f"sleep time {sleep_ms} ms must be finite and not negative")
        if sleep_ms == 0:
            state = self.queue[video_id - self.start]
            if state.downloaded >= state.video.n_chunks:
                raise DecisionError(f"video {video_id}: all {state.video.n_chunks} chunks are already downloaded")
        return video_id, level, sleep_ms

    def step(self, decision: Any) -> StepOutcome:
        """Carry out one decision `(video_id, level, sleep_ms)` and score it."""
        video_id, level, sleep_ms = self._check(decision)
        result = self.result
        quality = smooth = 0.0
        size = 0
        if sleep_ms > 0:
            delay = float(int(sleep_ms))
            stall = self._play(delay)
            end = self.finished or self.queue[0].downloaded >= self.queue[0].video.n_chunks
        else:
            rel = video_id - self.start
            state = self.queue[rel]
            quality, smooth = self._score_request(rel, level)
            size = self._chunk_bytes(state, level)
            state.levels.append(level)
            state.bytes_downloaded += size
            result.downloaded_bytes += size
            delay = float(self.link.download_ms(size))
            stall = self._play(delay)
            if video_id < self.start or self.finished:
                end = True  # swiped during the fetch: its bytes are already counted as waste
            else:
                self._arrived(state, level)
                end = state.downloaded >= state.video.n_chunks
        self.clock_ms += delay
        result.steps += 1
        result.quality_kbps += quality
        result.smooth_kbps += smooth
        result.stall_ms += stall
        result.qoe += quality / 1000.0 - REBUF_WEIGHT * stall / 1000.0 - smooth / 1000.0
        return StepOutcome(delay, stall, size, end, self.start)

    def run(self, algorithm: Algorithm) -> SessionResult:
        """Drive `algorithm` through the whole session."""
        decision = algorithm.run(0, 0, 0, False, 0, self.players(), True)
        idle = 0
        while True:
            outcome = self.step(decision)
            idle = idle + 1 if outcome.delay_ms == 0 else 0
            if idle > MAX_IDLE_STEPS:
                raise DecisionError(f"the Algorithm made {idle} steps in a row that take no time (sleeps under 1 ms)")
            if self.result.qoe < MIN_QOE and self.rules.exact_challenge:
                self.result.stuck = True
                break
            if self.finished:
                break
            decision = algorithm.run(
                outcome.delay_ms,
                outcome.rebuf_ms,
                outcome.video_size,
                outcome.end_of_video,
                outcome.play_video_id,
                self.players(),
                False,
            )
        result = self.result
        megabits = result.downloaded_bytes * 8 / 1e6
        result.score = STUCK_SCORE if result.stuck else result.qoe - BANDWIDTH_WEIGHT * megabits
        return result
