"""Network traces and the network model shared by the simulator (and the trace-shaped server).

A `Trace` is piecewise-constant throughput that loops: segment i runs at `kbps[i]` from `starts_s[i]`
to the next start (the last one to `duration_s`), and the trace then repeats. Two file kinds load:

- Mahimahi `.down` files: one integer per line, the millisecond at which one 1,500-byte packet can be
  delivered (a repeated value is several packets in that millisecond). The trace loops at its last
  millisecond, as mahimahi's link shell does, so a packet at the last millisecond falls on ms 0 of the
  next loop. Each millisecond becomes a segment of (packets x 12,000) kbit/s, merged with equal
  neighbours (`bin_ms` aggregates coarser bins).
- `time throughput_Mbps` files (the Pensieve Norway set, TAB separated; the MM'22 svsc set, space
  separated, 0.5 s steps): each throughput holds from its time to the next; the last one holds for the
  previous step. Times are shifted so that the trace starts at 0.

`download_time` integrates the looping trace exactly (prefix sums and bisection, no time stepping).
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from pathlib import Path

from ptcodec.errors import InputError

PACKET_BYTES = 1500
PACKET_KBIT = PACKET_BYTES * 8 / 1000  # 12 kbit: one packet per ms is 12,000 kbit/s


@dataclass(frozen=True)
class Trace:
    """Looping piecewise-constant throughput: `kbps[i]` from `starts_s[i]` to the next start or `duration_s`."""

    starts_s: tuple[float, ...]
    kbps: tuple[float, ...]
    duration_s: float
    name: str = ""
    _cum_kbit: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        label = self.name or "trace"
        if not self.starts_s or len(self.starts_s) != len(self.kbps):
            raise InputError(f"{label}: a trace needs one throughput per start time")
        if self.starts_s[0] != 0:
            raise InputError(f"{label}: a trace starts at 0 s")
        if any(b <= a for a, b in zip(self.starts_s, self.starts_s[1:], strict=False)) or self.duration_s <= self.starts_s[-1]:
            raise InputError(f"{label}: trace times must increase and end before the duration")
        if any(not math.isfinite(r) or r < 0 for r in self.kbps):
            raise InputError(f"{label}: throughputs must be finite and non-negative")
        ends = self.starts_s[1:] + (self.duration_s,)
        cum = [0.0]
        for start, end, rate in zip(self.starts_s, ends, self.kbps, strict=True):
            cum.append(cum[-1] + rate * (end - start))
        if cum[-1] <= 0:
            raise InputError(f"{label}: the trace delivers nothing (all throughputs are 0)")
        object.__setattr__(self, "_cum_kbit", tuple(cum))

    @property
    def mean_kbps(self) -> float:
        """Time-averaged throughput over one loop."""
        return self._cum_kbit[-1] / self.duration_s

    def scaled(self, factor: float) -> Trace:
        """The same trace with every throughput multiplied by `factor` (to bring fast traces down to a ladder)."""
        if not math.isfinite(factor) or factor <= 0:
            raise InputError(f"{self.name or 'trace'}: scale factor must be positive, not {factor}")
        name = f"{self.name}x{factor:g}" if self.name else ""
        return Trace(self.starts_s, tuple(r * factor for r in self.kbps), self.duration_s, name)

    def kbit_until(self, t_s: float) -> float:
        """kbit deliverable from time 0 to `t_s` (looping)."""
        loops, within = divmod(t_s, self.duration_s)
        i = bisect.bisect_right(self.starts_s, within) - 1
        return loops * self._cum_kbit[-1] + self._cum_kbit[i] + self.kbps[i] * (within - self.starts_s[i])

    def time_of_kbit(self, kbit: float) -> float:
        """The earliest time by which `kbit` kbit (counted from time 0) have been delivered; inverse of kbit_until."""
        total = self._cum_kbit[-1]
        loops = math.floor(kbit / total)
        rest = kbit - loops * total
        if rest <= 0:
            if loops <= 0:
                return 0.0
            loops, rest = loops - 1, total  # finished exactly at a loop's end: the earliest such time is in that loop
        i = bisect.bisect_left(self._cum_kbit, rest)  # first prefix >= rest; segment i-1 finishes the job
        seg = i - 1
        return loops * self.duration_s + self.starts_s[seg] + (rest - self._cum_kbit[seg]) / self.kbps[seg]


def download_time(trace: Trace, start_s: float, nbytes: int, rtt_s: float) -> float:
    """Seconds from sending a request at `start_s` until its last byte of `nbytes` arrives.

    One RTT per request (the request goes out and the first byte comes back), then the body at the trace's
    throughput from `start_s + rtt_s`, integrated exactly over the looping trace."""
    if nbytes < 0 or rtt_s < 0:
        raise InputError(f"download of {nbytes} bytes with RTT {rtt_s} s: sizes and RTT must be non-negative")
    begin = start_s + rtt_s
    end = trace.time_of_kbit(trace.kbit_until(begin) + nbytes * 8 / 1000)
    return max(end, begin) - start_s


def load_trace(path: str | Path, *, bin_ms: int = 1) -> Trace:
    """Load a Mahimahi `.down` file or a `time throughput_Mbps` file (Norway, svsc); the kind is told by the
    number of fields on the first data line (one: Mahimahi; two: time and throughput)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: cannot read trace: {error}") from None
    lines = [(n, line.split()) for n, line in enumerate(text.splitlines(), start=1) if line.strip()]
    if not lines:
        raise InputError(f"{path}: empty trace file")
    if len(lines[0][1]) == 1:
        return _mahimahi(path, lines, bin_ms)
    return _time_throughput(path, lines)


