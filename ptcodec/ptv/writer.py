"""Writer for `.ptv` files: append units as an encoder produces them.

The stream is written to `<path>.partial` and renamed to `<path>` only when
complete, so a half-written file never stands under the final name. Units are
checked against the same rules the reader applies before they are written.
"""

from __future__ import annotations

import io
import os
from typing import BinaryIO

from ptcodec.errors import InputError, PtvError
from ptcodec.ptv import rules, syntax
from ptcodec.ptv.framing import UnitRecord, build_unit, read_unit
from ptcodec.ptv.reader import PtvReader
from ptcodec.ptv.units import Keyframe, SequenceHeader, Unit

PARTIAL_SUFFIX = ".partial"


class PtvWriter:
    """Write a stream unit by unit. Use as a context manager: a clean exit
    renames the partial file into place; an exception removes it, unless
    `keep_partial` is set (an interrupted encode keeps what it finished)."""

    def __init__(self, path: str | os.PathLike[str], header: SequenceHeader, *, keep_partial: bool = False,
                 after: list[UnitRecord] | None = None) -> None:
        """`after`: continue the existing partial file after these of its units
        (sequence header first), dropping whatever follows them (see `resume`)."""
        rules.check_sequence_header(header)
        self.path = os.fspath(path)
        self.partial_path = self.path + PARTIAL_SUFFIX
        self.header = header
        self.keep_partial = keep_partial
        self._rules = rules.StreamRules(header)
        if after is None:
            self._file: BinaryIO = open(self.partial_path, "wb")  # noqa: SIM115 - closed in close()/abort()
            self._file.write(syntax.MAGIC)
            self._file.write(build_unit(header, None))
            self.units_written = 1
            return
        for record in after[1:]:
            self._rules.check(record.unit)
        end = after[-1].offset + after[-1].size
        self._file = open(self.partial_path, "r+b")  # noqa: SIM115 - closed in close()/abort()
        self._file.truncate(end)
        self._file.seek(end)
        self.units_written = len(after)

    @classmethod
    def resume(cls, path: str | os.PathLike[str]) -> tuple["PtvWriter", list[UnitRecord]]:
        """Reopen the `<path>.partial` of an interrupted encode and append after it.

        The stream is kept up to its last complete keyframe unit: a unit cut off
        by a kill, or a scene-init unit whose keyframe was never written, is
        dropped. Returns the writer (which keeps its partial file on errors) and
        the kept units, sequence header first, so that the encoder can rebuild
        its state from them.
        """
        partial = os.fspath(path) + PARTIAL_SUFFIX
        if not os.path.isfile(partial):
            raise InputError(f"{partial}: no interrupted encode to resume")
        records: list[UnitRecord] = []
        with PtvReader(partial) as reader:
            kept = [reader.header_record]
            try:
                for record in reader.units():
                    records.append(record)
                    if isinstance(record.unit, Keyframe):
                        kept = list(records)
            except PtvError:
                pass  # the tail an interrupted write left behind
        return cls(path, reader.header, keep_partial=True, after=kept), kept

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

    def write_packet(self, data: bytes) -> int:
        """Append a temporal unit (a packet's bytes) as it is, after checking each of its units."""
        stream = io.BytesIO(data)
        while True:
            try:
                record = read_unit(stream, self.header, self.units_written, self.partial_path)
                if record is None:
                    return len(data)
                self._rules.check(record.unit)
            except PtvError as error:
                raise error.located(unit_index=self.units_written, path=self.partial_path) from None
            self._file.write(record.data)
            self.units_written += 1

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
