"""Encoder and decoder speed, and ptcodec's fitting recipe against the released one.

1. Recipe comparison, on a reachable clip (made by the reference generator, so
   every loss is attainable): the stream is encoded with the released Promptus
   recipe run in our code (per-frame Adam steps, the worst frame twice, lr 0.1
   halved on plateau, uniform start), and at every keyframe ptcodec's recipe
   is run on the very same problem (same previous keyframe, same latents) until
   it reaches the released recipe's final loss. Both use the same loss and
   generator on the same machine, in one run. Cost is counted in frame-steps
   (one frame through the generator, forward and backward).
2. Transcode seconds per keyframe and decode frames/s with the default preset.

    python benchmarks/bench_encoder.py                       # reference generator, CPU
    python benchmarks/bench_encoder.py --released-iterations 10000,1500   # the released budgets
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch

from ptcodec.encoder import Encoder, FitOptions, StreamOptions
from ptcodec.encoder.fit import Budget, fit
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.generators import load_generator
from ptcodec.jobs.decode import decode_file
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media import write_video


def compare_recipes(gen, clip: np.ndarray, args: argparse.Namespace) -> list[dict]:
    first, later = (int(x) for x in args.released_iterations.split(","))
    stream = StreamOptions(ranks=(args.rank,), interval=args.interval)
    geometry = dict(width=clip.shape[2], height=clip.shape[1], fps=30, frame_count=len(clip))
    released = Encoder(gen, stream, FitOptions(recipe="released", first_steps=first, later_steps=later,
                                               perceptual=args.perceptual), **geometry)
    ours = Encoder(gen, stream, FitOptions(perceptual=args.perceptual), **geometry)
    rows: list[dict] = []
    original_fit = released._optimize

    def fit_both(segment, init, steps, first):
        scene_start = first
        t0 = time.perf_counter()
        rel = original_fit(segment, init, steps, first)
        rel_s = time.perf_counter() - t0
        warm = tuple(f.clone() for f in segment.left) if segment.left is not None else ours._start(0, opens_scene=True)
        budget = Budget(max_steps=max(1, rel.frame_steps // len(segment.targets)), lr=0.1, patience=10**9,
                        target_loss=rel.loss)
        t0 = time.perf_counter()
        mine = fit(segment, ours.loss, warm, budget)
        ours_s = time.perf_counter() - t0
        row = {"scene_start": scene_start, "segment_frames": len(segment.targets),
               "released": {"frame_steps": rel.frame_steps, "seconds": rel_s, "loss": rel.loss, "psnr": rel.psnr},
               "ptcodec": {"frame_steps": mine.steps * len(segment.targets), "seconds": ours_s,
                           "loss": mine.loss, "psnr": mine.psnr, "reached": mine.loss <= rel.loss}}
        row["step_ratio"] = row["ptcodec"]["frame_steps"] / rel.frame_steps
        rows.append(row)
        print(f"keyframe {len(rows) - 1}: released {rel.frame_steps} frame-steps {rel_s:.1f} s loss {rel.loss:.5f} | "
              f"ptcodec {row['ptcodec']['frame_steps']} frame-steps {ours_s:.1f} s loss {mine.loss:.5f} "
              f"({'reached' if row['ptcodec']['reached'] else 'NOT reached'}), ratio {row['step_ratio']:.3f}",
              flush=True)
        return rel

    released._optimize = fit_both
    for frame in [*clip, None]:
        released.encode(frame)
    print(f"released recipe stream: closed-loop PSNR {np.mean(released.report.psnr):.2f} dB", flush=True)
    return rows


def transcode_speed(gen, clip: np.ndarray, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "in.mkv"
        write_video(src, clip, Fraction(30), codec="ffv1")
        stream = StreamOptions(ranks=(args.rank,), interval=args.interval)
        fit_options = FitOptions(quality=args.quality, perceptual=args.perceptual)
        size = (clip.shape[2], clip.shape[1])
        result = transcode_file(src, Path(tmp) / "out.ptv", stream, fit_options, size=size)
        decode_file(Path(tmp) / "out.ptv", Path(tmp) / "warm.y4m")  # warm-up
        decoded = decode_file(Path(tmp) / "out.ptv", Path(tmp) / "out.y4m")
    r = result.report
    row = {"quality": args.quality, "frames": r.frames, "keyframes": len(r.keyframes),
           "encode_s": r.seconds, "encode_s_per_keyframe": r.seconds / len(r.keyframes),
           "frame_steps": r.frame_steps, "psnr_mean": float(np.mean(r.psnr)), "psnr_min": float(np.min(r.psnr)),
           "kbps": result.kbps, "decode_fps": decoded.fps}
    print(f"transcode ({args.quality}): {row['encode_s_per_keyframe']:.1f} s per keyframe, PSNR "
          f"{row['psnr_mean']:.2f} dB mean / {row['psnr_min']:.2f} min, {row['kbps']:.0f} kbit/s; "
          f"decode {row['decode_fps']:.1f} frames/s (incl. y4m writing)", flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generator", default="reference")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--frames", type=int, default=21)
    parser.add_argument("--interval", type=int, default=10)
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--perceptual", default="msssim")
    parser.add_argument("--quality", default="default")
    parser.add_argument("--released-iterations", default="2000,300",
                        help="released recipe iterations (first, later); the authors' are 10000,1500")
    parser.add_argument("--skip-recipes", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/encoder.json")
    args = parser.parse_args()
    gen = load_generator(args.generator, device=args.device)
    clip = reachable_clip(gen, frames=args.frames, size=(args.size, args.size), interval=args.interval,
                          rank=args.rank)
    out = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                       "python": platform.python_version(), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
           "settings": vars(args)}
    out["transcode"] = transcode_speed(gen, clip, args)
    if not args.skip_recipes:
        rows = compare_recipes(gen, clip, args)
        released = sum(r["released"]["frame_steps"] for r in rows)
        mine = sum(r["ptcodec"]["frame_steps"] for r in rows)
        out["recipes"] = {"keyframes": rows, "released_frame_steps": released, "ptcodec_frame_steps": mine,
                          "step_ratio": mine / released, "all_reached": all(r["ptcodec"]["reached"] for r in rows),
                          "released_seconds": sum(r["released"]["seconds"] for r in rows),
                          "ptcodec_seconds": sum(r["ptcodec"]["seconds"] for r in rows)}
        print(f"total: ptcodec needs {mine} frame-steps where the released recipe took {released} "
              f"(ratio {mine / released:.3f}; goal <= 0.2)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
