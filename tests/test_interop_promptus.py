"""Lossless import and export of the authors' released prompt files."""

from __future__ import annotations

from fractions import Fraction

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


# --- hostile or broken prompt directories: one line naming the file, nothing written ---


def _prompt(rng, rank=3, tokens=77, embed_dim=1024):
    return {
        "U": torch.from_numpy(rng.integers(0, 256, (tokens, rank), dtype=np.uint8)),
        "V": torch.from_numpy(rng.integers(0, 256, (rank, embed_dim), dtype=np.uint8)),
        "U_scale": torch.tensor(0.01, dtype=torch.float32),
        "U_zero_point": torch.tensor(128.0, dtype=torch.float32),
        "V_scale": torch.tensor(0.02, dtype=torch.float32),
        "V_zero_point": torch.tensor(100.0, dtype=torch.float32),
    }


def _changed(**changes):
    """A prompt dict with some entries replaced (None removes the key)."""
    def make(rng):
        prompt = _prompt(rng)
        for key, value in changes.items():
            if value is None:
                del prompt[key]
            else:
                prompt[key] = value
        return prompt
    return make


BAD_PROMPTS = {
    "missing key": _changed(V_zero_point=None),
    "extra key": _changed(extra=torch.zeros(1)),
    "U float32": _changed(U=torch.zeros(77, 3)),
    "U int64": _changed(U=torch.zeros(77, 3, dtype=torch.int64)),
    "U 3-D": _changed(U=torch.zeros(77, 3, 1, dtype=torch.uint8)),
    "U rank disagrees with V": _changed(U=torch.zeros(77, 4, dtype=torch.uint8)),
    "tokens differ from frame 0": _changed(U=torch.zeros(70, 3, dtype=torch.uint8)),
    "embed_dim differs from frame 0": _changed(V=torch.zeros(3, 768, dtype=torch.uint8)),
    "rank 0": _changed(U=torch.zeros(77, 0, dtype=torch.uint8), V=torch.zeros(0, 1024, dtype=torch.uint8)),
    "scale not a scalar": _changed(U_scale=torch.ones(2)),
    "scale float64": _changed(V_scale=torch.tensor(0.5, dtype=torch.float64)),
    "scale NaN": _changed(U_scale=torch.tensor(float("nan"))),
    "scale negative": _changed(V_scale=torch.tensor(-1.0)),
    "zero point 300": _changed(U_zero_point=torch.tensor(300.0)),
    "U a list": _changed(U=[[1, 2, 3]] * 77),
    "scale a float": _changed(U_scale=0.5),
    "scale a string": _changed(U_scale="0.5"),
    "not a dict": lambda rng: [torch.zeros(3)],
    "a bare tensor": lambda rng: torch.zeros(77, 3, dtype=torch.uint8),
    "None": lambda rng: None,
}


def _assert_refused(src, out, *names):
    """InputError, one line, naming each of `names`; no output and no partial file."""
    with pytest.raises(InputError) as info:
        import_promptus(src, out)
    message = str(info.value)
    assert "\n" not in message and all(name in message for name in names), message
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(out.name)) == []
    return message


@pytest.mark.parametrize("case", sorted(BAD_PROMPTS))
def test_a_malformed_prompt_is_refused_naming_its_file(tmp_path, case):
    src = write_released_dir(tmp_path / "src")
    torch.save(BAD_PROMPTS[case](np.random.default_rng(1)), src / "frame_00004.prompt")
    _assert_refused(src, tmp_path / "x.ptv", "frame_00004.prompt")


def test_an_empty_prompt_file_is_refused_naming_it(tmp_path):
    src = write_released_dir(tmp_path / "src")
    (src / "frame_00000.prompt").write_bytes(b"")
    _assert_refused(src, tmp_path / "x.ptv", "frame_00000.prompt", "empty")


def test_truncated_and_corrupt_pickles_are_refused_or_read_never_a_traceback(tmp_path):
    """Every cut and a sample of byte flips of a real prompt file: each import either
    succeeds or gives an InputError naming the file, and leaves no partial."""
    src = write_released_dir(tmp_path / "src")
    good = (src / "frame_00004.prompt").read_bytes()
    rng = np.random.default_rng(0)
    cuts = sorted({0, 1, 2, *rng.integers(3, len(good), 30).tolist()})
    flips = [(int(i), int(b)) for i, b in zip(rng.integers(0, len(good), 60), rng.integers(1, 256, 60), strict=True)]
    variants = [good[:n] for n in cuts] + [good[:i] + bytes([good[i] ^ b]) + good[i + 1 :] for i, b in flips]
    out = tmp_path / "x.ptv"
    refused = 0
    for data in variants:
        (src / "frame_00004.prompt").write_bytes(data)
        try:
            import_promptus(src, out)
        except InputError as error:
            refused += 1
            assert "frame_00004.prompt" in str(error) and "\n" not in str(error), str(error)
            assert not out.exists()
        out.unlink(missing_ok=True)
        assert not (tmp_path / "x.ptv.partial").exists()
    assert refused >= len(cuts)  # every cut file is refused


