"""The codec's command line: resume after a real kill, bad input, reproducible decodes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import torch

from ptcodec.cli import main
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.errors import PtcodecError
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.media import write_video
from ptcodec.ptv import PtvReader

ROOT = Path(__file__).resolve().parents[1]
ENCODE = ["--size", "64", "-K", "2", "--first-steps", "40", "--later-steps", "30", "--quiet"]


@pytest.fixture(scope="module")
def clip_path(tmp_path_factory) -> Path:
    torch.set_num_threads(2)
    path = tmp_path_factory.mktemp("clip") / "clip.mkv"
    write_video(path, reachable_clip(ReferenceGenerator(), frames=9, size=(64, 64), interval=2, seed=7),
                Fraction(30), codec="ffv1")
    return path


def cli(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="2")
    return subprocess.Popen([sys.executable, "-m", "ptcodec", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def partial_state(partial: Path) -> tuple[bool, int]:
    """(the sequence header and metadata are complete, complete keyframe units) of a partial
    file, read from a copy of its bytes."""
    try:
        reader = PtvReader(partial.read_bytes())
    except (OSError, PtcodecError):
        return False, 0
    names = []
    try:
        for record in reader.units():
            names.append(record.name)
    except PtcodecError:
        pass
    return names[:2] == ["sequence_header", "metadata"], names.count("keyframe")


KILL_ENCODE = ["--size", "64", "-K", "2", "--frames", "5", "--first-steps", "40", "--later-steps", "30", "--quiet"]
"""Keyframes 0, 2 and 4; each fit lasts long enough (a second or more) to be caught."""


@pytest.fixture(scope="module")
def whole_encode(clip_path, tmp_path_factory) -> bytes:
    whole = tmp_path_factory.mktemp("whole") / "whole.ptv"
    run = cli("transcode", str(clip_path), str(whole), *KILL_ENCODE)
    assert run.wait(timeout=600) == 0, run.stderr.read()
    return whole.read_bytes()


def stop_when(run: subprocess.Popen, partial: Path, state: tuple[bool, int]) -> None:
    """Freeze the encode (SIGSTOP) the moment its partial file is in `state`."""
    deadline = time.time() + 600
    while run.poll() is None and time.time() < deadline:
        if partial_state(partial) == state:
            os.kill(run.pid, signal.SIGSTOP)
            if partial_state(partial) == state:
                return
            os.kill(run.pid, signal.SIGCONT)
        time.sleep(0.02)
    raise AssertionError(f"the encode never stood at {state}: {run.poll()=}")


@pytest.mark.parametrize("moment", ["during the first fit", "during the second fit"])
@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM, signal.SIGINT], ids=lambda s: s.name)
def test_a_killed_encode_resumes_to_the_same_bytes(signum, moment, clip_path, whole_encode, tmp_path):
    """Before the first packet (keyframe 0 fitting) and while keyframe 2 fits, keyframe 0 on disk."""
    finished = 0 if moment == "during the first fit" else 1
    resumed = tmp_path / "resumed.ptv"
    partial = Path(str(resumed) + ".partial")
    run = cli("transcode", str(clip_path), str(resumed), *KILL_ENCODE)
    stop_when(run, partial, (True, finished))
    run.send_signal(signum)
    os.kill(run.pid, signal.SIGCONT)
    assert run.wait(timeout=600) == (-signal.SIGKILL if signum == signal.SIGKILL else 130)
    assert partial_state(partial) == (True, finished) and not resumed.exists()

    run = cli("transcode", str(clip_path), str(resumed), *KILL_ENCODE, "--resume")
    out, err = run.communicate(timeout=600)
    assert run.returncode == 0, err
    assert resumed.read_bytes() == whole_encode
    assert f"3 keyframes ({finished} kept from the partial stream)" in out  # the others were fitted, once
    assert not partial.exists()


def test_resume_refuses_a_partial_from_other_options(clip_path, tmp_path, capsys):
    out = tmp_path / "o.ptv"
    quick = [*ENCODE[:2], "--first-steps", "3", "--later-steps", "3", "-q"]
    assert main(["transcode", str(clip_path), str(out), *quick]) == 0
    out.rename(str(out) + ".partial")
    err = one_line_error(capsys, "transcode", str(clip_path), str(out), *quick, "--rank", "4", "--resume")
    assert "o.ptv.partial was made with other encoder options" in err
    err = one_line_error(capsys, "transcode", str(clip_path), str(out), *quick, "--size", "32", "--resume")
    assert "sequence header differs in width, height" in err
    err = one_line_error(capsys, "transcode", str(clip_path), str(tmp_path / "none.ptv"), *quick, "--resume")
    assert "none.ptv.partial: no interrupted encode to resume" in err


def one_line_error(capsys, *args: str) -> str:
    assert main(list(args)) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("ptcodec: error:") and "\n" not in err and "Traceback" not in err, err
    return err


def no_output_left(directory: Path) -> None:
    assert [p.name for p in directory.iterdir() if p.name.startswith("out")] == []


@pytest.mark.parametrize("case", ["missing", "empty", "text", "zero-frames", "truncated"])
def test_bad_input_video_gives_one_line_and_no_output(case, tmp_path, capsys):
    src = tmp_path / f"in-{case}.mp4"
    if case == "empty":
        src.write_bytes(b"")
    elif case == "text":
        src.write_text("this is not a video\n" * 10)
    elif case == "zero-frames":
        src = tmp_path / "in-zero.y4m"
        src.write_bytes(b"YUV4MPEG2 W64 H64 F30:1 Ip A1:1 C444\n")
    elif case == "truncated":
        write_video(src, np.zeros((20, 64, 64, 3), np.uint8), Fraction(30))
        data = src.read_bytes()
        src.write_bytes(data[: len(data) // 2])
    err = one_line_error(capsys, "transcode", str(src), str(tmp_path / "out.ptv"), *ENCODE)
    assert src.name in err
    no_output_left(tmp_path)


def test_too_large_for_every_level_and_unknown_generator(clip_path, tmp_path, capsys):
    err = one_line_error(capsys, "transcode", str(clip_path), str(tmp_path / "out.ptv"), *ENCODE[2:], "--size",
                         "8200x8")
    assert "no level admits 8200x8" in err
    no_output_left(tmp_path)
    err = one_line_error(capsys, "transcode", str(clip_path), str(tmp_path / "out.ptv"), "--generator", "nope")
    assert "generator 'nope' is not available" in err
    no_output_left(tmp_path)


def test_decoding_the_same_file_twice_gives_identical_output(clip_path, tmp_path, capsys):
    stream = tmp_path / "s.ptv"
    assert main(["transcode", str(clip_path), str(stream), *ENCODE[:2], "-K", "4", "--first-steps", "5",
                 "--later-steps", "5", "-q"]) == 0
    for name in ("a.mp4", "b.mp4", "a.y4m", "b.y4m"):
        assert main(["decode", str(stream), str(tmp_path / name), "-q"]) == 0
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()
    assert (tmp_path / "a.y4m").read_bytes() == (tmp_path / "b.y4m").read_bytes()
    assert main(["decode", str(stream), str(tmp_path / "png") + "/", "-q"]) == 0
    assert len(list((tmp_path / "png").glob("*.png"))) == 9
    assert "9 frames" in capsys.readouterr().out


def test_demo_writes_its_files_and_reports(tmp_path, capsys):
    assert main(["demo", "--dir", str(tmp_path / "demo"), "--frames", "6", "--quality", "fast", "-q"]) == 0
    out = capsys.readouterr().out
    assert "6 frames 128x128" in out and "PSNR" in out and "sd-turbo" in out
    for name in ("input.mkv", "demo.ptv", "decoded.mp4"):
        assert (tmp_path / "demo" / name).stat().st_size > 0
    with PtvReader(tmp_path / "demo" / "demo.ptv") as reader:
        assert reader.header.frame_count == 6 and reader.header.generator_id == "reference"


def test_the_1_1_flags_encode_a_1_1_stream_and_refuse_a_1_0_one(clip_path, tmp_path, capsys):
    out = tmp_path / "c.ptv"
    quick = [*ENCODE[:2], "--first-steps", "3", "--later-steps", "3", "-q"]
    assert main(["transcode", str(clip_path), str(out), *quick, "--coding", "1.1", "--rdoq", "1",
                 "--factor-bits", "7", "--latent-bits", "6"]) == 0
    with PtvReader(out) as reader:
        assert reader.header.version_minor == 1
    err = one_line_error(capsys, "transcode", str(clip_path), str(tmp_path / "d.ptv"), *quick, "--rdoq", "1")
    assert "rdoq_lambda is a tool of bitstream 1.1" in err
    # 50 kbit/s buys no rank at 15 keyframes/s (rank 1 alone takes (77 + 1024) bytes each): rank 1.
    assert main(["transcode", str(clip_path), str(tmp_path / "t.ptv"), *quick, "--target-kbps", "50"]) == 0
    with PtvReader(tmp_path / "t.ptv") as reader:
        assert {r.unit.rank for r in reader.units() if hasattr(r.unit, "rank")} == {1}
