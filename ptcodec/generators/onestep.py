"""The one-step generation math of Promptus, in one readable place.

The released Promptus code samples SD 2.1 Turbo with one Euler step from the
largest training timestep (999) to sigma 0. With sigma = sigma_999, derived
from the scheduler config (not hard-coded):

    UNet input      z                                   (the released sampler scales by
                                                          sqrt(1 + sigma^2) and the denoiser
                                                          divides it out again)
    clean latent    x0 = sqrt(1 + sigma^2) * z - sigma * eps(z, t=999, c)

diffusers' own sd-turbo pipeline (EulerDiscreteScheduler, "trailing" spacing)
starts from z * init_noise_sigma with init_noise_sigma = sigma, not
sqrt(1 + sigma^2), so its UNet sees z * sigma / sqrt(1 + sigma^2) = 0.99767 z.
ptcodec follows the released code; `diffusers_input_scale` gives the factor.

The noise rule (N0 and the noise mix, spec 12.6 and 12.8) is part of the normative
process: ptcodec/process/noise.py.
"""

from __future__ import annotations

import math

import numpy as np

SD_TURBO_SCHEDULER_CONFIG: dict = {
    "_class_name": "EulerDiscreteScheduler",
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "num_train_timesteps": 1000,
    "prediction_type": "epsilon",
    "interpolation_type": "linear",
    "steps_offset": 1,
    "timestep_spacing": "trailing",
    "use_karras_sigmas": False,
}
"""stabilityai/sd-turbo's scheduler/scheduler_config.json (the fields that matter here)."""

TIMESTEP = 999


def alphas_cumprod(config: dict = SD_TURBO_SCHEDULER_CONFIG) -> np.ndarray:
    """Cumulative alpha products of the training schedule, in float64."""
    steps = config["num_train_timesteps"]
    if config["beta_schedule"] == "scaled_linear":
        betas = np.linspace(config["beta_start"] ** 0.5, config["beta_end"] ** 0.5, steps, dtype=np.float64) ** 2
    elif config["beta_schedule"] == "linear":
        betas = np.linspace(config["beta_start"], config["beta_end"], steps, dtype=np.float64)
    else:
        raise ValueError(f"beta_schedule {config['beta_schedule']!r} is not supported")
    return np.cumprod(1.0 - betas)


def sigma_at(timestep: int = TIMESTEP, config: dict = SD_TURBO_SCHEDULER_CONFIG) -> float:
    """sigma_t = sqrt((1 - alphabar_t) / alphabar_t)."""
    abar = alphas_cumprod(config)[timestep]
    return math.sqrt((1.0 - abar) / abar)


def x0_coefficients(sigma: float) -> tuple[float, float]:
    """(a, b) with x0 = a * z - b * eps: a = sqrt(1 + sigma^2), b = sigma."""
    return math.sqrt(1.0 + sigma * sigma), sigma


def predict_x0(z, eps, sigma: float):
    """The clean latent from the UNet's noise prediction (works on arrays and tensors)."""
    a, b = x0_coefficients(sigma)
    return a * z - b * eps


def diffusers_input_scale(sigma: float) -> float:
    """What diffusers' trailing-spacing pipeline multiplies z by before the UNet: sigma / sqrt(1 + sigma^2)."""
    return sigma / math.sqrt(1.0 + sigma * sigma)
