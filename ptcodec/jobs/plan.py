"""The first pass of a transcode: scene cuts, refresh points and the frame count, before any fitting.

Fitting is the cost of this codec, and scenes are its unit of parallelism: no scene depends
on another (a scene's first keyframe starts cold, encoder.Encoder._start), so once the scene
starts are known, every scene can be fitted on its own, in any order, on any machine
(ptcodec/jobs/scenes.py). This pass fixes them. It reads the input once, frame by frame, and
computes only the generator's latent of each frame (what scene cuts are measured on), so
memory stays at one frame whatever the clip's length; it also counts the frames the encode
will see, which the sequence header states before the first unit.

The plan is a pure function of the input, the geometry and the scene options, computed with
the same code as the encoder's own cut detection (encoder.frame_latent, SceneCutDetector),
so a serial encode and a parallel one see the same scenes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np

from ptcodec.encoder.scenes import SceneCutDetector
from ptcodec.errors import InputError
from ptcodec.media import probe
from ptcodec.media.reader import read_frames

if TYPE_CHECKING:
    from ptcodec.generators.base import Generator


@dataclass(frozen=True)
class Source:
    """How the encode reads its input: the file and the options of `read_frames`. Small and
    picklable: this, not the frames, is what reaches a worker."""

    path: str
    box: tuple[int, int]
    """(width, height) the frames are fitted into."""
    crop: str
    multiple: int
    fps: Fraction | None
    start: int = 0
    """Input frames skipped before the encode's frame 0."""

    def frames(self, first: int = 0, count: int | None = None) -> Iterator[np.ndarray]:
        """The encode's frames first .. first+count-1 (all from `first` when count is None), one at a time."""
        return read_frames(self.path, size=self.box, fit=self.crop, multiple=self.multiple, fps=self.fps,
                           start=self.start + first, max_frames=count)


@dataclass(frozen=True)
class ScenePlan:
    """Where each scene starts, and the frames of the encode."""

    frame_count: int
    fps: Fraction
    width: int
    height: int
    scene_starts: tuple[int, ...]
    """The first frame of every scene, 0 first, increasing (cuts and refresh points)."""

    @property
    def scenes(self) -> list[tuple[int, int]]:
        """(first frame, end frame) of every scene, in order."""
        ends = [*self.scene_starts[1:], self.frame_count]
        return list(zip(self.scene_starts, ends, strict=True))


def max_scene_frames(value: str, fps: Fraction) -> int:
    """--max-scene as frames: a whole number of frames ("300"), or a duration in seconds ("10s")."""
    text = value.strip()
    try:
        frames = round(Fraction(text[:-1]) * fps) if text.endswith("s") else int(text)
    except (ValueError, ZeroDivisionError):
        raise InputError(f"--max-scene {value!r}: give frames (300) or seconds (10s)") from None
    if frames < 1:
        raise InputError(f"--max-scene {value!r}: a scene must be at least one frame long")
    return frames


def make_plan(source: Source, generator: "Generator", *, scene_threshold: float | None,
              max_scene_length: int | None, max_frames: int | None = None,
              progress: Callable[[int], None] | None = None) -> ScenePlan:
    """Read `source` once (at most `max_frames` frames) and decide its scenes; `progress(frames)`
    after each frame."""
    from ptcodec.encoder.encoder import frame_latent  # needs torch

    info = probe(source.path)  # refuses a truncated file or no video before the pass
    fps = source.fps if source.fps is not None else info.fps
    detector = SceneCutDetector(scene_threshold, max_length=max_scene_length)
    starts: list[int] = []
    count, shape = 0, (0, 0)
    for image in source.frames(0, max_frames):
        if detector.push(frame_latent(generator, image)):
            starts.append(count)
        count += 1
        shape = image.shape[:2]
        if progress is not None:
            progress(count)
    if not count:
        raise InputError(f"{source.path}: no frames to read (start={source.start}, max_frames={max_frames})")
    return ScenePlan(count, Fraction(fps), shape[1], shape[0], tuple(starts))
