"""Writing one vector: its directory, its stream, and its test.json with the reference data of each tier.

A valid vector's test.json holds the parse dump (tier 1), the reconstruction
hashes and tensors (tier 2) and, for the reference generator, the reference
frames and their tolerance (tier 3); a faulty one the error class a decoder must
report. Every file is listed with its SHA-256. The format is conformance/README.md's.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ptcodec.conformance.calibrate import MARGIN_DB, precision_scores, tolerance_from
from ptcodec.conformance.features import features
from ptcodec.conformance.vectors import parse_dump, sha256_file
from ptcodec.errors import PtvError
from ptcodec.ptv import SequenceHeader, Unit, read_all

if TYPE_CHECKING:
    from ptcodec.generators.base import Generator


@dataclass
class VectorWriter:
    root: Path
    gen: Generator | None = None
    wanted: Callable[[str], bool] = lambda name: True
    """Which vectors to write; the faulty README lists every faulty vector either way."""
    readme: list[str] = field(default_factory=list)

    def directory(self, kind: str, name: str) -> Path:
        """An empty directory for the vector (an old one of the name is removed)."""
        directory = self.root / kind / name
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        return directory

    def valid(self, name: str, description: str, data: bytes, *, generation: dict, **extra) -> None:
        from ptcodec.process.reconstruction import reconstruct

        directory = self.directory("valid", name)
        (directory / "stream.ptv").write_bytes(data)
        header, records = read_all(data)
        units = [r.unit for r in records]
        rec = reconstruct(header, units[1:])
        index = rec.write(directory / "tier2")
        # c is 315 KB a frame: test.json keeps its hashes, the runner recomputes it to explain a mismatch.
        for name_ in index:
            if name_.startswith("c_"):
                (directory / "tier2" / f"{name_}.f32").unlink()
        kept = {k: v for k, v in index.items() if not k.startswith("c_")}
        (directory / "tier2" / "index.json").write_text(json.dumps(kept, indent=1) + "\n")
        test = {
            "kind": "valid", "name": name, "description": description, "stream": "stream.ptv",
            "expect": {"outcome": "decode"},
            **extra,
            "features": features(header, records),
            "generation": generation,
            "parse": parse_dump(records),
            "tier2": {"tensors": "tier2", "sha256": {k: v["sha256"] for k, v in index.items()}},
            "tier3": self._frames(directory, header, units),
        }
        self.finish(directory, test)

    def _frames(self, directory: Path, header: SequenceHeader, units: list[Unit]) -> dict | None:
        """Reference frames (raw RGB), made by ptcodec's decoder in binary32 on this machine."""
        if header.generator_id != "reference":
            return None
        from ptcodec.decoder import decode_units

        assert self.gen is not None, "reference frames need the reference generator"
        frames = [f.image for f in decode_units(header, units[1:], self.gen)]
        with open(directory / "frames.rgb", "wb") as f:
            f.writelines(np.ascontiguousarray(image, dtype=np.uint8).tobytes() for image in frames)
        reference = np.stack(frames) if frames else np.zeros((0, header.height, header.width, 3), np.uint8)
        scores = precision_scores(header, units[1:], reference)
        return {"generator": "reference", "frames": "frames.rgb", "format": "rgb24", "count": len(frames),
                "width": header.width, "height": header.height, "metric": "psnr_rgb8_min",
                "tolerance_db": tolerance_from(scores), "margin_db": MARGIN_DB,
                "calibration_db": {k: round(v, 2) if math.isfinite(v) else "inf" for k, v in scores.items()}}

    def faulty(self, name: str, rule: str, error_class: str, description: str, data: bytes,
               also: tuple[str, ...] = ()) -> None:
        check_rejected(name, data, (error_class, *also))
        self.readme.append(f"| `{name}` | {rule} | {error_class}{''.join(' or ' + a for a in also)} | {description} |")
        if not self.wanted(name):
            return
        directory = self.directory("faulty", name)
        (directory / "stream.ptv").write_bytes(data)
        expect: dict[str, object] = {"outcome": "reject", "error_class": error_class, "rule": rule}
        if also:
            expect["also_accepted"] = list(also)
        self.finish(directory, {"kind": "faulty", "name": name, "description": description,
                                "stream": "stream.ptv", "expect": expect})

    def finish(self, directory: Path, test: dict) -> None:
        """Write test.json, listing every other file of the vector with its SHA-256."""
        files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "test.json")
        test["files"] = {p.relative_to(directory).as_posix(): sha256_file(p) for p in files}
        (directory / "test.json").write_text(json.dumps(test, indent=1) + "\n")


def check_rejected(name: str, data: bytes, classes: tuple[str, ...]) -> None:
    """The reference parser must reject a faulty vector with its documented class."""
    try:
        read_all(data)
    except PtvError as error:
        if type(error).__name__ not in classes:
            raise AssertionError(f"faulty/{name}: ptcodec raised {type(error).__name__} ({error}), "
                                 f"the vector documents {' or '.join(classes)}") from None
        return
    raise AssertionError(f"faulty/{name}: ptcodec accepted it")


def write_faulty_readme(path: Path, lines: list[str]) -> None:
    path.write_text(
        "# Faulty vectors\n\n"
        "Each stream breaks one rule of spec/ptv.md section 9 and must be rejected with the error class given\n"
        "(an implementation in another language reports the class by name). Made by\n"
        "`python -m ptcodec.conformance.generate`; every crc is valid unless the vector is about the crc.\n\n"
        "| vector | rule | error class | what is broken |\n|---|---|---|---|\n" + "\n".join(lines) + "\n")
