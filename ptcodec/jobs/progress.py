"""How a job reports its progress: a callback, never a printed bar (the CLI draws bars: ptcodec/cli/progress.py)."""

from __future__ import annotations

from collections.abc import Callable

Progress = Callable[[str, int, int], None]
"""`progress(task, done, total)`, task "encoding" (fitting work, in generator frame evaluations) or
"decoding" (frames). `total` may change as the work is planned anew (a scene cut adds keyframes, a
fit stops early); the first call of a resumed encode has the kept work as `done`."""
