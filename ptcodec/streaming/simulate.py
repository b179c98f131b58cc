"""A trace-driven discrete-event ABR simulator, in the style of Pensieve's.

Model (one session = one ladder over one trace):
- Segments download one after another, each as one HTTP request: one RTT, then the bytes over the looping
  trace (`traces.download_time`). The ABR chooses each segment's representation from an `AbrState`.
  When the ladder knows its init segments (`Ladder.init_sizes`, from a package's index), the first segment
  of each representation is preceded by its init segment's request, as the player fetches it; both count
  as that segment's download.
- One-keyframe lookahead: segment boundaries are keyframes and a segment carries its closing keyframe, so a
  segment becomes playable when it has fully arrived (frames of (a, b] need keyframe b).
- The buffer (seconds of playable video) drains in real time while the next segment downloads; when it empties
  the player rebuffers until the segment arrives. When the buffer exceeds `max_buffer_s` the player waits for
  it to drain to `max_buffer_s` before the next request.
- Generation: the client generates frames as it shows them, pipelined one frame ahead. With `gen_fps` for the
  chosen representation below the playback `fps`, showing a segment of F frames takes F / gen_fps seconds of
  wall time instead of F / fps: a generation stall of the difference (one stall per such segment).
- Startup: playback starts once the first segment is in and its first frame is generated (1 / gen_fps).

This model is one class, `Playback`, which the player (player.py) drives too, with download times measured
on the wall clock instead of `download_time`.

QoE is Pensieve's linear form, with the weights stated in every result:
    sum(bitrate_Mbps) - rebuffer_weight * stall_s - startup_weight * startup_s - smooth_weight * sum(|d bitrate_Mbps|)
where stall_s counts network rebuffering and generation stalls (Pensieve counts its startup wait as rebuffering,
hence the same default weight for it).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

from ptcodec.errors import InputError
from ptcodec.streaming.abr import Abr, AbrState, Ladder, make_abr
from ptcodec.streaming.traces import Trace, download_time

Quality = Sequence[Sequence[Any]]  # quality[rep][segment]: one value for the segment, or one per frame


@dataclass(frozen=True)
class QoeWeights:
    """Pensieve's linear QoE weights (rebuffer penalty 4.3 = its top bitrate in Mbit/s)."""

    bitrate: float = 1.0
    rebuffer: float = 4.3
    smoothness: float = 1.0
    startup: float = 4.3


@dataclass(frozen=True)
class SegmentLog:
    """What happened to one segment: when it was requested, how long it took, the buffer after it arrived."""

    segment: int
    rep: int
    bytes: int
    request_s: float
    download_s: float
    throughput_kbps: float
    buffer_s: float
    rebuffer_s: float
    gen_stall_s: float
    wait_s: float


@dataclass
class SessionResult:
    """Per-session outcome; `to_dict` is the JSON form."""

    trace: str
    abr: str
    weights: QoeWeights
    qoe: float
    bitrate_term: float
    smoothness_term: float
    startup_s: float
    stall_count: int
    stall_s: float
    rebuffer_s: float
    gen_stall_s: float
    mean_bitrate_kbps: float
    per_second_kbps: list[float]
    bad_frame_share: float | None
    segments: list[SegmentLog] = field(default_factory=list)

    @property
    def qoe_per_segment(self) -> float:
        return self.qoe / len(self.segments) if self.segments else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["qoe_per_segment"] = self.qoe_per_segment
        data["qoe_form"] = "sum(bitrate_Mbps) - rebuffer*stall_s - startup*startup_s - smoothness*sum(|delta bitrate_Mbps|)"
        return data


class _Buffer:
    """Buffered segments as (content seconds left, wall seconds per content second); drains in wall time."""

    def __init__(self) -> None:
        self.items: list[list[float]] = []

    @property
    def content_s(self) -> float:
        return sum(item[0] for item in self.items)

    @property
    def wall_s(self) -> float:
        return sum(item[0] * item[1] for item in self.items)

    def add(self, content_s: float, wall_per_content: float) -> None:
        self.items.append([content_s, wall_per_content])

    def drain_wall(self, wall_s: float) -> None:
        """Play for `wall_s` seconds (or until empty)."""
        while self.items and wall_s > 0:
            content, ratio = self.items[0]
            if content * ratio <= wall_s:
                wall_s -= content * ratio
                self.items.pop(0)
            else:
                self.items[0][0] = content - wall_s / ratio
                wall_s = 0

    def wall_to_content(self, content_s: float) -> float:
        """Wall seconds of playing until only `content_s` seconds of video remain."""
        excess = self.content_s - content_s
        wall = 0.0
        for content, ratio in self.items:
            if excess <= 0:
                break
            take = min(content, excess)
            wall += take * ratio
            excess -= take
        return wall


def _gen_ratio(ladder: Ladder, rep: int, gen_fps: float | None = None) -> float:
    """Wall seconds per second of video for `rep` (1 unless generation is slower than playback);
    `gen_fps` (measured by a player that generates for real) stands in for the ladder's."""
    speed = gen_fps if gen_fps is not None else (None if ladder.gen_fps is None else ladder.gen_fps[rep])
    if speed is None or speed >= ladder.fps:
        return 1.0
    return ladder.fps / speed


