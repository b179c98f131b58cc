"""Scene cuts and the keyframe plan.

A cut is where the generator's own latent of a frame jumps: the encoder
latents of consecutive frames are compared, scaled by their variance, so the
threshold means the same for any generator and picture. A new scene gets its
own scene-init latent, and no frame interpolates across the cut, so nothing of
the old scene shows after it (the Promptus paper: "the previous frame becomes a
keyframe and the new scene starts over").
"""

from __future__ import annotations

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
        if cut or (self.max_length is not None and length >= self.max_length):
            self.start = t
            return True
        return False


def detect_scenes(latents: np.ndarray, threshold: float | None = DEFAULT_THRESHOLD, min_length: int = 2,
                  max_length: int | None = None) -> list[int]:
    """Scene starts (frame indices, the first is 0) of a whole clip."""
    detector = SceneCutDetector(threshold, min_length, max_length)
    return [t for t, latent in enumerate(latents) if detector.push(latent)]


def plan_keyframes(scene_starts: list[int], frame_count: int, interval: int) -> list[int]:
    """Keyframes every `interval` frames from each scene start, plus each scene's
    last frame, so that every frame is interpolated within its own scene."""
    keyframes = []
    ends = scene_starts[1:] + [frame_count]
    for start, end in zip(scene_starts, ends):
        keyframes += list(range(start, end, interval))
        if keyframes[-1] != end - 1:
            keyframes.append(end - 1)
    return keyframes
