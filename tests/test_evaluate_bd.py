"""BD-rate and deltas at equal rate (issue 13), on curves whose answers are known analytically."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ptcodec.evaluate.bd import bd, pareto_front, value_at_rate

RATES = [100.0, 200.0, 400.0, 800.0]


def psnr_of(rates):
    """A concave, increasing PSNR curve in log-rate."""
    return [30 + 6 * math.log2(r / 100) - 0.3 * math.log2(r / 100) ** 2 for r in rates]


def lpips_of(rates):
    return [0.5 * (r / 100) ** -0.4 for r in rates]


@pytest.mark.parametrize("method", ["pchip", "cubic"])
@pytest.mark.parametrize("metric, curve", [("psnr_rgb", psnr_of), ("lpips-vgg", lpips_of)])
def test_a_curve_shifted_by_minus_10_percent_in_rate_gives_minus_10_percent(method, metric, curve):
    # The same quality at 0.9x the rate: log-rate differs by log(0.9) everywhere.
    result = bd(RATES, curve(RATES), [0.9 * r for r in RATES], curve(RATES), metric, method)
    assert result.bd_rate_pct == pytest.approx(-10.0, abs=0.1)
    assert result.bd_rate_reason == ""


@pytest.mark.parametrize("metric, curve", [("psnr_rgb", psnr_of), ("lpips-alex", lpips_of)])
def test_identical_curves_give_zero(metric, curve):
    result = bd(RATES, curve(RATES), RATES, curve(RATES), metric)
    assert result.bd_rate_pct == pytest.approx(0.0, abs=1e-9)
    assert result.delta == pytest.approx(0.0, abs=1e-9)


def test_lower_is_better_gets_the_sign_right():
    # The test has lower LPIPS at every rate: it is better, so it needs fewer bits (negative BD-rate)
    # and its LPIPS delta at equal rate is negative by exactly the offset.
    anchor = lpips_of(RATES)
    result = bd(RATES, anchor, RATES, [v - 0.02 for v in anchor], "dists")
    assert result.bd_rate_pct < 0
    assert result.delta == pytest.approx(-0.02)


def test_a_constant_quality_offset_is_the_delta_at_equal_rate():
    quality = psnr_of(RATES)
    result = bd(RATES, quality, RATES, [q + 1.5 for q in quality], "psnr_y")
    assert result.delta == pytest.approx(1.5)
    assert result.bd_rate_pct < 0


def test_non_overlapping_quality_gives_nan_with_a_reason_and_still_a_delta():
    anchor = lpips_of(RATES)
    test = [v - 0.3 for v in anchor]  # every test LPIPS below every anchor LPIPS
    assert max(test) < min(anchor)
    result = bd(RATES, anchor, RATES, test, "lpips-vgg")
    assert math.isnan(result.bd_rate_pct)
    assert "do not overlap" in result.bd_rate_reason and "lpips-vgg" in result.bd_rate_reason
    assert result.quality_overlap == 0
    assert result.delta == pytest.approx(-0.3)  # the rates overlap: ΔLPIPS at equal rate


def test_non_overlapping_rates_give_nan_delta_with_a_reason():
    result = bd(RATES, psnr_of(RATES), [r * 10 for r in RATES], psnr_of(RATES), "psnr_rgb")
    assert math.isnan(result.delta) and "rate ranges do not overlap" in result.delta_reason


def test_too_few_points_are_refused_with_a_reason():
    result = bd(RATES[:3], psnr_of(RATES[:3]), RATES, psnr_of(RATES), "psnr_rgb", "cubic")
    assert math.isnan(result.bd_rate_pct) and "cubic needs 4 points" in result.bd_rate_reason


def test_pareto_front_keeps_only_undominated_points():
    rates = [100, 150, 120, 200, 200, 90]
    psnr = [30, 29, 31, 33, 32, 20]
    # 150 (29 dB) is beaten by 120 (31 dB); the second 200 by the first.
    assert pareto_front(rates, psnr, "psnr_rgb") == [5, 0, 2, 3]
    lpips = [0.3, 0.35, 0.25, 0.2, 0.21, 0.6]
    assert pareto_front(rates, lpips, "lpips-vgg") == [5, 0, 2, 3]


def test_value_at_rate_interpolates_in_log_rate():
    # A straight line in log-rate is reproduced exactly by PCHIP: halfway in log-rate is halfway in value.
    rates, values = [100.0, 400.0], [0.4, 0.2]
    assert value_at_rate(rates, values, 200.0) == (pytest.approx(0.3), "")
    value, note = value_at_rate(rates, values, 98.0)  # within 3% of the lowest point
    assert value == 0.4 and "nearest point" in note
    value, note = value_at_rate(rates, values, 50.0)
    assert math.isnan(value) and "outside" in note
    assert np.isnan(value_at_rate([], [], 140.0)[0])
