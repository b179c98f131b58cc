"""The trace-driven simulator on hand-computed sessions: startup, stalls, the generation model, QoE arithmetic."""

from __future__ import annotations

import dataclasses

import pytest

from ptcodec.errors import InputError
from ptcodec.streaming.abr import Abr, AbrState, Ladder
from ptcodec.streaming.simulate import QoeWeights, simulate_session, simulate_traces
from ptcodec.streaming.traces import Trace


class Fixed(Abr):
    """Plays a fixed list of representations (the last one repeats): no algorithm, just the choice under test."""

    def __init__(self, *reps: int) -> None:
        self.reps = reps
        self.name = "fixed"
        self.compute_aware = False

    def choose(self, state: AbrState, ladder: Ladder) -> int:
        return self.reps[min(state.segment, len(self.reps) - 1)]


# 2 s segments at 500 and 2,000 kbit/s: 500 kbit (62,500 B) and 2,000 kbit (250,000 B) each, five segments
LADDER = Ladder((500.0, 2000.0), 2.0, ((62_500,) * 5, (250_000,) * 5))
CONSTANT = Trace((0.0,), (1000.0,), 100.0, "1mbit")


def test_constant_trace_no_stall_and_exact_startup():
    result = simulate_session(LADDER, Fixed(0), CONSTANT, rtt_s=0.1)
    assert result.startup_s == pytest.approx(62_500 * 8 / 1000 / 1000 + 0.1)  # bytes / rate + RTT
    assert result.stall_count == 0 and result.stall_s == 0
    assert [log.download_s for log in result.segments] == pytest.approx([0.6] * 5)
    # buffer after each arrival: 2 s, then +2 - 0.6 per segment
    assert [log.buffer_s for log in result.segments] == pytest.approx([2.0, 3.4, 4.8, 6.2, 7.6])
    assert result.mean_bitrate_kbps == pytest.approx(500.0)
    assert result.per_second_kbps == [500.0] * 10
    assert result.qoe == pytest.approx(5 * 0.5 - 4.3 * 0.6)


def test_slow_trace_forces_exact_stalls():
    # each 2,000 kbit segment takes 0.1 + 2.0 s while only 2 s are buffered: 0.1 s rebuffering per segment after the first
    result = simulate_session(LADDER, Fixed(1), CONSTANT, rtt_s=0.1)
    assert result.startup_s == pytest.approx(2.1)
    assert result.stall_count == 4
    assert result.rebuffer_s == pytest.approx(0.4)
    assert [log.rebuffer_s for log in result.segments] == pytest.approx([0, 0.1, 0.1, 0.1, 0.1])
    assert result.qoe == pytest.approx(5 * 2.0 - 4.3 * 0.4 - 4.3 * 2.1)
    unweighted = simulate_session(LADDER, Fixed(1), CONSTANT, rtt_s=0.1, weights=QoeWeights(rebuffer=1, startup=0))
    assert unweighted.qoe == pytest.approx(10 - 0.4)
    assert unweighted.to_dict()["weights"] == {"bitrate": 1.0, "rebuffer": 1, "smoothness": 1.0, "startup": 0}


def test_smoothness_term():
    result = simulate_session(LADDER, Fixed(0, 1, 0, 0, 1), Trace((0.0,), (1e6,), 10.0), rtt_s=0.0)
    assert result.smoothness_term == pytest.approx(1.5 * 3)
    assert result.bitrate_term == pytest.approx(0.5 * 3 + 2.0 * 2)
    assert result.qoe == pytest.approx(5.5 - 4.3 * result.startup_s - 4.5)
    assert result.per_second_kbps == [500.0, 500.0, 2000.0, 2000.0, 500.0, 500.0, 500.0, 500.0, 2000.0, 2000.0]


def test_max_buffer_waits():
    fast = Trace((0.0,), (100_000.0,), 10.0)  # 500 kbit in 5 ms
    result = simulate_session(LADDER, Fixed(0), fast, rtt_s=0.0, max_buffer_s=4.0)
    assert [log.wait_s for log in result.segments] == pytest.approx([0, 0, 1.99, 1.995, 1.995])
    assert result.stall_s == 0