def load_trace_dir(directory: str | Path, *, scale: float = 1.0) -> list[Trace]:
    """Every trace under `directory` (recursively, sorted by path): `.down` files and files without a suffix
    (Norway, svsc); others (README.mahimahi, notes) are skipped. Each is named by its path relative to
    `directory` and multiplied by `scale`."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory of traces")
    paths = sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".") and p.suffix in ("", ".down"))
    if not paths:
        raise InputError(f"{root}: no trace files (.down, or time-throughput files without a suffix)")
    traces = []
    for path in paths:
        trace = load_trace(path)
        trace = Trace(trace.starts_s, trace.kbps, trace.duration_s, path.relative_to(root).as_posix())
        traces.append(trace if scale == 1.0 else trace.scaled(scale))
    return traces


def _mahimahi(path: Path, lines: list[tuple[int, list[str]]], bin_ms: int) -> Trace:
    if bin_ms < 1:
        raise InputError(f"{path}: bin_ms must be at least 1")
    stamps: list[int] = []
    for n, fields in lines:
        if len(fields) != 1 or not fields[0].isdigit():
            raise InputError(f"{path}:{n}: expected one integer millisecond per line, got {' '.join(fields)!r}")
        ms = int(fields[0])
        if stamps and ms < stamps[-1]:
            raise InputError(f"{path}:{n}: times decrease ({ms} ms after {stamps[-1]} ms)")
        stamps.append(ms)
    period_ms = stamps[-1]
    if period_ms <= 0:
        raise InputError(f"{path}: the trace must end after 0 ms (it loops at its last millisecond)")
    bins = -(-period_ms // bin_ms)
    counts = [0] * bins
    for ms in stamps:
        counts[(ms % period_ms) // bin_ms] += 1
    starts: list[float] = []
    rates: list[float] = []
    for b, count in enumerate(counts):
        width_ms = min(bin_ms, period_ms - b * bin_ms)
        rate = count * PACKET_KBIT * 1000 / width_ms
        if not rates or rate != rates[-1]:
            starts.append(b * bin_ms / 1000)
            rates.append(rate)
    return Trace(tuple(starts), tuple(rates), period_ms / 1000, path.name)


def _time_throughput(path: Path, lines: list[tuple[int, list[str]]]) -> Trace:
    times: list[float] = []
    rates: list[float] = []
    for n, fields in lines:
        try:
            if len(fields) != 2:
                raise ValueError
            t, mbps = float(fields[0]), float(fields[1])
        except ValueError:
            raise InputError(f"{path}:{n}: expected 'time_s throughput_Mbps', got {' '.join(fields)!r}") from None
        if not (math.isfinite(t) and math.isfinite(mbps)) or mbps < 0:
            raise InputError(f"{path}:{n}: time and throughput must be finite and the throughput non-negative")
        if times and t <= times[-1]:
            raise InputError(f"{path}:{n}: times do not increase ({t} s after {times[-1]} s)")
        times.append(t)
        rates.append(mbps * 1000)
    step = times[-1] - times[-2] if len(times) > 1 else 1.0
    origin = times[0]
    starts = tuple(t - origin for t in times)
    return Trace(starts, tuple(rates), starts[-1] + step, path.name)
