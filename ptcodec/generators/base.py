"""The Generator interface: what the encoder and decoder need from a model.

A generator turns a noise latent and a conditioning tensor c (m x n) into a
frame, in one differentiable step, and turns frames into scene-init latents.
Its id and weights fingerprint are written in the sequence header, so a decoder
can refuse a stream made for other weights.
"""

from __future__ import annotations

import abc
import hashlib
import warnings
from collections.abc import Iterable, Mapping

import torch

from ptcodec.errors import GeneratorError


class Generator(abc.ABC):
    id: str
    """Written into the sequence header: 1..32 characters of [a-z0-9._-]."""
    tokens: int
    embed_dim: int
    latent_channels: int
    downscale: int
    native_size: tuple[int, int]
    """(height, width) the generator was made for."""
    perceptual: str = "msssim"
    """The fitting loss's perceptual term when FitOptions leaves it open (ptcodec/encoder/losses.py)."""

    @abc.abstractmethod
    def fingerprint(self) -> bytes:
        """SHA-256 (32 bytes) of the weights, as the generator's spec defines it."""

    @abc.abstractmethod
    def encode_latent(self, frames: torch.Tensor) -> torch.Tensor:
        """Scene-init latents (B, C, H/ds, W/ds) of frames (B, 3, H, W) in [-1, 1]."""

    @abc.abstractmethod
    def decode_latent(self, latents: torch.Tensor) -> torch.Tensor:
        """Frames (B, 3, H, W) in [-1, 1] of clean latents (B, C, h, w): the generator's own decoder
        (what `generate` ends with; the VAE baseline of `ptcodec evaluate` codes latents through it)."""

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


def torch_device(name: str | torch.device) -> torch.device:
    """The device `name` names, if this torch and machine can compute on it: checked
    before any weights load, so a wrong --device costs one line, not a traceback."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError, ValueError):
        raise GeneratorError(f"device {str(name)!r} is not a device name: use cpu, cuda, cuda:N or mps") from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if torch.version.cuda is None and torch.version.hip is None:
            raise GeneratorError(
                f"device {str(name)!r}: this torch ({torch.__version__}) is built without CUDA; use cpu"
            )
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if (device.index or 0) >= count:
            raise GeneratorError(f"device {str(name)!r}: this machine has {count} CUDA device(s) that torch can use")
        return device
    if device.type == "mps":
        if not torch.backends.mps.is_available():
            raise GeneratorError(
                f"device {str(name)!r}: MPS (Apple GPU) is not available to this torch on this machine"
            )
        return device
    raise GeneratorError(f"device {str(name)!r}: ptcodec's generators run on cpu, cuda or mps")


def check_precision(device: torch.device, dtype: str) -> None:
    """fp16 on the CPU gives the right numbers but most CPUs have no fp16 arithmetic:
    it is allowed, with a warning (TAESD decoded 127 times slower than in fp32 on an
    AMD EPYC with AVX-512; bf16 was 3 times faster)."""
    if device.type == "cpu" and dtype == "fp16":
        warnings.warn(
            "--dtype fp16 on the CPU is emulated on most CPUs and can be 100 times slower than fp32; "
            "use bf16 or fp32 there (fp16 is for GPUs)",
            RuntimeWarning,
            stacklevel=3,
        )
