"""VMAF per frame, by libvmaf (model vmaf_v0.6.1) inside the imageio-ffmpeg binary.

Both clips go to raw yuv420p through the evaluation's one colour conversion (BT.709, limited
range), so VMAF sees the same YUV samples as the codecs did; frame i of one is scored against
frame i of the other, and libvmaf must report exactly one score per frame.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ptcodec.errors import InputError, PtcodecError
from ptcodec.evaluate.codecs.colour import check_frames, to_yuv_bytes
from ptcodec.evaluate.codecs.ffmpeg import ffmpeg_version, rawvideo_input, run_ffmpeg

MODEL = "vmaf_v0.6.1"


@dataclass(frozen=True)
class VmafResult:
    """Per-frame VMAF, their mean, and the implementation that computed them."""

    per_frame: list[float]
    mean: float
    implementation: str


def vmaf(reference: np.ndarray, distorted: np.ndarray, workdir: Path, *, threads: int = 1) -> VmafResult:
    """VMAF of `distorted` against `reference`, both (N, H, W, 3) uint8 RGB of the same shape."""
    reference, distorted = check_frames(reference), check_frames(distorted)
    if reference.shape != distorted.shape:
        raise InputError(f"VMAF needs clips of the same shape, got {reference.shape} and {distorted.shape}")
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    n, height, width = reference.shape[:3]
    ref_path, dist_path, log_path = workdir / "vmaf_ref.yuv", workdir / "vmaf_dist.yuv", workdir / "vmaf.json"
    try:
        ref_path.write_bytes(to_yuv_bytes(reference))
        dist_path.write_bytes(to_yuv_bytes(distorted))
        # libvmaf's first input is the distorted clip, the second the reference.
        graph = f"[0:v][1:v]libvmaf=model=version={MODEL}:log_fmt=json:log_path=vmaf.json:n_threads={threads}"
        run_ffmpeg([*rawvideo_input(dist_path, width, height, 25), *rawvideo_input(ref_path, width, height, 25),
                    "-lavfi", graph, "-f", "null", "-"], workdir, "vmaf")  # fmt: skip
        log = json.loads(log_path.read_text())
    except (OSError, ValueError) as error:
        raise PtcodecError(f"vmaf: cannot read libvmaf's log {log_path}: {error}") from error
    finally:
        ref_path.unlink(missing_ok=True)
        dist_path.unlink(missing_ok=True)
    try:
        scores = [float(frame["metrics"]["vmaf"]) for frame in log["frames"]]
    except (KeyError, TypeError, ValueError) as error:
        raise PtcodecError(f"vmaf: libvmaf's log {log_path} has no per-frame vmaf scores") from error
    if len(scores) != n or not all(math.isfinite(s) for s in scores):
        raise PtcodecError(f"vmaf: libvmaf scored {len(scores)} frames of {n}")
    implementation = f"libvmaf {log.get('version', 'unknown')} (model {MODEL}) in {ffmpeg_version()}"
    return VmafResult(scores, float(np.mean(scores)), implementation)
