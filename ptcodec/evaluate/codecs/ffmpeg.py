"""The static FFmpeg binary of the `imageio-ffmpeg` wheel, run as a subprocess inside a work directory.

It carries what PyAV's own FFmpeg lacks (libvvenc, libaom, libvmaf). Each run gets its
arguments as a list (no shell), runs with cwd = workdir so that any side file (two-pass
logs) lands there, and a failure is one line with FFmpeg's last stderr line.
"""

from __future__ import annotations

import functools
import re
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.errors import InputError, PtcodecError
from ptcodec.evaluate.codecs.colour import to_yuv_bytes


@functools.cache
def ffmpeg_exe() -> str:
    """Path of the imageio-ffmpeg binary, or an InputError saying how to get it."""
    try:
        import imageio_ffmpeg
    except ImportError as error:
        raise InputError("imageio-ffmpeg is not installed: pip install 'ptcodec[eval]' (imageio-ffmpeg>=0.8.1)") from error
    try:
        return str(imageio_ffmpeg.get_ffmpeg_exe())
    except RuntimeError as error:
        raise InputError(f"imageio-ffmpeg has no ffmpeg binary for this platform: {error}") from error


@functools.cache
def ffmpeg_version() -> str:
    """'ffmpeg n9.0.2-... (imageio-ffmpeg 0.8.1)': the first line of `ffmpeg -version`, shortened."""
    import imageio_ffmpeg

    first = probe_ffmpeg(["-version"]).splitlines()[0]
    match = re.match(r"ffmpeg version (\S+)", first)
    return f"ffmpeg {match.group(1) if match else first} (imageio-ffmpeg {imageio_ffmpeg.__version__})"


def probe_ffmpeg(args: list[str]) -> str:
    """stdout of a quick query (-version, -encoders, -filters)."""
    result = subprocess.run([ffmpeg_exe(), "-hide_banner", *args], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise PtcodecError(f"ffmpeg {' '.join(args)} failed: {_last_line(result.stderr)}")
    return result.stdout


def _last_line(text: str) -> str:
    """FFmpeg's last error line (its closing "Conversion failed!" and exit-code lines say nothing), else its last line."""
    boilerplate = ("Conversion failed!", "Exiting with exit code")
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith(boilerplate)]
    errors = [line for line in lines if "error" in line.lower() or "invalid" in line.lower()]
    return (errors or lines or ["(no output)"])[-1]


def run_ffmpeg(args: list[str], workdir: Path, what: str) -> str:
    """Run `ffmpeg -hide_banner -nostdin -y <args>` in `workdir`; returns stderr, raises PtcodecError on failure."""
    command = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-y", *args]
    try:
        result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, errors="replace")
    except OSError as error:
        raise PtcodecError(f"{what}: cannot run ffmpeg: {error.strerror or error}") from error
    if result.returncode != 0:
        raise PtcodecError(f"{what}: ffmpeg failed: {_last_line(result.stderr)}")
    return result.stderr


def rawvideo_input(path: Path, width: int, height: int, fps: object) -> list[str]:
    """FFmpeg input arguments for a raw yuv420p file written by colour.to_yuv_bytes (BT.709, limited range)."""
    return [
        "-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", f"{width}x{height}", "-framerate", str(fps),
        "-colorspace", "bt709", "-color_range", "tv", "-i", str(path),
    ]  # fmt: skip


def encode_ffmpeg(
    frames: np.ndarray, fps: Fraction, path: Path, *, codec_args: list[str], muxer: str, passes: int, what: str
) -> str:
    """Encode RGB frames to `path` with FFmpeg: raw yuv420p from colour.to_yuv_bytes in, `codec_args`
    for the encoder, one or two passes (pass-1 output discarded, stats in workdir). Returns the
    last pass's stderr, which names the encoder's version."""
    workdir = path.parent
    height, width = frames.shape[1:3]
    source = workdir / "input.yuv"
    source.write_bytes(to_yuv_bytes(frames))
    stderr = ""
    try:
        for pass_ in range(1, passes + 1):
            pass_args = ["-pass", str(pass_), "-passlogfile", "ffmpeg2pass"] if passes == 2 else []
            target = ["-f", "null", "-"] if pass_ < passes else ["-f", muxer, str(path.resolve())]
            stderr = run_ffmpeg(
                ["-v", "verbose", *rawvideo_input(source.resolve(), width, height, fps), "-an", *codec_args, *pass_args,
                 *target], workdir, what)  # fmt: skip
    finally:
        source.unlink(missing_ok=True)
    return stderr
