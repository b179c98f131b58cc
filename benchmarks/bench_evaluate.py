"""Wall time of a small `ptcodec evaluate` grid on this machine, split between codecs and metrics.

Reachable content of the reference generator (64 x 64, 10 frames), every pixel codec at two rates,
the VAE baseline, and a small ptcodec grid; every metric. Each point records how long its codec
and each metric took; this sums them per codec and per metric. (Seconds per 512 x 512 frame pair
of the neural metrics: benchmarks/bench_perceptual.py.)

    python benchmarks/bench_evaluate.py [--out benchmarks/results/evaluate_grid.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from ptcodec.evaluate.quality import METRICS
from ptcodec.evaluate.run import load_clip, run
from ptcodec.evaluate.specs import parse_codec

CODECS = ("x264", "x265", "svtav1", "vvenc", "libaom", "vae:generator=reference",
          "ptcodec:generator=reference,ranks=2/4,K=5,steps=30")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "evaluate_grid.json"))
    args = parser.parse_args()
    clip = load_clip("reachable:1", size=64, frames=10)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        result = run([clip], [parse_codec(c) for c in CODECS], (80.0, 160.0), tuple(METRICS), Path(tmp) / "run")
    wall = time.perf_counter() - started
    codec_s: dict[str, float] = defaultdict(float)
    metric_s: dict[str, float] = defaultdict(float)
    for point in result.points:
        codec_s[point["codec"]] += point["seconds"]["codec"]
        for name, value in point["metrics"].items():
            metric_s[name] += value["seconds"]
    row = {"machine": platform.processor() or platform.machine(), "cpus": os.cpu_count(), "load": os.getloadavg()[0],
           "clip": "reachable:1 64x64, 10 frames", "points": len(result.points), "wall_s": wall,
           "codec_s": dict(codec_s), "metric_s": dict(metric_s)}
    for name, seconds in sorted(codec_s.items()):
        print(f"codec  {name:<8} {seconds:7.1f} s")
    for name, seconds in sorted(metric_s.items()):
        print(f"metric {name:<10} {seconds:7.1f} s")
    print(f"{len(result.points)} points in {wall:.1f} s wall")
    Path(args.out).write_text(json.dumps(row, indent=1) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
