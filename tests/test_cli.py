"""The CLI a person uses: light commands stay light, every option says what it does, and options
that make no sense are refused instead of silently ignored."""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from ptcodec.cli import build_parser, main
from ptcodec.conformance.vectors import default_vectors_dir

VECTORS = default_vectors_dir()
VALID = VECTORS / "valid"

PROBE = """
import sys
from ptcodec.cli import main
try:
    status = main(sys.argv[1:])
except SystemExit as exit:
    status = exit.code
print("torch" in sys.modules, status)
"""


@pytest.mark.parametrize("args", [
    ["--version"],
    ["info", str(VALID / "basic" / "stream.ptv")],
    ["info", "--json", str(VALID / "basic" / "stream.ptv")],
    ["validate", str(VALID / "basic" / "stream.ptv")],
    ["validate", str(VECTORS / "mkv" / "basic" / "stream.mkv")],
    ["mux", str(VALID / "basic" / "stream.ptv"), "{tmp}/out.mkv"],
    ["demux", str(VECTORS / "mkv" / "basic" / "stream.mkv"), "{tmp}/out.ptv"],
    ["truncate", str(VALID / "ladder" / "stream.ptv"), "--rank", "4", "{tmp}/cut.ptv"],
], ids=lambda a: a[0])
def test_commands_that_only_read_streams_do_not_import_torch(args, tmp_path):
    """Importing torch costs seconds of CPU: a muxer or a validator must not pay it."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, cwd=tmp_path)
    torch_loaded, status = done.stdout.split()[-2:]
    assert status in ("0", "None"), done.stderr
    assert torch_loaded == "False"


def subcommands() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_option_and_argument_has_help(name):
    parser = subcommands()[name]
    missing = [a.option_strings or [a.dest] for a in parser._actions if not a.help]
    assert not missing, f"ptcodec {name}: no help for {missing}"
    assert "%%" not in parser.format_help()


@pytest.mark.parametrize("option", [["--start", "-1"], ["--duration", "0"], ["--start", "nan"],
                                    ["--duration", "-2"], ["--batch", "0"]])
def test_decode_refuses_times_that_select_nothing_sensible(option, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit:
        main(["decode", str(VALID / "basic" / "stream.ptv"), str(tmp_path / "out.y4m"), *option])
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert option[0] in err and "Traceback" not in err
    assert not list(tmp_path.iterdir())


def test_the_decode_job_refuses_them_too(tmp_path):
    from ptcodec.errors import InputError
    from ptcodec.jobs.decode import decode_file

    for kwargs in ({"start": -1.0}, {"duration": 0.0}):
        with pytest.raises(InputError):
            decode_file(VALID / "basic" / "stream.ptv", tmp_path / "out.y4m", **kwargs)
    assert not list(tmp_path.iterdir())


def test_transcode_names_the_unit_of_its_start_and_decode_its_own():
    transcode, decode = subcommands()["transcode"].format_help(), subcommands()["decode"].format_help()
    assert "--start-frame N" in transcode and "--start " not in transcode
    assert "--start SECONDS" in decode and "--duration SECONDS" in decode


def test_truncating_a_stream_that_cannot_be_cut_is_an_error(tmp_path, capsys):
    """basic is quantized per tensor at rank 4: cutting it to rank 2 is impossible, not a copy."""
    out = tmp_path / "cut.ptv"
    assert main(["truncate", str(VALID / "basic" / "stream.ptv"), "--rank", "2", str(out)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "per tensor" in err and "--ranks" in err
    assert not list(tmp_path.iterdir())


def test_truncating_a_ladder_cuts_it(tmp_path, capsys):
    from ptcodec.ptv import Keyframe, read_all

    out = tmp_path / "cut.ptv"
    assert main(["truncate", str(VALID / "ladder" / "stream.ptv"), "--rank", "4", str(out)]) == 0
    _, records = read_all(out.read_bytes())
    assert {r.unit.rank for r in records if isinstance(r.unit, Keyframe)} == {4}
    assert "cut to rank 4" in capsys.readouterr().out


@pytest.mark.parametrize("load, set_by_user, expected", [
    (2.5, {}, "PASSIVE"), (0.3, {}, None), (2.5, {"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),
    (2.5, {"GOMP_SPINCOUNT": "10000"}, None)])
def test_openmp_threads_wait_passively_only_on_a_busy_machine(monkeypatch, load, set_by_user, expected):
    import os

    from ptcodec.cli import quiet_threads

    environment = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    monkeypatch.setattr(os, "environ", {**environment, **set_by_user})  # a copy: nothing leaks into later tests
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    quiet_threads()
    assert os.environ.get("OMP_WAIT_POLICY") == expected


@pytest.mark.parametrize("args", [
    ["transcode", "in.mp4", "out.ptv", "--start", "5"],          # not an abbreviation of --start-frame
    ["transcode", "in.mp4", "out.ptv", "--fps", "1/0"],
    ["transcode", "in.mp4", "out.ptv", "--fps", "-30"],
    ["transcode", "in.mp4", "out.ptv", "--lr", "-1"],
    ["transcode", "in.mp4", "out.ptv", "--lr", "nan"],
    ["transcode", "in.mp4", "out.ptv", "--alpha", "2"],
    ["transcode", "in.mp4", "out.ptv", "--c-penalty", "inf"],
    ["transcode", "in.mp4", "out.ptv", "--ranks", "4,0"],
    ["import-promptus", "dir", "out.ptv", "--fps", "1/0"],
    ["import-promptus", "dir", "out.ptv", "--frames", "0"],
], ids=lambda a: " ".join(a[3:]) + f" ({a[0]})")
def test_option_values_that_make_no_sense_are_refused_by_the_parser(args, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        main(args)
    assert exit.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("ptcodec")
    assert not list(tmp_path.iterdir())


def test_encoder_options_refuse_them_too():
    from ptcodec.encoder.options import split_settings
    from ptcodec.errors import PtcodecError

    for bad in ({"lr": -1.0}, {"lr": float("nan")}, {"c_penalty": -0.1}, {"smoothing": 1.5},
                {"scene_threshold": float("inf")}, {"target_psnr": 0.0}, {"ranks": (4, 0)}, {"interval": 0}):
        stream, fit = split_settings(bad)
        with pytest.raises(PtcodecError):
            stream.check()
            fit.check()


@pytest.mark.parametrize("option", [["--start", "1e308"], ["--duration", "1e308"]])
def test_huge_times_are_times_not_overflows(option, tmp_path, capsys):
    status = main(["decode", str(VALID / "basic" / "stream.ptv"), str(tmp_path / "out.rgb"), "-q", *option])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "OverflowError" not in err
    assert status == (1 if option[0] == "--start" else 0), err  # past the end / the whole stream


def test_transcode_of_standard_input_says_what_to_do(tmp_path, capsys):
    assert main(["transcode", "-", str(tmp_path / "out.ptv"), "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "FIFO" in err
    assert not list(tmp_path.iterdir())


def test_transcode_flags_build_the_two_option_objects():
    """Every encoder flag lands in its field of StreamOptions or FitOptions, with no field copied by hand."""
    from ptcodec.encoder.options import FitOptions, StreamOptions, setting_names, split_settings

    args = build_parser().parse_args([
        "transcode", "in.mp4", "out.ptv", "--rank", "4", "-K", "5", "--no-crc", "--scene-threshold", "0",
        "--prev-latent", "previous-frame", "--max-scene", "30", "--no-warm-start", "--fit", "keep",
        "--quality", "fast", "--lr", "0.05", "--c-penalty", "0.1", "--perceptual", "none"])
    stream, fit = split_settings({k: v for k, v in vars(args).items() if k in setting_names()})
    assert stream == StreamOptions(ranks=(4,), interval=5, crc=False, scene_threshold=None, prev_latent_rule=1,
                                   max_scene_length=30)
    assert fit == FitOptions(quality="fast", lr=0.05, c_penalty=0.1, perceptual="none", warm_start=False)
    assert args.crop == "keep"
    ladder = build_parser().parse_args(["transcode", "in.mp4", "out.ptv", "--ranks", "16,4,8"])
    assert split_settings({"ranks": ladder.ranks})[0].rank_ladder == (4, 8, 16)
    assert build_parser().parse_args(["transcode", "i", "o", "--rank", "2,4"]).ranks == (2, 4)


def test_rank_and_ranks_are_one_option(capsys):
    with pytest.raises(SystemExit) as info:
        main(["transcode", "in.mp4", "out.ptv", "--rank", "8", "--ranks", "4,8"])
    assert info.value.code == 2 and "not allowed with argument" in capsys.readouterr().err


def test_every_public_name_of_every_package_resolves():
    """`from ptcodec.<package> import *` works: each __all__ names what the package has."""
    import importlib

    for name in ("ptcodec", "ptcodec.ptv", "ptcodec.encoder", "ptcodec.container", "ptcodec.media"):
        module = importlib.import_module(name)
        for public in module.__all__:
            assert getattr(module, public) is not None, f"{name}.{public}"


@pytest.mark.parametrize("step", ["check", "run", "report"])
def test_every_evaluate_option_has_help_and_none_is_abbreviated(step, capsys):
    evaluate = subcommands()["evaluate"]
    action = next(a for a in evaluate._actions if isinstance(a, argparse._SubParsersAction))
    parser = action.choices[step]
    missing = [a.option_strings or [a.dest] for a in parser._actions if not a.help]
    assert not missing, f"ptcodec evaluate {step}: no help for {missing}"
    assert parser.allow_abbrev is False
    if step == "run":
        with pytest.raises(SystemExit):
            main(["evaluate", "run", "clip.mp4", "--codec", "x265", "--out", "o", "--rate", "140"])
        assert "unrecognized arguments: --rate" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["play", "http://127.0.0.1:9/"], ["serve", "."]])
def test_a_command_whose_optional_extra_is_missing_says_which_in_one_line(args, monkeypatch, capsys):
    """The default install (the README's first command) has no [stream] extra: every command still
    loads, and one that needs aiohttp names it and the extra instead of a traceback."""
    monkeypatch.setitem(sys.modules, "aiohttp", None)  # `import aiohttp` now raises ModuleNotFoundError
    monkeypatch.setitem(sys.modules, "aiohttp.web", None)
    monkeypatch.delitem(sys.modules, "ptcodec.streaming.serve", raising=False)  # imports aiohttp at its top
    assert main(args) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"ptcodec: error: {args[0]} needs aiohttp, from an optional extra: pip install 'ptcodec[stream]'"
