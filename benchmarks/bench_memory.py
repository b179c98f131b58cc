"""Streaming input: peak RSS of a serial transcode against the clip's size, and a late scene's first frame.

1. Peak RSS: long lossless clips (made here, FFV1 in Matroska) are transcoded serially with the
   fewest fitting steps (1 per keyframe, rank 1, K=30: the cost is the reading, not the fit), each
   in a fresh process, once for the first 300 frames and once for the whole clip; the peak RSS
   (ru_maxrss) of both is printed against the clip's size as uint8 RGB. Streaming keeps the
   difference far below the clip's size; holding the clip would add all of it. One malloc arena,
   trimmed at once, so the figure is memory in use rather than the allocator's fragmentation.
2. A late scene's first frame: the scene job of the clip's last scene reads its frames with
   `Source.frames(first, count)`; the seconds until its first frame and until all of it are timed
   with seeking (the reader's default) and with decode-and-skip (seeking switched off), on the
   FFV1 clip, on the same frames as H.264 in MP4 (ptcodec's writer: libx264's own keyframe
   placement), and on real clips from ../shared/data/clips. The frames must be identical.

Figures are codec plumbing (the reference generator on CPU), not Promptus quality.

    python benchmarks/bench_memory.py            # prints and writes benchmarks/results/memory.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from bench_scenes import CLIPS, write_scenes

from ptcodec.generators import load_generator
from ptcodec.jobs.plan import Source, make_plan
from ptcodec.media import reader
from ptcodec.media.writer import VideoWriter

RSS_SCRIPT = (
    "import resource, sys\n"
    "from ptcodec.encoder import FitOptions, StreamOptions\n"
    "from ptcodec.jobs.transcode import transcode_file\n"
    "side, frames = int(sys.argv[3]), int(sys.argv[4])\n"
    "transcode_file(sys.argv[1], sys.argv[2], StreamOptions(ranks=(1,), interval=30),\n"
    "               FitOptions(first_steps=1, later_steps=1), size=(side, side), max_frames=frames)\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
)
RSS_ENV = {"OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1", "MALLOC_TRIM_THRESHOLD_": "0"}


def peak_rss_mib(clip: Path, out: Path, side: int, frames: int) -> tuple[float, float]:
    """(peak RSS in MiB, seconds) of a serial transcode of the first `frames` frames, in a fresh process."""
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(clip), str(out), str(side), str(frames)],
                         capture_output=True, text=True, env={**os.environ, **RSS_ENV})
    if run.returncode:
        raise SystemExit(f"transcode of {clip} failed: {run.stderr.strip().splitlines()[-1]}")
    return int(run.stdout.split()[-1]) / 1024, time.perf_counter() - t0


def keyframes(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for p in container.demux(video=0) if p.size and p.is_keyframe)


def timed_read(source: Source, first: int, count: int, seek: bool) -> tuple[float, float, list[np.ndarray]]:
    """(seconds to the first frame, seconds to all `count`, the frames) of `source.frames(first, count)`."""
    saved = reader._seekable
    if not seek:
        reader._seekable = lambda name, container: False
    try:
        t0 = time.perf_counter()
        frames = source.frames(first, count)
        got = [next(frames)]
        t_first = time.perf_counter() - t0
        got.extend(frames)
        return t_first, time.perf_counter() - t0, got
    finally:
        reader._seekable = saved


def late_scene(path: Path, side: int, fps: Fraction | None, scene: tuple[int, int] | None = None) -> dict:
    """The last scene's read of `path` (the plan's, or `scene`), seeking and decode-and-skip."""
    gen = load_generator("reference")
    source = Source(str(path), (side, side), "crop", gen.downscale, fps)
    if scene is None:
        scene = make_plan(source, gen, scene_threshold=None, max_scene_length=300).scenes[-1]
    first, end = scene
    row: dict = {"input": path.name, "keyframes": keyframes(path), "box": side, "fps": None if fps is None else str(fps),
                 "scene": [first, end]}
    frames = {}
    for name, seek in (("seek", True), ("decode_and_skip", False)):
        t_first, t_all, frames[name] = timed_read(source, first, end - first, seek)
        row[name] = {"first_frame_s": t_first, "scene_s": t_all}
    row["identical"] = len(frames["seek"]) == len(frames["decode_and_skip"]) and all(
        np.array_equal(a, b) for a, b in zip(frames["seek"], frames["decode_and_skip"], strict=True))
    row["first_frame_speedup"] = row["decode_and_skip"]["first_frame_s"] / row["seek"]["first_frame_s"]
    print(f"{path.name} (box {side}, fps {row['fps']}, {row['keyframes']} keyframes) scene {first}..{end - 1}: first frame "
          f"{row['seek']['first_frame_s']:.3f} s seeking, {row['decode_and_skip']['first_frame_s']:.3f} s decode-and-skip "
          f"({row['first_frame_speedup']:.1f}x); identical {row['identical']}")
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", default="3000x64,3000x128", help="FRAMESxSIDE,... long clips to make")
    parser.add_argument("--data", default=str(CLIPS), help="the real clips' folder (../shared/data/clips)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "memory.json"))
    args = parser.parse_args()
    rss_rows, read_rows = [], []
    with tempfile.TemporaryDirectory() as work:
        for spec in args.clips.split(","):
            frames, side = (int(v) for v in spec.split("x"))
            clip = write_scenes(Path(work) / f"long_{spec}.mkv", frames // 300, 300, side)
            clip_mib = frames * side * side * 3 / 2**20
            short_rss, short_s = peak_rss_mib(clip, Path(work) / "short.ptv", side, 300)
            long_rss, long_s = peak_rss_mib(clip, Path(work) / "long.ptv", side, frames)
            rss_rows.append({"frames": frames, "side": side, "clip_rgb_mib": clip_mib, "peak_rss_mib_300_frames": short_rss,
                             "peak_rss_mib_all": long_rss, "growth_mib": long_rss - short_rss,
                             "growth_over_clip": (long_rss - short_rss) / clip_mib, "transcode_s": long_s})
            print(f"{frames} frames at {side}x{side} ({clip_mib:.0f} MiB as RGB): peak RSS {long_rss:.0f} MiB, "
                  f"{short_rss:.0f} MiB for its first 300 frames (+{long_rss - short_rss:.1f} MiB); transcode {long_s:.0f} s")
            read_rows.append(late_scene(clip, side, None))
            mp4 = Path(work) / f"long_{spec}.mp4"
            with VideoWriter(mp4, 10, codec="h264") as writer:
                for image in reader.read_frames(clip):
                    writer.write(image)
            read_rows.append(late_scene(mp4, side, None))
            read_rows.append(late_scene(mp4, side, Fraction(24)))
    for name in ("vtest.avi", "sky_512.mp4", "chaplin.mp4"):
        path = Path(args.data) / name
        if path.exists():
            total = sum(1 for _ in Source(str(path), (64, 64), "crop", 8, None).frames())
            read_rows.append(late_scene(path, 64, None, (max(0, total - 30), total)))
    result = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "pyav": av.__version__,
                    "ffmpeg": ".".join(str(v) for v in av.library_versions["libavformat"])},
        "generator": "reference (codec plumbing: the spec's small generator on CPU, not SD-Turbo)",
        "transcode": {"path": "serial", "stream": {"rank": 1, "interval": 30},
                      "fitting": {"first_steps": 1, "later_steps": 1}, "env": RSS_ENV, "peak": "ru_maxrss"},
        "peak_rss": rss_rows,
        "late_scene_read": read_rows,
        "note": "vtest.avi is H.264 in AVI: its frames carry no presentation timestamps in display order, so "
                "the reader falls back to decode-and-skip there (a seek could not be matched to a frame index).",
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
