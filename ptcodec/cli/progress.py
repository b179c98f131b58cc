"""Progress bars with rate and ETA (tqdm, on stderr), silenced by --quiet.

Jobs report `progress(task, done, total)` (ptcodec/jobs/progress.py); `Bars`
draws one bar per task. An encode's bar counts fitting work, not frames: a
keyframe's fit is almost all of the time, and one optimizer step costs what it
renders (a scene's first keyframe one frame, a later keyframe its whole
segment; with single-frame steps, one frame of it). So the bar moves at every
step and its rate (frame-steps per second) is steady across keyframes. The total
is the plan's budget, revised when a scene cut adds keyframes. A fit that stops
early, or a warm later keyframe's (which takes only WARM_SINGLE_FRAME_SHARE of its
planned steps), still counts its whole budget when it ends: the bar jumps there,
and the ETA, the budget left at the rate so far, runs high by up to that share
until warm fits have set the rate.
"""

from __future__ import annotations

from tqdm import tqdm

UNITS = {"planning": "frame", "encoding": "frame-step", "decoding": "frame", "evaluating": "point"}


def bar(total: int, description: str, *, quiet: bool, unit: str = "frame", initial: int = 0) -> tqdm:
    return tqdm(total=total, desc=description, unit=unit, initial=initial, disable=quiet, dynamic_ncols=True,
                leave=True)


def advance(progress: tqdm, done: int, total: int) -> None:
    """Move a bar to `done` of a `total` that may change as the work is planned anew."""
    if total != progress.total:
        progress.total = total
    if done > progress.n:
        progress.update(done - progress.n)


class Bars:
    """A job's `progress` callback that draws a bar per task; `close()` (or `with`) ends them all."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.bars: dict[str, tqdm] = {}

    def __call__(self, task: str, done: int, total: int) -> None:
        if task not in self.bars:
            self.bars[task] = bar(total, task, quiet=self.quiet, unit=UNITS.get(task, "item"), initial=done)
        advance(self.bars[task], done, total)

    def postfix(self, task: str, **values: str) -> None:
        if task in self.bars:
            self.bars[task].set_postfix(values, refresh=False)

    def close(self) -> None:
        for progress in self.bars.values():
            progress.close()

    def __enter__(self) -> "Bars":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
