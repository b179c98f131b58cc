"""`ptcodec package`, `serve`, `simulate-abr` and `play`: adaptive streaming over rank ladders (ptcodec.streaming)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os

from ptcodec.cli.types import frame_rates, nonnegative_float, positive, positive_float, ranks


def register(sub: argparse._SubParsersAction) -> None:
    from ptcodec.streaming.package import CODECS, DEFAULT_SEGMENT_S, MIME_TYPE

    p = sub.add_parser(
        "package", help="write a rank-scalable stream as a DASH/HLS ladder, one representation per rank",
        description="Cut a rank-scalable stream (per-component keyframes) to each rank of the ladder with "
        "`ptcodec truncate`, and write each as an init segment (the codec private data) and media segments of "
        f"whole temporal units, with a DASH MPD (manifest.mpd), HLS playlists (master.m3u8, r<R>/playlist.m3u8) "
        f"and index.json. mimeType {MIME_TYPE}, codecs {CODECS}; bandwidth is the peak segment rate.")
    p.add_argument("input", help="a rank-scalable .ptv stream (encoded with --ranks); with --codec, a video clip")
    p.add_argument("outdir", help="the directory to write (must not exist, or be empty)")
    p.add_argument("--segment-seconds", type=positive_float, default=DEFAULT_SEGMENT_S, metavar="S",
                   help=f"a segment ends at the first keyframe after S seconds (default {DEFAULT_SEGMENT_S:g})")
    p.add_argument("--ranks", type=ranks, metavar="R,R,...",
                   help="the ranks of the ladder, each at most the stream's (default: the stream's own rank only)")
    _pixel_arguments(p)
    p.set_defaults(run=run_package)

    p = sub.add_parser(
        "serve", help="serve a package over HTTP on 127.0.0.1, paced by a network trace",
        description="Serve the files of a `ptcodec package` directory on 127.0.0.1 (loopback only), each response "
        "held to a network trace (Mahimahi .down, or 'time throughput'), looping from the first request, "
        "after a fixed RTT; responses share the link one at a time. Without --trace, full speed. Ctrl-C stops it.")
    p.add_argument("package", help="a directory written by `ptcodec package`")
    p.add_argument("--trace", help="the trace file that paces the responses")
    p.add_argument("--scale", type=positive_float, default=1.0, help="multiply the trace's throughput (default 1)")
    p.add_argument("--rtt-ms", type=nonnegative_float, default=80.0, help="delay before each response (default 80)")
    p.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (default 8000; 0: any free port)")
    p.set_defaults(run=run_serve)

    from ptcodec.streaming.abr import ABRS

    p = sub.add_parser(
        "simulate-abr", help="trace-driven ABR simulation of a packaged ladder",
        description="Stream a `ptcodec package` ladder over every trace of a directory (Mahimahi .down files, "
        "'time throughput' files) with each ABR, in a discrete-event simulation: sequential downloads, one RTT "
        "each, playback once a segment (and its closing keyframe) is in, and the client's generation speed. "
        "QoE is Pensieve's linear form: sum of bitrates (Mbit/s) - 4.3 x stall s - 4.3 x startup s - "
        "sum of |bitrate changes| (Mbit/s).")
    p.add_argument("package", help="a directory written by `ptcodec package` (its index.json)")
    p.add_argument("traces", help="a trace file, or a directory of them (searched recursively)")
    p.add_argument("--abr", default=",".join(ABRS), metavar="NAMES",
                   help=f"comma-separated ABRs to run (default {','.join(ABRS)})")
    p.add_argument("--scale", type=positive_float, default=1.0,
                   help="multiply every trace's throughput (say so in any table: the traces are faster than a "
                   "prompt ladder needs; default 1)")
    p.add_argument("--rtt-ms", type=nonnegative_float, default=80.0, help="round-trip time per request (default 80)")
    p.add_argument("--gen-fps", type=frame_rates, metavar="F[,F...]",
                   help="frames/s the client generates, one value or one per rank (lowest first); default unlimited")
    p.add_argument("--compute-unaware", action="store_true",
                   help="let the ABR choose ranks the client cannot generate in real time (for comparison)")
    p.add_argument("--jobs", "-j", type=positive, default=1, help="worker processes (default 1)")
    p.add_argument("--out", help="write every session (per-segment logs included) as JSON here")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--quality", metavar="QUALITY_JSON",
                   help="per-frame quality of the package (ptcodec.streaming.quality; quality.json), for --bad")
    p.add_argument("--bad", metavar="RULE", help="a frame is badly distorted when RULE holds, as lpips-vgg>0.32 or "
                   "psnr<25: each session reports the share of such frames among those it shows (needs --quality)")
    p.set_defaults(run=run_simulate)
    _register_quality(sub)

    register_play(sub)


def run_package(args: argparse.Namespace) -> int:
    from ptcodec.streaming.package import package_file

    if args.codec is not None or args.kbps is not None or args.align is not None:
        return run_package_pixel(args)
    result = package_file(args.input, args.outdir, ranks=args.ranks, segment_s=args.segment_seconds)
    return _print_package(result)


def _print_package(result) -> int:
    """What `package` wrote, a line per representation (rank R, or a pixel ladder's label)."""
    for rep in result.representations:
        name = f"rank {rep.rank}" if rep.rank is not None else rep.label
        print(f"{result.directory}: {name}: {len(rep.segments)} segments, "
              f"{rep.init_bytes + sum(s.bytes for s in rep.segments):,} bytes, "
              f"peak {rep.peak_bps / 1000:,.1f} kbit/s, mean {rep.mean_bps / 1000:,.1f} kbit/s")
    print(f"{result.directory}: manifest.mpd, master.m3u8, index.json")
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from ptcodec.cli.progress import Bars
    from ptcodec.errors import InputError
    from ptcodec.outputs import atomic_file
    from ptcodec.streaming.abr import ABRS
    from ptcodec.streaming.ladder import labels_of, load_ladder, ranks_of
    from ptcodec.streaming.simulate import simulate_named
    from ptcodec.streaming.traces import load_trace, load_trace_dir

    names = [n.strip() for n in args.abr.split(",") if n.strip()]
    unknown = [n for n in names if n not in ABRS]
    if unknown or not names:
        raise InputError(f"--abr {args.abr!r}: choose from {', '.join(ABRS)}")
    ladder = load_ladder(args.package, gen_fps=args.gen_fps)
    if os.path.isdir(args.traces):
        traces = load_trace_dir(args.traces, scale=args.scale)
    else:
        traces = [load_trace(args.traces)]
        traces = [t.scaled(args.scale) for t in traces] if args.scale != 1 else traces
    if not traces:
        raise InputError(f"{args.traces}: no trace files found")
    quality = _bad_frames(args, ladder)
    out: dict = {"package": args.package, "ranks": ranks_of(args.package), "representations": labels_of(args.package),
                 "scale": args.scale, "rtt_ms": args.rtt_ms, "gen_fps": args.gen_fps,
                 "compute_aware": not args.compute_unaware, "quality": args.quality, "bad": args.bad, "abrs": {}}
    print(f"{args.package}: {','.join(out['representations'])}, {ladder.segments} segments of "
          f"{ladder.segment_s:.2f} s; {len(traces)} traces (x{args.scale:g}), RTT {args.rtt_ms:g} ms")
    bad_column = f" {'bad ' + args.bad:>16}" if quality else ""
    print(f"{'abr':6} {'QoE/seg':>8} {'stalls':>7} {'stall s':>8} {'startup s':>9} {'kbit/s':>8}{bad_column}")
    with Bars(args.quiet) as bars:
        for name in names:
            results = simulate_named(ladder, name, traces, compute_aware=not args.compute_unaware,
                                     jobs=args.jobs, rtt_s=args.rtt_ms / 1000, **quality,
                                     progress=lambda done, total, n=name: bars(f"simulating {n}", done, total))
            out["abrs"][name] = [r.to_dict() for r in results]
            count = len(results)
            shares = [r.bad_frame_share for r in results if r.bad_frame_share is not None]
            bad = f" {100 * sum(shares) / len(shares):15.1f}%" if quality and shares else ""
            print(f"{name:6} {sum(r.qoe_per_segment for r in results) / count:8.3f} "
                  f"{sum(r.stall_count for r in results) / count:7.2f} {sum(r.stall_s for r in results) / count:8.2f} "
                  f"{sum(r.startup_s for r in results) / count:9.2f} "
                  f"{sum(r.mean_bitrate_kbps for r in results) / count:8.1f}{bad}")
    print("(means over the traces; QoE weights: bitrate 1, rebuffer 4.3, startup 4.3, smoothness 1)")
    if args.out:
        with atomic_file(args.out) as f:
            f.write((json.dumps(out, indent=1) + "\n").encode())
        print(f"{args.out}: every session")
    return 0


def _pixel_arguments(p: argparse.ArgumentParser) -> None:
    """`ptcodec package CLIP OUTDIR --codec x265 --kbps R,R,...`: a pixel ladder for comparison (ptcodec.streaming.pixel)."""
    from ptcodec.cli.types import size
    from ptcodec.streaming.pixel import FORMATS

    g = p.add_argument_group(
        "pixel ladder", "with --codec, INPUT is a video clip, encoded at each --kbps rate one segment at a time "
        "(each segment alone, like a closed GOP) through the adapters of `ptcodec evaluate`")
    g.add_argument("--codec", metavar="NAME", help=f"the pixel codec: {', '.join(FORMATS)}")
    g.add_argument("--kbps", metavar="R,R,...", help="the ladder's rates in kbit/s (default with --align: the mean "
                   "rates of that package's representations)")
    g.add_argument("--align", metavar="PACKAGE", help="cut at the segments of this package (a prompt ladder of the "
                   "same clip), at its picture size, instead of every --segment-seconds")
    g.add_argument("--size", type=size, help="picture size N or WxH (default: that of --align, else the clip's)")
    g.add_argument("--frames", type=positive, metavar="N", help="at most N frames of the clip (default: all, or "
                   "those of --align)")


def run_package_pixel(args: argparse.Namespace) -> int:
    from ptcodec.streaming.pixel import package_pixel, parse_rates

    if args.ranks is not None:
        from ptcodec.errors import InputError

        raise InputError("--ranks is for a prompt ladder; a pixel ladder (--codec) takes --kbps")
    result = package_pixel(args.input, args.outdir, codec=args.codec or "x265",
                           kbps=parse_rates(args.kbps) if args.kbps is not None else None, align=args.align,
                           segment_s=args.segment_seconds, size=args.size, frames=args.frames)
    return _print_package(result)


def _register_quality(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "package-quality", help="per-frame quality of every segment of a package, for simulate-abr --quality",
        description="Decode each representation of a `ptcodec package` directory as a player would (a prompt "
        "rank with the generator its stream names; a pixel ladder's segments each alone) and measure every frame "
        "against the source clip (PSNR and MS-SSIM; LPIPS-vgg when its weights are installed), into quality.json.")
    p.add_argument("package", help="a directory written by `ptcodec package`")
    p.add_argument("clip", help="the source clip the package was made from (read from frame 0 at the package's size)")
    p.add_argument("--out", default=None, help="where to write (default PACKAGE/quality.json)")
    p.add_argument("--metrics", help="comma-separated ptcodec.evaluate metrics (default psnr,msssim[,lpips-vgg])")
    p.add_argument("--device", default="cpu", help="torch device for the generator and LPIPS (default cpu)")
    p.set_defaults(run=run_package_quality)


def run_package_quality(args: argparse.Namespace) -> int:
    from ptcodec.evaluate.quality import parse_metrics
    from ptcodec.streaming.quality import package_quality, write_quality

    metrics = parse_metrics(args.metrics) if args.metrics else None
    data = package_quality(args.package, args.clip, metrics=metrics, device=args.device)
    out = args.out or os.path.join(args.package, "quality.json")
    write_quality(data, out)
    for rep in data["representations"]:
        means = {m: sum(v for seg in rep["segments"] for v in seg[m]) / sum(len(seg[m]) for seg in rep["segments"])
                 for m in data["metrics"]}
        print(f"{rep['id']}: " + ", ".join(f"{m} {v:.4g}" for m, v in means.items()))
    if data["generator"] and data["generator"]["note"]:
        print(f"({data['generator']['note']})")
    print(f"{out}: per-frame quality of {len(data['representations'])} representations")
    return 0


def _bad_frames(args: argparse.Namespace, ladder) -> dict:
    """simulate_session's quality options from --quality and --bad (empty without them)."""
    from ptcodec.errors import InputError
    from ptcodec.streaming.ladder import labels_of
    from ptcodec.streaming.quality import check_segments, load_quality, parse_bad

    if (args.quality is None) != (args.bad is None):
        raise InputError("--quality and --bad go together: the per-frame quality file and the rule for a bad frame")
    if args.quality is None:
        return {}
    rule = parse_bad(args.bad)
    quality = load_quality(args.quality, labels_of(args.package), rule.metric)
    check_segments(quality, ladder.sizes, args.quality)
    return {"quality": quality, "quality_threshold": rule.threshold, "higher_is_better": rule.higher_is_better}


def run_serve(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM (`Interruptions`, which installs its own handlers whatever
    signal state the process inherited), then stop cleanly with exit status 0."""
    import asyncio

    from ptcodec.cli.signals import Interruptions
    from ptcodec.streaming.serve import HOST, start
    from ptcodec.streaming.traces import load_trace

    trace = load_trace(args.trace) if args.trace else None
    if trace is not None and args.scale != 1:
        trace = trace.scaled(args.scale)

    async def serve_forever() -> None:
        runner, port = await start(args.package, trace, port=args.port, rtt_s=args.rtt_ms / 1000)
        pace = f"paced by {trace.name or args.trace} ({trace.mean_kbps:,.0f} kbit/s mean)" if trace else "at full speed"
        print(f"serving {args.package} on http://{HOST}:{port}/ {pace}, RTT {args.rtt_ms:g} ms; Ctrl-C stops",
              flush=True)
        try:
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()

    with Interruptions(), contextlib.suppress(KeyboardInterrupt):  # asyncio.run cleans the runner up
        asyncio.run(serve_forever())
    print("stopped")
    return 0


# -- ptcodec play ------------------------------------------------------------------------------------------------


def register_play(sub: argparse._SubParsersAction) -> None:
    from ptcodec.cli.generator_args import add_generator_args
    from ptcodec.streaming.abr import ABRS
    from ptcodec.streaming.player import RETRIES

    p = sub.add_parser(
        "play", help="play a package over HTTP with an ABR (the simulator's client on a real network)",
        description="Fetch a package's manifest (its root URL, index.json or manifest.mpd), then download its "
        "media segments one after another, each segment's rank chosen by the ABR from the buffer and the measured "
        "throughput, through the same playback model as simulate-abr (download times measured on the wall "
        "clock). Generation is modelled at --gen-fps, or real with --generator (each segment decoded as it "
        "arrives, timed). A failed segment is retried, then fetched at another rank. One line per segment on "
        "stderr; the summary on stdout.")
    p.add_argument("url", help="http://HOST:PORT/ of `ptcodec serve`, or its index.json or manifest.mpd")
    p.add_argument("--abr", choices=ABRS, default="bb", help="the ABR algorithm (default bb)")
    p.add_argument("--compute-unaware", action="store_true",
                   help="let the ABR choose ranks the client cannot generate in real time (for comparison)")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--gen-fps", type=frame_rates, metavar="F[,F...]",
                     help="modelled generation: frames/s, one value or one per rank (lowest first); default unlimited")
    how.add_argument("--generator", metavar="NAME",
                     help="generate for real with this generator (the stream's: reference, sd-turbo), each segment "
                     "as it arrives; its measured frames/s is the generation speed")
    p.add_argument("--output", metavar="FILE", help="with --generator: write the frames (as `ptcodec decode` does, "
                   "by extension; written atomically)")
    p.add_argument("--batch", type=positive, default=16, help="with --generator: largest generator batch (default 16)")
    p.add_argument("--max-buffer", type=positive_float, default=60.0, metavar="S",
                   help="seconds of video the player buffers before it waits (default 60)")
    p.add_argument("--retries", type=int, default=RETRIES, choices=range(0, 10), metavar="N",
                   help=f"retries of a failed segment before another rank is tried (default {RETRIES})")
    p.add_argument("--log", metavar="FILE", help="write the session (per-segment logs) as JSON, as simulate-abr --out")
    p.add_argument("--quiet", "-q", action="store_true", help="no per-segment lines")
    add_generator_args(p, choose=False)
    p.set_defaults(run=run_play)


def run_play(args: argparse.Namespace) -> int:
    import sys

    from ptcodec.errors import InputError
    from ptcodec.outputs import atomic_file, check_output
    from ptcodec.streaming.abr import make_abr
    from ptcodec.streaming.player import Generation, play_url
    from ptcodec.streaming.simulate import SegmentLog

    if args.output and not args.generator:
        raise InputError("--output needs --generator: frames are written only when they are generated for real")
    if args.log:
        check_output(args.log)
    generation = None
    if args.generator:
        from ptcodec.cli.generator_args import generator_options
        from ptcodec.generators import load_generator

        generation = Generation(load_generator(args.generator, generator_options(args)), args.output,
                                max_batch=args.batch)
    ranks: list[int] = []

    def progress(log: SegmentLog, done: int, total: int) -> None:
        if args.quiet:
            return
        stalls = "".join([f", rebuffer {log.rebuffer_s:.2f} s" if log.rebuffer_s else "",
                          f", generation stall {log.gen_stall_s:.2f} s" if log.gen_stall_s else ""])
        print(f"segment {done}/{total}: rep {log.rep}, {log.bytes:,} B in {log.download_s:.2f} s "
              f"({log.throughput_kbps:,.0f} kbit/s), buffer {log.buffer_s:.1f} s{stalls}", file=sys.stderr, flush=True)

    def warn(text: str) -> None:
        print(f"ptcodec: warning: {text}", file=sys.stderr, flush=True)

    abr = make_abr(args.abr, compute_aware=not args.compute_unaware)
    result = play_url(args.url, abr, gen_fps=args.gen_fps, generation=generation, max_buffer_s=args.max_buffer,
                      retries=args.retries, progress=progress, warn=warn, on_package=lambda p: ranks.extend(p.ranks))
    session = result.to_dict()
    for segment in session["segments"]:
        segment["rank"] = ranks[segment["rep"]]
    generated = f", {generation.frames} frames generated" if generation is not None else ""
    print(f"{args.url}: {args.abr}, {len(result.segments)} segments, mean {result.mean_bitrate_kbps:,.1f} kbit/s, "
          f"{result.stall_count} stalls ({result.stall_s:.2f} s), startup {result.startup_s:.2f} s, "
          f"QoE {result.qoe:.3f}{generated}")
    if args.output:
        print(f"{args.output}: {generation.frames if generation else 0} frames")
    if args.log:
        out = {"url": args.url, "ranks": ranks, "gen_fps": args.gen_fps, "generator": args.generator,
               "compute_aware": not args.compute_unaware, "abrs": {args.abr: [session]}}
        with atomic_file(args.log) as f:
            f.write((json.dumps(out, indent=1) + "\n").encode())
        print(f"{args.log}: the session")
    return 0
