"""One Algorithm over a class of traces (the challenge's 20 per class), with per-trace and mean figures.

Sessions are independent, so they may run in a process pool; the one link between them, the
challenge's last-watched levels kept from one trace to the next (rule 3 in `session`), is replayed
afterwards in trace order, so that the figures do not depend on the pool.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from ptcodec.errors import InputError
from ptcodec.preload.challenge import Algorithm
from ptcodec.preload.network import Link
from ptcodec.preload.session import CHALLENGE_RULES, Rules, Session, SessionResult
from ptcodec.preload.users import RetentionUsers, UserModel
from ptcodec.preload.videos import Video, load_catalogue
from ptcodec.streaming.traces import load_trace

SESSION_VIDEOS = 7  # the challenge shows each of its 7 videos once


# The figures averaged over a class. QoE = quality - smoothness - 1.85 x stall_s (the score's units:
# kbit/s / 1000 per chunk); `rule2` is the part of `smoothness` that the challenge's rule 2 adds.
MEAN_KEYS = ("score", "qoe", "stall_s", "waste_mb", "downloaded_mb", "quality", "smoothness", "rule2")


@dataclass(frozen=True)
class TraceScore:
    """One session's figures; `qoe` is before the bandwidth term, sizes in MB (10^6 bytes)."""

    trace: str
    score: float
    qoe: float
    stall_s: float
    waste_mb: float
    downloaded_mb: float
    quality: float
    smoothness: float
    rule2: float

    @classmethod
    def of(cls, trace: str, result: SessionResult) -> TraceScore:
        return cls(
            trace,
            result.score,
            result.qoe,
            result.stall_ms / 1000,
            result.wasted_bytes / 1e6,
            result.downloaded_bytes / 1e6,
            result.quality_kbps / 1000,
            result.smooth_kbps / 1000,
            result.rule2_kbps / 1000,
        )


@dataclass(frozen=True)
class ClassScore:
    """Every trace of a class and their mean."""

    traces: tuple[TraceScore, ...]

    @property
    def mean(self) -> dict[str, float]:
        return {k: statistics.fmean(getattr(t, k) for t in self.traces) for k in MEAN_KEYS}

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "traces": [asdict(t) for t in self.traces]}


def trace_paths(directory: str | Path) -> list[Path]:
    """The trace files of a class directory, in the challenge's order (numeric names by number)."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory of traces")
    paths = [p for p in root.iterdir() if p.is_file() and not p.name.startswith(".")]
    if not paths:
        raise InputError(f"{root}: no trace files")
    return sorted(paths, key=lambda p: (0, int(p.name), "") if p.name.isdigit() else (1, 0, p.name))


def session_videos(catalogue: Sequence[Video], count: int = SESSION_VIDEOS) -> list[Video]:
    """The session's videos: catalogue[i % len(catalogue)] for i < count."""
    return [catalogue[i % len(catalogue)] for i in range(count)]


def run_trace(
    make_algorithm: Callable[[], Algorithm],
    trace_path: str | Path,
    videos: Sequence[Video],
    users: UserModel,
    rules: Rules = CHALLENGE_RULES,
) -> SessionResult:
    """One session of a fresh Algorithm over one trace file."""
    link = Link.from_trace(load_trace(trace_path))
    watch = [users.watch_ms(i, video) for i, video in enumerate(videos)]
    algorithm = make_algorithm()
    algorithm.Initialize()
    return Session(videos, watch, link, rules).run(algorithm)


def _job(args: tuple[Callable[[], Algorithm], Path, Sequence[Video], UserModel, Rules]) -> SessionResult:
    return run_trace(*args)


def carry_last_levels(results: Sequence[SessionResult]) -> None:
    """Rule 3 of `session`: charge each first chunk left unresolved in a session against the last watched
    level its predecessor had in the sessions before it (in order), as the challenge's run does."""
    known: dict[int, int] = {}
    for result in results:
        penalty = sum(abs(kbps - known[i - 1]) for i, kbps in result.unresolved_first_chunks if i - 1 in known)
        if penalty:
            result.charge_smoothness(penalty)
        known.update(result.last_watched_kbps)


def run_class(
    make_algorithm: Callable[[], Algorithm],
    trace_dir: str | Path,
    *,
    video_dir: str | Path,
    users: UserModel | None = None,
    rules: Rules = CHALLENGE_RULES,
    workers: int = 1,
    progress: Callable[[int, int], None] | None = None,
) -> ClassScore:
    """Run `make_algorithm()` (a class, or any picklable factory when `workers` > 1) on every trace of
    `trace_dir` with the videos of `video_dir`. `progress(done, total)` is called after each trace."""
    paths = trace_paths(trace_dir)
    videos = session_videos(load_catalogue(video_dir))
    users = users if users is not None else RetentionUsers()
    jobs = [(make_algorithm, path, videos, users, rules) for path in paths]
    results: list[SessionResult] = []
    if workers <= 1:
        for job in jobs:
            results.append(_job(job))
            if progress:
                progress(len(results), len(jobs))
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for result in pool.map(_job, jobs):
                results.append(result)
                if progress:
                    progress(len(results), len(jobs))
    if rules.exact_challenge:
        carry_last_levels(results)
    return ClassScore(tuple(TraceScore.of(path.name, r) for path, r in zip(paths, results, strict=True)))
