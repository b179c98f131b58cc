"""Unit framing: reading and building whole units (header, size, payload, CRC).

Both directions go through `syntax.UNIT`, so the framing has one definition.
A `UnitRecord` is what the reader hands out: the parsed unit plus where it was.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from typing import BinaryIO

from ptcodec.errors import (
    InvalidValueError,
    LimitExceededError,
    PtvError,
    TruncatedError,
)
from ptcodec.ptv import syntax
from ptcodec.ptv.rules import check_unit_alone
from ptcodec.ptv.units import (
    Keyframe,
    SequenceHeader,
    Unit,
    decode_payload,
    encode_payload,
    parse_params,
    run_construct,
    unit_name,
    unit_type_of,
)


@dataclass(frozen=True)
class UnitRecord:
    index: int
    """Position in the stream; the sequence header is unit 0."""
    offset: int
    """Byte offset of the unit header in the file (the magic is at 0)."""
    size: int
    """Bytes of the whole unit: header, size field, payload and CRC."""
    unit_type: int
    layer_id: int | None
    unit: Unit
    data: bytes = field(repr=False, default=b"")
    """The unit's bytes exactly as they stand in the stream."""

    @property
    def name(self) -> str:
        return unit_name(self.unit_type)


def build_unit(unit: Unit, header: SequenceHeader | None, layer_id: int | None = None) -> bytes:
    """The bytes of one unit. `header` is the stream's sequence header (None when
    building the sequence header itself)."""
    is_header = isinstance(unit, SequenceHeader)
    payload = encode_payload(unit, header)
    params = parse_params(unit if isinstance(unit, SequenceHeader) else header)
    if is_header:
        params["max_unit_size"] = syntax.MAX_SEQUENCE_HEADER_SIZE
    body = {
        "header": {"unit_type": unit_type_of(unit), "extension_flag": layer_id is not None},
        "layer_id": layer_id,
        "payload_size": len(payload),
        "payload": payload,
    }
    return run_construct(syntax.UNIT.build, {"body": {"value": body}, "crc": None}, **params)


def read_magic(stream: "BinaryIO | ByteSource") -> None:
    magic = stream.read(len(syntax.MAGIC))
    if magic != syntax.MAGIC:
        if len(magic) < len(syntax.MAGIC) and syntax.MAGIC.startswith(magic):
            raise TruncatedError("file ends inside the signature", offset=0, field="magic")
        raise InvalidValueError("not a .ptv file (bad signature)", offset=0, field="magic")


