"""The decoding process up to the conditioning tensor c (spec/ptv.md, "Decoding process").

Everything here is bit-exact by construction: each operation is one IEEE-754
binary32 operation, rounded to nearest, applied element-wise in a fixed order
(no fused multiply-add, no BLAS reductions). NumPy's element-wise ufuncs do
exactly that, so any machine reproduces these arrays bit for bit.

For each frame t the process needs: which keyframes bracket it, the weight
between them, and whose generated latent feeds its noise (the previous-latent
rule). `plan_frames` works that out from the keyframe and scene positions alone,
frame by frame (`FramePlanner`: one temporal unit at a time, as units arrive).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from ptcodec.ptv.syntax import InterpRule, PrevLatentRule


@dataclass(frozen=True)
class FramePlan:
    frame: int
    scene: int
    """Index of the scene (0-based) the frame belongs to."""
    left: int
    """Frame index of the keyframe at or before this frame, in the same scene."""
    right: int | None
    """The next keyframe of the same scene when the frame lies strictly between two."""
    prev_source: int | None
    """Frame whose generated latent is Z_prev; None means the scene-init latent."""

    @property
    def is_keyframe(self) -> bool:
        return self.frame == self.left


class FramePlanner:
    """Frame plans from keyframe positions given in stream order, one temporal unit at a time.

    The frames of keyframe a's temporal unit (a up to the next keyframe, spec 11.1)
    are known once the next keyframe, or the end of the stream, is: `keyframe`
    returns the plans of the previous keyframe's unit, `finish` those of the last.
    Each returns an iterator over a range of frames, so nothing here grows with
    the number of frames (a stream of 2^24 frames and one keyframe included).
    """

    def __init__(self, frame_count: int, prev_latent_rule: int) -> None:
        self.frame_count = frame_count
        self.prev_latent_rule = prev_latent_rule
        self._before: int | None = None
        """The keyframe before the current one (the source of a keyframe's noise under rule 0)."""
        self._current: tuple[int, bool] | None = None
        """(frame index, opens a scene) of the last keyframe given."""
        self._scene = -1

    def keyframe(self, frame_index: int, opens_scene: bool) -> Iterator[FramePlan]:
        """The plans of the frames before `frame_index` that the previous keyframe's unit holds."""
        plans = self._unit(frame_index, opens_scene)
        if self._current is not None:
            self._before = self._current[0]
        self._current = (frame_index, opens_scene)
        self._scene += opens_scene
        return plans

    def finish(self) -> Iterator[FramePlan]:
        """The plans of the last temporal unit: up to frame_count, or the last keyframe alone when it is 0."""
        plans = self._unit(None, False)
        self._before = self._current = None
        return plans

    def _unit(self, nxt: int | None, nxt_opens_scene: bool) -> Iterator[FramePlan]:
        if self._current is None:
            return iter(())
        left, opens_scene = self._current
        count = self.frame_count
        end = (min(nxt, count) if count else nxt) if nxt is not None else (count or left + 1)
        # A frame lies between `left` and the next keyframe only within one scene and within the stream.
        right = nxt if nxt is not None and not nxt_opens_scene and not (count and nxt >= count) else None
        return _unit_plans(left, right, end, opens_scene, self._before, self._scene, self.prev_latent_rule)


def _unit_plans(left: int, right: int | None, end: int, opens_scene: bool, before: int | None, scene: int,
                prev_latent_rule: int) -> Iterator[FramePlan]:
    """Plans of frames left .. end-1, which all have `left` as their left keyframe."""
    for t in range(left, end):
        if t == left and opens_scene:
            prev_source = None
        elif prev_latent_rule == PrevLatentRule.PREVIOUS_FRAME:
            prev_source = t - 1
        else:  # SEGMENT_START: the latest keyframe strictly before t
            prev_source = left if left < t else before
        yield FramePlan(t, scene, left, right if t != left else None, prev_source)


def plan_frames(
    scene_starts: Iterable[int], keyframes: Iterable[int], frame_count: int, prev_latent_rule: int
) -> Iterator[FramePlan]:
    """One plan per frame 0..frame_count-1 (frame_count 0: up to the last keyframe), in order, lazily.

    Frames after the last keyframe of a scene hold it; a frame between two
    keyframes of the same scene interpolates between them. `keyframes` in
    increasing order; every scene start is a keyframe (spec 3.2).
    """
    starts = set(scene_starts)
    planner = FramePlanner(frame_count, prev_latent_rule)
    for frame in keyframes:
        yield from planner.keyframe(frame, frame in starts)
    yield from planner.finish()


def sqrt_rank(rank: int) -> np.float32:
    """The binary32 value nearest to sqrt(rank)."""
    return np.float32(np.sqrt(np.float32(rank)))


def compose(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """c = (sum over k of u[:, k] v[k, :]) / sqrt(r), summed in order k = 0, 1, ..., r-1."""
    acc = u[:, 0:1] * v[0:1, :]
    for k in range(1, u.shape[1]):
        acc = acc + u[:, k : k + 1] * v[k : k + 1, :]
    return (acc / sqrt_rank(u.shape[1])).astype(np.float32)


def interpolation_weight(t: int, left: int, right: int) -> np.float32:
    """w = binary32(t - left) / binary32(right - left)."""
    return np.float32(t - left) / np.float32(right - left)


def lerp(a: np.ndarray, b: np.ndarray, w: np.float32) -> np.ndarray:
    """(1 - w) * a + w * b, three rounded binary32 operations per element."""
    return (np.float32(1) - w) * a + w * b


def frame_conditioning(
    plan: FramePlan, factors: dict[int, tuple[np.ndarray, np.ndarray]], interp_rule: int
) -> np.ndarray:
    """c for one frame, float32 (m, n). `factors` maps keyframe index to dequantized (u, v)."""
    u_a, v_a = factors[plan.left]
    if plan.right is None or interp_rule == InterpRule.HOLD:
        return compose(u_a, v_a)
    u_b, v_b = factors[plan.right]
    w = interpolation_weight(plan.frame, plan.left, plan.right)
    if u_a.shape == u_b.shape:
        return compose(lerp(u_a, u_b, w), lerp(v_a, v_b, w))
    # The rank changes at the right keyframe: interpolate the composed prompts.
    return lerp(compose(u_a, v_a), compose(u_b, v_b), w)
