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
import shutil
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
    parser.add_argument("--runs", type=int, default=3, help="played sessions, each on a fresh server (default 3)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--out", type=Path, default=RESULTS / "e2e.json")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    from ptcodec.preload.feed import local_items
    from ptcodec.preload.feed_build import build_feed
    from ptcodec.preload.prompts import ASSUMED_H265_KBPS
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
    items = local_items(feed_dir / "feed.json")
    trace = load_trace(args.trace).scaled(args.scale)
    kbps = tuple(ASSUMED_H265_KBPS.values())
    runs = []
    for n in range(args.runs):
        server = Server(feed_dir, args.trace.resolve(), args.scale, args.rtt_ms, work)  # fresh: the trace from 0
        try:
            print(f"$ {server.command}\n  {server.banner}")
            log, play_s = play(server, work / f"play{n}.json", args.gen_fps, args.budget_ms, work)
        finally:
            server.close()
        runs.append(compare(log, items, trace, args, kbps, server, play_s))
        print(f"run {n + 1}: " + ", ".join(f"{k} {v}" for k, v in runs[-1]["checks"].items()))
    first = runs[0]
    result = {
        "what": "a feed played by ptcodec preload-play over ptcodec serve (127.0.0.1) against the simulator",
        "invocation": tidy(" ".join(["python", "benchmarks/preload_e2e.py", *sys.argv[1:]]), work),
        "generator": first.pop("generator") | {"label": "reference generator: codec plumbing, not Promptus quality"},
        "feed": feed["built"] | {"videos": [v["name"] for v in feed["videos"]]},
        "trace": {"file": tidy(str(args.trace.resolve()), work), "scale": args.scale, "rtt_ms": args.rtt_ms,
                  "mean_kbps_scaled": round(trace.mean_kbps, 1),
                  "model": "ptcodec serve's: trace on the wall clock from the server's first request, RTT before each "
                           "response, no payload share (not the challenge's Pensieve link)"},
        "watch_ms": first["watch_ms"], "gen_fps_scheduler_model_in_player": args.gen_fps, "budget_ms": args.budget_ms,
        "runs": runs,
        "server": {"command": tidy(first.pop("server_command"), work)},
        "commands": [tidy(c, work) for c in commands],
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_1min": os.getloadavg()[0], "python": platform.python_version()},
        "wall_s": round(time.perf_counter() - started, 1),
    }
    for r in runs[1:]:
        r.pop("generator")
        r.pop("server_command")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.out.with_suffix(".json.partial")
    partial.write_text(json.dumps(result, indent=1) + "\n")
    partial.replace(args.out)
    (args.out.parent / "report.md").write_text(report(result))
    print(f"wrote {args.out} and {args.out.parent / 'report.md'}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


def compare(log: dict, items: list, trace: Any, args: argparse.Namespace, kbps: tuple[int, ...], server: Server,
            play_s: float) -> dict:
    """One played session against the simulator, closed loop and replaying the player's decisions."""
    from ptcodec.preload.feed import Replay, ServedLink, simulate_feed
    from ptcodec.preload.solutions import SearchScheduler

    gen_fps = log["gen_fps_measured"] or args.gen_fps
    overheads = log["decision_overhead_ms"]
    overhead_ms = sum(overheads) / len(overheads) if overheads else 0.0
    link = link_check(log, items, trace, args.rtt_ms / 1000)

    def served() -> ServedLink:
        return ServedLink(trace, args.rtt_ms / 1000, log["link_offset_s"], overhead_ms, link["mean_residual_ms"] or 0.0)

    sim = simulate_feed(items, log["watch_ms"], served(), gen_fps,
                        lambda ms: SearchScheduler(kbps, ms, budget_ms=args.budget_ms))
    replayed = Replay(log["decisions"])
    replay = simulate_feed(items, log["watch_ms"], served(), gen_fps, lambda ms: replayed)
    keys = ("stall_s", "downloaded_bytes", "wasted_bytes", "prompt_chunks", "pixel_chunks", "steps", "session_s", "score")

    def table(other: dict) -> dict:
        return {k: {"player": log[k], "simulator": other[k], "relative_difference": relative_difference(log[k], other[k])}
                for k in keys}

    same_path = [(f["video"], f["chunk"], f["level"]) for f in log["fetches"]] == \
        [(f["video"], f["chunk"], f["level"]) for f in sim["fetches"]]
    checks = {
        "server_on_loopback_only": server.listens_on == ["0100007F"],
        "stall_within_10pct": _within(log["stall_s"], sim["stall_s"]),
        "bytes_within_10pct": _within(log["downloaded_bytes"], sim["downloaded_bytes"]),
        "replay_stall_within_10pct": _within(log["stall_s"], replay["stall_s"]),
        "replay_bytes_within_10pct": _within(log["downloaded_bytes"], replay["downloaded_bytes"]),
        "bytes_equal_server_sent": log["http_bytes"] == log["setup_bytes"] + log["downloaded_bytes"],
        "prompt_chunks_played_after_generation": _generated_first(log),
    }
    return {
        "generator": log["generator"], "server_command": server.command, "listening_on": server.listens_on,
        "watch_ms": log["watch_ms"], "link_offset_s": round(log["link_offset_s"], 3),
        "decision_overhead_ms": {"mean": round(overhead_ms, 2), "max": round(max(overheads, default=0.0), 2)},
        "link_check": link, "generation_ms": _generation_ms(log), "gen_fps_measured": gen_fps,
        "comparison": table(sim), "comparison_replay": table(replay), "replay_skipped": replayed.skipped,
        "same_decisions": same_path, "checks": checks,
        "player": {k: log[k] for k in ("fetches", "decisions", "generation", "setup_bytes", "http_bytes", "http_requests")},
        "simulator": {"fetches": sim["fetches"], "generated": sim["generated"]},
        "simulator_replay": {"fetches": replay["fetches"], "generated": replay["generated"]},
        "play_s": round(play_s, 1), "load_average_1min": os.getloadavg()[0],
    }


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


def _pct(d: float | None) -> str:
    return "-" if d is None else f"{d:.1%}"


def _within(a: float, b: float) -> bool:
    d = relative_difference(a, b)
    return d is None or d <= TOLERANCE


def _generated_first(log: dict) -> bool:
    done = {(g["video"], g["chunk"]): g["done_ms"] for g in log["generated"]}
    prompt = {(f["video"], f["chunk"]) for f in log["fetches"] if f["prompt"]}
    starts = {(p["video"], p["chunk"]): p["at_ms"] for p in log["play_started"]}
    return all(key in done and starts[key] >= done[key] for key in prompt if key in starts)


def report(r: dict) -> str:
    g, f, t, runs = r["generator"], r["feed"], r["trace"], r["runs"]
    lines = [
        "# Preloading end to end: a feed played for real against the simulator",
        "",
        f"Generated by `{r['invocation']}` ({r['wall_s']:.0f} s wall; {r['machine']['cpus']} shared cores, load "
        f"{r['machine']['load_average_1min']:.1f}). Generator: **{g['label']}** (id `{g['id']}`, weights fingerprint "
        f"`{g['fingerprint'][:16]}…`). Feed: {', '.join(f['videos'])}, {f['seconds']:g} s each at {f['size']} px, "
        f"{f['fps']} frames/s; prompt ranks {f['ranks']} (K={f['K']}, bitstream 1.0, a scene per second), pixel ladder "
        f"{f['codec']} at {f['pixel_kbps']} kbit/s nominal. Trace `{t['file']}` scaled by **{t['scale']:g}** (mean "
        f"{t['mean_kbps_scaled']:,.0f} kbit/s), RTT {t['rtt_ms']:g} ms, over 127.0.0.1, a fresh server per run. Link "
        f"model: {t['model']}. Watch times (ms, retention with the challenge's seeds): {r['watch_ms']}. Scheduler: the "
        f"search scheduler with prompts, budget {r['budget_ms']:g} ms per decision in player and simulator.",
        "",
        "Per run, two simulator sessions: **closed loop** (the same scheduler decides, in the simulator's state) and "
        "**replay** (the simulator follows the player's own decisions, so that its timing and accounting are checked "
        "on the same path). Each uses G = the generation speed the player measured in that run, and the request "
        "overhead and response time it measured (below).",
        "",
        "| run | G frames/s | stall s: player | closed loop | replay | bytes: player | closed loop | replay | "
        "same decisions |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for n, run in enumerate(runs, start=1):
        c, w = run["comparison"], run["comparison_replay"]
        lines.append(
            f"| {n} | {run['gen_fps_measured']:.0f} | {c['stall_s']['player']:.3f} | {c['stall_s']['simulator']:.3f} "
            f"({_pct(c['stall_s']['relative_difference'])}) | {w['stall_s']['simulator']:.3f} "
            f"({_pct(w['stall_s']['relative_difference'])}) | {c['downloaded_bytes']['player']:,} | "
            f"{c['downloaded_bytes']['simulator']:,} ({_pct(c['downloaded_bytes']['relative_difference'])}) | "
            f"{w['downloaded_bytes']['simulator']:,} ({_pct(w['downloaded_bytes']['relative_difference'])}) | "
            f"{'yes' if run['same_decisions'] else 'no'} |")
    closed = sum(run["checks"]["stall_within_10pct"] and run["checks"]["bytes_within_10pct"] for run in runs)
    replayed = sum(run["checks"]["replay_stall_within_10pct"] and run["checks"]["replay_bytes_within_10pct"]
                   for run in runs)
    lines += [
        "",
        f"**Within 10% on both stalls and bytes: replay {replayed} of {len(runs)} runs, closed loop {closed} of "
        f"{len(runs)}.** Every run: server on loopback only "
        f"{all(run['checks']['server_on_loopback_only'] for run in runs)}, bytes logged = bytes the server sent "
        f"{all(run['checks']['bytes_equal_server_sent'] for run in runs)}, no prompt chunk played before it was "
        f"generated {all(run['checks']['prompt_chunks_played_after_generation'] for run in runs)}.",
        "",
        "| run | generation ms per chunk: first / mean / min..max | request overhead ms: mean (max) | response time "
        "beyond the trace, ms | trace offset s |",
        "|---:|---|---|---:|---:|",
    ]
    for n, run in enumerate(runs, start=1):
        gen, over = run["generation_ms"], run["decision_overhead_ms"]
        lines.append(f"| {n} | {gen.get('first', 0):.0f} / {gen.get('mean', 0):.0f} / {gen.get('min', 0):.0f}.."
                     f"{gen.get('max', 0):.0f} | {over['mean']:.1f} ({over['max']:.1f}) | "
                     f"{run['link_check']['mean_residual_ms']:.1f} | {run['link_offset_s']:.2f} |")
    lines += [
        "",
        "The simulator takes every chunk's generation at the mean; the request overhead (the decision and the "
        "client's work before the request goes out) delays the request on the trace; the response time (the HTTP "
        "stacks and the server's pacing in 16 KiB writes) is added to each download; the trace offset is the setup "
        "(manifests, init segments, the generator's warm-up) between the server's first request and the session.",
        "",
        "**What was found and fixed.** The first run used the scheduler's default 10 ms budget, no overheads and no "
        "warm-up: stalls differed by 24% (1.28 s played, 0.98 s simulated), bytes by 5%, and the event logs show the "
        "decisions parting at the 11th fetch. Causes: (1) the budget makes a decision depend on the machine's load "
        "(the search stops at whatever depth it reached), which no simulator run can reproduce, so both now use a "
        "budget that never cuts (its effect alone was not measured); (2) every real download took 10-30 ms more "
        "than the link model, so the player ran ~0.1 s behind by mid-session; both measured per-download times are "
        "now in the link model; (3) the first real generation was 20-30% slower than the rest (first-call costs): "
        "the player now warms the generator up on zeros before the session, which narrows that gap without closing "
        "it (the table above).",
        "",
        "**What remains: the closed loop is chaotic.** Replaying the player's decisions, the simulator's timing and "
        "accounting agree with the real session within a few per cent. In closed loop the scheduler meets near-ties "
        "(fetch the playing video's next chunk or the next video's first; rank 4 or 8) that a few ms of difference in "
        "a measured download or generation time decides either way, and from there the two sessions follow "
        "different paths whose stalls differed by up to 3.4x in the runs made so far (the feed is short and each "
        "stall is one event). "
        "Agreement on one closed-loop run is therefore luck; the model is judged on the replay, and the "
        "closed-loop figures are reported as they came.",
        "",
        "Prompt and pixel sizes are those of the packages (the simulator reads the same index.json files). At 64 x 64 "
        "x264 saturates near 90 KB per second at every nominal rate, so the three pixel levels are about the same "
        "size; the prompt chunks (bitstream 1.0, a scene-init latent in every 1-s chunk) are 22/40/75 KB at ranks "
        "4/8/16. The score's quality values per level are assumptions (feed.json's kbps: the challenge's "
        "750/1200/1850 for the pixel levels, prompts.ASSUMED_H265_KBPS for the ranks); quality is codec plumbing.",
        "",
        "Commands: the feed build (ptcodec/preload/feed_build.py), then, per run,", "", "```",
        *r["commands"], r["server"]["command"],
        f"ptcodec preload-play http://127.0.0.1:PORT/feed.json --generator reference --gen-fps "
        f"{r['gen_fps_scheduler_model_in_player']:g} --budget-ms {r['budget_ms']:g} --log play.json -q", "```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
