"""`ptcodec evaluate report`: tables and plots from the results of one or more runs.

A run directory holds `manifest.json` and `points/*.json`, one rate point each (the
runner writes them). The report writes, into its own directory:

- `points.csv` (one row per point) and `frames.csv` (one row per frame and point);
- `bd.csv`: BD-rate and delta at equal rate of each metric, each codec against each baseline;
- `compressai/*.json`: each curve in CompressAI's results-JSON shape, so that its plotting works;
- `paper_table.csv`: the Promptus paper's table (LPIPS at 140/225/540 kbit/s and the share of
  severely distorted frames), filled only from sd-turbo results;
- `report.md` with PNG plots under `plots/` (matplotlib, Agg backend): RD curves, per-frame
  LPIPS CDFs, rate per second.

Labels are honest by construction: every table names the generator; results of the
reference generator say that they test the codec's plumbing; natural and reachable
content (the generator's own output, which favours ptcodec) are separate sections;
each table's caption says which rate it uses.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ptcodec.errors import InputError, one_line
from ptcodec.evaluate.bd import LOWER_IS_BETTER, METHODS, bd, pareto_front, quality_axis, value_at_rate
from ptcodec.outputs import atomic_file, check_output, make_directory

RATE_KINDS = ("total", "steady", "keyframe")
RATE_CAPTIONS = {
    "total": "total kbit/s (every byte of the file over the clip's duration)",
    "steady": "steady-state kbit/s for ptcodec (one-time bytes, scene-init latents included, left out; framing counted)",
    "keyframe": "keyframe-payload kbit/s for ptcodec (keyframe payload bytes only: the paper's count)",
}
PAPER_RATES = (140.0, 225.0, 540.0)
SEVERE_LPIPS = 0.32
"""The paper's threshold for a severely distorted frame. The paper's LPIPS is VGG, so the
threshold is taken for LPIPS-vgg; for LPIPS-alex the same number is applied for comparison only."""
SEVERE_NET = "lpips-vgg"
LPIPS_NETS = ("lpips-alex", "lpips-vgg")
PAPER_GENERATOR = "sd-turbo"
PLUMBING = ("Results made with the reference generator test the codec's plumbing and are not "
            "comparable with Promptus.")
REACHABLE_NOTE = ("Reachable content is the generator's own output: it favours ptcodec by construction, "
                  "so it is reported apart from natural content.")
CONTENTS = ("natural", "reachable")
COMPRESSAI_NAMES = {"psnr_rgb": "psnr-rgb", "psnr_y": "psnr-y", "msssim": "ms-ssim-rgb", "ssim": "ssim-rgb"}
"""CompressAI's names for the metrics it knows; the others keep their own."""


@dataclass(frozen=True)
class Point:
    """One rate point as the runner wrote it, and where it came from."""

    run: str
    name: str
    data: dict[str, Any] = field(repr=False)

    @property
    def clip(self) -> str:
        return str(self.data["clip"])

    @property
    def content(self) -> str:
        return str(self.data.get("content", "natural"))

    @property
    def codec(self) -> str:
        return str(self.data["codec"])

    @property
    def label(self) -> str:
        return str(self.data.get("label") or self.codec)

    @property
    def generator(self) -> str:
        """The generator's id, or 'none' for a pixel codec."""
        generator = self.data.get("generator")
        return str(generator["id"]) if generator else "none"

    @property
    def fingerprint(self) -> str:
        generator = self.data.get("generator")
        return str(generator.get("fingerprint") or "") if generator else ""

    @property
    def curve(self) -> tuple[str, str]:
        """The curve a point belongs to: its label and generator."""
        return (self.label, self.generator)

    def rate(self, kind: str) -> float:
        """kbit/s of the given kind; a codec that reports total only (pixel codecs) gives its total,
        but a ptcodec point must have the kind asked for: its total counts one-time bytes the caption would not."""
        rates = self.data["kbps"]
        if kind not in rates and self.codec == "ptcodec":
            raise InputError(f"{self.run}/points/{self.name}.json: a ptcodec point without a {kind!r} rate")
        return float(rates.get(kind, rates["total"]))

    def metrics(self) -> dict[str, dict[str, Any]]:
        return dict(self.data.get("metrics") or {})

    def mean(self, metric: str) -> float:
        value = self.metrics().get(metric, {}).get("mean")
        return float(value) if value is not None else math.nan

    def per_frame(self, metric: str) -> list[float]:
        return [float(v) for v in self.metrics().get(metric, {}).get("per_frame") or []]

    def severe_share(self, net: str) -> float:
        """Share of frames with LPIPS above the paper's threshold (NaN without per-frame values)."""
        values = self.per_frame(net)
        return sum(v > SEVERE_LPIPS for v in values) / len(values) if values else math.nan


