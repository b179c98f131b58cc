"""Bjøntegaard deltas between rate-quality curves, and metric values at a given rate.

BD-rate is computed by the `bjontegaard` package (PCHIP by default, as in the
current common test conditions; `cubic` is the original VCEG-M33 fit). It is the
mean log-rate difference over the common quality range, as a percentage: negative
means the test codec needs fewer bits for the same quality.

Metrics where lower is better (LPIPS, DISTS) are negated to make the quality axis
(-LPIPS, -DISTS): BD-rate is unchanged by any affine map of that axis, so -LPIPS and
1-LPIPS give the same figure. Deltas at equal rate are reported in the metric's own
units and sign (test minus anchor: for LPIPS, negative is better).

A codec with many settings (ptcodec's rank x interval grid) gives a cloud of points;
its curve is the Pareto front: the points that no other point beats on both rate and
quality. A figure that cannot be computed is NaN with a reason, never an extrapolation.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

LOWER_IS_BETTER = frozenset({"lpips-alex", "lpips-vgg", "dists"})
"""Metrics where a smaller value is a better picture; every other metric is higher-is-better."""

METHODS = ("pchip", "cubic")
MIN_POINTS = {"pchip": 2, "cubic": 4}
"""Points a fit needs: PCHIP interpolates 2 or more, the cubic fit has 4 coefficients."""

NAN = float("nan")


def lower_is_better(metric: str) -> bool:
    return metric in LOWER_IS_BETTER


def quality_axis(metric: str) -> str:
    """How the metric is turned into a higher-is-better quality axis, for captions."""
    return f"-{metric}" if lower_is_better(metric) else metric


def pareto_front(rates: Sequence[float], values: Sequence[float], metric: str) -> list[int]:
    """Indices of the points on the rate-quality Pareto front, by increasing rate (and quality).

    Points with a non-finite value or a rate that is not positive are left out."""
    sign = -1.0 if lower_is_better(metric) else 1.0
    usable = [i for i in range(len(rates)) if rates[i] > 0 and math.isfinite(rates[i]) and math.isfinite(values[i])]
    order = sorted(usable, key=lambda i: (rates[i], -sign * values[i]))
    front: list[int] = []
    for i in order:
        if not front or sign * values[i] > sign * values[front[-1]]:
            if front and rates[i] == rates[front[-1]]:
                continue  # same rate, no better: the better one came first
            front.append(i)
    return front


@dataclass(frozen=True)
class BdResult:
    """BD-rate and the delta at equal rate of a test curve against an anchor, for one metric."""

    metric: str
    method: str
    bd_rate_pct: float
    """Percent rate change at equal quality (negative: the test needs fewer bits); NaN when not computable."""
    bd_rate_reason: str
    """Why bd_rate_pct is NaN ('' when it is a number)."""
    delta: float
    """Mean metric difference (test - anchor, metric units) over the common log-rate range."""
    delta_reason: str
    quality_overlap: float
    """Share of the two curves' joint quality range that both cover (0 to 1)."""
    rate_overlap: float
    """Share of the joint log-rate range that both cover (0 to 1)."""
    anchor_points: int
    test_points: int


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    joint = max(a.max(), b.max()) - min(a.min(), b.min())
    common = min(a.max(), b.max()) - max(a.min(), b.min())
    return max(common, 0.0) / joint if joint > 0 else (1.0 if common >= 0 else 0.0)


def _range(values: np.ndarray) -> str:
    return f"{values.min():.4g}..{values.max():.4g}"


def bd(anchor_rates: Sequence[float], anchor_values: Sequence[float], test_rates: Sequence[float],
       test_values: Sequence[float], metric: str, method: str = "pchip") -> BdResult:
    """BD-rate and delta at equal rate of the test curve against the anchor, each on its Pareto front."""
    if method not in METHODS:
        raise ValueError(f"unknown BD interpolation {method!r}; choose one of {', '.join(METHODS)}")
    sign = -1.0 if lower_is_better(metric) else 1.0
    a = pareto_front(anchor_rates, anchor_values, metric)
    t = pareto_front(test_rates, test_values, metric)
    ar, aq = np.array([anchor_rates[i] for i in a], float), np.array([anchor_values[i] for i in a], float)
    tr, tq = np.array([test_rates[i] for i in t], float), np.array([test_values[i] for i in t], float)
    need = MIN_POINTS[method]
    if len(a) < need or len(t) < need:
        reason = (f"{method} needs {need} points on each curve's rate-quality front; "
                  f"the anchor has {len(a)}, the test {len(t)}")
        return BdResult(metric, method, NAN, reason, NAN, reason, NAN, NAN, len(a), len(t))
    q_overlap = _overlap(aq, tq)
    r_overlap = _overlap(np.log10(ar), np.log10(tr))
    import bjontegaard  # imports matplotlib: only when a figure is wanted

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # partial overlap is reported in the result instead
        if q_overlap > 0:
            rate = float(bjontegaard.bd_rate(ar, sign * aq, tr, sign * tq, method, require_matching_points=False,
                                             min_overlap=0))
            rate_reason = ""
        else:
            rate, rate_reason = NAN, (f"{metric} ranges do not overlap (anchor {_range(aq)}, "
                                      f"test {_range(tq)})")
        if r_overlap > 0:
            delta = float(bjontegaard.bd_psnr(ar, aq, tr, tq, method, require_matching_points=False, min_overlap=0))
            delta_reason = ""
        else:
            delta, delta_reason = NAN, (f"rate ranges do not overlap (anchor {_range(ar)} kbit/s, "
                                        f"test {_range(tr)} kbit/s)")
    return BdResult(metric, method, rate, rate_reason, delta, delta_reason, q_overlap, r_overlap, len(a), len(t))


def value_at_rate(rates: Sequence[float], values: Sequence[float], rate: float,
                  tolerance: float = 0.03) -> tuple[float, str]:
    """A metric's value at `rate`, interpolated (PCHIP in log-rate) between points sorted by rate.

    Returns (value, note). Outside the points' range by at most `tolerance` (relative), the
    nearest point's value stands for it (rate control lands within a few percent of its
    target) and the note says so; further out the value is NaN and the note says why."""
    pairs = sorted((r, v) for r, v in zip(rates, values, strict=True) if r > 0 and math.isfinite(r) and math.isfinite(v))
    if not pairs:
        return NAN, "no points"
    xs = np.log([r for r, _ in pairs])
    ys = np.array([v for _, v in pairs])
    low, high = pairs[0][0], pairs[-1][0]
    if low <= rate <= high:
        if len(pairs) == 1 or low == high:
            return float(ys[0]), ""
        from scipy.interpolate import PchipInterpolator

        return float(PchipInterpolator(xs, ys)(math.log(rate))), ""
    nearest = pairs[0] if rate < low else pairs[-1]
    if abs(nearest[0] - rate) <= tolerance * rate:
        return float(nearest[1]), f"nearest point, at {nearest[0]:.1f} kbit/s"
    return NAN, f"{rate:g} kbit/s is outside the points' range ({low:.1f}..{high:.1f} kbit/s)"
