"""The `sd-turbo` generator: SD 2.1 Turbo's UNet with TAESD (or the full SD VAE).

Each model is first found as a local folder (config.json and safetensors
weights): a directory given by the user, the Hugging Face cache, or, for a hub
id that is not cached and only when online, a download after one quick probe of
the hub. Its class comes from the saved config's `_class_name`, and diffusers'
`from_pretrained` must fill every parameter: weights that leave some at random
are refused. With `offline=True` (or HF_HUB_OFFLINE=1) the network is never
used. Every failure is one GeneratorError that says what to download (`hf
download ...`) and which folder layout --unet and --vae expect.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import torch

from ptcodec.errors import GeneratorError, one_line
from ptcodec.generators.base import Generator, fingerprint_state_dicts, torch_device
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
    unet, vae = UNet2DConditionModel(**SD_TURBO_UNET_CONFIG), AutoencoderTiny(**TAESD_CONFIG)
    return unet.eval(), vae.eval()  # type: ignore[attr-defined]  # torch.nn.Modules


DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}

CONFIG = "config.json"
WEIGHTS = "diffusion_pytorch_model.safetensors"
"""What a model folder holds. Only safetensors are read: a .bin checkpoint is a pickle."""
UNET_CLASSES = ("UNet2DConditionModel",)
VAE_CLASSES = ("AutoencoderTiny", "AutoencoderKL")
HUB_PROBE_TIMEOUT_S = 5.0
"""One attempt with this timeout tells an unreachable hub at once, instead of
huggingface_hub's retries (about 23 s) before every download."""


class _Part:
    """One model to load: which classes it may be, where to look, what to tell the user."""

    def __init__(self, what: str, option: str, classes: tuple[str, ...], subfolders: tuple[str, ...], layout: str):
        self.what, self.option, self.classes, self.subfolders, self.layout = what, option, classes, subfolders, layout

    def download_hint(self, repo: str) -> str:
        sub = self.subfolders[0]
        files = " ".join(f"{sub}/{name}" if sub else name for name in (CONFIG, WEIGHTS))
        return (f"get it on a connected machine with `hf download {repo} {files}` (into the Hugging Face cache), "
                f"or add `--local-dir DIR` and pass {self.option} DIR{'/' + sub if sub else ''}; {self.layout}")


UNET = _Part(
    "UNet", "--unet", UNET_CLASSES, ("unet", ""),
    f"--unet DIR is sd-turbo's unet folder ({CONFIG} and {WEIGHTS}) or the sd-turbo folder that holds unet/",
)
VAE = _Part(
    "VAE", "--vae", VAE_CLASSES, ("", "vae"),
    f"--vae DIR is a TAESD (AutoencoderTiny) or SD VAE (AutoencoderKL) folder with {CONFIG} and {WEIGHTS}, "
    "or a Stable Diffusion folder that holds vae/",
)


def is_offline_env() -> bool:
    """HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) as huggingface_hub reads it."""
    value = os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE") or ""
    return value.strip().upper() in {"1", "ON", "YES", "TRUE"}


def _model_folder(directory: Path, part: _Part) -> Path | None:
    """The folder under `directory` (itself or one of the part's subfolders) that holds a config."""
    for sub in part.subfolders:
        folder = directory / sub if sub else directory
        if (folder / CONFIG).is_file():
            return folder
    return None


def _cached_folder(repo: str, part: _Part) -> Path | None:
    """The model folder of a hub id in the Hugging Face cache, read without any network access."""
    from huggingface_hub import try_to_load_from_cache

    for sub in part.subfolders:
        config = try_to_load_from_cache(repo, f"{sub}/{CONFIG}" if sub else CONFIG)
        if isinstance(config, str) and (Path(config).parent / WEIGHTS).is_file():
            return Path(config).parent
    return None


def _hub_error(repo: str, part: _Part, why: str) -> GeneratorError:
    return GeneratorError(f"sd-turbo: cannot get the {part.what} {repo}: {why}; {part.download_hint(repo)}")


