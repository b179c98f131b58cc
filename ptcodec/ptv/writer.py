"""Writer for `.ptv` files: append units as an encoder produces them.

The stream is written to `<path>.partial` and renamed to `<path>` only when
complete, so a half-written file never stands under the final name. Units are
checked against the same rules the reader applies before they are written.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from ptcodec.errors import PtvError
from ptcodec.ptv import rules, syntax
from ptcodec.ptv.framing import build_unit
from ptcodec.ptv.units import SequenceHeader, Unit

PARTIAL_SUFFIX = ".partial"


class PtvWriter:
    """Write a stream unit by unit. Use as a context manager: a clean exit
    renames the partial file into place; an exception removes it, unless
    `keep_partial` is set (an interrupted encode keeps what it finished)."""

    def __init__(self, path: str | os.PathLike[str], header: SequenceHeader, *, keep_partial: bool = False) -> None:
        rules.check_sequence_header(header)
        self.path = os.fspath(path)
        self.partial_path = self.path + PARTIAL_SUFFIX
        self.header = header
        self.keep_partial = keep_partial
        self._rules = rules.StreamRules(header)
        self._file: BinaryIO = open(self.partial_path, "wb")  # noqa: SIM115 - closed in close()/abort()
        self._file.write(syntax.MAGIC)
        self._file.write(build_unit(header, None))
        self.units_written = 1

    def write(self, unit: Unit, *, layer_id: int | None = None) -> int:
        """Check and append one unit; returns the number of bytes written."""
        try:
            self._rules.check(unit)
        except PtvError as error:
            raise error.located(unit_index=self.units_written, path=self.partial_path) from None
        data = build_unit(unit, self.header, layer_id)
        self._file.write(data)
        self.units_written += 1
        return len(data)

    def flush(self) -> None:
        """Make everything written so far durable (an encoder calls this per keyframe)."""
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        """Finish the stream and move it under its final name."""
        try:
            self._rules.finish()
        except PtvError:
            self.abort()
            raise
        self.flush()
        self._file.close()
        os.replace(self.partial_path, self.path)

    def abort(self) -> None:
        """Stop writing; the partial file is removed unless keep_partial is set."""
        if not self._file.closed:
            self._file.close()
        if not self.keep_partial and os.path.exists(self.partial_path):
            os.remove(self.partial_path)

    def __enter__(self) -> "PtvWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def serialize(header: SequenceHeader, units: list[Unit] | list[tuple[Unit, int | None]]) -> bytes:
    """A whole stream in memory (tests, vectors, muxers). Checks the same rules as the writer."""
    stream_rules = rules.StreamRules(header)
    rules.check_sequence_header(header)
    parts = [syntax.MAGIC, build_unit(header, None)]
    for item in units:
        unit, layer_id = item if isinstance(item, tuple) else (item, None)
        stream_rules.check(unit)
        parts.append(build_unit(unit, header, layer_id))
    stream_rules.finish()
    return b"".join(parts)
