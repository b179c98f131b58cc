"""`ptcodec decode`: a prompt stream (.ptv or Matroska) -> video (mp4, mkv, y4m or a PNG sequence).

From Matroska, the output keeps the file's audio. `start`/`duration` seek:
decoding starts at the access point at or before `start` (spec 11.3).
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

from ptcodec.container import InputContainer
from ptcodec.container import open as open_container
from ptcodec.decoder import DecodedFrame, Decoder
from ptcodec.errors import InputError
from ptcodec.generators import GeneratorOptions
from ptcodec.jobs.progress import Progress
from ptcodec.media import VideoWriter
from ptcodec.media.writer import takes_audio
from ptcodec.outputs import refuse_inputs
from ptcodec.ptv import SequenceHeader


@dataclass
class DecodeResult:
    header: SequenceHeader
    frames: int
    seconds: float
    concealed: int = 0

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else float("inf")


def decode_file(
    source: str | os.PathLike[str] | InputContainer, output: str | os.PathLike[str], *, codec: str | None = None,
    generator_options: GeneratorOptions | None = None, check_fingerprint: bool = True, max_batch: int = 16,
    progress: Progress | None = None, on_frame: Callable[[DecodedFrame], None] | None = None,
    start: float | None = None, duration: float | None = None,
) -> DecodeResult:
    """Decode `source` (a path, "-" for standard input, or an open container) into `output`;
    `progress("decoding", done, total)` counts frames."""
    if start is not None and not start >= 0:
        raise InputError(f"start must be a time in seconds >= 0, got {start}")
    if duration is not None and not duration > 0:
        raise InputError(f"duration must be a time in seconds > 0, got {duration}")
    with open_container(source) as container:  # `source` may be an open container (a pipe is read once)
        header = container.header
        fps = header.fps
        first = round(Fraction(start) * fps) if start else 0  # exact: 1e308 s is a frame index, not an overflow
        end = first + max(1, round(Fraction(duration) * fps)) if duration else None
        if header.frame_count and first >= header.frame_count:
            raise InputError(f"{container.path}: --start {start} s is past the end "
                             f"({float(header.frame_count / fps):.3f} s)")
        keep_audio = container.format == "matroska" and container.rereadable and not first and takes_audio(output)
        audio = container.path if keep_audio else None
        if container.has_audio and not container.rereadable and takes_audio(output):
            warnings.warn(f"{container.path}: its audio is not copied, because a pipe can be read only once; "
                          "decode the file itself to keep the audio", stacklevel=2)
        refuse_inputs(os.fspath(output), [container.path])
        writer = VideoWriter(output, fps, codec=codec, audio_from=audio)  # a bad output is refused before any work
        decoder = Decoder.load(header, options=generator_options, max_batch=max_batch,
                               check_fingerprint=check_fingerprint)
        total = max((end or header.frame_count or 0) - first, 0)
        started = time.perf_counter()
        count = concealed = 0
        if progress is not None:
            progress("decoding", 0, total)
        with writer:
            for frame in decoder.decode_range(container.demux(), first, end):
                writer.write(frame.image)
                if on_frame is not None:
                    on_frame(frame)
                count += 1
                concealed += frame.concealed
                if progress is not None:
                    progress("decoding", count, max(total, count))
    return DecodeResult(header, count, time.perf_counter() - started, concealed)
