"""The challenge's videos: chunk sizes per level and retention curves.

`short_video_size/<name>/video_size_<level>` holds one integer per line, the bytes of each 1-second
chunk at that level (750 / 1200 / 1850 kbit/s). `user_ret/<name>` holds lines `second share`, the share
of users still watching at that second, from second 0 (share 1) to the video's length, then one end
marker line (`length+1 0`). The catalogue is the sorted video names; the session's i-th video is
catalogue[i % len(catalogue)], as in the challenge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from ptcodec.errors import InputError

LEVEL_KBPS = (750, 1200, 1850)
CHUNK_MS = 1000.0
MAX_FILE_BYTES = 1 << 20  # a size or retention file is a few kB; refuse anything absurd before reading it


@dataclass(frozen=True)
class Video:
    """One video: `sizes[level][chunk]` in bytes, and its retention curve.

    `retention_s` and `retention` are the file's lines as read, end marker included (the view an
    Algorithm gets from `get_user_model`)."""

    name: str
    sizes: tuple[tuple[int, ...], ...]
    retention_s: tuple[float, ...]
    retention: tuple[float, ...]
    kbps: tuple[int, ...] = LEVEL_KBPS

    @property
    def n_chunks(self) -> int:
        return len(self.sizes[0])

    @property
    def length_ms(self) -> float:
        return self.n_chunks * CHUNK_MS


def _read_lines(path: Path) -> list[tuple[int, list[str]]]:
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{path}: {path.stat().st_size} bytes is too large for a video data file")
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read: {error}") from None
    return [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]


def _sizes(path: Path) -> tuple[int, ...]:
    sizes = []
    for n, fields in _read_lines(path):
        if not fields[0].isdigit() or int(fields[0]) == 0:
            raise InputError(f"{path}:{n}: expected a positive chunk size in bytes, got {fields[0]!r}")
        sizes.append(int(fields[0]))
    if not sizes:
        raise InputError(f"{path}: no chunk sizes")
    return tuple(sizes)


def _retention(path: Path, n_chunks: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    times: list[float] = []
    shares: list[float] = []
    for n, fields in _read_lines(path):
        try:
            t, share = float(fields[0]), float(fields[1])
        except (ValueError, IndexError):
            raise InputError(f"{path}:{n}: expected 'second share', got {' '.join(fields)!r}") from None
        if t != len(times) or not (math.isfinite(share) and 0 <= share <= 1):
            raise InputError(f"{path}:{n}: expected second {len(times)} with a share in [0, 1]")
        if shares and share > shares[-1]:
            raise InputError(f"{path}:{n}: retention rises ({share} after {shares[-1]})")
        times.append(t)
        shares.append(share)
    if len(times) != n_chunks + 2 or shares[0] != 1 or shares[-1] != 0:
        raise InputError(
            f"{path}: expected seconds 0..{n_chunks} (share 1 at 0) and an end marker with share 0, one per chunk"
        )
    return tuple(times), tuple(shares)


def load_video(size_dir: Path, retention_file: Path, *, kbps: tuple[int, ...] = LEVEL_KBPS) -> Video:
    """One video from its size directory and retention file; all levels must have the same chunk count."""
    sizes = tuple(_sizes(size_dir / f"video_size_{level}") for level in range(len(kbps)))
    if len({len(s) for s in sizes}) != 1:
        raise InputError(f"{size_dir}: the levels have different chunk counts ({[len(s) for s in sizes]})")
    times, shares = _retention(retention_file, len(sizes[0]))
    return Video(size_dir.name, sizes, times, shares, kbps)


def load_catalogue(root: str | Path) -> list[Video]:
    """Every video under `root` (the challenge's `short_video/`: `short_video_size/` and `user_ret/`), sorted by name."""
    root = Path(root)
    size_root, ret_root = root / "short_video_size", root / "user_ret"
    if not size_root.is_dir() or not ret_root.is_dir():
        raise InputError(f"{root}: expected short_video_size/ and user_ret/ directories")
    names = sorted(p.name for p in size_root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not names:
        raise InputError(f"{size_root}: no videos")
    return [load_video(size_root / name, ret_root / name) for name in names]
