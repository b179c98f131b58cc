"""The vector maker's raw unit builder writes exactly the syntax of ptcodec/ptv/syntax.py.

Faulty vectors are built with the construct definitions, checks taken out
(`make.raw`), not with a layout of their own: with no value changed the builder
gives the writer's bytes for every unit of the committed vectors, and a changed
element changes only its own bytes. Also: the maker's entry point refuses a
missing --sky or --from in one line, and the released defaults have one home.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ptcodec.conformance.features import features
from ptcodec.conformance.generate import main
from ptcodec.conformance.make.raw import frame_unit, payload
from ptcodec.conformance.vectors import default_vectors_dir
from ptcodec.errors import PtvError
from ptcodec.process.noise import RELEASED_GAMMA, RELEASED_SEED
from ptcodec.ptv import Keyframe, ReservedUnit, SceneInit, SequenceHeader, read_all
from ptcodec.ptv.framing import build_unit
from ptcodec.ptv.units import encode_payload

VECTORS = default_vectors_dir()
VALID = sorted((VECTORS / "valid").glob("*/stream.ptv"))


def stream(name: str):
    return read_all((VECTORS / "valid" / name / "stream.ptv").read_bytes())


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.parent.name)
def test_with_nothing_changed_the_raw_builder_writes_what_the_writer_writes(path):
    header, records = read_all(path.read_bytes())
    for record in records:
        unit = record.unit
        if isinstance(unit, ReservedUnit):
            continue
        context = None if isinstance(unit, SequenceHeader) else header
        assert payload(unit, context) == encode_payload(unit, context), record.index
        framed = frame_unit(record.unit_type, encode_payload(unit, context), crc=header.crc_present,
                            layer_id=record.layer_id)
        assert framed == build_unit(unit, context, record.layer_id), record.index


def differing(a: bytes, b: bytes) -> list[int]:
    assert len(a) == len(b)
    return [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]


def test_a_changed_element_changes_only_its_own_bytes():
    header, records = stream("basic")
    scene, key = records[1].unit, records[2].unit
    assert isinstance(scene, SceneInit) and isinstance(key, Keyframe)
    valid_header = encode_payload(header, None)
    # version_major is byte 0, the flags byte 3: its reserved bits sit above crc_present
    assert differing(payload(header, None, version_major=2), valid_header) == [0]
    flags = payload(header, None, reserved_zero_7bits=1)
    assert differing(flags, valid_header) == [3] and flags[3] == valid_header[3] | 0b10
    # a keyframe: frame_index u32, rank u8, quant_scheme u8; the parameters keep their layout
    valid_key = encode_payload(key, header)
    assert differing(payload(key, header, quant_scheme=2), valid_key) == [5]
    assert payload(key, header, quant_scheme=2)[5] == 2
    nan = payload(dataclasses.replace(key, v_scale=(float("nan"),)), header)
    assert set(differing(nan, valid_key)) <= {14, 15, 16, 17}  # v_scale: after 6 bytes, u_scale, u_zero_point
    assert nan[14:18] == np.array([np.nan], "<f4").tobytes()
    assert differing(payload(scene, header, dtype=3), encode_payload(scene, header)) == [4]
    with pytest.raises(KeyError, match="no syntax element colour"):
        payload(key, header, colour=1)


def test_a_coded_keyframes_coding_bits_are_set_by_name():
    """CODED_KEYFRAME (spec 7.1): after frame_index, rank, quant_scheme and 16 bytes of per-tensor parameters
    comes the coding byte, reserved_zero_6bits in its top 6 bits, then predicted, then carry_models."""
    header, records = stream("coded_per_tensor")
    key = records[2].unit
    assert isinstance(key, Keyframe) and key.quant_scheme == 3 and not key.predicted and not key.carry_models
    valid_key = encode_payload(key, header)
    assert valid_key[22] == 0 and valid_key[23:] == key.coded_factors
    for name, value, byte in (("predicted", True, 0x02), ("carry_models", True, 0x01),
                              ("reserved_zero_6bits", 1, 0x04), ("reserved_zero_6bits", 0x20, 0x80)):
        changed = payload(key, header, **{name: value})
        assert differing(changed, valid_key) == [22] and changed[22] == byte, name
    assert payload(key, header, coded_factors=b"\x01\x02\x03") == valid_key[:23] + b"\x01\x02\x03"


def test_the_raw_builder_writes_values_the_writer_refuses():
    header, records = stream("basic")
    key = records[2].unit
    assert isinstance(key, Keyframe)
    rank0 = dataclasses.replace(key, rank=0, u=b"", v=b"")
    with pytest.raises(PtvError):
        encode_payload(rank0, header)
    assert payload(rank0, header)[4] == 0 and len(payload(rank0, header)) == 6 + 16
    with pytest.raises(PtvError):
        encode_payload(dataclasses.replace(header, version_major=2), None)
    assert payload(dataclasses.replace(header, version_major=2), None)[0] == 2


def test_unit_header_bits_are_set_by_name():
    valid = frame_unit(3, b"", crc=False)
    assert valid == bytes([3 << 3, 0])
    assert frame_unit(3, b"", crc=False, forbidden_bit=1)[0] == 0x80 | 3 << 3
    assert frame_unit(3, b"", crc=False, reserved_zero_2bits=1)[0] == 3 << 3 | 1
    assert frame_unit(3, b"", crc=False, layer_id=7)[:2] == bytes([3 << 3 | 4, 7])
    assert frame_unit(5, b"", crc=False, size_field=b"\x80\x00")[1:] == b"\x80\x00"


def test_the_entry_point_refuses_missing_directories_in_one_line(tmp_path, capsys):
    for argv, why in (([str(tmp_path / "out"), "--sky", str(tmp_path / "none")], "--sky"),
                      ([str(tmp_path / "out"), "--from", str(tmp_path)], "not a vector set"),
                      ([str(tmp_path / "out"), "sky_import"], "sky_import needs --sky")):
        with pytest.raises(SystemExit) as info:
            main(argv)
        assert info.value.code == 2
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert why in error
    assert not (tmp_path / "out").exists()


def test_the_released_defaults_are_the_features_baseline():
    header, records = stream("basic")
    assert (header.noise_seed, (header.gamma_num, header.gamma_den)) == (RELEASED_SEED, RELEASED_GAMMA)
    assert not {"header.noise_seed=other", "header.gamma=other"} & set(features(header, records))
    other = dataclasses.replace(header, noise_seed=RELEASED_SEED + 1, gamma_num=RELEASED_GAMMA[0] - 1)
    assert {"header.noise_seed=other", "header.gamma=other"} <= set(features(other, records))
