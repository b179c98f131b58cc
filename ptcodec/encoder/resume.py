"""Resuming an interrupted encode: everything about it, in one place.

An encode writes `<output>.partial` as it goes (`PartialOutput`): the sequence
header and metadata before the first fit, each keyframe's units right after its
fit, each write made durable. After an interruption (Ctrl-C, SIGTERM, a kill, a
full disk, a crash) `read_partial` finds what the file holds up to its last
complete keyframe, without changing it; `check_resumable` refuses a file from
another input or other options; and the encoder replays the kept units
(`Replay`) instead of fitting their keyframes again. Every choice the encoder
makes depends only on the input frames, the options and the units already
written, so the resumed encode produces the bytes the uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptcodec.container import matroska
from ptcodec.errors import InputError, PtcodecError, PtvError, one_line
from ptcodec.outputs import PARTIAL_SUFFIX, write_error
from ptcodec.ptv import MAGIC, Metadata, PtvReader, PtvWriter, syntax
from ptcodec.ptv.framing import UnitRecord
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, Unit

if TYPE_CHECKING:
    from ptcodec.encoder.encoder import Encoder

Critical = Callable[[], AbstractContextManager[None]]
"""A section no interruption may split (the CLI defers SIGINT and SIGTERM over it)."""


@dataclass
class PartialStream:
    """What an interrupted encode left in a `<path>.partial` file."""

    path: str
    records: list[UnitRecord]
    """The units to keep, sequence header first: everything up to the last complete
    keyframe unit, or the leading units (metadata) when no keyframe is complete yet.
    Empty when the file holds nothing usable: it is cut inside the signature or the
    sequence header (a kill or a full disk before the first write was durable)."""
    is_ptv: bool = True
    """False when the file does not even begin like a .ptv stream."""

    @property
    def header(self) -> SequenceHeader | None:
        return self.records[0].unit if self.records else None  # type: ignore[return-value]

    @property
    def keyframes(self) -> int:
        return sum(isinstance(r.unit, Keyframe) for r in self.records)


def read_partial(path: str | os.PathLike[str]) -> PartialStream:
    """Read the partial file of an interrupted encode of `path`, without changing it.

    Whatever the interruption left at the end (a unit cut off by a kill or a full
    disk, a scene-init unit whose keyframe was never written, a torn sequence
    header) is left out of `records`; the file itself is only changed by a
    `PtvWriter` that continues it.
    """
    partial = os.fspath(path) + PARTIAL_SUFFIX
    try:
        with open(partial, "rb") as f:
            head = f.read(len(syntax.MAGIC))
    except FileNotFoundError:
        raise InputError(f"{partial}: no interrupted encode to resume") from None
    except OSError as error:
        raise InputError(f"{partial}: cannot be read: {one_line(error)}") from None
    if not (syntax.MAGIC.startswith(head) or head.startswith(syntax.MAGIC)):
        return PartialStream(partial, [], is_ptv=False)
    try:
        reader = PtvReader(partial)
    except PtvError:
        return PartialStream(partial, [])  # cut inside the signature or the sequence header
    records: list[UnitRecord] = []
    kept = 1
    started = False
    with reader:
        try:
            for record in reader.units():
                records.append(record)
                started = started or isinstance(record.unit, (SceneInit, Keyframe))
                if isinstance(record.unit, Keyframe) or not started:
                    kept = len(records)
        except PtvError:
            pass  # the tail an interrupted write left behind
    return PartialStream(partial, records[:kept])


class Replay:
    """The scene-init and keyframe units of a partial stream, by frame, for the encoder to
    take instead of fitting; it refuses a partial stream this encode would not have made."""

    def __init__(self, units: Iterable[Unit] = ()) -> None:
        self._units: dict[int, tuple[SceneInit | None, Keyframe]] = {}
        scenes: dict[int, SceneInit] = {}
        for unit in units:
            if isinstance(unit, SceneInit):
                scenes[unit.frame_index] = unit
            elif isinstance(unit, Keyframe):  # a scene-init unit without its keyframe is not kept
                self._units[unit.frame_index] = (scenes.get(unit.frame_index), unit)
        self.up_to = max(self._units, default=-1)
        """The last frame the partial stream decided (-1: nothing to replay)."""

    def keyframes(self) -> list[tuple[int, bool]]:
        """(frame, opens a scene) of every kept keyframe, in order."""
        return [(frame, scene is not None) for frame, (scene, _) in sorted(self._units.items())]

    def at(self, frame: int, opens_scene: bool) -> tuple[SceneInit | None, Keyframe] | None:
        """The kept (scene-init unit or None, keyframe unit) of a keyframe this encode puts at
        `frame`, or None when the partial stream ends before it."""
        kept = self._units.get(frame)
        if kept is None and frame < self.up_to:
            raise PtcodecError(f"the partial stream has no keyframe at frame {frame} where this encode puts one; "
                               "it was made from another input; cannot resume")
        if kept is not None and (kept[0] is not None) != opens_scene:
            raise PtcodecError(f"the partial stream and this encode disagree on whether a scene starts at frame "
                               f"{frame}; it was made from another input; cannot resume")
        return kept


class PartialOutput:
    """The `<output>.partial` stream of one encode.

    It is created (or, to resume, found and opened) before any work; the sequence
    header and metadata are made durable before the first fit, and each keyframe's
    units right after its fit. A refused resume leaves the file exactly as it was.
    """

    def __init__(self, output: str, resume: bool, critical: Critical = contextlib.nullcontext) -> None:
        self.output, self.resume, self.critical = output, resume, critical
        self.path = output + PARTIAL_SUFFIX
        self.matroska = output.lower().endswith(matroska.SUFFIXES)
        self.writer: PtvWriter | None = None
        self.started = False
        """The sequence header and metadata are durable: from here on the file is kept for --resume."""
        self.keyframes_written = 0
        if resume:
            self.found: PartialStream | None = read_partial(output)
            if not self.found.is_ptv:
                raise InputError(f"{self.path}: is not a .ptv stream; cannot resume (delete it to start over)")
            self._touch("r+b")  # writable? (opening it so changes nothing)
        else:
            self.found = None
            held = read_partial(output) if os.path.exists(self.path) else None
            if held is not None and held.keyframes:
                raise InputError(f"{self.path} holds an interrupted encode ({held.keyframes} keyframes); continue "
                                 "it with --resume, or delete it to start over")
            self._create()

    def _touch(self, mode: str) -> None:
        try:
            open(self.path, mode).close()  # noqa: SIM115 - opened only to check
        except OSError as error:
            raise write_error(self.path, error, "cannot open for writing") from None

    def _create(self) -> None:
        """Create the partial file and make its signature durable: an output that cannot
        be written, even a full disk, is refused before any work."""
        try:
            f = open(self.path, "wb")  # noqa: SIM115 - closed below
        except OSError as error:
            raise write_error(self.path, error, "cannot create") from None
        try:
            with f:
                f.write(MAGIC)
                f.flush()
                os.fsync(f.fileno())
        except OSError as error:
            with contextlib.suppress(OSError):
                os.remove(self.path)
            raise write_error(self.path, error) from None

    @property
    def resumed_keyframes(self) -> int:
        return self.found.keyframes if self.found else 0

    @property
    def done(self) -> list:
        """The units kept from the interrupted encode, sequence header first."""
        return [r.unit for r in self.found.records] if self.found else []

    def start(self, encoder: "Encoder") -> None:
        """Refuse a partial file from another input or other options, before changing it;
        then open it and make the sequence header and metadata durable."""
        kept = self.found.records if self.found else []
        if kept:
            check_resumable(self.path, self.done, encoder)
            self.writer = PtvWriter(self.output, encoder.header, keep_partial=True, after=kept)
            if len(kept) == 1:  # cut short after the sequence header
                with self.critical():
                    self.writer.write(encoder.metadata)
                    self.writer.flush()
        else:
            with self.critical():
                self.writer = PtvWriter(self.output, encoder.header, keep_partial=True)
                self.writer.write(encoder.metadata)
                self.writer.flush()
        self.started = True

    def append(self, frame: int, data: bytes) -> None:  # noqa: ARG002 - Encoder.on_units
        """A keyframe's units, on disk before the next fit starts."""
        writer = self._started_writer()
        with self.critical():
            writer.write_packet(data)
            writer.flush()
        self.keyframes_written += 1

    def _started_writer(self) -> PtvWriter:
        assert self.writer is not None, "start() opens the writer before any keyframe is fitted"
        return self.writer

    def finish(self) -> None:
        """Rename the complete stream into place, or mux it into the Matroska output."""
        writer = self._started_writer()
        if not self.matroska:
            with self.critical():
                writer.close()
            return
        with self.critical():
            writer.finish()
        matroska.mux(self.path, self.output)  # atomic itself; if it is interrupted, the complete stream stays
        os.remove(self.path)

    def close(self) -> bool:
        """Stop writing after an interruption or an error, keeping the file; returns whether it exists."""
        if self.writer is not None:
            self.writer.abort()
        return os.path.exists(self.path)

    def discard(self) -> None:
        """After an error before the first fit: a fresh encode leaves no file behind."""
        self.close()
        if not self.resume:
            with contextlib.suppress(OSError):
                os.remove(self.path)


def check_resumable(partial: str, done: list, encoder: "Encoder") -> None:
    """The partial stream must come from this very input and these options."""
    header = done[0]
    if header != encoder.header:
        differs = [f for f in header.__dataclass_fields__ if getattr(header, f) != getattr(encoder.header, f)]
        raise PtcodecError(
            f"{partial} was made from another input or with other options "
            f"(sequence header differs in {', '.join(differs)}); cannot resume"
        )
    if len(done) > 1 and done[1] != encoder.metadata:
        what = "other encoder options" if isinstance(done[1], Metadata) else "another encoder"
        raise PtcodecError(f"{partial} was made with {what}; cannot resume")
