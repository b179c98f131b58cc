"""A pixel-codec ladder (H.264 by x264, H.265 by x265) packaged as `ptcodec package` packages a rank ladder.

For the paper's comparison: the same clip at the same rates, cut at the same frame boundaries, in the same
layout (index.json of schema "ptcodec-package/1", DASH MPD, HLS playlists), so that the simulator and the
player read either ladder alike. Each media segment is its own encode of its frames through the adapters and
rate control of `ptcodec evaluate` (ptcodec.evaluate.codecs: make_codec, encode_at_rate at the target rate),
so it starts with an IDR picture and its own parameter sets and decodes alone, like a closed GOP; a
representation's init segment is the parameter sets (and SEI) of its first segment, what precedes the first
coded picture there. Segment bytes are raw Annex B, as `ptcodec evaluate` counts them.

Layout of OUTDIR: as package.py's, with <label>/ for r<R>/ (label "<codec>-<kbps>k"), init.<ext> and
seg-<N>.<ext> (.264, .265). Representations carry "label", "codec" and "encoder_settings" instead of "rank".
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.errors import InputError, PtcodecError
from ptcodec.streaming.package import (
    DEFAULT_SEGMENT_S,
    SCHEMA,
    PackageResult,
    Representation,
    Segment,
    _write_bytes,
    check_paths,
    segment_rates,
    segment_starts,
    write_package,
)


@dataclass(frozen=True)
class PixelFormat:
    demuxer: str
    """PyAV's demuxer of the elementary stream."""
    mime_type: str
    """RFC 6184 / RFC 7798 media type."""
    codecs: str
    """RFC 6381 sample entry (no profile or level: the segments are raw Annex B, not ISO BMFF)."""
    extension: str


FORMATS = {
    "x264": PixelFormat("h264", "video/H264", "avc1", "264"),
    "x265": PixelFormat("hevc", "video/H265", "hev1", "265"),
}
"""The adapters a pixel ladder can use: those that write Annex B, whose segments can be cut into init + media."""


def pixel_format(codec: str) -> PixelFormat:
    try:
        return FORMATS[codec]
    except KeyError:
        raise InputError(f"--codec {codec!r}: a pixel ladder is made with one of {', '.join(FORMATS)}") from None


def parse_rates(text: str) -> tuple[float, ...]:
    """`--kbps 100,200,400`, checked by check_rates."""
    try:
        return check_rates(tuple(float(v) for v in text.split(",")))
    except ValueError:
        raise InputError(f"--kbps {text!r}: give rates in kbit/s separated by commas, as 100,200,400") from None


def check_rates(kbps: tuple[float, ...]) -> tuple[float, ...]:
    """The ladder's rates, lowest first; each a positive finite kbit/s, no two alike."""
    if not kbps:
        raise InputError("--kbps: give at least one rate in kbit/s")
    bad = [k for k in kbps if not (math.isfinite(k) and k > 0)]
    if bad:
        raise InputError(f"--kbps: every rate must be a positive number of kbit/s, got {bad[0]:g}")
    rates = tuple(sorted(kbps))
    if len({label_of("", k) for k in rates}) != len(rates):
        raise InputError(f"--kbps {','.join(f'{k:g}' for k in kbps)}: two rates round to the same kbit/s")
    return rates


def label_of(codec: str, kbps: float) -> str:
    return f"{codec}-{round(kbps)}k"


@dataclass(frozen=True)
class Alignment:
    """The frame ranges of an existing package's segments, its time base and picture size."""

    cuts: list[tuple[int, int]]
    """(first frame, frame count) per segment."""
    time_base: Fraction
    mean_kbps: tuple[float, ...]
    """Its representations' mean rates, lowest first (the default rates of the pixel ladder)."""
    size: tuple[int, int] | None
    """(width, height) of a prompt package (from its sequence header), else None."""


def read_alignment(package: str | os.PathLike[str]) -> Alignment:
    """The segment boundaries of `package` (a directory written by `ptcodec package`, or its index.json)."""
    from ptcodec.streaming.ladder import representation_order

    path = Path(package)
    folder = path if path.is_dir() else path.parent
    index_path = folder / "index.json"
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise InputError(f"--align {index_path}: no such file (give a `ptcodec package` directory)") from None
    except (OSError, UnicodeError, ValueError) as error:
        raise InputError(f"--align {index_path}: not a package index ({error})") from None
    if not isinstance(index, dict) or index.get("schema") != SCHEMA:
        raise InputError(f"--align {index_path}: not a `ptcodec package` index of schema {SCHEMA!r}")
    try:
        reps = sorted(index["representations"], key=representation_order)
        cuts = [(int(s["first_frame"]), int(s["frames"])) for s in reps[0]["segments"]]
        num, den = (int(v) for v in index["time_base"])
        mean = tuple(float(r["bandwidth_mean_bps"]) / 1000 for r in reps)
        init = reps[0].get("init") if "rank" in reps[0] else None
    except (KeyError, TypeError, ValueError, IndexError) as error:
        raise InputError(f"--align {index_path}: malformed package index ({error!r})") from None
    if not cuts or num <= 0 or den <= 0:
        raise InputError(f"--align {index_path}: no segments, or a bad time base")
    return Alignment(cuts, Fraction(num, den), mean, _stream_size(folder / init) if init else None)


