"""Everything a decoder computes before the generator, as data (spec 12.1 - 12.8).

This is conformance tier 2: dequantized factors, the conditioning c_t of every
frame, the widened scene-init latents, N0, and the input noise of every scene
start are bit-exact on any machine, so they can be compared by hash. `write`
stores them in the dump format a third-party decoder can produce too:

    <dir>/index.json                 names, shapes and SHA-256 of every array
    <dir>/n0.f32                     N0, (1, C, H, W)
    <dir>/u_<frame>.f32, v_<frame>.f32   dequantized factors of each keyframe, (m, r) and (r, n)
    <dir>/latent_<frame>.f32         widened scene-init latent of each scene start, (1, C, H, W)
    <dir>/noise_<frame>.f32          input noise N_t of each scene start, (1, C, H, W)
    <dir>/c_<frame>.f32              conditioning of every frame, (m, n)

Each .f32 file is the array's binary32 values, little-endian, in C order; <frame>
is the frame index in five or more decimal digits. NumPy only: no torch.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptcodec import conditioning
from ptcodec.conditioning import FramePlan
from ptcodec.generators.onestep import initial_noise
from ptcodec.outputs import atomic_file, check_output, make_directory
from ptcodec.ptv import Keyframe, SceneInit, SequenceHeader, Unit
from ptcodec.quant import dequantize_keyframe


def digest(array: np.ndarray) -> str:
    """SHA-256 of an array's little-endian binary32 bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


@dataclass
class Reconstruction:
    header: SequenceHeader
    factors: dict[int, tuple[np.ndarray, np.ndarray]]
    scene_latents: dict[int, np.ndarray]
    n0: np.ndarray
    plans: list[FramePlan]

    def conditioning(self, frame: int) -> np.ndarray:
        return conditioning.frame_conditioning(self.plans[frame], self.factors, self.header.interp_rule)

    def scene_noise(self, frame: int) -> np.ndarray:
        h = self.header
        return conditioning.mix_noise(self.scene_latents[frame], self.n0, h.gamma_num, h.gamma_den)

    def arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, array) of every tier-2 output, in a fixed order."""
        yield "n0", self.n0
        for frame, (u, v) in sorted(self.factors.items()):
            yield f"u_{frame:05d}", u
            yield f"v_{frame:05d}", v
        for frame, latent in sorted(self.scene_latents.items()):
            yield f"latent_{frame:05d}", latent
            yield f"noise_{frame:05d}", self.scene_noise(frame)
        for plan in self.plans:
            yield f"c_{plan.frame:05d}", self.conditioning(plan.frame)

    def digests(self) -> dict[str, str]:
        return {name: digest(array) for name, array in self.arrays()}

    def write(self, directory: str | os.PathLike[str]) -> dict[str, dict]:
        """Write every array as <name>.f32 and an index.json; returns the index."""
        directory = Path(directory)
        check_output(directory, directory=True)
        make_directory(directory)
        index = {}
        for name, array in self.arrays():
            data = np.ascontiguousarray(array, dtype="<f4")
            with atomic_file(directory / f"{name}.f32") as f:
                f.write(data.tobytes())
            index[name] = {"shape": list(data.shape), "sha256": digest(data)}
        with atomic_file(directory / "index.json") as f:  # last: a dump with an index is complete
            f.write((json.dumps(index, indent=1) + "\n").encode())
        return index


def reconstruct(header: SequenceHeader, units: Iterable[Unit]) -> Reconstruction:
    """Tier-2 data of a whole stream (units in stream order; other unit types are ignored)."""
    factors: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    latents: dict[int, np.ndarray] = {}
    for unit in units:
        if isinstance(unit, Keyframe):
            factors[unit.frame_index] = dequantize_keyframe(unit)
        elif isinstance(unit, SceneInit):
            latents[unit.frame_index] = unit.latent()
    plans = conditioning.plan_frames(sorted(latents), sorted(factors), header.frame_count, header.prev_latent_rule)
    n0 = initial_noise(header.noise_seed, (1, *header.latent_shape))
    return Reconstruction(header, factors, latents, n0, plans)


def read_dump(directory: str | os.PathLike[str], only: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a dump directory (or only those named), checked against its index (shape and size)."""
    directory = Path(directory)
    index = json.loads((directory / "index.json").read_text())
    wanted = None if only is None else set(only)
    out = {}
    for name, entry in index.items():
        if wanted is not None and name not in wanted:
            continue
        shape = tuple(entry["shape"])
        data = (directory / f"{name}.f32").read_bytes()
        if len(data) != 4 * int(np.prod(shape)):
            raise ValueError(f"{directory / name}.f32: {len(data)} bytes, the index says shape {shape}")
        out[name] = np.frombuffer(data, dtype="<f4").reshape(shape)
    return out
