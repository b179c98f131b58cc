"""Command-line options that choose and load a generator (shared by transcode and decode)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ptcodec.generators import GeneratorOptions


def add_generator_args(p: argparse.ArgumentParser, *, choose: bool) -> None:
    g = p.add_argument_group("generator")
    if choose:
        g.add_argument("--generator", default="reference",
                       help="generator id: reference (built in, offline) or sd-turbo (needs weights); default reference")
    g.add_argument("--unet", metavar="DIR_OR_HUB_ID",
                   help="sd-turbo: the UNet, a hub id (default stabilityai/sd-turbo) or a local folder: sd-turbo's "
                        "unet folder (config.json, diffusion_pytorch_model.safetensors) or the folder holding unet/")
    g.add_argument("--vae", metavar="DIR_OR_HUB_ID",
                   help="sd-turbo: the VAE, a hub id (default madebyollin/taesd) or a local folder with config.json "
                        "and diffusion_pytorch_model.safetensors; TAESD or the full SD VAE, as its config.json says")
    g.add_argument("--offline", action="store_true",
                   help="never touch the network: local folders and the Hugging Face cache only (as HF_HUB_OFFLINE=1)")
    g.add_argument("--device", default="cpu",
                   help="cpu, cuda, cuda:N or mps (default cpu); one this machine lacks is refused before loading")
    g.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"],
                   help="model precision (default fp32); the one-step sampler math stays in fp32. "
                        "On the CPU use fp32 or bf16: fp16 is emulated there (allowed, with a warning)")


def generator_options(args: argparse.Namespace) -> "GeneratorOptions":
    """The generator options these arguments set (decode has no --generator: the stream names it)."""
    import dataclasses

    from ptcodec.generators import GeneratorOptions

    return GeneratorOptions(**{f.name: getattr(args, f.name) for f in dataclasses.fields(GeneratorOptions)})
