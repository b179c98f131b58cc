"""The pixel-codec baselines of `ptcodec evaluate`: round trips, rate control and VMAF.

A clip is 64x64: smooth moving colour patterns plus mild noise, so that every encoder has
something to spend bits on and its PSNR says whether the colour path is right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ptcodec.errors import InputError, PtcodecError
from ptcodec.evaluate.check_tools import available
from ptcodec.evaluate.codecs import CODECS, encode_at_rate, make_codec
from ptcodec.evaluate.codecs.base import Encoded, finish
from ptcodec.evaluate.codecs.colour import from_yuv, to_yuv
from ptcodec.evaluate.codecs.libaom import Libaom
from ptcodec.metrics import psnr

FPS = Fraction(25)
TOOLS = available()


def clip(frames: int = 10, size: int = 64, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    out = []
    for t in range(frames):
        r = 128 + 80 * np.sin((x + 2 * t) / 6.0) * np.cos(y / 9.0)
        g = 100 + 1.5 * x + 20 * np.sin((x - y + 3 * t) / 4.0)
        b = 60 + 1.8 * y + 30 * np.cos((x + y - t) / 5.0)
        picture = np.stack([r, g, b], -1) + rng.normal(0, 6, (size, size, 3))
        out.append(np.clip(np.rint(picture), 0, 255).astype(np.uint8))
    return np.stack(out)


def needs(name: str) -> None:
    ok, reason = TOOLS[name]
    if not ok:
        pytest.skip(f"{name} unavailable: {reason}")


def test_colour_round_trip_is_close_and_bt709():
    """RGB -> YUV 4:2:0 -> RGB with the same matrix both ways loses only rounding where chroma is flat
    (the middles of 16x16 blocks of random colours; chroma filtering blurs their edges), and the
    matrix is BT.709 limited range: pure red's luma is 16 + 219 * 0.2126 (BT.601: 16 + 219 * 0.299)."""
    blocks = np.random.default_rng(2).integers(16, 240, (4, 4, 3), dtype=np.uint8)
    flat = np.kron(blocks, np.ones((16, 16, 1), np.uint8))
    error = np.abs(from_yuv(to_yuv(flat)).astype(int) - flat).reshape(4, 16, 4, 16, 3)[:, 4:12, :, 4:12]
    assert error.max() <= 3
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    luma = to_yuv(red).to_ndarray()[:16]
    assert np.all(np.abs(luma.astype(int) - round(16 + 219 * 0.2126)) <= 1)


@pytest.mark.parametrize("name", sorted(CODECS))
def test_round_trip(name, tmp_path):
    """Every adapter codes a 10-frame clip at a rate and gives back as many frames, the same shape, close to the input."""
    needs(name)
    frames = clip()
    codec = make_codec(name)
    encoded = codec.encode(frames, FPS, kbps=300, workdir=tmp_path)
    decoded = codec.decode(encoded)
    assert decoded.shape == frames.shape and decoded.dtype == np.uint8
    assert psnr(decoded, frames) > 25
    assert encoded.bytes == encoded.path.stat().st_size
    assert encoded.path.parent == tmp_path
    assert math.isclose(encoded.kbps, encoded.bytes * 8 / 1000 / (10 / 25))
    for key in ("encoder", "encoder_version", "library", "preset", "keyint", "pix_fmt", "colour", "rate_mode", "passes"):
        assert key in encoded.settings, key
    assert "unknown" not in encoded.settings["encoder_version"]
    # A parameter (CRF or QP) instead of a rate: a lower quality setting gives fewer bytes.
    fine = codec.encode(frames, FPS, param=22, workdir=tmp_path / "fine")
    coarse = codec.encode(frames, FPS, param=40, workdir=tmp_path / "coarse")
    assert coarse.bytes < fine.bytes
    assert len(codec.decode(coarse)) == 10


def test_decode_asserts_the_frame_count(tmp_path):
    needs("x264")
    codec = make_codec("x264")
    encoded = codec.encode(clip(), FPS, param=30, workdir=tmp_path)
    with pytest.raises(PtcodecError, match="decoded 10 frames, encoded 11"):
        codec.decode(replace(encoded, frames=11))


@pytest.mark.parametrize("frames", [np.zeros((2, 63, 64, 3), np.uint8), np.zeros((2, 64, 64), np.uint8),
                                    np.zeros((2, 64, 64, 3), np.float32)])  # fmt: skip
def test_unusable_frames_are_an_input_error(frames, tmp_path):
    with pytest.raises(InputError):
        make_codec("x264").encode(frames, FPS, param=30, workdir=tmp_path)


def test_rate_and_param_are_exclusive(tmp_path):
    with pytest.raises(InputError, match="exactly one"):
        make_codec("x265").encode(clip(), FPS, kbps=100, param=30, workdir=tmp_path)
    with pytest.raises(InputError, match="unknown pixel codec"):
        make_codec("mpeg2")


