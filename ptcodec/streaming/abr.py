"""Adaptive-bitrate (ABR) algorithms, one implementation each, shared by the player and the simulator.

Four algorithms, written from their papers:

- ``bb``: buffer-based, BBA-0 (Huang et al., SIGCOMM 2014);
- ``rb``: rate-based, the harmonic mean of recent throughputs times a safety factor;
- ``bola``: BOLA-BASIC (Spiteri et al., INFOCOM 2016);
- ``mpc``: RobustMPC (Yin et al., SIGCOMM 2015).

Every algorithm is compute-aware by default: when the ladder says how fast the client can generate
each representation (`Ladder.gen_fps`), a representation generated slower than the playback frame
rate is never a candidate. Such a representation stalls playback whatever the network does (the
buffer drains at 1 s/s while frames are produced at gen_fps/fps s/s), so no buffer level or
throughput can justify it. Representation 0 stays allowed so that there is always a choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, ClassVar

from ptcodec.errors import InputError

ABRS = ("bb", "rb", "bola", "mpc")


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class Ladder:
    """The representations a player chooses from, as the package index describes them."""

    bitrates_kbps: tuple[float, ...]  # one per representation, increasing (rep 0 = lowest)
    segment_s: float  # nominal segment duration, seconds
    sizes: tuple[tuple[int, ...], ...]  # sizes[rep][segment] in bytes (exact, from the package index)
    gen_fps: tuple[float, ...] | None = None  # frames/s the client can generate per rep (None: unlimited)
    fps: float = 30.0  # playback frame rate
    init_sizes: tuple[int, ...] | None = None  # init segment bytes per rep, fetched before its first segment

    def __post_init__(self) -> None:
        reps = len(self.bitrates_kbps)
        if reps == 0:
            raise InputError("ABR ladder: no representations")
        if not all(_finite(rate) and rate > 0 for rate in self.bitrates_kbps):
            raise InputError(f"ABR ladder: bitrates must be positive numbers, got {list(self.bitrates_kbps)}")
        if any(low >= high for low, high in zip(self.bitrates_kbps[:-1], self.bitrates_kbps[1:], strict=True)):
            raise InputError(f"ABR ladder: bitrates must be strictly increasing, got {list(self.bitrates_kbps)}")
        if not (_finite(self.segment_s) and self.segment_s > 0):
            raise InputError(f"ABR ladder: segment duration must be a positive number of seconds, got {self.segment_s!r}")
        if not (_finite(self.fps) and self.fps > 0):
            raise InputError(f"ABR ladder: frame rate must be a positive number, got {self.fps!r}")
        if len(self.sizes) != reps:
            raise InputError(f"ABR ladder: {len(self.sizes)} size lists for {reps} representations")
        lengths = {len(row) for row in self.sizes}
        if len(lengths) > 1:
            raise InputError(f"ABR ladder: representations have different segment counts {sorted(lengths)}")
        for rep, row in enumerate(self.sizes):
            if not all(isinstance(size, int) and not isinstance(size, bool) and size >= 0 for size in row):
                raise InputError(f"ABR ladder: segment sizes of representation {rep} must be non-negative integers")
        if self.init_sizes is not None and (
                len(self.init_sizes) != reps
                or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in self.init_sizes)):
            raise InputError(f"ABR ladder: init sizes must be one non-negative integer per representation, "
                             f"got {self.init_sizes!r}")
        if self.gen_fps is not None:
            if len(self.gen_fps) != reps:
                raise InputError(f"ABR ladder: {len(self.gen_fps)} generation speeds for {reps} representations")
            if not all(_finite(speed) and speed > 0 for speed in self.gen_fps):
                raise InputError(f"ABR ladder: generation speeds must be positive numbers, got {list(self.gen_fps)}")

    @property
    def reps(self) -> int:
        """How many representations the ladder has."""
        return len(self.bitrates_kbps)

    @property
    def segments(self) -> int:
        """How many media segments each representation has."""
        return len(self.sizes[0])


@dataclass
class AbrState:
    """What the player knows when it chooses the representation of one segment."""

    segment: int  # index of the segment to choose for
    buffer_s: float  # seconds of playable video buffered
    last_rep: int | None
    throughputs_kbps: list[float] = field(default_factory=list)  # throughput of each past download, oldest first
    download_s: list[float] = field(default_factory=list)  # download time of each past segment


def _harmonic_mean(values: list[float]) -> float:
    """The harmonic mean: one slow download weighs more than one fast one, as it does on the buffer."""
    return len(values) / sum(1.0 / value for value in values)


def _highest_at_most(rate_kbps: float, candidates: list[int], ladder: Ladder) -> int:
    """The highest candidate whose bitrate is at most `rate_kbps`; the lowest candidate when none is."""
    fitting = [rep for rep in candidates if ladder.bitrates_kbps[rep] <= rate_kbps]
    return fitting[-1] if fitting else candidates[0]


class Abr:
    """An ABR algorithm: `choose` gives the representation of the next segment.

    Subclasses implement `_pick` over the candidate representations (`feasible`), after `choose` has
    checked the state against the ladder.
    """

    name: ClassVar[str] = ""
    defaults: ClassVar[dict[str, float]] = {}

    def __init__(self, *, compute_aware: bool = True) -> None:
        if not isinstance(compute_aware, bool):
            raise InputError(f"{self.name}: compute_aware must be true or false, got {compute_aware!r}")
        self.compute_aware = compute_aware

    def feasible(self, ladder: Ladder) -> list[int]:
        """Representations the client can generate in real time (gen_fps >= fps), rep 0 always included.

        A representation generated slower than playback stalls whatever the network does, so a
        compute-aware ABR never considers it; without gen_fps, or when not compute-aware, all are candidates.
        """
        if not self.compute_aware or ladder.gen_fps is None:
            return list(range(ladder.reps))
        speeds = ladder.gen_fps
        return [rep for rep in range(ladder.reps) if rep == 0 or speeds[rep] >= ladder.fps]

    def choose(self, state: AbrState, ladder: Ladder) -> int:
        """The representation to download for `state.segment`."""
        _check_state(state, ladder)
        return self._pick(state, ladder, self.feasible(ladder))

    def _pick(self, state: AbrState, ladder: Ladder, candidates: list[int]) -> int:
        raise NotImplementedError


def _check_state(state: AbrState, ladder: Ladder) -> None:
    if not (isinstance(state.segment, int) and 0 <= state.segment < ladder.segments):
        raise InputError(f"ABR: segment {state.segment!r} is outside the ladder's {ladder.segments} segments")
    if not (_finite(state.buffer_s) and state.buffer_s >= 0):
        raise InputError(f"ABR: buffer must be a non-negative number of seconds, got {state.buffer_s!r}")
    if state.last_rep is not None and not (isinstance(state.last_rep, int) and 0 <= state.last_rep < ladder.reps):
        raise InputError(f"ABR: last representation {state.last_rep!r} is not in the ladder's {ladder.reps}")
    if not all(_finite(rate) and rate > 0 for rate in state.throughputs_kbps):
        raise InputError("ABR: measured throughputs must be positive numbers")


class BufferBased(Abr):
    """BBA-0 (Huang et al., SIGCOMM 2014): the rate follows the buffer, not the throughput estimate.

    The rate map f(B) is R_min up to the reservoir r, rises linearly to R_max over the cushion c, and
    is R_max above r + c (R_min and R_max of the candidates). Below r choose R_min, above r + c R_max.
    Between them, with Rate+ and Rate- the candidate rates adjacent to the previous one: move up to the
    highest rate <= f(B) when f(B) >= Rate+, down to the lowest rate > f(B) when f(B) <= Rate-, and
    otherwise keep the previous rate, so that the rate does not oscillate between two neighbours.
    """

    name = "bb"
    defaults = {"reservoir_s": 5.0, "cushion_s": 10.0}

    def __init__(self, *, compute_aware: bool = True, reservoir_s: float = 5.0, cushion_s: float = 10.0) -> None:
        super().__init__(compute_aware=compute_aware)
        _require(lambda x: x >= 0, "bb", "reservoir_s", reservoir_s, "a non-negative number of seconds")
        _require(lambda x: x > 0, "bb", "cushion_s", cushion_s, "a positive number of seconds")
        self.reservoir_s = float(reservoir_s)
        self.cushion_s = float(cushion_s)

    def rate_map(self, buffer_s: float, low_kbps: float, high_kbps: float) -> float:
        """f(B): the rate BBA-0 maps a buffer level to."""
        if buffer_s <= self.reservoir_s:
            return low_kbps
        if buffer_s >= self.reservoir_s + self.cushion_s:
            return high_kbps
        return low_kbps + (high_kbps - low_kbps) * (buffer_s - self.reservoir_s) / self.cushion_s

    def _pick(self, state: AbrState, ladder: Ladder, candidates: list[int]) -> int:
        rates = ladder.bitrates_kbps
        if state.buffer_s <= self.reservoir_s:
            return candidates[0]
        if state.buffer_s >= self.reservoir_s + self.cushion_s:
            return candidates[-1]
        target = self.rate_map(state.buffer_s, rates[candidates[0]], rates[candidates[-1]])
        if state.last_rep not in candidates:
            return _highest_at_most(target, candidates, ladder)
        position = candidates.index(state.last_rep)
        rate_up = rates[candidates[min(position + 1, len(candidates) - 1)]]
        rate_down = rates[candidates[max(position - 1, 0)]]
        if target >= rate_up:
            return _highest_at_most(target, candidates, ladder)
        if target <= rate_down:
            return next(rep for rep in candidates if rates[rep] > target)
        return state.last_rep


class RateBased(Abr):
    """Rate-based: the highest rate at most the harmonic mean of the last `window` throughputs times `safety`.

    The lowest representation while there is no measurement yet.
    """

    name = "rb"
    defaults = {"window": 5, "safety": 0.9}

    def __init__(self, *, compute_aware: bool = True, window: int = 5, safety: float = 0.9) -> None:
        super().__init__(compute_aware=compute_aware)
        _require_count("rb", "window", window)
        _require(lambda x: 0 < x <= 1, "rb", "safety", safety, "a number in (0, 1]")
        self.window = window
        self.safety = float(safety)

    def _pick(self, state: AbrState, ladder: Ladder, candidates: list[int]) -> int:
        if not state.throughputs_kbps:
            return candidates[0]
        estimate = _harmonic_mean(state.throughputs_kbps[-self.window :]) * self.safety
        return _highest_at_most(estimate, candidates, ladder)


class Bola(Abr):
    """BOLA-BASIC (Spiteri et al., INFOCOM 2016): Lyapunov buffer control over utilities.

    With S_m = bitrate_m x segment_s the (nominal) segment sizes of the candidates, utilities
    v_m = ln(S_m / S_min), Q the buffer in segments (buffer_s / segment_s) and
    Q_max = buffer_target_s / segment_s, the control parameter is

        V = (Q_max - 1) / (v_max + gamma_p)

    (the paper's choice, so that the top representation's score reaches 0 one segment below Q_max),
    and the choice is argmax_m (V v_m + V gamma_p - Q) / S_m. Above V (v_max + gamma_p) every score
    is negative and BOLA would wait; the player's buffer cap does the waiting, so this returns the top
    candidate, BOLA's choice just below that level. gamma_p weighs rebuffering against utility.
    """

    name = "bola"
    defaults = {"buffer_target_s": 20.0, "gamma_p": 5.0}

    def __init__(self, *, compute_aware: bool = True, buffer_target_s: float = 20.0, gamma_p: float = 5.0) -> None:
        super().__init__(compute_aware=compute_aware)
        _require(lambda x: x > 0, "bola", "buffer_target_s", buffer_target_s, "a positive number of seconds")
        _require(lambda x: x > 0, "bola", "gamma_p", gamma_p, "a positive number")
        self.buffer_target_s = float(buffer_target_s)
        self.gamma_p = float(gamma_p)

    def control(self, ladder: Ladder, candidates: list[int]) -> float:
        """V for this ladder and candidate set."""
        q_max = self.buffer_target_s / ladder.segment_s
        if q_max <= 1:
            raise InputError(
                f"bola: buffer_target_s {self.buffer_target_s:g} must exceed one segment ({ladder.segment_s:g} s)"
            )
        rates = ladder.bitrates_kbps
        v_max = math.log(rates[candidates[-1]] / rates[candidates[0]])
        return (q_max - 1) / (v_max + self.gamma_p)

    def _pick(self, state: AbrState, ladder: Ladder, candidates: list[int]) -> int:
        rates = ladder.bitrates_kbps
        v = self.control(ladder, candidates)
        q = state.buffer_s / ladder.segment_s
        lowest = rates[candidates[0]]
        utilities = {rep: math.log(rates[rep] / lowest) for rep in candidates}
        if q >= v * (utilities[candidates[-1]] + self.gamma_p):
            return candidates[-1]
        scores = {rep: (v * utilities[rep] + v * self.gamma_p - q) / (rates[rep] * ladder.segment_s) for rep in candidates}
        return max(candidates, key=lambda rep: scores[rep])


class RobustMpc(Abr):
    """RobustMPC (Yin et al., SIGCOMM 2015): plan `horizon` segments ahead on a pessimistic forecast.

    The forecast is the harmonic mean of the last `window` throughputs divided by 1 + the largest
    relative error |predicted - actual| / actual of the last `window` predictions, each prediction
    being the harmonic mean of the `window` throughputs before it (recomputed from the history, so
    the object keeps no state). Every sequence of candidate representations over the horizon is
    simulated with the exact segment sizes of the ladder; the first representation of the sequence
    with the highest QoE = sum bitrate (Mbit/s) - rebuffer_penalty x rebuffer (s)
    - smooth_penalty x sum |change of bitrate| (Mbit/s) is chosen (Pensieve's linear QoE: 4.3 and 1).
    The lowest representation while there is no measurement yet.
    """

    name = "mpc"
    defaults = {"horizon": 5, "window": 5, "rebuffer_penalty": 4.3, "smooth_penalty": 1.0}
    MAX_HORIZON: ClassVar[int] = 8  # the search is exhaustive: reps ** horizon sequences

    def __init__(
        self,
        *,
        compute_aware: bool = True,
        horizon: int = 5,
        window: int = 5,
        rebuffer_penalty: float = 4.3,
        smooth_penalty: float = 1.0,
    ) -> None:
        super().__init__(compute_aware=compute_aware)
        _require_count("mpc", "horizon", horizon, most=self.MAX_HORIZON)
        _require_count("mpc", "window", window)
        _require(lambda x: x >= 0, "mpc", "rebuffer_penalty", rebuffer_penalty, "a non-negative number")
        _require(lambda x: x >= 0, "mpc", "smooth_penalty", smooth_penalty, "a non-negative number")
        self.horizon = horizon
        self.window = window
        self.rebuffer_penalty = float(rebuffer_penalty)
        self.smooth_penalty = float(smooth_penalty)

    def forecast_kbps(self, throughputs_kbps: list[float]) -> float:
        """The robust throughput forecast for the next downloads."""
        errors = []
        for index in range(max(1, len(throughputs_kbps) - self.window), len(throughputs_kbps)):
            predicted = _harmonic_mean(throughputs_kbps[max(0, index - self.window) : index])
            actual = throughputs_kbps[index]
            errors.append(abs(predicted - actual) / actual)
        return _harmonic_mean(throughputs_kbps[-self.window :]) / (1 + max(errors, default=0.0))

    def _pick(self, state: AbrState, ladder: Ladder, candidates: list[int]) -> int:
        if not state.throughputs_kbps:
            return candidates[0]
        forecast = self.forecast_kbps(state.throughputs_kbps)
        steps = min(self.horizon, ladder.segments - state.segment)
        last_mbps = None if state.last_rep is None else ladder.bitrates_kbps[state.last_rep] / 1000
        best_rep, best_qoe = candidates[0], -math.inf
        for rep in candidates:
            qoe = self._plan(ladder, candidates, forecast, state.segment, steps, state.buffer_s, rep, last_mbps)
            if qoe > best_qoe:
                best_rep, best_qoe = rep, qoe
        return best_rep

    def _plan(
        self,
        ladder: Ladder,
        candidates: list[int],
        forecast_kbps: float,
        segment: int,
        steps: int,
        buffer_s: float,
        rep: int,
        last_mbps: float | None,
    ) -> float:
        """The best QoE of the sequences that download `segment` at `rep`, then `steps - 1` more."""
        download_s = ladder.sizes[rep][segment] * 8 / 1000 / forecast_kbps
        rebuffer_s = max(download_s - buffer_s, 0.0)
        buffer_after = max(buffer_s - download_s, 0.0) + ladder.segment_s
        mbps = ladder.bitrates_kbps[rep] / 1000
        qoe = mbps - self.rebuffer_penalty * rebuffer_s
        if last_mbps is not None:
            qoe -= self.smooth_penalty * abs(mbps - last_mbps)
        if steps == 1:
            return qoe
        return qoe + max(
            self._plan(ladder, candidates, forecast_kbps, segment + 1, steps - 1, buffer_after, following, mbps)
            for following in candidates
        )


def _require(test: Callable[[float], bool], abr: str, name: str, value: object, what: str) -> None:
    if not (isinstance(value, (int, float)) and _finite(value) and test(value)):
        raise InputError(f"{abr}: {name} must be {what}, got {value!r}")


def _require_count(abr: str, name: str, value: object, *, most: int | None = None) -> None:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 1 and (most is None or value <= most)):
        bound = "" if most is None else f" up to {most}"
        raise InputError(f"{abr}: {name} must be a whole number from 1{bound}, got {value!r}")


_CLASSES: dict[str, type[Abr]] = {cls.name: cls for cls in (BufferBased, RateBased, Bola, RobustMpc)}


def make_abr(name: str, *, compute_aware: bool = True, **params: float) -> Abr:
    """The ABR algorithm called `name` (one of ABRS) with its parameters; one-line errors for unknown ones."""
    cls = _CLASSES.get(name)
    if cls is None:
        raise InputError(f"unknown ABR {name!r}: choose one of {', '.join(ABRS)}")
    unknown = sorted(set(params) - set(cls.defaults))
    if unknown:
        raise InputError(f"{name}: unknown parameter {', '.join(unknown)}; it takes {', '.join(cls.defaults)}")
    return cls(compute_aware=compute_aware, **params)
