"""Forward compatibility (reserved units, minor versions) and level limits."""

from __future__ import annotations

import dataclasses

import pytest

from ptcodec.errors import InvalidValueError, LimitExceededError, UnsupportedVersionError
from ptcodec.ptv import LEVELS, MAGIC, Keyframe, ReservedUnit, UnitType, build_unit, read_all, serialize
from ptcodec.ptv.units import encode_payload
from tests.conftest import make_header, make_keyframe, tiny_scene


def with_header(header, units) -> bytes:
    """A stream whose header is built without the writer's checks (to forge bad ones)."""
    return MAGIC + build_unit(header, None) + b"".join(build_unit(u, header) for u in units)


def test_reserved_unit_is_skipped_by_size(tiny_stream):
    header, units = tiny_stream
    reserved = ReservedUnit(11, b"future payload \x00\x01")
    data = serialize(header, [units[0], reserved, *units[1:]])
    _, records = read_all(data)
    assert [type(r.unit).__name__ for r in records] == ["SequenceHeader", "SceneInit", "ReservedUnit", "Keyframe", "Keyframe"]
    assert records[2].unit == reserved
    assert [r.unit for r in records if isinstance(r.unit, Keyframe)] == units[1:]


def test_higher_minor_version_with_appended_fields_is_accepted(tiny_stream):
    header, units = tiny_stream
    newer = dataclasses.replace(header, version_minor=3, extension_data=b"\x07new fields")
    parsed, records = read_all(serialize(newer, units))
    assert parsed.version_minor == 3 and parsed.extension_data == b"\x07new fields"
    assert [r.unit for r in records[1:]] == units


def test_minor_zero_with_trailing_bytes_is_invalid(tiny_stream):
    header, units = tiny_stream
    bad = dataclasses.replace(header, extension_data=b"\x00")
    with pytest.raises(InvalidValueError, match="after its last field"):
        read_all(with_header(bad, units))


def test_higher_major_version_is_rejected(tiny_stream):
    """A 2.x header, correctly framed with its CRC, is refused for its version alone."""
    header, units = tiny_stream
    payload = bytearray(encode_payload(header, None))
    payload[0] = 2  # version_major
    v2_header_unit = build_unit(ReservedUnit(UnitType.SEQUENCE_HEADER, bytes(payload)), None)
    with pytest.raises(UnsupportedVersionError, match="version 2.x is not supported"):
        read_all(MAGIC + v2_header_unit + b"anything a 2.x stream may hold")


@pytest.mark.parametrize(
    "field, value",
    [("width", 8 * 2000), ("height", 8 * 1000), ("tokens", 5000), ("embed_dim", 60000), ("latent_channels", 200)],
)
def test_header_beyond_the_level_is_rejected(tiny_stream, field, value):
    header = dataclasses.replace(tiny_stream[0], **{field: value})
    with pytest.raises(LimitExceededError, match=field):
        read_all(with_header(header, []))


def test_rank_beyond_the_level_is_rejected_before_the_factors_are_read(tiny_stream):
    header, units = tiny_stream
    max_rank = LEVELS[header.level].max_rank
    ok = make_keyframe(header, 20, rank=max_rank)
    read_all(serialize(header, [*units, ok]))
    too_big = make_keyframe(header, 20, rank=max_rank + 1)
    data = serialize(header, units) + build_unit(too_big, dataclasses.replace(header, level=4))
    with pytest.raises(LimitExceededError, match="rank 17 exceeds"):
        read_all(data)


def test_keyframe_rate_is_limited_by_the_level():
    header = make_header(time_base_den=100)  # 100 fps, level 1 allows 30 keyframes a second
    units = [tiny_scene(header), *[make_keyframe(header, i) for i in range(30)]]
    read_all(serialize(header, units))
    with pytest.raises(LimitExceededError, match="31 keyframes within one second"):
        serialize(header, [*units, make_keyframe(header, 30)])
    spaced = [tiny_scene(header), *[make_keyframe(header, 4 * i) for i in range(40)]]
    read_all(serialize(header, spaced))  # 25 a second


def test_keyframe_quant_scheme_must_be_declared(tiny_stream):
    header, units = tiny_stream
    only_per_component = dataclasses.replace(header, quant_schemes=2)
    with pytest.raises(InvalidValueError, match="not among the sequence header's quant_schemes"):
        serialize(only_per_component, units)


