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
is the frame index in five or more decimal digits. NumPy only: no torch. The
arrays are computed, and written, as the stream is read (`Reconstruction`):
memory holds two keyframes' factors, whatever the number of frames.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from ptcodec.outputs import atomic_file, check_output, make_directory
from ptcodec.process import conditioning
from ptcodec.process.conditioning import FramePlan
from ptcodec.process.noise import initial_noise, mix_noise
from ptcodec.process.quant import dequantize_keyframe
from ptcodec.ptv import Keyframe, SceneInit, SequenceHeader, Unit


def digest(array: np.ndarray) -> str:
    """SHA-256 of an array's little-endian binary32 bytes in C order."""
    return hashlib.sha256(np.ascontiguousarray(array, dtype="<f4").tobytes()).hexdigest()


class Reconstruction:
    """The tier-2 arrays of a stream, computed as its units are read.

    `arrays()` goes through the units once, in stream order, and yields each array
    as soon as the units it depends on have arrived: n0 first; then, per unit, a
    scene start's latent and noise, a keyframe's u and v, and the c of every frame
    of the temporal unit that the keyframe ends (the last unit's at the end of the
    stream). It holds the factors of two keyframes, never the frames' plans, so a
    stream of millions of frames gives its first arrays at once. `units` may be a
    one-shot iterator (a reader's units): arrays() can then be taken once.
    """

    def __init__(self, header: SequenceHeader, units: Iterable[Unit]) -> None:
        self.header = header
        self.n0 = initial_noise(header.noise_seed, (1, *header.latent_shape))
        self._units = units
        self._taken = False

    def scene_noise(self, latent: np.ndarray) -> np.ndarray:
        """N_t of a scene start t from its widened scene-init latent (spec 12.8)."""
        h = self.header
        return mix_noise(latent, self.n0, h.gamma_num, h.gamma_den)

    def arrays(self) -> Iterator[tuple[str, np.ndarray]]:
        """(name, array) of every tier-2 output, in stream order (see the class docstring)."""
        units = self._take()
        h = self.header
        yield "n0", self.n0
        planner = conditioning.FramePlanner(h.frame_count, h.prev_latent_rule)
        factors: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        scene: int | None = None
        for unit in units:
            if isinstance(unit, SceneInit):
                latent = unit.latent()
                yield f"latent_{unit.frame_index:05d}", latent
                yield f"noise_{unit.frame_index:05d}", self.scene_noise(latent)
                scene = unit.frame_index
            elif isinstance(unit, Keyframe):
                frame = unit.frame_index
                factors[frame] = u, v = dequantize_keyframe(unit)
                yield f"u_{frame:05d}", u
                yield f"v_{frame:05d}", v
                yield from self._conditioning(planner.keyframe(frame, scene == frame), factors)
                for done in [k for k in factors if k != frame]:  # only the new keyframe is needed from here on
                    del factors[done]
        yield from self._conditioning(planner.finish(), factors)

    def _conditioning(self, plans: Iterable[FramePlan], factors: dict) -> Iterator[tuple[str, np.ndarray]]:
        for plan in plans:
            yield f"c_{plan.frame:05d}", conditioning.frame_conditioning(plan, factors, self.header.interp_rule)

    def _take(self) -> Iterator[Unit]:
        units = iter(self._units)
        if units is self._units:  # a one-shot iterator
            if self._taken:
                raise RuntimeError("this Reconstruction's units were an iterator, already read: reconstruct again")
            self._taken = True
        return units

    def digests(self) -> dict[str, str]:
        return {name: digest(array) for name, array in self.arrays()}

    def write(self, directory: str | os.PathLike[str]) -> dict[str, dict]:
        """Write every array as <name>.f32 as it is computed, then index.json; returns the index."""
        directory = Path(directory)
        check_output(directory, directory=True)
        make_directory(directory)
        index = {}
        for name, array in self.arrays():
            data = np.ascontiguousarray(array, dtype="<f4")
            with atomic_file(directory / f"{name}.f32", durable=False) as f:  # index.json, last, is made durable
                f.write(data.tobytes())
            index[name] = {"shape": list(data.shape), "sha256": digest(data)}
        index = {name: index[name] for name in sorted(index, key=index_order)}
        with atomic_file(directory / "index.json") as f:  # last: a dump with an index is complete
            f.write((json.dumps(index, indent=1) + "\n").encode())
        return index


INDEX_GROUPS = {"n0": 0, "u": 1, "v": 1, "latent": 2, "noise": 2, "c": 3}


def index_order(name: str) -> tuple[int, int, str]:
    """index.json lists N0, then each keyframe's u and v, then each scene start's latent and noise,
    then c frame by frame, whatever order the arrays were computed in (the order is not normative:
    a dump is read by name; a fixed one keeps the same dump the same bytes)."""
    kind, _, frame = name.partition("_")
    return INDEX_GROUPS.get(kind, 4), int(frame) if frame.isdigit() else -1, name


def reconstruct(header: SequenceHeader, units: Iterable[Unit]) -> Reconstruction:
    """Tier-2 data of a whole stream (units in stream order; other unit types are ignored).

    Nothing is read or computed until `arrays()`, `digests()` or `write()` asks."""
    return Reconstruction(header, units)
