"""Scene-parallel transcoding: each scene of a plan fitted on its own, the results joined in order.

A plan (ptcodec/jobs/plan.py) fixes the scenes; `encode_scene` fits one of them from its own
frames, read from the input file by frame range (a task carries a path and a range, never
frames), with an `Encoder` that starts at the scene's first frame. No scene depends on
another, so the units of scene i are the same bytes whoever fits them, in whatever order, and
joining the scenes' units in order gives the stream a serial encode of the same plan writes.

Finished scenes are kept in `<output>.scenes/` (`SceneStore`), one file per scene written
atomically as it completes, so a killed job resumes (`resume=True`) without fitting them
again; the output is written only when every scene is done, as `<output>.partial`, checked
unit by unit by the writer, then renamed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ptcodec.encoder.options import FitOptions, StreamOptions
from ptcodec.errors import InputError
from ptcodec.generators import GeneratorOptions
from ptcodec.jobs.plan import ScenePlan, Source
from ptcodec.outputs import atomic_file, make_directory, write_error

if TYPE_CHECKING:
    from ptcodec.encoder.encoder import Encoder
    from ptcodec.generators.base import Generator

STORE_SUFFIX = ".scenes"
Scene = tuple[int, int]
"""(first frame, end frame) of a scene."""


@dataclass(frozen=True)
class SceneJob:
    """Everything a worker needs to fit any scene of one encode (small: it is sent to every task)."""

    source: Source
    plan: ScenePlan
    stream: StreamOptions
    fitting: FitOptions
    generator: str
    generator_options: GeneratorOptions = field(default_factory=GeneratorOptions)
    threads: int | None = None
    """PyTorch's intra-op thread count for fitting on the CPU (None: the worker's own). CPU results
    differ in their last bits with it (the order of reductions), so every task of one encode fits
    with the thread count of the process that planned it: a Ray task asking for one CPU would
    otherwise run one thread and give other bytes than the serial encode."""

    def encoder(self, generator: "Generator", first_frame: int = 0, **arguments) -> "Encoder":
        """The encoder of this job, starting at `first_frame` (a scene start of the plan)."""
        from ptcodec.encoder.encoder import Encoder

        plan = self.plan
        return Encoder(generator, self.stream, self.fitting, width=plan.width, height=plan.height, fps=plan.fps,
                       frame_count=plan.frame_count, scene_starts=plan.scene_starts, first_frame=first_frame,
                       **arguments)


_GENERATORS: dict[tuple[str, GeneratorOptions], "Generator"] = {}
"""Generators loaded in this process, so that a worker loads its model once for all its scenes."""


def _generator(job: SceneJob) -> "Generator":
    from ptcodec.generators import load_generator

    key = (job.generator, job.generator_options)
    if key not in _GENERATORS:
        _GENERATORS[key] = load_generator(job.generator, job.generator_options)
    return _GENERATORS[key]


def planning_threads(device: str, threads: int | None = None) -> int | None:
    """The `SceneJob.threads` of an encode planned in this process on `device`: `threads` (--threads)
    when given, else this process's own count; None on a GPU, where the thread count changes nothing."""
    if not device.startswith("cpu"):
        return None
    if threads is not None:
        return threads
    import torch

    return torch.get_num_threads()


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with PyTorch's intra-op thread count set to `threads` (kept when None), then restore it."""
    if threads is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def encode_scene(job: SceneJob, scene: Scene, on_progress: Callable[[int], None] | None = None) -> bytes:
    """The units of one scene (scene-init unit first, then its keyframes), as a serial encode writes
    them; `on_progress(work done)` in fitting work (generator frame evaluations) as it goes."""
    with torch_threads(job.threads):
        return _encode_scene(job, scene, on_progress)


def _encode_scene(job: SceneJob, scene: Scene, on_progress: Callable[[int], None] | None) -> bytes:
    first, end = scene
    pieces: list[bytes] = []
    report = (lambda done, left: on_progress(done)) if on_progress is not None else None  # noqa: ARG005
    encoder = job.encoder(_generator(job), first, on_units=lambda frame, data: pieces.append(data),
                          on_progress=report)
    count = 0
    for image in job.source.frames(first, end - first):
        encoder.encode(image)
        count += 1
    if count != end - first:
        raise InputError(f"{job.source.path}: gave {count} frames from frame {first}, where the plan counted "
                         f"{end - first}: the file changed since it was planned")
    encoder.encode(None)
    return b"".join(pieces)


def scene_work(job: SceneJob, scene: Scene) -> int:
    """The planned fitting work of a scene, in the unit of `encode_scene`'s progress."""
    from ptcodec.encoder.encoder import planned_work

    return planned_work(job.stream, job.fitting, [scene[0]], scene[1], after=scene[0] - 1)


class SceneStore:
    """`<output>.scenes/`: the finished scenes of an encode, kept until the output is complete.

    `job.json` names the encode (a digest of its codec private data: the sequence header and the
    encoder's options), its scenes and its fitting thread count (CPU bytes depend on it); a store
    from another input, other options or another thread count is refused."""

    def __init__(self, output: str, codec_private: bytes, scenes: list[Scene], resume: bool,
                 threads: int | None = None) -> None:
        self.path = output + STORE_SUFFIX
        self.identity = {"codec_private_sha256": hashlib.sha256(codec_private).hexdigest(),
                         "scenes": [list(s) for s in scenes], "threads": threads}
        job_file = os.path.join(self.path, "job.json")
        if os.path.isdir(self.path):
            found = self._finished_names()
            if not resume and found:
                raise InputError(f"{self.path} holds {len(found)} finished scenes of an interrupted encode; continue "
                                 "it with --resume, or delete it to start over")
            if resume and found:
                try:
                    with open(job_file) as f:
                        held = json.load(f)
                except (OSError, ValueError) as error:
                    raise InputError(f"{job_file}: cannot be read ({error}); delete {self.path} to start over") from None
                if held != self.identity:
                    raise InputError(f"{self.path} was made from another input, with other options or another "
                                     "--threads; cannot resume (delete it to start over)")
        make_directory(self.path)
        with atomic_file(job_file) as f:
            f.write(json.dumps(self.identity, sort_keys=True).encode())

    def _finished_names(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.path) if n.startswith("scene-") and n.endswith(".units")]
        except OSError as error:
            raise write_error(self.path, error, "cannot read") from None

    def _file(self, scene: Scene) -> str:
        return os.path.join(self.path, f"scene-{scene[0]:09d}-{scene[1]:09d}.units")

    def has(self, scene: Scene) -> bool:
        return os.path.isfile(self._file(scene))

    def put(self, scene: Scene, data: bytes) -> None:
        with atomic_file(self._file(scene)) as f:
            f.write(data)

    def get(self, scene: Scene) -> bytes:
        try:
            with open(self._file(scene), "rb") as f:
                return f.read()
        except OSError as error:
            raise write_error(self._file(scene), error, "cannot read") from None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
