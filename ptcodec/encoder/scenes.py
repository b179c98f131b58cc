"""Scene cuts and the keyframe plan.

A cut is where the generator's own latent of a frame jumps: the encoder
latents of consecutive frames are compared, scaled by their variance, so the
threshold means the same for any generator and picture. A new scene gets its
own scene-init latent, and no frame interpolates across the cut, so nothing of
the old scene shows after it (the Promptus paper: "the previous frame becomes a
keyframe and the new scene starts over").
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

DEFAULT_THRESHOLD = 0.5


def latent_distances(latents: np.ndarray) -> np.ndarray:
    """d[t] = mean((L_t - L_{t-1})^2) / mean(var L_t, var L_{t-1}); d[0] = 0.

    Two unrelated pictures give about 2 and more (their difference has the sum
    of their variances); consecutive frames of one shot give a few hundredths.
    """
    flat = latents.reshape(len(latents), -1).astype(np.float64)
    d = np.zeros(len(flat))
    if len(flat) > 1:
        diff = ((flat[1:] - flat[:-1]) ** 2).mean(1)
        var = flat.var(1)
        d[1:] = diff / np.maximum((var[1:] + var[:-1]) / 2, 1e-12)
    return d


def next_refresh(start: int, max_length: int | None) -> int | None:
    """The frame where a scene that starts at `start` is refreshed: a new scene-init unit (a random
    access point) `max_length` frames on, unless a cut comes first; None when scenes have no limit."""
    return None if max_length is None else start + max_length


class SceneCutDetector:
    """Decides, frame by frame, where scenes start (the encoder works as frames arrive).

    A frame starts a scene when it is the first, when its latent distance to the
    previous frame exceeds `threshold` (at least `min_length` frames into the
    scene), or when the scene has reached `max_length` frames (a refresh point:
    a new scene-init unit, so that decoding can start there)."""

    def __init__(self, threshold: float | None = DEFAULT_THRESHOLD, min_length: int = 2,
                 max_length: int | None = None) -> None:
        self.threshold, self.min_length, self.max_length = threshold, min_length, max_length
        self.previous: np.ndarray | None = None
        self.start = 0
        self.frame = -1

    def push(self, latent: np.ndarray) -> bool:
        """True when this frame starts a scene."""
        self.frame += 1
        t, previous, self.previous = self.frame, self.previous, latent
        if previous is None:
            return True
        length = t - self.start
        cut = self.threshold is not None and length >= self.min_length and (
            latent_distances(np.stack([previous, latent]))[1] > self.threshold)
        if cut or t == next_refresh(self.start, self.max_length):
            self.start = t
            return True
        return False


class PlannedScenes:
    """The scene starts of a plan made beforehand (ptcodec/jobs/plan.py), with the interface of
    `SceneCutDetector`, for an encoder that starts at frame `first` (a scene start of the plan)."""

    def __init__(self, starts: Iterable[int], first: int = 0) -> None:
        self.starts = frozenset(starts)
        self.frame = first - 1

    def push(self, latent: np.ndarray) -> bool:  # noqa: ARG002 - SceneCutDetector.push
        """True when this frame starts a scene."""
        self.frame += 1
        return self.frame in self.starts or self.frame == 0


def detect_scenes(latents: np.ndarray, threshold: float | None = DEFAULT_THRESHOLD, min_length: int = 2,
                  max_length: int | None = None) -> list[int]:
    """Scene starts (frame indices, the first is 0) of a whole clip."""
    detector = SceneCutDetector(threshold, min_length, max_length)
    return [t for t, latent in enumerate(latents) if detector.push(latent)]


class KeyframePlanner:
    """The keyframe rule, decided frame by frame as frames arrive: a keyframe at each scene's
    first frame and every `interval` frames from it, on the last frame of a scene (the frame
    before a cut), and on the stream's last frame, so that every frame is interpolated within
    its own scene."""

    def __init__(self, interval: int) -> None:
        self.interval = interval
        self.start = 0
        self.last: int | None = None
        """The last keyframe decided."""

    def frame(self, t: int, opens_scene: bool) -> list[tuple[int, bool]]:
        """The keyframes that frame t decides, as (frame index, opens a scene), in order."""
        keys = []
        if opens_scene and t > 0 and self.last != t - 1:
            keys.append((t - 1, False))  # a scene ends on a keyframe
        if opens_scene:
            self.start = t
            keys.append((t, True))
        elif (t - self.start) % self.interval == 0:
            keys.append((t, False))
        if keys:
            self.last = keys[-1][0]
        return keys

    def finish(self, frames: int) -> list[tuple[int, bool]]:
        """The keyframe on the last of `frames` frames, unless it is one already."""
        if not frames or self.last == frames - 1:
            return []
        self.last = frames - 1
        return [(frames - 1, False)]


def plan_keyframes(scene_starts: list[int], frame_count: int, interval: int) -> list[int]:
    """The keyframes of frames scene_starts[0] .. frame_count-1 with these scene starts, by
    `KeyframePlanner` (a first start after 0 plans the rest of a clip: the frame before it is
    taken as decided). The planner is asked only about the frames where its rule can act (each
    scene's start and every `interval` frames from it): one step per keyframe, not per frame."""
    starts = sorted(set(scene_starts))
    planner = KeyframePlanner(interval)
    if starts and starts[0] > 0:
        planner.last = starts[0] - 1
    keyframes = []
    for start, end in zip(starts, [*starts[1:], frame_count], strict=True):
        for t in range(start, end, interval):
            keyframes += [k for k, _ in planner.frame(t, t == start)]
    return keyframes + [k for k, _ in planner.finish(frame_count)]
