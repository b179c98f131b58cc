"""Scene-parallel transcoding: measured speed-up at 1 and 2 workers here, and a model of 8 and 64 GPUs.

1. Measured: one clip of several unrelated scenes (lossless, made here) is transcoded serially and
   with `--workers 1` and `--workers 2` on a local Ray cluster; the streams must be the same bytes.
   Then serially and with two workers at `--threads 1`: workers at the default thread count share
   the cores (slower than serial on a small machine), one thread each does not.
   Wall times include the cluster's start (printed separately) and the plan pass. Each scene is
   also fitted alone (`encode_scene`) to get per-scene seconds, and a line `seconds = a + b * work`
   (work: the plan's frame-steps of the scene, `scene_work`) is fitted to them.
2. Modelled: the scenes of real clips from ../shared/data/clips, planned at their natural cuts and
   with refresh points (--max-scene), their seconds predicted by that line, scheduled on W workers
   longest first (LPT list scheduling, what Ray does with a queue of tasks of known order); the
   speed-up is serial seconds over the makespan, and the straggler share is the makespan over the
   ideal (serial / W). A clip shorter than W scenes cannot use W workers: the model says so.

    python benchmarks/bench_scenes.py                  # prints and writes benchmarks/results/scenes.json
"""

from __future__ import annotations

import argparse
import heapq
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np

from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.generators import load_generator
from ptcodec.jobs.plan import Source, make_plan
from ptcodec.jobs.scenes import SceneJob, encode_scene, planning_threads, scene_work
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media.writer import VideoWriter

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "clips"


def write_scenes(path: Path, scenes: int, length: int, side: int) -> Path:
    rng = np.random.RandomState(0)
    writer = VideoWriter(path, 10, codec="ffv1")
    for _ in range(scenes):
        base = rng.randint(0, 255, (side, side, 3)).astype(np.int16)
        for _ in range(length):
            writer.write(np.clip(base + rng.randint(-3, 4, (side, side, 3)), 0, 255).astype(np.uint8))
    writer.close()
    return path


def makespan(times: list[float], workers: int) -> float:
    """Longest-first list scheduling of `times` on `workers` identical workers."""
    loads = [0.0] * workers
    for t in sorted(times, reverse=True):
        heapq.heapreplace(loads, loads[0] + t)
    return max(loads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=6)
    parser.add_argument("--scene-frames", type=int, default=12)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scenes.json"))
    args = parser.parse_args()
    stream = StreamOptions(ranks=(4,), interval=4)
    fitting = FitOptions(quality="fast", first_steps=40, later_steps=15)
    gen = load_generator("reference")
    box = (args.size, args.size)
    with tempfile.TemporaryDirectory() as work:
        clip = write_scenes(Path(work) / "clip.mkv", args.scenes, args.scene_frames, args.size)
        measured: dict[str, float] = {}
        streams: dict[str, bytes] = {}
        one_thread = {"serial_threads_1": None, "workers_2_threads_1": 2}
        runs = {"serial": None, "workers_1": 1, "workers_2": 2, **one_thread}
        for name, workers in runs.items():
            out = Path(work) / f"{name}.ptv"
            t0 = time.perf_counter()
            transcode_file(clip, out, stream, fitting, size=box, workers=workers,
                           threads=1 if name in one_thread else None)
            measured[name] = time.perf_counter() - t0
            streams[name] = out.read_bytes()
            print(f"{name}: {measured[name]:.1f} s")
        identical = len({streams[n] for n in runs if n not in one_thread}) == 1
        identical_one_thread = len({streams[n] for n in one_thread}) == 1
        import ray

        from ptcodec.jobs.distributed import cluster

        t0 = time.perf_counter()
        with cluster(2, None, gpus_per_task=0.0):
            ray.get(ray.remote(lambda: 0).remote())
        measured["cluster_start_stop"] = time.perf_counter() - t0
        source = Source(str(clip), box, "crop", gen.downscale, None)
        plan = make_plan(source, gen, scene_threshold=stream.scene_threshold, max_scene_length=None)
        job = SceneJob(source, plan, stream, fitting, "reference", threads=planning_threads("cpu"))
        per_scene = []
        for scene in plan.scenes:
            t0 = time.perf_counter()
            encode_scene(job, scene)
            per_scene.append({"scene": scene, "work": scene_work(job, scene), "seconds": time.perf_counter() - t0})
    work_x = np.array([s["work"] for s in per_scene], float)
    secs = np.array([s["seconds"] for s in per_scene])
    b, a = np.polyfit(work_x, secs, 1) if len(set(work_x)) > 1 else (secs.mean() / work_x.mean(), 0.0)
    print(f"identical bytes: {identical} (default threads), {identical_one_thread} (--threads 1); "
          f"cluster start+stop {measured['cluster_start_stop']:.1f} s; "
          f"per scene: {a:.2f} s + {b * 1000:.3f} ms per frame-step")

    models = []
    for name, max_scene in (("vtest.avi", None), ("vtest.avi", 50), ("chaplin.mp4", None), ("chaplin.mp4", 50)):
        path = CLIPS / name
        if not path.exists():
            continue
        clip_source = Source(str(path), (128, 128), "crop", gen.downscale, None)
        clip_plan = make_plan(clip_source, gen, scene_threshold=stream.scene_threshold, max_scene_length=max_scene)
        clip_job = SceneJob(clip_source, clip_plan, stream, fitting, "reference")
        times = [a + b * scene_work(clip_job, s) for s in clip_plan.scenes]
        serial = sum(times)
        row = {"clip": name, "max_scene_frames": max_scene, "frames": clip_plan.frame_count,
               "scenes": len(clip_plan.scenes), "scene_frames": [e - f for f, e in clip_plan.scenes],
               "serial_s_model": serial, "workers": {}}
        for w in (1, 2, 8, 64):
            span = makespan(times, w)
            row["workers"][str(w)] = {"speedup": serial / span, "straggler_ratio": span / (serial / w),
                                      "usable": min(w, len(times))}
        models.append(row)
        print(f"{name} max-scene {max_scene}: {len(times)} scenes; speed-up "
              + ", ".join(f"{w}: {v['speedup']:.1f}x" for w, v in row["workers"].items()))
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "generator": "reference (codec plumbing: times of the spec's small generator on CPU, not SD-Turbo)",
        "clip": {"scenes": args.scenes, "scene_frames": args.scene_frames, "size": args.size},
        "stream": {"rank": 4, "interval": 4}, "fitting": {"first_steps": 40, "later_steps": 15},
        "threads": {"default": planning_threads("cpu"), "threads_1": 1},
        "measured_s": measured, "identical_bytes": identical, "identical_bytes_threads_1": identical_one_thread,
        "speedup_measured": {"workers_1": measured["serial"] / measured["workers_1"],
                             "workers_2": measured["serial"] / measured["workers_2"],
                             "workers_2_threads_1": measured["serial_threads_1"] / measured["workers_2_threads_1"],
                             "workers_2_threads_1_vs_serial": measured["serial"] / measured["workers_2_threads_1"]},
        "per_scene": [dict(s, scene=list(s["scene"])) for s in per_scene],
        "scene_time_model": {"a_s": a, "b_s_per_frame_step": b},
        "model": models,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
