"""Round trips: parse(build(x)) == x, and build(parse(b)) == b (canonical encoding)."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from ptcodec.ptv import MAGIC, PtvReader, build_unit, read_all, serialize
from tests.ptv_strategies import streams

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def rebuild(data: bytes) -> bytes:
    """Serialize a parsed stream again from its parsed values only."""
    header, records = read_all(data)
    parts = [MAGIC, build_unit(header, None)]
    parts += [build_unit(r.unit, header, r.layer_id) for r in records[1:]]
    return b"".join(parts)


@SETTINGS
@given(streams())
def test_parse_of_build_gives_the_units_back(stream):
    header, units = stream
    data = serialize(header, units)
    parsed_header, records = read_all(data)
    assert parsed_header == header
    assert [(r.unit, r.layer_id) for r in records[1:]] == units


@SETTINGS
@given(streams())
def test_build_of_parse_gives_the_bytes_back(stream):
    data = serialize(*stream)
    assert rebuild(data) == data


@SETTINGS
@given(streams())
def test_any_valid_bit_flip_is_still_canonical(stream):
    """Every byte string that parses has exactly one encoding: flip each bit of a
    stream; whenever the result still parses, rebuilding it gives the same bytes."""
    data = serialize(*stream)
    for bit in range(0, 8 * len(data), 7):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 1 << (bit % 8)
        try:
            again = rebuild(bytes(flipped))
        except Exception as error:
            assert type(error).__module__ == "ptcodec.errors", repr(error)
            continue
        assert again == bytes(flipped)


@SETTINGS
@given(streams())
def test_unit_records_cover_the_file_exactly(stream):
    data = serialize(*stream)
    _, records = read_all(data)
    assert MAGIC + b"".join(r.data for r in records) == data
    offsets = [r.offset for r in records]
    assert offsets == [len(MAGIC) + sum(r.size for r in records[:i]) for i in range(len(records))]


@SETTINGS
@given(streams())
def test_codec_private_plus_packets_is_the_file(stream):
    data = serialize(*stream)
    reader = PtvReader(data)
    packets = list(reader.packets())
    assert reader.codec_private() + b"".join(p.data for p in packets) == data
    keyframes = [u for u, _ in stream[1] if type(u).__name__ == "Keyframe"]
    assert [p.pts for p in packets] == [k.frame_index for k in keyframes]
    for a, b in zip(packets, packets[1:], strict=False):
        assert a.duration == b.pts - a.pts
