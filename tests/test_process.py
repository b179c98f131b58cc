"""The decoding process up to c: dequantization, frame plans, interpolation, composition."""

from __future__ import annotations

import numpy as np
import pytest

from ptcodec.process.conditioning import compose, frame_conditioning, interpolation_weight, plan_frames, sqrt_rank
from ptcodec.process.noise import mix_noise
from ptcodec.process.quant import dequantize_keyframe, quantize_keyframe, truncate_keyframe
from ptcodec.ptv import QuantScheme


def released_dequantize(q: np.ndarray, scale: float, zero_point: float):
    """The released code's formula through torch: scale * (q - zero_point), float32."""
    import torch

    return (torch.tensor(scale) * (torch.from_numpy(q).float() - torch.tensor(zero_point))).numpy()


@pytest.mark.parametrize("seed", range(3))
def test_per_tensor_dequantization_matches_the_released_formula_bit_for_bit(seed):
    rng = np.random.default_rng(seed)
    u = rng.random((77, 8), dtype=np.float32)
    v = rng.standard_normal((8, 1024)).astype(np.float32)
    key = quantize_keyframe(0, u, v, QuantScheme.PER_TENSOR)
    du, dv = dequantize_keyframe(key)
    assert np.array_equal(du, released_dequantize(key.u_codes(), key.u_scale[0], key.u_zero_point[0]))
    assert np.array_equal(dv, released_dequantize(key.v_codes(), key.v_scale[0], key.v_zero_point[0]))
    assert np.abs(du - u).max() <= key.u_scale[0] / 2 * 1.0001
    assert np.abs(dv - v).max() <= key.v_scale[0] / 2 * 1.0001


def test_released_quantization_formula_on_a_known_tensor():
    x = np.array([-1.0, 0.0, 0.5, 3.0], dtype=np.float32)
    key = quantize_keyframe(0, x.reshape(4, 1), x.reshape(1, 4), QuantScheme.PER_TENSOR)
    scale = np.float32(4.0) / np.float32(255)
    assert key.u_scale[0] == scale
    zero_point = np.round(np.float32(255) - np.float32(3.0) / scale)
    assert key.u_zero_point[0] == zero_point == 64.0
    assert list(key.u_codes()[:, 0]) == [0, 64, 96, 255]


def test_per_component_keyframe_cut_to_a_prefix_dequantizes_to_the_prefix():
    rng = np.random.default_rng(0)
    u = rng.standard_normal((77, 6)).astype(np.float32) * np.arange(1, 7, dtype=np.float32)
    v = rng.standard_normal((6, 32)).astype(np.float32)
    key = quantize_keyframe(5, u, v, QuantScheme.PER_COMPONENT)
    du, dv = dequantize_keyframe(key)
    for rank in range(1, 7):
        cu, cv = dequantize_keyframe(truncate_keyframe(key, rank))
        assert np.array_equal(cu, du[:, :rank]) and np.array_equal(cv, dv[:rank])
    # each component has its own scale, so small components keep their precision
    assert np.abs(du[:, 0] - u[:, 0]).max() < np.abs(du[:, 5] - u[:, 5]).max()


def test_compose_sums_components_in_order_in_binary32():
    rng = np.random.default_rng(3)
    u = rng.standard_normal((5, 4)).astype(np.float32)
    v = rng.standard_normal((4, 7)).astype(np.float32)
    c = compose(u, v)
    s = np.float32(2.0)  # sqrt(4)
    for i in range(5):
        for j in range(7):
            acc = np.float32(u[i, 0] * v[0, j])
            for k in range(1, 4):
                acc = np.float32(acc + np.float32(u[i, k] * v[k, j]))
            assert c[i, j] == np.float32(acc / s)
    exact = (u.astype(np.float64) @ v.astype(np.float64)) / 2
    assert np.allclose(c, exact, rtol=1e-5, atol=1e-6)


