"""Shared fixtures: small hand-made streams for the example-based tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ptcodec.cli import quiet_threads
from ptcodec.ptv import Keyframe, SceneInit, SequenceHeader

# Before anything loads torch (nothing above does): on a busy machine OpenMP threads sleep while they
# wait instead of spinning, so the suite does not slow down several times over (the CLI's rule).
quiet_threads()

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def make_header(**overrides) -> SequenceHeader:
    values = dict(
        level=1, crc_present=True, generator_id="reference", generator_fingerprint=bytes(range(32)),
        width=64, height=64, time_base_num=1, time_base_den=30, frame_count=0, tokens=4, embed_dim=8,
        latent_channels=4, latent_downscale=8, noise_seed=88, gamma_num=95, gamma_den=100,
        prev_latent_rule=0, interp_rule=0, quant_schemes=3,
    )
    values.update(overrides)
    return SequenceHeader(**values)


def make_keyframe(header: SequenceHeader, frame_index: int, rank: int = 2, seed: int = 0) -> Keyframe:
    rng = np.random.default_rng(seed)
    return Keyframe(
        frame_index, rank, 0, (0.5,), (128.0,), (0.25,), (100.0,),
        rng.integers(0, 256, header.tokens * rank, dtype=np.uint8).tobytes(),
        rng.integers(0, 256, rank * header.embed_dim, dtype=np.uint8).tobytes(),
    )


def tiny_scene(header: SequenceHeader, frame_index: int = 0) -> SceneInit:
    latent = np.random.default_rng(frame_index).standard_normal((1, *header.latent_shape)).astype(np.float32)
    return SceneInit.from_latent(frame_index, latent)


@pytest.fixture
def tiny_stream() -> tuple[SequenceHeader, list]:
    """Header, scene-init for frame 0, keyframes at 0 and 10."""
    header = make_header()
    return header, [tiny_scene(header), make_keyframe(header, 0), make_keyframe(header, 10, seed=1)]


@pytest.fixture
def sky_dir() -> Path:
    path = SHARED_DATA / "promptus_official" / "sky"
    if not path.is_dir():
        pytest.skip(f"real Promptus prompts not found at {path} (shared data is beside the repo, not in it)")
    return path
