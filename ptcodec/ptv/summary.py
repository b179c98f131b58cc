"""What `ptcodec info` reports about a stream: counts, rates and where the bytes go."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from ptcodec.ptv.framing import UnitRecord
from ptcodec.ptv.syntax import MAGIC, PER_TENSOR_SCHEMES
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, unit_name


def essential_bytes(unit: object) -> int:
    """Bytes of coded content proper: factor codes, their scales and zero points,
    and latent samples. Everything else in a file is syntax overhead."""
    if isinstance(unit, Keyframe):
        scales = 16 if unit.quant_scheme in PER_TENSOR_SCHEMES else 10 * unit.rank
        return content_bytes(unit)[1] + scales
    if isinstance(unit, SceneInit):
        return len(unit.data)
    return 0


def content_bytes(unit: object) -> tuple[int, int]:
    """(before coding, as stored) of a unit's content: a keyframe's factor codes, m*r + r*n
    bytes raw, against its coded_factors; a scene init's latent as float32 against its data.
    (0, 0) for units without such content."""
    if isinstance(unit, Keyframe):
        raw = len(unit.u) + len(unit.v)
        return raw, len(unit.coded_factors) if unit.coded else raw
    if isinstance(unit, SceneInit):
        return 4 * unit.channels * unit.height * unit.width, len(unit.data)
    return 0, 0


@dataclass
class KindBytes:
    """The bytes of one unit kind: whole units, and their content before and after coding."""

    units: int = 0
    total: int = 0
    raw_content: int = 0
    stored_content: int = 0


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
    by_kind: dict[str, KindBytes] = field(default_factory=dict)
    """Per unit kind (sequence_header, scene_init, keyframe...), in order of first appearance."""

    def add(self, record: UnitRecord, frame: int) -> None:
        """Count one unit; `frame` is the frame its bytes are charged to."""
        unit = record.unit
        self.units += 1
        self.total_bytes += record.size
        self.essential_bytes += essential_bytes(unit)
        kind = self.by_kind.setdefault(unit_name(record.unit_type), KindBytes())
        raw, stored = content_bytes(unit)
        kind.units += 1
        kind.total += record.size
        kind.raw_content += raw
        kind.stored_content += stored
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
