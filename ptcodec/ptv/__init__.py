"""The `.ptv` container: syntax, units, rules, reader and writer (no torch here)."""

from ptcodec.ptv.framing import UnitRecord, build_unit
from ptcodec.ptv.levels import LEVELS, Level, smallest_level
from ptcodec.ptv.packet import Packet
from ptcodec.ptv.reader import IndexEntry, PtvReader, read_all
from ptcodec.ptv.syntax import (
    MAGIC,
    InterpRule,
    LatentDtype,
    NoiseRule,
    PrevLatentRule,
    QuantScheme,
    UnitType,
)
from ptcodec.ptv.units import (
    Keyframe,
    Metadata,
    Padding,
    ReservedUnit,
    SceneInit,
    SequenceHeader,
    Unit,
)
from ptcodec.ptv.writer import PtvWriter, serialize

__all__ = [
    "LEVELS",
    "MAGIC",
    "IndexEntry",
    "InterpRule",
    "Keyframe",
    "LatentDtype",
    "Level",
    "Metadata",
    "NoiseRule",
    "Packet",
    "Padding",
    "PrevLatentRule",
    "PtvReader",
    "PtvWriter",
    "QuantScheme",
    "ReservedUnit",
    "SceneInit",
    "SequenceHeader",
    "Unit",
    "UnitRecord",
    "UnitType",
    "build_unit",
    "read_all",
    "serialize",
    "smallest_level",
]
