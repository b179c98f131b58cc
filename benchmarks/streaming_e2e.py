"""End to end: `ptcodec package`, `serve`, `play` and `simulate-abr` on a real clip, over loopback, with a Mahimahi trace.

Runs the commands a user types, each as `python -m ptcodec ...` in a subprocess:
1. `transcode` the clip (default: the first 20 s of big_buck_bunny_0_30.webm, at 64 x 64) with the
   reference generator (codec plumbing, not Promptus quality) to a rank-scalable stream (--ranks 2,4,8,16),
   with few fitting steps so that the whole run takes a few minutes on 2 cores;
2. `package` it into a DASH/HLS rank ladder of about 1 s segments;
3. `serve` the package on 127.0.0.1 (a free port; checked to listen on loopback only), paced by one
   Mahimahi trace scaled down by --scale (the traces are far faster than a small prompt ladder), with
   a fixed RTT; a fresh server for each session, so that each starts at the trace's beginning;
4. `play` it with RobustMPC twice: with real generation (--generator reference, the frames written
   to played.mp4, counted and decoded back with PyAV) and with generation modelled at --gen-fps;
5. `simulate-abr` the same package on a directory holding only that trace, same ABR, scale, RTT
   and generation speed;
then compares player and simulator (stall count, stall time, mean bitrate, startup, the ranks
chosen) and writes JSON and a short Markdown summary.

    python benchmarks/streaming_e2e.py [--clip CLIP] [--trace TRACE --scale F] [--work DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RESULTS = Path(__file__).parent / "results" / "streaming_e2e"
GENERATOR_LABEL = "reference generator: codec plumbing, not Promptus quality"


def ptcodec(*args: str, log: list[dict], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m ptcodec ARGS` to completion; fail with its stderr when it fails."""
    command = [sys.executable, "-m", "ptcodec", *args]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, env=_env())
    seconds = time.perf_counter() - started
    log.append({"command": _shown(args), "seconds": round(seconds, 2), "rc": done.returncode,
                "stdout": done.stdout.strip().splitlines()[-6:]})
    print(f"$ {_shown(args)}  ({seconds:.1f} s)")
    for line in done.stdout.strip().splitlines()[-6:]:
        print(f"  {line}")
    if done.returncode != 0:
        raise SystemExit(f"failed (exit {done.returncode}): {_shown(args)}\n{done.stderr.strip()[-3000:]}")
    return done


