"""`ptcodec transcode`: any video PyAV reads -> a .ptv prompt stream.

The output is written as `<out>.partial`, packet by packet, and renamed when the
stream is complete. An interrupted encode (Ctrl-C, a kill, a crash) leaves the
partial file; `resume=True` continues after its last complete keyframe and
produces the same bytes an uninterrupted encode would.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from ptcodec.decoder import DecodedFrame
from ptcodec.encoder import EncodeReport, Encoder, EncoderOptions, KeyframeReport
from ptcodec.errors import InputError, PtcodecError
from ptcodec.generators import load_generator
from ptcodec.jobs.progress import bar
from ptcodec.media import load_clip
from ptcodec.ptv import Keyframe, PtvWriter, SequenceHeader


@dataclass
class TranscodeResult:
    header: SequenceHeader
    report: EncodeReport
    output: str
    bytes: int

    @property
    def seconds_of_video(self) -> float:
        return float(self.header.frame_count * self.header.time_base)

    @property
    def kbps(self) -> float:
        return self.bytes * 8 / 1000 / self.seconds_of_video


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: the partial stream stays for --resume."""


def _on_sigterm(signum, frame):  # noqa: ARG001 - signal handler signature
    raise _Terminated()


def transcode_file(
    source: str | os.PathLike[str], output: str | os.PathLike[str], options: EncoderOptions, *,
    generator: str = "reference", generator_options: dict | None = None, size: tuple[int, int] | None = None,
    fit: str = "crop", fps: Fraction | None = None, start: int = 0, max_frames: int | None = None,
    resume: bool = False, quiet: bool = False, on_frame: Callable[[DecodedFrame], None] | None = None,
) -> TranscodeResult:
    """Encode `source` into `output`; `on_frame` sees each closed-loop frame (what a decoder will output)."""
    output = os.fspath(output)
    parent = Path(output).resolve().parent
    if not parent.is_dir():
        raise InputError(f"{output}: the directory {parent} does not exist")
    gen = load_generator(generator, **(generator_options or {}))
    box = size or gen.native_size[::-1]
    clip = load_clip(source, size=box, fit=fit, multiple=gen.downscale, fps=fps, start=start, max_frames=max_frames)
    count, height, width = clip.frames.shape[:3]
    progress = bar(count, "encoding", quiet=quiet)

    def on_keyframe(k: KeyframeReport) -> None:
        if not k.resumed:
            progress.set_postfix(keyframe=k.frame, loss=f"{k.loss:.4g}", psnr=f"{k.fit_psnr:.1f}dB", steps=k.steps)

    done = []
    if resume:
        writer, records = PtvWriter.resume(output)
        done = [r.unit for r in records]
    try:
        encoder = Encoder(gen, options, width=width, height=height, fps=clip.fps, frame_count=count, resume=done,
                          on_frame=on_frame, on_keyframe=on_keyframe)
        if resume:
            _check_resumable(output, done, encoder)
    except BaseException:
        if resume:
            writer.abort()  # the partial file stays as it was
        raise
    if not resume:
        writer = PtvWriter(output, encoder.header, keep_partial=True)
        writer.write(encoder.metadata)
    written_up_to = max((u.frame_index for u in done if isinstance(u, Keyframe)), default=-1)

    def write(packets) -> None:
        for packet in packets:
            if packet.pts > written_up_to:
                writer.write_packet(packet.data)
                writer.flush()

    previous = signal.signal(signal.SIGTERM, _on_sigterm) if threading.current_thread() is threading.main_thread() else None
    try:
        for image in clip.frames:
            write(encoder.encode(image))
            progress.update(1)
        write(encoder.encode(None))
        writer.close()
    except BaseException:
        writer.abort()  # keeps <output>.partial for --resume
        progress.close()
        if not quiet and encoder.report.keyframes:
            print(f"ptcodec: the unfinished stream is kept as {writer.partial_path}; "
                  "run the same command with --resume to continue it")
        raise
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
    progress.close()
    return TranscodeResult(encoder.header, encoder.report, output, os.path.getsize(output))


def _check_resumable(output: str, done: list, encoder: Encoder) -> None:
    """The partial stream must come from this very input and these options."""
    header = done[0]
    if header != encoder.header:
        differs = [f for f in header.__dataclass_fields__ if getattr(header, f) != getattr(encoder.header, f)]
        raise PtcodecError(
            f"{output}.partial was made from another input or with other options "
            f"(sequence header differs in {', '.join(differs)}); cannot resume"
        )
    if len(done) < 2 or done[1] != encoder.metadata:
        raise PtcodecError(f"{output}.partial was made with other encoder options; cannot resume")