def curve_name(curve: tuple[str, str]) -> str:
    label, generator = curve
    return label if generator == "none" else f"{label} [{generator}]"


# -- loading ----------------------------------------------------------------------------------------------------------
def _read_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as error:
        raise InputError(f"{path}: cannot read: {one_line(error)}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not a JSON results file: {one_line(error)}") from None


def _check_point(path: str, data: Any) -> None:
    if not isinstance(data, dict):
        raise InputError(f"{path}: a results point must be a JSON object")
    for key in ("clip", "codec", "kbps"):
        if key not in data:
            raise InputError(f"{path}: the results point has no field {key!r}")
    if not isinstance(data["kbps"], dict) or "total" not in data["kbps"]:
        raise InputError(f"{path}: field 'kbps' must be an object with a 'total' rate")
    if data.get("content", "natural") not in CONTENTS:
        raise InputError(f"{path}: field 'content' is {data['content']!r}; expected one of {', '.join(CONTENTS)}")


def load_runs(run_dirs: Sequence[str]) -> tuple[list[Point], dict[str, Any]]:
    """The points of each run directory, and each run's manifest (by directory name)."""
    points: list[Point] = []
    manifests: dict[str, Any] = {}
    for run_dir in run_dirs:
        folder = os.path.join(run_dir, "points")
        if not os.path.isdir(folder):
            raise InputError(f"{run_dir}: not a results directory (no points/ folder)")
        run = os.path.basename(os.path.normpath(run_dir))
        manifest = os.path.join(run_dir, "manifest.json")
        manifests[run] = _read_json(manifest) if os.path.exists(manifest) else None
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".json"):
                continue
            path = os.path.join(folder, name)
            data = _read_json(path)
            _check_point(path, data)
            points.append(Point(run, name[: -len(".json")], data))
    if not points:
        raise InputError(f"no results points in {', '.join(run_dirs)}")
    return points, manifests


# -- tables -----------------------------------------------------------------------------------------------------------
def metric_names(points: Iterable[Point]) -> list[str]:
    names: set[str] = set()
    for point in points:
        names.update(point.metrics())
    return sorted(names)


def curves_of(points: Iterable[Point]) -> dict[tuple[str, str], list[Point]]:
    curves: dict[tuple[str, str], list[Point]] = {}
    for point in points:
        curves.setdefault(point.curve, []).append(point)
    return curves


def point_rows(points: Sequence[Point], rate: str) -> list[dict[str, Any]]:
    metrics = metric_names(points)
    rows = []
    for p in points:
        kbps = p.data["kbps"]
        row: dict[str, Any] = {
            "run": p.run, "point": p.name, "content": p.content, "clip": p.clip, "clip_sha256": p.data.get("clip_sha256"),
            "codec": p.codec, "label": p.label, "generator": p.generator, "generator_fingerprint": p.fingerprint,
            "target_kbps": p.data.get("target_kbps"), "kbps_total": kbps.get("total"), "kbps_steady": kbps.get("steady"),
            "kbps_keyframe": kbps.get("keyframe"), f"kbps_used_{rate}": p.rate(rate), "bytes": p.data.get("bytes"),
            "frames": p.data.get("frames"), "fps": p.data.get("fps"), "width": p.data.get("width"),
            "height": p.data.get("height"), "settings": json.dumps(p.data.get("settings") or {}, sort_keys=True),
        }
        row.update({m: p.mean(m) for m in metrics})
        rows.append(row)
    return rows


def frame_rows(points: Sequence[Point], rate: str) -> list[dict[str, Any]]:
    metrics = metric_names(points)
    rows = []
    for p in points:
        series = {m: p.per_frame(m) for m in metrics}
        count = max((len(s) for s in series.values()), default=0)
        for frame in range(count):
            row: dict[str, Any] = {"run": p.run, "point": p.name, "content": p.content, "clip": p.clip,
                                   "label": p.label, "generator": p.generator, f"kbps_{rate}": p.rate(rate),
                                   "frame": frame}
            row.update({m: s[frame] if frame < len(s) else "" for m, s in series.items()})
            rows.append(row)
    return rows