def _stream_size(init: Path) -> tuple[int, int] | None:
    """(width, height) from a prompt representation's init segment (the sequence header)."""
    from ptcodec.ptv import PtvReader

    try:
        with PtvReader(init.read_bytes(), path=str(init)) as reader:
            return reader.header.width, reader.header.height
    except (OSError, PtcodecError):
        return None


def package_pixel(clip: str | os.PathLike[str], outdir: str | os.PathLike[str], *, codec: str = "x265",
                  kbps: tuple[float, ...] | None = None, align: str | os.PathLike[str] | None = None,
                  segment_s: float = DEFAULT_SEGMENT_S, size: int | tuple[int, int] | None = None,
                  frames: int | None = None) -> PackageResult:
    """Encode `clip` (any video PyAV reads) at each rate of `kbps` with `codec`, one encode per segment, into the
    package `outdir` (absent or empty). `align`: cut at the segments of that package instead of every
    `segment_s` seconds, and default to its picture size, its frame count and its representations' mean rates."""
    from ptcodec.evaluate.codecs import make_codec
    from ptcodec.media import load_clip

    fmt = pixel_format(codec)
    alignment = read_alignment(align) if align is not None else None
    rates = check_rates(kbps if kbps else alignment.mean_kbps if alignment else ())
    name, out = check_paths(clip, outdir, segment_s)
    adapter = make_codec(codec)
    if alignment is not None:
        end = alignment.cuts[-1][0] + alignment.cuts[-1][1]
        size = size or alignment.size
        video = load_clip(name, size=size, max_frames=min(frames or end, end))
        if Fraction(video.fps) != 1 / alignment.time_base:
            raise InputError(f"{name}: {float(video.fps):g} frames/s, but the package of --align is at "
                             f"{float(1 / alignment.time_base):g}; its segments' frames would not match")
        if len(video.frames) < end:
            raise InputError(f"{name}: {len(video.frames)} frames, fewer than the {end} of the package of --align")
        cuts, time_base = alignment.cuts, alignment.time_base
    else:
        video = load_clip(name, size=size, max_frames=frames)
        time_base = 1 / Fraction(video.fps)
        count = len(video.frames)
        starts = segment_starts([1] * count, round(Fraction(segment_s) * Fraction(video.fps)))
        cuts = [(a, b - a) for a, b in zip(starts, [*starts[1:], count], strict=True)]

    def write(partial: Path) -> PackageResult:
        with tempfile.TemporaryDirectory(prefix="ptcodec-pixel-") as work:
            reps = tuple(_representation(adapter, fmt, video.frames, Fraction(video.fps), rate, cuts, time_base,
                                         partial, Path(work)) for rate in rates)
        return PackageResult(out, time_base, reps, mime_type=fmt.mime_type, codecs=fmt.codecs)

    return write_package(out, write)


def _representation(adapter: Any, fmt: PixelFormat, frames: np.ndarray, fps: Fraction, kbps: float,
                    cuts: list[tuple[int, int]], time_base: Fraction, partial: Path, work: Path) -> Representation:
    """Encode each segment's frames alone at `kbps` and write the representation's files."""
    from ptcodec.evaluate.codecs import encode_at_rate

    label = label_of(adapter.name, kbps)
    (partial / label).mkdir()
    segments: list[Segment] = []
    records: list[dict[str, Any]] = []
    settings: dict[str, Any] = {}
    init = b""
    for number, (first, count) in enumerate(cuts, start=1):
        workdir = work / label / f"seg{number}"
        encoded = encode_at_rate(adapter, frames[first:first + count], fps, kbps, workdir)
        data = encoded.path.read_bytes()
        shutil.rmtree(workdir, ignore_errors=True)
        if number == 1:
            init = parameter_sets(data, fmt.demuxer)
            settings = {k: v for k, v in encoded.settings.items() if k != "rate_control"}
        file = f"{label}/seg-{number:05d}.{fmt.extension}"
        _write_bytes(partial / file, data)
        segments.append(Segment(file, len(data), first, count, float(first * time_base), float(count * time_base),
                                True))
        control = encoded.settings["rate_control"]
        records.append({"achieved_kbps": encoded.kbps, "tries": len(control["tries"]),
                        "within_tolerance": control["within_tolerance"]})
    init_name = f"{label}/init.{fmt.extension}"
    _write_bytes(partial / init_name, init)
    peak, mean = segment_rates(segments, time_base)
    settings = {**settings, "target_kbps": kbps, "segments_encoded": "each alone (its own IDR and parameter sets)",
                "rate_control": {"tolerance": control["tolerance"], "max_tries": control["max_tries"],
                                 "rule": control["rule"], "per_segment": records}}
    return Representation(None, init_name, len(init), tuple(segments), peak, mean, f"{label}/playlist.m3u8",
                          label=label, codec=adapter.name, encoder_settings=settings)


def parameter_sets(data: bytes, demuxer: str) -> bytes:
    """The Annex B bytes before the first coded picture (VCL NAL unit): VPS/SPS/PPS and SEI, the init segment."""
    position = 0
    while (start := data.find(b"\x00\x00\x01", position)) >= 0 and start + 3 < len(data):
        header = data[start + 3]
        vcl = (header >> 1) & 0x3F < 32 if demuxer == "hevc" else 1 <= header & 0x1F <= 5
        if vcl:
            return data[:start - 1 if start > 0 and data[start - 1] == 0 else start]
        position = start + 3
    raise PtcodecError(f"{demuxer}: the encoder wrote no coded picture")
