"""Encoder and decoder speed, and ptcodec's fitting recipe against the released one.

1. Recipe comparison, on two problem sets: a reachable clip (made by the reference
   generator, so every loss is attainable) and, with --clip, the first frames of a
   natural clip. Each is encoded with the released Promptus recipe run in our code
   (per-frame Adam steps, the worst frame twice, lr 0.1 halved on plateau, uniform
   start); every keyframe's problem (segment, start, the released final loss) is
   recorded, and ptcodec's default recipe (FitOptions()) is run on the very same
   problem until it reaches the released recipe's final loss. Both use the same loss
   and generator on the same machine. Cost is counted in frame-steps: frames through
   the generator, each with a backward pass (ptcodec.encoder.fit.step_cost).
2. Transcode seconds per keyframe and decode frames/s with the default preset.

The released runs take minutes; --released-cache FILE keeps their problems (a torch
file, written by the first run with the same settings, read by later ones), so the
ptcodec side can be iterated on alone.

    python benchmarks/bench_encoder.py --clip ../shared/data/clips/sky_512.mp4
    python benchmarks/bench_encoder.py --released-iterations 10000,1500   # the released budgets
"""

from __future__ import annotations

import argparse
import dataclasses
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
from ptcodec.encoder.encoder import fit_work, starting_factors, starts_warm
from ptcodec.encoder.fit import Segment, fit
from ptcodec.encoder.options import (
    QUASI_NEWTON_STEPS,
    QUASI_NEWTON_WARMUP,
    WARM_SINGLE_FRAME_SHARE,
    WARM_START_MAX_SCALE,
)
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.generators import load_generator
from ptcodec.jobs.decode import decode_file
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media import load_clip, write_video

SEGMENT_FIELDS = ("targets", "weights", "left", "z_prev", "n0", "gamma", "prev_latent_rule", "quant_scheme", "ranks",
                  "levels")


def released_problems(gen, clip: np.ndarray, args: argparse.Namespace) -> list[dict]:
    """Encode `clip` with the released recipe; each keyframe's problem and its released result."""
    first, later = (int(x) for x in args.released_iterations.split(","))
    stream = StreamOptions(ranks=(args.rank,), interval=args.interval)
    geometry = dict(width=clip.shape[2], height=clip.shape[1], fps=30, frame_count=len(clip))
    released = Encoder(gen, stream, FitOptions(recipe="released", first_steps=first, later_steps=later,
                                               perceptual=args.perceptual), **geometry)
    cold = Encoder(gen, stream, FitOptions(perceptual=args.perceptual), **geometry)._start(0, opens_scene=True)[0]
    problems: list[dict] = []
    fit_released = released._optimize

    def record(segment: Segment, init, steps: int, first: bool, warm: bool):
        t0 = time.perf_counter()
        rel = fit_released(segment, init, steps, first, warm)
        # ptcodec's start: a scene's cold start, else the previous keyframe's factors (the released chain's)
        start = cold if segment.left is None else tuple(f.clone() for f in segment.left)
        fields = {k: getattr(segment, k) for k in SEGMENT_FIELDS}
        # plain ints (not the syntax's IntEnums), so that the cache loads with weights_only=True
        fields = {k: int(v) if isinstance(v, int) else v for k, v in fields.items()}
        problems.append({"segment": fields, "start": start,
                         "scene_start": first, "frame_steps": rel.frame_steps, "seconds": time.perf_counter() - t0,
                         "loss": rel.loss, "psnr": rel.psnr})
        print(f"  released keyframe {len(problems) - 1}: {rel.frame_steps} frame-steps "
              f"{problems[-1]['seconds']:.1f} s loss {rel.loss:.3e}", flush=True)
        return rel

    released._optimize = record
    for frame in [*clip, None]:
        released.encode(frame)
    print(f"  released recipe stream: closed-loop PSNR {np.mean(released.report.psnr):.2f} dB", flush=True)
    return problems


def cached_problems(gen, name: str, clip: np.ndarray, args: argparse.Namespace) -> list[dict]:
    """`released_problems`, kept in --released-cache under `name` with the settings that made them."""
    key = {"set": name, "released_iterations": args.released_iterations, "rank": args.rank,
           "interval": args.interval, "perceptual": args.perceptual, "generator": gen.id,
           "frames": len(clip), "size": list(clip.shape[1:3]), "clip": args.clip if name == "natural" else None}
    path = Path(args.released_cache) if args.released_cache else None
    cache = torch.load(path, weights_only=True) if path is not None and path.exists() else {}
    if name in cache and cache[name]["key"] == key:
        print(f"  released problems from {path}", flush=True)
        return cache[name]["problems"]
    problems = released_problems(gen, clip, args)
    if path is not None:
        cache[name] = {"key": key, "problems": problems}
        tmp = path.with_suffix(".tmp")
        torch.save(cache, tmp)
        tmp.replace(path)
    return problems