def is_baseline(curve: tuple[str, str], points: Sequence[Point], baselines: Sequence[str] | None) -> bool:
    """Baselines are the named labels or codecs, by default every codec but ptcodec."""
    if baselines is not None:
        return curve[0] in baselines or any(p.codec in baselines for p in points)
    return all(p.codec != "ptcodec" for p in points)


def bd_rows(points: Sequence[Point], rate: str, method: str, baselines: Sequence[str] | None) -> list[dict[str, Any]]:
    """Each metric x each curve against each baseline curve, per content and clip."""
    rows = []
    for content, clip, clip_points in _groups(points):
        curves = curves_of(clip_points)
        anchors = [c for c, members in curves.items() if is_baseline(c, members, baselines)]
        for metric in metric_names(clip_points):
            for test, test_points in curves.items():
                for anchor in anchors:
                    if anchor == test:
                        continue
                    anchor_points = curves[anchor]
                    result = bd([p.rate(rate) for p in anchor_points], [p.mean(metric) for p in anchor_points],
                                [p.rate(rate) for p in test_points], [p.mean(metric) for p in test_points],
                                metric, method)
                    rows.append({
                        "content": content, "clip": clip, "metric": metric, "quality_axis": quality_axis(metric),
                        "method": method, "rate": rate, "test": test[0], "test_generator": test[1],
                        "anchor": anchor[0], "anchor_generator": anchor[1], "bd_rate_pct": result.bd_rate_pct,
                        "bd_rate_reason": result.bd_rate_reason, "delta_at_equal_rate": result.delta,
                        "delta_reason": result.delta_reason, "quality_overlap": result.quality_overlap,
                        "rate_overlap": result.rate_overlap, "anchor_points": result.anchor_points,
                        "test_points": result.test_points,
                    })
    return rows


def _groups(points: Sequence[Point]) -> list[tuple[str, str, list[Point]]]:
    """Points by (content, clip), natural first."""
    keys = sorted({(p.content, p.clip) for p in points}, key=lambda k: (CONTENTS.index(k[0]), k[1]))
    return [(content, clip, [p for p in points if (p.content, p.clip) == (content, clip)]) for content, clip in keys]


def paper_refusal(points: Sequence[Point]) -> str:
    """Why the paper's table cannot be filled from these points ('' when it can)."""
    ptcodec = [p for p in points if p.codec == "ptcodec"]
    if not ptcodec:
        return "there are no ptcodec points"
    generated = sorted({p.generator for p in points if p.generator != "none"})
    if generated != [PAPER_GENERATOR]:
        return (f"the paper's table is filled only from {PAPER_GENERATOR} results; these points were made with "
                f"the generator {', '.join(generated)}")
    return ""


def paper_rows(points: Sequence[Point], rate: str) -> list[dict[str, Any]]:
    """LPIPS at the paper's rates and the share of frames above 0.32, per curve and net.

    Both are interpolated in log-rate along the curve's Pareto front for that net's mean LPIPS."""
    rows = []
    for content, clip, clip_points in _groups(points):
        for curve, members in curves_of(clip_points).items():
            for net in LPIPS_NETS:
                rates = [p.rate(rate) for p in members]
                means = [p.mean(net) for p in members]
                front = pareto_front(rates, means, net)
                if not front:
                    continue
                row: dict[str, Any] = {"content": content, "clip": clip, "codec": curve[0], "generator": curve[1],
                                       "net": net, "rate": rate,
                                       "threshold_for": SEVERE_NET}
                notes = []
                for target in PAPER_RATES:
                    value, note = value_at_rate([rates[i] for i in front], [means[i] for i in front], target)
                    share, _ = value_at_rate([rates[i] for i in front], [members[i].severe_share(net) for i in front],
                                             target)
                    row[f"lpips_at_{target:g}"] = value
                    row[f"severe_share_at_{target:g}"] = share
                    if note:
                        notes.append(f"{target:g}: {note}")
                row["notes"] = "; ".join(notes)
                rows.append(row)
    return rows


