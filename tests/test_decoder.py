"""The decoder against the spec's decoding process written out frame by frame
(section 12.10): same conditioning, same noise, same source latents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptcodec import conditioning
from ptcodec.decoder import Decoder, run_generator
from ptcodec.errors import GeneratorError
from ptcodec.generators.onestep import initial_noise
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.ptv import InterpRule, PrevLatentRule, QuantScheme, SceneInit
from ptcodec.quant import dequantize_keyframe, quantize_keyframe, truncate_keyframe
from tests.conftest import make_header


@pytest.fixture(scope="module")
def gen() -> ReferenceGenerator:
    torch.set_num_threads(2)
    return ReferenceGenerator()


def stream(gen, prev_rule: int, interp_rule: int, frame_count: int):
    """Two scenes (frames 0 and 7), keyframes 0, 3, 5 | 7, 9; ranks 4, 4, 2 | 3, 3."""
    header = make_header(
        generator_id="reference", generator_fingerprint=gen.fingerprint(), width=32, height=24, tokens=77,
        embed_dim=1024, frame_count=frame_count, prev_latent_rule=prev_rule, interp_rule=interp_rule,
        quant_schemes=3, level=3,
    )
    rng = np.random.RandomState(5)
    units = []
    for frame, rank in ((0, 4), (3, 4), (5, 2), (7, 3), (9, 3)):
        if frame in (0, 7):
            units.append(SceneInit.from_latent(frame, rng.randn(1, 4, 3, 4).astype(np.float32)))
        scheme = QuantScheme.PER_COMPONENT if frame == 5 else QuantScheme.PER_TENSOR
        keyframe = quantize_keyframe(frame, rng.randn(77, rank), rng.randn(rank, 1024), scheme)
        units.append(keyframe)
    return header, units


def spec_frames(gen, header, units) -> list[np.ndarray]:
    """Section 12.10, one frame at a time."""
    keyframes = [u for u in units if not isinstance(u, SceneInit)]
    scenes = {u.frame_index: u.latent() for u in units if isinstance(u, SceneInit)}
    factors = {k.frame_index: dequantize_keyframe(k) for k in keyframes}
    plans = conditioning.plan_frames(sorted(scenes), sorted(factors), header.frame_count, header.prev_latent_rule)
    n0 = initial_noise(header.noise_seed, (1, *header.latent_shape))
    latents, frames = {}, []
    for plan in plans:
        c = conditioning.frame_conditioning(plan, factors, header.interp_rule)
        z_prev = scenes[plan.frame] if plan.prev_source is None else latents[plan.prev_source]
        noise = conditioning.mix_noise(z_prev, n0, header.gamma_num, header.gamma_den)
        f, z = run_generator(gen, noise, c[None], 1)
        latents[plan.frame] = z
        frames.append(f[0])
    return frames


@pytest.mark.parametrize("prev_rule", [PrevLatentRule.SEGMENT_START, PrevLatentRule.PREVIOUS_FRAME])
@pytest.mark.parametrize("interp_rule", [InterpRule.LINEAR_FACTORS, InterpRule.HOLD])
@pytest.mark.parametrize("frame_count", [0, 13])
def test_decoder_follows_the_decoding_process(gen, prev_rule, interp_rule, frame_count):
    header, units = stream(gen, prev_rule, interp_rule, frame_count)
    decoder = Decoder(header, gen, max_batch=3)
    out = [f for unit in units for f in decoder.push(unit)] + decoder.flush()
    expected = spec_frames(gen, header, units)
    assert [f.index for f in out] == list(range(len(expected)))
    assert len(expected) == (frame_count or 10)
    for frame, reference in zip(out, expected):
        np.testing.assert_allclose(frame.signed, reference, atol=2e-5, err_msg=f"frame {frame.index}")
    assert out[0].image.shape == (24, 32, 3) and out[0].image.dtype == np.uint8


def test_decoding_twice_gives_identical_frames(gen):
    header, units = stream(gen, PrevLatentRule.SEGMENT_START, InterpRule.LINEAR_FACTORS, 12)

    def run():
        decoder = Decoder(header, gen)
        return np.stack([f.image for unit in units for f in decoder.push(unit)] + [f.image for f in decoder.flush()])

    assert np.array_equal(run(), run())


def test_rank_cut_keyframes_decode(gen):
    header, units = stream(gen, PrevLatentRule.SEGMENT_START, InterpRule.LINEAR_FACTORS, 0)
    cut = [truncate_keyframe(u, 1) if getattr(u, "quant_scheme", None) == QuantScheme.PER_COMPONENT else u for u in units]
    decoder = Decoder(header, gen)
    out = [f for unit in cut for f in decoder.push(unit)] + decoder.flush()
    expected = spec_frames(gen, header, cut)
    for frame, reference in zip(out, expected):
        np.testing.assert_allclose(frame.signed, reference, atol=2e-5)


def test_a_stream_for_another_generator_or_other_weights_is_refused(gen):
    header, _ = stream(gen, 0, 0, 0)
    with pytest.raises(GeneratorError, match="needs generator 'sd-turbo'"):
        Decoder(make_header(generator_id="sd-turbo", tokens=77, embed_dim=1024), gen)
    with pytest.raises(GeneratorError, match="tokens, embed_dim"):
        Decoder(make_header(generator_fingerprint=gen.fingerprint()), gen)
    other = ReferenceGenerator(seed=1)
    with pytest.raises(GeneratorError, match="other 'reference' weights"):
        Decoder(header, other)
    Decoder(header, other, check_fingerprint=False)
