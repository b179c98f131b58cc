"""The ABR algorithms against decisions worked out by hand from each paper's rules, compute awareness,
and one-line errors for bad names and parameters."""

from __future__ import annotations

import math

import pytest

from ptcodec.errors import InputError
from ptcodec.streaming.abr import ABRS, AbrState, Ladder, make_abr


def ladder(rates: tuple[float, ...], *, segment_s: float = 2.0, segments: int = 4, gen_fps=None, fps: float = 30.0) -> Ladder:
    """A ladder whose segments are exactly bitrate x duration (kbit -> bytes: x 1000 / 8)."""
    sizes = tuple(tuple(int(rate * segment_s * 1000 / 8) for _ in range(segments)) for rate in rates)
    return Ladder(bitrates_kbps=rates, segment_s=segment_s, sizes=sizes, gen_fps=gen_fps, fps=fps)


def state(buffer_s: float, last_rep: int | None = None, throughputs=(), segment: int = 0) -> AbrState:
    return AbrState(segment=segment, buffer_s=buffer_s, last_rep=last_rep, throughputs_kbps=list(throughputs), download_s=[])


FOUR = ladder((100.0, 200.0, 400.0, 800.0))


# BBA-0 with reservoir 5 s and cushion 10 s on 100/200/400/800 kbit/s:
# f(B) = 100 + 700 (B - 5) / 10 between 5 s and 15 s.
@pytest.mark.parametrize("buffer_s, last_rep, expected", [
    (3.0, None, 0),   # below the reservoir: the lowest rate
    (5.0, 3, 0),      # at the reservoir: still the lowest, whatever came before
    (16.0, None, 3),  # above reservoir + cushion: the highest
    (15.0, 0, 3),
    (10.0, None, 2),  # f = 450: the highest rate <= 450 is 400
    (10.0, 0, 2),     # f = 450 >= Rate+ = 200: up to the highest rate <= 450
    (10.0, 2, 2),     # Rate- = 200 < 450 < Rate+ = 800: stay
    (10.0, 3, 3),     # at the top Rate+ = 800, Rate- = 400 < 450: stay on 800
    (7.0, 3, 2),      # f = 240 <= Rate- = 400: down to the lowest rate > 240, 400
    (6.0, 1, 1),      # f = 170 between Rate- = 100 and Rate+ = 400: stay on 200
    (6.0, 3, 1),      # f = 170 <= 400: the lowest rate > 170 is 200
])
def test_bb_follows_the_rate_map_with_bba0_hysteresis(buffer_s, last_rep, expected):
    abr = make_abr("bb", reservoir_s=5.0, cushion_s=10.0)
    assert abr.choose(state(buffer_s, last_rep), FOUR) == expected


def test_bb_reservoir_and_cushion_are_parameters():
    # reservoir 2 s, cushion 4 s: at 5 s f = 100 + 700 * 3 / 4 = 625 -> 400; at 3 s f = 275 -> 200.
    abr = make_abr("bb", reservoir_s=2.0, cushion_s=4.0)
    assert abr.choose(state(5.0), FOUR) == 2
    assert abr.choose(state(3.0), FOUR) == 1
    assert abr.choose(state(6.0), FOUR) == 3


# Rate-based: last five of [1000, 500, 250, 500, 1000, 2000] are 500, 250, 500, 1000, 2000, whose harmonic
# mean is 5 / (1/500 + 1/250 + 1/500 + 1/1000 + 1/2000) = 5 / 0.0095 = 526.3 kbit/s.
@pytest.mark.parametrize("safety, expected", [(0.9, 2), (0.7, 1), (0.1, 0)])  # 473.7 -> 400, 368.4 -> 200, 52.6 -> 100
def test_rb_chooses_under_the_harmonic_mean_times_safety(safety, expected):
    abr = make_abr("rb", safety=safety)
    assert abr.choose(state(10.0, 1, [1000, 500, 250, 500, 1000, 2000]), FOUR) == expected


