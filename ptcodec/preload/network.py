"""Pensieve's link model, as the MM'22 short-video challenge uses it.

A trace is a list of `[time_s, Mbit/s]` points. The link keeps one clock for the whole session:

- segment i runs from point i-1 to point i at the throughput of point i (Pensieve's convention: the
  value at the *end* of a step; the first point's throughput is never used);
- 95% of the raw throughput carries payload;
- each chunk costs 80 ms of RTT on top of its transfer, and the RTT does not move the trace clock;
- sleeping does not move the trace clock either (only transfers do);
- at the last point the trace loops to t = 0 and resumes with segment 1.

`download_ms` rounds the delay to a whole millisecond (half up), as the challenge does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from ptcodec.errors import InputError
from ptcodec.streaming.traces import Trace

LINK_RTT_MS = 80.0
PAYLOAD_SHARE = 0.95
BYTES_PER_MBIT = 1e6 / 8


class Link:
    """The looping trace and its clock; one instance per session."""

    def __init__(self, times_s: Sequence[float], mbps: Sequence[float], *, name: str = "trace") -> None:
        if len(times_s) != len(mbps) or len(times_s) < 2:
            raise InputError(f"{name}: a link trace needs at least two [time_s, Mbit/s] points")
        if times_s[0] != 0:
            raise InputError(f"{name}: a link trace starts at 0 s (it loops back to 0)")
        if any(b <= a for a, b in zip(times_s, times_s[1:], strict=False)):
            raise InputError(f"{name}: link trace times must increase")
        if any(not math.isfinite(r) or r < 0 for r in mbps) or not any(r > 0 for r in mbps[1:]):
            raise InputError(f"{name}: throughputs must be finite, non-negative, and not all 0")
        self.name = name
        self._times = [float(t) for t in times_s]
        self._mbps = [float(r) for r in mbps]
        self._index = 1  # the segment being used: from point index-1 to point index
        self._clock_s = self._times[0]

    @classmethod
    def from_trace(cls, trace: Trace) -> Link:
        """A link over a trace loaded by `ptcodec.streaming.traces.load_trace` (its start times are the points)."""
        return cls(trace.starts_s, [k / 1000 for k in trace.kbps], name=trace.name or "trace")

    @property
    def clock_s(self) -> float:
        """Where the transfers have brought the trace clock (within one loop)."""
        return self._clock_s

    def transfer_ms(self, nbytes: float) -> float:
        """Milliseconds to fetch `nbytes` (RTT included), advancing the clock past the transfer."""
        if not math.isfinite(nbytes) or nbytes < 0:
            raise InputError(f"{self.name}: cannot transfer {nbytes} bytes")
        sent = 0.0
        elapsed_s = 0.0
        while True:
            rate = self._mbps[self._index] * 1e6 / 8  # bytes/s
            span = self._times[self._index] - self._clock_s
            payload = rate * span * PAYLOAD_SHARE
            if sent + payload > nbytes:
                part = (nbytes - sent) / rate / PAYLOAD_SHARE
                elapsed_s += part
                self._clock_s += part
                return elapsed_s * 1000 + LINK_RTT_MS
            sent += payload
            elapsed_s += span
            self._clock_s = self._times[self._index]
            self._index += 1
            if self._index >= len(self._times):
                self._index, self._clock_s = 1, 0.0

    def download_ms(self, nbytes: float) -> int:
        """`transfer_ms` rounded half up to a whole millisecond, the delay the challenge reports."""
        return math.floor(self.transfer_ms(nbytes) + 0.5)
