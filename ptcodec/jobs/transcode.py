"""`ptcodec transcode`: any video PyAV reads -> a .ptv prompt stream (or Matroska).

A file is read twice: a first pass fixes the scenes and counts the frames (jobs/plan.py),
then the encode reads it again frame by frame, so memory is bounded by a segment, not by the
clip (a pipe or FIFO, which can be read only once, is held in memory instead). With `workers`
or `ray_address` the scenes are fitted in parallel as Ray tasks and joined (jobs/scenes.py,
jobs/distributed.py): the same bytes as the serial encode, kept and resumed scene by scene.

Serially, the output is written as `<out>.partial`, created before any work (so an output
that cannot be written is refused at once) and renamed when the stream is
complete; a `.mkv` output is muxed from it at the end. Each keyframe's units are
appended and made durable as soon as its fit is done, so an interrupted encode
(Ctrl-C, SIGTERM, a kill, a full disk, a crash) loses at most the fit in
progress: `resume=True` continues after the last complete keyframe of the
partial file, never fits again a keyframe it holds, and produces the same bytes
an uninterrupted encode would (ptcodec/encoder/resume.py). The job reports
through callbacks and never prints; the CLI decides what the user sees, and
defers signals over the writes (`critical`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ptcodec.decoder import DecodedFrame
from ptcodec.encoder import Encoder, EncodeReport, FitOptions, KeyframeReport, StreamOptions
from ptcodec.encoder.resume import Critical, PartialOutput
from ptcodec.encoder.targets import for_target
from ptcodec.errors import InputError
from ptcodec.generators import GeneratorOptions, load_generator
from ptcodec.generators.base import Generator
from ptcodec.jobs.plan import ScenePlan, Source, make_plan
from ptcodec.jobs.progress import Progress
from ptcodec.jobs.scenes import SceneJob, SceneStore, planning_threads, scene_work, torch_threads
from ptcodec.media import load_clip, probe
from ptcodec.media.reader import is_stream
from ptcodec.outputs import PARTIAL_SUFFIX, check_output, refuse_inputs
from ptcodec.ptv import SequenceHeader

VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".avi", ".y4m", ".rgb", ".png")
"""Names of decoded video: a prompt stream under such a name would be taken for one."""

Kept = Callable[[str, int], None]
"""`on_kept(partial path, keyframes it holds)`: an interrupted or failed encode left its work for --resume."""


@dataclass
class TranscodeResult:
    header: SequenceHeader
    report: EncodeReport
    output: str
    bytes: int
    resumed_keyframes: int = 0
    """Keyframes taken from the partial stream of an interrupted encode, not fitted again."""
    stream: StreamOptions = StreamOptions()
    """The stream options encoded with (--target-kbps chooses their rank)."""
    resumed_scenes: int = 0
    """Scene-parallel: scenes kept from an interrupted encode (jobs/scenes.py), not fitted again."""
    scenes: int = 0
    """Scene-parallel: the scenes of the plan (0: a serial encode)."""

    @property
    def seconds_of_video(self) -> float:
        return float(self.header.frame_count * self.header.time_base)

    @property
    def kbps(self) -> float:
        return self.bytes * 8 / 1000 / self.seconds_of_video


def transcode_file(
    source: str | os.PathLike[str], output: str | os.PathLike[str], stream: StreamOptions = StreamOptions(),
    fitting: FitOptions = FitOptions(), *, generator: str = "reference", generator_options: GeneratorOptions | None = None,
    size: tuple[int, int] | None = None, crop: str = "crop", fps: Fraction | None = None, start: int = 0,
    max_frames: int | None = None, resume: bool = False, target_kbps: float | None = None,
    max_scene_s: float | None = None, workers: int | None = None, ray_address: str | None = None,
    threads: int | None = None, progress: Progress | None = None,
    on_frame: Callable[[DecodedFrame], None] | None = None,
    on_keyframe: Callable[[KeyframeReport], None] | None = None, on_kept: Kept | None = None,
    critical: Critical = contextlib.nullcontext,
) -> TranscodeResult:
    """Encode `source` into `output` (a .ptv stream; Matroska for a .mkv name). `crop`: "crop" or
    "keep" the aspect ratio within `size`. `progress("encoding", done, total)` counts fitting work;
    `on_frame` sees each closed-loop frame (what a decoder will output), `on_keyframe` each keyframe's
    fit; `target_kbps` chooses the rank (and a 1.1 stream's RDOQ lambda) for that rate, once the
    frame rate is known (encoder/targets.py); `max_scene_s`: --max-scene in seconds; `workers` or
    `ray_address`: fit the scenes as Ray tasks (jobs/scenes.py, jobs/distributed.py; the same bytes,
    resumed by scene; `on_frame` and `on_keyframe` are not called); `threads`: PyTorch's CPU thread
    count for fitting (--threads; default this process's), which CPU bytes depend on, so serial and
    scene-parallel encodes with the same `threads` give the same bytes; `on_kept` hears of a partial
    stream left for --resume; `critical()` wraps every write (no interruption may split one)."""
    output = os.fspath(output)
    stream.check()  # before anything is read, loaded or written
    fitting.check()
    if os.fspath(source) == "-":
        raise InputError("-: transcode reads a file or a FIFO, not standard input (it needs the video's "
                         "frame rate and size first); use a FIFO made with mkfifo, or a file")
    if output.lower().endswith(VIDEO_SUFFIXES):
        raise InputError(f"{output}: transcode writes a prompt stream: name it .ptv, or .mkv for Matroska "
                         "(`ptcodec decode` makes video from it)")
    check_output(output, inputs=[source])
    refuse_inputs(output + PARTIAL_SUFFIX, [source])
    if threads is not None and threads < 1:
        raise InputError(f"--threads {threads}: give at least 1")
    parallel = workers is not None or ray_address is not None
    if parallel and is_stream(os.fspath(source)):
        raise InputError(f"{source}: is a pipe or FIFO; scene-parallel transcoding reads the input twice (to plan, "
                         "then to fit each scene): save it to a file first")
    if parallel:
        if workers is not None and workers < 1:
            raise InputError(f"--workers {workers}: give at least 1")
        return _transcode_scenes(source, output, stream, fitting, generator, generator_options, size, crop, fps, start,
                                 max_frames, resume, target_kbps, max_scene_s, progress, workers, ray_address,
                                 threads, critical)
    with torch_threads(threads):
        return _transcode_serial(source, output, stream, fitting, generator, generator_options, size, crop, fps,
                                 start, max_frames, resume, target_kbps, max_scene_s, progress, on_frame, on_keyframe,
                                 on_kept, critical)


def _transcode_serial(source, output: str, stream: StreamOptions, fitting: FitOptions, generator: str,
                      generator_options: GeneratorOptions | None, size, crop: str, fps, start: int,
                      max_frames: int | None, resume: bool, target_kbps: float | None, max_scene_s: float | None,
                      progress: Progress | None, on_frame: Callable[[DecodedFrame], None] | None,
                      on_keyframe: Callable[[KeyframeReport], None] | None, on_kept: Kept | None,
                      critical: Critical) -> TranscodeResult:
    """One process fits every keyframe in order, appending each to `<output>.partial` as it is done."""
    partial = PartialOutput(output, resume, critical)
    try:
        gen = load_generator(generator, generator_options)
        box = size or gen.native_size[::-1]
        if is_stream(os.fspath(source)):  # read once: held in memory, scenes found as frames come
            clip = load_clip(source, size=box, fit=crop, multiple=gen.downscale, fps=fps, start=start,
                             max_frames=max_frames)
            frames: Iterable[np.ndarray] = clip.frames
            (count, height, width), rate, starts = clip.frames.shape[:3], clip.fps, None
            stream = _max_scene(stream, max_scene_s, rate)
        else:  # planned first, then read again frame by frame: memory bounded by a segment
            src = Source(os.fspath(source), box, crop, gen.downscale, fps, start)
            plan, stream = _plan(src, gen, stream, max_frames, max_scene_s, progress)
            frames = src.frames(0, plan.frame_count)
            count, height, width, rate, starts = plan.frame_count, plan.height, plan.width, plan.fps, plan.scene_starts
        if target_kbps is not None:
            stream = for_target(stream, target_kbps, tokens=gen.tokens, embed_dim=gen.embed_dim, fps=rate)
        report = (lambda done, left: progress("encoding", done, done + left)) if progress is not None else None
        encoder = Encoder(gen, stream, fitting, width=width, height=height, fps=rate, frame_count=count,
                          resume=partial.done, scene_starts=starts, on_frame=on_frame, on_keyframe=on_keyframe,
                          on_units=partial.append, on_progress=report)
        partial.start(encoder)
        if progress is not None:
            progress("encoding", *_total(encoder.work))
        for image in frames:
            encoder.encode(image)
        encoder.encode(None)
        partial.finish()
    except KeyboardInterrupt:
        if partial.started:
            _kept(partial, on_kept)
        else:  # interrupted while loading: nothing worth resuming
            partial.discard()
        raise
    except BaseException:
        if partial.keyframes_written:
            _kept(partial, on_kept)
        elif partial.started:
            partial.close()  # kept for --resume, with nothing new to say about it
        else:
            partial.discard()
        raise
    return TranscodeResult(encoder.header, encoder.report, partial.output, os.path.getsize(partial.output),
                           partial.resumed_keyframes, stream)


def _max_scene(stream: StreamOptions, seconds: float | None, fps: Fraction) -> StreamOptions:
    """--max-scene given in seconds, as frames at the encode's frame rate."""
    if seconds is None:
        return stream
    return dataclasses.replace(stream, max_scene_length=max(1, round(Fraction(seconds) * fps)))


def _plan(src: Source, gen: Generator, stream: StreamOptions, max_frames: int | None, max_scene_s: float | None,
          progress: Progress | None) -> tuple[ScenePlan, StreamOptions]:
    """The first pass (jobs/plan.py), with --max-scene in seconds resolved at the input's frame rate."""
    info = probe(src.path)
    stream = _max_scene(stream, max_scene_s, Fraction(src.fps if src.fps is not None else info.fps))
    estimate = max_frames or info.frame_count or 0
    report = (lambda done: progress("planning", done, max(done, estimate))) if progress is not None else None
    plan = make_plan(src, gen, scene_threshold=stream.scene_threshold, max_scene_length=stream.max_scene_length,
                     max_frames=max_frames, progress=report)
    return plan, stream


def _transcode_scenes(source, output: str, stream: StreamOptions, fitting: FitOptions, generator: str,
                      generator_options: GeneratorOptions | None, size, crop: str, fps, start: int,
                      max_frames: int | None, resume: bool, target_kbps: float | None, max_scene_s: float | None,
                      progress: Progress | None, workers: int | None, ray_address: str | None,
                      threads: int | None, critical: Critical) -> TranscodeResult:
    """Plan, fit every scene as a Ray task (jobs/distributed.py), join them: the bytes of the serial encode."""
    from ptcodec.jobs.distributed import run_scenes

    options = generator_options or GeneratorOptions()
    gen = load_generator(generator, options)
    box = size or gen.native_size[::-1]
    src = Source(os.fspath(source), box, crop, gen.downscale, fps, start)
    plan, stream = _plan(src, gen, stream, max_frames, max_scene_s, progress)
    if target_kbps is not None:
        stream = for_target(stream, target_kbps, tokens=gen.tokens, embed_dim=gen.embed_dim, fps=plan.fps)
    job = SceneJob(src, plan, stream, fitting, generator, options, planning_threads(options.device, threads))
    encoder = job.encoder(gen)  # the stream's header and metadata; it fits nothing
    store = SceneStore(output, encoder.codec_private, plan.scenes, resume, job.threads)
    todo = [scene for scene in plan.scenes if not store.has(scene)]
    kept = len(plan.scenes) - len(todo)

    kept_work = sum(scene_work(job, s) for s in plan.scenes if store.has(s))

    def report(scenes_done: int, done: int, total: int) -> None:  # noqa: ARG001 - distributed.run_scenes
        if progress is not None:
            progress("encoding", done + kept_work, total + kept_work)

    if progress is not None:
        progress("encoding", kept_work, kept_work + sum(scene_work(job, s) for s in todo))
    if todo:
        run_scenes(job, todo, workers=workers, address=ray_address, keep=store.put, progress=report,
                   work_of=lambda s: scene_work(job, s))
    partial = PartialOutput(output, resume=False, critical=critical)
    try:
        partial.start(encoder)
        for scene in plan.scenes:
            partial.append(scene[0], store.get(scene))
        partial.finish()
    except BaseException:
        partial.discard()
        raise
    store.remove()
    summary = EncodeReport(frames=plan.frame_count, scene_starts=list(plan.scene_starts))
    return TranscodeResult(encoder.header, summary, partial.output, os.path.getsize(partial.output), 0, stream,
                           resumed_scenes=kept, scenes=len(plan.scenes))


def _total(work: tuple[int, int]) -> tuple[int, int]:
    done, left = work
    return done, done + left


def _kept(partial: PartialOutput, on_kept: Kept | None) -> None:
    if partial.close() and on_kept is not None:
        on_kept(partial.path, partial.resumed_keyframes + partial.keyframes_written)