def compare(gen, problems: list[dict], args: argparse.Namespace) -> dict:
    """ptcodec's default recipe on each released problem, until it reaches the released loss."""
    ours = FitOptions(perceptual=args.perceptual)
    encoder = Encoder(gen, StreamOptions(ranks=(args.rank,), interval=args.interval), ours, width=args.size,
                      height=args.size, fps=30)
    rows = []
    frame = -1
    for i, p in enumerate(problems):
        segment = Segment(generator=gen, **p["segment"])
        frame += len(segment.targets)  # the segments tile the clip: this one ends on its keyframe
        # the default preset's budget (its cosine horizon), as the encoder runs it
        _, steps = fit_work(encoder.stream, ours, len(segment.targets), p["scene_start"])
        start, warm = p["start"], False
        if not p["scene_start"]:  # p["start"] holds the previous keyframe's factors (the released chain's)
            last = start[0].numpy(), start[1].numpy()
            warm = starts_warm(ours, args.rank, last)
            u, v = starting_factors(gen, ours, args.rank, frame, last if warm else None)
            start = torch.from_numpy(u), torch.from_numpy(v)
        budget = dataclasses.replace(encoder.budget(steps, p["scene_start"], warm, len(segment.targets)), patience=10**9,
                                     target_loss=p["loss"])
        t0 = time.perf_counter()
        mine = fit(segment, encoder.loss, start, budget)
        seconds = time.perf_counter() - t0
        row = {"scene_start": p["scene_start"], "segment_frames": len(segment.targets),
               "released": {k: p[k] for k in ("frame_steps", "seconds", "loss", "psnr")},
               "ptcodec": {"frame_steps": mine.frame_steps, "judged_frames": mine.judged_frames,
                           "steps": mine.steps, "budget_steps": steps, "single_frame": budget.single_frame,
                           "warm_start": warm, "fit_steps": budget.max_steps,
                           "seconds": seconds,
                           "loss": mine.loss, "psnr": mine.psnr, "reached": mine.loss <= p["loss"]}}
        row["step_ratio"] = mine.frame_steps / p["frame_steps"]
        rows.append(row)
        print(f"  keyframe {i}: released {p['frame_steps']} frame-steps loss {p['loss']:.3e} | ptcodec "
              f"{mine.frame_steps} frame-steps {seconds:.1f} s loss {mine.loss:.3e} "
              f"({'reached' if row['ptcodec']['reached'] else 'NOT reached'}), ratio {row['step_ratio']:.3f}",
              flush=True)
    released = sum(r["released"]["frame_steps"] for r in rows)
    mine_total = sum(r["ptcodec"]["frame_steps"] for r in rows)

    def ratio(rows_: list[dict]) -> float | None:
        rel = sum(r["released"]["frame_steps"] for r in rows_)
        return sum(r["ptcodec"]["frame_steps"] for r in rows_) / rel if rel else None

    return {"keyframes": rows, "keyframes_compared": len(rows), "released_frame_steps": released,
            "ptcodec_frame_steps": mine_total,
            "step_ratio": mine_total / released, "cold_ratio": ratio([r for r in rows if r["scene_start"]]),
            "warm_ratio": ratio([r for r in rows if not r["scene_start"]]),
            "all_reached": all(r["ptcodec"]["reached"] for r in rows),
            "released_seconds": sum(r["released"]["seconds"] for r in rows),
            "ptcodec_seconds": sum(r["ptcodec"]["seconds"] for r in rows)}


def transcode_speed(clip: np.ndarray, args: argparse.Namespace) -> dict:
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
    parser.add_argument("--clip", help="a natural clip: its first --frames frames at --size are the second problem set")
    parser.add_argument("--released-iterations", default="2000,300",
                        help="released recipe iterations (first, later); the authors' are 10000,1500")
    parser.add_argument("--released-cache", help="torch file keeping the released runs' problems between runs")
    parser.add_argument("--skip-recipes", action="store_true")
    parser.add_argument("--skip-transcode", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", default="benchmarks/results/encoder.json")
    args = parser.parse_args()
    gen = load_generator(args.generator, device=args.device)
    clip = reachable_clip(gen, frames=args.frames, size=(args.size, args.size), interval=args.interval,
                          rank=args.rank)
    out = {"machine": {"cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
                       "python": platform.python_version(), "torch": torch.__version__,
                       "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None},
           "generator": {"id": gen.id, "fingerprint": gen.fingerprint().hex()},
           "ptcodec_recipe": {**dataclasses.asdict(FitOptions()), "quasi_newton_steps": QUASI_NEWTON_STEPS,
                              "quasi_newton_warmup": QUASI_NEWTON_WARMUP, "warm_start_max_scale": WARM_START_MAX_SCALE,
                              "warm_single_frame_share": WARM_SINGLE_FRAME_SHARE,
                              "later_keyframes": "single-frame steps (fit.Budget.single_frame)"},
           "settings": vars(args)}
    if not args.skip_transcode:
        out["transcode"] = transcode_speed(clip, args)
    if not args.skip_recipes:
        sets = {"reachable": clip}
        if args.clip:
            sets["natural"] = load_clip(args.clip, size=(args.size, args.size), max_frames=args.frames).frames
        recipes: dict[str, dict] = {}
        out["recipes"] = recipes
        for name, frames in sets.items():
            print(f"problem set {name}:", flush=True)
            result = compare(gen, cached_problems(gen, name, frames, args), args)
            recipes[name] = result
            print(f"  {name}: ptcodec needs {result['ptcodec_frame_steps']} frame-steps where the released recipe "
                  f"took {result['released_frame_steps']} (ratio {result['step_ratio']:.3f}: cold "
                  f"{result['cold_ratio']}, warm {result['warm_ratio']}; goal <= 0.2)", flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(args.out).with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    tmp.replace(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
