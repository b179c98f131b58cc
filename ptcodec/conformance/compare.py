"""The compare tool: one decoder output against a vector's reference, tier by tier.

Tier 1 compares parse dumps exactly, tier 2 compares SHA-256 of the
reconstruction arrays (and, for a mismatch, the first differing element), and
tier 3 scores frames: the PSNR of each frame against the reference frame on
8-bit samples with peak 255, the vector's score being the lowest over its
frames. On 8-bit samples 10 log10(255^2 / MSE) is the annex's
10 log10(4 / MSE) on (-1, 1) samples, plus the rounding to 8 bits.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np

from ptcodec.reconstruction import digest, read_dump


# -- tier 1 -------------------------------------------------------------------------------------------


def first_parse_difference(reference: dict, candidate: dict) -> str | None:
    """None when the dumps agree; else where they first differ, in words."""
    ref_units, cand_units = reference.get("units", []), candidate.get("units")
    if not isinstance(cand_units, list):
        return "the parse dump has no list of units"
    for i, (r, c) in enumerate(zip(ref_units, cand_units)):
        for key in ("type", "offset", "size", "layer_id"):
            if r.get(key) != c.get(key):
                return f"unit {i}: {key} is {c.get(key)!r}, the reference has {r.get(key)!r}"
        r_fields, c_fields = r.get("fields", {}), c.get("fields") or {}
        for name in r_fields:
            if name not in c_fields:
                return f"unit {i} ({r['type']}): no {name}"
            if not _same(r_fields[name], c_fields[name]):
                return f"unit {i} ({r['type']}).{name} is {_short(c_fields[name])}, the reference has {_short(r_fields[name])}"
        extra = set(c_fields) - set(r_fields)
        if extra:
            return f"unit {i} ({r['type']}): unexpected elements {sorted(extra)}"
    if len(ref_units) != len(cand_units):
        return f"{len(cand_units)} units, the reference has {len(ref_units)}"
    return None


def _same(a: object, b: object) -> bool:
    """Equal values; floats by their exact value and sign (so -0.0 differs from 0.0)."""
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if isinstance(a, bool) or isinstance(b, bool):
            return False
        return float(a) == float(b) and math.copysign(1, float(a)) == math.copysign(1, float(b))
    return a == b and type(a) is type(b)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) < 60 else text[:57] + "..."


# -- tier 2 -------------------------------------------------------------------------------------------


def dump_digests(directory: str | os.PathLike[str]) -> dict[str, str]:
    """SHA-256 of every array of a decoder's reconstruction dump (format: ptcodec/reconstruction.py)."""
    return {name: digest(array) for name, array in read_dump(directory).items()}


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
    """Raw RGB frames back to back, (frames, height, width, 3) uint8."""
    data = Path(path).read_bytes()
    frame = width * height * 3
    if len(data) % frame:
        raise ValueError(f"{path}: {len(data)} bytes is not a whole number of {width}x{height} RGB frames")
    return np.frombuffer(data, dtype=np.uint8).reshape(-1, height, width, 3)


def read_y4m(path: str | os.PathLike[str]) -> np.ndarray:
    """A 4:4:4 8-bit y4m file as (frames, 3, height, width) uint8 planes."""
    data = Path(path).read_bytes()
    end = data.find(b"\n")
    fields = data[:end].split(b" ") if end > 0 else []
    if not fields or fields[0] != b"YUV4MPEG2":
        raise ValueError(f"{path}: not a y4m file")
    params = {f[:1]: f[1:] for f in fields[1:]}
    width, height = int(params[b"W"]), int(params[b"H"])
    if params.get(b"C", b"420jpeg") not in (b"444", b"444p"):
        raise ValueError(f"{path}: y4m colour space C{params.get(b'C', b'420jpeg').decode()}, the suite reads C444")
    planes, pos, plane = [], end + 1, width * height * 3
    while pos < len(data):
        line_end = data.find(b"\n", pos)
        if line_end < 0 or not data[pos:line_end].startswith(b"FRAME"):
            raise ValueError(f"{path}: no FRAME header at byte {pos}")
        pos = line_end + 1
        if pos + plane > len(data):
            raise ValueError(f"{path}: the last frame is cut short")
        planes.append(np.frombuffer(data[pos:pos + plane], dtype=np.uint8).reshape(3, height, width))
        pos += plane
    return np.stack(planes) if planes else np.zeros((0, 3, height, width), np.uint8)


def rgb_as_y4m(frames: np.ndarray) -> np.ndarray:
    """Reference RGB frames converted as ptcodec writes y4m (BT.601 limited range), (frames, 3, H, W)."""
    import av

    from ptcodec.media.writer import to_y4m_frame

    out = []
    for image in frames:
        yuv = to_y4m_frame(av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="rgb24"))
        out.append(yuv.to_ndarray())  # yuv444p: (3, H, W)
    return np.stack(out) if out else np.zeros((0, 3, *frames.shape[1:3]), np.uint8)


def frame_psnrs(reference: np.ndarray, candidate: np.ndarray) -> list[float]:
    """PSNR (dB, peak 255) of each frame; inf for identical frames."""
    out = []
    for r, c in zip(reference, candidate):
        mse = float(np.mean((r.astype(np.float64) - c.astype(np.float64)) ** 2))
        out.append(math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse))
    return out


def score_frames(reference: np.ndarray, candidate: np.ndarray, tolerance_db: float) -> tuple[bool, str, float]:
    """(passed, detail, lowest PSNR) of a decoder's frames against the reference."""
    if len(candidate) != len(reference):
        return False, f"{len(candidate)} frames, the reference has {len(reference)}", -math.inf
    if candidate.shape != reference.shape:
        return False, f"frames of shape {candidate.shape[1:]}, the reference's are {reference.shape[1:]}", -math.inf
    if not len(reference):
        return True, "no frames, as the reference", math.inf
    scores = frame_psnrs(reference, candidate)
    worst = int(np.argmin(scores))
    low = scores[worst]
    text = "identical" if math.isinf(low) else f"lowest {low:.1f} dB (frame {worst})"
    if low < tolerance_db:
        return False, f"{text} < {tolerance_db:g} dB", low
    return True, f"{text} >= {tolerance_db:g} dB", low


def score_vector(vector, frames: np.ndarray, frames_format: str = "rgb24") -> tuple[bool, str, float]:
    """Tier 3 of one vector: a decoder's frames ((N, H, W, 3) RGB, or (N, 3, H, W) y4m planes)
    against the vector's reference frames and tolerance."""
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
    parser.add_argument("vector", help="a vector directory, e.g. bitstream/valid/basic")
    parser.add_argument("frames", help="the decoder's frames: raw RGB24 (.rgb) or a C444 .y4m")
    args = parser.parse_args(argv)
    vector = load_vector(args.vector).reference
    spec = vector.test.get("tier3")
    if not spec:
        print(f"{vector.id}: no reference frames (tier 3 is not judged for this vector)")
        return 2
    y4m = args.frames.endswith(".y4m")
    frames = read_y4m(args.frames) if y4m else read_rgb(args.frames, spec["width"], spec["height"])
    ok, detail, _ = score_vector(vector, frames, "y4m" if y4m else "rgb24")
    print(f"{vector.id}: {'pass' if ok else 'fail'}: {detail}")
    return 0 if ok else 1


if __name__ == "__main__":
    import sys

    sys.exit(main())
