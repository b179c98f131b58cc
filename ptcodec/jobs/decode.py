"""`ptcodec decode`: a .ptv stream -> video (mp4, mkv, y4m or a PNG sequence)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

from ptcodec.decoder import DecodedFrame, Decoder
from ptcodec.generators import load_generator
from ptcodec.jobs.progress import bar
from ptcodec.media import VideoWriter
from ptcodec.ptv import PtvReader, SequenceHeader


@dataclass
class DecodeResult:
    header: SequenceHeader
    frames: int
    seconds: float

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else float("inf")


def decode_file(
    source: str | os.PathLike[str], output: str | os.PathLike[str], *, codec: str | None = None,
    generator_options: dict | None = None, check_fingerprint: bool = True, max_batch: int = 16,
    quiet: bool = False, on_frame: Callable[[DecodedFrame], None] | None = None,
) -> DecodeResult:
    with PtvReader(source) as reader:
        header = reader.header
        gen = load_generator(header.generator_id, **(generator_options or {}))
        decoder = Decoder(header, gen, max_batch=max_batch, check_fingerprint=check_fingerprint)
        progress = bar(header.frame_count or 0, "decoding", quiet=quiet)
        started = time.perf_counter()
        count = 0
        with VideoWriter(output, header.fps, codec=codec) as writer:
            for record in [*reader.units(), None]:
                for frame in decoder.push(record.unit) if record else decoder.flush():
                    writer.write(frame.image)
                    if on_frame is not None:
                        on_frame(frame)
                    count += 1
                    progress.update(1)
        progress.close()
    return DecodeResult(header, count, time.perf_counter() - started)