class Playback:
    """One session's playback model: the buffer, rebuffering, generation stalls, the max-buffer wait and
    startup (see the module docstring). The one implementation of that accounting: the simulator feeds it
    download times from the trace, the player (player.py) download times measured on the wall clock.

    Per segment: `choose` asks the ABR (with the state the model holds), the caller downloads the segment
    starting at `now`, and `arrive` accounts for it and returns the seconds the client idles before its
    next request (the first frame's generation at startup, the wait for the buffer to drain to
    `max_buffer_s`); `result` gives the SessionResult."""

    def __init__(self, ladder: Ladder, *, max_buffer_s: float = 60.0) -> None:
        if max_buffer_s < ladder.segment_s:
            raise InputError(f"max buffer {max_buffer_s} s is shorter than a segment ({ladder.segment_s} s)")
        self.ladder = ladder
        self.max_buffer_s = max_buffer_s
        self.buffer = _Buffer()
        self.now = 0.0
        """Session time: seconds since the first request."""
        self.playing = False
        self.startup_s = 0.0
        self.last_rep: int | None = None
        self.throughputs: list[float] = []
        self.downloads: list[float] = []
        self.logs: list[SegmentLog] = []

    def state(self, segment: int) -> AbrState:
        """What the ABR sees before it chooses `segment`."""
        return AbrState(segment, self.buffer.content_s, self.last_rep, list(self.throughputs), list(self.downloads))

    def choose(self, abr: Abr, segment: int) -> int:
        """The ABR's representation for `segment`, checked against the ladder."""
        rep = abr.choose(self.state(segment), self.ladder)
        if not 0 <= rep < self.ladder.reps:
            raise InputError(f"ABR {abr.name!r} chose representation {rep} of {self.ladder.reps} for segment {segment}")
        return rep

    def arrive(self, segment: int, rep: int, nbytes: int, download_s: float, *, gen_fps: float | None = None) -> float:
        """Segment `segment` of `rep` (`nbytes` bytes) arrived `download_s` after it was requested at `now`;
        `gen_fps` overrides the ladder's generation speed (a measured one). Returns the idle seconds
        before the next request, by which `now` has already advanced."""
        ladder, buffer = self.ladder, self.buffer
        rebuffer = 0.0
        if self.playing:
            rebuffer = max(0.0, download_s - buffer.wall_s)
            buffer.drain_wall(download_s)
        request_s = self.now
        self.now += download_s
        arrived = self.now
        ratio = _gen_ratio(ladder, rep, gen_fps)
        if not self.playing:
            speed = gen_fps if gen_fps is not None else (None if ladder.gen_fps is None else ladder.gen_fps[rep])
            self.startup_s = self.now + (1 / speed if speed is not None else 0.0)  # the first frame generated
            self.now = self.startup_s
            self.playing = True
        buffer.add(ladder.segment_s, ratio)
        after = buffer.content_s
        wait = 0.0
        if after > self.max_buffer_s:
            wait = buffer.wall_to_content(self.max_buffer_s)
            buffer.drain_wall(wait)
            self.now += wait
        kbps = nbytes * 8 / 1000 / download_s if download_s > 0 else math.inf
        self.throughputs.append(kbps)
        self.downloads.append(download_s)
        self.logs.append(SegmentLog(segment, rep, nbytes, request_s, download_s, kbps, after, rebuffer,
                                    ladder.segment_s * (ratio - 1), wait))
        self.last_rep = rep
        return self.now - arrived

    def result(
        self,
        abr_name: str,
        trace_name: str,
        *,
        weights: QoeWeights | None = None,
        quality: Quality | None = None,
        quality_threshold: float | None = None,
        higher_is_better: bool = True,
    ) -> SessionResult:
        """The session so far, with QoE in `weights` (Pensieve's by default)."""
        return _result(self.ladder, abr_name, trace_name, self.logs, self.startup_s, weights or QoeWeights(),
                       quality, quality_threshold, higher_is_better)


def simulate_session(
    ladder: Ladder,
    abr: Abr,
    trace: Trace,
    *,
    rtt_s: float = 0.08,
    max_buffer_s: float = 60.0,
    weights: QoeWeights | None = None,
    quality: Quality | None = None,
    quality_threshold: float | None = None,
    higher_is_better: bool = True,
) -> SessionResult:
    """Play every segment of `ladder` over `trace` with `abr`; see the module docstring for the model.

    `quality[rep][segment]` (a value, or one value per frame) with `quality_threshold` gives the share of frames
    worse than the threshold (below it when `higher_is_better`, above it for LPIPS-like measures)."""
    playback = Playback(ladder, max_buffer_s=max_buffer_s)  # the Ladder checked its gen_fps when it was made
    initialised: set[int] = set()
    for seg in range(ladder.segments):
        rep = playback.choose(abr, seg)
        nbytes, seconds = ladder.sizes[rep][seg], 0.0
        if ladder.init_sizes is not None and rep not in initialised:  # fetched, as the player does, first
            initialised.add(rep)
            seconds = download_time(trace, playback.now, ladder.init_sizes[rep], rtt_s)
            nbytes += ladder.init_sizes[rep]
        seconds += download_time(trace, playback.now + seconds, ladder.sizes[rep][seg], rtt_s)
        playback.arrive(seg, rep, nbytes, seconds)
    return playback.result(abr.name, trace.name, weights=weights, quality=quality,
                           quality_threshold=quality_threshold, higher_is_better=higher_is_better)


