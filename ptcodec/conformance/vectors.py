"""The conformance vectors on disk: their `test.json`, their files, and what each exercises.

A vector is a directory under `bitstream/valid/`, `bitstream/faulty/` or
`bitstream/mkv/` holding a stream and a `test.json` (format: conformance/README.md).
`features` names what a stream exercises (a unit type, a rule value, a rank
change...); the coverage report maps the spec's requirements to vectors
through them, so a claim of coverage is computed from the streams, not typed in.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ptcodec.process.conditioning import plan_frames
from ptcodec.errors import PtcodecError
from ptcodec.ptv import Keyframe, Metadata, Padding, ReservedUnit, SceneInit, SequenceHeader, UnitRecord, read_all
from ptcodec.ptv.dump import CONFORMANCE_HASH_OVER, record_dict
from ptcodec.ptv.levels import LEVELS

KINDS = ("valid", "faulty", "mkv")
SMALLEST_NORMAL = 2.0**-126
"""The smallest normal binary32; a positive scale below it is subnormal."""
ERROR_CLASSES = ("TruncatedError", "CrcMismatchError", "UnsupportedVersionError", "LimitExceededError",
                 "InvalidValueError")


class VectorError(PtcodecError):
    """The vector set itself is broken (a missing file, a hash that does not match)."""


def sha256_file(path: str | os.PathLike[str]) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def parse_dump(records: Iterable[UnitRecord]) -> dict:
    """The tier-1 parse dump: every unit's position, type, layer_id and syntax elements."""
    return {"units": [record_dict(r, CONFORMANCE_HASH_OVER) for r in records]}


def read_parse_dump(data: bytes, path: str | None = None) -> tuple[SequenceHeader, list[UnitRecord], dict]:
    header, records = read_all(data, path=path)
    return header, records, parse_dump(records)


@dataclass
class Vector:
    kind: str
    name: str
    directory: Path
    test: dict

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def stream(self) -> Path:
        return self.directory / self.test["stream"]

    @property
    def expect(self) -> str:
        return self.test["expect"]["outcome"]

    @property
    def error_class(self) -> str | None:
        return self.test["expect"].get("error_class")

    @property
    def reference(self) -> "Vector":
        """Where the reference data lives: the vector itself, or for an mkv vector the valid one it muxes."""
        source = self.test.get("source")
        if source is None:
            return self
        return load_vector(self.directory.parent.parent / source)

    def path(self, name: str) -> Path:
        return self.directory / name

    def check_files(self) -> None:
        """Every file test.json lists exists and has the SHA-256 it records."""
        for name, expected in self.test.get("files", {}).items():
            path = self.directory / name
            if not path.is_file():
                raise VectorError(f"{self.id}: {name} is missing")
            if sha256_file(path) != expected:
                raise VectorError(f"{self.id}: {name} does not have the SHA-256 test.json records")


def load_vector(directory: str | os.PathLike[str]) -> Vector:
    directory = Path(directory)
    try:
        test = json.loads((directory / "test.json").read_text())
    except (OSError, ValueError) as error:
        raise VectorError(f"{directory}: no readable test.json ({error})") from None
    return Vector(directory.parent.name, directory.name, directory, test)


def load_vectors(root: str | os.PathLike[str], names: Iterable[str] = ()) -> list[Vector]:
    """Every vector under root (kind by kind, by name), or only those whose id or name is in `names`."""
    root = Path(root)
    wanted = set(names)
    vectors = []
    for kind in KINDS:
        for directory in sorted((root / kind).glob("*/test.json")):
            vector = load_vector(directory.parent)
            if not wanted or vector.id in wanted or vector.name in wanted:
                vectors.append(vector)
    if not vectors:
        raise VectorError(f"{root}: no conformance vectors (expected {', '.join(KINDS)}/<name>/test.json)")
    return vectors


def default_vectors_dir() -> Path:
    """`bitstream/` of the working directory, else of the checkout this package runs from."""
    for candidate in (Path.cwd() / "bitstream", Path(__file__).resolve().parents[2] / "bitstream"):
        if (candidate / "valid").is_dir():
            return candidate
    raise VectorError("no bitstream/ directory here or beside this ptcodec; pass --vectors DIR "
                      "(the bitstream/ directory of a ptcodec checkout)")


