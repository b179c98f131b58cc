"""Progress bars with rate and ETA (tqdm, on stderr), silenced by --quiet."""

from __future__ import annotations

from tqdm import tqdm


def bar(total: int, description: str, *, quiet: bool, unit: str = "frame", initial: int = 0) -> tqdm:
    return tqdm(total=total, desc=description, unit=unit, initial=initial, disable=quiet, dynamic_ncols=True,
                leave=True)
