"""SIGINT and SIGTERM for the `ptcodec` command: both stop a job as Ctrl-C does, but never in
the middle of a write (a job's `critical` sections). Jobs install no handlers: the CLI does,
whatever signal state the process inherited (a shell's background job starts with SIGINT
ignored; a parent can leave it blocked)."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from typing import Any


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the partial stream stays for --resume."""


class Interruptions:
    """SIGINT and SIGTERM stop the encode (as KeyboardInterrupt, the partial file
    kept), but never in the middle of a write: a signal that arrives while units are
    written and made durable takes effect right after, so no interruption leaves a
    torn unit (resume would drop one, but a whole keyframe is better kept)."""

    def __init__(self) -> None:
        self._deferring = 0
        self._pending: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "Interruptions":
        if threading.current_thread() is threading.main_thread():
            signals = (signal.SIGINT, signal.SIGTERM)
            for signum in signals:
                self._previous[signum] = signal.signal(signum, self._handle)
            if hasattr(signal, "pthread_sigmask"):  # not on Windows
                signal.pthread_sigmask(signal.SIG_UNBLOCK, signals)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:  # noqa: ARG002 - signal handler signature
        if self._deferring:
            self._pending = signum
        else:
            self._raise(signum)

    @staticmethod
    def _raise(signum: int) -> None:
        raise _Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and self._pending is not None:
            signum, self._pending = self._pending, None
            self._raise(signum)
