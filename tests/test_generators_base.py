"""--device and --dtype: a device this machine cannot use is one line, before any model loads."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from ptcodec.cli import main
from ptcodec.errors import GeneratorError
from ptcodec.generators import load_generator
from ptcodec.generators.base import torch_device
from ptcodec.ptv import PtvWriter
from tests.conftest import make_header, make_keyframe, tiny_scene

UNAVAILABLE = [
    pytest.param("cuda", "built without CUDA|CUDA device", marks=pytest.mark.skipif(
        torch.cuda.is_available(), reason="this machine has CUDA")),
    pytest.param("cuda:1", "built without CUDA|CUDA device", marks=pytest.mark.skipif(
        torch.cuda.device_count() > 1, reason="this machine has two CUDA devices")),
    pytest.param("mps", "MPS", marks=pytest.mark.skipif(
        torch.backends.mps.is_available(), reason="this machine has MPS")),
]
NOT_DEVICES = [("gpu", "not a device name"), ("cuda:x", "not a device name"), ("", "not a device name"),
               ("CPU", "not a device name"), ("meta", "run on cpu, cuda or mps")]


@pytest.fixture
def no_model_loads(monkeypatch):
    """Loading any model fails the test: the device must be refused first."""
    from ptcodec.generators.reference import ReferenceGenerator
    from ptcodec.generators.sd_turbo import SDTurboGenerator

    def refuse(*args, **kwargs):
        raise AssertionError("a model was loaded before the device was checked")

    monkeypatch.setattr(ReferenceGenerator, "load", classmethod(refuse))
    monkeypatch.setattr(SDTurboGenerator, "load", classmethod(refuse))


@pytest.fixture
def stream(tmp_path):
    header = make_header(width=64, height=64, tokens=77, embed_dim=1024, frame_count=3)
    path = tmp_path / "s.ptv"
    with PtvWriter(path, header) as writer:
        writer.write(tiny_scene(header))
        writer.write(make_keyframe(header, 0))
    return path


@pytest.mark.parametrize("device, why", UNAVAILABLE + NOT_DEVICES)
def test_a_device_that_cannot_work_is_refused_before_any_model_loads(device, why, no_model_loads):
    for generator in ("reference", "sd-turbo"):
        with pytest.raises(GeneratorError, match=why) as info:
            load_generator(generator, device=device, dtype="fp32")
        assert "\n" not in str(info.value)


@pytest.mark.parametrize("device, why", UNAVAILABLE + NOT_DEVICES[:2])
def test_decode_prints_one_line_for_a_device_that_cannot_work(stream, tmp_path, capsys, device, why,
                                                              no_model_loads):
    status = main(["decode", str(stream), str(tmp_path / "out.y4m"), "--device", device, "--quiet"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and err.startswith("ptcodec: error: "), err
    assert f"device '{device}'" in err and "Traceback" not in err
    assert not (tmp_path / "out.y4m").exists()


@pytest.mark.parametrize("device", ["gpu", "cuda"])
def test_transcode_prints_one_line_for_a_device_that_cannot_work(tmp_path, capsys, device, no_model_loads):
    if device == "cuda" and torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    from ptcodec.media import write_video

    clip = tmp_path / "clip.mkv"
    write_video(clip, np.full((2, 64, 64, 3), 100, np.uint8), Fraction(30), codec="ffv1")
    status = main(["transcode", str(clip), str(tmp_path / "out.ptv"), "--generator", "sd-turbo",
                   "--device", device, "--quiet"])
    err = capsys.readouterr().err
    assert status == 1 and err.count("\n") == 1 and f"device '{device}'" in err, err
    assert list(tmp_path.glob("out.ptv*")) == []


def test_cpu_half_types_are_accepted_and_fp16_warns_that_it_is_slow(recwarn):
    """fp16 and bf16 both compute correctly on the CPU with torch 2.x; fp16 is emulated
    on most CPUs (about 100 times slower), so it is allowed with a warning."""
    assert torch_device("cpu") == torch.device("cpu")
    for dtype in ("fp32", "bf16"):
        assert load_generator("reference", device="cpu", dtype=dtype).id == "reference"
    assert not [w for w in recwarn if "fp16" in str(w.message)]
    with pytest.warns(RuntimeWarning, match="fp16 on the CPU .* use bf16 or fp32"):
        assert load_generator("reference", device="cpu", dtype="fp16").id == "reference"


def test_an_unknown_dtype_is_one_line():
    from ptcodec.generators.sd_turbo import SDTurboGenerator

    with pytest.raises(GeneratorError, match="dtype 'fp8' is not one of fp32, fp16, bf16"):
        SDTurboGenerator.load(dtype="fp8")
