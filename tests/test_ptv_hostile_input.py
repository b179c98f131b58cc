"""Totality: whatever bytes a parser is given, it raises only PtvError or parses."""

from __future__ import annotations

import contextlib
import io
import random
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ptcodec
from ptcodec.conformance.vectors import default_vectors_dir
from ptcodec.errors import (
    CrcMismatchError,
    InvalidValueError,
    LimitExceededError,
    PtcodecError,
    PtvError,
    TruncatedError,
)
from ptcodec.ptv import MAGIC, Keyframe, PtvReader, SceneInit, read_all, serialize
from ptcodec.ptv.syntax import UnitType
from tests.conftest import make_header
from tests.mutations import mutate
from tests.ptv_strategies import streams


def parse_everything(data: bytes) -> None:
    reader = PtvReader(data)
    list(reader.units())
    reader.index()


def parses_or_ptv_error(data: bytes) -> bool:
    """True when the data parses; False on a PtvError; any other exception fails the test."""
    try:
        parse_everything(data)
    except PtvError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_ptv_errors(data):
    parses_or_ptv_error(data)
    parses_or_ptv_error(MAGIC + data)


SMALL = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SMALL
@given(streams())
def test_every_truncation_is_a_ptv_error(stream):
    data = serialize(*stream)
    _, records = read_all(data)
    unit_ends = {r.offset + r.size for r in records}
    for cut in range(len(data)):
        if cut in unit_ends:
            continue  # a cut between units leaves a shorter valid stream (or one missing its keyframe)
        with pytest.raises(PtvError):
            parse_everything(data[:cut])


@SMALL
@given(streams())
def test_every_bit_flip_parses_or_raises_a_ptv_error(stream):
    data = serialize(*stream)
    for bit in range(8 * len(data)):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        parses_or_ptv_error(bytes(flipped))


@SMALL
@given(streams(crc=True))
def test_with_crc_every_bit_flip_inside_a_unit_is_caught(stream):
    data = serialize(*stream)
    for bit in range(8 * len(MAGIC), 8 * len(data)):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        assert not parses_or_ptv_error(bytes(flipped)), f"flip of bit {bit} went unnoticed"


def test_crc_mismatch_is_reported_as_such(tiny_stream):
    header, units = tiny_stream
    data = bytearray(serialize(header, units))
    data[-6] ^= 0x10  # inside the last keyframe's v codes
    with pytest.raises(CrcMismatchError) as info:
        parse_everything(bytes(data))
    assert info.value.unit_index == 3 and info.value.offset is not None


def test_truncation_is_reported_with_offset_and_unit(tiny_stream):
    data = serialize(*tiny_stream)
    with pytest.raises(TruncatedError) as info:
        parse_everything(data[:-3])
    assert info.value.unit_index == 3
    assert "byte" in str(info.value) and "unit 3" in str(info.value)


def test_huge_payload_size_is_refused_before_allocation(tiny_stream):
    """A unit that claims 2^32-1 bytes must be refused from its size field alone."""
    header_only = serialize(tiny_stream[0], [])
    hostile = header_only + bytes([UnitType.KEYFRAME << 3]) + b"\xff\xff\xff\xff\x0f" + b"\0" * 100
    tracemalloc.start()
    try:
        with pytest.raises(LimitExceededError) as info:
            parse_everything(hostile)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.value.field.endswith("payload_size")
    assert peak < 1_000_000


@pytest.mark.parametrize(
    "size_bytes, message",
    [
        (b"\x80\x80\x80\x80\x80\x80\x80\x80\x00", "longer than 8 bytes"),
        (b"\x85\x00", "not minimally encoded"),
        (b"\x80\x80\x80\x80\x10", r"exceeds 2\^32-1"),
    ],
)
def test_leb128_rules(tiny_stream, size_bytes, message):
    hostile = serialize(tiny_stream[0], []) + bytes([UnitType.PADDING << 3]) + size_bytes
    with pytest.raises(InvalidValueError, match=message):
        parse_everything(hostile)


