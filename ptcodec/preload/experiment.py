"""Every scheduler over a trace class, with or without prompts and compute (what `ptcodec preload-sim` runs).

A `Setup` names a scheduler, the generator speed and the prompt ladder; it builds the session (the
challenge's `Session` for pixel-only schedulers, `ComputeSession` with prompt levels otherwise) and the
Algorithm, and is picklable so that traces may run in a process pool. Sessions are combined as
`runner.run_class` does (rule 3 replayed in trace order).
"""

from __future__ import annotations

import inspect
import math
import statistics
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ptcodec.errors import InputError
from ptcodec.preload.baselines import BASELINES
from ptcodec.preload.compute import ComputeSession, chunk_generation_ms
from ptcodec.preload.network import Link
from ptcodec.preload.prompts import PromptLadder, with_prompts
from ptcodec.preload.runner import MEAN_KEYS, TraceScore, carry_last_levels, session_videos, trace_paths
from ptcodec.preload.session import Session, SessionResult
from ptcodec.preload.solutions import DashletStyle, PdasStyle, SearchPixels, SearchScheduler
from ptcodec.preload.users import UserModel
from ptcodec.preload.videos import Video, load_catalogue
from ptcodec.streaming.traces import load_trace

PIXEL_SCHEDULERS: dict[str, Callable[[], Any]] = {
    **BASELINES, "pdas_style": PdasStyle, "dashlet_style": DashletStyle, "search_pixels": SearchPixels,
}
PROMPT_SCHEDULERS = ("search_prompts",)
SCHEDULERS = (*PIXEL_SCHEDULERS, *PROMPT_SCHEDULERS)
SEARCH_SCHEDULERS = ("search_pixels", "search_prompts")
# The search scheduler's keyword options that an experiment may set (ablations; the defaults are the tuned ones).
_SEARCH_PARAMETERS = {name: p for name, p in inspect.signature(SearchScheduler).parameters.items()
                      if p.kind is inspect.Parameter.KEYWORD_ONLY and name != "clock"}
SEARCH_OPTIONS = tuple(_SEARCH_PARAMETERS)
SearchValue = float | bool | None
NULLABLE = tuple(name for name, p in _SEARCH_PARAMETERS.items() if "None" in str(p.annotation))
"""Search options that `none` turns off (those the scheduler types as `... | None`)."""


def search_options(pairs: Sequence[str]) -> tuple[tuple[str, SearchValue], ...]:
    """`NAME=VALUE` texts as search options: VALUE a number, true/false, or none (an option turned off)."""
    out: dict[str, SearchValue] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or name not in SEARCH_OPTIONS:
            raise InputError(f"--search-option {pair}: expected NAME=VALUE with NAME one of {', '.join(SEARCH_OPTIONS)}")
        default = inspect.signature(SearchScheduler).parameters[name].default
        word = text.strip().lower()
        if word in ("true", "false") and isinstance(default, bool):
            out[name] = word == "true"
        elif word == "none" and name in NULLABLE:
            out[name] = None
        else:
            try:
                value = float(word)
            except ValueError:
                value = math.nan
            if isinstance(default, bool) or not math.isfinite(value) or value < 0:
                raise InputError(f"--search-option {pair}: {name} takes "
                                 + ("true or false" if isinstance(default, bool) else "a number >= 0"
                                    + (" or none" if name in NULLABLE else "")))
            out[name] = int(value) if name in ("depth", "beam") else value
    return tuple(sorted(out.items()))


@dataclass(frozen=True)
class Setup:
    scheduler: str
    gen_fps: float | None = None  # prompt schedulers only
    ladder: PromptLadder | None = None
    search: tuple[tuple[str, SearchValue], ...] = ()  # options of the search schedulers (`search_options`)

    def __post_init__(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"scheduler {self.scheduler!r} is not one of {', '.join(SCHEDULERS)}")
        if self.uses_prompts and (self.gen_fps is None or self.ladder is None):
            raise InputError(f"scheduler {self.scheduler} needs a generator speed and a prompt ladder")

    @property
    def uses_prompts(self) -> bool:
        return self.scheduler in PROMPT_SCHEDULERS

    def chunk_gen_ms(self) -> float:
        assert self.ladder is not None and self.gen_fps is not None
        return chunk_generation_ms(self.gen_fps, self.ladder.frames_per_chunk)

    def videos(self, videos: Sequence[Video]) -> list[Video]:
        return [with_prompts(v, self.ladder) for v in videos] if self.ladder and self.uses_prompts else list(videos)

    def algorithm(self) -> Any:
        options: dict[str, Any] = dict(self.search) if self.scheduler in SEARCH_SCHEDULERS else {}
        if not self.uses_prompts:
            return SearchScheduler(**options) if options else PIXEL_SCHEDULERS[self.scheduler]()
        assert self.ladder is not None
        kbps = tuple(int(self.ladder.h265_kbps[r]) for r in self.ladder.ranks)
        return SearchScheduler(kbps, self.chunk_gen_ms(), **options)

    def session(self, videos: Sequence[Video], watch: Sequence[float], link: Link) -> Session:
        if not self.uses_prompts:
            return Session(videos, watch, link)
        return ComputeSession(videos, watch, link, chunk_gen_ms=self.chunk_gen_ms())


@dataclass(frozen=True)
class Outcome:
    """One session's result and the share of its chunks sent as prompts."""

    result: SessionResult
    prompt_share: float


def run_one(setup: Setup, trace_path: Path, videos: Sequence[Video], users: UserModel) -> Outcome:
    videos = setup.videos(videos)
    watch = [users.watch_ms(i, v) for i, v in enumerate(videos)]
    session = setup.session(videos, watch, Link.from_trace(load_trace(trace_path)))
    algorithm = setup.algorithm()
    algorithm.Initialize()
    result = session.run(algorithm)
    share = 0.0
    if isinstance(session, ComputeSession) and session.prompt_chunks + session.pixel_chunks:
        share = session.prompt_chunks / (session.prompt_chunks + session.pixel_chunks)
    return Outcome(result, share)


def _job(args: tuple[Setup, Path, Sequence[Video], UserModel]) -> Outcome:
    return run_one(*args)


def run_setup(setup: Setup, trace_dir: str | Path, video_dir: str | Path, users: UserModel, *, workers: int = 1,
              progress: Callable[[], None] | None = None) -> dict[str, Any]:
    """Mean and per-trace figures of `setup` over every trace of `trace_dir`."""
    paths = trace_paths(trace_dir)
    videos = session_videos(load_catalogue(video_dir))
    jobs = [(setup, path, videos, users) for path in paths]
    outcomes: list[Outcome] = []
    if workers <= 1:
        for job in jobs:
            outcomes.append(_job(job))
            if progress:
                progress()
    else:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            for outcome in pool.map(_job, jobs):
                outcomes.append(outcome)
                if progress:
                    progress()
    carry_last_levels([o.result for o in outcomes])
    traces = [TraceScore.of(p.name, o.result) for p, o in zip(paths, outcomes, strict=True)]
    mean = {k: statistics.fmean(getattr(t, k) for t in traces) for k in MEAN_KEYS}
    mean["prompt_share"] = statistics.fmean(o.prompt_share for o in outcomes)
    return {"mean": mean, "traces": [t.__dict__ | {"prompt_share": o.prompt_share}
                                     for t, o in zip(traces, outcomes, strict=True)]}
