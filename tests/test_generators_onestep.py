"""The one-step math against diffusers' own Euler scheduler, on a real UNet2DConditionModel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ptcodec.generators.onestep import (
    SD_TURBO_SCHEDULER_CONFIG,
    TIMESTEP,
    diffusers_input_scale,
    predict_x0,
    sigma_at,
)
from ptcodec.process.noise import initial_noise


def euler_scheduler():
    from diffusers import EulerDiscreteScheduler

    config = {k: v for k, v in SD_TURBO_SCHEDULER_CONFIG.items() if not k.startswith("_")}
    scheduler = EulerDiscreteScheduler(**config)
    scheduler.set_timesteps(1)
    return scheduler


def tiny_unet():
    """The SD 2.x UNet family (linear projections, cross-attention to 1024-wide prompts), tiny widths."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(0)
    return UNet2DConditionModel(
        sample_size=8, in_channels=4, out_channels=4, layers_per_block=1,
        block_out_channels=(32, 64), down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"), cross_attention_dim=1024,
        attention_head_dim=(2, 4), use_linear_projection=True, norm_num_groups=8,
    ).eval()


def test_sigma_999_comes_from_the_scheduler_config():
    assert sigma_at() == pytest.approx(14.6146, abs=5e-4)
    scheduler = euler_scheduler()
    assert int(scheduler.timesteps[0]) == TIMESTEP
    assert float(scheduler.sigmas[0]) == pytest.approx(sigma_at(), rel=1e-6)
    assert float(scheduler.sigmas[-1]) == 0.0


def test_one_step_equals_diffusers_euler_step_from_sigma_999_to_zero():
    unet = tiny_unet()
    scheduler = euler_scheduler()
    sigma = sigma_at()
    z = torch.from_numpy(initial_noise(88, (1, 4, 8, 8)))
    cond = torch.randn(1, 77, 1024, generator=torch.Generator().manual_seed(1))
    t = scheduler.timesteps[0]
    with torch.no_grad():
        # released code: the UNet sees z itself
        ours = predict_x0(z, unet(z, TIMESTEP, encoder_hidden_states=cond).sample, sigma)
        # diffusers: sample = z * sqrt(1 + sigma^2) so that scale_model_input gives back z
        sample = z * math.sqrt(1 + sigma**2)
        model_input = scheduler.scale_model_input(sample, t)
        assert torch.allclose(model_input, z, atol=1e-6)
        eps = unet(model_input, t, encoder_hidden_states=cond).sample
        theirs = scheduler.step(eps, t, sample).prev_sample
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-4)
    assert ours.abs().max() > 1.0  # a real prediction, not a degenerate zero


def test_diffusers_pipeline_feeds_the_unet_0_99767_z():
    scheduler = euler_scheduler()
    sigma = sigma_at()
    z = torch.ones(1, 4, 2, 2)
    pipeline_input = scheduler.scale_model_input(z * scheduler.init_noise_sigma, scheduler.timesteps[0])
    assert float(pipeline_input.mean()) == pytest.approx(diffusers_input_scale(sigma), rel=1e-6)
    assert diffusers_input_scale(sigma) == pytest.approx(0.99767, abs=1e-5)


def test_initial_noise_is_numpy_legacy_randn():
    n0 = initial_noise(88, (1, 4, 8, 8))
    assert n0.dtype == np.float32
    again = np.random.RandomState(88).randn(256).astype(np.float32)
    assert np.array_equal(n0.ravel(), again)
    assert not np.array_equal(n0, initial_noise(89, (1, 4, 8, 8)))


def test_generator_matches_diffusers_euler_on_the_exact_sd_turbo_architecture():
    """SD-Turbo's UNet (865.9 M parameters, as published) and TAESD with random
    weights, at an 8x8 latent: the generator equals scheduler.step + TAESD."""
    from ptcodec.generators.sd_turbo import SDTurboGenerator, random_weights

    unet, taesd = random_weights()
    assert sum(p.numel() for p in unet.parameters()) == pytest.approx(865.9e6, rel=1e-3)
    gen = SDTurboGenerator(unet, taesd)
    scheduler = euler_scheduler()
    sigma, t = sigma_at(), scheduler.timesteps[0]
    z = torch.from_numpy(initial_noise(88, (1, 4, 8, 8)))
    cond = torch.randn(1, 77, 1024, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        frames, latent = gen.generate(z, cond)
        sample = z * math.sqrt(1 + sigma**2)
        eps = unet(scheduler.scale_model_input(sample, t), t, encoder_hidden_states=cond).sample
        expected_latent = scheduler.step(eps, t, sample).prev_sample
        expected_frames = taesd.decode(expected_latent).sample.clamp(-1, 1)
    assert torch.allclose(latent, expected_latent, rtol=1e-5, atol=1e-4)
    assert torch.allclose(frames, expected_frames, atol=1e-5)
    assert frames.shape == (1, 3, 64, 64)


@pytest.mark.parametrize("dtype", ["bf16", "fp16"])
def test_the_one_step_math_stays_in_float32_whatever_the_model_dtype(dtype):
    """x0 = sqrt(1 + sigma^2) z - sigma eps has terms near 50 that cancel: in half
    precision that costs up to 0.08 (fp16) or more (bf16). The authors keep it in fp32;
    so does ptcodec: the UNet and VAE run in the model dtype, the sampler math in float32."""
    from ptcodec.generators.sd_turbo import DTYPES, SDTurboGenerator
    from tests.test_generators_sd_turbo import tiny_taesd

    model_dtype = DTYPES[dtype]
    gen = SDTurboGenerator(tiny_unet(), tiny_taesd(), dtype=dtype)
    seen = {}

    def unet_output(module, args, out) -> None:
        seen["eps"] = out.sample.detach()

    def vae_input(module, args) -> None:
        seen["vae_input"] = args[0].dtype

    gen.unet.register_forward_hook(unet_output)
    gen.vae.decoder.register_forward_pre_hook(vae_input)
    z = torch.from_numpy(initial_noise(88, (1, 4, 8, 8)))
    cond = torch.randn(1, 77, 1024, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        _, latent = gen.generate(z, cond)
    eps = seen["eps"]
    assert eps.dtype == model_dtype and seen["vae_input"] == model_dtype
    exact = predict_x0(z.double(), eps.double(), sigma_at())  # the same eps, in float64
    half = predict_x0(z.to(model_dtype), eps, sigma_at())  # what the sampler used to compute
    assert latent.dtype == torch.float32
    error = float((latent.double() - exact).abs().max())
    half_error = float((half.double() - exact).abs().max())
    assert error <= 1e-5 * float(exact.abs().max())  # float32 rounding of a few operations
    assert half_error > 100 * error  # the test tells the two apart