GEN_LADDER = Ladder((500.0, 2000.0), 2.0, ((62_500,) * 5, (250_000,) * 5), gen_fps=(60.0, 20.0), fps=30.0)
FAST = Trace((0.0,), (1e6,), 10.0)


def test_generation_bound_top_rep_stalls_and_feasible_rep_does_not():
    unaware = simulate_session(GEN_LADDER, Fixed(1), FAST, rtt_s=0.0)
    # 60 frames at 20 frames/s take 3 s of wall time for 2 s of video: 1 s stall per segment
    assert unaware.gen_stall_s == pytest.approx(5.0)
    assert unaware.stall_count == 5
    assert unaware.startup_s == pytest.approx(2.0 / 1000 + 1 / 20)  # arrival, then the first frame generated
    feasible = simulate_session(GEN_LADDER, Fixed(0), FAST, rtt_s=0.0)
    assert feasible.stall_s == 0 and feasible.stall_count == 0
    assert feasible.qoe > unaware.qoe


def test_bad_frame_share():
    quality = [[0.5] * 5, [0.9] * 5]
    result = simulate_session(LADDER, Fixed(0, 1, 0, 1, 0), FAST, quality=quality, quality_threshold=0.6)
    assert result.bad_frame_share == pytest.approx(3 / 5)
    lpips = simulate_session(LADDER, Fixed(0, 1, 0, 1, 0), FAST, quality=quality, quality_threshold=0.6, higher_is_better=False)
    assert lpips.bad_frame_share == pytest.approx(2 / 5)
    per_frame = [[[0.1] * 30 + [0.9] * 30] * 5, [[0.9] * 60] * 5]
    assert simulate_session(LADDER, Fixed(0), FAST, quality=per_frame, quality_threshold=0.5).bad_frame_share == 0.5
    assert simulate_session(LADDER, Fixed(0), FAST).bad_frame_share is None


def test_out_of_range_choice_is_an_input_error():
    with pytest.raises(InputError, match="representation 2"):
        simulate_session(LADDER, Fixed(2), FAST)


def test_many_traces_inline_and_parallel_agree_in_order():
    traces = [CONSTANT, CONSTANT.scaled(0.5), FAST]
    seen: list[tuple[int, int]] = []
    inline = simulate_traces(LADDER, Fixed(1), traces, jobs=1, progress=lambda d, t: seen.append((d, t)), rtt_s=0.1)
    assert seen == [(1, 3), (2, 3), (3, 3)]
    parallel = simulate_traces(LADDER, Fixed(1), traces, jobs=2, rtt_s=0.1)
    assert [r.to_dict() for r in parallel] == [r.to_dict() for r in inline]
    assert [r.trace for r in inline] == ["1mbit", "1mbitx0.5", ""]
    assert inline[1].rebuffer_s > inline[0].rebuffer_s


def test_bad_gen_fps_is_an_input_error():
    with pytest.raises(InputError, match="generation speeds must be positive"):  # the ladder refuses it
        Ladder((500.0, 2000.0), 2.0, LADDER.sizes, gen_fps=(30.0, 0.0))


def test_a_representations_init_segment_is_fetched_before_its_first_segment():
    """Constant 800 kbit/s (100 bytes per ms), RTT 50 ms: rep 0's 1,000-byte init then its 4,000-byte
    segment take 50 + 10 + 50 + 40 ms; the next segment of rep 0 only 50 + 40 ms."""
    trace = Trace((0.0,), (800.0,), 100.0, "flat")
    ladder = Ladder((100.0, 200.0), 1.0, ((4000, 4000), (8000, 8000)), init_sizes=(1000, 2000))
    result = simulate_session(ladder, Fixed(0), trace, rtt_s=0.05)
    first, second = result.segments
    assert first.download_s == pytest.approx(0.15) and first.bytes == 5000
    assert second.download_s == pytest.approx(0.09) and second.bytes == 4000
    plain = simulate_session(dataclasses.replace(ladder, init_sizes=None), Fixed(0), trace, rtt_s=0.05)
    assert plain.segments[0].download_s == pytest.approx(0.09)
