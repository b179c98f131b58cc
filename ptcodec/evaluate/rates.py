"""Rate accounting of a `.ptv` stream: the three rates an honest comparison needs.

A short clip's rate is dominated by one-time costs (the 64 KiB scene-init latent
of a 512x512 clip alone is 175 kbit/s over 4.7 s), while the Promptus paper counts
keyframe payload only. So three figures are reported, and every table says which:

- total: every byte of the file (signature included) over the clip's duration;
- steady: the repeating part. Each keyframe after the first pays for the
  interval that ends at it, so the bytes of the units after the first keyframe,
  up to and including the last one, scene-init units excepted (framing
  included), over the time from the first keyframe to the last. One-time costs
  (signature, sequence header, scene inits, the first keyframe) are left out;
- keyframe: the same span, counting keyframe payload bytes only (the unit's
  payload: frame index, rank, scheme, quantization parameters and the factors;
  no unit header, size field or CRC): the paper's count.

A stream with a single keyframe has no span; its steady and keyframe rates then
count all its non-scene-init (resp. keyframe payload) bytes over the whole clip.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ptcodec.ptv import syntax
from ptcodec.ptv.framing import UnitRecord
from ptcodec.ptv.reader import PtvReader, Source
from ptcodec.ptv.summary import summarize
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, parse_params, run_construct


@dataclass(frozen=True)
class StreamRates:
    """The rates of one stream, in kbit/s (1000 bit/s), and what they were counted from."""

    total_kbps: float
    steady_kbps: float
    keyframe_kbps: float
    bytes: int
    """Bytes of the whole file."""
    frames: int
    duration_s: float
    steady_span_s: float
    """Seconds from the first keyframe to the last (0 with one keyframe: see the module doc)."""
    per_second_kbps: tuple[float, ...]
    """kbit/s in each second of the clip; a unit's bytes are charged to the second of its frame, and a
    last partial second is divided by its own length."""

    def as_dict(self) -> dict[str, float]:
        """The `kbps` object of a results point."""
        return {"total": self.total_kbps, "steady": self.steady_kbps, "keyframe": self.keyframe_kbps}


def payload_size(record: UnitRecord, header: SequenceHeader) -> int:
    """The payload_size field of a unit: its bytes without unit header, size field and CRC."""
    raw = run_construct(syntax.UNIT.parse, record.data, **parse_params(header))
    return int(raw.body.value.payload_size)


def kbps(byte_count: int, seconds: float) -> float:
    return 8 * byte_count / seconds / 1000 if seconds > 0 else 0.0


def rates_of(header: SequenceHeader, records: Sequence[UnitRecord]) -> StreamRates:
    """The rates of a parsed stream (`records` from `PtvReader.units()`, sequence header first)."""
    summary = summarize(header, records)
    duration = summary.duration
    keyframes = [i for i, r in enumerate(records) if isinstance(r.unit, Keyframe)]
    span = 0.0
    span_units: Sequence[UnitRecord] = records[1:]  # after the sequence header
    if len(keyframes) >= 2:
        first, last = records[keyframes[0]], records[keyframes[-1]]
        span = float((last.unit.frame_index - first.unit.frame_index) * header.time_base)  # type: ignore[union-attr]
        span_units = records[keyframes[0] + 1 : keyframes[-1] + 1]
    seconds = span if span > 0 else duration
    steady_bytes = sum(r.size for r in span_units if not isinstance(r.unit, SceneInit))
    keyframe_bytes = sum(payload_size(r, header) for r in span_units if isinstance(r.unit, Keyframe))
    per_second_bytes = dict(summary.bytes_per_second)
    per_second_bytes[0] = per_second_bytes.get(0, 0) + len(syntax.MAGIC)  # the signature, so that they sum to the file
    n_seconds = max(max(per_second_bytes) + 1, math.ceil(duration))
    per_second = tuple(
        kbps(per_second_bytes.get(s, 0), min(1.0, duration - s) if duration > s else 1.0) for s in range(n_seconds)
    )
    return StreamRates(
        total_kbps=kbps(summary.total_bytes, duration),
        steady_kbps=kbps(steady_bytes, seconds),
        keyframe_kbps=kbps(keyframe_bytes, seconds),
        bytes=summary.total_bytes,
        frames=summary.frames,
        duration_s=duration,
        steady_span_s=span,
        per_second_kbps=per_second,
    )


def stream_rates(source: Source) -> StreamRates:
    """The rates of a `.ptv` file (path, bytes or binary file object), every unit checked as it is read."""
    with PtvReader(source) as reader:
        return rates_of(reader.header, list(reader.units()))
