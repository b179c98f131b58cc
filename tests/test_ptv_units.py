"""The units' dataclasses follow the construct definitions of ptcodec/ptv/syntax.py.

The definitions are the one home of each unit's field list: `units` maps a
dataclass to and from construct values through `syntax.stored_fields`, so the
only hand-written mirrors left are the dataclasses themselves (their field order
is the parse-dump order, which differs from the syntax order: defaults come
last) and the element types of the per-component arrays. These tests pin both.
"""

from __future__ import annotations

import dataclasses

import construct as c
import numpy as np
import pytest

from ptcodec.ptv import syntax, units
from ptcodec.ptv.syntax import QuantScheme
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader

ELEMENT_SIZES = {"f32": 4, "u8": 1}


def names(cls) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def leaves(definition: c.Construct) -> list[str]:
    return [path[-1] for path in syntax.stored_fields(definition)]


def test_stored_fields_walks_nested_structures_and_leaves_out_constants_and_checks():
    definition = c.Struct(
        "a" / c.Int8ul,
        "bits" / c.BitStruct("reserved" / c.Const(0, c.BitsInteger(7)), "flag" / c.Flag),
        "checked" / syntax.Valid(c.Int16ul, lambda value, ctx: None),
        "constant" / c.Const(b"PT"),
        c.Terminated,
        "rest" / c.GreedyBytes,
    )
    assert syntax.stored_fields(definition) == (("a",), ("bits", "flag"), ("checked",), ("rest",))


@pytest.mark.parametrize("cls, definition", [(SequenceHeader, syntax.SEQUENCE_HEADER), (SceneInit, syntax.SCENE_INIT)])
def test_a_dataclass_has_exactly_the_elements_of_its_definition(cls, definition):
    stored = leaves(definition)
    assert len(set(stored)) == len(stored), "two elements of one unit share a name"
    assert sorted(names(cls)) == sorted(stored)


def test_the_keyframe_has_its_definitions_elements_with_quant_params_as_four_fields():
    """The Keyframe holds the elements of KEYFRAME and of CODED_KEYFRAME (the coding bits by name)."""
    stored = {name for name in leaves(syntax.KEYFRAME) + leaves(syntax.CODED_KEYFRAME)
              if name not in ("quant_params", "coding")}
    assert "quant_params" in leaves(syntax.KEYFRAME)
    assert syntax.stored_fields(syntax.CODED_KEYFRAME)[4:6] == (("coding", "predicted"), ("coding", "carry_models"))
    assert sorted(names(Keyframe)) == sorted(stored | {"predicted", "carry_models"} | set(units.QUANT_PARAM_NAMES))
    assert units.QUANT_PARAM_NAMES == ("u_scale", "u_zero_point", "v_scale", "v_zero_point")


def test_each_scheme_has_a_layout_and_the_per_component_arrays_pair_with_the_fields():
    assert set(syntax.QUANT_PARAMS_LAYOUTS) == {int(s) for s in QuantScheme}
    assert units.COMPONENT_ARRAYS == tuple(name + "s" for name in units.QUANT_PARAM_NAMES)
    for name in leaves(syntax.QUANT_PARAMS_PER_TENSOR):
        assert syntax.QUANT_PARAMS_PER_TENSOR._subcons[name].subcon is c.Float32l


@pytest.mark.parametrize("array", units.COMPONENT_ARRAYS)
@pytest.mark.parametrize("rank", [1, 3, 16])
def test_the_per_component_element_types_have_the_definitions_sizes(array, rank):
    length = syntax.QUANT_PARAMS_PER_COMPONENT._subcons[array].subcon.length
    assert length(c.Container(_=c.Container(rank=rank))) == rank * ELEMENT_SIZES[units.COMPONENT_ELEMENTS[array]]


@pytest.mark.parametrize("scheme", list(QuantScheme))
@pytest.mark.parametrize("rank", [1, 2, 5])
def test_quant_params_size_is_what_the_layout_builds(scheme, rank):
    count = 1 if scheme in syntax.PER_TENSOR_SCHEMES else rank
    key = Keyframe(0, rank, int(scheme), (0.5,) * count, (7.0,) * count, (0.25,) * count, (200.0,) * count, b"", b"")
    built = syntax.QUANT_PARAMS_LAYOUTS[scheme].build(units.quant_params_to_syntax(key), rank=rank)
    assert len(built) == syntax.quant_params_size(scheme, rank)
    back = units.quant_params_from_syntax(scheme, syntax.QUANT_PARAMS_LAYOUTS[scheme].parse(built, rank=rank))
    assert back == {name: getattr(key, name) for name in units.QUANT_PARAM_NAMES}


def test_per_component_parameters_are_little_endian_binary32_then_bytes():
    """The layout spelled out independently of the code: u_scales, u_zero_points, v_scales, v_zero_points."""
    key = Keyframe(0, 2, 1, (0.5, -0.0), (1.0, 255.0), (2.0**-133, 3.0), (0.0, 128.0), b"", b"")
    expected = (np.array([0.5, -0.0], "<f4").tobytes() + bytes([1, 255])
                + np.array([2.0**-133, 3.0], "<f4").tobytes() + bytes([0, 128]))
    assert syntax.QUANT_PARAMS_PER_COMPONENT.build(units.quant_params_to_syntax(key), rank=2) == expected


def test_the_header_mapping_follows_a_changed_definition(monkeypatch):
    """No hand-written field list: a definition without `level` maps a dataclass without `level`."""
    shorter = c.Struct(*[sub for sub in syntax.SEQUENCE_HEADER.subcons if sub.name != "level"])
    header = SequenceHeader(level=1, crc_present=True, generator_id="reference", generator_fingerprint=bytes(32),
                            width=64, height=64, time_base_num=1, time_base_den=30, frame_count=0, tokens=4,
                            embed_dim=8, latent_channels=4, latent_downscale=8, noise_seed=88, gamma_num=95,
                            gamma_den=100, prev_latent_rule=0, interp_rule=0, quant_schemes=1)
    monkeypatch.setattr(syntax, "SEQUENCE_HEADER", shorter)
    values = units.syntax_values(header)
    assert list(values) == [sub.name for sub in shorter.subcons]
    assert values["flags"] == {"crc_present": True}