def compressai_results(points: Sequence[Point], rate: str) -> dict[str, dict[str, Any]]:
    """Each curve of each (content, clip) in CompressAI's results-JSON shape, keyed by a file stem."""
    out = {}
    for content, clip, clip_points in _groups(points):
        for curve, members in curves_of(clip_points).items():
            members = sorted(members, key=lambda p: p.rate(rate))
            results: dict[str, list[float]] = {
                "kbps": [p.rate(rate) for p in members],
                "bpp": [_bpp(p, rate) for p in members],
            }
            for metric in metric_names(members):
                results[COMPRESSAI_NAMES.get(metric, metric.replace("_", "-"))] = [p.mean(metric) for p in members]
            generator = f"generator {curve[1]}" if curve[1] != "none" else "no generator"
            description = (f"{curve_name(curve)} on {clip} ({content} content), {generator}; rates are "
                           f"{RATE_CAPTIONS[rate]}")
            if curve[1] == "reference":
                description += ". " + PLUMBING
            out[_slug(f"{content}_{clip}_{curve_name(curve)}")] = {
                "name": curve_name(curve), "description": description, "results": results}
    return out


def _bpp(point: Point, rate: str) -> float:
    """Bits per pixel from the rate, the frame rate and the frame size (NaN when they are missing)."""
    fps, width, height = point.data.get("fps"), point.data.get("width"), point.data.get("height")
    if not (fps and width and height):
        return math.nan
    return point.rate(rate) * 1000 / (float(fps) * int(width) * int(height))


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")


# -- writing ----------------------------------------------------------------------------------------------------------
def _write_text(path: str, text: str) -> None:
    with atomic_file(path, durable=False) as handle:
        handle.write(text.encode("utf-8"))


def _write_csv(path: str, rows: Sequence[dict[str, Any]]) -> None:
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    _write_text(path, buffer.getvalue())


def _fmt(value: Any, digits: int = 4) -> str:
    if isinstance(value, float):
        return "NaN" if math.isnan(value) else f"{value:.{digits}g}"
    return "" if value is None else str(value)


def _md_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(row.get(c)).replace("|", "/") for c in columns) + " |" for row in rows]
    return lines


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote (paths), and why the paper's table was left out of each section, if it was."""

    report: str
    points_csv: str
    frames_csv: str
    bd_csv: str
    paper_csv: str | None
    compressai: tuple[str, ...]
    plots: tuple[str, ...]
    paper_refused: dict[str, str]


def write_report(run_dirs: Sequence[str], out_dir: str, *, rate: str = "total", method: str = "pchip",
                 baselines: Sequence[str] | None = None, strict: bool = False) -> ReportFiles:
    """Tables and plots from one or more run directories into `out_dir`.

    `rate` is the rate every table uses for ptcodec (total, steady or keyframe; other codecs
    always give total); `method` the BD interpolation; `baselines` the labels or codecs to
    compare against (default: every codec but ptcodec). `strict` makes a refused paper table
    an error rather than a note in the report."""
    if rate not in RATE_KINDS:
        raise InputError(f"unknown rate {rate!r}; choose one of {', '.join(RATE_KINDS)}")
    if method not in METHODS:
        raise InputError(f"unknown BD interpolation {method!r}; choose one of {', '.join(METHODS)}")
    points, manifests = load_runs(run_dirs)
    refused = {content: paper_refusal([p for p in points if p.content == content])
               for content in CONTENTS if any(p.content == content for p in points)}
    if strict and any(refused.values()):
        content, reason = next((c, r) for c, r in refused.items() if r)
        raise InputError(f"the paper's table cannot be filled for the {content} content: {reason}")
    check_output(out_dir, inputs=run_dirs, directory=True)
    make_directory(os.path.join(out_dir, "plots"))
    make_directory(os.path.join(out_dir, "compressai"))

    path = os.path.join
    _write_csv(path(out_dir, "points.csv"), point_rows(points, rate))
    _write_csv(path(out_dir, "frames.csv"), frame_rows(points, rate))
    bd_table = bd_rows(points, rate, method, baselines)
    _write_csv(path(out_dir, "bd.csv"), bd_table)
    paper_points = [p for p in points if not refused.get(p.content)]
    paper_table = paper_rows(paper_points, rate) if paper_points else []
    paper_csv = path(out_dir, "paper_table.csv") if paper_table else None
    if paper_csv:
        _write_csv(paper_csv, paper_table)
    compressai = []
    for stem, results in compressai_results(points, rate).items():
        compressai.append(path(out_dir, "compressai", f"{stem}.json"))
        _write_text(compressai[-1], json.dumps(results, indent=2, allow_nan=True) + "\n")

    figures = draw_all(points, rate, path(out_dir, "plots"))
    text = render_markdown(points, manifests, rate, method, bd_table, paper_table, refused, figures, out_dir)
    _write_text(path(out_dir, "report.md"), text)
    return ReportFiles(path(out_dir, "report.md"), path(out_dir, "points.csv"), path(out_dir, "frames.csv"),
                       path(out_dir, "bd.csv"), paper_csv, tuple(compressai), tuple(f for f, _ in figures.values()),
                       {c: r for c, r in refused.items() if r})


