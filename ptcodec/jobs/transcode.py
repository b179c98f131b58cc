"""`ptcodec transcode`: any video PyAV reads -> a .ptv prompt stream (or Matroska).

The output is written as `<out>.partial`, created before any work (so an output
that cannot be written is refused at once) and renamed when the stream is
complete; a `.mkv` output is muxed from it at the end. Each keyframe's units are
appended and made durable as soon as its fit is done, so an interrupted encode
(Ctrl-C, SIGTERM, a kill, a full disk, a crash) loses at most the fit in
progress: `resume=True` continues after the last complete keyframe of the
partial file, never fits again a keyframe it holds, and produces the same bytes
an uninterrupted encode would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction

from ptcodec.decoder import DecodedFrame
from ptcodec.encoder import EncodeReport, Encoder, EncoderOptions, KeyframeReport
from ptcodec.errors import InputError, PtcodecError
from ptcodec.generators import load_generator
from ptcodec.jobs.progress import advance, bar
from ptcodec.media import load_clip
from ptcodec.outputs import check_output, refuse_inputs, write_error
from ptcodec.ptv import MAGIC, Metadata, SequenceHeader
from ptcodec.ptv.writer import PARTIAL_SUFFIX, PartialStream, PtvWriter, read_partial

MATROSKA_SUFFIXES = (".mkv",)
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".webm", ".avi", ".y4m", ".rgb", ".png")
"""Names of decoded video: a prompt stream under such a name would be taken for one."""


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


class _Interruptions:
    """SIGINT and SIGTERM stop the encode (as KeyboardInterrupt, the partial file
    kept), but never in the middle of a write: a signal that arrives while units are
    written and made durable takes effect right after, so no interruption leaves a
    torn unit (resume would drop one, but a whole keyframe is better kept)."""

    def __init__(self) -> None:
        self._deferring = 0
        self._pending: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> "_Interruptions":
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)

    def _handle(self, signum: int, frame) -> None:  # noqa: ARG002 - signal handler signature
        if self._deferring:
            self._pending = signum
        else:
            self._raise(signum)

    @staticmethod
    def _raise(signum: int) -> None:
        raise _Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring += 1
        try:
            yield
        finally:
            self._deferring -= 1
        if not self._deferring and self._pending is not None:
            signum, self._pending = self._pending, None
            self._raise(signum)


class _PartialOutput:
    """The `<output>.partial` stream of one encode.

    It is created (or, to resume, found and opened) before any work; the sequence
    header and metadata are made durable before the first fit, and each keyframe's
    units right after its fit. A refused resume leaves the file exactly as it was.
    """

    def __init__(self, output: str, resume: bool, signals: _Interruptions) -> None:
        self.output, self.resume, self.signals = output, resume, signals
        self.path = output + PARTIAL_SUFFIX
        self.matroska = output.lower().endswith(MATROSKA_SUFFIXES)
        self.writer: PtvWriter | None = None
        self.started = False
        """The sequence header and metadata are durable: from here on the file is kept for --resume."""
        self.keyframes_written = 0
        if resume:
            self.found: PartialStream | None = read_partial(output)
            if not self.found.is_ptv:
                raise InputError(f"{self.path}: is not a .ptv stream; cannot resume (delete it to start over)")
            self._touch("r+b")  # writable? (opening it so changes nothing)
        else:
            self.found = None
            held = read_partial(output) if os.path.exists(self.path) else None
            if held is not None and held.keyframes:
                raise InputError(f"{self.path} holds an interrupted encode ({held.keyframes} keyframes); continue "
                                 "it with --resume, or delete it to start over")
            self._create()

    def _touch(self, mode: str) -> None:
        try:
            open(self.path, mode).close()  # noqa: SIM115 - opened only to check
        except OSError as error:
            raise write_error(self.path, error, "cannot open for writing") from None

    def _create(self) -> None:
        """Create the partial file and make its signature durable: an output that cannot
        be written, even a full disk, is refused before any work."""
        try:
            f = open(self.path, "wb")  # noqa: SIM115 - closed below
        except OSError as error:
            raise write_error(self.path, error, "cannot create") from None
        try:
            with f:
                f.write(MAGIC)
                f.flush()
                os.fsync(f.fileno())
        except OSError as error:
            with contextlib.suppress(OSError):
                os.remove(self.path)
            raise write_error(self.path, error) from None

    @property
    def resumed_keyframes(self) -> int:
        return self.found.keyframes if self.found else 0

    @property
    def done(self) -> list:
        """The units kept from the interrupted encode, sequence header first."""
        return [r.unit for r in self.found.records] if self.found else []

    def start(self, encoder: Encoder) -> None:
        """Refuse a partial file from another input or other options, before changing it;
        then open it and make the sequence header and metadata durable."""
        kept = self.found.records if self.found else []
        if kept:
            _check_resumable(self.path, self.done, encoder)
            self.writer = PtvWriter(self.output, encoder.header, keep_partial=True, after=kept)
            if len(kept) == 1:  # cut short after the sequence header
                with self.signals.deferred():
                    self.writer.write(encoder.metadata)
                    self.writer.flush()
        else:
            with self.signals.deferred():
                self.writer = PtvWriter(self.output, encoder.header, keep_partial=True)
                self.writer.write(encoder.metadata)
                self.writer.flush()
        self.started = True

    def append(self, frame: int, data: bytes) -> None:  # noqa: ARG002 - Encoder.on_units
        """A keyframe's units, on disk before the next fit starts."""
        with self.signals.deferred():
            self.writer.write_packet(data)
            self.writer.flush()
        self.keyframes_written += 1

    def finish(self) -> None:
        """Rename the complete stream into place, or mux it into the Matroska output."""
        if not self.matroska:
            with self.signals.deferred():
                self.writer.close()
            return
        from ptcodec.mkv import mux

        with self.signals.deferred():
            self.writer.finish()
        mux(self.path, self.output)  # atomic itself; if it is interrupted, the complete stream stays
        os.remove(self.path)

    def close(self) -> bool:
        """Stop writing after an interruption or an error, keeping the file; returns whether it exists."""
        if self.writer is not None:
            self.writer.abort()
        return os.path.exists(self.path)

    def discard(self) -> None:
        """After an error before the first fit: a fresh encode leaves no file behind."""
        self.close()
        if not self.resume:
            with contextlib.suppress(OSError):
                os.remove(self.path)


