"""Lossless import and export of the authors' released prompt files."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptcodec.errors import InputError
from ptcodec.interop.promptus import export_promptus, import_promptus
from ptcodec.ptv import Keyframe, SceneInit, read_all


def write_released_dir(path, frames=(0, 4, 8), rank=3, seed=0):
    """Files shaped exactly as the released code's torch.save calls make them."""
    rng = np.random.default_rng(seed)
    path.mkdir()
    torch.save(torch.from_numpy(rng.standard_normal((1, 4, 8, 8)).astype(np.float32)), path / "init.pth")
    for f in frames:
        torch.save(
            {
                "U": torch.from_numpy(rng.integers(0, 256, (77, rank), dtype=np.uint8)),
                "V": torch.from_numpy(rng.integers(0, 256, (rank, 1024), dtype=np.uint8)),
                "U_scale": torch.tensor(rng.random(), dtype=torch.float32),
                "U_zero_point": torch.tensor(float(rng.integers(0, 256)), dtype=torch.float32),
                "V_scale": torch.tensor(rng.random(), dtype=torch.float32),
                "V_zero_point": torch.tensor(float(rng.integers(0, 256)), dtype=torch.float32),
            },
            path / f"frame_{f:05d}.prompt",
        )
    return path


def assert_same_files(a, b):
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        x = torch.load(a / name, map_location="cpu", weights_only=True)
        y = torch.load(b / name, map_location="cpu", weights_only=True)
        if isinstance(x, dict):
            assert x.keys() == y.keys()
            for key in x:
                assert x[key].dtype == y[key].dtype and x[key].shape == y[key].shape
                assert torch.equal(x[key], y[key]), (name, key)
        else:
            assert x.dtype == y.dtype and torch.equal(x, y), name


def test_synthetic_released_dir_round_trips_exactly(tmp_path):
    src = write_released_dir(tmp_path / "src", frames=(0, 3, 7, 12), rank=3)
    header = import_promptus(src, tmp_path / "x.ptv")
    assert (header.width, header.height, header.frame_count) == (64, 64, 13)
    _, records = read_all(tmp_path / "x.ptv")
    keyframes = [r.unit for r in records if isinstance(r.unit, Keyframe)]
    assert [k.frame_index for k in keyframes] == [0, 3, 7, 12] and {k.rank for k in keyframes} == {3}
    export_promptus(tmp_path / "x.ptv", tmp_path / "out")
    assert_same_files(src, tmp_path / "out")


def test_real_sky_prompts_import_and_export_exactly(tmp_path, sky_dir):
    header = import_promptus(sky_dir, tmp_path / "sky.ptv")
    _, records = read_all(tmp_path / "sky.ptv")
    keyframes = [r.unit for r in records if isinstance(r.unit, Keyframe)]
    scenes = [r.unit for r in records if isinstance(r.unit, SceneInit)]
    assert len(keyframes) == 15 and {k.rank for k in keyframes} == {8}
    assert [k.frame_index for k in keyframes] == list(range(0, 141, 10))
    assert header.frame_count == 141 and len(scenes) == 1
    export_promptus(tmp_path / "sky.ptv", tmp_path / "out")
    assert_same_files(sky_dir, tmp_path / "out")
    # one keyframe: 8,808 bytes of codes + 16 of scales; the pickles spend 11,312
    payload = 15 * (8808 + 16) + 65536
    overhead = (tmp_path / "sky.ptv").stat().st_size - payload
    assert 0 < overhead < 0.01 * payload


def test_a_pickle_that_is_not_a_prompt_is_refused(tmp_path):
    src = write_released_dir(tmp_path / "src")
    torch.save({"U": torch.zeros(3)}, src / "frame_00004.prompt")
    with pytest.raises(InputError, match="frame_00004.prompt: expected a dict"):
        import_promptus(src, tmp_path / "x.ptv")
    assert not (tmp_path / "x.ptv").exists()


def test_a_pickle_that_runs_code_is_never_executed(tmp_path):
    import pickle

    src = write_released_dir(tmp_path / "src")
    marker = tmp_path / "pwned"

    class Evil:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    with open(src / "frame_00004.prompt", "wb") as f:
        pickle.dump(Evil(), f)
    with pytest.raises(InputError, match="not a loadable torch file"):
        import_promptus(src, tmp_path / "x.ptv")
    assert not marker.exists()
