"""Packets: the temporal units of a stream, as a container carries them.

Shaped like PyAV's `av.Packet` (pts, duration, time_base, is_keyframe, bytes)
so that a prompt stream can travel in Matroska like any codec's packets.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ptcodec.ptv.framing import UnitRecord


@dataclass(frozen=True)
class Packet:
    """One temporal unit: an optional scene-init unit, one keyframe, and the
    metadata, padding or reserved units that follow it before the next one."""

    data: bytes = field(repr=False)
    pts: int
    """Frame index of the keyframe, in units of time_base."""
    duration: int
    """Frames until the next keyframe (or the end of the stream)."""
    time_base: Fraction
    is_keyframe: bool
    """True at a random access point: the packet opens a scene."""
    units: tuple[UnitRecord, ...] = field(repr=False, default=())

    @property
    def dts(self) -> int:
        return self.pts

    def __bytes__(self) -> bytes:
        return self.data
