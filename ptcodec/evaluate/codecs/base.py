"""The interface every pixel-codec baseline implements, and rate control over it.

An adapter encodes (N, H, W, 3) uint8 RGB frames at a target rate (`kbps`) or at a
codec parameter (`param`: CRF or QP), writes one elementary-stream file in `workdir`
and says its exact size; `decode` gives the frames back, paired with the input by index.
Rates count the file's bytes: raw Annex B (H.264/H.265/H.266) or AV1 OBUs, no container.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass, field, replace
from fractions import Fraction
from pathlib import Path
from typing import Any, Protocol

import av
import numpy as np

from ptcodec.errors import InputError, PtcodecError, one_line
from ptcodec.evaluate.codecs.colour import DESCRIPTION, from_yuv


@dataclass(frozen=True)
class Encoded:
    """One coded clip: its file, exact size, frame count and rate, and every setting that made it."""

    path: Path
    bytes: int
    frames: int
    fps: Fraction
    kbps: float
    settings: dict[str, Any] = field(default_factory=dict)


class PixelCodec(Protocol):
    """A baseline codec: encode at a rate or a parameter, decode back to RGB."""

    name: str

    def encode(
        self, frames: np.ndarray, fps: Fraction, *, kbps: float | None = None, param: int | None = None, workdir: Path
    ) -> Encoded: ...

    def decode(self, encoded: Encoded) -> np.ndarray: ...


def kbps_of(nbytes: int, frames: int, fps: Fraction) -> float:
    """bytes * 8 / 1000 / seconds, with seconds = frames / fps."""
    return nbytes * 8 / 1000 / float(frames / Fraction(fps))


def rate_mode(kbps: float | None, param: int | None) -> str:
    """Return "rate" or "param", checking that exactly one of them was given and is sensible."""
    if (kbps is None) == (param is None):
        raise InputError("give exactly one of kbps (a target rate) or param (a CRF/QP)")
    if kbps is not None and not (math.isfinite(kbps) and kbps > 0):
        raise InputError(f"target rate must be a positive number of kbit/s, got {kbps}")
    return "rate" if kbps is not None else "param"


def output_path(workdir: Path, filename: str) -> Path:
    """workdir/filename, creating workdir: every file an encode writes lies in its workdir."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    return workdir / filename


def finish(path: Path, frames: int, fps: Fraction, settings: dict[str, Any], *, kbps: float | None,
           param: int | None) -> Encoded:
    """The Encoded record of a finished file, or an error if the encoder wrote nothing. The settings every
    adapter shares (the colour conversion, what was asked for) are added here."""
    if not path.is_file() or path.stat().st_size == 0:
        raise PtcodecError(f"{settings.get('encoder', '?')}: no bitstream written to {path}")
    size = path.stat().st_size
    settings = {**settings, "colour": DESCRIPTION, "target_kbps": kbps, "param": param}
    return Encoded(path, size, frames, Fraction(fps), kbps_of(size, frames, fps), settings)


def decode_file(encoded: Encoded, demuxer: str) -> np.ndarray:
    """Decode an elementary-stream file with PyAV (FFmpeg's default decoder for it: h264, hevc,
    vvc, libdav1d) to (N, H, W, 3) RGB, in output order; the frame count must match the encode."""
    frames: list[np.ndarray] = []
    try:
        with av.open(str(encoded.path), format=demuxer) as container:
            for frame in container.decode(container.streams.video[0]):
                frames.append(from_yuv(frame))
    except av.FFmpegError as error:
        raise PtcodecError(f"{encoded.path}: cannot decode: {one_line(error)}") from error
    if len(frames) != encoded.frames:
        raise PtcodecError(f"{encoded.path}: decoded {len(frames)} frames, encoded {encoded.frames}")
    return np.stack(frames)


def next_request(tries: list[tuple[float, float]], target: float) -> float:
    """The next requested rate from the (requested, achieved) kbit/s of the tries so far.

    An encoder's achieved rate is closer to a power law of the request than proportional to it,
    so requests are interpolated in log-log space: between the nearest tries below and above the
    target once there are both, else on the line through the last two tries (a secant), else (one
    try, or no usable slope: an encoder stuck at its floor or ceiling) request * target / achieved.
    Each step is clamped to a factor of 4 either way so the request never runs off to 0 or infinity.
    """
    requested, achieved = tries[-1]
    below = [t for t in tries if 0 < t[1] < target]
    above = [t for t in tries if t[1] > target]
    if below and above:
        pair = (max(below, key=lambda t: t[1]), min(above, key=lambda t: t[1]))
    elif len(tries) >= 2:
        pair = (tries[-2], tries[-1])
    else:
        pair = None
    step = target / achieved
    if pair is not None:
        (r0, a0), (r1, a1) = pair
        if r0 != r1 and a0 > 0 and a1 > 0:
            slope = math.log(a1 / a0) / math.log(r1 / r0)
            if 0.1 <= slope <= 10:
                return r1 * min(4.0, max(0.25, math.exp(math.log(target / a1) / slope)))
    return requested * min(4.0, max(0.25, step))


def encode_at_rate(
    codec: PixelCodec,
    frames: np.ndarray,
    fps: Fraction,
    target_kbps: float,
    workdir: Path,
    tolerance: float = 0.02,
    tries: int = 4,
) -> Encoded:
    """Encode within `tolerance` of `target_kbps`, re-encoding at a corrected request (`next_request`).

    One encode misses by up to a fifth, and by a different factor per encoder and clip, so the
    request is corrected from the misses so far, at most `tries` encodes. Returns the closest try
    (its file kept in workdir/try<i>, the others removed), every try recorded in settings["rate_control"].
    """
    rate_mode(target_kbps, None)
    workdir = Path(workdir)
    requested = float(target_kbps)
    attempts: list[tuple[float, Encoded, Path]] = []
    for index in range(max(1, tries)):
        trydir = workdir / f"try{index}"
        if trydir.exists():
            shutil.rmtree(trydir)
        trydir.mkdir(parents=True)
        encoded = codec.encode(frames, fps, kbps=requested, workdir=trydir)
        attempts.append((requested, encoded, trydir))
        if abs(encoded.kbps / target_kbps - 1) <= tolerance:
            break
        requested = next_request([(r, e.kbps) for r, e, _ in attempts], target_kbps)
    best = min(range(len(attempts)), key=lambda i: abs(attempts[i][1].kbps / target_kbps - 1))
    for index, (_, _, trydir) in enumerate(attempts):
        if index != best:
            shutil.rmtree(trydir, ignore_errors=True)
    chosen = attempts[best][1]
    record = {
        "target_kbps": target_kbps,
        "tolerance": tolerance,
        "max_tries": tries,
        "rule": "request * target/achieved, then log-log interpolation (bracketing tries, else the last two); factor <= 4",
        "tries": [{"requested_kbps": r, "achieved_kbps": e.kbps, "bytes": e.bytes} for r, e, _ in attempts],
        "chosen_try": best,
        "error": chosen.kbps / target_kbps - 1,
        "within_tolerance": abs(chosen.kbps / target_kbps - 1) <= tolerance,
    }
    return replace(chosen, settings={**chosen.settings, "rate_control": record})
