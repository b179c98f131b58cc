"""Build a feed (see ptcodec.preload.feed) from short clips, with the commands a user types.

Per clip, each as `python -m ptcodec ...` in a subprocess:
1. the first `seconds` of the clip, centre-cropped to `size` px and resampled to `fps`, written losslessly
   (FFV1) so that both ladders are cut from the same frames at the same rate;
2. `transcode` with the reference generator (codec plumbing, not Promptus quality) to a rank-scalable
   stream, `--max-scene 1s` so that every 1-s segment opens a scene and decodes alone;
3. `package` it into a prompt ladder of 1-s segments, and `package CLIP --codec --kbps --align` a pixel
   ladder cut at the same segments.
Then `feed.json`: per video the two ladders, the quality kbps per level (pixel levels: their nominal
rates' place in the challenge's 750/1200/1850, prompt ranks: prompts.ASSUMED_H265_KBPS, both
assumptions) and a retention curve: the first seconds of one of the challenge's videos (its shares at
seconds 0..n, then the end marker), the session's i-th video taking the catalogue's i-th.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ptcodec.errors import InputError
from ptcodec.preload.feed import FEED_SCHEMA
from ptcodec.preload.prompts import ASSUMED_H265_KBPS
from ptcodec.preload.videos import LEVEL_KBPS, load_catalogue


def ptcodec(*args: str, log: list[str] | None = None) -> None:
    """Run `python -m ptcodec ARGS`; a one-line error with its stderr's last line when it fails."""
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", "1")
    if log is not None:
        log.append("ptcodec " + " ".join(args))
    done = subprocess.run([sys.executable, "-m", "ptcodec", *args], capture_output=True, text=True, env=env)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise InputError(f"ptcodec {args[0]} failed (exit {done.returncode}): {last}")


def prepare_clip(clip: Path, out: Path, *, size: int, fps: int, seconds: float) -> int:
    """The clip's first `seconds` at `size` x `size` and `fps`, losslessly; the frames written."""
    from ptcodec.media.reader import read_frames
    from ptcodec.media.writer import write_video

    frames = read_frames(clip, size=size, fps=fps, max_frames=round(seconds * fps))
    return write_video(out, frames, fps, codec="ffv1")


def retention_for(shares: Sequence[float], chunks: int) -> list[float]:
    """A retention curve for a video of `chunks` seconds from a longer one's: seconds 0..chunks, end marker 0."""
    if len(shares) < chunks + 2:
        raise InputError(f"a retention curve of {len(shares) - 2} s cannot shape a {chunks}-s video")
    return [float(s) for s in shares[: chunks + 1]] + [0.0]


def build_feed(clips: Sequence[Path], out: Path, short_video: Path, *, size: int = 64, fps: int = 30,
               seconds: float = 4.0, ranks: str = "4,8,16", interval: int = 10, steps: str = "20,8",
               codec: str = "x264", pixel_kbps: str = "60,100,160", quiet: bool = True) -> dict:
    """Build the feed in `out` (made; it must not exist); returns feed.json's content and the commands run."""
    if out.exists():
        raise InputError(f"{out}: exists; the feed is built into a new directory")
    out.mkdir(parents=True)
    catalogue = load_catalogue(short_video)
    first, later = steps.split(",")
    n_ranks = len(ranks.split(","))
    kbps = list(LEVEL_KBPS) + [ASSUMED_H265_KBPS[int(r)] for r in ranks.split(",")]
    if n_ranks != len([r for r in ranks.split(",") if int(r) in ASSUMED_H265_KBPS]):
        raise InputError(f"--ranks {ranks}: each rank needs an assumed H.265 kbps ({sorted(ASSUMED_H265_KBPS)})")
    commands: list[str] = []
    videos = []
    for i, clip in enumerate(clips):
        name = f"v{i}-{clip.stem}"
        folder = out / name
        folder.mkdir()
        source = folder / "source.mkv"
        frames = prepare_clip(clip, source, size=size, fps=fps, seconds=seconds)
        if not quiet:
            print(f"{name}: {frames} frames at {size} px, {fps} frames/s", flush=True)
        stream = folder / "stream.ptv"
        ptcodec("transcode", str(source), str(stream), "--generator", "reference", "--quality", "fast",
                "--first-steps", first, "--later-steps", later, "--perceptual", "none", "--ranks", ranks,
                "-K", str(interval), "--max-scene", "1s", "--coding", "1.0", "-q", log=commands)
        ptcodec("package", str(stream), str(folder / "prompt"), "--ranks", ranks, "--segment-seconds", "1", log=commands)
        ptcodec("package", str(source), str(folder / "pixel"), "--codec", codec, "--kbps", pixel_kbps,
                "--align", str(folder / "prompt"), log=commands)
        stream.unlink()
        source.unlink()
        chunks = len(json.loads((folder / "prompt" / "index.json").read_text())["representations"][0]["segments"])
        videos.append({"name": clip.stem, "pixel": f"{name}/pixel/index.json", "prompt": f"{name}/prompt/index.json",
                       "kbps": kbps, "retention": retention_for(catalogue[i % len(catalogue)].retention, chunks),
                       "retention_from": catalogue[i % len(catalogue)].name})
    feed = {"schema": FEED_SCHEMA, "videos": videos,
            "built": {"size": size, "fps": fps, "seconds": seconds, "ranks": ranks, "K": interval, "steps": steps,
                      "codec": codec, "pixel_kbps": pixel_kbps, "generator": "reference", "coding": "1.0"}}
    partial = out / "feed.json.partial"
    partial.write_text(json.dumps(feed, indent=1) + "\n")
    partial.replace(out / "feed.json")
    return {"feed": feed, "commands": commands}
