"""The `preload-sim` sweep and its report: JSON, Markdown and plots (issue 16, item 6).

`sweep` runs each (user model, trace class, setup) once and saves `results.json` after each one
(atomically), so an interrupted sweep resumes where it stopped. `write_report` turns the results into
`report.md` with the issue's "Done when" figures and PNG plots under `plots/`.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ptcodec.errors import InputError
from ptcodec.outputs import atomic_file, make_directory
from ptcodec.preload.experiment import PIXEL_SCHEDULERS, PROMPT_SCHEDULERS, SearchValue, Setup, run_setup
from ptcodec.preload.prompts import PromptLadder
from ptcodec.preload.users import DashletUsers, RetentionUsers, UserModel

CLASSES = ("high", "medium", "low", "mixed")
USERS = ("retention", "dashlet")
DEFAULT_GEN_FPS = (15.0, 30.0, 60.0, 90.0, 120.0, 170.0)
BASELINE_NAMES = ("no_save", "fixed_preload")
METRICS = ("score", "qoe", "stall_s", "waste_mb", "downloaded_mb", "quality", "smoothness", "rule2")


def key(users: str, trace_class: str, setup: Setup) -> str:
    return f"{users}/{trace_class}/{setup.scheduler}" + (f"@{setup.gen_fps:g}" if setup.uses_prompts else "")


def setups(schedulers: Sequence[str], gen_fps: Sequence[float], ladder: PromptLadder,
           search: tuple[tuple[str, SearchValue], ...] = ()) -> list[Setup]:
    out = []
    for name in schedulers:
        if name in PROMPT_SCHEDULERS:
            out += [Setup(name, g, ladder, search) for g in gen_fps]
        else:
            out.append(Setup(name, search=search))
    return out


def user_model(name: str, video_dir: Path) -> UserModel:
    if name == "retention":
        return RetentionUsers()
    if name == "dashlet":
        return DashletUsers.from_archive(video_dir / "dashlet_swipe" / "probability.tar.gz")
    raise InputError(f"user model {name!r} is not one of {', '.join(USERS)}")


def _save(path: Path, data: dict[str, Any]) -> None:
    with atomic_file(path, durable=False) as handle:
        handle.write((json.dumps(data, indent=1, sort_keys=True) + "\n").encode())


def sweep(traces: Path, video_dir: Path, out: Path, *, classes: Sequence[str], users: Sequence[str],
          plan: Sequence[Setup], ladder: PromptLadder, workers: int = 1,
          progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
    """Run every (users, class, setup) not already in `out`/results.json; return the results."""
    make_directory(out)
    path = out / "results.json"
    results: dict[str, Any] = {"runs": {}}
    if path.exists():
        try:
            results = json.loads(path.read_text())
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: cannot resume from it: {error}") from None
    options = {name: value for setup in plan[:1] for name, value in setup.search}
    if results["runs"] and results.get("search_options", {}) != options:
        raise InputError(f"{path}: made with search options {results.get('search_options', {}) or 'the defaults'}, "
                         f"not {options or 'the defaults'}: use another --out")
    results["search_options"] = options
    results["ladder"] = {"ranks": list(ladder.ranks),
                         "h265_kbps_assumed": {str(r): ladder.h265_kbps[r] for r in ladder.ranks},
                         "coding": ladder.coding, "fps": ladder.fps, "keyframe_interval": ladder.interval}
    todo = [(u, c, s) for u in users for c in classes for s in plan if key(u, c, s) not in results["runs"]]
    total = len(users) * len(classes) * len(plan) * 20
    done = total - len(todo) * 20
    for u, c, s in todo:
        def tick() -> None:
            nonlocal done
            done += 1
            if progress:
                progress(done, total)

        run = run_setup(s, traces / c, video_dir, user_model(u, video_dir), workers=workers, progress=tick)
        results["runs"][key(u, c, s)] = {"users": u, "class": c, "scheduler": s.scheduler, "gen_fps": s.gen_fps} | run
        _save(path, results)
    _save(path, results)
    return results


# --- the report ---
def _mean(results: dict[str, Any], users: str, c: str, name: str, g: float | None = None) -> dict[str, float] | None:
    k = f"{users}/{c}/{name}" + (f"@{g:g}" if g is not None else "")
    run = results["runs"].get(k)
    return run["mean"] if run else None


def _pct_less(new: float, old: float) -> float:
    return 100 * (old - new) / old if old else math.nan


def _pct_more(new: float, old: float) -> float:
    return 100 * (new - old) / abs(old) if old else math.nan


def targets(results: dict[str, Any], users: str, c: str, gen_fps: Sequence[float]) -> list[dict[str, Any]]:
    """Against the better (by score) of no_save and fixed_preload: stall and waste reduction, QoE increase."""
    bases = [(b, m) for b in BASELINE_NAMES if (m := _mean(results, users, c, b))]
    if not bases:
        return []
    base_name, base = max(bases, key=lambda bm: bm[1]["score"])
    rows = []
    for g in gen_fps:
        m = _mean(results, users, c, "search_prompts", g)
        if m is None:
            continue
        rows.append({"gen_fps": g, "baseline": base_name, "stall_less_pct": _pct_less(m["stall_s"], base["stall_s"]),
                     "waste_less_pct": _pct_less(m["waste_mb"], base["waste_mb"]),
                     "qoe_more_pct": _pct_more(m["qoe"], base["qoe"]), "score": m["score"],
                     "met": (_pct_less(m["stall_s"], base["stall_s"]) >= 31
                             and _pct_less(m["waste_mb"], base["waste_mb"]) >= 31
                             and _pct_more(m["qoe"], base["qoe"]) >= 45)})
    return rows


def break_even(results: dict[str, Any], users: str, c: str, gen_fps: Sequence[float]) -> float | None:
    """The lowest swept G from which prompts beat the pixel-only scheduler's score at every higher G."""
    pixels = _mean(results, users, c, "search_pixels")
    if pixels is None:
        return None
    found = None
    for g in sorted(gen_fps, reverse=True):
        m = _mean(results, users, c, "search_prompts", g)
        if m is None or m["score"] <= pixels["score"]:
            break
        found = g
    return found


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def write_report(results: dict[str, Any], out: Path, *, classes: Sequence[str], users: Sequence[str],
                 gen_fps: Sequence[float], schedulers: Sequence[str]) -> Path:
    plots = out / "plots"
    make_directory(plots)
    pixel = [s for s in schedulers if s in PIXEL_SCHEDULERS]
    ladder = results.get("ladder", {})
    lines = ["# preload-sim: short-video preloading with prompts (issue 16)", "",
             "Made by `ptcodec preload-sim` in ptcodec's clean-room simulator of the MM'22 Short Video Streaming "
             "Challenge. Means over the 20 traces of each class.", "",
             f"**Prompt ladder**: ranks {ladder.get('ranks')}, bitstream {ladder.get('coding')}, "
             f"{ladder.get('fps')} fps, a keyframe every {ladder.get('keyframe_interval')} frames; sizes from the PTV "
             "format (see `ptcodec/preload/prompts.py`). **The quality value of each rank is an ASSUMPTION, not a "
             f"measurement**: H.265-equivalent kbps {ladder.get('h265_kbps_assumed')}. Every score with prompts "
             "depends on it.", "",
             "**Search scheduler options**: " + (", ".join(f"{k} = {v}" for k, v in results.get("search_options", {}).items())
                                                or "the defaults") + ". QoE = quality − smoothness − 1.85 × stall s; "
             "*rule 2* is what the challenge's rule 2 adds to smoothness (ptcodec/preload/session.py).", ""]
    for u in users:
        lines += [f"## Users: {u}", ""]
        for c in classes:
            lines += [f"### {c}", "",
                      "| scheduler | G (frames/s) | score | QoE | stall s | waste MB | downloaded MB | quality "
                      "| smoothness | rule 2 | prompt share |",
                      "|---|---|---|---|---|---|---|---|---|---|---|"]
            for s in pixel:
                m = _mean(results, u, c, s)
                if m:
                    lines.append(f"| {s} | - | " + " | ".join(_fmt(m.get(k, math.nan)) for k in METRICS) + " | 0 |")
            for g in gen_fps:
                m = _mean(results, u, c, "search_prompts", g)
                if m:
                    lines.append(f"| search_prompts | {g:g} | " + " | ".join(_fmt(m.get(k, math.nan)) for k in METRICS)
                                 + f" | {m['prompt_share']:.2f} |")
            lines.append("")
        lines += [f"### Done-when figures ({u} users)", "",
                  "With prompts, against the better (by score) of no_save and fixed_preload; targets: stall ≥ 31% "
                  "lower, waste ≥ 31% lower, QoE (before the bandwidth term) ≥ 45% higher.", "",
                  "| class | G | baseline | stall lower % | waste lower % | QoE higher % | all three met |",
                  "|---|---|---|---|---|---|---|"]
        for c in classes:
            for row in targets(results, u, c, gen_fps):
                lines.append(f"| {c} | {row['gen_fps']:g} | {row['baseline']} | {_fmt(row['stall_less_pct'])} | "
                             f"{_fmt(row['waste_less_pct'])} | {_fmt(row['qoe_more_pct'])} | {'yes' if row['met'] else 'NO'} |")
        lines += ["", "| class | prompts beat search_pixels' score from G = | search_pixels score | no_save score "
                  "| beats no_save |", "|---|---|---|---|---|"]
        for c in classes:
            sp, ns = _mean(results, u, c, "search_pixels"), _mean(results, u, c, "no_save")
            be = break_even(results, u, c, gen_fps)
            lines.append(f"| {c} | {'never (in the sweep)' if be is None else f'{be:g}'} | "
                         f"{_fmt(sp['score']) if sp else 'n/a'} | {_fmt(ns['score']) if ns else 'n/a'} | "
                         f"{('yes' if sp['score'] > ns['score'] else 'NO') if sp and ns else 'n/a'} |")
        lines.append("")
        for name in _plot(results, plots, u, classes, gen_fps, pixel):
            lines += [f"![{name}](plots/{name})", ""]
    path = out / "report.md"
    with atomic_file(path, durable=False) as handle:
        handle.write("\n".join(lines).encode())
    return path


