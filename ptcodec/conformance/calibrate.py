"""How far ptcodec's own frames move across precisions and devices: the basis of the
tier-3 tolerances. `python -m ptcodec.conformance.calibrate [--device cuda] [--dtypes fp64,fp32,bf16]`

A vector's tolerance is set when it is made (ptcodec.conformance.generate):
its reference frames are decoded again in binary64, binary16 and bfloat16 on
the CPU, each scored as the lowest frame PSNR (8-bit RGB, peak 255) against the
binary32 reference, and the tolerance is the lowest of those scores less
MARGIN_DB, rounded down to 0.5 dB and at most CAP_DB. So every IEEE precision a
decoder may use passes with MARGIN_DB to spare, while a decoding mistake (a
misread factor, a wrong weight or noise) costs tens of dB and fails.

Run as a script, this measures the same spread on another device (a GPU) or
precision against the committed tolerances, and writes
conformance/calibration-<device>.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ptcodec.conformance.compare import read_rgb, score_frames
from ptcodec.conformance.vectors import default_vectors_dir, load_vectors

if TYPE_CHECKING:
    from ptcodec.generators.base import Generator

MARGIN_DB = 3.0
CAP_DB = 60.0
"""No tolerance is stricter than the reference generator annex's 60 dB."""
CALIBRATION_DTYPES = ("fp64", "fp16", "bf16")
_GENERATORS: dict[tuple[str, str, str], "Generator"] = {}


def decode_in(header, units, device: str, dtype: str) -> np.ndarray:
    """Frames of a parsed stream from the reference generator in one precision, (frames, H, W, 3)."""
    from ptcodec.decoder import decode_units
    from ptcodec.generators import load_generator

    key = (header.generator_id, device, dtype)
    if key not in _GENERATORS:
        with warnings.catch_warnings():  # fp16 on a CPU is slow, and measured here on purpose
            warnings.simplefilter("ignore", RuntimeWarning)
            _GENERATORS[key] = load_generator(header.generator_id, device=device, dtype=dtype)
    images = [f.image for f in decode_units(header, units, _GENERATORS[key])]
    return np.stack(images) if images else np.zeros((0, header.height, header.width, 3), np.uint8)


def precision_scores(header, units, reference: np.ndarray, device: str = "cpu",
                     dtypes: tuple[str, ...] = CALIBRATION_DTYPES) -> dict[str, float]:
    """Lowest frame PSNR against the reference frames, per precision."""
    return {f"{device}-{d}": score_frames(reference, decode_in(header, units, device, d), 0.0)[2] for d in dtypes}


def tolerance_from(scores: dict[str, float]) -> float:
    finite = [s for s in scores.values() if math.isfinite(s)]
    if not finite:
        return CAP_DB
    return min(CAP_DB, math.floor(2 * (min(finite) - MARGIN_DB)) / 2)


def calibrate(root: Path, device: str, dtypes: list[str]) -> dict:
    """Scores of every vector with reference frames in each precision, and margins over their tolerances."""
    from ptcodec.ptv import read_all

    rows: dict[str, dict[str, float]] = {}
    tolerances: dict[str, float] = {}
    for vector in load_vectors(root):
        spec = vector.test.get("tier3") if vector.kind == "valid" else None
        if not spec:
            continue
        header, records = read_all(vector.stream.read_bytes())
        reference = read_rgb(vector.directory / spec["frames"], spec["width"], spec["height"])
        rows[vector.name] = precision_scores(header, [r.unit for r in records[1:]], reference, device, tuple(dtypes))
        tolerances[vector.name] = spec["tolerance_db"]
    settings = [f"{device}-{d}" for d in dtypes]
    margin = {s: min(row[s] - tolerances[name] for name, row in rows.items()) for s in settings}
    return {
        "metric": "lowest frame PSNR, 8-bit RGB, peak 255, against the binary32 reference frames",
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(), "device": device,
        "margin_rule_db": MARGIN_DB,
        "worst_db": {s: _db(min(row[s] for row in rows.values())) for s in settings},
        "margin_db": {s: _db(v) for s, v in margin.items()},
        "conforms": {s: v >= 0 for s, v in margin.items()},
        "tolerance_db": tolerances,
        "vectors": {name: {s: _db(v) for s, v in row.items()} for name, row in rows.items()},
    }


def _db(value: float) -> float | str:
    return round(value, 2) if math.isfinite(value) else "inf"


def format_report(report: dict) -> str:
    settings = list(report["worst_db"])
    width = max(len(n) for n in report["vectors"]) + 2
    lines = [f"{'vector':<{width}}" + "".join(f"{s:>14}" for s in settings)]
    for name, row in report["vectors"].items():
        lines.append(f"{name:<{width}}" + "".join(f"{row[s]!s:>14}" for s in settings))
    lines.append(f"{'worst':<{width}}" + "".join(f"{report['worst_db'][s]!s:>14}" for s in settings))
    lines.append(f"{'margin':<{width}}" + "".join(f"{report['margin_db'][s]!s:>14}" for s in settings))
    lines.append(f"margin: the least (score - the vector's tolerance); metric: {report['metric']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptcodec.conformance.calibrate", description=__doc__.split("\n")[0])
    parser.add_argument("--vectors", help="vector directory (default: the vectors installed with ptcodec)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtypes", default="fp64,fp32,fp16,bf16")
    parser.add_argument("--out", default=None, help="JSON report (default conformance/calibration-<device>.json)")
    args = parser.parse_args(argv)
    root = Path(args.vectors) if args.vectors else default_vectors_dir()
    report = calibrate(root, args.device, args.dtypes.split(","))
    print(format_report(report))
    out = Path(args.out) if args.out else root.parent / "conformance" / f"calibration-{args.device}.json"
    out.write_text(json.dumps(report, indent=1) + "\n")
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
