"""The `sd-turbo` generator: SD 2.1 Turbo's UNet with TAESD (or the full SD VAE).

Weights load through diffusers `from_pretrained` from a hub id, a local
directory, or the Hugging Face cache. With `offline=True` (or HF_HUB_OFFLINE=1)
nothing is fetched; missing weights raise one GeneratorError that says what to
download and how to point ptcodec at a local copy.
"""

from __future__ import annotations

import os

import torch

from ptcodec.errors import GeneratorError
from ptcodec.generators.base import Generator, fingerprint_state_dicts
from ptcodec.generators.onestep import TIMESTEP, predict_x0, sigma_at

DEFAULT_UNET = "stabilityai/sd-turbo"
DEFAULT_TAESD = "madebyollin/taesd"
SD_TURBO_UNET_CONFIG: dict = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "layers_per_block": 2,
    "block_out_channels": (320, 640, 1280, 1280),
    "down_block_types": ("CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"),
    "up_block_types": ("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    "attention_head_dim": (5, 10, 20, 20),
    "cross_attention_dim": 1024,
    "use_linear_projection": True,
    "norm_num_groups": 32,
    "norm_eps": 1e-5,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "act_fn": "silu",
}
"""stabilityai/sd-turbo unet/config.json (the SD 2.1 UNet): the architecture that
random-weight tests and benchmarks build when the real weights are not at hand."""

TAESD_CONFIG: dict = {
    "encoder_block_out_channels": (64, 64, 64, 64),
    "decoder_block_out_channels": (64, 64, 64, 64),
    "num_encoder_blocks": (1, 3, 3, 3),
    "num_decoder_blocks": (3, 3, 3, 1),
    "latent_channels": 4,
    "scaling_factor": 1.0,
}
"""madebyollin/taesd config.json (diffusers AutoencoderTiny)."""


def random_weights(seed: int = 0):
    """SD-Turbo's UNet and TAESD with random weights: the real architecture, for tests and benchmarks."""
    from diffusers import AutoencoderTiny, UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(**SD_TURBO_UNET_CONFIG).eval(), AutoencoderTiny(**TAESD_CONFIG).eval()


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


def _from_pretrained(cls, source: str, subfolder: str | None, offline: bool, default: str, what: str):
    """Load one diffusers model; turn every loading failure into one actionable line."""
    local = os.path.isdir(source)
    if local and subfolder and not os.path.isdir(os.path.join(source, subfolder)):
        subfolder = None  # the directory is the model folder itself
    try:
        return cls.from_pretrained(
            source, subfolder=subfolder, local_files_only=offline or local, torch_dtype=torch.float32
        )
    except (OSError, ValueError) as e:
        where = f"directory {source}" if local else f"{source} ({'offline: Hugging Face cache only' if offline else 'hub'})"
        reason = str(e).splitlines()[0][:200].rstrip(".") if str(e) else e.__class__.__name__
        raise GeneratorError(
            f"sd-turbo: cannot load the {what} from {where}: {reason}. "
            f"Get the weights with `huggingface-cli download {default}` on a connected machine and pass "
            f"their directory (--unet / --vae), or copy them into the Hugging Face cache."
        ) from None


def _moved(model, device: torch.device, dtype: torch.dtype):
    """Move a model, casting only when the dtype changes (diffusers warns on every cast)."""
    model = model.to(device)
    return model if model.dtype == dtype else model.to(dtype=dtype)


class SDTurboGenerator(Generator):
    id = "sd-turbo"
    tokens = 77
    embed_dim = 1024
    latent_channels = 4
    downscale = 8
    native_size = (512, 512)

    def __init__(self, unet, vae, *, device: str = "cpu", dtype: str = "fp32") -> None:
        self._fingerprint = fingerprint_state_dicts([("unet", unet.state_dict()), ("vae", vae.state_dict())])
        self.device = torch.device(device)
        self.dtype = DTYPES[dtype]
        self.unet = _moved(unet, self.device, self.dtype).eval().requires_grad_(False)
        self.vae = _moved(vae, self.device, self.dtype).eval().requires_grad_(False)
        self.sigma = sigma_at(TIMESTEP)
        # TAESD works directly on the 0.18215-scaled latent (its scaling factor is 1);
        # the full SD VAE divides by its own scaling factor first.
        self.vae_scale = float(getattr(vae.config, "scaling_factor", 1.0) or 1.0)

    @classmethod
    def load(
        cls, unet: str = DEFAULT_UNET, vae: str = DEFAULT_TAESD, *, offline: bool | None = None,
        device: str = "cpu", dtype: str = "fp32",
    ) -> "SDTurboGenerator":
        from diffusers import AutoencoderKL, AutoencoderTiny, UNet2DConditionModel

        if offline is None:
            offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0")
        unet_model = _from_pretrained(UNet2DConditionModel, unet, "unet", offline, DEFAULT_UNET, "UNet")
        tiny = "taesd" in os.path.basename(vae.rstrip("/")).lower()
        vae_cls = AutoencoderTiny if tiny else AutoencoderKL
        vae_model = _from_pretrained(vae_cls, vae, None if tiny else "vae", offline, DEFAULT_TAESD, "VAE")
        return cls(unet_model, vae_model, device=device, dtype=dtype)

    def fingerprint(self) -> bytes:
        return self._fingerprint

    def encode_latent(self, frames: torch.Tensor) -> torch.Tensor:
        """VAE encoder output times the VAE's scaling factor (TAESD: 1, its latents
        are already in the 0.18215-scaled space; SD VAE: 0.18215, posterior mean)."""
        out = self.vae.encode(frames.to(self.device, self.dtype))
        latent = out.latent_dist.mean if hasattr(out, "latent_dist") else out.latents
        return latent * self.vae_scale

    def generate(self, noise: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        noise = noise.to(self.device, self.dtype)
        cond = cond.to(self.device, self.dtype)
        eps = self.unet(noise, TIMESTEP, encoder_hidden_states=cond).sample
        latent = predict_x0(noise, eps, self.sigma)
        frames = self.vae.decode(latent / self.vae_scale).sample.clamp(-1, 1)
        return frames, latent