def test_rb_uses_only_the_last_five_and_starts_low():
    # [100, 1000 x 5]: the last five average 1000 -> 900 -> 800 kbit/s; all six would give 400 x 0.9 = 360 -> 200.
    abr = make_abr("rb")
    assert abr.choose(state(0.0, None, [100] + [1000] * 5), FOUR) == 3
    assert make_abr("rb", window=6).choose(state(0.0, None, [100] + [1000] * 5), FOUR) == 1
    assert abr.choose(state(30.0, None, []), FOUR) == 0


# BOLA-BASIC on 100/200/400 kbit/s, 2 s segments, buffer target 20 s (Q_max = 10), gamma_p = 5:
#   v = (0, ln 2, ln 4), V = (Q_max - 1) / (v_max + gamma_p) = 9 / (ln 4 + 5) = 1.409269.
# Rep m beats rep m-1 when Q >= V (S_m (v_{m-1} + gp) - S_{m-1} (v_m + gp)) / (S_m - S_{m-1}):
#   0 -> 1: V (200*5 - 100*(ln 2 + 5)) / 100 = V (5 - ln 2) = 6.0695 segments = 12.139 s
#   1 -> 2: V (400*(ln 2 + 5) - 200*(ln 4 + 5)) / 200 = 5 V = 7.0463 segments = 14.093 s
#   (0 -> 2: V (400*5 - 100*(ln 4 + 5)) / 300 = 6.3950 segments = 12.790 s, between the two, so rep 1 gets a band)
# and above V (ln 4 + 5) = 9 segments = 18 s every score is negative (BOLA would wait): the top rep.
@pytest.mark.parametrize("buffer_s, expected", [
    (0.0, 0), (4.0, 0), (12.0, 0), (12.3, 1), (13.5, 1), (14.0, 1), (14.2, 2), (17.0, 2), (19.0, 2), (40.0, 2),
])
def test_bola_switches_at_the_hand_computed_thresholds(buffer_s, expected):
    three = ladder((100.0, 200.0, 400.0))
    abr = make_abr("bola", buffer_target_s=20.0, gamma_p=5.0)
    # BOLA ignores throughput and the previous choice: vary them to show it.
    for last_rep, throughputs in ((None, []), (2, [50.0]), (0, [1e6])):
        assert abr.choose(state(buffer_s, last_rep, throughputs), three) == expected


def test_bola_control_parameter_matches_the_formula():
    three = ladder((100.0, 200.0, 400.0))
    abr = make_abr("bola", buffer_target_s=20.0, gamma_p=5.0)
    assert abr.control(three, [0, 1, 2]) == pytest.approx(9 / (math.log(4) + 5))


# RobustMPC on two reps of 1 and 2 Mbit/s, 1 s segments of exactly 1000 and 2000 kbit, two segments left
# (horizon 2), last rep 0, forecast 1000 kbit/s (no past error): downloads take 1 s and 2 s.
# Buffer 1.5 s, QoE = sum Mbit/s - 4.3 rebuffer - |switches|:
#   (0,0): no stall, buffer 0.5 + 1 = 1.5, then 1 s: 1 + 1 = 2
#   (0,1): then a 2 s download on 1.5 s: 0.5 s stall: 1 + 2 - 4.3*0.5 - 1 = -0.15
#   (1,0): 0.5 s stall, buffer 1, then no stall: 2 + 1 - 2.15 - 1 - 1 = -1.15
#   (1,1): 0.5 s then 1 s stalls: 4 - 4.3*1.5 - 1 = -3.45            -> rep 0
# Buffer 4 s: no stalls anywhere: (0,0) 2, (0,1) 2, (1,0) 1, (1,1) 4 - 1 = 3 -> rep 1.
# Buffer 1.5 s, rebuffer penalty 0: (1,1) 3 beats (0,0) 2 -> rep 1.
TWO = ladder((1000.0, 2000.0), segment_s=1.0, segments=2)


@pytest.mark.parametrize("buffer_s, penalty, expected", [(1.5, 4.3, 0), (4.0, 4.3, 1), (1.5, 0.0, 1)])
def test_mpc_plans_over_the_horizon_on_a_known_forecast(buffer_s, penalty, expected):
    abr = make_abr("mpc", horizon=2, rebuffer_penalty=penalty)
    assert abr.forecast_kbps([1000.0, 1000.0]) == pytest.approx(1000.0)
    assert abr.choose(state(buffer_s, 0, [1000.0, 1000.0]), TWO) == expected


