"""Outputs that cannot be written, for every command that writes: one line on stderr,
before any work, the input untouched and no partial file left behind.

A full disk is /dev/full: the command's temporary file is made a symbolic link to it,
so every write to it fails with ENOSPC as on a real full disk.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest

import ptcodec.decoder
import ptcodec.jobs.transcode
from ptcodec.cli import main
from ptcodec.container.matroska import is_matroska
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.media import write_video
from tests.test_interop_promptus import write_released_dir

ENCODE = ["--size", "64", "-K", "2", "--ranks", "1,2", "--first-steps", "3", "--later-steps", "3", "-q"]
"""Rank-scalable, so that truncate can cut it."""


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> dict[str, Path]:
    """A clip, its stream (.ptv and Matroska), released Promptus files and their stream (sd-turbo)."""
    root = tmp_path_factory.mktemp("inputs")
    clip = root / "clip.mkv"
    write_video(clip, reachable_clip(ReferenceGenerator(), frames=3, size=(64, 64), interval=2, seed=5),
                Fraction(30), codec="ffv1")
    assert main(["transcode", str(clip), str(root / "s.ptv"), *ENCODE]) == 0
    assert main(["mux", str(root / "s.ptv"), str(root / "s.mkv")]) == 0
    write_released_dir(root / "prompts")
    assert main(["import-promptus", str(root / "prompts"), str(root / "sd.ptv")]) == 0
    return {"clip": clip, "ptv": root / "s.ptv", "mkv": root / "s.mkv", "prompts": root / "prompts",
            "sd": root / "sd.ptv"}


# command -> (input, how the output is named, the rest of the command line)
FILE_COMMANDS = {
    "transcode": ("clip", "out.ptv", lambda i, o: ["transcode", str(i), str(o), *ENCODE]),
    "decode": ("ptv", "out.y4m", lambda i, o: ["decode", str(i), str(o), "-q"]),
    "mux": ("ptv", "out.mkv", lambda i, o: ["mux", str(i), str(o)]),
    "demux": ("mkv", "out.ptv", lambda i, o: ["demux", str(i), str(o)]),
    "truncate": ("ptv", "out.ptv", lambda i, o: ["truncate", str(i), "--rank", "1", str(o)]),
    "import-promptus": ("prompts", "out.ptv", lambda i, o: ["import-promptus", str(i), str(o)]),
}
DIRECTORY_COMMANDS = {
    "reconstruct": ("ptv", lambda i, o: ["reconstruct", str(i), str(o)]),
    "export-promptus": ("sd", lambda i, o: ["export-promptus", str(i), str(o)]),
    "demo": (None, lambda i, o: ["demo", "--dir", str(o), "--frames", "3", "--quality", "fast", "-q"]),
}
TEMPORARY = {  # where each command first writes (its temporary name)
    "transcode": "out.ptv.partial", "decode": "out.partial.y4m", "mux": "out.mkv.partial.mkv",
    "demux": "out.ptv.partial", "truncate": "out.ptv.partial", "import-promptus": "out.ptv.partial",
    "reconstruct": "n0.f32.partial", "export-promptus": "init.pth.partial", "demo": "input.partial.mkv",
}


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    """Loading a generator is the start of the work: an output error must come before it."""

    def refuse(*args, **kwargs):
        raise AssertionError("the work started before the output was checked")

    monkeypatch.setattr(ptcodec.jobs.transcode, "load_generator", refuse)
    monkeypatch.setattr(ptcodec.decoder.Decoder, "load", classmethod(refuse))  # decode loads its generator there


def snapshot(path: Path | None) -> dict[str, bytes]:
    if path is None:
        return {}
    if path.is_dir():
        return {p.name: p.read_bytes() for p in sorted(path.iterdir())}
    return {path.name: path.read_bytes()}


def fails_with_one_line(capsys, argv: list[str], source: Path | None, *expected: str) -> str:
    before = snapshot(source)
    assert main(argv) == 1
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert err.startswith("ptcodec: error:") and "\n" not in err and "Traceback" not in err, err
    for text in expected:
        assert text in err, err
    assert snapshot(source) == before, "the input changed"
    return err


def no_partial_left(*directories: Path) -> None:
    for directory in directories:
        left = [str(p) for p in directory.rglob("*") if "partial" in p.name or p.name.startswith(".ptcodec")]
        assert left == [], left


@contextlib.contextmanager
def unwritable(directory: Path):
    """A directory nobody can create files in: mode 555, and for root (whom modes do not
    stop) the immutable attribute."""
    directory.mkdir(exist_ok=True)
    directory.chmod(0o555)
    immutable = False
    try:
        if os.access(directory, os.W_OK):
            if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(directory)],
                                                                capture_output=True).returncode:
                pytest.skip("cannot make a directory unwritable for this user")
            immutable = True
        yield directory
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(directory)], check=True)
        directory.chmod(0o755)


@pytest.mark.parametrize("command", FILE_COMMANDS)
def test_a_missing_output_directory(command, inputs, tmp_path, capsys):
    source, name, argv = FILE_COMMANDS[command]
    out = tmp_path / "missing" / name
    fails_with_one_line(capsys, argv(inputs[source], out), inputs[source], str(out), "does not exist")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", [*FILE_COMMANDS, *DIRECTORY_COMMANDS])
def test_an_unwritable_output_directory(command, inputs, tmp_path, capsys):
    with unwritable(tmp_path / "ro") as ro:
        if command in FILE_COMMANDS:
            source, name, argv = FILE_COMMANDS[command]
            outputs = [ro / name]
        else:
            source, argv = DIRECTORY_COMMANDS[command]
            outputs = [ro, ro / "new"]
        for out in outputs:
            source_path = inputs[source] if source else None
            fails_with_one_line(capsys, argv(source_path, out), source_path, str(ro), "cannot write")
        assert list(ro.iterdir()) == []


@pytest.mark.parametrize("command", [c for c in FILE_COMMANDS if c != "decode"])  # decode: a directory is a PNG sequence
def test_an_output_that_is_an_existing_directory(command, inputs, tmp_path, capsys):
    source, _, argv = FILE_COMMANDS[command]
    out = tmp_path / "adir"
    out.mkdir()
    fails_with_one_line(capsys, argv(inputs[source], out), inputs[source], str(out), "is a directory")
    assert list(out.iterdir()) == []
    no_partial_left(tmp_path)


@pytest.mark.parametrize("command", DIRECTORY_COMMANDS)
def test_a_directory_output_that_is_an_existing_file(command, inputs, tmp_path, capsys):
    source, argv = DIRECTORY_COMMANDS[command]
    out = tmp_path / "afile"
    out.write_bytes(b"keep me")
    fails_with_one_line(capsys, argv(inputs[source] if source else None, out), out, str(out), "not a directory")
    no_partial_left(tmp_path)


@pytest.mark.parametrize("command", [*FILE_COMMANDS, *DIRECTORY_COMMANDS])
def test_a_full_disk(command, inputs, tmp_path, monkeypatch, capsys):
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    if command in FILE_COMMANDS:
        source, name, argv = FILE_COMMANDS[command]
        out, where = tmp_path / name, tmp_path
    else:
        source, argv = DIRECTORY_COMMANDS[command]
        out = where = tmp_path / "dir"
        out.mkdir()
    (where / TEMPORARY[command]).symlink_to("/dev/full")
    source_path = inputs[source] if source else None
    if command == "decode":  # its first write is the first frame (or FFmpeg's buffer of it): it needs the generator
        monkeypatch.undo()
    fails_with_one_line(capsys, argv(source_path, out), source_path, "No space left on device")
    assert not os.path.lexists(where / TEMPORARY[command]), "the temporary file was left behind"
    if command in FILE_COMMANDS:
        assert not out.exists()


@pytest.mark.parametrize("spelling", ["same", "other spelling", "symlink", "hard link"])
def test_transcode_refuses_to_write_over_its_input(spelling, inputs, tmp_path, capsys):
    source = tmp_path / "in.mkv"
    shutil.copy(inputs["clip"], source)
    out = {"same": source, "other spelling": tmp_path / "." / ".." / tmp_path.name / "in.mkv",
           "symlink": tmp_path / "link.ptv", "hard link": tmp_path / "hard.ptv"}[spelling]
    if spelling == "symlink":
        out.symlink_to(source)
    elif spelling == "hard link":
        os.link(source, out)
    fails_with_one_line(capsys, ["transcode", str(source), str(out), *ENCODE], source, "the output is the input")
    no_partial_left(tmp_path)


@pytest.mark.parametrize("command", ["decode", "mux", "demux", "truncate"])
def test_the_other_commands_refuse_to_write_over_their_input(command, inputs, tmp_path, capsys):
    source, _, argv = FILE_COMMANDS[command]
    if command == "decode":
        source = "mkv"  # a Matroska stream decodes to Matroska video
    copy = tmp_path / inputs[source].name
    shutil.copy(inputs[source], copy)
    fails_with_one_line(capsys, argv(copy, copy), copy, "the output is the input")
    no_partial_left(tmp_path)


def test_mux_refuses_to_write_over_the_source_of_its_audio(inputs, tmp_path, capsys):
    source = tmp_path / "src.mkv"
    shutil.copy(inputs["clip"], source)
    fails_with_one_line(capsys, ["mux", str(inputs["ptv"]), str(source), "--with", str(source)], source,
                        "the output is the input")


def test_transcode_to_mkv_writes_matroska(inputs, tmp_path, monkeypatch, capsys):
    monkeypatch.undo()  # this one does the work
    out = tmp_path / "out.mkv"
    assert main(["transcode", str(inputs["clip"]), str(out), *ENCODE]) == 0
    assert is_matroska(out)
    assert main(["demux", str(out), str(tmp_path / "back.ptv")]) == 0
    assert (tmp_path / "back.ptv").read_bytes() == inputs["ptv"].read_bytes()
    no_partial_left(tmp_path)


def test_transcode_refuses_a_video_name_for_its_stream(inputs, tmp_path, capsys):
    fails_with_one_line(capsys, ["transcode", str(inputs["clip"]), str(tmp_path / "out.mp4"), *ENCODE],
                        inputs["clip"], "out.mp4", ".mkv", "ptcodec decode")
    assert list(tmp_path.iterdir()) == []
