"""The paper's streaming comparison (issue 15, item 5): a prompt rank ladder against an H.265 ladder of the
same mean rates, on the same clip and segments, over every trace class of ../shared/data/traces.

Steps (each a ptcodec command or function; the work folder keeps what is done, so a rerun resumes):
 1. `ptcodec transcode` the first seconds of a clip, centre-cropped and resized, with the reference generator
    as one rank-scalable stream (--ranks, short keyframe interval so that the ladder spans the scaled traces);
 2. `ptcodec package` it (one representation per rank);
 3. `ptcodec package CLIP --codec x265 --align PROMPT_PACKAGE`: the H.265 ladder at the prompt ladder's mean
    rates, cut at the same frames, each segment encoded alone;
 4. per-frame quality of both (ptcodec.streaming.quality: PSNR, MS-SSIM, LPIPS-vgg);
 5. the simulator (ptcodec.streaming.simulate) with each ABR over every trace of every class, throughput
    scaled by --scale. The clip is short, so its segments are looped to --loop-seconds of video (sizes and
    quality alike; each loop starts a scene), for both ladders.

The prompt ladder's quality is that of the reference generator: codec plumbing, not Promptus quality.

    python benchmarks/bench_streaming.py    # about 7.5 minutes on 2 shared cores; writes results/streaming/
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
OUT = ROOT / "benchmarks" / "results" / "streaming"
CLASSES = ("mahimahi", "pensieve_norway_test", "svsc_network/high", "svsc_network/medium", "svsc_network/low",
           "svsc_network/mixed")
PLUMBING = "reference generator: codec plumbing, not Promptus quality"
LPIPS_BAD = 0.32  # the paper's severely distorted frame (LPIPS-vgg, ptcodec.evaluate.report.SEVERE_LPIPS)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--clip", default=str(SHARED / "clips" / "sky_512.mp4"))
    p.add_argument("--traces", default=str(SHARED / "traces"))
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--frames", type=int, default=60)
    p.add_argument("--ranks", default="2,4,8,16,32")
    p.add_argument("--interval", type=int, default=5)
    p.add_argument("--first-steps", type=int, default=40)
    p.add_argument("--later-steps", type=int, default=15)
    p.add_argument("--segment-seconds", type=float, default=1.0)
    p.add_argument("--scale", type=float, default=0.25, help="trace throughput multiplier, every class")
    p.add_argument("--loop-seconds", type=float, default=60.0, help="simulated video length (the clip looped)")
    p.add_argument("--abr", default="bb,rb,bola,mpc")
    p.add_argument("--psnr-bad", type=float, default=32.0, help="a frame is bad below this PSNR (dB)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--work", default="/tmp/ptcodec-bench-streaming", help="streams and packages (not committed)")
    p.add_argument("--out", default=str(OUT))
    return p.parse_args()


def shown_path(path: str) -> str:
    """A path as the README gives it: relative to the repository (../shared/data/... for the shared data)."""
    return os.path.relpath(path, ROOT)


def timed(log: dict[str, float], name: str, step: Callable[[], Any]) -> Any:
    started = time.perf_counter()
    value = step()
    log[name] = time.perf_counter() - started
    print(f"{name}: {log[name]:.1f} s", flush=True)
    return value


def cli(*args: str) -> None:
    from ptcodec.cli import main

    print("ptcodec " + " ".join(args), flush=True)
    if main(list(args)) != 0:
        raise SystemExit(f"ptcodec {args[0]} failed")


def make_inputs(args: argparse.Namespace, work: Path, seconds: dict[str, float]) -> dict[str, Any]:
    """Steps 1-4; what exists in `work` is kept (delete the folder to start over)."""
    from ptcodec.streaming.quality import package_quality, write_quality

    work.mkdir(parents=True, exist_ok=True)
    stream, prompt, pixel = work / "prompt.ptv", work / "prompt", work / "x265"
    commands = {
        "transcode": ["transcode", args.clip, str(stream), "--generator", "reference", "--size", str(args.size),
                      "--frames", str(args.frames), "--ranks", args.ranks, "--interval", str(args.interval),
                      "--first-steps", str(args.first_steps), "--later-steps", str(args.later_steps), "--quiet"],
        "package": ["package", str(stream), str(prompt), "--ranks", args.ranks,
                    "--segment-seconds", str(args.segment_seconds)],
        "package_x265": ["package", args.clip, str(pixel), "--codec", "x265", "--align", str(prompt)],
    }
    if not stream.exists():
        timed(seconds, "transcode_s", lambda: cli(*commands["transcode"]))
    if not prompt.exists():
        timed(seconds, "package_s", lambda: cli(*commands["package"]))
    if not pixel.exists():
        timed(seconds, "package_x265_s", lambda: cli(*commands["package_x265"]))
    for name, folder in (("prompt", prompt), ("x265", pixel)):
        if not (folder / "quality.json").exists():
            data = timed(seconds, f"quality_{name}_s", lambda f=folder: package_quality(f, args.clip))
            write_quality(data, folder / "quality.json")
    def shown(text: str) -> str:  # the paths as the README gives them
        return text.replace(str(SHARED) + os.sep, "../shared/data/").replace(str(work), "$WORK")

    return {"commands": {k: shown("ptcodec " + " ".join(v)) for k, v in commands.items()},
            "packages": {"prompt": prompt, "x265": pixel}}


def looped(folder: Path, loops: int) -> tuple[Any, dict[str, list], dict[str, Any]]:
    """The package's Ladder with its segments repeated `loops` times, the per-frame quality (psnr, lpips)
    repeated alike, and a per-representation summary."""
    from ptcodec.streaming.abr import Ladder
    from ptcodec.streaming.ladder import labels_of, load_ladder
    from ptcodec.streaming.quality import load_quality

    ladder = load_ladder(folder)
    labels = labels_of(folder)
    tiled = Ladder(ladder.bitrates_kbps, ladder.segment_s, tuple(tuple(row) * loops for row in ladder.sizes),
                   fps=ladder.fps)
    quality_file = json.loads((folder / "quality.json").read_text())
    quality = {m: [rep * loops for rep in load_quality(folder / "quality.json", labels, m)]
               for m in quality_file["metrics"]}
    index = json.loads((folder / "index.json").read_text())
    reps = []
    for i, label in enumerate(labels):
        row = {"id": label, "mean_kbps": ladder.bitrates_kbps[i],
               "peak_kbps": max(r["bandwidth_peak_bps"] for r in index["representations"]
                                if (r.get("label") or f"r{r.get('rank')}") == label) / 1000}
        for metric, values in quality.items():
            frames = [v for seg in values[i][:ladder.segments] for v in seg]
            row[f"mean_{metric}"] = statistics.fmean(frames)
        reps.append(row)
    summary = {"representations": reps, "segments": ladder.segments, "segment_s": ladder.segment_s,
               "loops": loops, "implementations": quality_file["implementations"],
               "generator": quality_file["generator"]}
    return tiled, quality, summary


def simulate_all(ladder: Any, quality: dict[str, list], traces: dict[str, list], abrs: list[str],
                 args: argparse.Namespace) -> tuple[dict[str, Any], float, float]:
    """Every ABR over every trace class: per-session summaries, and (sessions' simulated seconds, wall s)."""
    from ptcodec.streaming.simulate import simulate_named

    lpips = "lpips-vgg" if "lpips-vgg" in quality else None
    out: dict[str, Any] = {}
    simulated = wall = 0.0
    for cls, items in traces.items():
        out[cls] = {}
        for abr in abrs:
            started = time.perf_counter()
            by_psnr = simulate_named(ladder, abr, items, jobs=args.jobs, quality=quality["psnr"],
                                     quality_threshold=args.psnr_bad, higher_is_better=True)
            wall += time.perf_counter() - started
            shares_lpips = [None] * len(items)
            if lpips:  # the bad-frame share of the same sessions under the LPIPS rule (the choices do not change)
                from ptcodec.streaming.simulate import bad_frame_share_of

                shares_lpips = [bad_frame_share_of(ladder, r.segments, quality[lpips], LPIPS_BAD, False) for r in by_psnr]
            sessions = []
            for number, (r, share) in enumerate(zip(by_psnr, shares_lpips, strict=True)):
                played = len(r.segments) * ladder.segment_s + r.startup_s + r.stall_s
                simulated += played
                sessions.append({"trace": r.trace, "qoe": r.qoe, "qoe_per_segment": r.qoe_per_segment,
                                 "stall_count": r.stall_count, "stall_s": r.stall_s, "startup_s": r.startup_s,
                                 "mean_bitrate_kbps": r.mean_bitrate_kbps, "bad_share_psnr": r.bad_frame_share,
                                 "bad_share_lpips": share, "session_s": played,
                                 **({"per_second_kbps": r.per_second_kbps} if number == 0 else {})})
            out[cls][abr] = sessions
            print(f"  {cls:22} {abr:5} {len(items):4} sessions, {time.perf_counter() - started:6.1f} s", flush=True)
    return out, simulated, wall


def summarize(sessions: list[dict[str, Any]]) -> dict[str, float | None]:
    def mean(key: str) -> float | None:
        values = [s[key] for s in sessions if s[key] is not None]
        return statistics.fmean(values) if values else None

    qoe = [s["qoe_per_segment"] for s in sessions]
    return {"sessions": len(sessions), "qoe_per_segment_mean": statistics.fmean(qoe),
            "qoe_per_segment_median": statistics.median(qoe), "stall_s_mean": mean("stall_s"),
            "stall_count_mean": mean("stall_count"), "startup_s_mean": mean("startup_s"),
            "bitrate_kbps_mean": mean("mean_bitrate_kbps"), "bad_share_lpips_mean": mean("bad_share_lpips"),
            "bad_share_psnr_mean": mean("bad_share_psnr")}


def main() -> None:
    args = parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from ptcodec.streaming.traces import load_trace_dir

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    inputs = make_inputs(args, Path(args.work), seconds)
    traces = {cls: load_trace_dir(Path(args.traces) / cls, scale=args.scale) for cls in CLASSES}
    abrs = [a for a in args.abr.split(",") if a]
    ladders: dict[str, Any] = {}
    results: dict[str, Any] = {}
    simulated = wall = 0.0
    for name, folder in inputs["packages"].items():
        probe = json.loads((folder / "index.json").read_text())
        clip_s = sum(s["duration_s"] for s in probe["representations"][0]["segments"])
        loops = max(1, math.ceil(args.loop_seconds / clip_s - 1e-9))
        ladder, quality, summary = looped(folder, loops)
        ladders[name] = summary
        print(f"simulating the {name} ladder ({ladder.segments} segments of {ladder.segment_s:.2f} s)", flush=True)
        results[name], sim_s, wall_s = simulate_all(ladder, quality, traces, abrs, args)
        simulated, wall = simulated + sim_s, wall + wall_s
    tables = {name: {cls: {abr: summarize(results[name][cls][abr]) for abr in abrs} for cls in CLASSES}
              for name in results}
    record = {
        "label": PLUMBING, "clip": shown_path(args.clip), "work": "$WORK = " + args.work,
        "settings": {k: shown_path(v) if k in ("clip", "traces") else v for k, v in vars(args).items()
                     if k not in ("out", "work")},
        "scale_note": f"every trace's throughput x{args.scale:g}",
        "commands": inputs["commands"], "ladders": ladders,
        "trace_classes": {cls: {"traces": len(items), "mean_kbps_scaled": statistics.fmean(t.mean_kbps for t in items)}
                          for cls, items in traces.items()},
        "qoe": "Pensieve linear, per segment: bitrate Mbit/s - 4.3 x stall s - 4.3 x startup s - |bitrate change| Mbit/s",
        "bad_frames": {"lpips": f"lpips-vgg > {LPIPS_BAD:g}", "psnr": f"psnr < {args.psnr_bad:g} dB"},
        "tables": tables,
        "simulator": {"sessions": sum(len(v) for r in results.values() for c in r.values() for v in c.values()),
                      "simulated_trace_hours": simulated / 3600, "wall_s": wall,
                      "trace_hours_per_wall_hour": simulated / wall if wall else None,
                      "wall_s_per_trace_hour": wall / (simulated / 3600) if simulated else None, "jobs": args.jobs},
        "step_seconds": seconds, "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "sessions": results,
    }
    record["total_s"] = time.perf_counter() - started
    (out / "streaming.json").write_text(json.dumps(record, indent=1) + "\n")
    write_report(record, out)
    plots(record, out)
    print(report_tables(record))
    sim = record["simulator"]
    print(f"simulator: {sim['sessions']} sessions, {sim['simulated_trace_hours']:.2f} trace-hours in "
          f"{sim['wall_s']:.1f} s: {sim['wall_s_per_trace_hour']:.2f} s per trace-hour ({args.jobs} jobs)")
    print(f"{out / 'streaming.json'}, {out / 'report.md'}; total {record['total_s']:.0f} s")


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def report_tables(record: dict[str, Any]) -> str:
    scale = record["scale_note"]
    lines = [f"QoE and quality per trace class (traces scaled: {scale}; prompt ladder: {PLUMBING})", "",
             "| class | ladder | ABR | sessions | QoE/seg mean | QoE/seg median | stall s | startup s | kbit/s | "
             f"frames {record['bad_frames']['lpips']} | frames {record['bad_frames']['psnr']} |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for cls in CLASSES:
        for name, by_class in record["tables"].items():
            label = "prompt (reference generator)" if name == "prompt" else "H.265 (x265)"
            for abr, row in by_class[cls].items():
                lines.append(f"| {cls} | {label} | {abr} | {row['sessions']} | {row['qoe_per_segment_mean']:.3f} | "
                             f"{row['qoe_per_segment_median']:.3f} | {row['stall_s_mean']:.2f} | "
                             f"{row['startup_s_mean']:.2f} | {row['bitrate_kbps_mean']:.0f} | "
                             f"{_pct(row['bad_share_lpips_mean'])} | {_pct(row['bad_share_psnr_mean'])} |")
    return "\n".join(lines)


def write_report(record: dict[str, Any], out: Path) -> None:
    s = record["settings"]
    sim = record["simulator"]
    lines = [
        "# Streaming: a prompt rank ladder against an H.265 ladder (issue 15, item 5)", "",
        f"**The prompt ladder's quality is that of the {PLUMBING}.** The reference generator is ptcodec's small "
        "test generator; its pictures say nothing of Promptus with SD-Turbo.", "",
        f"Clip: the first {s['frames']} frames of `{record['clip']}`, centre-cropped to {s['size']}x{s['size']}; "
        f"segments of {s['segment_seconds']:g} s, looped to {s['loop_seconds']:g} s of video for the simulator "
        f"(each loop opens a scene). Traces: every class of `../shared/data/traces`, **throughput x{s['scale']:g}** "
        "(the traces are faster than this ladder needs). RTT 80 ms, unlimited generation speed, buffer cap 60 s.", "",
        "Made by:", "",
        *[f"    {cmd}" for cmd in record["commands"].values()], "",
        f"QoE: {record['qoe']}. Bad frames: {record['bad_frames']['lpips']} (the paper's severely distorted frame) "
        f"and {record['bad_frames']['psnr']}, over the frames each session shows.", "",
        "## Ladders", "",
        "| ladder | representation | mean kbit/s | peak kbit/s | PSNR dB | MS-SSIM | LPIPS-vgg |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for name, ladder in record["ladders"].items():
        label = f"prompt ({PLUMBING})" if name == "prompt" else "H.265 (x265, each segment alone)"
        for rep in ladder["representations"]:
            lpips = rep.get("mean_lpips-vgg")
            lines.append(f"| {label} | {rep['id']} | {rep['mean_kbps']:.0f} | {rep['peak_kbps']:.0f} | "
                         f"{rep['mean_psnr']:.2f} | {rep['mean_msssim']:.4f} | "
                         f"{'n/a' if lpips is None else f'{lpips:.3f}'} |")
    lines += ["", "Trace classes (scaled):", "", "| class | traces | mean kbit/s after scaling |", "|---|---:|---:|"]
    lines += [f"| {cls} | {v['traces']} | {v['mean_kbps_scaled']:.0f} |" for cls, v in record["trace_classes"].items()]
    lines += ["", "## Results", "",
              "Both ladders have the same mean rates and the same segment boundaries, so the QoE (bitrate and "
              "stalls) is close; what differs is the pictures, and the prompt ladder's are the reference "
              f"generator's ({PLUMBING}). Session QoE is per segment (the session's QoE over its segment count).",
              "", report_tables(record), "",
              "## Plots", "", "![QoE CDF](qoe_cdf.png)", "", "![stall time per class](stall_per_class.png)", "",
              "![bitrate over time](bitrate_over_time.png)", "", "![bad-frame share](bad_frames.png)", "",
              "## Simulator runtime", "",
              f"{sim['sessions']} sessions, {sim['simulated_trace_hours']:.2f} trace-hours of simulated playback in "
              f"{sim['wall_s']:.1f} s of wall time with {sim['jobs']} worker processes: "
              f"{sim['wall_s_per_trace_hour']:.2f} s per trace-hour ({sim['trace_hours_per_wall_hour']:.0f} "
              "trace-hours per hour), all ABRs together (RobustMPC's exhaustive 5-segment search is most of it).", "",
              "Run time: " + ", ".join(f"{k} {v:.0f} s" for k, v in record["step_seconds"].items())
              + f", total {record['total_s']:.0f} s (on {record['machine']['cpus']} shared cores).", "",
              "Implementations: " + "; ".join(f"{k}: {v}" for k, v in
                                              record["ladders"]["prompt"]["implementations"].items()), ""]
    (out / "report.md").write_text("\n".join(lines))


def plots(record: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(record["sessions"])
    abrs = list(next(iter(record["tables"].values()))[CLASSES[0]])
    scale = record["scale_note"]
    label = {"prompt": "prompt (reference generator: plumbing)", "x265": "H.265 (x265)"}

    fig, axes = plt.subplots(1, len(abrs), figsize=(4 * len(abrs), 3.4), sharey=True)
    for ax, abr in zip(list(axes) if len(abrs) > 1 else [axes], abrs, strict=True):
        for name in names:
            qoe = sorted(s["qoe_per_segment"] for cls in CLASSES for s in record["sessions"][name][cls][abr])
            ax.plot(qoe, [(i + 1) / len(qoe) for i in range(len(qoe))], label=label[name])
        ax.set_title(abr)
        ax.set_xlabel("QoE per segment")
    first = axes[0] if len(abrs) > 1 else axes
    first.set_ylabel("CDF over every trace")
    first.legend(loc="upper left", fontsize=7)
    fig.suptitle(f"QoE CDF, all trace classes ({scale})", fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "qoe_cdf.png", dpi=110)
    plt.close(fig)

    bad = record["bad_frames"]
    for file, title, panels in (
            ("stall_per_class.png", "Stall time per trace class", [("stall_s_mean", "mean stall s per session")]),
            ("bad_frames.png", "Badly distorted frames per trace class",
             [("bad_share_lpips_mean", f"share {bad['lpips']}"), ("bad_share_psnr_mean", f"share {bad['psnr']}")])):
        fig, axes = plt.subplots(len(panels), 1, figsize=(10, 3.2 * len(panels) + 0.8), squeeze=False)
        for ax, (key, ylabel) in zip(axes[:, 0], panels, strict=True):
            _bars(ax, record, names, abrs, label, key)
            ax.set_ylabel(ylabel, fontsize=8)
        axes[0, 0].set_title(f"{title} ({scale})", fontsize=9)
        handles, labels = axes[0, 0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="lower center", ncol=4, fontsize=7)
        fig.tight_layout(rect=(0, 0.12 / len(panels), 1, 1))
        fig.savefig(out / file, dpi=110)
        plt.close(fig)

    cls, abr = "pensieve_norway_test", "mpc" if "mpc" in abrs else abrs[0]
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for name in names:
        session = record["sessions"][name][cls][abr][0]  # the one session per class and ABR with per-second rates
        ax.step(range(len(session["per_second_kbps"])), session["per_second_kbps"], where="post",
                label=f"{label[name]} on {session['trace']}")
    ax.set_xlabel("video second")
    ax.set_ylabel("kbit/s shown")
    ax.set_title(f"Bitrate over time, {abr}, one trace ({scale})", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out / "bitrate_over_time.png", dpi=110)
    plt.close(fig)


def _bars(ax: Any, record: dict[str, Any], names: list[str], abrs: list[str], label: dict[str, str],
          key: str) -> None:
    """One bar per ladder and ABR in each trace class."""
    count = len(names) * len(abrs)
    width = 0.8 / count
    for i, (name, abr) in enumerate((n, a) for n in names for a in abrs):
        values = [record["tables"][name][cls][abr][key] or 0.0 for cls in CLASSES]
        ax.bar([c + (i - (count - 1) / 2) * width for c in range(len(CLASSES))], values, width,
               label=f"{label[name]}, {abr}")
    ax.set_xticks(range(len(CLASSES)), [c.replace("svsc_network/", "svsc ") for c in CLASSES], fontsize=8)


if __name__ == "__main__":
    main()
