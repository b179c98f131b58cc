"""Streaming reader for `.ptv` files.

Units are read one at a time from a file object, so a file of any length is
parsed in constant memory. Every unit is checked against the syntax, the
forbidden-value table and the order rules as it is read; the first problem
raises a `PtvError` that names the file, byte offset, unit and field.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import BinaryIO

from ptcodec.errors import InvalidValueError, PtvError
from ptcodec.ptv import rules
from ptcodec.ptv.framing import UnitRecord, read_magic, read_unit, scan_unit
from ptcodec.ptv.packet import Packet
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, unit_name

Source = "str | os.PathLike[str] | bytes | BinaryIO"


@dataclass(frozen=True)
class IndexEntry:
    """Where one unit is, found by a scan that skips payloads."""

    offset: int
    unit_type: int
    frame_index: int | None
    size: int


class PtvReader:
    """Opens a `.ptv` stream and reads its sequence header at once.

    `source` is a path, a bytes object or a seekable binary file object.
    """

    def __init__(self, source: Source, *, path: str | None = None) -> None:
        self._owns = False
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._stream: BinaryIO = io.BytesIO(bytes(source))
            self.path = path
        elif hasattr(source, "read"):
            self._stream = source  # type: ignore[assignment]
            self.path = path or getattr(source, "name", None)
        else:
            self.path = path or os.fspath(source)
            try:
                self._stream = open(source, "rb")  # noqa: SIM115 - closed in close()
            except OSError as e:
                raise PtvError(f"cannot open: {e.strerror}", path=self.path) from None
            self._owns = True
        try:
            self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> None:
        self._start = self._stream.tell()
        try:
            read_magic(self._stream)
        except PtvError as error:
            raise error.located(path=self.path) from None
        record = read_unit(self._stream, None, 0, self.path)
        if record is None or not isinstance(record.unit, SequenceHeader):
            offset = record.offset if record else self._stream.tell()
            raise InvalidValueError(
                "first unit is not a sequence header", offset=offset, unit_index=0, field="unit_type", path=self.path
            )
        try:
            rules.check_sequence_header(record.unit)
        except PtvError as error:
            error.field = f"sequence_header.{error.field}"
            raise error.located(offset=record.offset, unit_index=0, path=self.path) from None
        self.header: SequenceHeader = record.unit
        self.header_record = record

    # -- sequential access ---------------------------------------------------
    def units(self) -> Iterator[UnitRecord]:
        """Every unit from the sequence header on, checked against all rules."""
        yield self.header_record
        self._stream.seek(self.header_record.offset + self.header_record.size)
        stream_rules = rules.StreamRules(self.header)
        index = 1
        while True:
            record = read_unit(self._stream, self.header, index, self.path)
            if record is None:
                break
            try:
                stream_rules.check(record.unit)
            except PtvError as error:
                raise self._locate(error, record) from None
            yield record
            index += 1
        try:
            stream_rules.finish()
        except PtvError as error:
            raise error.located(offset=self._stream.tell(), unit_index=index, path=self.path) from None

    __iter__ = units

    def packets(self) -> Iterator[Packet]:
        """The temporal units after the leading units (see `codec_private`)."""
        pending: list[UnitRecord] = []
        for record in self.units():
            unit = record.unit
            has_keyframe = any(isinstance(r.unit, Keyframe) for r in pending)
            if isinstance(unit, SceneInit) or (isinstance(unit, Keyframe) and has_keyframe):
                if has_keyframe:
                    yield self._packet(pending, unit.frame_index)
                pending = [record]
            elif pending or isinstance(unit, Keyframe):
                pending.append(record)
        if pending:
            yield self._packet(pending, None)

    def codec_private(self) -> bytes:
        """Magic, sequence header and any units before the first scene: what a
        container stores once (Matroska CodecPrivate) rather than per packet."""
        end = self.header_record.offset + self.header_record.size
        for record in self.units():
            if isinstance(record.unit, (SceneInit, Keyframe)):
                end = record.offset
                break
            end = record.offset + record.size
        self._stream.seek(self._start)
        return self._stream.read(end - self._start)

    # -- random access -------------------------------------------------------
    def index(self) -> list[IndexEntry]:
        """Scan unit framing only (payloads are skipped, CRCs not verified)."""
        file_size = self._stream.seek(0, io.SEEK_END)
        self._stream.seek(self.header_record.offset + self.header_record.size)
        entries = []
        index = 1
        while (found := scan_unit(self._stream, self.header, index, file_size, self.path)) is not None:
            entries.append(IndexEntry(*found))
            index += 1
        return entries

    def read_at(self, entry: IndexEntry, index: int = -1) -> UnitRecord:
        """Parse and check the unit at an index entry."""
        self._stream.seek(entry.offset)
        record = read_unit(self._stream, self.header, index, self.path)
        assert record is not None
        try:
            rules.check_unit_alone(record.unit, self.header)
        except PtvError as error:
            raise self._locate(error, record) from None
        return record

    # -- helpers -------------------------------------------------------------
    @property
    def time_base(self) -> Fraction:
        return self.header.time_base

    def _packet(self, records: list[UnitRecord], next_frame: int | None) -> Packet:
        keyframe = next(r.unit for r in records if isinstance(r.unit, Keyframe))
        if next_frame is not None:
            duration = next_frame - keyframe.frame_index
        elif self.header.frame_count:
            duration = self.header.frame_count - keyframe.frame_index
        else:
            duration = 1
        return Packet(
            data=b"".join(r.data for r in records),
            pts=keyframe.frame_index,
            duration=duration,
            time_base=self.header.time_base,
            is_keyframe=isinstance(records[0].unit, SceneInit),
            units=tuple(records),
        )

    def _locate(self, error: PtvError, record: UnitRecord) -> PtvError:
        if error.field is not None and "." not in error.field:
            error.field = f"{unit_name(record.unit_type)}.{error.field}"
        return error.located(offset=record.offset, unit_index=record.index, path=self.path)

    def close(self) -> None:
        if self._owns:
            self._stream.close()

    def __enter__(self) -> "PtvReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_all(source: Source, *, path: str | None = None) -> tuple[SequenceHeader, list[UnitRecord]]:
    """Parse and check a whole stream; returns the header and every unit record."""
    with PtvReader(source, path=path) as reader:
        return reader.header, list(reader.units())