class ByteSource:
    """A byte stream read front to back, counting its own offset: a pipe will do.

    Construct's RawCopy seeks back to the start of a unit to copy its bytes, so
    the bytes of the unit being read are kept (at most one unit, which the
    level bounds) and `seek` may go back within them; `begin_unit` lets them go.
    Nothing here calls the underlying stream's `seek` or `tell`.
    """

    def __init__(self, stream: BinaryIO, offset: int = 0) -> None:
        self._stream = stream
        self._kept = bytearray()
        self._kept_at = offset
        """Offset of _kept[0]."""
        self._position = offset

    def begin_unit(self) -> int:
        """Forget the bytes before the current position; returns that position."""
        del self._kept[: self._position - self._kept_at]
        self._kept_at = self._position
        return self._position

    def tell(self) -> int:
        return self._position

    def seek(self, position: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR:
            position += self._position
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a forward-only source cannot seek from its end")
        if not self._kept_at <= position <= self._kept_at + len(self._kept):
            raise io.UnsupportedOperation(f"a forward-only source cannot seek to byte {position}")
        self._position = position
        return position

    def read(self, size: int = -1) -> bytes:
        """Up to `size` bytes (all the rest for -1); fewer only at the end of the stream."""
        start = self._position - self._kept_at
        if size is not None and size >= 0:
            while len(self._kept) - start < size and self._fill(size - (len(self._kept) - start)):
                pass
            data = bytes(self._kept[start : start + size])
        else:
            while self._fill(1 << 16):
                pass
            data = bytes(self._kept[start:])
        self._position += len(data)
        return data

    def _fill(self, size: int) -> bool:
        chunk = self._stream.read(size)
        if not chunk:
            return False
        self._kept += chunk
        return True


def seekable(stream: BinaryIO) -> bool:
    """Whether a file object can seek (a pipe's says no, or fails when asked where it is)."""
    try:
        if not stream.seekable():
            return False
        stream.tell()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def read_unit(
    stream: BinaryIO | ByteSource, header: SequenceHeader | None, index: int, path: str | None = None
) -> UnitRecord | None:
    """Parse the next unit from `stream`, or return None at a clean end of stream.

    `stream` is read forward only (a plain stream is read through a ByteSource
    that starts at its current offset). The payload size is checked against the
    level before the payload is read, so a hostile size field never causes a
    large allocation.
    """
    if not isinstance(stream, ByteSource):
        stream = ByteSource(stream, stream.tell() if seekable(stream) else 0)
    offset = stream.begin_unit()
    if not stream.read(1):
        return None
    stream.seek(offset)
    unit_type = None
    try:
        params = parse_params(header)
        raw = run_construct(syntax.UNIT.parse_stream, stream, **params)
        body = raw.body.value
        unit_type = body.header.unit_type
        if unit_type == syntax.UnitType.SEQUENCE_HEADER and header is not None:
            raise InvalidValueError("a second sequence header", field="unit_type")
        unit = decode_payload(unit_type, body.payload, header)
    except PtvError as error:
        if unit_type is not None and error.field is not None and "." not in error.field:
            error.field = f"{unit_name(unit_type)}.{error.field}"
        raise error.located(offset=offset, unit_index=index, path=path) from None
    data = raw.body.data if raw.crc is None else raw.body.data + raw.crc.to_bytes(4, "little")
    return UnitRecord(index, offset, len(data), unit_type, body.layer_id, unit, data)


def scan_unit(stream: BinaryIO, header: SequenceHeader, index: int, file_size: int, path: str | None = None,
              origin: int = 0):
    """Read only a unit's framing and the first 4 payload bytes, then seek past the rest.

    Returns (offset, unit_type, frame_index or None, total size) or None at the
    end; offsets and `file_size` count from `origin`, where the signature is in
    the file object. Used to index a seekable file without reading its payloads.
    """
    offset = stream.tell() - origin
    first = stream.read(1)
    if not first:
        return None
    try:
        unit_header = run_construct(syntax.UNIT_HEADER.parse, first)
        if unit_header.extension_flag:
            run_construct(syntax.c.Int8ul.parse_stream, stream)
        size = run_construct(syntax.Leb128().parse_stream, stream)
        if size > parse_params(header)["max_unit_size"]:
            raise LimitExceededError(f"payload_size {size} exceeds the level's max unit size", field="payload_size")
        payload_start = stream.tell() - origin
        frame_index = None
        if unit_header.unit_type in (syntax.UnitType.SCENE_INIT, syntax.UnitType.KEYFRAME):
            head = stream.read(4)
            if len(head) < 4:
                raise TruncatedError("data ends inside a field", field="frame_index")
            frame_index = int.from_bytes(head, "little")
        end = payload_start + size + (4 if header.crc_present else 0)
        if end > file_size:
            raise TruncatedError("stream ends inside a unit")
        stream.seek(origin + end)
    except PtvError as error:
        raise error.located(offset=offset, unit_index=index, path=path) from None
    return offset, unit_header.unit_type, frame_index, end - offset


def read_packet_units(data: bytes, header: SequenceHeader) -> list[Unit]:
    """The units of one temporal unit (a packet), each checked on its own as at
    a random access point (spec 11.3); it must hold a keyframe unit."""
    stream = ByteSource(io.BytesIO(data))
    units: list[Unit] = []
    while (record := read_unit(stream, header, len(units) + 1)) is not None:
        check_unit_alone(record.unit, header)
        units.append(record.unit)
    if not any(isinstance(u, Keyframe) for u in units):
        raise InvalidValueError("temporal unit without a keyframe unit", field="unit_type")
    return units
