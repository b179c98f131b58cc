"""Generator speed: generation frames/s and fitting-step time (forward + backward).

Builds the SD-Turbo UNet + TAESD architecture with random weights (the real
weights are not reachable here; speed does not depend on their values) and
times one-step generation and one prompt-fitting step (gradient to rank-r
factors u, v) at each size. The reference generator joins this table when it
exists (issue 3).

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

import torch

from ptcodec.generators.onestep import initial_noise
from ptcodec.generators.sd_turbo import SDTurboGenerator, random_weights


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


def bench(size: int, batch: int, args: argparse.Namespace) -> dict:
    unet, vae = random_weights()
    gen = SDTurboGenerator(unet, vae, device=args.device, dtype=args.dtype)
    if args.channels_last:
        gen.unet.to(memory_format=torch.channels_last)
    if args.compile:
        gen.unet = torch.compile(gen.unet)
    device, dtype = gen.device, gen.dtype
    latent = size // 8
    noise = torch.from_numpy(initial_noise(88, (batch, 4, latent, latent))).to(device, dtype)
    u = torch.rand(77, args.rank, device=device, dtype=dtype, requires_grad=True)
    v = torch.rand(args.rank, 1024, device=device, dtype=dtype, requires_grad=True)
    target = torch.zeros(batch, 3, size, size, device=device, dtype=dtype)

    def generate() -> None:
        with torch.no_grad():
            gen.generate(noise, (u @ v / args.rank**0.5).expand(batch, -1, -1))

    def fit_step() -> None:
        frames, _ = gen.generate(noise, (u @ v / args.rank**0.5).expand(batch, -1, -1))
        loss = ((frames.float() - target.float()) ** 2).mean()
        loss.backward()
        u.grad = v.grad = None

    gen_s = timed(generate, args.iters, device)
    fit_s = timed(fit_step, args.iters, device)
    return {"generator": "sd-turbo (random weights)", "size": size, "batch": batch, "device": str(device),
            "dtype": args.dtype, "channels_last": args.channels_last, "compile": args.compile,
            "generate_s": gen_s, "frames_per_s": batch / gen_s, "fit_step_s": fit_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--batch", default="1")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])
    parser.add_argument("--channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "generators.json"))
    args = parser.parse_args()
    torch.set_grad_enabled(True)
    rows = []
    for size in map(int, args.sizes.split(",")):
        for batch in map(int, args.batch.split(",")):
            row = bench(size, batch, args)
            rows.append(row)
            print(f"{row['generator']} {size}x{size} batch {batch} on {row['device']} {row['dtype']}: "
                  f"{row['frames_per_s']:.2f} frames/s, fitting step {row['fit_step_s']:.2f} s", flush=True)
    out = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
           "results": rows}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