def test_unit_before_sequence_header_is_refused(tiny_stream):
    data = serialize(*tiny_stream)
    _, records = read_all(data)
    with pytest.raises(InvalidValueError, match="first unit is not a sequence header"):
        parse_everything(MAGIC + records[1].data + records[0].data)


def test_nan_scale_is_refused(tiny_stream):
    header, units = make_header(crc_present=False), tiny_stream[1]
    data = bytearray(serialize(header, units))
    _, records = read_all(bytes(data))
    keyframe = records[2]
    scale_at = keyframe.offset + keyframe.size - (len(keyframe.unit.u) + len(keyframe.unit.v) + 16)
    data[scale_at : scale_at + 4] = np.float32("nan").tobytes()
    with pytest.raises(InvalidValueError, match="u_scale is nan") as info:
        parse_everything(bytes(data))
    assert info.value.field == "keyframe.u_scale"


def test_frame_indices_going_backwards_are_refused(tiny_stream):
    header, units = tiny_stream
    later = Keyframe(**{**vars(units[1]), "frame_index": 40})
    earlier = Keyframe(**{**vars(units[1]), "frame_index": 35})
    data = serialize(header, units + [later])
    data += read_all(serialize(header, units + [earlier]))[1][-1].data
    with pytest.raises(InvalidValueError, match="does not increase"):
        parse_everything(data)


def test_latent_shape_must_match_the_header(tiny_stream):
    header, units = tiny_stream
    wrong = SceneInit.from_latent(0, np.zeros((1, header.latent_channels, 1, 1), np.float32))
    with pytest.raises(InvalidValueError, match="disagrees with the sequence header"):
        serialize(header, [wrong, units[1]])


# --- bounded fuzz of the committed vectors (issue 11, "Tests") ---------------------------

VALID_VECTORS = sorted((default_vectors_dir() / "valid").glob("*/stream.ptv"))
FUZZ_CASES = 3000
RECONSTRUCTED_FRAMES = 10_000
"""Reconstruct a mutated stream only when it describes at most this many frames:
the test is about exceptions, and frame counts are bounded by the level limits."""


class Pipe(io.RawIOBase):
    """Reads like a pipe: forward only, short reads."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(min(len(buffer), 1000))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def every_reader_path(data: bytes, path: Path) -> None:
    """Parse `data` every way a user can; only PtvError (a PtcodecError) may come out."""
    from ptcodec.process.reconstruction import reconstruct

    for source in (lambda: data, lambda: io.BufferedReader(Pipe(data))):
        with contextlib.suppress(PtvError):
            list(PtvReader(source()).units())
        with contextlib.suppress(PtvError):
            list(PtvReader(source()).packets())
    with contextlib.suppress(PtvError):
        PtvReader(data).index()
    path.write_bytes(data)
    with contextlib.suppress(PtcodecError), ptcodec.open(path) as container:
        list(container.demux())
    try:
        header, records = read_all(data)
    except PtvError:
        return
    units = [r.unit for r in records[1:]]
    frames = [getattr(u, "frame_index", 0) for u in units]
    if max([header.frame_count, *frames]) <= RECONSTRUCTED_FRAMES:
        reconstruct(header, units).digests()


def test_mutated_vectors_raise_only_ptv_errors(tmp_path):
    """Seeded byte flips, cuts, duplicated and deleted chunks of every committed valid vector."""
    rng = random.Random(7)
    vectors = [p.read_bytes() for p in VALID_VECTORS]
    parsed = 0
    for _ in range(FUZZ_CASES):
        data = mutate(rng.choice(vectors), rng, focus=256)
        every_reader_path(data, tmp_path / "m.ptv")
        parsed += parses_or_ptv_error(data)
    assert 0 < parsed < FUZZ_CASES  # the mutations reach both outcomes
