"""Progress bars with rate and ETA (tqdm, on stderr), silenced by --quiet.

An encode's bar counts fitting work, not frames: a keyframe's fit is almost all
of the time, and one optimizer step costs what it renders (a scene's first
keyframe one frame, a later keyframe its whole segment). So the bar moves at
every step, its rate (frame-steps per second) is steady across keyframes, and its
ETA holds; the total is the plan's budget and is revised when a scene cut adds
keyframes or a fit stops early.
"""

from __future__ import annotations

from tqdm import tqdm


def bar(total: int, description: str, *, quiet: bool, unit: str = "frame", initial: int = 0) -> tqdm:
    return tqdm(total=total, desc=description, unit=unit, initial=initial, disable=quiet, dynamic_ncols=True,
                leave=True)


def advance(progress: tqdm, done: int, total: int) -> None:
    """Move a bar to `done` of a `total` that may change as the work is planned anew."""
    if total != progress.total:
        progress.total = total
    if done > progress.n:
        progress.update(done - progress.n)
