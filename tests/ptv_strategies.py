"""Hypothesis strategies for valid `.ptv` streams (small shapes keep tests fast)."""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from ptcodec.ptv import (
    Keyframe,
    Metadata,
    Padding,
    QuantScheme,
    ReservedUnit,
    SceneInit,
    SequenceHeader,
)
from ptcodec.ptv.syntax import LATENT_DTYPE_SIZE

f32 = st.floats(min_value=0, max_value=1e6, allow_nan=False, width=32)
zero_point = st.integers(0, 255).map(float)


@st.composite
def headers(draw, crc: bool | None = None) -> SequenceHeader:
    ds = draw(st.sampled_from([1, 2, 8]))
    return SequenceHeader(
        level=1,
        crc_present=draw(st.booleans()) if crc is None else crc,
        generator_id=draw(st.from_regex(r"[a-z0-9._-]{1,32}", fullmatch=True)),
        generator_fingerprint=draw(st.binary(min_size=32, max_size=32)),
        width=ds * draw(st.integers(1, 4)),
        height=ds * draw(st.integers(1, 4)),
        time_base_num=draw(st.integers(1, 1001)),
        time_base_den=draw(st.integers(1, 60000)),
        frame_count=draw(st.sampled_from([0, 1000])),
        tokens=draw(st.integers(1, 6)),
        embed_dim=draw(st.integers(1, 12)),
        latent_channels=draw(st.integers(1, 4)),
        latent_downscale=ds,
        noise_seed=draw(st.integers(0, 2**32 - 1)),
        gamma_num=draw(st.integers(0, 100)),
        gamma_den=100,
        prev_latent_rule=draw(st.sampled_from([0, 1])),
        interp_rule=draw(st.sampled_from([0, 1])),
        quant_schemes=draw(st.sampled_from([1, 2, 3])),
    )


@st.composite
def keyframes(draw, header: SequenceHeader, frame_index: int) -> Keyframe:
    schemes = [s for s in (QuantScheme.PER_TENSOR, QuantScheme.PER_COMPONENT) if header.quant_schemes & (1 << s)]
    scheme = draw(st.sampled_from(schemes))
    rank = draw(st.integers(1, 4))
    count = 1 if scheme == QuantScheme.PER_TENSOR else rank
    vec = lambda values: st.lists(values, min_size=count, max_size=count).map(tuple)  # noqa: E731
    return Keyframe(
        frame_index=frame_index,
        rank=rank,
        quant_scheme=int(scheme),
        u_scale=draw(vec(f32)),
        u_zero_point=draw(vec(zero_point)),
        v_scale=draw(vec(f32)),
        v_zero_point=draw(vec(zero_point)),
        u=draw(st.binary(min_size=header.tokens * rank, max_size=header.tokens * rank)),
        v=draw(st.binary(min_size=rank * header.embed_dim, max_size=rank * header.embed_dim)),
    )


@st.composite
def scene_inits(draw, header: SequenceHeader, frame_index: int) -> SceneInit:
    shape = (1, *header.latent_shape)
    values = draw(
        st.lists(
            st.floats(-8, 8, width=16), min_size=int(np.prod(shape)), max_size=int(np.prod(shape))
        )
    )
    dtype = draw(st.sampled_from(list(LATENT_DTYPE_SIZE)))  # version 1.0's; 1.1's in test_entropy and the vectors
    return SceneInit.from_latent(frame_index, np.array(values, dtype=np.float32).reshape(shape), dtype)


side_units = st.one_of(
    st.builds(Padding, st.integers(0, 20)),
    st.builds(
        Metadata,
        st.dictionaries(
            st.from_regex(r"[\x21-\x7e]{1,12}", fullmatch=True), st.text(max_size=12).map(str.encode), max_size=3
        ).map(lambda d: tuple(d.items())),
    ),
    st.builds(ReservedUnit, st.sampled_from([0, 6, 9, 15]), st.binary(max_size=20)),
)


@st.composite
def streams(draw, crc: bool | None = None) -> tuple[SequenceHeader, list[tuple[object, int | None]]]:
    """A valid stream: scenes of keyframes with side units sprinkled in."""
    header = draw(headers(crc))
    units: list[tuple[object, int | None]] = []
    layer = st.one_of(st.none(), st.integers(0, 255))
    frame = 0
    for _ in range(draw(st.integers(0, 2))):
        units.append((draw(scene_inits(header, frame)), draw(layer)))
        for _ in range(draw(st.integers(1, 3))):
            units.append((draw(keyframes(header, frame)), draw(layer)))
            if draw(st.booleans()):
                units.append((draw(side_units), draw(layer)))
            frame += draw(st.integers(31, 40))  # keeps under level 1's 30 keyframes/s at any time base
    return header, units