def _plot(results: dict[str, Any], plots: Path, u: str, classes: Sequence[str], gen_fps: Sequence[float],
          pixel: Sequence[str]) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = []
    g_ref = 60.0 if 60.0 in gen_fps else (gen_fps[-1] if gen_fps else None)
    bars = list(pixel) + ([f"search_prompts@{g_ref:g}"] if g_ref is not None else [])
    fig, axes = plt.subplots(1, len(METRICS), figsize=(4 * len(METRICS), 3.6))
    for ax, metric in zip(axes, METRICS, strict=True):
        width = 0.8 / max(len(bars), 1)
        for i, b in enumerate(bars):
            name, _, g = b.partition("@")
            vals = [(_mean(results, u, c, name, float(g)) if g else _mean(results, u, c, name)) for c in classes]
            ax.bar([j + i * width for j in range(len(classes))], [v[metric] if v else math.nan for v in vals],
                   width, label=b)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(len(classes))], list(classes))
        ax.set_title(metric)
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    names.append(_savefig(fig, plots, f"{u}_per_class.png"))
    plt.close(fig)
    for what, field in (("score", "score"), ("prompt_share", "prompt_share")):
        fig, ax = plt.subplots(figsize=(6, 4))
        for c in classes:
            pts = [(g, m[field]) for g in gen_fps if (m := _mean(results, u, c, "search_prompts", g))]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=c)
            if field == "score" and (sp := _mean(results, u, c, "search_pixels")):
                ax.axhline(sp["score"], linestyle=":", linewidth=0.8, color=ax.lines[-1].get_color() if pts else None)
        ax.set_xlabel("generator speed G (frames/s)")
        ax.set_ylabel("score" if field == "score" else "share of chunks sent as prompts")
        ax.set_title(f"search_prompts, {u} users" + (" (dotted: search_pixels)" if field == "score" else ""))
        ax.legend()
        fig.tight_layout()
        names.append(_savefig(fig, plots, f"{u}_{what}_vs_G.png"))
        plt.close(fig)
    return names


def _savefig(fig: Any, plots: Path, name: str) -> str:
    partial = plots / (name + ".partial.png")
    fig.savefig(partial, dpi=90)
    os.replace(partial, plots / name)
    return name