def _result(
    ladder: Ladder,
    abr_name: str,
    trace_name: str,
    logs: list[SegmentLog],
    startup_s: float,
    weights: QoeWeights,
    quality: Quality | None,
    threshold: float | None,
    higher_is_better: bool,
) -> SessionResult:
    mbps = [ladder.bitrates_kbps[log.rep] / 1000 for log in logs]
    rebuffer = sum(log.rebuffer_s for log in logs)
    gen_stall = sum(log.gen_stall_s for log in logs)
    stalls = sum(1 for log in logs if log.rebuffer_s > 0) + sum(1 for log in logs if log.gen_stall_s > 0)
    bitrate_term = sum(mbps)
    smooth_term = sum(abs(b - a) for a, b in zip(mbps, mbps[1:], strict=False))
    qoe = (
        weights.bitrate * bitrate_term
        - weights.rebuffer * (rebuffer + gen_stall)
        - weights.startup * startup_s
        - weights.smoothness * smooth_term
    )
    return SessionResult(
        trace=trace_name,
        abr=abr_name,
        weights=weights,
        qoe=qoe,
        bitrate_term=bitrate_term,
        smoothness_term=smooth_term,
        startup_s=startup_s,
        stall_count=stalls,
        stall_s=rebuffer + gen_stall,
        rebuffer_s=rebuffer,
        gen_stall_s=gen_stall,
        mean_bitrate_kbps=1000 * bitrate_term / len(logs) if logs else 0.0,
        per_second_kbps=_per_second(ladder, logs),
        bad_frame_share=bad_frame_share_of(ladder, logs, quality, threshold, higher_is_better),
        segments=logs,
    )


def _per_second(ladder: Ladder, logs: list[SegmentLog]) -> list[float]:
    """Bitrate of the video shown in each second of content (the segment covering that second's start)."""
    seconds = math.ceil(len(logs) * ladder.segment_s - 1e-9)
    out = []
    for s in range(seconds):
        seg = min(int(s / ladder.segment_s + 1e-9), len(logs) - 1)
        out.append(ladder.bitrates_kbps[logs[seg].rep])
    return out


def bad_frame_share_of(
    ladder: Ladder, logs: list[SegmentLog], quality: Quality | None, threshold: float | None, higher_is_better: bool
) -> float | None:
    if quality is None or threshold is None:
        return None
    frames_per_segment = max(1, round(ladder.segment_s * ladder.fps))
    bad = total = 0
    for log in logs:
        value = quality[log.rep][log.segment]
        values = list(value) if isinstance(value, Sequence) else [value] * frames_per_segment
        for v in values:
            total += 1
            bad += v < threshold if higher_is_better else v > threshold
    return bad / total if total else None


def _session_job(args: tuple[Ladder, Abr, Trace, dict[str, Any]]) -> SessionResult:
    ladder, abr, trace, options = args
    return simulate_session(ladder, copy.deepcopy(abr), trace, **options)


def simulate_traces(
    ladder: Ladder,
    abr: Abr,
    traces: Sequence[Trace],
    *,
    jobs: int = 1,
    progress: Callable[[int, int], None] | None = None,
    **options: Any,
) -> list[SessionResult]:
    """One session per trace (each with a fresh copy of `abr`), in trace order; `jobs` > 1 runs them in worker
    processes, 1 inline. `progress(done, total)` is called after each session. `options` go to simulate_session."""
    if jobs < 1:
        raise InputError(f"jobs must be at least 1, not {jobs}")
    tasks = [(ladder, abr, trace, options) for trace in traces]
    results: list[SessionResult | None] = [None] * len(tasks)
    if jobs == 1:
        for i, task in enumerate(tasks):
            results[i] = _session_job(task)
            if progress:
                progress(i + 1, len(tasks))
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(_session_job, task): i for i, task in enumerate(tasks)}
            for done, future in enumerate(as_completed(futures), start=1):
                results[futures[future]] = future.result()
                if progress:
                    progress(done, len(tasks))
    return [r for r in results if r is not None]


def simulate_named(
    ladder: Ladder, abr_name: str, traces: Sequence[Trace], *, compute_aware: bool = True, **options: Any
) -> list[SessionResult]:
    """simulate_traces with the ABR made by name (`make_abr`), for the CLI."""
    return simulate_traces(ladder, make_abr(abr_name, compute_aware=compute_aware), traces, **options)
