"""`no_save`: finish the playing video, then preload the rest of the queue round-robin in 800 KB steps.

The level of every chunk is RobustMPC's: over the next (up to) 5 chunks of the chosen video, every
level sequence is scored as `Σ kbps/1000 − 4.3 × rebuffer_s − Σ |Δkbps|/1000` with the chunks fetched at
the forecast bandwidth (the harmonic mean of the last 5 measured throughputs, divided by 1 + the largest
of the last 5 relative forecast errors), and the first level of the best sequence is taken (the last
best, in lexicographic order, on a tie). As in the challenge's reference RobustMPC, the switch
penalty of a sequence's first chunk is taken against the last level of the sequence before it in
that order (the first sequence: the video's last fetched level). With nothing to fetch it sleeps 500 ms. The first request is
chunk 0 of video 0 at the top level.

Details that reproduce the challenge's reference run: a throughput is measured after each fetch as
`bytes / delay` (RTT included); each fetch decision records two forecast errors (the previous forecast's,
then the current harmonic mean's, both against the last measurement); the round-robin takes the first
video in queue order whose bytes so far are under the lowest 800 KB step still open.

Standard library and NumPy only: this file runs unchanged in the challenge's simulator.
"""

from __future__ import annotations

import itertools

import numpy as np

LEVEL_KBPS = np.array([750, 1200, 1850])
LOOKAHEAD = 5
HISTORY = 5
REBUF_PENALTY = 4.3
PRELOAD_STEP_BYTES = 800_000
IDLE_SLEEP_MS = 500.0
QUEUE_LEN = 5
CHUNK_MS = 1000.0

_SEQUENCES = {n: np.array(list(itertools.product(range(len(LEVEL_KBPS)), repeat=n))) for n in range(1, LOOKAHEAD + 1)}


def best_first_level(sizes: list[list[float]], buffer_ms: float, last_level: int, bandwidth_mbyte_s: float) -> int:
    """RobustMPC's choice over every level sequence for the next len(sizes[0]) chunks."""
    seqs = _SEQUENCES[len(sizes[0])]
    table = np.asarray(sizes, dtype=np.float64)  # [level][k]
    buffer = np.full(len(seqs), float(buffer_ms))
    rebuffer = np.zeros(len(seqs))
    kbps_sum = np.zeros(len(seqs), dtype=np.int64)
    switches = np.zeros(len(seqs), dtype=np.int64)
    previous = np.concatenate(([last_level], seqs[:-1, -1]))  # see the module docstring
    for k in range(seqs.shape[1]):
        level = seqs[:, k]
        fetch_ms = 1000.0 * (table[level, k] / 1e6) / bandwidth_mbyte_s
        rebuffer += np.where(buffer < fetch_ms, fetch_ms - buffer, 0.0)
        buffer = np.maximum(buffer - fetch_ms, 0.0) + CHUNK_MS
        kbps_sum += LEVEL_KBPS[level]
        switches += np.abs(LEVEL_KBPS[level] - LEVEL_KBPS[previous])
        previous = level
    reward = kbps_sum / 1000.0 - REBUF_PENALTY * rebuffer / 1000.0 - switches / 1000.0
    best = int(np.flatnonzero(reward == reward.max())[-1])
    return int(seqs[best, 0])


def _harmonic_mean(values: list[float]) -> float:
    inverse_sum = 0.0
    for value in values:
        inverse_sum += 1 / value
    return 1.0 / (inverse_sum / len(values))


class Algorithm:
    def __init__(self) -> None:
        self.Initialize()

    def Initialize(self) -> None:  # noqa: N802 (the challenge's name)
        self.throughputs = [0.0] * HISTORY  # MB/s, oldest first; zeros until measured
        self.forecasts: list[float] = []
        self.errors: list[float] = []
        self.bytes_by_video: dict[int, float] = {}
        self.last_fetch: int | None = None  # video id of the previous decision if it was a fetch

    def _measure(self, delay: float, video_size: float) -> None:
        self.throughputs = self.throughputs[1:] + [(float(video_size) / 1e6) / (float(delay) / 1000.0)]
        if self.last_fetch is not None:
            self.bytes_by_video[self.last_fetch] = self.bytes_by_video.get(self.last_fetch, 0.0) + video_size

    def _record_error(self) -> None:
        last = self.throughputs[-1]
        self.errors.append(abs(self.forecasts[-1] - last) / last if self.forecasts and last != 0 else 0.0)

    def forecast(self) -> float:
        """The robust bandwidth forecast (MB/s), updating the error history as the reference run does."""
        measured = self.throughputs
        while measured[0] == 0.0:
            measured = measured[1:]
        self._record_error()
        self.forecasts.append(_harmonic_mean(measured))
        self._record_error()
        harmonic = _harmonic_mean(measured)
        self.forecasts.append(harmonic)
        return harmonic / (1 + max(self.errors[-HISTORY:]))

    def _choose_video(self, play_video_id: int, Players) -> int | None:  # noqa: N803
        if Players[0].get_remain_video_num() > 0:
            return play_video_id
        candidates = [
            (int(self.bytes_by_video.get(play_video_id + seq, 0.0) // PRELOAD_STEP_BYTES), seq)
            for seq in range(1, min(len(Players), QUEUE_LEN))
            if Players[seq].get_remain_video_num() > 0
        ]
        return play_video_id + min(candidates)[1] if candidates else None

    def run(self, delay, rebuf, video_size, end_of_video, play_video_id, Players, first_step=False):  # noqa: N803
        if first_step:
            self.last_fetch = 0
            return 0, 2, 0.0
        if self.last_fetch is not None:
            self._measure(delay, video_size)
        video_id = self._choose_video(play_video_id, Players)
        if video_id is None:
            self.last_fetch = None
            return play_video_id, 0, IDLE_SLEEP_MS
        player = Players[video_id - play_video_id]
        horizon = min(LOOKAHEAD, player.get_remain_video_num())
        bandwidth = self.forecast()
        levels = player.get_downloaded_bitrate()
        level = best_first_level(
            player.get_undownloaded_video_size(horizon),
            player.get_buffer_size(),
            levels[-1] if levels else 0,
            bandwidth,
        )
        self.last_fetch = video_id
        return video_id, level, 0.0