def _generators_line(points: Sequence[Point]) -> str:
    found = sorted({(p.generator, p.fingerprint) for p in points if p.generator != "none"})
    if not found:
        return "Generator: none (pixel codecs only)."
    return "Generator: " + ", ".join(f"`{g}` (weights fingerprint {f[:16] or 'unrecorded'})" for g, f in found) + "."


def render_markdown(points: Sequence[Point], manifests: dict[str, Any], rate: str, method: str,
                    bd_table: Sequence[dict[str, Any]], paper_table: Sequence[dict[str, Any]], refused: dict[str, str],
                    figures: dict[tuple[str, str, str], tuple[str, str]], out_dir: str) -> str:
    lines = ["# ptcodec evaluation report", "", _generators_line(points), ""]
    if any(p.generator == "reference" for p in points):
        lines += [f"**{PLUMBING}**", ""]
    lines += [f"Rates: every table uses {RATE_CAPTIONS[rate]}; codecs other than ptcodec report total kbit/s.",
              f"BD-rate: `bjontegaard`, {method} interpolation, on each curve's Pareto front; lower-is-better "
              f"metrics ({', '.join(sorted(LOWER_IS_BETTER))}) use their negation as the quality axis.", ""]
    for run, manifest in manifests.items():
        lines += [f"## Run `{run}`", "", "```json", json.dumps(manifest, indent=1, sort_keys=True), "```", ""]
    for content in CONTENTS:
        section = [p for p in points if p.content == content]
        if section:
            lines += _section(content, section, rate, bd_table, paper_table, refused.get(content, ""), figures, out_dir)
    return "\n".join(lines) + "\n"


def _section(content: str, points: Sequence[Point], rate: str, bd_table: Sequence[dict[str, Any]],
             paper_table: Sequence[dict[str, Any]], refusal: str, figures: dict[tuple[str, str, str], tuple[str, str]],
             out_dir: str) -> list[str]:
    lines = [f"## {content.capitalize()} content", "", _generators_line(points), ""]
    if content == "reachable":
        lines += [REACHABLE_NOTE, ""]
    if any(p.generator == "reference" for p in points):
        lines += [f"**{PLUMBING}**", ""]
    rate_caption = f"Rate: {RATE_CAPTIONS[rate]} (other codecs: total)."
    metrics = metric_names(points)
    rows = sorted(point_rows(points, rate), key=lambda r: (r["clip"], r["label"], r[f"kbps_used_{rate}"]))
    lines += [f"### Rate points ({content})", "", rate_caption, ""]
    lines += _md_table(rows, ["clip", "label", "generator", "target_kbps", f"kbps_used_{rate}", *metrics]) + [""]
    section_bd = [r for r in bd_table if r["content"] == content]
    if section_bd:
        lines += [f"### BD-rate ({content})", "",
                  f"{rate_caption} BD-rate: percent rate change of the test at equal quality (negative: fewer bits). "
                  "Δ at equal rate: mean metric difference, test minus anchor, over the common log-rate range "
                  "(for LPIPS and DISTS negative is better). NaN rows give their reason.", ""]
        lines += _md_table(section_bd, ["clip", "metric", "test", "test_generator", "anchor", "anchor_generator",
                                        "bd_rate_pct", "delta_at_equal_rate", "bd_rate_reason", "delta_reason"]) + [""]
    lines += [f"### The paper's table ({content})", ""]
    if refusal:
        lines += [f"Not filled: {refusal}.", ""]
    else:
        section_paper = [r for r in paper_table if r["content"] == content]
        lines += [f"{rate_caption} LPIPS interpolated in log-rate along each curve's Pareto front (for that net); "
                  f"severe share: frames with LPIPS > {SEVERE_LPIPS}, interpolated along the same points. The "
                  f"{SEVERE_LPIPS} threshold is the paper's, whose LPIPS is VGG: it is taken for {SEVERE_NET}; "
                  "the LPIPS-alex share applies the same number for comparison only.", ""]
        columns = ["clip", "codec", "generator", "net"]
        columns += [f"lpips_at_{r:g}" for r in PAPER_RATES] + [f"severe_share_at_{r:g}" for r in PAPER_RATES] + ["notes"]
        lines += _md_table(section_paper, columns) + [""]
    for (fig_content, clip, kind), (file, caption) in figures.items():
        if fig_content == content:
            lines += [f"![{kind}: {clip}]({os.path.relpath(file, out_dir)})", "", f"*{caption}*", ""]
    return lines