def test_ffmpeg_failure_is_one_line(tmp_path):
    """A bad encoder setting comes back as one PtcodecError line carrying FFmpeg's own complaint."""
    needs("libaom")
    with pytest.raises(PtcodecError) as caught:
        Libaom(cpu_used=99).encode(clip(2), FPS, param=30, workdir=tmp_path)
    message = str(caught.value)
    assert message.startswith("libaom: ffmpeg failed: ") and "\n" not in message
    assert "exit code" not in message and "Conversion failed" not in message
    assert not (tmp_path / "input.yuv").exists()


@dataclass
class FakeCodec:
    """An encoder whose achieved rate is a known nonlinear function of the request: 20 + 12 r^0.6 kbit/s.

    Plain proportional correction (request * target / achieved) shrinks this encoder's log error
    only by a factor 0.4 per try, so from 300 kbit/s it is still 2.6% off after 4 tries."""

    name: str = "fake"
    calls: int = 0

    @staticmethod
    def achieved(requested: float) -> float:
        return 20 + 12 * requested**0.6

    def encode(self, frames, fps, *, kbps=None, param=None, workdir: Path) -> Encoded:
        self.calls += 1
        seconds = len(frames) / fps
        path = Path(workdir) / "fake.bin"
        path.write_bytes(bytes(round(self.achieved(kbps) * 1000 / 8 * float(seconds))))
        return finish(path, len(frames), fps, {"encoder": "fake"}, kbps=kbps, param=param)

    def decode(self, encoded: Encoded) -> np.ndarray:
        raise NotImplementedError


@pytest.mark.parametrize("target", [60.0, 300.0, 1000.0])
def test_rate_control_converges_on_a_nonlinear_encoder(target, tmp_path):
    codec = FakeCodec()
    frames = np.zeros((50, 2, 2, 3), np.uint8)  # 2 s at 25 fps
    encoded = encode_at_rate(codec, frames, FPS, target, tmp_path)
    record = encoded.settings["rate_control"]
    assert abs(encoded.kbps / target - 1) <= 0.02 and record["within_tolerance"]
    assert codec.calls == len(record["tries"]) <= 4
    assert record["tries"][0]["requested_kbps"] == target
    assert [t["achieved_kbps"] for t in record["tries"]][record["chosen_try"]] == encoded.kbps
    # Only the chosen try's files are kept.
    assert encoded.path.is_file() and sorted(p.name for p in tmp_path.iterdir()) == [encoded.path.parent.name]


def test_rate_control_returns_the_closest_when_the_encoder_is_stuck(tmp_path):
    """An encoder at its ceiling cannot reach the target: all tries are made and the result says so."""

    class Stuck(FakeCodec):
        @staticmethod
        def achieved(requested: float) -> float:
            return 100.0

    codec = Stuck()
    encoded = encode_at_rate(codec, np.zeros((25, 2, 2, 3), np.uint8), FPS, 200.0, tmp_path, tries=3)
    record = encoded.settings["rate_control"]
    assert codec.calls == 3 and not record["within_tolerance"] and math.isclose(record["error"], -0.5, abs_tol=1e-3)


@pytest.mark.parametrize("target", [150.0, 450.0])
def test_rate_control_lands_on_x265(target, tmp_path):
    """x265 two-pass at 64x64 over 30 frames (1.2 s; 10 frames give too coarse a response to aim at)."""
    needs("x265")
    encoded = encode_at_rate(make_codec("x265"), clip(30), FPS, target, tmp_path)
    assert abs(encoded.kbps / target - 1) <= 0.02, encoded.settings["rate_control"]


def test_vmaf_is_high_for_the_same_clip_and_lower_for_a_degraded_one(tmp_path):
    needs("vmaf")
    from ptcodec.evaluate.vmaf import vmaf

    frames = clip()
    same = vmaf(frames, frames, tmp_path)
    assert len(same.per_frame) == 10 and same.mean > 95
    assert "libvmaf" in same.implementation and "vmaf_v0.6.1" in same.implementation
    noisy = np.clip(frames + np.random.default_rng(1).normal(0, 20, frames.shape), 0, 255).astype(np.uint8)
    worse = vmaf(frames, noisy, tmp_path)
    assert worse.mean < same.mean - 10 and all(w < s for w, s in zip(worse.per_frame, same.per_frame, strict=True))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vmaf.json"]
    with pytest.raises(InputError, match="same shape"):
        vmaf(frames, frames[:9], tmp_path)


def test_check_lists_every_tool_with_a_reason():
    assert set(TOOLS) == {"x264", "x265", "svtav1", "vvenc", "libaom", "vmaf"}
    for name, (ok, reason) in TOOLS.items():
        assert isinstance(ok, bool) and reason and "\n" not in reason, name
