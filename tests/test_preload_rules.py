"""The simulator's rules, one test each, on hand-made videos and traces whose figures are worked out by hand.

The link runs at 8 Mbit/s (1e6 bytes/s, 950,000 payload bytes/s): a chunk of 950·k bytes takes k ms,
plus 80 ms of RTT.
"""

from __future__ import annotations

import pytest

from ptcodec.preload.challenge import DecisionError
from ptcodec.preload.network import Link
from ptcodec.preload.session import Rules, Session
from ptcodec.preload.videos import Video

PUBLISHED = Rules(exact_challenge=False)


def video(name: str, sizes: list[int]) -> Video:
    """A video with the same chunk sizes at every level; its retention curve is not used by these tests."""
    n = len(sizes)
    shares = tuple(1.0 - i / (n + 1) for i in range(n + 1)) + (0.0,)
    return Video(name, (tuple(sizes),) * 3, tuple(float(i) for i in range(n + 2)), shares)


def fast_link() -> Link:
    return Link([0.0, 1000.0], [0.0, 8.0])


class Script:
    """An Algorithm that plays back a list of decisions, then sleeps; it keeps what it was told."""

    def __init__(self, decisions: list[tuple[int, int, float]]) -> None:
        self.decisions = list(decisions)
        self.calls: list[tuple] = []

    def Initialize(self) -> None:  # noqa: N802
        pass

    def run(self, delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False):  # noqa: N803
        self.calls.append((delay, rebuf, video_size, end_of_video, play_video_id, first_step))
        return self.decisions.pop(0) if self.decisions else (play_video_id, 0, 500.0)


def test_network_timing_constant_and_stepped_trace() -> None:
    constant = Link([0.0, 1.0, 2.0, 3.0], [8.0, 8.0, 8.0, 8.0])
    assert constant.transfer_ms(475_000) == pytest.approx(500 + 80)  # 0.5 s of payload at 950,000 B/s
    assert constant.transfer_ms(950_000 * 2) == pytest.approx(2000 + 80)  # spans two segments
    # Segment 1 (0-1 s) runs at point 1's 8 Mbit/s, segment 2 (1-2 s) at point 2's 16 Mbit/s; point 0's
    # 1000 Mbit/s is never used, and the trace loops to t = 0 after 2 s.
    stepped = Link([0.0, 1.0, 2.0], [1000.0, 8.0, 16.0])
    assert stepped.download_ms(1_425_000) == 1330  # 950,000 B in 1 s, then 475,000 B at 1.9e6 B/s: 0.25 s
    assert stepped.clock_s == pytest.approx(1.25)  # the RTT did not move the trace clock
    # 1,425,000 B fill the rest of segment 2 (0.75 s), then the loop's segment 1 carries 950,000 B in 1 s.
    assert stepped.download_ms(2_375_000) == 1830
    assert stepped.clock_s == pytest.approx(1.0)
    assert Link([0.0, 1.0], [0.0, 8.0]).download_ms(950 * 10 + 475) == 91  # 90.5 ms rounds half up


def test_swipe_moves_the_queue_and_counts_waste_from_the_swipe() -> None:
    a, b = video("a", [9500, 19000, 28500]), video("b", [9500, 9500])
    decisions = [(0, 0, 0.0), (0, 0, 0.0), (0, 0, 0.0), (1, 0, 0.0), (1, 0, 0.0)]
    algorithm = Script(decisions)
    session = Session([a, b], [1500.0, 2000.0], fast_link())
    result = session.run(algorithm)
    # a's third chunk starts at 2 s, after the swipe at 1.5 s: its bytes are waste; b was watched to its end.
    assert result.wasted_bytes == 28500
    assert result.downloaded_bytes == 9500 + 19000 + 28500 + 9500 + 9500
    assert result.watched_ms == 3500
    # Fetches take 90, 100, 110, 90, 90 ms; a then plays from 480 ms and the swipe comes within the third sleep.
    delays = [call[0] for call in algorithm.calls[1:]]
    assert delays[:8] == [90, 100, 110, 90, 90, 500, 500, 500]
    assert [call[4] for call in algorithm.calls[1:9]] == [0, 0, 0, 0, 0, 0, 0, 1]  # play_video_id after each step
    assert result.stall_ms == 90  # only the startup


def test_a_chunk_in_flight_at_the_swipe_is_waste_once() -> None:
    a, b = video("a", [9500, 950_000]), video("b", [9500])
    algorithm = Script([(0, 0, 0.0), (0, 0, 0.0), (1, 0, 0.0)])
    result = Session([a, b], [500.0, 1000.0], fast_link()).run(algorithm)
    # The second fetch of a takes 1080 ms; the user leaves a after 500 ms of it, so the chunk is waste and
    # the Algorithm is told that a ended and b plays.
    delay, _, size, end_of_video, play_video_id, _ = algorithm.calls[2]
    assert (delay, size, end_of_video, play_video_id) == (1080, 950_000, True, 1)
    assert result.wasted_bytes == 950_000  # once (the challenge's own run adds it a second time)


