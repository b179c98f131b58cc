"""The writer's atomicity, packets, and random access by index."""

from __future__ import annotations

import os
from fractions import Fraction

import pytest

from ptcodec.errors import InvalidValueError
from ptcodec.ptv import Keyframe, Metadata, PtvReader, PtvWriter, SceneInit, read_all, serialize
from ptcodec.ptv.syntax import UnitType
from tests.conftest import make_keyframe, tiny_scene


def test_writer_renames_only_when_complete(tmp_path, tiny_stream):
    header, units = tiny_stream
    out = tmp_path / "out.ptv"
    with PtvWriter(out, header) as writer:
        for unit in units:
            writer.write(unit)
            assert not out.exists() and (tmp_path / "out.ptv.partial").exists()
    assert out.read_bytes() == serialize(header, units)
    assert not (tmp_path / "out.ptv.partial").exists()


def test_writer_leaves_nothing_when_an_encode_fails(tmp_path, tiny_stream):
    header, units = tiny_stream
    out = tmp_path / "out.ptv"
    with pytest.raises(RuntimeError):
        with PtvWriter(out, header) as writer:
            writer.write(units[0])
            raise RuntimeError("encoder crashed")
    assert os.listdir(tmp_path) == []


def test_writer_keeps_the_partial_file_for_resuming_when_asked(tmp_path, tiny_stream):
    header, units = tiny_stream
    out = tmp_path / "out.ptv"
    with pytest.raises(KeyboardInterrupt):
        with PtvWriter(out, header, keep_partial=True) as writer:
            writer.write(units[0])
            writer.write(units[1])
            writer.flush()
            raise KeyboardInterrupt
    assert not out.exists()
    partial = (tmp_path / "out.ptv.partial").read_bytes()
    assert [r.unit for r in PtvReader(partial).units()][1:] == units[:2]


def test_writer_refuses_a_unit_the_reader_would_refuse(tmp_path, tiny_stream):
    header, units = tiny_stream
    with PtvWriter(tmp_path / "out.ptv", header) as writer:
        writer.write(units[0])
        writer.write(units[1])
        with pytest.raises(InvalidValueError, match="does not increase"):
            writer.write(units[1])
        writer.write(units[2])
    read_all(tmp_path / "out.ptv")


def test_packets_carry_pts_duration_and_random_access(tiny_stream):
    header, _ = tiny_stream
    units = [
        Metadata((("title", b"two scenes"),)),
        tiny_scene(header, 0), make_keyframe(header, 0), make_keyframe(header, 10), Metadata((("k", b"v"),)),
        tiny_scene(header, 15), make_keyframe(header, 15), make_keyframe(header, 25),
    ]
    import dataclasses

    header = dataclasses.replace(header, frame_count=40)
    reader = PtvReader(serialize(header, units))
    packets = list(reader.packets())
    assert [(p.pts, p.duration, p.is_keyframe) for p in packets] == [
        (0, 10, True), (10, 5, False), (15, 10, True), (25, 15, False)
    ]
    assert all(p.time_base == Fraction(1, 30) for p in packets)
    assert [type(r.unit).__name__ for r in packets[1].units] == ["Keyframe", "Metadata"]
    assert type(packets[2].units[0].unit) is SceneInit
    # the leading metadata unit travels with the sequence header, not in a packet
    assert reader.codec_private().endswith(read_all(serialize(header, units))[1][1].data)


def test_index_finds_keyframes_without_reading_payloads(tmp_path, tiny_stream):
    header, _ = tiny_stream
    units = [tiny_scene(header), *[make_keyframe(header, 10 * i, seed=i) for i in range(20)]]
    path = tmp_path / "s.ptv"
    path.write_bytes(serialize(header, units))
    with PtvReader(path) as reader:
        entries = reader.index()
        keyframe_entries = [e for e in entries if e.unit_type == UnitType.KEYFRAME]
        assert [e.frame_index for e in keyframe_entries] == [10 * i for i in range(20)]
        record = reader.read_at(keyframe_entries[13])
        assert record.unit == units[14]
        assert isinstance(record.unit, Keyframe)