def _downloaded_folder(repo: str, part: _Part) -> Path:
    """Download a hub model's config and weights. One quick probe first: without a
    network it fails at once, not after huggingface_hub's retries."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RemoteEntryNotFoundError,
        RepositoryNotFoundError,
    )

    for sub in part.subfolders:
        try:
            get_hf_file_metadata(hf_hub_url(repo, CONFIG, subfolder=sub or None), timeout=HUB_PROBE_TIMEOUT_S,
                                 retry_on_errors=False)
        except RemoteEntryNotFoundError:
            continue
        except (RepositoryNotFoundError, GatedRepoError) as e:
            raise _hub_error(repo, part, f"no such repository, or it needs a login ({e.__class__.__name__})") from None
        except OfflineModeIsEnabled:
            raise _hub_error(repo, part, "huggingface_hub is in offline mode and the files are not cached") from None
        except HfHubHTTPError as e:
            raise _hub_error(repo, part, f"the hub answered {one_line(e, with_class=True)}") from None
        except Exception as e:  # the network fails in many ways (DNS, refused, timeout, TLS, proxy)
            raise _hub_error(
                repo, part, f"the Hugging Face hub cannot be reached ({one_line(e, with_class=True)}) and the files are not in "
                "the cache (--offline or HF_HUB_OFFLINE=1 skips the hub)",
            ) from None
        try:
            config = hf_hub_download(repo, CONFIG, subfolder=sub or None)
            hf_hub_download(repo, WEIGHTS, subfolder=sub or None)
        except Exception as e:  # an interrupted or refused download, in one line
            raise _hub_error(repo, part, f"the download failed ({one_line(e, with_class=True)})") from None
        return Path(config).parent
    names = " or ".join(f"{s}/{CONFIG}" if s else CONFIG for s in part.subfolders)
    raise _hub_error(repo, part, f"the repository has no {names}")


def _find(source: str, part: _Part, offline: bool) -> Path:
    """The local model folder of a directory or hub id; the network only for a hub id
    that is not in the cache, and never when offline."""
    if os.path.isdir(source):
        folder = _model_folder(Path(source), part)
        if folder is None:
            raise GeneratorError(
                f"sd-turbo: directory {source} holds no {CONFIG} for the {part.what}; {part.layout}"
            )
        return folder
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(source)
    except ValueError:  # HFValidationError
        raise GeneratorError(
            f"sd-turbo: the {part.what} {source} is neither a directory nor a hub id; {part.layout}"
        ) from None
    cached = _cached_folder(source, part)
    if cached is not None:
        return cached
    if offline:
        raise GeneratorError(
            f"sd-turbo: the {part.what} {source} is neither a directory nor in the Hugging Face cache "
            f"(offline: nothing is downloaded); {part.download_hint(source)}"
        )
    return _downloaded_folder(source, part)


def _class_of(folder: Path, part: _Part):
    """The diffusers class the saved config names (not a guess from the folder's name)."""
    import diffusers

    path = folder / CONFIG
    try:
        name = json.loads(path.read_text(encoding="utf-8")).get("_class_name")
    except (OSError, ValueError, AttributeError) as e:
        raise GeneratorError(f"sd-turbo: {path} is not a readable model config ({one_line(e, with_class=True)})") from None
    if name not in part.classes:
        raise GeneratorError(
            f"sd-turbo: {path} describes a {name!r}; the {part.what} must be one of {', '.join(part.classes)}"
        )
    return getattr(diffusers, name)


@contextmanager
def _quiet_diffusers() -> Iterator[None]:
    """diffusers logs warnings that ptcodec either turns into errors (missing weights)
    or that do not concern the user (accelerate, dtype casts): keep stderr to one line."""
    from diffusers.utils import logging as diffusers_logging

    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        yield
    finally:
        diffusers_logging.set_verbosity(level)


def _load(folder: Path, part: _Part):
    """Load one model completely from its folder; refuse weights that would leave
    any parameter at its random initial value."""
    from diffusers.utils import is_accelerate_available

    cls = _class_of(folder, part)
    if not (folder / WEIGHTS).is_file():
        raise GeneratorError(f"sd-turbo: {folder} has no {WEIGHTS} for the {part.what}; {part.layout}")
    try:
        with _quiet_diffusers():
            model, info = cls.from_pretrained(
                folder, local_files_only=True, use_safetensors=True, low_cpu_mem_usage=is_accelerate_available(),
                torch_dtype=torch.float32, output_loading_info=True,
            )
    except Exception as e:  # diffusers and safetensors raise many kinds for a bad checkpoint
        raise GeneratorError(f"sd-turbo: cannot load the {part.what} from {folder}: {one_line(e, with_class=True)}") from None
    problems = [f"{len(info[k])} {k.replace('_', ' ')}" for k in ("missing_keys", "unexpected_keys", "mismatched_keys")
                if info.get(k)]
    if problems:
        first = (info.get("missing_keys") or info.get("unexpected_keys") or [info["mismatched_keys"][0][0]])[0]
        raise GeneratorError(
            f"sd-turbo: {folder / WEIGHTS} does not fit the {cls.__name__} of its {CONFIG}: {', '.join(problems)} "
            f"(first: {first}); refusing weights that do not load completely"
        )
    return model


def _dtype(name: str) -> torch.dtype:
    if name not in DTYPES:
        raise GeneratorError(f"sd-turbo: dtype {name!r} is not one of {', '.join(DTYPES)}")
    return DTYPES[name]


def _moved(model, device: torch.device, dtype: torch.dtype):
    """Move a model, casting only when the dtype changes."""
    with _quiet_diffusers():
        model = model.to(device)
        return model if model.dtype == dtype else model.to(dtype=dtype)


class SDTurboGenerator(Generator):
    id = "sd-turbo"
    tokens = 77
    embed_dim = 1024
    latent_channels = 4
    downscale = 8
    native_size = (512, 512)
    perceptual = "lpips"  # the paper's metric

    def __init__(self, unet, vae, *, device: str = "cpu", dtype: str = "fp32") -> None:
        self.device = torch_device(device)
        self.dtype = _dtype(dtype)
        self._fingerprint = fingerprint_state_dicts([("unet", unet.state_dict()), ("vae", vae.state_dict())])
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
        """Device and dtype are checked first; each model's class comes from its saved
        config; with `offline` (default: HF_HUB_OFFLINE) the network is never used."""
        torch_device(device)
        _dtype(dtype)
        if offline is None:
            offline = is_offline_env()
        folders = _find(unet, UNET, offline), _find(vae, VAE, offline)  # both found before the slow loads
        return cls(_load(folders[0], UNET), _load(folders[1], VAE), device=device, dtype=dtype)

    def fingerprint(self) -> bytes:
        return self._fingerprint

    def encode_latent(self, frames: torch.Tensor) -> torch.Tensor:
        """VAE encoder output times the VAE's scaling factor (TAESD: 1, its latents
        are already in the 0.18215-scaled space; SD VAE: 0.18215, posterior mean), in float32."""
        out = self.vae.encode(frames.to(self.device, self.dtype))
        latent = out.latent_dist.mean if hasattr(out, "latent_dist") else out.latents
        return latent.float() * self.vae_scale

    def generate(self, noise: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The UNet and VAE run in the model dtype; x0 = a z - b eps is computed in
        float32 (as the authors' code does): its two terms are near 50 and cancel, so
        in fp16 it would lose up to 0.08. The returned latent is float32."""
        z = noise.to(self.device, torch.float32)
        cond = cond.to(self.device, self.dtype)
        eps = self.unet(z.to(self.dtype), TIMESTEP, encoder_hidden_states=cond).sample
        latent = predict_x0(z, eps.float(), self.sigma)
        return self.decode_latent(latent), latent

    def decode_latent(self, latents: torch.Tensor) -> torch.Tensor:
        """The VAE decoder in the model dtype, from latents in the scaled space `encode_latent` gives."""
        return self.vae.decode((latents.to(self.device) / self.vae_scale).to(self.dtype)).sample.clamp(-1, 1)
