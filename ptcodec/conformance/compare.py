"""The compare tool: one decoder output against a vector's reference, tier by tier.

Tier 1 compares parse dumps exactly, tier 2 compares SHA-256 of the
reconstruction arrays (and, for a mismatch, the first differing element), and
tier 3 scores frames: the PSNR of each frame against the reference frame on
8-bit samples with peak 255, the vector's score being the lowest over its
frames. On 8-bit samples 10 log10(255^2 / MSE) is the annex's
10 log10(4 / MSE) on (-1, 1) samples, plus the rounding to 8 bits.

A decoder's files are untrusted: each is opened only if it is a regular file
(never a FIFO or a device), read up to a size set by the reference, and frames
are read one at a time, so no output can make the judge hang or allocate
without bound. Unusable output raises `OutputError` naming the file and the
problem.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
import re
import stat
from collections.abc import Collection, Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ptcodec.metrics import psnr

ARRAY_LIMIT = 64 << 20
"""Bytes of one tier-2 array file at most (a level-4 c is 8 MiB)."""
ARRAY_NAME = re.compile(r"[A-Za-z0-9_]{1,64}")
HEADER_LINE_LIMIT = 4096
"""Bytes of a y4m stream or frame header line at most."""


class OutputError(ValueError):
    """A decoder's output file cannot be judged (missing, not a regular file, too large, malformed)."""


# -- reading a decoder's files ------------------------------------------------------------------------


