"""Per-frame quality of every segment of every representation of a package, for the simulator's
"share of badly distorted frames" (the paper's severely distorted frames: LPIPS > 0.32).

A prompt representation is decoded as a player would: its init segment and media segments, concatenated
(the stream cut to its rank), with the generator its sequence header names; a pixel representation's
segments are decoded each alone with the same adapter that encoded them (ptcodec.evaluate.codecs). Each
decoded frame is measured against the source clip's frame of the same index with
ptcodec.evaluate.quality's metrics (PSNR and MS-SSIM always, LPIPS-vgg when its weights are installed).

quality.json (schema "ptcodec-quality/1"):
    {"schema", "package", "clip", "clip_sha256", "width", "height", "metrics": [...],
     "implementations": {metric: text}, "generator": {"id", "fingerprint"} | null,
     "representations": [{"id", "rank" | "codec", "segments": [{metric: [value per frame]}]}]}
with representations in ladder order (ladder.representation_order), so that index i is the Ladder's rep i.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.errors import InputError

SCHEMA = "ptcodec-quality/1"
SEVERE_METRIC = "lpips-vgg"
"""The paper's LPIPS is VGG (ptcodec.evaluate.report.SEVERE_NET)."""


def default_metrics() -> tuple[str, ...]:
    """PSNR and MS-SSIM, and LPIPS-vgg when its weights are installed here."""
    from ptcodec.perceptual.weights import missing_reason

    return ("psnr", "msssim") + (() if missing_reason(SEVERE_METRIC) else (SEVERE_METRIC,))


def package_quality(package: str | os.PathLike[str], clip: str | os.PathLike[str], *,
                    metrics: tuple[str, ...] | None = None, device: str = "cpu") -> dict[str, Any]:
    """The quality.json dict of `package` against its source `clip` (read at the decoded size, from frame 0)."""
    from ptcodec.evaluate.quality import MetricContext, measure
    from ptcodec.evaluate.run import clip_sha256
    from ptcodec.media import load_clip
    from ptcodec.streaming.ladder import representation_order

    folder = Path(package)
    index = _index(folder)
    names = metrics or default_metrics()
    time_base = Fraction(*index["time_base"])
    reps = sorted(index["representations"], key=representation_order)
    end = max(s["first_frame"] + s["frames"] for s in reps[0]["segments"])
    source: np.ndarray | None = None
    out: dict[str, Any] = {"schema": SCHEMA, "package": os.fspath(package), "clip": os.fspath(clip),
                           "metrics": list(names), "implementations": {}, "generator": None, "representations": []}
    context = MetricContext(device=device)
    generator = None
    for rep in reps:
        if "rank" in rep:
            decoded, generator = _decode_prompt(folder, rep, generator, device)
            out["generator"] = {"id": generator.id, "fingerprint": generator.fingerprint().hex(),
                                "note": _generator_note(generator.id)}
        else:
            decoded = _decode_pixel(folder, rep, time_base)
        if source is None:
            height, width = decoded.shape[1:3]
            source = load_clip(os.fspath(clip), size=(width, height), max_frames=end).frames
            if len(source) < end:
                raise InputError(f"{clip}: {len(source)} frames, fewer than the {end} of {package}")
            out.update(clip_sha256=clip_sha256(source[:end]), width=int(width), height=int(height), frames=end)
        segments = []
        for seg in rep["segments"]:
            first, count = seg["first_frame"], seg["frames"]
            values, implementations = measure(names, source[first:first + count], decoded[first:first + count],
                                              context)
            out["implementations"].update(implementations)
            segments.append({name: values[name]["per_frame"] for name in names})
        key = {"rank": rep["rank"]} if "rank" in rep else {"codec": rep.get("codec")}
        out["representations"].append({"id": rep.get("label") or f"r{rep['rank']}", **key, "segments": segments})
    return out


def _generator_note(generator_id: str) -> str:
    if generator_id == "reference":
        return "reference generator: codec plumbing, not Promptus quality"
    return ""


def _index(folder: Path) -> dict[str, Any]:
    from ptcodec.streaming.package import SCHEMA as PACKAGE_SCHEMA

    try:
        index = json.loads((folder / "index.json").read_text())
    except (OSError, UnicodeError, ValueError) as error:
        raise InputError(f"{folder / 'index.json'}: cannot read a package index ({error})") from None
    if not isinstance(index, dict) or index.get("schema") != PACKAGE_SCHEMA:
        raise InputError(f"{folder / 'index.json'}: not a `ptcodec package` index of schema {PACKAGE_SCHEMA!r}")
    return index