def test_mpc_uses_the_exact_segment_sizes():
    # Same as the 4 s case above, but rep 1's second segment is 4000 kbit (4 s): (1,1) stalls
    # 4 - 3 = 1 s: 4 - 4.3 - 1 < 0; (0,1) buffer 4 - 1 + 1 = 4, no stall: 1 + 2 - 1 = 2; (0,0) = 2 and
    # comes first; (1,0): 2 + 1 - 1 - 1 = 1. The best first rep is 0.
    sizes = ((125_000, 125_000), (250_000, 500_000))
    uneven = Ladder(bitrates_kbps=(1000.0, 2000.0), segment_s=1.0, sizes=sizes)
    assert make_abr("mpc", horizon=2).choose(state(4.0, 0, [1000.0, 1000.0]), uneven) == 0
    assert make_abr("mpc", horizon=2).choose(state(4.0, 0, [1000.0, 1000.0]), TWO) == 1


def test_mpc_forecast_is_discounted_by_the_largest_past_error():
    abr = make_abr("mpc")
    # [800, 800, 1000]: prediction of the 2nd is 800 (error 0), of the 3rd hm(800, 800) = 800 vs 1000 (error 0.2);
    # hm of all three = 3 / (2/800 + 1/1000) = 857.14 -> / 1.2 = 714.29.
    assert abr.forecast_kbps([800.0, 800.0, 1000.0]) == pytest.approx(3 / 0.0035 / 1.2)
    # [1000, 500]: error |1000 - 500| / 500 = 1 -> hm 666.67 / 2.
    assert abr.forecast_kbps([1000.0, 500.0]) == pytest.approx(2 / 0.003 / 2)
    assert abr.choose(state(30.0, None, []), TWO) == 0  # no measurement yet: the lowest


def test_mpc_decides_on_the_discounted_forecast():
    # [2000, 1000] has harmonic mean 1333.3 but a past error of 1, so the forecast is 666.7: downloads of
    # 1.5 s and 3 s. Buffer 1.5 s, last rep 1: (0,0) stalls 0.5 s: 2 - 1 - 2.15 = -1.15, and every sequence
    # with rep 1 stalls more (>= 1.5 s: <= -6.6) -> rep 0. On a steady 1333.3 (downloads 0.75 s and 1.5 s):
    # (1,0) 1.5 s, buffer 1, 0.75 s: 3 - 1 = 2 beats (1,1) 4 - 4.3*0.5 = 1.85 and (0,x) 1 -> rep 1.
    abr = make_abr("mpc", horizon=2)
    assert abr.choose(state(1.5, 1, [2000.0, 1000.0]), TWO) == 0
    assert abr.choose(state(1.5, 1, [4000 / 3, 4000 / 3]), TWO) == 1


def test_mpc_plans_only_to_the_last_segment():
    # On the last segment the horizon is 1: at 4 s buffer rep 1 (2 Mbit/s, no stall) minus the switch = 1 = rep 0.
    # Ties keep the lower rep; with smoothness 0.5 rep 1 wins.
    assert make_abr("mpc").choose(state(4.0, 0, [1000.0], segment=1), TWO) == 0
    assert make_abr("mpc", smooth_penalty=0.5).choose(state(4.0, 0, [1000.0], segment=1), TWO) == 1


# A ladder whose top rep the client generates at 20 frames/s, below the 30 frames/s of playback.
SLOW_TOP = ladder((100.0, 200.0, 400.0), gen_fps=(200.0, 200.0, 20.0))
GENEROUS = [state(b, last, [t] * 5) for b in (0.0, 3.0, 8.0, 13.0, 18.0, 30.0) for last in (None, 0, 1) for t in (50, 300, 10000)]