def open_output(path: str | os.PathLike[str]) -> BinaryIO:
    """A decoder's output file, opened for reading only if it is a regular file: opening a FIFO
    would wait for a writer, and a device (a link to /dev/zero) never ends."""
    path = Path(path)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError:
        raise OutputError(f"{path.name}: missing") from None
    except OSError as error:
        raise OutputError(f"{path.name}: {error.strerror}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OutputError(f"{path.name}: not a regular file")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def read_output(path: str | os.PathLike[str], limit: int) -> bytes:
    """A decoder's whole (small) output file, refused unread when larger than `limit` bytes."""
    with open_output(path) as f:
        size = os.fstat(f.fileno()).st_size
        data = f.read(limit + 1) if size <= limit else b""
    if size > limit or len(data) > limit:
        raise OutputError(f"{Path(path).name}: {max(size, len(data))} bytes, more than the {limit} bytes allowed")
    return data


def read_json_output(path: str | os.PathLike[str], limit: int) -> object:
    """A decoder's JSON file, as Python values; OutputError for anything that is not JSON in UTF-8."""
    data = read_output(path, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except (ValueError, RecursionError) as error:  # ValueError covers UnicodeDecodeError and 4300-digit integers
        raise OutputError(f"{Path(path).name}: not JSON ({cut(str(error), 120)})") from None


# -- tier 1 -------------------------------------------------------------------------------------------


def parse_dump_limit(reference: dict) -> int:
    """Bytes a decoder's parse dump may take: far more than the reference's, never unbounded."""
    return (1 << 20) + 16 * len(json.dumps(reference))


def first_parse_difference(reference: dict, candidate: object) -> str | None:
    """None when the dumps agree; else where they first differ, in words (any JSON value is judged)."""
    if not isinstance(candidate, dict):
        return "not a JSON object"
    ref_units, cand_units = reference.get("units", []), candidate.get("units")
    if not isinstance(cand_units, list):
        return "no list of units"
    for i, (r, c) in enumerate(zip(ref_units, cand_units, strict=False)):
        if not isinstance(c, dict):
            return f"unit {i} is not a JSON object"
        for key in ("type", "offset", "size", "layer_id"):
            if not _same(r.get(key), c.get(key)):
                return f"unit {i}: {key} is {_short(c.get(key))}, the reference has {_short(r.get(key))}"
        r_fields, c_fields = r.get("fields", {}), c.get("fields", {})
        if not isinstance(c_fields, dict):
            return f"unit {i}: fields is not a JSON object"
        for name in r_fields:
            if name not in c_fields:
                return f"unit {i} ({r['type']}): no {name}"
            if not _same(r_fields[name], c_fields[name]):
                return f"unit {i} ({r['type']}).{name} is {_short(c_fields[name])}, the reference has {_short(r_fields[name])}"
        extra = set(c_fields) - set(r_fields)
        if extra:
            return f"unit {i} ({r['type']}): unexpected elements {_short(sorted(extra))}"
    if len(ref_units) != len(cand_units):
        return f"{len(cand_units)} units, the reference has {len(ref_units)}"
    return None


def _same(a: object, b: object) -> bool:
    """Equal values; floats by their exact value and sign (so -0.0 differs from 0.0), compared exactly
    with integers (no conversion, so an integer of 400 digits is simply different)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        if not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in (a, b)):
            return False
        return a == b and _negative(a) == _negative(b)  # type: ignore[arg-type]  # checked: int or float
    return a == b and type(a) is type(b)


def _negative(number: float) -> bool:
    return math.copysign(1.0, number) < 0 if isinstance(number, float) else number < 0


def _short(value: object) -> str:
    """A value for a message (a decoder's values can be of any size; its files are bounded)."""
    return cut(repr(value), 60)


def cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 3] + "..."


# -- tier 2 -------------------------------------------------------------------------------------------


def read_dump_index(directory: str | os.PathLike[str], expected: Collection[str]) -> dict[str, tuple[int, ...]]:
    """The shape of every array a decoder's dump lists in its index.json, each entry checked
    (format: conformance/README.md); `expected`, the reference's names, sets the size allowed."""
    index = read_json_output(Path(directory) / "index.json", (1 << 20) + 256 * len(expected))
    if not isinstance(index, dict):
        raise OutputError("index.json: not a JSON object")
    shapes = {}
    for name, entry in index.items():
        if not ARRAY_NAME.fullmatch(name):
            raise OutputError(f"index.json: {_short(name)} is not an array name (1 to 64 of A-Z a-z 0-9 _)")
        if not isinstance(entry, dict):
            raise OutputError(f"index.json: {name}: the entry is not a JSON object")
        for key in ("shape", "sha256"):
            if key not in entry:
                raise OutputError(f"index.json: {name}: no {key}")
        shape = entry["shape"]
        if not (isinstance(shape, list) and len(shape) <= 8 and all(type(n) is int and n >= 0 for n in shape)):
            raise OutputError(f"index.json: {name}: shape {_short(shape)} is not a list of sizes")
        shapes[name] = tuple(shape)
    return shapes


def _open_array(directory: str | os.PathLike[str], name: str, shape: tuple[int, ...]) -> tuple[BinaryIO, int]:
    """An array's .f32 file, open, and its size, which must be what its shape says (so a shape is never
    believed beyond the bytes that are there)."""
    f = open_output(Path(directory) / f"{name}.f32")
    size, needed = os.fstat(f.fileno()).st_size, 4 * math.prod(shape)
    problem = (f"the index's shape {_short(list(shape))} needs {needed}" if size != needed else
               f"more than the {ARRAY_LIMIT} bytes allowed for an array" if size > ARRAY_LIMIT else None)
    if problem:
        f.close()
        raise OutputError(f"{name}.f32: {size} bytes, {problem}")
    return f, size


def array_digest(directory: str | os.PathLike[str], name: str, shape: tuple[int, ...]) -> str:
    """SHA-256 of a dumped array, hashed from its file a block at a time. The file holds the array's
    little-endian binary32 bytes in C order, so this is `ptcodec.process.reconstruction.digest` of the array."""
    f, size = _open_array(directory, name, shape)
    sha, read = hashlib.sha256(), 0
    with f:
        while block := f.read(min(1 << 20, size + 1 - read)):
            sha.update(block)
            read += len(block)
    if read != size:
        raise OutputError(f"{name}.f32: changed while it was read")
    return sha.hexdigest()


def read_array(directory: str | os.PathLike[str], name: str, shape: tuple[int, ...]) -> np.ndarray:
    """A dumped array (for a mismatch's first differing element); at most ARRAY_LIMIT bytes."""
    f, size = _open_array(directory, name, shape)
    with f:
        data = f.read(size)
    if len(data) != size:
        raise OutputError(f"{name}.f32: changed while it was read")
    return np.frombuffer(data, dtype="<f4").reshape(shape)


def dump_digests(directory: str | os.PathLike[str], expected: Collection[str]) -> dict[str, str]:
    """SHA-256 of each array of `expected` that a decoder's reconstruction dump holds.
    Every index entry is checked; an array the reference does not have is not read."""
    shapes = read_dump_index(directory, expected)
    return {name: array_digest(directory, name, shapes[name]) for name in expected if name in shapes}


def read_dump(directory: str | os.PathLike[str], only: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """The arrays of a reconstruction dump (or only those named), each checked against its index entry."""
    shapes = read_dump_index(directory, () if only is None else list(only))
    wanted = shapes if only is None else [name for name in only if name in shapes]
    return {name: read_array(directory, name, shapes[name]) for name in wanted}


def tier2_differences(reference: dict[str, str], candidate: dict[str, str]) -> list[str]:
    """Names of the reference arrays the candidate lacks or gets wrong, in reference order."""
    return [name for name, sha in reference.items() if candidate.get(name) != sha]


def explain_array(name: str, reference: np.ndarray, candidate: np.ndarray) -> str:
    """Where two arrays first differ, for a tier-2 failure message."""
    if reference.shape != candidate.shape:
        return f"{name}: shape {candidate.shape}, the reference has {reference.shape}"
    ref_bits = np.ascontiguousarray(reference, dtype="<f4").view("<u4")
    cand_bits = np.ascontiguousarray(candidate, dtype="<f4").view("<u4")
    wrong = np.flatnonzero(ref_bits.ravel() != cand_bits.ravel())
    if not wrong.size:
        return f"{name}: equal"
    i = int(wrong[0])
    index = np.unravel_index(i, reference.shape)
    return (f"{name}: {wrong.size} of {reference.size} elements differ, first at {tuple(int(j) for j in index)}: "
            f"{float(candidate.ravel()[i])!r}, the reference has {float(reference.ravel()[i])!r}")


# -- tier 3 -------------------------------------------------------------------------------------------


def read_rgb(path: str | os.PathLike[str], width: int, height: int) -> np.ndarray:
    """Raw RGB frames back to back, (frames, height, width, 3) uint8 (for the reference's own files)."""
    frames = list(iter_rgb(path, width, height))
    return np.stack(frames) if frames else np.zeros((0, height, width, 3), np.uint8)


def iter_rgb(path: str | os.PathLike[str], width: int, height: int) -> Iterator[np.ndarray]:
    """Raw RGB frames back to back, read one (height, width, 3) uint8 frame at a time."""
    size = width * height * 3
    with open_output(path) as f:
        for index in itertools.count():
            data = f.read(size)
            if not data:
                return
            if len(data) < size:
                raise OutputError(f"{Path(path).name}: frame {index} is cut short ({len(data)} of {size} bytes)")
            yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)


def iter_y4m(path: str | os.PathLike[str], width: int, height: int) -> Iterator[np.ndarray]:
    """A 4:4:4 8-bit y4m file of width x height frames, read one (3, height, width) uint8 frame at a time.
    The header must give the expected size: no allocation follows from what a file declares."""
    name = Path(path).name
    with open_output(path) as f:
        header = f.readline(HEADER_LINE_LIMIT)
        if not header.startswith((b"YUV4MPEG2 ", b"YUV4MPEG2\n")):
            raise OutputError(f"{name}: not a y4m file")
        if not header.endswith(b"\n"):
            raise OutputError(f"{name}: not a y4m file (no end to its header in {HEADER_LINE_LIMIT} bytes)")
        params = {p[:1]: p[1:].decode("ascii", "replace") for p in header[:-1].split(b" ")[1:] if p}
        size = []
        for key in (b"W", b"H"):
            if key not in params:
                raise OutputError(f"{name}: no {key.decode()} in the y4m header")
            if not params[key].isdigit():
                raise OutputError(f"{name}: {key.decode()} {_short(params[key])} is not a size")
            size.append(int(params[key]))
        if tuple(size) != (width, height):
            raise OutputError(f"{name}: y4m frames of {size[0]}x{size[1]}, the reference frames are {width}x{height}")
        colour = params.get(b"C", "420jpeg")
        if colour not in ("444", "444p"):
            raise OutputError(f"{name}: y4m colour space C{cut(colour, 20)}, the suite reads C444")
        pos, plane = len(header), 3 * width * height
        for index in itertools.count():
            line = f.readline(HEADER_LINE_LIMIT)
            if not line:
                return
            if not (line.startswith(b"FRAME") and line.endswith(b"\n")):
                raise OutputError(f"{name}: no FRAME header at byte {pos}")
            data = f.read(plane)
            if len(data) < plane:
                raise OutputError(f"{name}: frame {index} is cut short ({len(data)} of {plane} bytes)")
            pos += len(line) + plane
            yield np.frombuffer(data, dtype=np.uint8).reshape(3, height, width)


def read_frames(path: str | os.PathLike[str], frames_format: str, width: int, height: int) -> Iterator[np.ndarray]:
    """A decoder's frames file, a frame at a time: raw RGB ("rgb24") or y4m."""
    return iter_y4m(path, width, height) if frames_format == "y4m" else iter_rgb(path, width, height)


def rgb_as_y4m(frames: np.ndarray) -> np.ndarray:
    """Reference RGB frames converted as ptcodec writes y4m (BT.601 limited range), (frames, 3, H, W)."""
    import av

    from ptcodec.media.writer import to_y4m_frame

    out = []
    for image in frames:
        yuv = to_y4m_frame(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
        out.append(yuv.to_ndarray())  # yuv444p: (3, H, W)
    return np.stack(out) if out else np.zeros((0, 3, *frames.shape[1:3]), np.uint8)


def score_frames(reference: np.ndarray, candidate: Iterable[np.ndarray],
                 tolerance_db: float) -> tuple[bool, str, float]:
    """(passed, detail, lowest PSNR) of a decoder's frames against the reference. The candidate's
    frames are taken one at a time, and never more than one past the reference's count."""
    scores: list[float] = []
    frames = iter(candidate)
    for ref, frame in zip(reference, frames, strict=False):  # the counts are compared below
        if frame.shape != ref.shape:
            return False, f"frame {len(scores)} has shape {frame.shape}, the reference's {ref.shape}", -math.inf
        scores.append(psnr(ref, frame))
    if len(scores) < len(reference):
        return False, f"{len(scores)} frames, the reference has {len(reference)}", -math.inf
    if next(frames, None) is not None:
        count = len(candidate) if isinstance(candidate, np.ndarray) else f"more than {len(reference)}"
        return False, f"{count} frames, the reference has {len(reference)}", -math.inf
    if not scores:
        return True, "no frames, as the reference", math.inf
    worst = int(np.argmin(scores))
    low = scores[worst]
    text = "identical" if math.isinf(low) else f"lowest {low:.1f} dB (frame {worst})"
    if low < tolerance_db:
        return False, f"{text} < {tolerance_db:g} dB", low
    return True, f"{text} >= {tolerance_db:g} dB", low


def score_vector(vector, frames: Iterable[np.ndarray], frames_format: str = "rgb24") -> tuple[bool, str, float]:
    """Tier 3 of one vector: a decoder's frames ((H, W, 3) RGB, or (3, H, W) y4m planes: an array of
    them, or `read_frames` of a file) against the vector's reference frames and tolerance."""
    spec = vector.test["tier3"]
    reference = read_rgb(vector.directory / spec["frames"], spec["width"], spec["height"])
    if frames_format == "y4m":
        reference = rgb_as_y4m(reference)
    ok, detail, low = score_frames(reference, frames, spec["tolerance_db"])
    return ok, f"{detail} ({spec['metric']})", low


def main(argv: list[str] | None = None) -> int:
    """`python -m ptcodec.conformance.compare VECTOR FRAMES`: score frames a decoder wrote, without the runner."""
    import argparse

    from ptcodec.conformance.vectors import load_vector

    parser = argparse.ArgumentParser(prog="python -m ptcodec.conformance.compare",
                                     description="Score a decoder's frames (.rgb or .y4m) against a vector (tier 3).")
    parser.add_argument("vector", help="a vector directory, e.g. ptcodec/conformance/bitstream/valid/basic")
    parser.add_argument("frames", help="the decoder's frames: raw RGB24 (.rgb) or a C444 .y4m")
    args = parser.parse_args(argv)
    vector = load_vector(args.vector).reference
    spec = vector.test.get("tier3")
    if not spec:
        print(f"{vector.id}: no reference frames (tier 3 is not judged for this vector)")
        return 2
    frames_format = "y4m" if args.frames.endswith(".y4m") else "rgb24"
    try:
        ok, detail, _ = score_vector(vector, read_frames(args.frames, frames_format, spec["width"], spec["height"]),
                                     frames_format)
    except OutputError as error:
        ok, detail = False, str(error)
    print(f"{vector.id}: {'pass' if ok else 'fail'}: {detail}")
    return 0 if ok else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())