def _decode_prompt(folder: Path, rep: dict[str, Any], generator: Any, device: str) -> tuple[np.ndarray, Any]:
    """Frames of a prompt representation: init + media segments (the truncated stream), decoded in order."""
    from ptcodec.decoder import Decoder
    from ptcodec.generators import GeneratorOptions, load_generator
    from ptcodec.ptv import PtvReader

    data = (folder / rep["init"]).read_bytes() + b"".join((folder / s["file"]).read_bytes() for s in rep["segments"])
    with PtvReader(data, path=f"{folder}/{rep['init']}") as reader:
        header = reader.header
        if generator is None or generator.id != header.generator_id:
            generator = load_generator(header.generator_id, GeneratorOptions(device=device))
        decoder = Decoder(header, generator)
        frames = [f.image for f in decoder.decode_range(reader.packets())]
    return np.stack(frames), generator


def _decode_pixel(folder: Path, rep: dict[str, Any], time_base: Fraction) -> np.ndarray:
    """Frames of a pixel representation, each segment decoded alone by its codec's adapter (which checks
    that a segment gives its frame count)."""
    from ptcodec.evaluate.codecs import Encoded, make_codec

    codec = make_codec(str(rep.get("codec")))
    fps = 1 / time_base
    frames = []
    for seg in rep["segments"]:
        path = folder / seg["file"]
        encoded = Encoded(path, int(seg["bytes"]), int(seg["frames"]), fps, 0.0)
        frames.append(codec.decode(encoded))
    return np.concatenate(frames)


@dataclass(frozen=True)
class BadRule:
    """`metric>value` (worse above, LPIPS-like) or `metric<value` (worse below, PSNR-like)."""

    metric: str
    threshold: float
    higher_is_better: bool

    def __str__(self) -> str:
        return f"{self.metric}{'<' if self.higher_is_better else '>'}{self.threshold:g}"


def parse_bad(text: str) -> BadRule:
    """`lpips-vgg>0.32` or `psnr<25`: a frame is bad when the comparison holds."""
    match = re.fullmatch(r"\s*([a-z0-9_-]+)\s*([<>])\s*([-+0-9.eE]+)\s*", text)
    try:
        threshold = float(match.group(3)) if match else float("nan")
    except ValueError:
        threshold = float("nan")
    if match is None or not np.isfinite(threshold):
        raise InputError(f"--bad {text!r}: write METRIC>VALUE (bad above, as lpips-vgg>0.32) or METRIC<VALUE "
                         "(bad below, as psnr<25)")
    return BadRule(match.group(1), threshold, match.group(2) == "<")


def load_quality(path: str | os.PathLike[str], labels: list[str], metric: str) -> list[list[list[float]]]:
    """quality[rep][segment] = per-frame values of `metric`, reps in the order of `labels` (ladder.labels_of)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeError, ValueError) as error:
        raise InputError(f"{path}: cannot read quality.json ({error})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(f"{path}: not a quality file of schema {SCHEMA!r}")
    if metric not in data.get("metrics", []):
        raise InputError(f"{path}: has no {metric!r}; it measured {', '.join(data.get('metrics', [])) or 'nothing'}")
    try:
        by_id = {rep["id"]: [[float(v) for v in seg[metric]] for seg in rep["segments"]]
                 for rep in data["representations"]}
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{path}: malformed quality file ({error!r})") from None
    missing = [label for label in labels if label not in by_id]
    if missing:
        raise InputError(f"{path}: no quality for representation {missing[0]} of the package; measure this package")
    return [by_id[label] for label in labels]


def write_quality(data: dict[str, Any], path: str | os.PathLike[str]) -> None:
    from ptcodec.outputs import atomic_file

    with atomic_file(path) as f:
        f.write((json.dumps(data, indent=1) + "\n").encode())


def check_segments(quality: list[list[list[float]]], sizes: tuple[tuple[int, ...], ...], path: str) -> None:
    """The quality file must have one entry per segment of each representation of the ladder."""
    for rep, (values, segs) in enumerate(zip(quality, sizes, strict=True)):
        if len(values) != len(segs):
            raise InputError(f"{path}: representation {rep} has quality for {len(values)} segments, "
                               f"the package {len(segs)}")
