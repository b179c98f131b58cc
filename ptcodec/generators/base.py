"""The Generator interface: what the encoder and decoder need from a model.

A generator turns a noise latent and a conditioning tensor c (m x n) into a
frame, in one differentiable step, and turns frames into scene-init latents.
Its id and weights fingerprint are written in the sequence header, so a decoder
can refuse a stream made for other weights.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Iterable, Mapping

import torch


class Generator(abc.ABC):
    id: str
    """Written into the sequence header: 1..32 characters of [a-z0-9._-]."""
    tokens: int
    embed_dim: int
    latent_channels: int
    downscale: int
    native_size: tuple[int, int]
    """(height, width) the generator was made for."""

    @abc.abstractmethod
    def fingerprint(self) -> bytes:
        """SHA-256 (32 bytes) of the weights, as the generator's spec defines it."""

    @abc.abstractmethod
    def encode_latent(self, frames: torch.Tensor) -> torch.Tensor:
        """Scene-init latents (B, C, H/ds, W/ds) of frames (B, 3, H, W) in [-1, 1]."""

    @abc.abstractmethod
    def generate(self, noise: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(frames (B, 3, H, W) in [-1, 1], clean latents (B, C, h, w)) from noise
        latents (B, C, h, w) and conditioning (B, m, n); differentiable."""


def fingerprint_state_dicts(parts: Iterable[tuple[str, Mapping[str, torch.Tensor]]]) -> bytes:
    """SHA-256 over named state dicts: for each part in the given order, each
    tensor in sorted key order contributes its name, shape and its values as
    little-endian float32. Casting to float32 makes fp16 checkpoints hash alike
    whether loaded in half or full precision."""
    digest = hashlib.sha256()
    for part, state in parts:
        for key in sorted(state):
            tensor = state[key].detach().to("cpu", torch.float32).contiguous()
            digest.update(f"{part}.{key}:{tuple(tensor.shape)}\n".encode())
            digest.update(tensor.numpy().astype("<f4", copy=False).tobytes())
    return digest.digest()
