"""Tier-2 data: what a decoder computes before the generator, dumped and hashed."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from ptcodec.cli import main
from ptcodec.conformance.compare import read_dump
from ptcodec.process.quant import dequantize_keyframe
from ptcodec.process.reconstruction import digest, reconstruct
from ptcodec.ptv import serialize
from tests.conftest import make_header, make_keyframe, tiny_scene


def stream():
    header = make_header(frame_count=14)
    units = [tiny_scene(header), make_keyframe(header, 0), make_keyframe(header, 4, seed=1),
             tiny_scene(header, 6), make_keyframe(header, 6, seed=2), make_keyframe(header, 10, seed=3)]
    return header, units


def test_arrays_follow_the_spec_formulas_computed_independently():
    header, units = stream()
    r = reconstruct(header, units)
    arrays = dict(r.arrays())
    # N0: NumPy's legacy generator, as spec 12.6 defines it.
    expected_n0 = np.random.RandomState(88).randn(1, 4, 8, 8).astype(np.float32)
    assert digest(r.n0) == hashlib.sha256(expected_n0.astype("<f4").tobytes()).hexdigest()
    # c at a keyframe: u v / sqrt(r) (binary64 reference, so only close).
    u, v = dequantize_keyframe(units[2])
    np.testing.assert_allclose(arrays['c_00004'], u.astype(np.float64) @ v / np.sqrt(2), rtol=1e-5, atol=1e-6)
    # c between keyframes 0 and 4 at frame 1: factors interpolated with w = 1/4, then composed.
    (ua, va), (ub, vb) = dequantize_keyframe(units[1]), dequantize_keyframe(units[2])
    lerp = lambda x, y: 0.75 * x.astype(np.float64) + 0.25 * y  # noqa: E731
    np.testing.assert_allclose(arrays['c_00001'], lerp(ua, ub) @ lerp(va, vb) / np.sqrt(2), rtol=1e-5, atol=1e-6)
    # No interpolation across the scene start at 6: frame 5 holds keyframe 4.
    assert np.array_equal(arrays['c_00005'], arrays['c_00004'])
    # Scene-start noise: 0.05 Z + 0.95 N0 in binary32.
    z = units[3].latent()
    assert np.array_equal(arrays['noise_00006'], np.float32(0.05) * z + np.float32(0.95) * expected_n0)
    assert sorted(name for name in arrays if name.startswith("c_")) == [f"c_{t:05d}" for t in range(14)]


def test_cli_dump_reads_back_and_matches_the_hashes(tmp_path, capsys):
    header, units = stream()
    (tmp_path / "s.ptv").write_bytes(serialize(header, units))
    assert main(["reconstruct", str(tmp_path / "s.ptv"), str(tmp_path / "dump")]) == 0
    assert "14 frames of c" in capsys.readouterr().out
    arrays = read_dump(tmp_path / "dump")
    expected = reconstruct(header, units)
    assert set(arrays) == {name for name, _ in expected.arrays()}
    for name, array in expected.arrays():
        assert np.array_equal(arrays[name], array), name
    assert {name: digest(a) for name, a in arrays.items()} == expected.digests()
    # A different stream gives different hashes where it differs, and only there.
    other = reconstruct(header, units[:-1] + [make_keyframe(header, 10, seed=9)]).digests()
    changed = {name for name in other if other[name] != expected.digests()[name]}
    assert changed == {"u_00010", "v_00010"} | {f"c_{t:05d}" for t in range(7, 14)}


def test_a_stream_at_the_frame_count_limit_gives_its_first_arrays_at_once():
    """The issue: `reconstruct` of a long stream never finished (it planned every frame first)."""
    import itertools

    from ptcodec.ptv import LEVELS, PtvReader

    level = LEVELS[1]
    header = make_header(frame_count=level.max_frame_count)
    keyframes = range(0, level.max_frame_count, level.max_frame_gap)  # 2,048 keyframes; the last holds 1,024 frames
    data = serialize(header, [tiny_scene(header), *[make_keyframe(header, k, seed=k % 7) for k in keyframes]])
    read = []
    with PtvReader(data) as reader:
        units = (read.append(r.index) or r.unit for r in reader.units() if r.index > 0)
        first = dict(itertools.islice(reconstruct(reader.header, units).arrays(), 7 + level.max_frame_gap))
        assert max(read) == 3  # the scene-init unit and two keyframes of 2,049 units
    assert [f"c_{t:05d}" for t in range(level.max_frame_gap)] == [n for n in first if n.startswith("c_")]
    expected = dict(reconstruct(header, [tiny_scene(header), make_keyframe(header, 0),
                                         make_keyframe(header, level.max_frame_gap, seed=level.max_frame_gap % 7)]
                                ).arrays())
    for name in first:
        assert np.array_equal(first[name], expected[name]), name


def test_a_reconstruction_of_an_iterator_is_read_once():
    header, units = stream()
    once = reconstruct(header, iter(units))
    assert once.digests() == reconstruct(header, units).digests()
    with pytest.raises(RuntimeError, match="already read"):
        once.digests()
