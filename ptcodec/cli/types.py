"""Argument types of the `ptcodec` options: a value that makes no sense is refused by argparse
in one line (exit status 2), before anything is read or computed."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from fractions import Fraction

from ptcodec.ptv.syntax import PrevLatentRule


def _number(text: str, kind: Callable, test: Callable, what: str):
    try:
        value = kind(text)
    except (ValueError, ZeroDivisionError, OverflowError):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not test(value):
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}")
    return value


def count(text: str) -> int:
    return _number(text, int, lambda v: v >= 0, "a whole number >= 0")


def positive(text: str) -> int:
    return _number(text, int, lambda v: v >= 1, "a whole number >= 1")


def frame_rates(text: str) -> tuple[float, ...]:
    """A comma-separated list of frame rates (generator speeds), each > 0: "15,30,60"."""
    try:
        values = tuple(float(v) for v in text.split(",") if v)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a list of frame rates, like 15,30,60") from None
    if not values or not all(math.isfinite(v) and v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"{text!r}: every frame rate must be a positive number")
    return values


def scene_length(text: str) -> int | float:
    """--max-scene: whole frames ("300", an int) or seconds ("10s", a float, turned into frames once
    the frame rate is known)."""
    if text.strip().endswith("s"):
        return _number(text.strip()[:-1], float, lambda v: math.isfinite(v) and v > 0, "seconds > 0, as in 10s")
    return positive(text)


def bits(text: str) -> int:
    return _number(text, int, lambda v: 1 <= v <= 8, "a whole number of bits, 1 to 8")


def positive_float(text: str) -> float:
    return _number(text, float, lambda v: math.isfinite(v) and v > 0, "a number > 0")


def nonnegative_float(text: str) -> float:
    return _number(text, float, lambda v: math.isfinite(v) and v >= 0, "a number >= 0")


def unit_interval(text: str) -> float:
    return _number(text, float, lambda v: 0 <= v <= 1, "a number within [0, 1]")


def seconds(text: str) -> float:
    return _number(text, float, lambda v: math.isfinite(v) and v >= 0, "a time in seconds >= 0")


def duration_s(text: str) -> float:
    return _number(text, float, lambda v: math.isfinite(v) and v > 0, "a duration in seconds > 0")


def rate(text: str) -> Fraction:
    """A frame rate such as 30, 29.97 or 30000/1001, above 0, with 32-bit terms (the time base's fields)."""
    return _number(text, Fraction, lambda v: 0 < v and v.numerator < 2**32 and v.denominator < 2**32,
                   "a frame rate > 0 such as 30 or 30000/1001")


def size(text: str) -> tuple[int, int]:
    """'512' or '640x360' -> (width, height)."""
    try:
        parts = [int(p) for p in text.lower().split("x")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}") from None
    if len(parts) == 1:
        parts *= 2
    if len(parts) != 2 or min(parts) < 1:
        raise argparse.ArgumentTypeError(f"size must be N or WxH, got {text!r}")
    return parts[0], parts[1]


def rank_ladder(text: str) -> tuple[int, ...]:
    """One rank ('8') or a ladder ('4,8,16')."""
    return ranks(text)


def scene_threshold(text: str) -> float | None:
    """A latent distance >= 0; 0 turns scene-cut detection off (None)."""
    return nonnegative_float(text) or None


PREV_LATENT_RULES = {"segment-start": PrevLatentRule.SEGMENT_START, "previous-frame": PrevLatentRule.PREVIOUS_FRAME}
"""The --prev-latent names of the header's previous-latent rules."""


def prev_latent_rule(text: str) -> PrevLatentRule:
    if text not in PREV_LATENT_RULES:
        raise argparse.ArgumentTypeError(f"must be one of {', '.join(PREV_LATENT_RULES)}, got {text!r}")
    return PREV_LATENT_RULES[text]


def ranks(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(r) for r in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"ranks must look like 4,8,16, got {text!r}") from None
    if min(values) < 1:
        raise argparse.ArgumentTypeError(f"ranks must be at least 1, got {text!r}")
    return values
