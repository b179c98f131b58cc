"""Quality figures of a generator: contrast, prompt sensitivity, invertibility.

A generator is only useful to Promptus when its frames have contrast, depend
strongly on the prompt, and can be inverted by prompt fitting. These functions
measure that for any `Generator` (the reference generator's annex quotes them,
its tests bound them, and they run unchanged on SD-Turbo with real weights).
Prompts and noise come from NumPy's legacy RandomState so the figures are
reproducible across torch versions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ptcodec.encoder import mirrors
from ptcodec.generators.base import Generator
from ptcodec.metrics import signed_psnr
from ptcodec.process.noise import RELEASED_SEED, initial_noise


def noise_latent(gen: Generator, seed: int = RELEASED_SEED, size: tuple[int, int] | None = None) -> torch.Tensor:
    """N0 of the generator's latent shape at `size` (default: native), as a (1, C, h, w) tensor."""
    height, width = size or gen.native_size
    shape = (1, gen.latent_channels, height // gen.downscale, width // gen.downscale)
    return torch.from_numpy(initial_noise(seed, shape))


def random_prompt(gen: Generator, seed: int) -> torch.Tensor:
    """A random prompt (1, m, n): entries i.i.d. N(0, 1), about the scale of CLIP text embeddings."""
    return torch.from_numpy(np.random.RandomState(seed).randn(1, gen.tokens, gen.embed_dim).astype(np.float32))


def random_factors(gen: Generator, rank: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank-r factors (u, v), entries i.i.d. N(0, 1): c = u v / sqrt(r) has N(0, 1)-like entries."""
    rng = np.random.RandomState(seed)
    u = rng.randn(gen.tokens, rank).astype(np.float32)
    v = rng.randn(rank, gen.embed_dim).astype(np.float32)
    return torch.from_numpy(u), torch.from_numpy(v)


def compose(u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """c = u v / sqrt(r), batched as (1, m, n) (differentiable: the encoder's mirror of the process)."""
    return mirrors.compose(u, v)[None]


@torch.no_grad()
def contrast(gen: Generator, noise: torch.Tensor, seeds: range) -> list[float]:
    """Pixel standard deviation of the frame of each random prompt."""
    return [float(gen.generate(noise, random_prompt(gen, s))[0].float().std()) for s in seeds]


@torch.no_grad()
def prompt_distance(gen: Generator, noise: torch.Tensor, pairs: list[tuple[int, int]]) -> list[float]:
    """PSNR between the frames of two unrelated random prompts with the same noise (low = sensitive)."""
    frame = lambda s: gen.generate(noise, random_prompt(gen, s))[0]  # noqa: E731
    return [signed_psnr(frame(a), frame(b)) for a, b in pairs]


@dataclass
class Inversion:
    psnr: float
    """PSNR of the last fitted frame against the target."""
    steps: int


def invert(gen: Generator, noise: torch.Tensor, rank: int, steps: int, seed: int, lr: float = 0.1) -> Inversion:
    """Fit rank-r factors to a frame generated from random rank-r factors.

    Start as the released Promptus code does (u, v uniform in [0, 1)), then Adam
    on the frame MSE with a cosine learning-rate decay to 0 over `steps`.
    """
    with torch.no_grad():
        target = gen.generate(noise, compose(*random_factors(gen, rank, seed)))[0]
    rng = np.random.RandomState(seed + 1)
    u = torch.from_numpy(rng.random_sample((gen.tokens, rank)).astype(np.float32)).requires_grad_()
    v = torch.from_numpy(rng.random_sample((rank, gen.embed_dim)).astype(np.float32)).requires_grad_()
    optimizer = torch.optim.Adam([u, v], lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(steps):
        frames = gen.generate(noise, compose(u, v))[0]
        loss = ((frames.float() - target.float()) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    with torch.no_grad():
        final = gen.generate(noise, compose(u, v))[0]
    return Inversion(signed_psnr(final, target), steps)
