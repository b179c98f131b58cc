"""What `ptcodec info` reports about a stream: counts, rates and where the bytes go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ptcodec.ptv.framing import UnitRecord
from ptcodec.ptv.syntax import MAGIC, QuantScheme
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader


def essential_bytes(unit: object) -> int:
    """Bytes of coded content proper: factor codes, their scales and zero points,
    and latent samples. Everything else in a file is syntax overhead."""
    if isinstance(unit, Keyframe):
        scales = 16 if unit.quant_scheme == QuantScheme.PER_TENSOR else 10 * unit.rank
        return len(unit.u) + len(unit.v) + scales
    if isinstance(unit, SceneInit):
        return len(unit.data)
    return 0


@dataclass
class StreamSummary:
    header: SequenceHeader
    units: int = 0
    total_bytes: int = len(MAGIC)
    essential_bytes: int = 0
    scene_starts: list[int] = field(default_factory=list)
    keyframes: list[int] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    schemes: set[int] = field(default_factory=set)
    bytes_per_second: dict[int, int] = field(default_factory=dict)

    def add(self, record: UnitRecord, frame: int) -> None:
        """Count one unit; `frame` is the frame its bytes are charged to."""
        unit = record.unit
        self.units += 1
        self.total_bytes += record.size
        self.essential_bytes += essential_bytes(unit)
        if isinstance(unit, SceneInit):
            self.scene_starts.append(unit.frame_index)
        elif isinstance(unit, Keyframe):
            self.keyframes.append(unit.frame_index)
            self.ranks.append(unit.rank)
            self.schemes.add(unit.quant_scheme)
        second = int(frame * self.header.time_base)
        self.bytes_per_second[second] = self.bytes_per_second.get(second, 0) + record.size

    @property
    def frames(self) -> int:
        if self.header.frame_count:
            return self.header.frame_count
        return self.keyframes[-1] + 1 if self.keyframes else 0

    @property
    def duration(self) -> float:
        return float(self.frames * self.header.time_base)

    @property
    def overhead_bytes(self) -> int:
        return self.total_bytes - self.essential_bytes

    @property
    def bitrate(self) -> float:
        """Bits per second over the whole stream."""
        return 8 * self.total_bytes / self.duration if self.duration else 0.0


def summarize(header: SequenceHeader, records: Iterable[UnitRecord]) -> StreamSummary:
    summary = StreamSummary(header)
    frame = 0
    for record in records:
        frame = getattr(record.unit, "frame_index", frame)
        summary.add(record, frame)
    return summary
