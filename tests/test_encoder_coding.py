"""The encoder's bitstream 1.1 tools (--coding 1.1, --latent-bits, --factor-bits, --rdoq) on the
reference generator: what they write, that the closed loop still decodes what it wrote, and that
they take fewer bytes than 1.0 for the same frames."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
import torch

from ptcodec.decoder import DecodedFrame
from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.encoder.options import describe
from ptcodec.encoder.rdoq import rdoq_keyframe
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.errors import PtcodecError
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.jobs.decode import decode_file
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media import write_video
from ptcodec.process.quant import dequantize_keyframe, quantize_keyframe
from ptcodec.ptv import Keyframe, LatentDtype, PtvReader, QuantScheme, SceneInit, serialize
from ptcodec.ptv.coding import FactorCoding

SIZE = (64, 64)
QUICK = dict(first_steps=60, later_steps=30, lr=0.1, quality="fast")


@pytest.fixture(scope="module")
def gen() -> ReferenceGenerator:
    torch.set_num_threads(2)
    return ReferenceGenerator()


@pytest.fixture(scope="module")
def clip_path(gen, tmp_path_factory):
    path = tmp_path_factory.mktemp("clip") / "in.mkv"
    write_video(path, reachable_clip(gen, frames=9, size=SIZE, interval=4, rank=4, seed=5), Fraction(30), codec="ffv1")
    return path


def encode(clip_path, out, **stream) -> list[DecodedFrame]:
    closed: list[DecodedFrame] = []
    transcode_file(str(clip_path), out, StreamOptions(ranks=(4,), interval=4, **stream), FitOptions(**QUICK),
                   size=SIZE, on_frame=closed.append)
    return closed


def units(path):
    with PtvReader(path) as reader:
        return reader.header, [r.unit for r in reader.units()][1:]


def test_a_1_1_encode_is_coded_smaller_and_decodes_to_its_closed_loop(clip_path, tmp_path):
    closed = encode(clip_path, tmp_path / "new.ptv", coding="1.1")
    encode(clip_path, tmp_path / "old.ptv")
    header, coded = units(tmp_path / "new.ptv")
    assert (header.version_minor, header.quant_schemes) == (1, 1 << QuantScheme.PER_TENSOR_CODED)
    keyframes = [u for u in coded if isinstance(u, Keyframe)]
    assert keyframes and all(k.quant_scheme == QuantScheme.PER_TENSOR_CODED and k.coded_factors for k in keyframes)
    assert [u.dtype for u in coded if isinstance(u, SceneInit)] == [LatentDtype.U8_CODED]
    # 0.79 with an Adam-only fit, 0.80 with the L-BFGS start (its factors spread more): the gain is the coding's
    assert (tmp_path / "new.ptv").stat().st_size < 0.85 * (tmp_path / "old.ptv").stat().st_size
    decoded: list[DecodedFrame] = []
    decode_file(tmp_path / "new.ptv", tmp_path / "new.mkv", on_frame=decoded.append)
    assert len(decoded) == 9
    for ours, theirs in zip(closed, decoded, strict=True):
        assert np.array_equal(ours.image, theirs.image), f"frame {ours.index}"


def test_a_1_0_encode_describes_no_1_1_setting_and_refuses_them():
    described = describe(StreamOptions(), FitOptions(), "msssim")
    assert not {"coding", "latent_bits", "factor_bits", "rdoq_lambda"} & set(described)
    assert describe(StreamOptions(coding="1.1"), FitOptions(), "msssim")["coding"] == "1.1"
    for bad in ({"factor_bits": 6}, {"rdoq_lambda": 0.1}, {"latent_bits": 4}):
        with pytest.raises(PtcodecError, match="tool of bitstream 1.1"):
            StreamOptions(**bad).check()
    with pytest.raises(PtcodecError, match="1..8"):
        StreamOptions(coding="1.1", factor_bits=9).check()
    with pytest.raises(PtcodecError, match="unknown --coding"):
        StreamOptions(coding="2.0").check()


def test_fewer_factor_bits_use_fewer_codes_and_fewer_bytes(clip_path, tmp_path):
    encode(clip_path, tmp_path / "b8.ptv", coding="1.1")
    encode(clip_path, tmp_path / "b5.ptv", coding="1.1", factor_bits=5, latent_bits=5)
    _, coarse = units(tmp_path / "b5.ptv")
    for k in (u for u in coarse if isinstance(u, Keyframe)):
        assert k.u_codes().max() <= 31 and k.v_codes().max() <= 31
    assert (tmp_path / "b5.ptv").stat().st_size < (tmp_path / "b8.ptv").stat().st_size


def coded_size(keyframe: Keyframe, header) -> int:
    return len(FactorCoding(header).encode(keyframe, predicted=False, carry_models=False).coded_factors)


def test_rdoq_trades_bytes_for_a_bounded_error():
    rng = np.random.default_rng(3)
    u = rng.standard_normal((77, 4)).astype(np.float32)
    v = rng.standard_normal((4, 1024)).astype(np.float32)
    plain = quantize_keyframe(0, u, v, QuantScheme.PER_TENSOR_CODED)
    header = serialize_header()
    sizes, errors = [], []
    for lam in (0.0, 0.5, 2.0):
        k = rdoq_keyframe(plain, u, v, lam)
        du, dv = dequantize_keyframe(k)
        assert np.all(np.abs(du - u) <= 1.0001 * np.float32(k.u_scale[0]))  # never beyond a neighbour code
        assert np.all(np.abs(dv - v) <= 1.0001 * np.float32(k.v_scale[0]))
        sizes.append(coded_size(k, header))
        errors.append(float(np.square(du @ dv - u @ v).mean()))
    assert sizes[0] > sizes[1] > sizes[2]
    assert errors[0] < errors[1] < errors[2]
    assert rdoq_keyframe(plain, u, v, 0.0) is plain


def serialize_header():
    from ptcodec.ptv import SequenceHeader

    return SequenceHeader(level=1, crc_present=False, generator_id="reference", generator_fingerprint=bytes(32),
                          width=64, height=64, time_base_num=1, time_base_den=30, frame_count=1, tokens=77,
                          embed_dim=1024, latent_channels=4, latent_downscale=8, noise_seed=88, gamma_num=95,
                          gamma_den=100, prev_latent_rule=0, interp_rule=0, quant_schemes=1 << 3, version_minor=1)


def test_a_coded_stream_round_trips_through_serialize():
    header = serialize_header()
    rng = np.random.default_rng(4)
    latent = rng.standard_normal((1, 4, 8, 8)).astype(np.float32)
    k = quantize_keyframe(0, rng.standard_normal((77, 2)), rng.standard_normal((2, 1024)), QuantScheme.PER_TENSOR_CODED)
    data = serialize(header, [SceneInit.from_latent(0, latent, LatentDtype.U8_CODED), k])
    _, parsed = units(data)
    assert parsed[1].u == k.u and parsed[1].v == k.v
    assert np.abs(parsed[0].latent() - latent).max() <= (latent.max() - latent.min()) / 255 / 2 * 1.001


def test_target_kbps_takes_the_largest_rank_that_fits():
    from ptcodec.encoder.targets import RDOQ_BITS, for_target, keyframe_kbps

    dims = dict(tokens=77, embed_dim=1024, fps=Fraction(30))
    # The sky import's keyframes: rank 8 every 10 frames, 8,808 code bytes each, 212 kbit/s (`ptcodec info`).
    assert keyframe_kbps(8, interval=10, bits_per_code=8.0, **dims) == pytest.approx(212.0, abs=1.0)
    assert for_target(StreamOptions(), 213, **dims).ranks == (8,)
    assert for_target(StreamOptions(), 211, **dims).ranks == (7,)
    assert for_target(StreamOptions(), 1, **dims).ranks == (1,)
    coded = for_target(StreamOptions(coding="1.1"), 213, **dims)
    assert coded.rank > 8  # the same rate buys more rank once entropy-coded
    assert keyframe_kbps(coded.rank, interval=10, bits_per_code=6.95 * RDOQ_BITS.get(coded.rdoq_lambda, 1), **dims) <= 213
    assert for_target(StreamOptions(), 500, **dims).rdoq_lambda == 0.0  # 1.0 has no RDOQ
