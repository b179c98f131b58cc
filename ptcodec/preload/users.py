"""When the user swipes away: the watch time of each video of a session.

`RetentionUsers` is the challenge's model. The seeds are drawn once, `seeds = RandomState(42)
.randint(100, size=(7, 2))`; the session's i-th video uses `seeds[i]`: a NumPy RandomState seeded with
`seeds[i][0]` picks a second k with probability `retention[k] - retention[k+1]` (k = 0..length, the last
one meaning "watched to the end"); a Python `random.Random(seeds[i][1])` then places the swipe uniformly
in that second, truncated to a whole millisecond. Watching to the end is exactly the video's length.

`DashletUsers` reads the TikTok swipe distributions of Dashlet (NSDI 2023): one probability per line,
1-second bins, the last bin meaning "watched to the end". A video of n seconds takes the distribution
with n+1 bins (or the nearest count, its bins stretched over the video), picked and sampled with the
same per-video seeds. The archive is read in memory, member by member, with every member checked.
"""

from __future__ import annotations

import math
import random
import re
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from ptcodec.errors import InputError
from ptcodec.preload.videos import CHUNK_MS, Video

CHALLENGE_SEED = 42
MAX_SEED = 100
MAX_MEMBER_BYTES = 64 << 10
MAX_MEMBERS = 100_000
MAX_ARCHIVE_BYTES = 64 << 20


def challenge_seeds(n_videos: int = 7, seed: int = CHALLENGE_SEED) -> tuple[tuple[int, int], ...]:
    """The challenge's per-video seed pairs (7 videos, drawn from seed 42)."""
    pairs = np.random.RandomState(seed).randint(MAX_SEED, size=(n_videos, 2))
    return tuple((int(a), int(b)) for a, b in pairs)


class UserModel(Protocol):
    def watch_ms(self, index: int, video: Video) -> float:
        """How long the user watches the session's `index`-th video, in ms (at most its length)."""
        ...


def _seed_pair(seeds: Sequence[tuple[int, int]], index: int) -> tuple[int, int]:
    if not 0 <= index < len(seeds):
        raise InputError(f"user model: no seed for video {index} (it has {len(seeds)}); give more seeds")
    return seeds[index]


def _sample_second(rng: np.random.RandomState, probs: np.ndarray, seconds: np.ndarray) -> float:
    return float(rng.choice(seconds, p=probs))


@dataclass(frozen=True)
class RetentionUsers:
    """The challenge's users: watch time drawn from each video's retention curve."""

    seeds: tuple[tuple[int, int], ...] = field(default_factory=challenge_seeds)

    def watch_ms(self, index: int, video: Video) -> float:
        first, second = _seed_pair(self.seeds, index)
        times_ms = np.array(video.retention_s, dtype=np.float64) * 1000
        leave = np.diff(1.0 - np.array(video.retention, dtype=np.float64))  # share leaving in each second
        start = _sample_second(np.random.RandomState(first), leave, times_ms[:-1])
        if start == times_ms[-2]:  # watched to the end
            return start
        return float(int(random.Random(second).uniform(start, start + CHUNK_MS)))


_MEMBER_NAME = re.compile(r"probability/(?:([A-Za-z0-9_-]+)/)?[0-9A-Za-z]+\.txt")


def _parse_distribution(name: str, data: bytes) -> tuple[float, ...]:
    try:
        probs = tuple(float(x) for x in data.decode("ascii").split())
    except (UnicodeDecodeError, ValueError):
        raise InputError(f"{name}: expected one probability per line") from None
    if len(probs) < 2 or any(not math.isfinite(p) or p < 0 for p in probs) or abs(sum(probs) - 1) > 1e-3:
        raise InputError(f"{name}: expected at least 2 non-negative probabilities summing to 1")
    return probs


def load_dashlet(path: str | Path, *, subset: str = "") -> dict[str, tuple[float, ...]]:
    """The swipe distributions in Dashlet's `probability.tar.gz`, by member name, without extracting to disk.

    `subset` "" takes the top-level files (the TikTok measurements); "lamda2", "turk", ... take a folder."""
    path = Path(path)
    found: dict[str, tuple[float, ...]] = {}
    total = 0
    try:
        with tarfile.open(path, "r:gz") as archive:
            for count, member in enumerate(archive, start=1):
                if count > MAX_MEMBERS:
                    raise InputError(f"{path}: more than {MAX_MEMBERS} members")
                match = _MEMBER_NAME.fullmatch(member.name)
                if not member.isfile() or match is None or (match.group(1) or "") != subset:
                    continue  # directories, links, other subsets and stray files are never read
                if member.name.endswith("startvideo.txt"):
                    continue  # the app's first video, not a measured one
                if member.size > MAX_MEMBER_BYTES:
                    raise InputError(f"{path}: {member.name} is {member.size} bytes, too large for a distribution")
                total += member.size
                if total > MAX_ARCHIVE_BYTES:
                    raise InputError(f"{path}: more than {MAX_ARCHIVE_BYTES} bytes of distributions")
                handle = archive.extractfile(member)
                if handle is None:
                    continue
                found[member.name] = _parse_distribution(f"{path}:{member.name}", handle.read(MAX_MEMBER_BYTES + 1))
    except (OSError, tarfile.TarError, EOFError) as error:
        raise InputError(f"{path}: cannot read the swipe archive: {error}") from None
    if not found:
        raise InputError(f"{path}: no swipe distributions under probability/{subset + '/' if subset else ''}")
    return found


class DashletUsers:
    """Users who swipe as Dashlet's measured TikTok viewers do."""

    def __init__(self, distributions: dict[str, tuple[float, ...]], seeds: Sequence[tuple[int, int]] | None = None):
        if not distributions:
            raise InputError("Dashlet user model: no distributions")
        self.seeds = tuple(seeds) if seeds is not None else challenge_seeds()
        self._by_bins: dict[int, list[tuple[float, ...]]] = {}
        for name in sorted(distributions):
            probs = distributions[name]
            self._by_bins.setdefault(len(probs), []).append(probs)

    @classmethod
    def from_archive(cls, path: str | Path, *, subset: str = "", seeds: Sequence[tuple[int, int]] | None = None):
        return cls(load_dashlet(path, subset=subset), seeds)

    def distribution_for(self, index: int, video: Video) -> tuple[float, ...]:
        """The distribution the `index`-th video's user follows: n+1 bins for n chunks, else the nearest count."""
        wanted = video.n_chunks + 1
        bins = min(self._by_bins, key=lambda b: (abs(b - wanted), b))
        candidates = self._by_bins[bins]
        first, _ = _seed_pair(self.seeds, index)
        return candidates[np.random.RandomState(first).randint(len(candidates))]

    def watch_ms(self, index: int, video: Video) -> float:
        probs = np.array(self.distribution_for(index, video), dtype=np.float64)
        probs /= probs.sum()
        first, second = _seed_pair(self.seeds, index)
        rng = np.random.RandomState(second)
        k = int(rng.choice(len(probs), p=probs))
        if k == len(probs) - 1:
            return video.length_ms
        bin_ms = video.length_ms / (len(probs) - 1)  # 1 s when the bin count matches the video
        return float(min(int((k + rng.uniform()) * bin_ms), video.length_ms - 1))
