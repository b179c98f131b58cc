"""`ptcodec preload-sim`: schedulers over the short-video challenge's traces, with prompts and compute (issue 16);
`ptcodec preload-play`: a served feed played for real under the search scheduler (issue 16, item 7)."""

from __future__ import annotations

import argparse
from pathlib import Path

from ptcodec.cli.types import frame_rates, positive, positive_float
from ptcodec.errors import InputError


def _list(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def register(sub: argparse._SubParsersAction) -> None:
    from ptcodec.preload.experiment import SCHEDULERS, SEARCH_OPTIONS
    from ptcodec.preload.prompts import CODINGS
    from ptcodec.preload.report import CLASSES, DEFAULT_GEN_FPS, USERS

    p = sub.add_parser(
        "preload-sim", help="short-video preloading schedulers (pixels and prompts) in the MM'22 challenge simulator",
        description="Run schedulers over trace classes of the MM'22 Short Video Streaming Challenge, for each user "
        "model and (for the prompt scheduler) each generator speed G; write results.json, report.md and plots/ into "
        "OUT (an interrupted run resumes from results.json). Prompt quality is an assumed H.265-equivalent kbps per "
        "rank (ptcodec/preload/prompts.py).")
    p.add_argument("traces", help="the challenge's svsc_network directory (high/ medium/ low/ mixed/)")
    p.add_argument("videos", help="the challenge's short_video directory (with dashlet_swipe/ for Dashlet users)")
    p.add_argument("--class", dest="classes", type=_list, default=list(CLASSES), metavar="C,...",
                   help=f"trace classes (default all: {','.join(CLASSES)})")
    p.add_argument("--scheduler", dest="schedulers", type=_list, default=list(SCHEDULERS), metavar="S,...",
                   help=f"schedulers (default all: {','.join(SCHEDULERS)})")
    p.add_argument("--users", type=_list, default=list(USERS), metavar="U,...", help="user models (default retention,dashlet)")
    p.add_argument("--gen-fps", type=frame_rates, default=list(DEFAULT_GEN_FPS), metavar="G,...",
                   help="generator speeds for the prompt scheduler (default " + ",".join(f"{g:g}" for g in DEFAULT_GEN_FPS) + ")")
    p.add_argument("--coding", choices=CODINGS, default="1.1", help="prompt bitstream (default 1.1, coded)")
    p.add_argument("--search-option", dest="search", action="append", default=[], metavar="NAME=VALUE",
                   help="an option of the search schedulers, for ablations (repeatable): "
                   + ", ".join(SEARCH_OPTIONS)
                   + "; a number, true/false, or none for head_cap_ms (no cap) and ample_kbps (no ample regime)")
    p.add_argument("--workers", type=positive, default=1, help="processes (default 1)")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run_preload_sim)

    from ptcodec.cli.generator_args import add_generator_args

    p = sub.add_parser(
        "preload-play", help="play a served feed of short videos under the search scheduler, with real generation",
        description="Play the feed at FEED_URL (its feed.json, served by `ptcodec serve` on loopback) as the challenge's "
        "session: a queue of up to 5 videos, swipes at watch times drawn from each video's retention curve with the "
        "challenge's seeds (or --watch-ms), each decision by the search scheduler with prompts, each chunk fetched over "
        "HTTP and each prompt chunk generated for real before it plays. Prints stalls, bytes and waste.")
    p.add_argument("feed", metavar="FEED_URL", help="http://127.0.0.1:PORT/feed.json")
    add_generator_args(p, choose=True)
    p.add_argument("--gen-fps", type=positive_float, default=200.0,
                   help="the scheduler's model of the generator's speed, frames/s (default 200)")
    p.add_argument("--budget-ms", type=positive_float, default=10.0,
                   help="the scheduler's time budget per decision (default 10; a large one makes decisions independent of load)")
    p.add_argument("--watch-ms", type=_list, metavar="MS,...", help="watch time of each video (default: drawn from retention)")
    p.add_argument("--log", metavar="FILE", help="write the session's log (JSON: every fetch, generation and play start)")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the totals")
    p.set_defaults(run=run_preload_play)


def run_preload_play(args: argparse.Namespace) -> int:
    import json

    from ptcodec.cli.generator_args import generator_options
    from ptcodec.generators import load_generator
    from ptcodec.outputs import atomic_file, check_output
    from ptcodec.preload.feed_player import play_feed
    from ptcodec.preload.prompts import ASSUMED_H265_KBPS
    from ptcodec.preload.solutions import SearchScheduler

    if args.log:
        check_output(args.log)
    watch = None
    if args.watch_ms is not None:
        try:
            watch = [float(w) for w in args.watch_ms]
        except ValueError:
            raise InputError(f"--watch-ms {','.join(args.watch_ms)}: expected numbers of ms") from None
    generator = load_generator(args.generator, generator_options(args))
    kbps = tuple(ASSUMED_H265_KBPS.values())
    log = play_feed(args.feed, lambda chunk_ms: SearchScheduler(kbps, chunk_ms, budget_ms=args.budget_ms), generator,
                    gen_fps=args.gen_fps, watch_ms=watch)
    if args.log:
        with atomic_file(args.log) as handle:
            handle.write(json.dumps(log, indent=1).encode() + b"\n")
    if not args.quiet:
        for f in log["fetches"]:
            kind = "prompt" if f["prompt"] else "pixel"
            print(f"{f['at_ms'] / 1000:7.2f} s  video {f['video']} chunk {f['chunk']}  level {f['level']} ({kind})  "
                  f"{f['bytes']:,} bytes in {f['delay_ms']:.0f} ms")
    fps = log["gen_fps_measured"]
    print(f"{log['feed']}: stall {log['stall_s']:.2f} s, {log['downloaded_bytes']:,} bytes downloaded "
          f"({log['wasted_bytes']:,} wasted), {log['prompt_chunks']} prompt and {log['pixel_chunks']} pixel chunks, "
          f"generation {'-' if fps is None else f'{fps:.0f}'} frames/s, score {log['score']:.2f}")
    return 0


def run_preload_sim(args: argparse.Namespace) -> int:
    from ptcodec.cli.progress import advance, bar
    from ptcodec.preload.experiment import SCHEDULERS, search_options
    from ptcodec.preload.prompts import PromptLadder
    from ptcodec.preload.report import CLASSES, USERS, setups, sweep, write_report

    for what, given, known in (("class", args.classes, CLASSES), ("scheduler", args.schedulers, SCHEDULERS),
                               ("users", args.users, USERS)):
        bad = [g for g in given if g not in known]
        if bad or not given:
            raise InputError(f"--{what} {','.join(bad) or '(empty)'}: expected some of {','.join(known)}")
    search = search_options(args.search)
    traces, videos, out = Path(args.traces), Path(args.videos), Path(args.out)
    for c in args.classes:
        if not (traces / c).is_dir():
            raise InputError(f"{traces / c}: no such trace class directory")
    ladder = PromptLadder(coding=args.coding)
    plan = setups(args.schedulers, args.gen_fps, ladder, search)
    progress = bar(len(args.users) * len(args.classes) * len(plan) * 20, "sessions", quiet=args.quiet, unit="session")
    try:
        results = sweep(traces, videos, out, classes=args.classes, users=args.users, plan=plan, ladder=ladder,
                        workers=args.workers, progress=lambda d, t: advance(progress, d, t))
    finally:
        progress.close()
    path = write_report(results, out, classes=args.classes, users=args.users, gen_fps=args.gen_fps,
                        schedulers=args.schedulers)
    print(f"wrote {path}")
    return 0