@pytest.mark.parametrize(
    "init, why",
    [
        (torch.zeros(4, 8, 8), "3-D"),
        (torch.zeros(2, 4, 8, 8), "two frames"),
        (torch.zeros(1, 4, 8, 8, dtype=torch.float64), "float64"),
        (torch.zeros(1, 3, 8, 8), "3 channels"),
        (torch.zeros(1, 4, 0, 8), "no rows"),
        (torch.full((1, 4, 8, 8), float("nan")), "NaN"),
        ({"latent": torch.zeros(1, 4, 8, 8)}, "a dict"),
        ([1.0, 2.0], "a list"),
    ],
)
def test_a_bad_init_latent_is_refused_naming_it(tmp_path, init, why):
    src = write_released_dir(tmp_path / "src")
    torch.save(init, src / "init.pth")
    _assert_refused(src, tmp_path / "x.ptv", "init.pth")


def test_a_missing_or_empty_init_latent_is_refused_naming_it(tmp_path):
    src = write_released_dir(tmp_path / "src")
    (src / "init.pth").unlink()
    _assert_refused(src, tmp_path / "x.ptv", "init.pth")
    (src / "init.pth").write_bytes(b"")
    _assert_refused(src, tmp_path / "x.ptv", "init.pth")


def test_a_directory_without_prompt_files_is_refused(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    torch.save(torch.zeros(1, 4, 8, 8), src / "init.pth")
    (src / "notes.txt").write_text("no prompts here")
    _assert_refused(src, tmp_path / "x.ptv", str(src), "frame_XXXXX.prompt")
    _assert_refused(tmp_path / "nowhere", tmp_path / "x.ptv", "nowhere")


@pytest.mark.parametrize("name", ["frame_12.prompt", "frame_0004x.prompt", "Frame_00004.prompt", "frame_00004.PROMPT"])
def test_a_prompt_file_whose_name_does_not_match_is_refused_not_skipped(tmp_path, name):
    """Skipping it would silently drop a keyframe the user meant to convert."""
    src = write_released_dir(tmp_path / "src")
    (src / "frame_00004.prompt").rename(src / name)
    _assert_refused(src, tmp_path / "x.ptv", name, "frame_XXXXX.prompt")


def test_two_files_for_one_frame_are_refused_naming_both(tmp_path):
    src = write_released_dir(tmp_path / "src")
    (src / "frame_000004.prompt").write_bytes((src / "frame_00004.prompt").read_bytes())
    _assert_refused(src, tmp_path / "x.ptv", "frame_00004.prompt", "frame_000004.prompt")


def test_the_first_prompt_must_be_frame_0(tmp_path):
    src = write_released_dir(tmp_path / "src", frames=(1, 4))
    _assert_refused(src, tmp_path / "x.ptv", "frame_00001.prompt", "frame 0")


@pytest.mark.parametrize("index", [99_999_999_999, 2**32 - 1, 2**32])
def test_a_frame_index_beyond_the_32_bit_field_is_refused_before_writing(tmp_path, index):
    src = write_released_dir(tmp_path / "src", frames=(0, 4))
    (src / "frame_00004.prompt").rename(src / f"frame_{index:05d}.prompt")
    message = _assert_refused(src, tmp_path / "x.ptv", f"frame_{index:05d}.prompt")
    assert "32-bit" in message


def test_a_frame_index_beyond_the_level_limit_is_refused_before_writing(tmp_path):
    src = write_released_dir(tmp_path / "src", frames=(0, 4))
    (src / "frame_00004.prompt").rename(src / "frame_4000000000.prompt")
    _assert_refused(src, tmp_path / "x.ptv", "frame_4000000000.prompt")


def test_a_header_limit_on_frame_count_names_the_last_prompt_file(tmp_path, monkeypatch):
    """Any rule the writer applies is applied before writing; one on frame_count is
    about the last prompt file (here a stand-in limit of 100 frames)."""
    from ptcodec.errors import LimitExceededError
    from ptcodec.ptv import rules

    check = rules.check_sequence_header

    def limited(header):
        check(header)
        if header.frame_count > 100:
            raise LimitExceededError(f"frame_count {header.frame_count} exceeds 100", field="frame_count")

    monkeypatch.setattr(rules, "check_sequence_header", limited)
    src = write_released_dir(tmp_path / "src", frames=(0, 4, 200))
    message = _assert_refused(src, tmp_path / "x.ptv", "frame_00200.prompt")
    assert "frame_count 201 exceeds 100" in message


def test_a_level_limit_the_prompts_break_is_refused_before_writing(tmp_path):
    """Level 4 allows 240 keyframes a second: keyframes 1 frame apart at 1000 fps are too many."""
    src = write_released_dir(tmp_path / "src", frames=(0, 1, 2))
    with pytest.raises(InputError, match=f"{src}: no level admits"):
        import_promptus(src, tmp_path / "x.ptv", fps=Fraction(1000))
    assert list(tmp_path.glob("x.ptv*")) == []


@pytest.mark.parametrize("fps", [Fraction(0), Fraction(-30), Fraction(2**40), Fraction(1, 2**33)])
def test_a_frame_rate_the_header_cannot_hold_is_refused(tmp_path, fps):
    src = write_released_dir(tmp_path / "src")
    with pytest.raises(InputError, match="--fps"):
        import_promptus(src, tmp_path / "x.ptv", fps=fps)
    assert list(tmp_path.glob("x.ptv*")) == []


def test_frames_shorter_than_the_prompts_is_refused(tmp_path):
    src = write_released_dir(tmp_path / "src", frames=(0, 4, 8))
    for frames in (8, -1, 2**32):
        with pytest.raises(InputError, match="--frames|frame_count"):
            import_promptus(src, tmp_path / "x.ptv", frame_count=frames)
        assert list(tmp_path.glob("x.ptv*")) == []


def test_the_cli_prints_one_line_for_an_empty_prompt(tmp_path, capsys):
    from ptcodec.cli import main

    src = write_released_dir(tmp_path / "src")
    (src / "frame_00000.prompt").write_bytes(b"")
    assert main(["import-promptus", str(src), str(tmp_path / "x.ptv")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "frame_00000.prompt" in err and "Traceback" not in err
    assert list(tmp_path.glob("x.ptv*")) == []


# --- exported files load in the authors' code as their own files do ---


def _locations(path):
    """The device location torch.save recorded for each storage of a file, in load order."""
    seen = []

    def record(storage, location):
        seen.append(location)
        return storage

    torch.load(path, weights_only=True, map_location=record)
    return seen


def _load_as_released_code_does(path):
    """generation.py: torch.load(path) with no map_location (here with weights_only)."""
    try:
        return "loaded", torch.load(path, weights_only=True)
    except Exception as error:  # on a machine without CUDA both kinds of file fail alike
        return "failed", type(error)


def test_exported_files_record_the_released_files_storage_locations(tmp_path, sky_dir):
    import_promptus(sky_dir, tmp_path / "sky.ptv")
    export_promptus(tmp_path / "sky.ptv", tmp_path / "out")
    assert_same_files(sky_dir, tmp_path / "out")
    for released in sorted(sky_dir.iterdir()):
        exported = tmp_path / "out" / released.name
        assert _locations(exported) == _locations(released) == ["cuda:0"] * len(_locations(released)), released.name
        ours, theirs = _load_as_released_code_does(exported), _load_as_released_code_does(released)
        assert ours[0] == theirs[0] and (ours[0] == "loaded" or ours[1] is theirs[1]), released.name


def test_exported_files_import_again_and_tagging_stays_inside_the_export(tmp_path):
    src = write_released_dir(tmp_path / "src", frames=(0, 5))
    import_promptus(src, tmp_path / "a.ptv")
    export_promptus(tmp_path / "a.ptv", tmp_path / "out")
    assert set(_locations(tmp_path / "out" / "frame_00005.prompt")) == {"cuda:0"}
    import_promptus(tmp_path / "out", tmp_path / "b.ptv")
    assert (tmp_path / "a.ptv").read_bytes() == (tmp_path / "b.ptv").read_bytes()
    torch.save(torch.zeros(3), tmp_path / "plain.pt")  # an ordinary save afterwards is untouched
    assert _locations(tmp_path / "plain.pt") == ["cpu"]


@pytest.mark.parametrize(
    "change",
    [
        {"generator_id": "reference"},
        {"noise_seed": 89},
        {"gamma_num": 90},
        {"prev_latent_rule": 1},
        {"interp_rule": 1},
    ],
)
def test_export_refuses_a_stream_the_released_code_would_render_differently(tmp_path, change):
    """The released files carry no generator, seed, gamma or rules: generation.py
    always uses its own, so exporting another stream would silently change it."""
    import dataclasses

    from ptcodec.ptv import PtvWriter

    src = write_released_dir(tmp_path / "src", frames=(0, 5))
    import_promptus(src, tmp_path / "a.ptv")
    header, records = read_all(tmp_path / "a.ptv")
    with PtvWriter(tmp_path / "b.ptv", dataclasses.replace(header, **change)) as writer:
        for record in records[1:]:
            writer.write(record.unit)
    name = next(iter(change))
    with pytest.raises(InputError, match=f"b.ptv: {name.split('_num')[0]}"):
        export_promptus(tmp_path / "b.ptv", tmp_path / "out")
    assert not (tmp_path / "out").exists()
