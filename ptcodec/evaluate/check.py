"""`ptcodec evaluate check`: which encoders and metrics this machine has, and why a missing one is missing."""

from __future__ import annotations

from pathlib import Path


def available(lpips_weights: Path | None = None) -> dict[str, tuple[bool, str]]:
    """{name: (available, what it is or why it is missing)} for every encoder and metric of `evaluate run`."""
    from ptcodec.evaluate.check_tools import available as tools
    from ptcodec.perceptual import METRICS
    from ptcodec.perceptual.weights import missing_reason

    rows = dict(tools())
    for metric in METRICS:
        why = missing_reason(metric, None if lpips_weights is None else str(lpips_weights))
        rows[metric] = (why is None, why or "plain torch, pinned weights found")
    for name, what in (("psnr", "ptcodec.metrics"), ("ssim", "pytorch-msssim"), ("msssim", "pytorch-msssim")):
        rows[name] = (True, what)
    for name, module, install in (("bd-rate", "bjontegaard", "pip install 'ptcodec[eval]'"),
                                  ("plots", "matplotlib", "pip install 'ptcodec[eval]'")):
        try:
            __import__(module)
            rows[name] = (True, module)
        except ImportError:
            rows[name] = (False, f"{module} is not installed: {install}")
    return rows