def features(header: SequenceHeader, records: list[UnitRecord]) -> list[str]:
    """What a stream exercises, as feature names (the vocabulary is listed in conformance/README.md)."""
    out = {
        f"header.crc_present={int(header.crc_present)}",
        f"header.prev_latent_rule={header.prev_latent_rule}",
        f"header.interp_rule={header.interp_rule}",
        f"header.noise_rule={header.noise_rule}",
        f"header.quant_schemes={header.quant_schemes}",
        f"header.level={header.level}",
        f"header.generator_id={header.generator_id}",
        "header.frame_count=0" if header.frame_count == 0 else "header.frame_count>0",
        "header.fingerprint=unrecorded" if not any(header.generator_fingerprint) else "header.fingerprint=recorded",
    }
    if header.version_minor > 0:
        out.add("header.version_minor>0")
    if header.extension_data:
        out.add("header.extension_data")
    if (header.gamma_num, header.gamma_den) != (95, 100):
        out.add("header.gamma=other")
    if header.noise_seed != 88:
        out.add("header.noise_seed=other")
    if header.time_base_num != 1:
        out.add("header.time_base_num>1")
    keyframes = [r.unit for r in records if isinstance(r.unit, Keyframe)]
    scenes = [r.unit for r in records if isinstance(r.unit, SceneInit)]
    seen_frame = False
    for record in records:
        unit = record.unit
        if record.layer_id is not None:
            out.add("unit.layer_id")
        if isinstance(unit, (SceneInit, Keyframe)):
            seen_frame = True
        if isinstance(unit, Metadata):
            out.add("unit.metadata")
            out.add("metadata.entries=0" if not unit.entries else "metadata.entries>0")
            out.add("metadata.in_temporal_unit" if seen_frame else "metadata.leading")
        elif isinstance(unit, Padding):
            out.add("unit.padding")
            out.add("padding.empty" if unit.size == 0 else "padding.nonempty")
        elif isinstance(unit, ReservedUnit):
            out.add(f"unit.reserved_type={unit.unit_type}")
            out.add("unit.reserved")
        elif isinstance(unit, SceneInit):
            out.add(f"scene_init.dtype={unit.dtype}")
        elif isinstance(unit, Keyframe):
            out.add(f"keyframe.quant_scheme={unit.quant_scheme}")
            out.add(f"keyframe.rank={unit.rank}")
            if unit.rank == LEVELS[header.level].max_rank:
                out.add("keyframe.rank=level_max")
            for scale in (*unit.u_scale, *unit.v_scale):
                if scale == 0 and math.copysign(1.0, scale) < 0:
                    out.add("keyframe.scale=-0")
                elif 0 < scale < SMALLEST_NORMAL:
                    out.add("keyframe.scale=subnormal")
    if not keyframes:
        out.add("stream.no_frames")
    if len(scenes) > 1:
        out.add("stream.scenes>1")
    intervals = {b.frame_index - a.frame_index for a, b in zip(keyframes, keyframes[1:])}
    out.update("stream.interval=1" if i == 1 else "stream.interval>1" for i in intervals)
    if len({k.rank for k in keyframes}) > 1:
        out.add("stream.ranks_differ")
    if keyframes:
        plans = plan_frames([s.frame_index for s in scenes], [k.frame_index for k in keyframes], header.frame_count,
                            header.prev_latent_rule)
        ranks = {k.frame_index: k.rank for k in keyframes}
        for plan in plans:
            if plan.right is not None:
                out.add("frame.between_keyframes")
                out.add("frame.between_ranks_differ" if ranks[plan.left] != ranks[plan.right] else
                        "frame.between_ranks_equal")
            elif plan.frame != plan.left:
                out.add("frame.holds_keyframe")
                if plan.left == keyframes[-1].frame_index:
                    out.add("frame.after_last_keyframe")
                else:
                    out.add("frame.after_scene_last_keyframe")
    return sorted(out)
