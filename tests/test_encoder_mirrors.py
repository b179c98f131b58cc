"""The torch mirrors of the normative process (ptcodec/encoder/mirrors.py) against their NumPy
originals (ptcodec/process/), on random inputs, every rank prefix of a ladder included.

The originals are exact binary32; the mirrors are torch and may sum in another order, so
values are compared within float32 rounding, and quantization codes must agree exactly
(a code off by one moves a value by a whole step, far beyond the tolerance used)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptcodec.encoder import mirrors
from ptcodec.encoder.fit import Segment
from ptcodec.process import conditioning, noise
from ptcodec.process.conditioning import FramePlan
from ptcodec.process.quant import dequantize_keyframe, quantize_keyframe, truncate_keyframe
from ptcodec.ptv import InterpRule, QuantScheme

M, N = 12, 20
LADDER = (1, 2, 4, 8)


def factors(seed: int, rank: int, kind: str = "normal") -> tuple[np.ndarray, np.ndarray]:
    """Random u (M, r), v (r, N): signed, all positive, all negative, or with an all-zero column."""
    rng = np.random.RandomState(seed)
    u = rng.randn(M, rank).astype(np.float32) * np.float32(rng.uniform(0.01, 5))
    v = rng.randn(rank, N).astype(np.float32) * np.float32(rng.uniform(0.01, 5))
    if kind == "positive":
        u, v = np.abs(u), np.abs(v)
    elif kind == "negative":
        u, v = -np.abs(u), -np.abs(v)
    elif kind == "zero":
        u[:, 0] = 0
        v[-1] = 0
    return u, v


def torch_pair(u: np.ndarray, v: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(u.copy()), torch.from_numpy(v.copy())


def close(mirror: torch.Tensor, original: np.ndarray, step: float | np.ndarray = 0.0) -> None:
    """Within float32 rounding of the values; with `step` (a quantizer's scale), far below one step."""
    got = mirror.detach().numpy()
    assert got.shape == original.shape
    tolerance = 1e-5 * (np.abs(original).max() + 1e-30) + np.asarray(step, np.float32) / 8
    assert np.all(np.abs(got - original) <= tolerance), float(np.abs(got - original).max())


@pytest.mark.parametrize("kind", ["normal", "positive", "negative", "zero"])
@pytest.mark.parametrize("seed", range(6))
def test_fake_quantization_gives_the_factors_a_decoder_dequantizes(seed, kind):
    for scheme in (QuantScheme.PER_TENSOR, QuantScheme.PER_COMPONENT):
        u, v = factors(seed, 8, kind)
        keyframe = quantize_keyframe(0, u, v, scheme)
        uq, vq = dequantize_keyframe(keyframe)
        mu, mv = mirrors.fake_quantize_factors(*torch_pair(u, v), scheme)
        close(mu, uq, step=np.asarray(keyframe.u_scale, np.float32))
        close(mv, vq, step=np.asarray(keyframe.v_scale, np.float32)[:, None] if scheme else keyframe.v_scale[0])


def test_fake_quantization_passes_the_gradient_straight_through():
    u, v = torch_pair(*factors(0, 4))
    u.requires_grad_()
    mu, _ = mirrors.fake_quantize_factors(u, v, QuantScheme.PER_COMPONENT)
    mu.sum().backward()
    assert torch.equal(u.grad, torch.ones_like(u))


@pytest.mark.parametrize("seed", range(4))
def test_every_rank_prefix_of_a_fake_quantized_ladder_is_the_truncated_keyframe(seed):
    u, v = factors(seed, max(LADDER))
    keyframe = quantize_keyframe(0, u, v, QuantScheme.PER_COMPONENT)
    mu, mv = mirrors.fake_quantize_factors(*torch_pair(u, v), QuantScheme.PER_COMPONENT)
    for rank in LADDER:
        cut = truncate_keyframe(keyframe, rank)
        uq, vq = dequantize_keyframe(cut)
        close(mu[:, :rank], uq, step=np.asarray(cut.u_scale, np.float32))
        close(mv[:rank], vq, step=np.asarray(cut.v_scale, np.float32)[:, None])
        close(mirrors.compose(mu[:, :rank], mv[:rank]), conditioning.compose(uq, vq))


@pytest.mark.parametrize("rank", [1, 2, 3, 8, 16])
def test_compose_divides_by_the_same_binary32_square_root(rank):
    u, v = factors(rank, rank)
    close(mirrors.compose(*torch_pair(u, v)), conditioning.compose(u, v))
    ones = torch.ones(1, rank), torch.ones(rank, 1)  # c = r / sqrt(r): the division itself
    assert float(mirrors.compose(*ones)) == pytest.approx(float(np.float32(rank) / conditioning.sqrt_rank(rank)),
                                                          rel=1e-7)


@pytest.mark.parametrize("rule", [InterpRule.LINEAR_FACTORS, InterpRule.HOLD])
@pytest.mark.parametrize("ranks", [(4, 4), (2, 6)])
def test_segment_conditioning_is_the_frame_conditioning_of_every_frame(rule, ranks):
    a, b = 10, 17
    left, right = factors(1, ranks[0]), factors(2, ranks[1])
    weights = torch.from_numpy(mirrors.segment_weights(a, b, rule))
    got = mirrors.segment_conditioning(torch_pair(*left), torch_pair(*right), weights)
    for i, t in enumerate(range(a + 1, b + 1)):
        plan = FramePlan(t, 0, a, b, None) if t < b else FramePlan(t, 0, t, None, None)
        close(got[i], conditioning.frame_conditioning(plan, {a: left, b: right, t: right}, rule))


def test_segment_weights_are_the_normative_interpolation_weights():
    a, b = 3, 10
    linear = mirrors.segment_weights(a, b, InterpRule.LINEAR_FACTORS)
    assert linear.dtype == np.float32
    assert [float(w) for w in linear] == [float(conditioning.interpolation_weight(t, a, b)) for t in range(a + 1, b + 1)]
    assert list(mirrors.segment_weights(a, b, InterpRule.HOLD)) == [0] * (b - a - 1) + [1]


@pytest.mark.parametrize("gamma", [(95, 100), (80, 100), (1, 3), (100, 100)])
def test_noise_mix_uses_the_same_binary32_weights(gamma):
    rng = np.random.RandomState(sum(gamma))
    z = rng.randn(1, 4, 8, 8).astype(np.float32)
    n0 = noise.initial_noise(88, (1, 4, 8, 8))
    close(mirrors.mix_noise(torch.from_numpy(z), torch.from_numpy(n0), gamma), noise.mix_noise(z, n0, *gamma))


class CountingGenerator:
    """Records what the segment asks the generator for, and returns it as the frame."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def generate(self, noise: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.calls.append((noise, cond))
        return cond[:, None], noise


@pytest.mark.parametrize("rule", [InterpRule.LINEAR_FACTORS, InterpRule.HOLD])
def test_segment_renders_each_rank_of_the_ladder_as_a_truncated_stream_decodes_it(rule):
    """The encoder's Segment, from candidate factors, for every prefix of the ladder: the
    conditioning and input noise the normative process gives the truncated keyframes."""
    a, b = 0, 5
    left_units = quantize_keyframe(a, *factors(3, max(LADDER)), QuantScheme.PER_COMPONENT)
    candidate = factors(4, max(LADDER))
    z_prev = np.random.RandomState(5).randn(1, 4, 8, 8).astype(np.float32)
    n0 = noise.initial_noise(88, (1, 4, 8, 8))
    generator = CountingGenerator()
    segment = Segment(
        generator=generator, targets=torch.zeros(b - a, 3, 8, 8),
        weights=torch.from_numpy(mirrors.segment_weights(a, b, rule)),
        left=tuple(torch.from_numpy(f) for f in dequantize_keyframe(left_units)), z_prev=torch.from_numpy(z_prev),
        n0=torch.from_numpy(n0), gamma=(95, 100), prev_latent_rule=0, quant_scheme=QuantScheme.PER_COMPONENT,
        ranks=LADDER,
    )
    _, conds = segment.render(*torch_pair(*candidate))
    right_units = quantize_keyframe(b, *candidate, QuantScheme.PER_COMPONENT)
    expected_noise = noise.mix_noise(z_prev, n0, 95, 100)
    for i, rank in enumerate(LADDER):
        left, right = (dequantize_keyframe(truncate_keyframe(k, rank)) for k in (left_units, right_units))
        for j, t in enumerate(range(a + 1, b + 1)):
            plan = FramePlan(t, 0, a, b, None) if t < b else FramePlan(t, 0, t, None, None)
            close(conds[i * (b - a) + j], conditioning.frame_conditioning(plan, {a: left, b: right, t: right}, rule),
                  step=np.float32(1e-3))
        noise_in, _ = generator.calls[i]
        close(noise_in[0:1], expected_noise)
