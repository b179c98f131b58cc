"""The conformance vectors on disk: where they are, their `test.json` and their files.

A vector is a directory under `valid/`, `faulty/` or `mkv/` of a vector set,
holding a stream and a `test.json` (format: conformance/README.md). The
reference set ships inside the package (`ptcodec/conformance/bitstream/`,
package data), so an installed ptcodec finds it without a checkout; any other
set is passed by its directory.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from ptcodec.errors import PtcodecError
from ptcodec.ptv import SequenceHeader, UnitRecord, read_all
from ptcodec.ptv.dump import CONFORMANCE_HASH_OVER, record_dict

KINDS = ("valid", "faulty", "mkv")
PACKAGED_SET = "bitstream"
"""The reference vector set's directory in the package `ptcodec.conformance` (declared as package data)."""
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
    def reference(self) -> Vector:
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
    """The reference vectors installed with ptcodec (package data)."""
    root = Path(str(importlib.resources.files("ptcodec.conformance") / PACKAGED_SET))
    if not (root / "valid").is_dir():
        raise VectorError(f"{root}: the conformance vectors are not installed with this ptcodec; pass --vectors DIR")
    return root