@pytest.mark.parametrize("name", ABRS)
def test_compute_aware_abrs_never_choose_a_rep_generated_too_slowly(name):
    aware = make_abr(name)
    unaware = make_abr(name, compute_aware=False)
    assert aware.feasible(SLOW_TOP) == [0, 1]
    assert unaware.feasible(SLOW_TOP) == [0, 1, 2]
    assert all(aware.choose(s, SLOW_TOP) != 2 for s in GENEROUS)
    assert any(unaware.choose(s, SLOW_TOP) == 2 for s in GENEROUS)
    # Where the ladder is fast enough, awareness changes nothing.
    fast = ladder((100.0, 200.0, 400.0), gen_fps=(200.0, 200.0, 30.0))
    assert [aware.choose(s, fast) for s in GENEROUS] == [unaware.choose(s, fast) for s in GENEROUS]


@pytest.mark.parametrize("name", ABRS)
def test_rep_zero_stays_allowed_when_nothing_keeps_up(name):
    hopeless = ladder((100.0, 200.0), gen_fps=(5.0, 5.0))
    assert make_abr(name).feasible(hopeless) == [0]
    assert make_abr(name).choose(state(30.0, None, [1e6] * 5), hopeless) == 0


def test_unknown_abr_names_are_refused_in_one_line():
    with pytest.raises(InputError) as error:
        make_abr("pensieve")
    message = str(error.value)
    assert "\n" not in message and "pensieve" in message and "bb, rb, bola, mpc" in message


@pytest.mark.parametrize("name, params", [
    ("bb", {"reservoir_s": -1.0}), ("bb", {"cushion_s": 0.0}), ("bb", {"cushion_s": math.nan}),
    ("bb", {"reservoir_s": "5"}), ("rb", {"safety": 0.0}), ("rb", {"safety": 1.5}), ("rb", {"window": 0}),
    ("rb", {"window": 2.5}), ("rb", {"window": True}), ("bola", {"gamma_p": 0.0}), ("bola", {"buffer_target_s": -3}),
    ("mpc", {"horizon": 0}), ("mpc", {"horizon": 9}), ("mpc", {"rebuffer_penalty": -1.0}),
    ("mpc", {"smooth_penalty": math.inf}), ("mpc", {"reservoir_s": 5.0}), ("bb", {"compute_aware": "yes"}),
])
def test_bad_parameters_are_refused_in_one_line(name, params):
    with pytest.raises(InputError) as error:
        make_abr(name, **params)
    assert "\n" not in str(error.value) and name in str(error.value)


@pytest.mark.parametrize("build", [
    lambda: Ladder((), 2.0, ()),
    lambda: Ladder((200.0, 100.0), 2.0, ((1,), (1,))),
    lambda: Ladder((100.0, 100.0), 2.0, ((1,), (1,))),
    lambda: Ladder((100.0, 200.0), 0.0, ((1,), (1,))),
    lambda: Ladder((100.0, 200.0), 2.0, ((1,),)),
    lambda: Ladder((100.0, 200.0), 2.0, ((1,), (1, 2))),
    lambda: Ladder((100.0, 200.0), 2.0, ((1,), (-1,))),
    lambda: Ladder((100.0, 200.0), 2.0, ((1,), (1,)), gen_fps=(30.0,)),
    lambda: Ladder((100.0, 200.0), 2.0, ((1,), (1,)), gen_fps=(30.0, 0.0)),
    lambda: Ladder((100.0, 200.0), 2.0, ((1,), (1,)), fps=0.0),
], ids=range(10))
def test_bad_ladders_are_refused(build):
    with pytest.raises(InputError):
        build()


@pytest.mark.parametrize("bad", [
    state(1.0, segment=4), state(1.0, segment=-1), state(-1.0), state(math.nan), state(1.0, last_rep=4),
    state(1.0, throughputs=[100.0, 0.0]),
])
@pytest.mark.parametrize("name", ABRS)
def test_bad_states_are_refused(name, bad):
    with pytest.raises(InputError):
        make_abr(name).choose(bad, FOUR)


def test_bola_needs_a_buffer_target_above_one_segment():
    with pytest.raises(InputError, match="buffer_target_s"):
        make_abr("bola", buffer_target_s=2.0).choose(state(1.0), FOUR)
