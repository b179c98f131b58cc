"""`ptcodec info` and `ptcodec validate`: read a stream without any model."""

from __future__ import annotations

import argparse
import json
import sys

from ptcodec.ptv import PtvReader
from ptcodec.ptv.dump import CONFORMANCE_HASH_OVER, record_dict, unit_fields
from ptcodec.ptv.summary import StreamSummary, summarize
from ptcodec.ptv.syntax import InterpRule, PrevLatentRule, QuantScheme


def open_reader(path: str) -> PtvReader:
    """A `.ptv` file, or the prompt track of a Matroska file, as one stream;
    "-" is standard input. A pipe or FIFO is read once, front to back."""
    from ptcodec.container.matroska import open_input, read_prompt_track

    given = open_input(path)
    if given.matroska:
        try:
            return PtvReader(read_prompt_track(given).ptv_bytes(), path=f"{path} (prompt track)")
        finally:
            given.close()
    return PtvReader(given.stream or path, path=path, closes=True)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="summarize a .ptv file (or a Matroska prompt track)",
                       description="Summarize a .ptv file, or the prompt track of a Matroska file.")
    p.add_argument("file", help="a .ptv file or a Matroska file with a prompt track; - for standard input")
    p.add_argument("--json", action="store_true", help="dump every syntax element as JSON")
    p.add_argument("--hash-bytes", action="store_true", help=(
        "with --json, write byte strings over 32 bytes as sha256:HEX (the conformance parse-dump format)"))
    p.set_defaults(run=run_info)
    p = sub.add_parser("validate", help="check a .ptv file (or a Matroska prompt track) against the spec", description=(
        "Exit 0 when FILE is a valid stream; otherwise print one line naming the problem and exit 1."))
    p.add_argument("file", help="a .ptv file or a Matroska file with a prompt track; - for standard input")
    p.add_argument("-q", "--quiet", action="store_true", help="print nothing when the file is valid")
    p.set_defaults(run=run_validate)
    p = sub.add_parser("reconstruct", help="dump everything before the generator (conformance tier 2)",
                       description="Write the dequantized factors, N0, scene-init latents and noise, and the "
                       "conditioning c of every frame as little-endian binary32 files with an index.json of "
                       "shapes and SHA-256 (format: ptcodec/process/reconstruction.py). Needs no model.")
    p.add_argument("file", help="a .ptv file or a Matroska file with a prompt track; - for standard input")
    p.add_argument("directory", help="where to write the arrays and index.json (created if missing)")
    p.set_defaults(run=run_reconstruct)


def run_info(args: argparse.Namespace) -> int:
    with open_reader(args.file) as reader:
        if args.json:
            records = list(reader.units())
            hash_over = CONFORMANCE_HASH_OVER if args.hash_bytes else None
            dump = {"file": args.file, "header": unit_fields(reader.header, hash_over),
                    "units": [record_dict(r, hash_over) for r in records]}
            json.dump(dump, sys.stdout, indent=1)
            print()
            return 0
        summary = summarize(reader.header, reader.units())
    print(format_summary(args.file, summary))
    return 0


def run_validate(args: argparse.Namespace) -> int:
    with open_reader(args.file) as reader:
        summary = summarize(reader.header, reader.units())
    if not args.quiet:
        print(f"{args.file}: valid ({summary.units} units, {len(summary.keyframes)} keyframes, {summary.frames} frames)")
    return 0


def run_reconstruct(args: argparse.Namespace) -> int:
    from ptcodec.process.reconstruction import reconstruct

    with open_reader(args.file) as reader:
        units = [record.unit for record in reader.units()]
    header = reader.header
    index = reconstruct(header, units[1:]).write(args.directory)
    frames = sum(name.startswith("c_") for name in index)
    print(f"{args.directory}: {len(index)} arrays ({frames} frames of c) and index.json")
    return 0


def _rate(bits_per_second: float) -> str:
    return f"{bits_per_second / 1000:.1f} kbit/s"


def format_summary(path: str, s: StreamSummary) -> str:
    h = s.header
    fps = h.fps
    fps_text = f"{float(fps):g}" if fps.denominator != 1 else str(fps.numerator)
    fingerprint = "not recorded" if not any(h.generator_fingerprint) else h.generator_fingerprint.hex()[:16] + "..."
    ranks = sorted(set(s.ranks))
    schemes = ", ".join(QuantScheme(q).name.lower().replace("_", "-") for q in sorted(s.schemes)) or "none"
    per_second = " ".join(f"{8 * s.bytes_per_second[sec] / 1000:.0f}" for sec in sorted(s.bytes_per_second))
    intervals = [b - a for a, b in zip(s.keyframes, s.keyframes[1:], strict=False)]
    lines = [
        f"{path}: ptv {h.version_major}.{h.version_minor}, level {h.level}, CRC {'on' if h.crc_present else 'off'}",
        f"  generator    {h.generator_id} (weights fingerprint {fingerprint})",
        f"  video        {h.width}x{h.height}, {fps_text} fps, {s.frames} frames, {s.duration:.3f} s",
        f"  prompt       {h.tokens} tokens x {h.embed_dim}; latent {h.latent_channels}x{h.height // h.latent_downscale}"
        f"x{h.width // h.latent_downscale}; noise seed {h.noise_seed}, gamma {h.gamma_num}/{h.gamma_den}",
        f"  rules        previous latent: {PrevLatentRule(h.prev_latent_rule).name.lower().replace('_', ' ')}; "
        f"interpolation: {InterpRule(h.interp_rule).name.lower().replace('_', ' ')}",
        f"  scenes       {len(s.scene_starts)} (starting at frames {', '.join(map(str, s.scene_starts)) or '-'})",
        f"  access at    {', '.join(f'{float(f * h.time_base):.3f} s' for f in s.scene_starts) or '-'} "
        "(random access points: decoding and seeking start there)",
        f"  keyframes    {len(s.keyframes)}, rank {'/'.join(map(str, ranks)) or '-'}, "
        f"interval {min(intervals, default=0)}..{max(intervals, default=0)}, quantization {schemes}",
        f"  bitrate      {_rate(s.bitrate)} overall",
        f"  per second   {per_second} kbit",
        f"  bytes        {s.total_bytes} = {s.essential_bytes} payload + {s.overhead_bytes} framing and syntax "
        f"({100 * s.overhead_bytes / max(s.essential_bytes, 1):.2f}% overhead)",
    ]
    lines += _kind_lines(s)
    return "\n".join(lines)


CONTENT = {"keyframe": "factor codes", "scene_init": "latent (as float32)"}
"""What `info` calls each kind's content."""


def _kind_lines(s: StreamSummary) -> list[str]:
    """Per unit kind: units and bytes, and for keyframes and scene inits the content's bytes
    before coding (raw factor codes, a float32 latent) and as stored."""
    lines = []
    for i, (name, k) in enumerate(s.by_kind.items()):
        text = f"{name:<16} {k.units:>6} units {k.total:>12,} bytes"
        if name in CONTENT:
            what = CONTENT[name]
            saved = 100 * (k.stored_content - k.raw_content) / max(k.raw_content, 1)
            text += f"; {what} {k.raw_content:,} before coding -> {k.stored_content:,} stored ({saved:+.1f}%)"
        lines.append(f"  {'by kind' if i == 0 else '':<12} {text}")
    return lines