def transcode_file(
    source: str | os.PathLike[str], output: str | os.PathLike[str], options: EncoderOptions, *,
    generator: str = "reference", generator_options: dict | None = None, size: tuple[int, int] | None = None,
    fit: str = "crop", fps: Fraction | None = None, start: int = 0, max_frames: int | None = None,
    resume: bool = False, quiet: bool = False, on_frame: Callable[[DecodedFrame], None] | None = None,
) -> TranscodeResult:
    """Encode `source` into `output` (a .ptv stream; Matroska for a .mkv name);
    `on_frame` sees each closed-loop frame (what a decoder will output)."""
    output = os.fspath(output)
    options.check()  # before anything is read, loaded or written
    if os.fspath(source) == "-":
        raise InputError("-: transcode reads a file or a FIFO, not standard input (it needs the video's "
                         "frame rate and size first); use a FIFO made with mkfifo, or a file")
    if output.lower().endswith(VIDEO_SUFFIXES):
        raise InputError(f"{output}: transcode writes a prompt stream: name it .ptv, or .mkv for Matroska "
                         "(`ptcodec decode` makes video from it)")
    check_output(output, inputs=[source])
    refuse_inputs(output + PARTIAL_SUFFIX, [source])
    with _Interruptions() as signals:
        partial = _PartialOutput(output, resume, signals)
        try:
            return _transcode(source, partial, options, generator=generator, generator_options=generator_options,
                              size=size, fit=fit, fps=fps, start=start, max_frames=max_frames, quiet=quiet,
                              on_frame=on_frame)
        except KeyboardInterrupt:
            if partial.started:
                _say_kept(partial, quiet)
            else:  # interrupted while loading: nothing worth resuming
                partial.discard()
            raise
        except BaseException:
            if partial.keyframes_written:
                _say_kept(partial, quiet)
            elif partial.started:
                partial.close()  # kept for --resume, with nothing new to say about it
            else:
                partial.discard()
            raise


def _say_kept(partial: _PartialOutput, quiet: bool) -> None:
    if partial.close() and not quiet:
        held = partial.resumed_keyframes + partial.keyframes_written
        print(f"ptcodec: the unfinished stream is kept as {partial.path} ({held} keyframes done); "
              "run the same command with --resume to continue it")


def _transcode(source, partial: _PartialOutput, options: EncoderOptions, *, generator: str,
               generator_options: dict | None, size, fit: str, fps, start: int, max_frames: int | None,
               quiet: bool, on_frame) -> TranscodeResult:
    gen = load_generator(generator, **(generator_options or {}))
    box = size or gen.native_size[::-1]
    clip = load_clip(source, size=box, fit=fit, multiple=gen.downscale, fps=fps, start=start, max_frames=max_frames)
    count, height, width = clip.frames.shape[:3]
    progress = None

    def on_progress(done: int, left: int) -> None:
        if progress is not None:
            advance(progress, done, done + left)

    def on_keyframe(k: KeyframeReport) -> None:
        if not k.resumed:
            progress.set_postfix(frame=f"{encoder.frames_in}/{count}", keyframe=k.frame, loss=f"{k.loss:.4g}",
                                 psnr=f"{k.fit_psnr:.1f}dB", refresh=False)

    encoder = Encoder(gen, options, width=width, height=height, fps=clip.fps, frame_count=count,
                      resume=partial.done, on_frame=on_frame, on_keyframe=on_keyframe, on_units=partial.append,
                      on_progress=on_progress)
    partial.start(encoder)
    done, left = encoder.work
    progress = bar(done + left, "encoding", quiet=quiet, unit="frame-step", initial=done)
    try:
        for image in clip.frames:
            encoder.encode(image)
        encoder.encode(None)
        partial.finish()
    finally:
        progress.close()
    return TranscodeResult(encoder.header, encoder.report, partial.output, os.path.getsize(partial.output))


def _check_resumable(partial: str, done: list, encoder: Encoder) -> None:
    """The partial stream must come from this very input and these options."""
    header = done[0]
    if header != encoder.header:
        differs = [f for f in header.__dataclass_fields__ if getattr(header, f) != getattr(encoder.header, f)]
        raise PtcodecError(
            f"{partial} was made from another input or with other options "
            f"(sequence header differs in {', '.join(differs)}); cannot resume"
        )
    if len(done) > 1 and done[1] != encoder.metadata:
        what = "other encoder options" if isinstance(done[1], Metadata) else "another encoder"
        raise PtcodecError(f"{partial} was made with {what}; cannot resume")
