"""Stage 1 of making the vectors: the encoder runs that every vector is made from.

Each valid vector named in ENCODINGS holds one run of the reference encoder as
it came out; the other vectors are rewrites of these (USES). A run is either
made afresh (torch, not bit-exact across machines) or read back from a
committed vector set, which makes stage 2 exact.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.ptv import Keyframe, LatentDtype, SceneInit, SequenceHeader, Unit, read_all

SIZE = 64
"""Width and height of the generated vectors (latent 4 x 8 x 8)."""


@dataclass
class Encoded:
    """One encoder run that vectors are made from."""

    header: SequenceHeader
    units: list[Unit]
    """Its scene-init and keyframe units (the encoder's metadata unit is left out: it names the
    ptcodec version, which would change the vectors with every release)."""
    generation: dict
    """How it was made (encoder, clip, options, closed-loop PSNR): the vector's test.json "generation"."""

    def one_scene(self) -> tuple[SceneInit, list[Keyframe]]:
        """The scene-init unit and the keyframes of a one-scene encoding (basic's, the ladder's)."""
        scene, keys = self.units[0], [u for u in self.units[1:] if isinstance(u, Keyframe)]
        if not isinstance(scene, SceneInit) or len(keys) != len(self.units) - 1:
            raise AssertionError("not a one-scene encoding")
        return scene, keys


def encode(gen, clip: np.ndarray, *, fps: Fraction = Fraction(30), frame_count: int | None = None,
           source: dict, **options) -> Encoded:
    """Encode a uint8 clip with the reference encoder; `source` says how the clip was made."""
    from ptcodec.encoder.encoder import Encoder
    from ptcodec.encoder.options import split_settings

    settings = dict(first_steps=150, later_steps=60, **options)
    encoder = Encoder(gen, *split_settings(settings), width=SIZE, height=SIZE, fps=fps,
                      frame_count=len(clip) if frame_count is None else frame_count)
    data = encoder.codec_private
    for frame in [*clip, None]:
        data += b"".join(p.data for p in encoder.encode(frame))
    header, records = read_all(data)
    described = {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()}
    generation = {"encoder": "ptcodec reference encoder", "generator": "reference",
                  "clip": "ptcodec.encoder.reachable.reachable_clip", **source, "options": described,
                  "closed_loop_psnr_db": round(encoder.report.psnr_mean, 2)}
    return Encoded(header, frame_units(records), generation)


def frame_units(records) -> list[Unit]:
    return [r.unit for r in records[1:] if isinstance(r.unit, (SceneInit, Keyframe))]


def clip(gen, frames: int, seed: int, *, interval: int = 3, rank: int = 4) -> np.ndarray:
    from ptcodec.encoder.reachable import reachable_clip

    return reachable_clip(gen, frames=frames, size=(SIZE, SIZE), interval=interval, rank=rank, seed=seed)


def _scenes(gen) -> Encoded:
    e = encode(gen, np.concatenate([clip(gen, 4, 3), clip(gen, 5, 4)]), rank=4, interval=3,
               source={"clip_seed": [3, 4], "frames": 9})
    starts = [u.frame_index for u in e.units if isinstance(u, SceneInit)]
    assert starts == [0, 4], f"the scene cut was not found where the clips join: {starts}"
    return e


ENCODINGS: dict[str, Callable[[object], Encoded]] = {
    "basic": lambda gen: encode(gen, clip(gen, 7, 1), rank=4, interval=3, source={"clip_seed": 1, "frames": 7}),
    "interval1": lambda gen: encode(gen, clip(gen, 4, 2, interval=1, rank=2), rank=2, interval=1, crc=False,
                                    frame_count=0, source={"clip_seed": 2, "frames": 4}),
    "scenes": _scenes,
    "prev_frame": lambda gen: encode(gen, clip(gen, 7, 5), fps=Fraction(25), rank=4, interval=3,
                                     prev_latent_rule=1, gamma=(80, 100), noise_seed=7,
                                     source={"clip_seed": 5, "frames": 7}),
    "hold": lambda gen: encode(gen, clip(gen, 7, 6, rank=3), fps=Fraction(30000, 1001), rank=3, interval=3,
                               interp_rule=1, source={"clip_seed": 6, "frames": 7}),
    "ladder": lambda gen: encode(gen, clip(gen, 7, 7, rank=16), ranks=(1, 2, 4, 8, 16), interval=3,
                                 source={"clip_seed": 7, "frames": 7}),
    "latent_f16": lambda gen: encode(gen, clip(gen, 4, 8, rank=2), rank=2, interval=3, latent_dtype=LatentDtype.F16,
                                     source={"clip_seed": 8, "frames": 4}),
    "latent_bf16": lambda gen: encode(gen, clip(gen, 4, 9, rank=2), rank=2, interval=3,
                                      latent_dtype=LatentDtype.BF16, source={"clip_seed": 9, "frames": 4}),
}
"""Each encoder run, by the name of the valid vector that holds it as it came out of the encoder."""
USES = {"syntax_extras": "basic", "edge_values": "basic", "empty": "basic", "ladder_r8": "ladder",
        "ladder_r1": "ladder", "ladder_mixed": "ladder", "coded_per_tensor": "basic", "coded_per_component": "ladder",
        "coded_predicted": "basic", "coded_carry_models": "basic", "coded_predicted_carry": "basic",
        "coded_scenes": "scenes", "latent_u8": "basic", "latent_u8_coded": "basic", "version_1_1_plain": "basic"}
"""Valid vectors made from another vector's encoding; every faulty vector is made from basic's."""


def encodings(gen, wanted: set[str], source: Path | None) -> dict[str, Encoded]:
    """The encodings the wanted vectors need (all when `wanted` is empty): encoded afresh, or read back
    from the valid vectors of `source` (a committed vector set), which makes stage 2 exact."""
    needed = {"basic"} | {USES.get(name, name) for name in wanted} if wanted else set(ENCODINGS)
    out = {}
    for name, run in ENCODINGS.items():
        if name not in needed:
            continue
        if source is None:
            out[name] = run(gen)
            continue
        directory = source / "valid" / name
        header, records = read_all((directory / "stream.ptv").read_bytes())
        out[name] = Encoded(header, frame_units(records),
                            json.loads((directory / "test.json").read_text())["generation"])
    return out
