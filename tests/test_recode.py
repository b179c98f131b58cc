"""`ptcodec recode` (1.0 <-> 1.1 coding tools), `info`'s bytes per unit kind, and `truncate`
of coded streams: lossless where the tools are, on the released sky prompts and on
hand-made streams."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ptcodec.cli import main
from ptcodec.interop.promptus import export_promptus, import_promptus
from ptcodec.jobs.recode import recode_file
from ptcodec.jobs.truncate import truncate_file
from ptcodec.ptv import Keyframe, Metadata, Padding, PtvReader, SceneInit, read_all, serialize
from ptcodec.ptv.coding import FactorCoding
from ptcodec.ptv.syntax import LatentDtype, QuantScheme
from ptcodec.ptv.units import ReservedUnit
from tests.conftest import make_header, make_keyframe, tiny_scene


def one_line_error(capsys, *args: str) -> str:
    assert main(list(args)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ptcodec: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def units_of(path: Path) -> list:
    with PtvReader(path) as reader:
        return [r.unit for r in reader.units()]


def factor_bytes(path: Path) -> int:
    return sum(len(k.coded_factors) if k.coded else len(k.u) + len(k.v)
               for k in units_of(path) if isinstance(k, Keyframe))


def synthetic_1_0(tmp_path: Path) -> Path:
    """A 1.0 stream with every kind of unit a recode must keep: metadata, padding, a reserved
    unit, layer ids, CRCs, two scenes, both uncoded schemes."""
    header = make_header(version_minor=0, quant_schemes=0x03, crc_present=True, frame_count=40)
    per_component = dataclasses.replace(make_keyframe(header, 10, rank=2, seed=3), quant_scheme=1,
                                        u_scale=(0.5, 0.25), u_zero_point=(128.0, 120.0),
                                        v_scale=(0.5, 0.125), v_zero_point=(100.0, 130.0))
    units = [(Metadata((("title", b"sky"),)), None), tiny_scene(header), (make_keyframe(header, 0), 3),
             Padding(7), (ReservedUnit(9, b"future"), 1), per_component,
             tiny_scene(header, 20), make_keyframe(header, 20, seed=4), make_keyframe(header, 30, seed=5)]
    path = tmp_path / "synthetic.ptv"
    path.write_bytes(serialize(header, units))
    return path


def test_synthetic_stream_recoded_to_1_1_and_back_gives_the_original_bytes(tmp_path):
    source = synthetic_1_0(tmp_path)
    r = recode_file(source, tmp_path / "coded.ptv", "1.1")
    assert r.recoded == r.keyframes == 4
    header, records = read_all((tmp_path / "coded.ptv").read_bytes())
    assert header.version_minor == 1 and header.quant_schemes == 0x0F and header.crc_present
    assert {r.unit.quant_scheme for r in records if isinstance(r.unit, Keyframe)} == {2, 3}
    assert [r.layer_id for r in records] == [r.layer_id for r in read_all(source.read_bytes())[1]]
    recode_file(tmp_path / "coded.ptv", tmp_path / "back.ptv", "1.0")
    assert (tmp_path / "back.ptv").read_bytes() == source.read_bytes()


def test_u8_latents_refuse_1_0_unless_dequantized(tmp_path, capsys):
    source = synthetic_1_0(tmp_path)
    coded = tmp_path / "u8.ptv"
    assert main(["recode", str(source), str(coded), "--coding", "1.1", "--latent", "u8-coded", "--latent-bits", "6"]) == 0
    scenes = [u for u in units_of(coded) if isinstance(u, SceneInit)]
    assert {s.dtype for s in scenes} == {LatentDtype.U8_CODED}
    assert max(int(s.latent_codes().max()) for s in scenes) <= 63
    capsys.readouterr()
    err = one_line_error(capsys, "recode", str(coded), str(tmp_path / "out.ptv"), "--coding", "1.0")
    assert "u8 latent" in err and "--latent f32" in err
    assert not (tmp_path / "out.ptv").exists() and not (tmp_path / "out.ptv.partial").exists()
    assert "needs --coding 1.1" in one_line_error(capsys, "recode", str(source), str(tmp_path / "out.ptv"),
                                                  "--coding", "1.0", "--latent", "u8")
    assert main(["recode", str(coded), str(tmp_path / "f32.ptv"), "--coding", "1.0", "--latent", "f32"]) == 0
    back = [u for u in units_of(tmp_path / "f32.ptv") if isinstance(u, SceneInit)]
    for s, b in zip(scenes, back, strict=True):
        assert b.dtype == LatentDtype.F32
        np.testing.assert_array_equal(b.latent(), s.latent())
    # u8 -> u8-coded and back keeps the codes exactly
    recode_file(coded, tmp_path / "plain.ptv", "1.1", latent="u8")
    plain = [u for u in units_of(tmp_path / "plain.ptv") if isinstance(u, SceneInit)]
    for s, p in zip(scenes, plain, strict=True):
        assert p.dtype == LatentDtype.U8
        np.testing.assert_array_equal(p.latent_codes(), s.latent_codes())


def test_info_shows_the_bytes_of_each_unit_kind_before_and_after_coding(tmp_path, capsys):
    source = synthetic_1_0(tmp_path)
    coded = tmp_path / "coded.ptv"
    recode_file(source, coded, "1.1", latent="u8-coded")
    units = units_of(coded)
    keyframes = [u for u in units if isinstance(u, Keyframe)]
    raw = sum(len(k.u) + len(k.v) for k in keyframes)  # m*r + r*n each
    stored = sum(len(k.coded_factors) for k in keyframes)
    latent_stored = sum(len(u.data) for u in units if isinstance(u, SceneInit))
    capsys.readouterr()
    assert main(["info", str(coded)]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if " keyframe " in f" {x} ")
    assert f"factor codes {raw:,} before coding -> {stored:,} stored" in line
    line = next(x for x in out.splitlines() if "scene_init" in x)
    assert f"{2 * 4 * 4 * 8 * 8:,} before coding -> {latent_stored:,} stored" in line  # 2 latents of 4x8x8 float32
    assert "padding" in out and "reserved_9" in out and "metadata" in out


def coded_ladder(tmp_path: Path) -> Path:
    """Per-component coded keyframes of rank 4 whose codes drift slowly (prediction pays), then
    one of rank 2 (it cannot be predicted, but carries the models of the one before)."""
    header = make_header(quant_schemes=0x06, frame_count=40, version_minor=1)
    rng = np.random.default_rng(7)
    u = rng.integers(90, 160, (header.tokens, 4))
    v = rng.integers(90, 160, (4, header.embed_dim))
    units: list = [tiny_scene(header)]
    for frame, rank in ((0, 4), (10, 4), (20, 4), (30, 2)):
        u = (u + rng.integers(-1, 2, u.shape)).clip(0, 255)
        v = (v + rng.integers(-1, 2, v.shape)).clip(0, 255)
        units.append(Keyframe(frame, rank, int(QuantScheme.PER_COMPONENT_CODED), (0.5, 0.4, 0.3, 0.2)[:rank],
                              (128.0,) * rank, (0.25, 0.2, 0.15, 0.1)[:rank], (128.0,) * rank,
                              np.ascontiguousarray(u[:, :rank]).astype(np.uint8).tobytes(),
                              v[:rank].astype(np.uint8).tobytes()))
    coding = FactorCoding(header)
    coding.scene_start()
    coded = [coding.encode(k) for k in units[1:4]] + [coding.encode(units[4], predicted=False, carry_models=True)]
    path = tmp_path / "ladder.ptv"
    path.write_bytes(serialize(header, [units[0], *coded]))
    return path


def test_truncate_decodes_cuts_and_codes_a_coded_stream_anew(tmp_path):
    source = coded_ladder(tmp_path)
    original = [u for u in units_of(source) if isinstance(u, Keyframe)]
    assert any(k.predicted for k in original) and original[-1].carry_models
    result = truncate_file(source, tmp_path / "r2.ptv", 2)
    assert (result.truncated, result.keyframes) == (3, 4)
    cut = [u for u in units_of(tmp_path / "r2.ptv") if isinstance(u, Keyframe)]
    for k, o in zip(cut, original, strict=True):
        assert k.rank == 2 and k.coded and k.quant_scheme == QuantScheme.PER_COMPONENT_CODED
        np.testing.assert_array_equal(k.u_codes(), o.u_codes()[:, :2])
        np.testing.assert_array_equal(k.v_codes(), o.v_codes()[:2])
        assert k.u_scale == o.u_scale[:2] and k.v_zero_point == o.v_zero_point[:2]
    # a second cut keeps the rank-2 keyframes but must code them anew after the first is cut
    truncate_file(tmp_path / "r2.ptv", tmp_path / "r1.ptv", 1)
    assert {k.rank for k in units_of(tmp_path / "r1.ptv") if isinstance(k, Keyframe)} == {1}


# -- the released sky prompts ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sky_streams(tmp_path_factory) -> dict[str, Path]:
    from tests.conftest import SHARED_DATA

    sky = SHARED_DATA / "promptus_official" / "sky"
    if not sky.is_dir():
        pytest.skip(f"real Promptus prompts not found at {sky} (shared data is beside the repo, not in it)")
    root = tmp_path_factory.mktemp("sky")
    paths = {"sky": sky, "import": root / "import.ptv", "1.0": root / "sky10.ptv", "1.1": root / "sky11.ptv"}
    import_promptus(sky, paths["import"])
    recode_file(paths["import"], paths["1.0"], "1.0")
    recode_file(paths["1.0"], paths["1.1"], "1.1")
    return paths


def test_sky_recoded_to_1_1_and_exported_gives_the_released_tensors_bit_for_bit(sky_streams, tmp_path):
    import torch

    export_promptus(sky_streams["1.1"], tmp_path / "out")
    originals = sorted(p.name for p in sky_streams["sky"].iterdir())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == originals
    for name in originals:
        a = torch.load(sky_streams["sky"] / name, weights_only=True, map_location="cpu")
        b = torch.load(tmp_path / "out" / name, weights_only=True, map_location="cpu")
        pairs = [(a, b)] if isinstance(a, torch.Tensor) else [(a[key], b[key]) for key in a]
        assert not isinstance(a, dict) or a.keys() == b.keys(), name
        for x, y in pairs:
            assert x.dtype == y.dtype and x.shape == y.shape and torch.equal(x, y), name


def test_sky_1_0_to_1_1_to_1_0_gives_the_original_bytes(sky_streams, tmp_path):
    recode_file(sky_streams["1.1"], tmp_path / "back.ptv", "1.0")
    assert (tmp_path / "back.ptv").read_bytes() == sky_streams["1.0"].read_bytes()
    # the import (version 1.1, no 1.1 tools) differs from its 1.0 recode only in version_minor
    a, b = sky_streams["import"].read_bytes(), sky_streams["1.0"].read_bytes()
    assert len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) <= 5  # the byte and the header CRC


def test_sky_factor_codes_take_at_least_12_percent_fewer_bytes(sky_streams):
    before, after = factor_bytes(sky_streams["1.0"]), factor_bytes(sky_streams["1.1"])
    assert before == 15 * 8 * (77 + 1024)
    assert after <= 0.88 * before, (before, after)