@pytest.mark.parametrize(
    ("rules", "order", "expected"),
    [
        # a0 at 750, a1 at 1850 (a's last watched chunk), b0 at 1200: 1100 within a, then |1200 - 1850| = 650.
        (PUBLISHED, "a1 before b0", 1100 + 650),
        (PUBLISHED, "b0 before a1", 1100 + 650),
        (Rules(), "a1 before b0", 1100 + 650),
        # The challenge charges b0's full kbps when a's last watched chunk comes after it.
        (Rules(), "b0 before a1", 1100 + 1200),
    ],
)
def test_smoothness_links_the_last_watched_chunk_to_the_next_video(rules: Rules, order: str, expected: int) -> None:
    a, b = video("a", [9500, 9500]), video("b", [9500, 9500])
    decisions = [(0, 0, 0.0), (0, 2, 0.0), (1, 1, 0.0)] if order == "a1 before b0" else [(0, 0, 0.0), (1, 1, 0.0), (0, 2, 0.0)]
    result = Session([a, b], [1500.0, 500.0], fast_link(), rules).run(Script(decisions))
    assert result.smooth_kbps == expected
    assert result.quality_kbps == 750 + 1850 + 1200
    # What rule 2 adds beyond |1200 - 1850| is kept apart: 1200 - 650 where it applies, else nothing.
    assert result.rule2_kbps == (1200 - 650 if expected == 1100 + 1200 else 0)


def test_smoothness_after_a_video_watched_to_its_end() -> None:
    a, b = video("a", [9500, 9500]), video("b", [9500])
    decisions = [(0, 0, 0.0), (0, 0, 0.0), (1, 2, 0.0)]
    published = Session([a, b], [2000.0, 1000.0], fast_link(), PUBLISHED).run(Script(decisions))
    assert published.smooth_kbps == 1850 - 750
    challenge = Session([a, b], [2000.0, 1000.0], fast_link()).run(Script(decisions))
    assert challenge.smooth_kbps == 0  # the challenge never recognises the last chunk of a full watch


def test_startup_and_stalls_are_rebuffering() -> None:
    a = video("a", [9500, 1_425_000, 9500])
    algorithm = Script([(0, 1, 0.0), (0, 1, 0.0), (0, 1, 0.0)])
    result = Session([a], [3000.0], fast_link()).run(algorithm)
    rebufs = [call[1] for call in algorithm.calls[1:4]]
    # Startup: the first chunk's 90 ms. Then a 1580 ms fetch plays the 1000 ms buffered and stalls 580 ms;
    # the third fetch (90 ms) plays from the second chunk's buffer.
    assert rebufs == [90, 580, 0]
    assert result.stall_ms == 90 + 580
    assert result.qoe == pytest.approx(3 * 1.2 - 1.85 * 0.670)
    assert result.score == pytest.approx(result.qoe - 0.5 * (9500 + 1_425_000 + 9500) * 8 / 1e6)


@pytest.mark.parametrize(
    ("decision", "words"),
    [((5, 0, 0.0), "video id 5 is not in the queue (videos 0..1)"), ((0, 3, 0.0), "level 3"), ((0, -1, 500.0), "level -1")],
)
def test_a_bad_decision_is_a_one_line_error(decision: tuple, words: str) -> None:
    a, b = video("a", [9500]), video("b", [9500])
    with pytest.raises(DecisionError) as caught:
        Session([a, b], [1000.0, 1000.0], fast_link()).run(Script([(0, 0, 0.0), decision]))
    assert words in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_video_behind_the_playing_one_is_refused() -> None:
    a, b = video("a", [9500]), video("b", [9500, 9500])
    decisions = [(0, 0, 0.0), (1, 0, 0.0), (0, 0, 500.0), (0, 0, 500.0), (0, 0, 500.0)]  # a ends within the first sleep
    with pytest.raises(DecisionError, match="video id 0 is not in the queue"):
        Session([a, b], [1000.0, 2000.0], fast_link()).run(Script(decisions))


def test_last_watched_levels_carry_to_the_next_trace_in_order() -> None:
    from ptcodec.preload.runner import carry_last_levels
    from ptcodec.preload.session import SessionResult

    first = SessionResult(qoe=10.0, score=5.0, last_watched_kbps={0: 1850})
    # The second session fetched video 1's first chunk (750 kbps) before video 0's last watched chunk.
    second = SessionResult(qoe=10.0, score=5.0, unresolved_first_chunks=[(1, 750)], last_watched_kbps={0: 1200})
    third = SessionResult(qoe=10.0, score=5.0, unresolved_first_chunks=[(1, 750)])
    carry_last_levels([first, second, third])
    assert (first.qoe, second.qoe, third.qoe) == (10.0, pytest.approx(8.9), pytest.approx(9.55))
    assert (second.score, third.score) == (pytest.approx(3.9), pytest.approx(4.55))
    assert third.smooth_kbps == 450  # against the latest session's level, 1200


def test_players_show_the_queue_as_the_challenge_does() -> None:
    a, b = video("a", [9500, 19000, 28500]), video("b", [9500, 9500])
    session = Session([a, b], [3000.0, 2000.0], fast_link())
    session.step((0, 0, 0.0))
    session.step((0, 2, 0.0))  # 100 ms: plays 100 ms of a
    head, tail = session.players()
    assert (head.get_chunk_counter(), head.get_remain_video_num(), head.get_chunk_sum()) == (2, 1, 3)
    assert head.get_buffer_size() == 1900 and head.get_play_chunk() == pytest.approx(0.1)
    assert head.get_downloaded_bitrate() == [0, 2] and head.get_video_quality(1) == 2 and head.get_video_quality(2) == -1
    assert head.get_video_size(1) == 28500 and head.get_undownloaded_video_size(1) == [[28500]] * 3
    assert head.get_future_video_size(2) == [[19000, 28500]] * 3  # from the chunk after the one playing
    assert head.get_preload_size() == 9500 + 19000 and tail.get_chunk_counter() == 0
    assert head.get_video_len() == 3000.0 and head.get_user_model()[0][:2] == [0.0, 1000.0]
    with pytest.raises(DecisionError, match="past its last chunk"):
        head.get_undownloaded_video_size(2)
