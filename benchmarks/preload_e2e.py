"""End to end, once (issue 16, item 7): a feed of short clips played for real under the search scheduler,
against the simulator on the same videos, trace, watch times and generation speed.

1. Build the feed (ptcodec.preload.feed_build: prompt ladder by the reference generator, codec plumbing
   and not Promptus quality, and an x264 pixel ladder, 1-s segments, 64 x 64) unless --feed is given;
2. `ptcodec serve` it on 127.0.0.1 (checked to listen on loopback only) paced by one MM'22 svsc trace
   scaled by --scale, RTT 80 ms;
3. `ptcodec preload-play` it (the search scheduler with prompts, real generation by the reference
   generator, watch times from retention with the challenge's seeds) with --log;
4. the simulator (`feed.simulate_feed`: the same FeedSession rules, the same scheduler, the link model of
   `ptcodec serve` at the same offset from the server's first request, chunk sizes read from the
   packages) with G = the generation speed the player measured;
5. compare stall time and bytes downloaded (within 10%), and write JSON and report.md.

    python benchmarks/preload_e2e.py [--feed DIR] [--trace T --scale F] [--work DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from streaming_e2e import Server, _env, relative_difference, tidy  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).parent / "results" / "preload_e2e"
CLIPS = ("big_buck_bunny_0_30.webm", "chaplin.mp4", "sky_512.mp4", "vtest.avi", "procgen.gif")
TOLERANCE = 0.10


def play(server: Server, log_path: Path, gen_fps: float, budget_ms: float, work: Path) -> tuple[dict, float]:
    import subprocess

    command = [sys.executable, "-m", "ptcodec", "preload-play", server.url + "feed.json", "--generator", "reference",
               "--gen-fps", f"{gen_fps:g}", "--budget-ms", f"{budget_ms:g}", "--log", str(log_path), "-q"]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, env=_env())
    if done.returncode != 0:
        raise SystemExit(f"preload-play failed: {done.stderr.strip()[-2000:]}")
    print(done.stdout.strip())
    return json.loads(log_path.read_text()), time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=Path, help="an existing feed directory (default: build one in the work directory)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of each clip (default 3)")
    parser.add_argument("--trace", type=Path, default=DATA / "traces" / "svsc_network" / "medium" / "0")
    parser.add_argument("--scale", type=float, default=0.25,
                        help="trace throughput factor (default 0.25: the run must be network-bound for decisions to matter)")
    parser.add_argument("--rtt-ms", type=float, default=80.0)
    parser.add_argument("--gen-fps", type=float, default=200.0, help="the scheduler's generator model in the player")
    parser.add_argument("--budget-ms", type=float, default=1000.0,
                        help="the scheduler's budget per decision, in both runs (default 1000: never cut, so that a "
                        "decision does not depend on the machine's load)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--out", type=Path, default=RESULTS / "e2e.json")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    from ptcodec.preload.feed import ServedLink, local_items, simulate_feed
    from ptcodec.preload.feed_build import build_feed
    from ptcodec.preload.prompts import ASSUMED_H265_KBPS
    from ptcodec.preload.solutions import SearchScheduler
    from ptcodec.streaming.traces import load_trace

    started = time.perf_counter()
    work = Path(tempfile.mkdtemp(prefix="ptcodec-preload-e2e-", dir=args.work))
    commands: list[str] = []
    feed_dir = args.feed
    if feed_dir is None:
        feed_dir = work / "feed"
        built = build_feed([DATA / "clips" / c for c in CLIPS], feed_dir, DATA / "short_video", seconds=args.seconds,
                           pixel_kbps="750,1200,1850", quiet=False)
        commands += built["commands"]
    feed = json.loads((feed_dir / "feed.json").read_text())
    server = Server(feed_dir, args.trace.resolve(), args.scale, args.rtt_ms, work)
    try:
        print(f"$ {server.command}\n  {server.banner}")
        log, play_s = play(server, work / "play.json", args.gen_fps, args.budget_ms, work)
    finally:
        server.close()
    kbps = tuple(ASSUMED_H265_KBPS.values())
    gen_fps = log["gen_fps_measured"] or args.gen_fps
    trace = load_trace(args.trace).scaled(args.scale)
    overheads = log["decision_overhead_ms"]
    overhead_ms = sum(overheads) / len(overheads) if overheads else 0.0
    items = local_items(feed_dir / "feed.json")
    link = link_check(log, items, trace, args.rtt_ms / 1000)
    served = ServedLink(trace, args.rtt_ms / 1000, log["link_offset_s"], overhead_ms, link["mean_residual_ms"] or 0.0)
    sim = simulate_feed(items, log["watch_ms"], served, gen_fps, lambda ms: SearchScheduler(kbps, ms, budget_ms=args.budget_ms))
    keys = ("stall_s", "downloaded_bytes", "wasted_bytes", "prompt_chunks", "pixel_chunks", "steps", "session_s", "score")
    comparison = {k: {"player": log[k], "simulator": sim[k], "relative_difference": relative_difference(log[k], sim[k])}
                  for k in keys}
    same_path = [(f["video"], f["chunk"], f["level"]) for f in log["fetches"]] == \
        [(f["video"], f["chunk"], f["level"]) for f in sim["fetches"]]
    checks = {
        "server_on_loopback_only": server.listens_on == ["0100007F"],
        "stall_within_10pct": _within(log["stall_s"], sim["stall_s"]),
        "bytes_within_10pct": _within(log["downloaded_bytes"], sim["downloaded_bytes"]),
        "bytes_equal_server_sent": log["http_bytes"] == log["setup_bytes"] + log["downloaded_bytes"],
        "prompt_chunks_played_after_generation": _generated_first(log),
    }
    result = {
        "what": "a feed played by ptcodec preload-play over ptcodec serve (127.0.0.1) against the simulator",
        "invocation": tidy(" ".join(["python", "benchmarks/preload_e2e.py", *sys.argv[1:]]), work),
        "generator": {**log["generator"], "label": "reference generator: codec plumbing, not Promptus quality"},
        "feed": feed["built"] | {"videos": [v["name"] for v in feed["videos"]]},
        "trace": {"file": tidy(str(args.trace.resolve()), work), "scale": args.scale, "rtt_ms": args.rtt_ms,
                  "mean_kbps_scaled": round(trace.mean_kbps, 1), "link_offset_s": round(log["link_offset_s"], 3),
                  "model": "ptcodec serve's: trace on the wall clock from the server's first request, RTT before each "
                           "response, no payload share (not the challenge's Pensieve link)"},
        "watch_ms": log["watch_ms"], "gen_fps_scheduler_model_in_player": args.gen_fps, "budget_ms": args.budget_ms,
        "decision_overhead_ms": {"mean": round(overhead_ms, 2), "max": round(max(overheads, default=0.0), 2)},
        "link_check": link, "generation_ms": _generation_ms(log),
        "gen_fps_measured": gen_fps, "comparison": comparison, "same_decisions": same_path, "checks": checks,
        "player": {k: log[k] for k in ("fetches", "generation", "setup_bytes", "http_bytes", "http_requests")},
        "simulator": {"fetches": sim["fetches"], "generated": sim["generated"]},
        "server": {"command": tidy(server.command, work), "listening_on": server.listens_on},
        "commands": [tidy(c, work) for c in commands],
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_1min": os.getloadavg()[0], "python": platform.python_version()},
        "play_s": round(play_s, 1), "wall_s": round(time.perf_counter() - started, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".json.partial")
    partial.write_text(json.dumps(result, indent=1) + "\n")
    partial.replace(args.out)
    (args.out.parent / "report.md").write_text(report(result))
    print(json.dumps({k: v for k, v in comparison.items()}, indent=1))
    print(f"checks: {checks}\nwrote {args.out} and {args.out.parent / 'report.md'}")


def link_check(log: dict, items: list, trace: Any, rtt_s: float) -> dict:
    """Each real download against the served-link model at the time its request went out (decision included):
    the residual is the HTTP client's and server's own time."""
    from ptcodec.streaming.traces import download_time

    rows = []
    for fetch, overhead in zip(log["fetches"], log["decision_overhead_ms"], strict=True):
        start_s = log["link_offset_s"] + (fetch["at_ms"] + overhead) / 1000
        model = overhead + download_time(trace, start_s, fetch["bytes"], rtt_s) * 1000
        rows.append(fetch["delay_ms"] - model)
    return {"mean_residual_ms": round(sum(rows) / len(rows), 1) if rows else None,
            "residual_ms": [round(r, 1) for r in rows]}


def _generation_ms(log: dict) -> dict:
    times = [g["done_ms"] - g["start_ms"] for g in log["generation"]]
    if not times:
        return {}
    return {"first": round(times[0], 1), "mean": round(sum(times) / len(times), 1), "min": round(min(times), 1),
            "max": round(max(times), 1)}


def _within(a: float, b: float) -> bool:
    d = relative_difference(a, b)
    return d is None or d <= TOLERANCE


def _generated_first(log: dict) -> bool:
    done = {(g["video"], g["chunk"]): g["done_ms"] for g in log["generated"]}
    prompt = {(f["video"], f["chunk"]) for f in log["fetches"] if f["prompt"]}
    starts = {(p["video"], p["chunk"]): p["at_ms"] for p in log["play_started"]}
    return all(key in done and starts[key] >= done[key] for key in prompt if key in starts)


def report(r: dict) -> str:
    c = r["comparison"]
    g = r["generator"]
    lines = [
        "# Preloading end to end: a feed played for real against the simulator",
        "",
        f"Generated by `{r['invocation']}` ({r['wall_s']:.0f} s wall, playback {r['play_s']:.0f} s). "
        f"Generator: **{g['label']}** (id `{g['id']}`, weights fingerprint `{g['fingerprint'][:16]}…`), measured at "
        f"**{r['gen_fps_measured']:.0f} frames/s** during playback. Feed: {', '.join(r['feed']['videos'])}, "
        f"{r['feed']['seconds']:g} s each at {r['feed']['size']} px, {r['feed']['fps']} frames/s; prompt ranks "
        f"{r['feed']['ranks']} (K={r['feed']['K']}, bitstream 1.0, a scene per second), pixel ladder "
        f"{r['feed']['codec']} at {r['feed']['pixel_kbps']} kbit/s nominal. Trace `{r['trace']['file']}` scaled by "
        f"**{r['trace']['scale']:g}** (mean {r['trace']['mean_kbps_scaled']:,.0f} kbit/s), RTT {r['trace']['rtt_ms']:g} ms, "
        f"over 127.0.0.1 (server listening on loopback only: {r['checks']['server_on_loopback_only']}). "
        f"Link model: {r['trace']['model']}. Watch times (ms, retention with the challenge's seeds): {r['watch_ms']}. "
        f"Scores use assumed quality values per level (codec plumbing).",
        "",
        "| figure | player | simulator | relative difference |",
        "|---|---:|---:|---:|",
    ]
    for key, v in c.items():
        d = v["relative_difference"]
        lines.append(f"| {key} | {v['player']:,.3f} | {v['simulator']:,.3f} | {'-' if d is None else f'{d:.1%}'} |")
    lines += ["", f"Same decisions (video, chunk, level) in the same order: {r['same_decisions']}. Checks: "
              + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in r["checks"].items()) + ".", "",
              "Commands: the feed build (ptcodec/preload/feed_build.py), then", "", "```",
              *r["commands"], r["server"]["command"], "ptcodec preload-play http://127.0.0.1:PORT/feed.json --generator "
              "reference --gen-fps G --log play.json -q", "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
