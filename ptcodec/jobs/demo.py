"""`ptcodec demo`: the embedded default job, offline on any machine.

It makes a short clip that the spec's reference generator can reproduce (so
the figures measure the codec, not the small generator), writes it losslessly,
transcodes it to a prompt stream, decodes the stream back to video, and reports
size, bitrate and quality. Real video at real quality needs SD-Turbo weights.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.encoder.resume import Critical
from ptcodec.generators import load_generator
from ptcodec.jobs.decode import DecodeResult, decode_file
from ptcodec.jobs.progress import Progress
from ptcodec.jobs.transcode import TranscodeResult, transcode_file
from ptcodec.media import read_frames, write_video
from ptcodec.media.writer import H264_OPTIONS, H264_PIX_FMT
from ptcodec.metrics import psnr
from ptcodec.outputs import PARTIAL_SUFFIX, check_output, make_directory

FPS = Fraction(30)
H264_LABEL = f"H.264 {H264_PIX_FMT} crf {H264_OPTIONS['crf']}"


@dataclass
class DemoResult:
    directory: Path
    transcode: TranscodeResult
    decode: DecodeResult
    rank: int
    psnr: list[float] = field(default_factory=list)
    """Per frame: the generated frames (what the decoder outputs, before any video coding) against the input."""
    stored_psnr: list[float] = field(default_factory=list)
    """Per frame: decoded.mp4 as stored (H.264, see ptcodec.media.writer) read back, against the input."""

    def summary(self) -> str:
        t, d = self.transcode, self.decode
        h = t.header
        raw_kbps = h.width * h.height * 3 * 8 * float(h.fps) / 1000
        keyframes = len(t.report.keyframes)
        return "\n".join([
            f"input    {self.directory / 'input.mkv'}: {h.frame_count} frames {h.width}x{h.height} at "
            f"{float(h.fps):g} fps, made by the reference generator (lossless FFV1)",
            f"stream   {t.output}: {t.bytes:,} bytes, {keyframes} keyframes at rank {self.rank}, "
            f"{t.kbps:.1f} kbit/s (raw RGB: {raw_kbps:,.0f} kbit/s, {raw_kbps / t.kbps:,.0f}x smaller)",
            f"encode   {t.report.seconds:.1f} s, {t.report.seconds / keyframes:.1f} s per keyframe",
            f"decode   {d.frames} frames generated, {d.fps:.1f} frames/s, written to {self.directory / 'decoded.mp4'}",
            f"quality  generated frames vs input: PSNR {np.mean(self.psnr):.2f} dB mean, {min(self.psnr):.2f} dB "
            "lowest (8-bit RGB: what the prompt stream reproduces)",
            f"         decoded.mp4 as stored vs input: PSNR {np.mean(self.stored_psnr):.2f} dB mean, "
            f"{min(self.stored_psnr):.2f} dB lowest ({H264_LABEL}, read back: the file adds H.264's own loss)",
            "",
            "This ran on ptcodec's small reference generator (spec/reference-generator.md), which exists to test",
            "the codec, not to watch: real video at real quality needs SD 2.1 Turbo. With its weights:",
            "  ptcodec transcode in.mp4 out.ptv --generator sd-turbo --unet DIR_OR_HUB_ID --vae DIR_OR_HUB_ID",
            "  ptcodec decode out.ptv out.mp4 --unet DIR_OR_HUB_ID --vae DIR_OR_HUB_ID",
        ])


def run_demo(directory: str | os.PathLike[str] = "ptcodec-demo", *, frames: int = 30, interval: int = 6,
             quality: str = "default", progress: Progress | None = None,
             critical: Critical = contextlib.nullcontext) -> DemoResult:
    """Make the clip, transcode it, decode it back, and measure; `critical` as in transcode_file
    (the demo always starts over, so it keeps no partial stream)."""
    directory = Path(directory)
    check_output(directory, directory=True)
    make_directory(directory)
    (directory / f"demo.ptv{PARTIAL_SUFFIX}").unlink(missing_ok=True)  # the demo starts over: no --resume here
    gen = load_generator("reference")
    clip = reachable_clip(gen, frames=frames, interval=interval, fps=FPS)
    write_video(directory / "input.mkv", clip, FPS, codec="ffv1")
    stream = StreamOptions(interval=interval)
    result = transcode_file(directory / "input.mkv", directory / "demo.ptv", stream, FitOptions(quality=quality),
                            generator="reference", size=(clip.shape[2], clip.shape[1]), progress=progress,
                            critical=critical)
    scores: list[float] = []
    decoded = decode_file(directory / "demo.ptv", directory / "decoded.mp4", progress=progress,
                          on_frame=lambda f: scores.append(psnr(f.image, clip[f.index])))
    stored = [psnr(image, clip[i]) for i, image in enumerate(read_frames(directory / "decoded.mp4"))]
    return DemoResult(directory, result, decoded, stream.rank, _finite(scores), _finite(stored))


def _finite(scores: list[float]) -> list[float]:
    """PSNR of identical frames is infinite: shown as 99 dB so that means stay finite."""
    return [s if math.isfinite(s) else 99.0 for s in scores]