def _env() -> dict[str, str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def _shown(args: tuple[str, ...] | list[str]) -> str:
    return "ptcodec " + " ".join(args)


def tidy(text: str, work: Path) -> str:
    """`text` with the work directory as $WORK and the shared data as ../shared/data, as a reader repeats them."""
    for data in (DATA.resolve(), DATA):
        text = text.replace(str(data), "../shared/data")
    return text.replace(str(work), "$WORK")


def listening_addresses(port: int) -> list[str]:
    """Local addresses of the LISTEN sockets on `port` (Linux /proc/net/tcp and tcp6), as hex."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            address, state = fields[1], fields[3]
            host, _, hex_port = address.rpartition(":")
            if state == "0A" and int(hex_port, 16) == port:
                found.append(host)
    return found


class Server:
    """`ptcodec serve PACKAGE --trace T --scale F --rtt-ms R --port 0` as a subprocess, until closed."""

    def __init__(self, package: Path, trace: Path, scale: float, rtt_ms: float, cwd: Path) -> None:
        self.args = [str(package), "--trace", str(trace), "--scale", f"{scale:g}", "--rtt-ms", f"{rtt_ms:g}",
                     "--port", "0"]
        self.process = subprocess.Popen([sys.executable, "-m", "ptcodec", "serve", *self.args], cwd=cwd,
                                        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.process.stdout is not None
        self.banner = self.process.stdout.readline().strip()
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", self.banner)
        if not found:
            self.close()
            raise SystemExit(f"ptcodec serve did not start: {self.banner!r}")
        self.port = int(found.group(1))
        self.url = f"http://127.0.0.1:{self.port}/"
        self.listens_on = listening_addresses(self.port)

    @property
    def command(self) -> str:
        return _shown(["serve", *self.args])

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)


def session_of(path: Path) -> dict:
    """The one session of a `play --log` or single-trace `simulate-abr --out` file."""
    data = json.loads(path.read_text())
    ((_, sessions),) = data["abrs"].items()
    assert len(sessions) == 1, path
    return sessions[0]


def summary(session: dict, ranks: list[int]) -> dict:
    return {"stall_count": session["stall_count"], "stall_s": round(session["stall_s"], 3),
            "rebuffer_s": round(session["rebuffer_s"], 3), "gen_stall_s": round(session["gen_stall_s"], 3),
            "mean_bitrate_kbps": round(session["mean_bitrate_kbps"], 1), "startup_s": round(session["startup_s"], 3),
            "qoe": round(session["qoe"], 3), "ranks": [ranks[s["rep"]] for s in session["segments"]],
            "download_s": [round(s["download_s"], 3) for s in session["segments"]]}


def relative_difference(a: float, b: float) -> float | None:
    return None if max(abs(a), abs(b)) == 0 else abs(a - b) / max(abs(a), abs(b))


def link_check(path: Path, index: dict, trace: Path, scale: float, rtt_ms: float) -> dict:
    """Each segment's measured download time in a `play --log` session against the simulator's link model
    (traces.download_time) at the same request time, plus one RTT where the init segment came with it. The
    session clock starts after the manifest is in (two small requests), so the model runs slightly early."""
    from ptcodec.streaming.traces import download_time, load_trace

    link = load_trace(trace).scaled(scale)
    reps = sorted(index["representations"], key=lambda r: r["rank"])
    session = session_of(path)
    rows = []
    for log in session["segments"]:
        media = reps[log["rep"]]["segments"][log["segment"]]["bytes"]
        requests = 1 if log["bytes"] == media else 2
        model = download_time(link, log["request_s"], log["bytes"], rtt_ms / 1000) + (requests - 1) * rtt_ms / 1000
        rows.append({"segment": log["segment"], "measured_s": round(log["download_s"], 3), "model_s": round(model, 3)})
    ratios = sorted(r["measured_s"] / r["model_s"] for r in rows)
    return {"median_measured_over_model": round(ratios[len(ratios) // 2], 3), "segments": rows}


def source_frames(path: Path, most: int) -> int:
    """Frames of the clip that --frames takes (decoded: a WebM does not declare its count)."""
    with av.open(str(path)) as container:
        return sum(1 for _ in itertools.islice(container.decode(video=0), most))


def video_frames(path: Path) -> tuple[int, tuple[int, int]]:
    """Frames PyAV decodes from `path`, and their size."""
    count, size = 0, (0, 0)
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            count, size = count + 1, (frame.width, frame.height)
    return count, size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", type=Path, default=DATA / "clips" / "big_buck_bunny_0_30.webm")
    parser.add_argument("--frames", type=int, default=480, help="frames of the clip to encode (default 480: 20 s)")
    parser.add_argument("--size", default="64", help="transcode --size (default 64)")
    parser.add_argument("--ranks", default="2,4,8,16", help="the ladder (default 2,4,8,16)")
    parser.add_argument("--interval", "-K", type=int, default=6, help="frames between keyframes (default 6)")
    parser.add_argument("--steps", default="20,8",
                        help="first,later fitting steps (default 20,8: far below --quality fast, for time)")
    parser.add_argument("--segment-seconds", type=float, default=1.0)
    parser.add_argument("--trace", type=Path, default=DATA / "traces" / "mahimahi" / "TMobile-LTE-short.down")
    parser.add_argument("--scale", type=float, default=0.02,
                        help="trace throughput factor (default 0.02: TMobile-LTE-short's 16.7 Mbit/s mean -> 334 kbit/s, "
                        "between ranks 8 and 16)")
    parser.add_argument("--rtt-ms", type=float, default=80.0)
    parser.add_argument("--abr", default="mpc")
    parser.add_argument("--gen-fps", type=float, default=100.0, help="modelled generation speed (default 100)")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()),
                        help="a temporary directory is made (and removed) under this")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--out", type=Path, default=RESULTS / "e2e.json")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress while it runs
    args.clip, args.trace = args.clip.resolve(), args.trace.resolve()  # the commands run in the work directory
    args.work.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="ptcodec-streaming-e2e-", dir=args.work))
    try:
        result = run(args, work)
    finally:
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    markdown = args.out.with_suffix(".md")
    markdown.write_text(report(result))
    print(f"wrote {args.out} and {markdown}")
    if not result["checks"]["all_passed"]:
        raise SystemExit("some checks failed: " + ", ".join(k for k, v in result["checks"].items() if v is False))


def run(args: argparse.Namespace, work: Path) -> dict:
    log: list[dict] = []
    started = time.perf_counter()
    first, later = args.steps.split(",")
    stream, package = work / "clip.ptv", work / "package"
    ptcodec("transcode", str(args.clip), str(stream), "--generator", "reference", "--size", args.size,
            "--frames", str(args.frames), "--quality", "fast", "--first-steps", first, "--later-steps", later,
            "--perceptual", "none", "--ranks", args.ranks, "-K", str(args.interval), "-q", log=log, cwd=work)
    ptcodec("package", str(stream), str(package), "--ranks", args.ranks,
            "--segment-seconds", f"{args.segment_seconds:g}", log=log, cwd=work)
    index = json.loads((package / "index.json").read_text())
    ranks = sorted(r["rank"] for r in index["representations"])

    sessions: dict[str, dict] = {}
    servers = []
    for name, how in (("play_real", ["--generator", "reference", "--output", str(work / "played.mp4")]),
                      ("play_modelled", ["--gen-fps", f"{args.gen_fps:g}"])):
        server = Server(package, args.trace, args.scale, args.rtt_ms, work)
        try:
            print(f"$ {server.command}\n  {server.banner}")
            ptcodec("play", server.url + "manifest.mpd", "--abr", args.abr, *how, "--log", str(work / f"{name}.json"),
                    "-q", log=log, cwd=work)
        finally:
            server.close()
        servers.append({"command": server.command, "banner": server.banner, "port": server.port,
                        "listening_on": server.listens_on})
        sessions[name] = summary(session_of(work / f"{name}.json"), ranks)

    traces = work / "traces"
    traces.mkdir()
    shutil.copy(args.trace, traces / args.trace.name)
    ptcodec("simulate-abr", str(package), str(traces), "--abr", args.abr, "--scale", f"{args.scale:g}",
            "--rtt-ms", f"{args.rtt_ms:g}", "--gen-fps", f"{args.gen_fps:g}", "--out", str(work / "sim.json"), "-q",
            log=log, cwd=work)
    sessions["simulate"] = summary(session_of(work / "sim.json"), ranks)
    link = link_check(work / "play_modelled.json", index, args.trace, args.scale, args.rtt_ms)

    frames, size = video_frames(work / "played.mp4")
    clip_frames = source_frames(args.clip, args.frames)
    sim = sessions["simulate"]
    comparison = {name: {key: {"player": sessions[name][key], "simulator": sim[key],
                               "relative_difference": relative_difference(sessions[name][key], sim[key])}
                         for key in ("stall_count", "stall_s", "mean_bitrate_kbps", "startup_s")}
                  | {"same_ranks": sessions[name]["ranks"] == sim["ranks"]}
                  for name in ("play_real", "play_modelled")}
    checks = {
        "server_on_loopback_only": all(s["listening_on"] == ["0100007F"] for s in servers),
        "played_frames_match_clip": frames == clip_frames,
        "played_size_matches": size == (int(args.size), int(args.size)) if args.size.isdigit() else None,
        "abr_switched_rank": len(set(sim["ranks"])) > 1 and len(set(sessions["play_modelled"]["ranks"])) > 1,
    }
    checks["all_passed"] = all(v is not False for v in checks.values())
    for entry in [*log, *servers]:  # paths as a reader of the results can repeat them
        entry["command"] = tidy(entry["command"], work)
    reps = sorted(index["representations"], key=lambda r: r["rank"])
    return {
        "what": "ptcodec package, serve, play and simulate-abr end to end over loopback (127.0.0.1)",
        "invocation": tidy(" ".join(["python", "benchmarks/streaming_e2e.py", *sys.argv[1:]]), work),
        "generator": GENERATOR_LABEL,
        "clip": {"file": tidy(str(args.clip), work), "frames": clip_frames, "size": args.size,
                 "transcode": {"ranks": args.ranks, "K": args.interval, "quality": "fast",
                               "first_steps": int(first), "later_steps": int(later), "perceptual": "none"}},
        "ladder": [{"rank": r["rank"], "segments": len(r["segments"]),
                    "bytes": r["init_bytes"] + sum(s["bytes"] for s in r["segments"]),
                    "mean_kbps": round(8 * sum(s["bytes"] for s in r["segments"]) / 1000
                                       / sum(s["duration_s"] for s in r["segments"]), 1)} for r in reps],
        "trace": {"file": tidy(str(args.trace), work), "scale": args.scale, "rtt_ms": args.rtt_ms},
        "abr": args.abr, "gen_fps_modelled": args.gen_fps,
        "servers": servers,
        "played_output": {"frames": frames, "size": list(size), "clip_frames": clip_frames},
        "sessions": sessions, "comparison": comparison, "link_check_play_modelled": link, "checks": checks, "commands": log,
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "load_average_1min": os.getloadavg()[0], "python": platform.python_version()},
        "wall_s": round(time.perf_counter() - started, 1),
    }


def report(result: dict) -> str:
    """The Markdown summary: commands, figures, labels."""
    trace = result["trace"]
    lines = [
        "# Streaming end to end: package, serve, play, simulate-abr",
        "",
        f"Generated by `{result['invocation']}` ({result['wall_s']:.0f} s wall). "
        f"Generator: **{result['generator']}**. Clip: `{result['clip']['file']}`, first "
        f"{result['clip']['frames']} frames at {result['clip']['size']} px. Trace: `{trace['file']}` "
        f"scaled by **{trace['scale']:g}**, RTT {trace['rtt_ms']:g} ms, over 127.0.0.1. ABR: {result['abr']}. "
        f"Machine: {result['machine']['cpus']} cores (shared; load {result['machine']['load_average_1min']:.1f}).",
        "",
        "| rank | segments | bytes | mean kbit/s |",
        "|---:|---:|---:|---:|",
        *(f"| {r['rank']} | {r['segments']} | {r['bytes']:,} | {r['mean_kbps']:,.1f} |" for r in result["ladder"]),
        "",
        "| session | stalls | stall s | mean kbit/s | startup s | QoE | ranks per segment |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    names = {"play_real": "play, real generation (reference)",
             "play_modelled": f"play, modelled at {result['gen_fps_modelled']:g} frames/s",
             "simulate": f"simulate-abr, {result['gen_fps_modelled']:g} frames/s"}
    for key, label in names.items():
        s = result["sessions"][key]
        lines.append(f"| {label} | {s['stall_count']} | {s['stall_s']:.2f} | {s['mean_bitrate_kbps']:,.1f} | "
                     f"{s['startup_s']:.2f} | {s['qoe']:.2f} | {','.join(map(str, s['ranks']))} |")
    played = result["played_output"]
    lines += ["", f"Played output: {played['frames']} frames of {played['size'][0]}x{played['size'][1]} decoded by "
              f"PyAV (the clip: {played['clip_frames']}). Checks: "
              + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in result["checks"].items()) + ".",
              "", f"Link: the modelled session's download times over `ptcodec serve` against the simulator's link model "
              f"at the same request times: median measured/model "
              f"{result['link_check_play_modelled']['median_measured_over_model']:.2f}. The ABR's choices depend on "
              "each measured download, so player and simulator can take different paths through the ladder (and "
              "reach the trace's troughs at different ranks) even when the link agrees; real generation runs "
              "between downloads, while the trace runs on.",
              "", "Commands ($WORK: the temporary work directory):", "", "```"]
    lines += [c["command"] for c in result["commands"][:2]]
    lines += [s["command"] for s in result["servers"][:1]]
    lines += [c["command"] for c in result["commands"][2:]]
    lines += ["```", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