def test_writer_refuses_a_unit_larger_than_the_level_allows():
    """A level-1 stream at 256x256 with latent_downscale 1 has a 1 MiB scene-init unit (> 256 KiB)."""
    import numpy as np

    from ptcodec.ptv import SceneInit

    header = make_header(width=256, height=256, latent_downscale=1)
    big = SceneInit.from_latent(0, np.zeros((1, *header.latent_shape), np.float32))
    with pytest.raises(LimitExceededError, match="exceeds the level's max unit size"):
        serialize(header, [big, make_keyframe(header, 0)])


# -- the level bounds the frames a stream describes (F31, F32) -------------------------------


def test_frame_count_beyond_the_level_is_refused_in_the_header(tmp_path, capsys):
    """The issue's stream: frame_count 2^32 - 1 in a valid-looking header."""
    from ptcodec.cli import main

    limit = LEVELS[1].max_frame_count
    read_all(with_header(make_header(frame_count=limit), []))
    for count in (limit + 1, 2**32 - 1):
        with pytest.raises(LimitExceededError, match="max_frame_count") as caught:
            read_all(with_header(make_header(frame_count=count), []))
        assert caught.value.field == "sequence_header.frame_count"
    with pytest.raises(LimitExceededError, match="max_frame_count"):
        serialize(make_header(frame_count=limit + 1), [])
    path = tmp_path / "long.ptv"
    path.write_bytes(with_header(make_header(frame_count=2**32 - 1), []))
    assert main(["reconstruct", str(path), str(tmp_path / "dump")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "LimitExceededError" in err and "field sequence_header.frame_count" in err


def test_a_keyframe_at_frame_2_31_with_frame_count_0_is_refused():
    header = make_header()  # frame_count 0: the last keyframe sets the length
    for late in ([make_keyframe(header, 2**31)], [tiny_scene(header, 2**31), make_keyframe(header, 2**31)]):
        units = [tiny_scene(header), make_keyframe(header, 0), *late]
        with pytest.raises(LimitExceededError, match="max_frame_count") as caught:
            read_all(with_header(header, units))
        assert caught.value.field == f"{'keyframe' if len(late) == 1 else 'scene_init'}.frame_index"
        assert caught.value.unit_index == 3
        with pytest.raises(LimitExceededError, match="max_frame_count"):
            serialize(header, units)


def test_frame_indices_reach_max_frame_count_minus_1_and_no_further():
    level = LEVELS[1]
    header = make_header()
    steps = list(range(0, level.max_frame_count, level.max_frame_gap))
    last = level.max_frame_count - 1  # the last frame a level-1 stream can have
    units = [tiny_scene(header), *[make_keyframe(header, i) for i in steps], make_keyframe(header, last)]
    read_all(serialize(header, units))
    units[-1] = make_keyframe(header, last + 1)
    with pytest.raises(LimitExceededError, match="max_frame_count"):
        read_all(with_header(header, units))


def gap_stream(where: str, gap: int):
    """Keyframe 0, then `gap` frames to a keyframe, to a scene start, or (held tail) to frame_count."""
    header = make_header(frame_count=gap if where == "held tail" else 0)
    units = [tiny_scene(header), make_keyframe(header, 0)]
    if where == "scene start":
        units.append(tiny_scene(header, gap))
    if where != "held tail":
        units.append(make_keyframe(header, gap, seed=1))
    return header, units


@pytest.mark.parametrize("where, field", [("keyframe", "keyframe.frame_index"),
                                          ("scene start", "scene_init.frame_index"),
                                          ("held tail", "sequence_header.frame_count")])
def test_a_frame_gap_beyond_the_level_is_refused(where, field):
    gap = LEVELS[1].max_frame_gap
    read_all(serialize(*gap_stream(where, gap)))  # at the limit
    with pytest.raises(LimitExceededError, match=f"exceed level 1's max_frame_gap {gap}") as caught:
        read_all(with_header(*gap_stream(where, gap + 1)))
    assert caught.value.field == field
    with pytest.raises(LimitExceededError, match="max_frame_gap"):
        serialize(*gap_stream(where, gap + 1))


def test_the_smallest_level_admits_the_frame_count_and_the_gap():
    from ptcodec.ptv import smallest_level

    geometry = (64, 64, 8, 77, 1024, 4, 30)
    assert smallest_level(*geometry).number == 1
    assert smallest_level(*geometry, frame_count=LEVELS[1].max_frame_count).number == 1
    assert smallest_level(*geometry, frame_count=LEVELS[1].max_frame_count + 1).number == 2
    assert smallest_level(*geometry, frame_gap=LEVELS[1].max_frame_gap + 1).number == 2
    with pytest.raises(LimitExceededError, match="frames"):
        smallest_level(*geometry, frame_count=LEVELS[4].max_frame_count + 1)
