"""`ptcodec transcode`: any video PyAV reads -> a .ptv prompt stream (or Matroska).

The output is written as `<out>.partial`, created before any work (so an output
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
import os
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from ptcodec.decoder import DecodedFrame
from ptcodec.encoder import Encoder, EncodeReport, FitOptions, KeyframeReport, StreamOptions
from ptcodec.encoder.resume import Critical, PartialOutput
from ptcodec.encoder.targets import for_target
from ptcodec.errors import InputError
from ptcodec.generators import GeneratorOptions, load_generator
from ptcodec.jobs.progress import Progress
from ptcodec.media import load_clip
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
    progress: Progress | None = None,
    on_frame: Callable[[DecodedFrame], None] | None = None,
    on_keyframe: Callable[[KeyframeReport], None] | None = None, on_kept: Kept | None = None,
    critical: Critical = contextlib.nullcontext,
) -> TranscodeResult:
    """Encode `source` into `output` (a .ptv stream; Matroska for a .mkv name). `crop`: "crop" or
    "keep" the aspect ratio within `size`. `progress("encoding", done, total)` counts fitting work;
    `on_frame` sees each closed-loop frame (what a decoder will output), `on_keyframe` each keyframe's
    fit; `target_kbps` chooses the rank (and a 1.1 stream's RDOQ lambda) for that rate, once the
    frame rate is known (encoder/targets.py); `on_kept` hears of a partial
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
    partial = PartialOutput(output, resume, critical)
    try:
        gen = load_generator(generator, generator_options)
        box = size or gen.native_size[::-1]
        clip = load_clip(source, size=box, fit=crop, multiple=gen.downscale, fps=fps, start=start,
                         max_frames=max_frames)
        count, height, width = clip.frames.shape[:3]
        if target_kbps is not None:
            stream = for_target(stream, target_kbps, tokens=gen.tokens, embed_dim=gen.embed_dim, fps=clip.fps)
        report = (lambda done, left: progress("encoding", done, done + left)) if progress is not None else None
        encoder = Encoder(gen, stream, fitting, width=width, height=height, fps=clip.fps, frame_count=count,
                          resume=partial.done, on_frame=on_frame, on_keyframe=on_keyframe, on_units=partial.append,
                          on_progress=report)
        partial.start(encoder)
        if progress is not None:
            progress("encoding", *_total(encoder.work))
        for image in clip.frames:
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


def _total(work: tuple[int, int]) -> tuple[int, int]:
    done, left = work
    return done, done + left


def _kept(partial: PartialOutput, on_kept: Kept | None) -> None:
    if partial.close() and on_kept is not None:
        on_kept(partial.path, partial.resumed_keyframes + partial.keyframes_written)
