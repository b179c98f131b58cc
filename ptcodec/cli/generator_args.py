"""Command-line options that choose and load a generator (shared by transcode and decode)."""

from __future__ import annotations

import argparse


def add_generator_args(p: argparse.ArgumentParser, *, choose: bool) -> None:
    g = p.add_argument_group("generator")
    if choose:
        g.add_argument("--generator", default="reference",
                       help="generator id: reference (built in, offline) or sd-turbo (needs weights); default reference")
    g.add_argument("--unet", help="sd-turbo: UNet hub id or local directory (default stabilityai/sd-turbo)")
    g.add_argument("--vae", help="sd-turbo: TAESD or SD VAE hub id or local directory (default madebyollin/taesd)")
    g.add_argument("--offline", action="store_true", help="never touch the network (local files and HF cache only)")
    g.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, mps (default cpu)")
    g.add_argument("--dtype", default="fp32", choices=["fp32", "fp16", "bf16"])


def generator_options(args: argparse.Namespace, generator_id: str) -> dict:
    """Keyword arguments of the generator's `load`."""
    options: dict = {"device": args.device, "dtype": args.dtype}
    if args.offline:
        options["offline"] = True
    if generator_id == "sd-turbo":
        options.update({k: v for k, v in (("unet", args.unet), ("vae", args.vae)) if v})
    return options
