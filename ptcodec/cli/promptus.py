"""`ptcodec import-promptus` and `export-promptus`: the authors' released files."""

from __future__ import annotations

import argparse
from fractions import Fraction

from ptcodec.cli.types import positive, rate
from ptcodec.interop.promptus import export_promptus, import_promptus
from ptcodec.process.noise import RELEASED_GAMMA, RELEASED_SEED


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "import-promptus",
        help="convert a released Promptus prompt directory to .ptv",
        description="Convert frame_XXXXX.prompt files and init.pth (loaded with weights_only=True) into a .ptv file. "
                    "Every file is checked before the output is opened: a bad one is named and nothing is written.",
    )
    p.add_argument("directory", help="folder with init.pth and frame_XXXXX.prompt files (5 or more digits)")
    p.add_argument("output", help="the .ptv file to write")
    p.add_argument("--fps", type=rate, default=Fraction(30), help="frame rate of the source video (default 30)")
    p.add_argument("--crc", action="store_true", help="protect every unit with a CRC-32C")
    p.add_argument("--frames", type=positive, default=None,
                   help="frame count, more than the last keyframe's index (default: last keyframe + 1)")
    p.set_defaults(run=run_import)
    p = sub.add_parser(
        "export-promptus",
        help="write a .ptv file as released Promptus prompt files",
        description="Write frame_XXXXX.prompt files and init.pth that the authors' generation.py loads as it loads "
                    "their own (tensors recorded on cuda:0, as theirs are; no GPU needed to write them). Only a "
                    "stream the released code can express is exported: one scene, per-tensor quantization, sd-turbo, "
                    f"noise seed {RELEASED_SEED}, gamma {RELEASED_GAMMA[0] / RELEASED_GAMMA[1]:g}, segment-start and "
                    "linear rules.",
    )
    p.add_argument("input", help="the .ptv file to export")
    p.add_argument("directory", help="folder to write (created if missing)")
    p.set_defaults(run=run_export)


def run_import(args: argparse.Namespace) -> int:
    header = import_promptus(args.directory, args.output, fps=args.fps, crc=args.crc, frame_count=args.frames)
    print(f"{args.output}: {header.width}x{header.height}, {header.frame_count} frames, generator {header.generator_id}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    count = export_promptus(args.input, args.directory)
    print(f"{args.directory}: {count} keyframes and init.pth")
    return 0
