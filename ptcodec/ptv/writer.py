"""Writer for `.ptv` files: append units as an encoder produces them.

The stream is written to `<path>.partial` and renamed to `<path>` only when
complete, so a half-written file never stands under the final name. Units are
checked against the same rules the reader applies before they are written.

`PtvWriter(..., after=...)` continues a partial file after units already in it
(an interrupted encode: ptcodec/encoder/resume.py finds what it can keep).
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, BinaryIO

from ptcodec.errors import InputError, PtvError
from ptcodec.outputs import PARTIAL_SUFFIX, write_error
from ptcodec.ptv import rules, syntax
from ptcodec.ptv.framing import UnitRecord, build_unit, read_unit
from ptcodec.ptv.units import SequenceHeader, Unit

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11


class PtvWriter:
    """Write a stream unit by unit. Use as a context manager: a clean exit
    renames the partial file into place; an exception removes it, unless
    `keep_partial` is set (an interrupted encode keeps what it finished).
    A failed write (a full disk) raises an `InputError` naming the partial file."""

    def __init__(self, path: str | os.PathLike[str], header: SequenceHeader, *, keep_partial: bool = False,
                 after: list[UnitRecord] | None = None) -> None:
        """`after`: continue the existing partial file after these of its units
        (sequence header first, as `read_partial` returns them). The file is not
        changed until something is written: then whatever followed those units
        (a unit cut off by a kill) is dropped."""
        rules.check_sequence_header(header)
        self.path = os.fspath(path)
        if os.path.isdir(self.path):
            raise InputError(f"{self.path}: is a directory; give a file name for the output")
        self.partial_path = self.path + PARTIAL_SUFFIX
        self.header = header
        self.keep_partial = keep_partial
        self._rules = rules.StreamRules(header)
        self._cut_at: int | None = None
        """Resuming: the end of the kept units, where the next write starts."""
        if after is None:
            self._file = self._open("wb")
            self._append(syntax.MAGIC + build_unit(header, None))
            self.units_written = 1
            return
        for record in after[1:]:
            self._rules.check(record.unit)
        self._file = self._open("r+b")
        self._cut_at = after[-1].offset + after[-1].size
        self.units_written = len(after)

    def _open(self, mode: str) -> BinaryIO:
        try:
            return open(self.partial_path, mode)  # type: ignore[return-value]  # binary: mode is wb or r+b
        except OSError as error:
            raise write_error(self.partial_path, error, "cannot open for writing") from None

    def _append(self, data: bytes) -> None:
        try:
            if self._cut_at is not None:
                self._file.truncate(self._cut_at)
                self._file.seek(self._cut_at)
                self._cut_at = None
            self._file.write(data)
        except OSError as error:
            raise write_error(self.partial_path, error) from None

    def write(self, unit: Unit, *, layer_id: int | None = None) -> int:
        """Check and append one unit; returns the number of bytes written."""
        try:
            unit = self._rules.check(unit, encode=True)
        except PtvError as error:
            raise error.located(unit_index=self.units_written, path=self.partial_path) from None
        data = build_unit(unit, self.header, layer_id)
        self._append(data)
        self.units_written += 1
        return len(data)

    def write_packet(self, data: bytes) -> int:
        """Append a temporal unit (a packet's bytes, or a keyframe's units) as it is,
        after checking each of its units; all of it is checked before any is written."""
        stream = io.BytesIO(data)
        index = self.units_written
        while True:
            try:
                record = read_unit(stream, self.header, index, self.partial_path)
                if record is None:
                    break
                self._rules.check(record.unit)
            except PtvError as error:
                raise error.located(unit_index=index, path=self.partial_path) from None
            index += 1
        self._append(data)
        self.units_written = index
        return len(data)

    def flush(self) -> None:
        """Make everything written so far durable (an encoder calls this per keyframe)."""
        try:
            if self._cut_at is not None:
                self._append(b"")
            self._file.flush()
            os.fsync(self._file.fileno())
        except OSError as error:
            raise write_error(self.partial_path, error) from None

    def finish(self) -> None:
        """Check that the stream is complete, make it durable and close it, still
        under its partial name (a caller that muxes it elsewhere reads it from there)."""
        try:
            self._rules.finish()
            self.flush()
            self._file.close()
        except BaseException:
            self.abort()
            raise

    def close(self) -> None:
        """Finish the stream and move it under its final name."""
        self.finish()
        try:
            os.replace(self.partial_path, self.path)
        except OSError as error:
            raise write_error(self.path, error, "cannot move the finished stream here") from None

    def abort(self) -> None:
        """Stop writing; the partial file is removed unless keep_partial is set."""
        if not self._file.closed:
            with contextlib.suppress(OSError):  # a full disk fails the last flush again
                self._file.close()
        if not self.keep_partial and os.path.exists(self.partial_path):
            os.remove(self.partial_path)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def serialize(header: SequenceHeader, units: Sequence[Unit | tuple[Unit, int | None]]) -> bytes:
    """A whole stream in memory (tests, vectors, muxers). Checks the same rules as the writer."""
    stream_rules = rules.StreamRules(header)
    rules.check_sequence_header(header)
    parts = [syntax.MAGIC, build_unit(header, None)]
    for item in units:
        unit, layer_id = item if isinstance(item, tuple) else (item, None)
        unit = stream_rules.check(unit, encode=True)
        parts.append(build_unit(unit, header, layer_id))
    stream_rules.finish()
    return b"".join(parts)
