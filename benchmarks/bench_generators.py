"""Generator speed: generation frames/s and fitting-step time (forward + backward).

Times one-step generation and one prompt-fitting step (gradient to rank-r
factors u, v) for the spec's reference generator at its native size, and for the
SD-Turbo UNet + TAESD architecture with random weights (the real weights are not
reachable here; speed does not depend on their values) at each size. For the
reference generator it also measures the quality figures its annex quotes
(spec/reference-generator.md): contrast, prompt sensitivity, inversion.

    python benchmarks/bench_generators.py --sizes 256,512 --iters 3
    python benchmarks/bench_generators.py --device cuda --dtype fp16 --batch 1,10 --channels-last --compile
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch

from ptcodec.generators import figures
from ptcodec.generators.base import Generator
from ptcodec.generators.reference import SEED, ReferenceGenerator
from ptcodec.generators.sd_turbo import SDTurboGenerator, random_weights
from ptcodec.process.noise import RELEASED_SEED, initial_noise


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, iters: int, device: torch.device) -> float:
    fn()  # warm-up (and compilation)
    sync(device)
    start = time.perf_counter()
    for _ in range(iters):
        fn()
    sync(device)
    return (time.perf_counter() - start) / iters


def make_generator(name: str, args: argparse.Namespace) -> Generator:
    if name == "reference":
        gen = ReferenceGenerator(args.reference_seed, device=args.device, dtype=args.dtype)
        if args.compile:
            gen.generate = torch.compile(gen.generate)
        return gen
    unet, vae = random_weights()
    gen = SDTurboGenerator(unet, vae, device=args.device, dtype=args.dtype)
    if args.channels_last:
        gen.unet.to(memory_format=torch.channels_last)
    if args.compile:
        gen.unet = torch.compile(gen.unet)
    return gen


def bench(gen: Generator, label: str, size: int, batch: int, iters: int, args: argparse.Namespace) -> dict:
    device, dtype = gen.device, gen.dtype
    latent = size // gen.downscale
    noise = torch.from_numpy(initial_noise(RELEASED_SEED, (batch, gen.latent_channels, latent, latent))).to(device, dtype)
    u = torch.rand(gen.tokens, args.rank, device=device, dtype=dtype, requires_grad=True)
    v = torch.rand(args.rank, gen.embed_dim, device=device, dtype=dtype, requires_grad=True)
    target = torch.zeros(batch, 3, size, size, device=device, dtype=dtype)

    def generate() -> None:
        with torch.no_grad():
            gen.generate(noise, (u @ v / args.rank**0.5).expand(batch, -1, -1))

    def fit_step() -> None:
        frames, _ = gen.generate(noise, (u @ v / args.rank**0.5).expand(batch, -1, -1))
        loss = ((frames.float() - target.float()) ** 2).mean()
        loss.backward()
        u.grad = v.grad = None

    gen_s = timed(generate, iters, device)
    fit_s = timed(fit_step, iters, device)
    return {"generator": label, "size": size, "batch": batch, "device": str(device),
            "dtype": args.dtype, "channels_last": args.channels_last, "compile": args.compile,
            "generate_s": gen_s, "frames_per_s": batch / gen_s, "fit_step_s": fit_s}


REFERENCE_TARGET = {"frames_per_s_min": 20.0, "fit_step_s_max": 0.050}
"""The reference generator's speed goal at 128 x 128, batch 1, on 2 CPU cores (spec/reference-generator.md)."""


def reference_figures(gen: Generator, inversion_steps: int) -> dict:
    """The figures of spec/reference-generator.md, section "Measured figures"."""
    noise = figures.noise_latent(gen)
    stds = figures.contrast(gen, noise, range(16))
    distances = figures.prompt_distance(gen, noise, [(2 * i, 2 * i + 1) for i in range(8)])
    inversions = [figures.invert(gen, noise, rank=8, steps=inversion_steps, seed=s).psnr for s in range(4)]
    return {"pixel_std_mean": float(np.mean(stds)), "pixel_std_min": min(stds),
            "prompt_psnr_mean": float(np.mean(distances)), "prompt_psnr_max": max(distances),
            "inversion_rank": 8, "inversion_steps": inversion_steps, "inversion_psnr": inversions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generators", default="reference,sd-turbo")
    parser.add_argument("--sizes", default="256,512", help="SD-Turbo sizes")
    parser.add_argument("--reference-sizes", default="128", help="reference generator sizes (native: 128)")
    parser.add_argument("--batch", default="1", help="SD-Turbo batch sizes")
    parser.add_argument("--reference-batch", default="1,10", help="reference generator batch sizes")
    parser.add_argument("--iters", type=int, default=3, help="SD-Turbo timing iterations")
    parser.add_argument("--reference-iters", type=int, default=50)
    parser.add_argument("--reference-seed", type=int, default=SEED, help="other weights of the same design")
    parser.add_argument("--inversion-steps", type=int, default=300, help="0: skip the reference quality figures")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "generators.json"))
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    rows = []
    report = {}
    for name in args.generators.split(","):
        gen = make_generator(name, args)
        label = "reference" if name == "reference" else "sd-turbo (random weights)"
        sizes = args.reference_sizes if name == "reference" else args.sizes
        iters = args.reference_iters if name == "reference" else args.iters
        batches = args.reference_batch if name == "reference" else args.batch
        for size in map(int, sizes.split(",")):
            for batch in map(int, batches.split(",")):
                row = bench(gen, label, size, batch, iters, args)
                if name == "reference" and size == 128 and batch == 1:
                    row["target"] = REFERENCE_TARGET
                    row["meets_target"] = (row["frames_per_s"] >= REFERENCE_TARGET["frames_per_s_min"]
                                           and row["fit_step_s"] <= REFERENCE_TARGET["fit_step_s_max"])
                rows.append(row)
                print(f"{label} {size}x{size} batch {batch} on {row['device']} {row['dtype']}: "
                      f"{row['frames_per_s']:.2f} frames/s, fitting step {row['fit_step_s'] * 1e3:.1f} ms"
                      + ("" if "target" not in row else f" (target >= 20 frames/s and <= 50 ms: "
                         f"{'met' if row['meets_target'] else 'MISSED'})"), flush=True)
        if name == "reference" and args.inversion_steps:
            report = reference_figures(gen, args.inversion_steps)
            print("reference figures: " + ", ".join(f"{k} {v}" for k, v in report.items()), flush=True)
        del gen
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
           "results": rows, "reference_figures": report}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