def test_sqrt_rank_is_the_nearest_binary32():
    for r in range(1, 256):
        s = sqrt_rank(r)
        assert s.dtype == np.float32
        lo, hi = np.nextafter(s, np.float32(0)), np.nextafter(s, np.float32(100))
        err = abs(float(s) ** 2 - r)
        assert err <= abs(float(lo) ** 2 - r) and err <= abs(float(hi) ** 2 - r)


def test_plan_follows_the_released_segment_rule_and_scene_boundaries():
    plans = list(plan_frames([0, 25], [0, 10, 20, 25, 30], 35, prev_latent_rule=0))
    by_frame = {p.frame: p for p in plans}
    assert len(plans) == 35
    assert by_frame[0].prev_source is None and by_frame[25].prev_source is None
    assert [by_frame[t].prev_source for t in (1, 9, 10)] == [0, 0, 0]  # segment (0, 10] uses keyframe 0
    assert [by_frame[t].prev_source for t in (11, 20, 21, 24)] == [10, 10, 20, 20]
    assert (by_frame[22].left, by_frame[22].right) == (20, None)  # held: 25 opens another scene
    assert (by_frame[27].left, by_frame[27].right) == (25, 30)
    assert (by_frame[34].left, by_frame[34].right) == (30, None)
    paper = {p.frame: p.prev_source for p in plan_frames([0, 25], [0, 10, 20, 25, 30], 35, prev_latent_rule=1)}
    assert [paper[t] for t in (0, 1, 12, 25, 26)] == [None, 0, 11, None, 25]


def test_interpolated_conditioning_hits_the_keyframes_and_lies_between():
    rng = np.random.default_rng(1)
    factors = {k: (rng.random((7, 3), dtype=np.float32), rng.random((3, 11), dtype=np.float32)) for k in (0, 10)}
    plans = {p.frame: p for p in plan_frames([0], [0, 10], 11, 0)}
    c0, c10 = (frame_conditioning(plans[k], factors, 0) for k in (0, 10))
    assert np.array_equal(c0, compose(*factors[0])) and np.array_equal(c10, compose(*factors[10]))
    c5 = frame_conditioning(plans[5], factors, 0)
    u = (factors[0][0] + factors[10][0]) / 2
    v = (factors[0][1] + factors[10][1]) / 2
    assert np.allclose(c5, compose(u, v), atol=1e-6)
    assert np.array_equal(frame_conditioning(plans[5], factors, 1), c0)  # hold rule
    assert interpolation_weight(3, 0, 10) == np.float32(3) / np.float32(10)


def test_rank_change_between_keyframes_interpolates_composed_prompts():
    rng = np.random.default_rng(2)
    factors = {0: (rng.random((7, 2), dtype=np.float32), rng.random((2, 5), dtype=np.float32)),
               4: (rng.random((7, 4), dtype=np.float32), rng.random((4, 5), dtype=np.float32))}
    plan = list(plan_frames([0], [0, 4], 5, 0))[1]
    c = frame_conditioning(plan, factors, 0)
    w = np.float32(0.25)
    expected = (np.float32(1) - w) * compose(*factors[0]) + w * compose(*factors[4])
    assert np.array_equal(c, expected)


def test_noise_mixing_uses_the_rational_gamma():
    z = np.full((1, 1, 2, 2), 2.0, np.float32)
    n0 = np.full((1, 1, 2, 2), 4.0, np.float32)
    n = mix_noise(z, n0, 95, 100)
    assert n.dtype == np.float32
    assert np.allclose(n, 0.05 * 2 + 0.95 * 4, atol=1e-6)
    assert np.array_equal(mix_noise(z, n0, 100, 100), n0)


def test_plans_are_made_as_they_are_taken():
    """A stream of 2^24 frames and one keyframe: the plan of frame 0 must not wait for the others."""
    import itertools

    plans = plan_frames([0], [0], 2**24, 0)
    assert iter(plans) is plans
    first = list(itertools.islice(plans, 3))
    assert [(p.frame, p.left, p.right, p.prev_source) for p in first] == [(0, 0, None, None), (1, 0, None, 0),
                                                                          (2, 0, None, 0)]
