"""Clips a generator can reproduce exactly: the embedded demo input and the test content.

A real clip measures the generator as much as the codec (the small reference
generator renders natural video at about 20 dB). A *reachable* clip is made by
the decoder itself from a smooth random prompt trajectory, with keyframes where
the encoder will put them, so a correct encoder must find prompts that bring it
back to high PSNR: a failure is the codec's, not the generator's.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import torch

from ptcodec.decoder import Decoder, run_generator
from ptcodec.encoder.encoder import make_header
from ptcodec.encoder.options import StreamOptions
from ptcodec.encoder.scenes import plan_keyframes
from ptcodec.generators.base import Generator
from ptcodec.process.conditioning import compose
from ptcodec.process.pixels import to_signed, to_uint8
from ptcodec.process.quant import dequantize_keyframe, quantize_keyframe
from ptcodec.ptv import QuantScheme, SceneInit


def _scene_latent(gen: Generator, decoder: Decoder, factors: tuple[np.ndarray, np.ndarray], seed: int) -> np.ndarray:
    """A latent z with z ~ encode(frame generated from z): the scene-init latent
    the encoder will measure on the clip's first frame (a fixed point, found by iteration)."""
    cond = compose(*factors)[None]
    z = np.random.RandomState(seed).randn(1, *decoder.header.latent_shape).astype(np.float32)
    for _ in range(8):
        frame, _ = run_generator(gen, decoder.noise_from(z), cond, 1)
        pixels = to_signed(to_uint8(frame[0].transpose(1, 2, 0)))
        with torch.no_grad():
            z = gen.encode_latent(torch.from_numpy(pixels).permute(2, 0, 1)[None]).float().numpy()
    return z


def reachable_clip(gen: Generator, *, frames: int = 30, size: tuple[int, int] = (128, 128), interval: int = 5,
                   rank: int = 8, seed: int = 0, fps: Fraction = Fraction(30), step: float = 0.35) -> np.ndarray:
    """(frames, H, W, 3) uint8: one scene whose prompt drifts smoothly (a random
    walk of the factors, `step` of their scale per keyframe)."""
    width, height = size
    decoder = Decoder(make_header(gen, StreamOptions(ranks=(rank,)), width, height, fps, frames), gen)
    rng = np.random.RandomState(seed)
    u = rng.randn(gen.tokens, rank).astype(np.float32)
    v = rng.randn(rank, gen.embed_dim).astype(np.float32)
    out: list[np.ndarray] = []
    for i, k in enumerate(plan_keyframes([0], frames, interval)):
        if i:
            u = (u + step * rng.randn(*u.shape)).astype(np.float32) / np.float32(np.sqrt(1 + step**2))
            v = (v + step * rng.randn(*v.shape)).astype(np.float32) / np.float32(np.sqrt(1 + step**2))
        keyframe = quantize_keyframe(k, u, v, QuantScheme.PER_TENSOR)
        if k == 0:
            latent = _scene_latent(gen, decoder, dequantize_keyframe(keyframe), seed)
            decoder.push(SceneInit.from_latent(0, latent))
        out += [f.image for f in decoder.push(keyframe)]
    out += [f.image for f in decoder.flush()]
    return np.stack(out)
