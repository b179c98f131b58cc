"""Streaming reader for `.ptv` files.

Units are read one at a time from a file object, so a file of any length is
parsed in constant memory. Every unit is checked against the syntax, the
forbidden-value table and the order rules as it is read; the first problem
raises a `PtvError` that names the file, byte offset, unit and field.
"""

from __future__ import annotations

import dataclasses
import io
import os
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, BinaryIO, Union

from ptcodec.errors import InputError, InvalidValueError, PtvError, TruncatedError
from ptcodec.ptv import rules
from ptcodec.ptv.framing import (
    ByteSource,
    UnitRecord,
    read_magic,
    read_unit,
    scan_unit,
    seekable,
)
from ptcodec.ptv.packet import Packet
from ptcodec.ptv.syntax import MAGIC
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, unit_name

if TYPE_CHECKING:
    from typing_extensions import Self  # typing.Self from Python 3.11

Source = Union[str, os.PathLike, bytes, bytearray, memoryview, BinaryIO]


@dataclass(frozen=True)
class IndexEntry:
    """Where one unit is, found by a scan that skips payloads."""

    offset: int
    unit_type: int
    frame_index: int | None
    size: int


class PtvReader:
    """Opens a `.ptv` stream and reads its sequence header at once.

    `source` is a path, a bytes object or a binary file object (closed with the
    reader when `closes` is set; a path is always). Sequential
    reading (`units`, `packets`, `codec_private`) reads the source front to back
    without seeking, so a pipe or FIFO will do; from such a source the stream can
    be read once. `index` and `read_at` need a source that can seek.
    """

    def __init__(self, source: Source, *, path: str | None = None, closes: bool = False) -> None:
        self._owns = closes
        if isinstance(source, (bytes, bytearray, memoryview)):
            self._stream: BinaryIO = io.BytesIO(bytes(source))
            self.path = path
        elif hasattr(source, "read"):
            self._stream = source  # type: ignore[assignment]  # a binary file object
            self.path = path or getattr(source, "name", None)
        else:
            self.path = path or os.fspath(source)
            try:
                self._stream = open(source, "rb")  # noqa: SIM115 - closed in close()
            except OSError as e:
                raise PtvError(f"cannot open: {e.strerror}", path=self.path) from None
            self._owns = True
        try:
            self.seekable = seekable(self._stream)
            self._origin = self._stream.tell() if self.seekable else 0
            """Where the signature is in the file object: unit offsets count from there."""
            self._source = ByteSource(self._stream)
            self._ahead: deque[UnitRecord] = deque()
            """Units read (by codec_private) but not yet handed out by units()."""
            self._read_header()
        except BaseException:
            self.close()
            raise

    def _read_header(self) -> None:
        try:
            read_magic(self._source)
        except PtvError as error:
            raise error.located(path=self.path) from None
        record = read_unit(self._source, None, 0, self.path)
        if record is None or not isinstance(record.unit, SequenceHeader):
            offset = record.offset if record else self._source.tell()
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
        self._body = record.offset + record.size
        """Offset of the first unit after the sequence header."""

    # -- sequential access ---------------------------------------------------
    def units(self) -> Iterator[UnitRecord]:
        """Every unit from the sequence header on, checked against all rules."""
        records = self._records()
        yield self.header_record
        stream_rules = rules.StreamRules(self.header)
        index = 1
        for record in records:
            try:
                unit = stream_rules.check(record.unit)
            except PtvError as error:
                raise self._locate(error, record) from None
            yield record if unit is record.unit else dataclasses.replace(record, unit=unit)
            index += 1
        try:
            stream_rules.finish()
        except PtvError as error:
            raise error.located(offset=self._source.tell(), unit_index=index, path=self.path) from None

    __iter__ = units

    def packets(self) -> Iterator[Packet]:
        """The temporal units after the leading units (see `codec_private`)."""
        pending: list[UnitRecord] = []
        has_keyframe = False
        for record in self.units():
            unit = record.unit
            if isinstance(unit, SceneInit) or (isinstance(unit, Keyframe) and has_keyframe):
                if has_keyframe:
                    yield self._packet(pending, unit.frame_index)
                pending, has_keyframe = [record], isinstance(unit, Keyframe)
            elif pending or isinstance(unit, Keyframe):
                pending.append(record)
                has_keyframe = has_keyframe or isinstance(unit, Keyframe)
        if pending:
            yield self._packet(pending, None)

    def codec_private(self) -> bytes:
        """Magic, sequence header and any units before the first scene: what a
        container stores once (Matroska CodecPrivate) rather than per packet.

        The units it reads are handed out again by the next `units()`, so that
        even a pipe gives its codec private data and then its packets."""
        taken: list[UnitRecord] = []
        for record in self._records():
            taken.append(record)
            if isinstance(record.unit, (SceneInit, Keyframe)):
                break
            try:
                rules.check_unit_alone(record.unit, self.header)
            except PtvError as error:
                raise self._locate(error, record) from None
        self._ahead.extend(taken)
        leading = [r.data for r in taken if not isinstance(r.unit, (SceneInit, Keyframe))]
        return MAGIC + self.header_record.data + b"".join(leading)

    def _records(self) -> Iterator[UnitRecord]:
        """The parsed units after the sequence header (rules not checked), read once."""
        if self._source.tell() != self._body or self._ahead:
            self._restart()
        index = 1
        while True:
            if self._ahead:
                record = self._ahead.popleft()
            else:
                read = read_unit(self._source, self.header, index, self.path)
                if read is None:
                    return
                record = read
            yield record
            index += 1

    def _restart(self) -> None:
        """Go back to the first unit after the sequence header: a seek, or units read ahead."""
        ahead = self._ahead
        if ahead and ahead[0].offset == self._body and ahead[-1].offset + ahead[-1].size == self._source.tell():
            return  # codec_private read these and nothing more
        if not self.seekable:
            raise InputError(f"{self.path or 'the stream'}: a pipe or other stream that cannot seek can be read "
                             "only once; save it to a file to read it again")
        self._ahead.clear()
        self._stream.seek(self._origin + self._body)
        self._source = ByteSource(self._stream, self._body)

    # -- random access -------------------------------------------------------
    def _require_seekable(self, what: str) -> None:
        if not self.seekable:
            raise InputError(f"{self.path or 'the stream'}: {what} needs a file that can seek; this input cannot seek "
                             "(a pipe or FIFO): save it to a file first")

    def index(self) -> list[IndexEntry]:
        """Scan unit framing only (payloads are skipped, CRCs not verified)."""
        self._require_seekable("indexing")
        file_size = self._stream.seek(0, io.SEEK_END) - self._origin
        self._stream.seek(self._origin + self._body)
        entries = []
        index = 1
        while (found := scan_unit(self._stream, self.header, index, file_size, self.path, self._origin)) is not None:
            entries.append(IndexEntry(*found))
            index += 1
        self._stream.seek(self._origin + self._body)
        self._ahead.clear()
        self._source = ByteSource(self._stream, self._body)  # sequential reading starts over
        return entries

    def read_at(self, entry: IndexEntry, index: int = -1) -> UnitRecord:
        """Parse and check the unit at an index entry. A coded keyframe (version 1.1) comes back
        with its coded_factors but without its codes, which need the keyframes before it in its
        scene: decode from the scene's start through `units()` or a Decoder for those."""
        self._require_seekable("random access")
        self._stream.seek(self._origin + entry.offset)
        self._ahead.clear()
        self._source = ByteSource(self._stream, entry.offset)
        record = read_unit(self._source, self.header, index, self.path)
        if record is None:
            raise TruncatedError("the stream ends before this unit", offset=entry.offset, unit_index=index,
                                 path=self.path)
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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_all(source: Source, *, path: str | None = None) -> tuple[SequenceHeader, list[UnitRecord]]:
    """Parse and check a whole stream; returns the header and every unit record."""
    with PtvReader(source, path=path) as reader:
        return reader.header, list(reader.units())
