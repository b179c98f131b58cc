"""The ABR's view of a package: a Ladder from a `ptcodec package` index.json.

Each representation's bitrate is its mean rate (index.json's bandwidth_mean_bps), the
segment sizes are the exact bytes of its media segments, and the nominal segment length is
the mean segment duration. The init segments are not part of the ladder: a player fetches
one per representation once, before it plays (the simulator leaves them out)."""

from __future__ import annotations

import json
from pathlib import Path

from ptcodec.errors import InputError
from ptcodec.streaming.abr import Ladder
from ptcodec.streaming.package import SCHEMA


def load_ladder(package: str | Path, *, gen_fps: tuple[float, ...] | None = None) -> Ladder:
    """The Ladder of a package directory (or its index.json); `gen_fps`: one generation speed
    per representation, lowest rank first, or None for a client that generates without limit."""
    path = Path(package)
    index_path = path / "index.json" if path.is_dir() else path
    try:
        index = json.loads(index_path.read_text())
    except FileNotFoundError:
        raise InputError(f"{index_path}: no such file (give a `ptcodec package` directory)") from None
    except (OSError, UnicodeError, json.JSONDecodeError) as error:
        raise InputError(f"{index_path}: not a package index ({error})") from None
    return ladder_from_index(index, str(index_path), gen_fps=gen_fps)


def ladder_from_index(index: object, where: str, *, gen_fps: tuple[float, ...] | None = None) -> Ladder:
    """The Ladder of a parsed index.json (read from a file, or fetched over HTTP by the player);
    `where` names it in errors."""
    if not isinstance(index, dict) or index.get("schema") != SCHEMA:
        raise InputError(f"{where}: not a `ptcodec package` index of schema {SCHEMA!r}")
    try:
        reps = sorted(index["representations"], key=representation_order)
        num, den = index["time_base"]
        sizes = tuple(tuple(int(s["bytes"]) for s in r["segments"]) for r in reps)
        durations = [float(s["duration_s"]) for s in reps[0]["segments"]]
        bitrates = tuple(float(r["bandwidth_mean_bps"]) / 1000 for r in reps)
        inits = tuple(int(r["init_bytes"]) for r in reps) if all("init_bytes" in r for r in reps) else None
        fps = den / num
    except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError) as error:
        raise InputError(f"{where}: malformed package index ({error!r})") from None
    if not durations:
        raise InputError(f"{where}: malformed package index (a representation without segments)")
    if gen_fps is not None and len(gen_fps) not in (1, len(reps)):
        raise InputError(f"--gen-fps gives {len(gen_fps)} speeds for {len(reps)} representations")
    if gen_fps is not None and len(gen_fps) == 1:
        gen_fps = gen_fps * len(reps)
    return Ladder(bitrates, sum(durations) / len(durations), sizes, gen_fps=gen_fps, fps=fps, init_sizes=inits)


def representation_order(rep: dict) -> tuple[float, float]:
    """The ladder's order: by rank (a prompt ladder), else by mean rate (a pixel ladder has no rank)."""
    return (float(rep.get("rank", 0)), float(rep["bandwidth_mean_bps"]))


def ranks_of(package: str | Path) -> list[int]:
    """The ranks of a package's representations, lowest first (empty for a pixel ladder)."""
    path = Path(package)
    index = json.loads((path / "index.json" if path.is_dir() else path).read_text())
    return [r["rank"] for r in sorted(index["representations"], key=representation_order) if "rank" in r]


def labels_of(package: str | Path) -> list[str]:
    """The ids of a package's representations in ladder order: r<R> for a rank, else the pixel ladder's label."""
    path = Path(package)
    index = json.loads((path / "index.json" if path.is_dir() else path).read_text())
    return [r.get("label") or f"r{r['rank']}" for r in sorted(index["representations"], key=representation_order)]
