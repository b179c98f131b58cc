"""The metrics of a decoded clip against its source, frame by frame, each naming its implementation.

Frames are (N, H, W, 3) uint8 RGB, paired by index: the two clips must have the
same number of frames of the same size (a one-line error otherwise). Every
metric returns one value per frame; the runner stores them all, and the report
takes means and shares from them.
"""

from __future__ import annotations

import importlib.metadata
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.errors import InputError, PtcodecError
from ptcodec.metrics import luma_psnr, msssim_window, psnr

PerFrame = Callable[[np.ndarray, np.ndarray, "MetricContext"], list[float]]


@dataclass(frozen=True)
class MetricContext:
    device: str = "cpu"
    workdir: Path = Path(".")
    lpips_weights: Path | None = None


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _psnr_rgb(a: np.ndarray, b: np.ndarray, _: MetricContext) -> list[float]:
    return [psnr(x, y) for x, y in zip(a, b, strict=True)]


def _psnr_y(a: np.ndarray, b: np.ndarray, _: MetricContext) -> list[float]:
    return [luma_psnr(x, y) for x, y in zip(a, b, strict=True)]


def _ssim(a: np.ndarray, b: np.ndarray, context: MetricContext, multi_scale: bool = False) -> list[float]:
    import torch
    from pytorch_msssim import ms_ssim, ssim

    out = []
    with torch.no_grad():
        for x, y in zip(a, b, strict=True):
            tx, ty = (torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None].float().to(context.device)
                      for f in (x, y))
            if multi_scale:
                win = msssim_window(min(x.shape[:2]))
                if win is None:
                    raise PtcodecError(f"MS-SSIM needs frames of more than 32 pixels a side, got {x.shape[1]}x{x.shape[0]}")
                out.append(float(ms_ssim(tx, ty, data_range=255, win_size=win)))
            else:
                out.append(float(ssim(tx, ty, data_range=255)))
    return out


_MODELS: dict[tuple[str, Path | None, str], Any] = {}


def _neural(name: str) -> PerFrame:
    def per_frame(a: np.ndarray, b: np.ndarray, context: MetricContext) -> list[float]:
        import torch

        from ptcodec.perceptual import load_metric

        key = (name, context.lpips_weights, context.device)
        if key not in _MODELS:  # one model per metric and device for the whole run
            weights = None if context.lpips_weights is None else str(context.lpips_weights)
            _MODELS[key] = load_metric(name, weights, context.device).eval()
        model = _MODELS[key]
        out = []
        with torch.no_grad():
            for x, y in zip(a, b, strict=True):
                tx, ty = (torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)[None].float().div(127.5).sub(1)
                          .to(context.device) for f in (x, y))
                out.append(float(model(tx, ty).flatten()[0]))
        return out

    return per_frame


def _vmaf(a: np.ndarray, b: np.ndarray, context: MetricContext) -> list[float]:
    from ptcodec.evaluate.vmaf import vmaf

    return vmaf(a, b, workdir=context.workdir).per_frame


@dataclass(frozen=True)
class Metric:
    name: str
    per_frame: PerFrame
    implementation: Callable[[], str]
    higher_is_better: bool = True


def _perceptual_implementation(name: str) -> Callable[[], str]:
    def describe() -> str:
        from ptcodec.perceptual import weights

        files = {"lpips-alex": [weights.ALEXNET], "lpips-vgg": [weights.VGG16],
                 "dists": [weights.VGG16, weights.DISTS_ALPHA_BETA]}[name]
        pinned = ", ".join(f"{f.distribution} {_version(f.distribution)} {f.name} sha256 {f.sha256[:16]}" for f in files)
        model = "DISTS" if name == "dists" else f"LPIPS v0.1 {name.split('-')[1]}"
        return f"ptcodec.perceptual {model} in plain torch, inputs RGB in [-1, 1] ({pinned})"

    return describe


def _vmaf_implementation() -> str:
    from ptcodec.evaluate.codecs.ffmpeg import ffmpeg_version
    from ptcodec.evaluate.vmaf import MODEL

    return f"libvmaf (model {MODEL}) in {ffmpeg_version()}"


METRICS: dict[str, Metric] = {
    "psnr": Metric("psnr", _psnr_rgb, lambda: "ptcodec.metrics.psnr: 8-bit RGB, peak 255, mean over R, G and B"),
    "psnr_y": Metric("psnr_y", _psnr_y, lambda: "ptcodec.metrics.luma_psnr: full-range BT.709 luma of 8-bit RGB"),
    "ssim": Metric("ssim", _ssim, lambda: f"pytorch-msssim {_version('pytorch-msssim')} ssim, RGB, data range 255"),
    "msssim": Metric("msssim", lambda a, b, c: _ssim(a, b, c, multi_scale=True),
                     lambda: f"pytorch-msssim {_version('pytorch-msssim')} ms_ssim, RGB, data range 255"),
    "vmaf": Metric("vmaf", _vmaf, _vmaf_implementation),
    "lpips-alex": Metric("lpips-alex", _neural("lpips-alex"), _perceptual_implementation("lpips-alex"), False),
    "lpips-vgg": Metric("lpips-vgg", _neural("lpips-vgg"), _perceptual_implementation("lpips-vgg"), False),
    "dists": Metric("dists", _neural("dists"), _perceptual_implementation("dists"), False),
}


def parse_metrics(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in METRICS]
    if unknown or not names:
        raise InputError(f"--metrics {text!r}: unknown {', '.join(unknown) or '(none given)'}; "
                         f"choose from {', '.join(METRICS)}")
    return names


def measure(names: tuple[str, ...], reference: np.ndarray, decoded: np.ndarray,
            context: MetricContext) -> tuple[dict[str, dict], dict[str, str]]:
    """({metric: {"mean", "per_frame"}}, {metric: implementation}) of a decoded clip against its source."""
    if reference.shape != decoded.shape:
        raise PtcodecError(f"decoded clip is {decoded.shape}, its source {reference.shape}: frames are paired "
                           "by index and must match in number and size")
    values, implementations = {}, {}
    for name in names:
        metric = METRICS[name]
        started = time.perf_counter()
        per_frame = [float(v) for v in metric.per_frame(reference, decoded, context)]
        finite = [v for v in per_frame if np.isfinite(v)]
        values[name] = {"mean": float(np.mean(finite)) if finite else float("inf"), "per_frame": per_frame,
                        "seconds": time.perf_counter() - started}
        implementations[name] = metric.implementation()
    return values, implementations