# -- plots ------------------------------------------------------------------------------------------------------------
def _pyplot() -> Any:
    """pyplot on the Agg backend: files only, no display (imported only when a report is made)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(figure: Any, file: str) -> None:
    with atomic_file(file, durable=False) as handle:
        figure.savefig(handle, format="png", dpi=100)
    _pyplot().close(figure)


def _colours(points: Sequence[Point]) -> dict[tuple[str, str], str]:
    """One colour per curve, the same in every panel."""
    palette = [f"C{i}" for i in range(10)]
    return {curve: palette[i % len(palette)] for i, curve in enumerate(sorted(curves_of(points)))}


def _rate_ticks(axis: Any, rates: Sequence[float]) -> None:
    """Plain-number ticks on a log rate axis (the paper's rates among them), instead of 10^x labels."""
    from matplotlib.ticker import FixedLocator, NullFormatter, StrMethodFormatter

    low, high = min(rates), max(rates)
    round_numbers = [m * 10.0**e for e in range(-1, 6) for m in (1, 2, 5)]
    apart = [t for t in round_numbers if all(abs(math.log(t / r)) > math.log(1.3) for r in PAPER_RATES)]
    candidates = sorted({*PAPER_RATES, *apart})  # no two labels overlap
    ticks = [t for t in candidates if low / 1.15 <= t <= high * 1.15] or [low, high]
    axis.xaxis.set_major_locator(FixedLocator(ticks))
    axis.xaxis.set_major_formatter(StrMethodFormatter("{x:g}"))
    axis.xaxis.set_minor_formatter(NullFormatter())


def draw_all(points: Sequence[Point], rate: str, folder: str) -> dict[tuple[str, str, str], tuple[str, str]]:
    """Every plot of every (content, clip): {(content, clip, kind): (file, caption)}."""
    figures = {}
    for content, clip, members in _groups(points):
        for kind, draw in (("rd", draw_rd), ("lpips-cdf", draw_lpips_cdf), ("rate", draw_rate_per_second)):
            file = os.path.join(folder, f"{kind}_{_slug(content)}_{_slug(clip)}.png")
            caption = draw(members, rate, file)
            if caption:
                generators = _generators_line(members)
                plumbing = f" {PLUMBING}" if any(p.generator == "reference" for p in members) else ""
                figures[(content, clip, kind)] = (file, f"{caption} {clip}, {content} content. {generators}{plumbing}")
    return figures


def draw_rd(points: Sequence[Point], rate: str, file: str) -> str:
    """Rate-quality curves, one panel per metric: each curve's points, its Pareto front as a line."""
    metrics = [m for m in metric_names(points) if any(math.isfinite(p.mean(m)) for p in points)]
    if not metrics:
        return ""
    plt = _pyplot()
    columns = min(3, len(metrics))
    rows = math.ceil(len(metrics) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(4.5 * columns, 3.6 * rows), squeeze=False)
    colours = _colours(points)
    for axis, metric in zip(axes.flat, metrics, strict=False):
        for curve, members in sorted(curves_of(points).items()):
            rates, values = [p.rate(rate) for p in members], [p.mean(metric) for p in members]
            front = pareto_front(rates, values, metric)
            axis.plot([rates[i] for i in front], [values[i] for i in front], marker="o", color=colours[curve],
                      label=curve_name(curve))
            axis.scatter(rates, values, s=12, alpha=0.5, color=colours[curve])
        axis.set_xscale("log")
        _rate_ticks(axis, [p.rate(rate) for p in points])
        axis.set_xlabel(f"kbit/s ({rate})")
        axis.set_ylabel(metric + (" (lower is better)" if metric in LOWER_IS_BETTER else ""))
        axis.grid(True, which="both", alpha=0.3)
    for axis in list(axes.flat)[len(metrics):]:
        axis.set_visible(False)
    axes.flat[0].legend(fontsize=7)
    figure.tight_layout()
    _save(figure, file)
    return f"Rate-quality curves (lines: Pareto fronts; rate: {RATE_CAPTIONS[rate]})."


def _nearest(points: Sequence[Point], rate: str, target: float, net: str) -> Point | None:
    """The point nearest `target` in log-rate that has per-frame values, within a factor 1.5."""
    usable = [p for p in points if p.per_frame(net) and p.rate(rate) > 0]
    if not usable:
        return None
    best = min(usable, key=lambda p: abs(math.log(p.rate(rate) / target)))
    return best if abs(math.log(best.rate(rate) / target)) <= math.log(1.5) else None


def draw_lpips_cdf(points: Sequence[Point], rate: str, file: str) -> str:
    """Per-frame LPIPS CDFs: a row per net, a column per paper rate, each curve's nearest point."""
    nets = [n for n in LPIPS_NETS if any(p.per_frame(n) for p in points)]
    if not nets:
        return ""
    plt = _pyplot()
    figure, axes = plt.subplots(len(nets), len(PAPER_RATES), figsize=(4.2 * len(PAPER_RATES), 3.4 * len(nets)),
                                squeeze=False, sharex=True, sharey=True)
    drawn = False
    colours = _colours(points)
    for row, net in enumerate(nets):
        for column, target in enumerate(PAPER_RATES):
            axis = axes[row][column]
            for curve, members in sorted(curves_of(points).items()):
                point = _nearest(members, rate, target, net)
                if point is None:
                    continue
                values = sorted(point.per_frame(net))
                shares = [i / len(values) for i in range(len(values) + 1)]  # from 0 below the smallest value
                axis.step([values[0], *values], shares, where="post", color=colours[curve],
                          label=f"{curve_name(curve)} @ {point.rate(rate):.0f}")
                drawn = True
            axis.axvline(SEVERE_LPIPS, color="grey", linestyle="--", linewidth=1)
            axis.set_title(f"{net}, near {target:g} kbit/s", fontsize=9)
            axis.set_xlabel(f"per-frame {net}")
            axis.set_ylabel("share of frames")
            axis.grid(True, alpha=0.3)
            if axis.get_legend_handles_labels()[0]:
                axis.legend(fontsize=6)
    figure.tight_layout()
    if not drawn:
        plt.close(figure)
        return ""
    _save(figure, file)
    return (f"Per-frame LPIPS CDFs of each curve's point nearest each paper rate (within a factor 1.5; "
            f"rate: {rate}); dashed: the paper's {SEVERE_LPIPS} threshold, taken for {SEVERE_NET}.")


def draw_rate_per_second(points: Sequence[Point], rate: str, file: str) -> str:
    """kbit/s in each second of the clip, for the points whose runner recorded it."""
    series = [p for p in points if p.data.get("per_second_kbps")]
    if not series:
        return ""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(7, 3.6))
    for point in sorted(series, key=lambda p: (p.curve, p.rate("total"))):
        values = [float(v) for v in point.data["per_second_kbps"]]
        axis.step(range(len(values) + 1), [*values, values[-1]], where="post",
                  label=f"{curve_name(point.curve)} @ {point.rate('total'):.0f} total")
    axis.set_ylim(bottom=0)
    axis.set_xlabel("second of the clip")
    axis.set_ylabel("kbit/s in that second")
    axis.grid(True, alpha=0.3)
    axis.legend(fontsize=7)
    figure.tight_layout()
    _save(figure, file)
    return "Rate per second over time (all bytes charged to the second of their frame; legend: total kbit/s)."
