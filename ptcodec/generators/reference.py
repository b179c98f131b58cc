"""The `reference` generator: small, defined entirely by spec/reference-generator.md.

It is what the tests, the conformance vectors and the offline demo run on, so it
has to behave like a real prompt-conditioned generator: frames with contrast,
that depend strongly on the prompt, and that prompt fitting can invert. Random
networks do none of that by default (soft attention averages 77 random tokens
into nothing, and the output collapses to flat gray); the weight gains below are
what makes this one work (the annex gives the reasons and the measurements).

Its weights are not stored anywhere: `make_weights` rebuilds them from a seed
with NumPy's legacy MT19937 and exact binary64 arithmetic, so any implementation
on any machine gets the same bits (their SHA-256 is in the annex).

The network predicts the clean latent x0 directly; there is no sigma/epsilon
conversion (onestep.predict_x0 belongs to SD-Turbo). The noise rules of
spec/ptv.md 12.6 - 12.8 (N0, mixing with Z_prev: ptcodec/process/noise.py) apply unchanged.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from ptcodec.generators.base import Generator, fingerprint_state_dicts

SEED = 0x70747631
"""The ASCII bytes "ptv1", as a 32-bit seed for MT19937."""

TOKENS, EMBED_DIM = 77, 1024
LATENT_CHANNELS, DOWNSCALE = 4, 8
WIDTH = 64
"""Channels of the latent-resolution core."""
HEADS = 4
GROUPS = 8
BLOCKS = 2
DECODER_CHANNELS = (64, 32, 16)
NORM_EPS = 1e-5

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16, "fp64": torch.float64}


def weight_table() -> list[tuple[str, tuple[int, ...], float]]:
    """(name, shape, gain) of every weight, in drawing order. There are no biases
    and no normalisation parameters. A weight of shape (out, *rest) is drawn
    uniform with variance gain^2 / fan_in, fan_in = prod(rest)."""
    c, d, n = LATENT_CHANNELS, WIDTH, EMBED_DIM
    table: list[tuple[str, tuple[int, ...], float]] = [
        ("encoder.conv", (c, 3, DOWNSCALE, DOWNSCALE), 2.5),
        ("core.conv_in", (d, c, 3, 3), 1.0),
    ]
    for i in range(BLOCKS):
        table += [
            (f"core.block{i}.conv1", (d, d, 3, 3), 1.0),
            (f"core.block{i}.conv2", (d, d, 3, 3), 1.0),
            (f"core.block{i}.to_q", (d, d), 1.0),
            # Gain 3 on the keys sharpens attention: each latent position picks a
            # few tokens instead of averaging all 77, so the prompt shows.
            (f"core.block{i}.to_k", (d, n), 3.0),
            (f"core.block{i}.to_v", (d, n), 1.0),
            (f"core.block{i}.to_out", (d, d), 1.0),
        ]
    table.append(("core.conv_out", (c, d, 3, 3), 1.5))  # x0 with unit standard deviation
    previous = c
    for j, channels in enumerate(DECODER_CHANNELS):
        table.append((f"decoder.conv{j}", (channels, previous, 3, 3), 1.0))
        previous = channels
    table.append(("decoder.conv_out", (3, previous, 3, 3), 3.5))  # contrast before tanh
    return table


def make_weights(seed: int = SEED) -> dict[str, np.ndarray]:
    """The weights from the seed, bit-exact on any platform (NumPy only).

    One MT19937 stream, RandomState(seed), is read in table order, each tensor in
    C order: w = binary32((2 u - 1) * bound), u = random_sample() (53-bit
    integer / 2^53, exact), bound = gain * sqrt(3 / fan_in) in binary64. Every step
    is one correctly rounded IEEE operation, so no libm function is involved.
    """
    rng = np.random.RandomState(seed)
    weights = {}
    for name, shape, gain in weight_table():
        fan_in = math.prod(shape[1:])
        bound = gain * math.sqrt(3.0 / fan_in)
        u = rng.random_sample(math.prod(shape))
        weights[name] = ((2.0 * u - 1.0) * bound).astype(np.float32).reshape(shape)
    return weights


def _conv3x3(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    return F.conv2d(x, weight, padding=1)


def _norm_silu(x: torch.Tensor) -> torch.Tensor:
    return F.silu(F.group_norm(x, GROUPS, eps=NORM_EPS))


def _cross_attention(w: dict[str, torch.Tensor], prefix: str, h: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """Multi-head attention from latent positions (queries) to prompt tokens."""
    b, d, height, width = h.shape
    hd = d // HEADS
    x = F.group_norm(h, GROUPS, eps=NORM_EPS).flatten(2).transpose(1, 2)  # (B, hw, d)
    q = F.linear(x, w[prefix + "to_q"]).view(b, -1, HEADS, hd).transpose(1, 2)
    k = F.linear(cond, w[prefix + "to_k"]).view(b, -1, HEADS, hd).transpose(1, 2)
    v = F.linear(cond, w[prefix + "to_v"]).view(b, -1, HEADS, hd).transpose(1, 2)
    a = F.scaled_dot_product_attention(q, k, v)  # softmax(q k^T / sqrt(hd)) v
    a = F.linear(a.transpose(1, 2).reshape(b, -1, d), w[prefix + "to_out"])
    return a.transpose(1, 2).reshape(b, d, height, width)


def denoise(w: dict[str, torch.Tensor], noise: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """The core: clean latent x0 (B, C, h, w) from the noise latent and the prompt."""
    h = _conv3x3(noise, w["core.conv_in"])
    for i in range(BLOCKS):
        p = f"core.block{i}."
        h = h + _conv3x3(_norm_silu(_conv3x3(_norm_silu(h), w[p + "conv1"])), w[p + "conv2"])
        h = h + _cross_attention(w, p, h, cond)
    return _conv3x3(_norm_silu(h), w["core.conv_out"])


def decode(w: dict[str, torch.Tensor], latent: torch.Tensor) -> torch.Tensor:
    """Frames (B, 3, 8h, 8w) in (-1, 1): three conv-SiLU-upsample stages, then tanh."""
    y = latent
    for j in range(len(DECODER_CHANNELS)):
        y = F.interpolate(F.silu(_conv3x3(y, w[f"decoder.conv{j}"])), scale_factor=2, mode="nearest")
    return torch.tanh(_conv3x3(y, w["decoder.conv_out"]))


def encode(w: dict[str, torch.Tensor], frames: torch.Tensor) -> torch.Tensor:
    """Scene-init latent: a fixed linear map of each 8x8 pixel block."""
    return F.conv2d(frames, w["encoder.conv"], stride=DOWNSCALE)


class ReferenceGenerator(Generator):
    id = "reference"
    tokens = TOKENS
    embed_dim = EMBED_DIM
    latent_channels = LATENT_CHANNELS
    downscale = DOWNSCALE
    native_size = (128, 128)

    def __init__(self, seed: int = SEED, *, device: str = "cpu", dtype: str = "fp32") -> None:
        self._master = {name: torch.from_numpy(array) for name, array in make_weights(seed).items()}
        self._fingerprint = fingerprint_state_dicts([(self.id, self._master)])
        self.to(device, dtype)

    @classmethod
    def load(cls, *, device: str = "cpu", dtype: str = "fp32", offline: bool | None = None) -> "ReferenceGenerator":
        """Nothing to download (so `offline` changes nothing): the weights are
        rebuilt from the spec's seed."""
        return cls(device=device, dtype=dtype)

    def to(self, device: str | torch.device, dtype: str = "fp32") -> "ReferenceGenerator":
        """Run on another device or in another precision (cast from the float32 master weights)."""
        self.device = torch.device(device)
        self.dtype = DTYPES[dtype]
        self.weights = {k: v.to(self.device, self.dtype) for k, v in self._master.items()}
        return self

    def fingerprint(self) -> bytes:
        return self._fingerprint

    def encode_latent(self, frames: torch.Tensor) -> torch.Tensor:
        return encode(self.weights, frames.to(self.device, self.dtype))

    def decode_latent(self, latents: torch.Tensor) -> torch.Tensor:
        return decode(self.weights, latents.to(self.device, self.dtype))

    def generate(self, noise: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        latent = denoise(self.weights, noise.to(self.device, self.dtype), cond.to(self.device, self.dtype))
        return self.decode_latent(latent), latent
