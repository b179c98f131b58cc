"""Every command and code block of the README runs as written (issue 11: "every statement in
the README that can be run is run by a test").

Blocks run in document order in one scratch directory, in which the test first
puts the inputs the README names: `in.mp4` (30 frames, 128 x 128), `movie.mp4`
(a short clip with an audio track) and `sky.ptv` (a prompt stream). A block that
cannot run here says why in an HTML comment just before it
(`<!-- not run by tests/test_readme.py: ... -->`); its ptcodec commands must
still parse. The two fresh-machine commands run from their first step after
the set-up (the test environment is that set-up), and the test command must be
exactly what CI runs.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.conformance.vectors import default_vectors_dir

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"(?:<!--(?P<note>[^>]*)-->\n)?```(?P<lang>\w+)\n(?P<body>.*?)```", re.S)
NOT_RUN = "not run by tests/test_readme.py:"
SETUP = ("python3 -m venv .venv", ". .venv/bin/activate", "pip install ")


def blocks() -> list[tuple[str, str, str | None]]:
    """(language, body, reason it is not run or None) of every fenced sh and python block."""
    out = []
    for m in BLOCK.finditer(README):
        note = (m.group("note") or "").strip()
        reason = note[len(NOT_RUN):].strip() if note.startswith(NOT_RUN) else None
        if m.group("lang") in ("sh", "python"):
            out.append((m.group("lang"), m.group("body"), reason))
    return out


def fresh_machine_commands() -> dict[str, str]:
    """The README's two one-line commands for a fresh machine: main job and tests."""
    lines = [b for lang, b, _ in blocks() if lang == "sh" and b.startswith("python3 -m venv")]
    assert len(lines) == 2, lines
    return {"demo" if "ptcodec demo" in b else "tests": b.strip() for b in lines}


def split_setup(command: str) -> tuple[list[str], list[str]]:
    steps = [s.strip() for s in command.split("&&")]
    setup = [s for s in steps if s.startswith(SETUP)]
    assert steps[: len(setup)] == setup, f"set-up steps must come first: {command}"
    return setup, steps[len(setup):]


def env() -> dict[str, str]:
    """The test's own environment, with its interpreter's scripts (`ptcodec`) first on PATH."""
    return dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                PYTHONPATH=str(ROOT))


def test_the_test_command_is_what_ci_runs():
    setup, rest = split_setup(fresh_machine_commands()["tests"])
    assert rest == ["python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text()
    for step in setup:
        assert step.replace("pip install ", "pip install -q ") in ci or step in ci, step
    assert "python -m pytest" in ci


def test_every_block_is_run_or_says_why_not_and_its_commands_parse():
    from ptcodec.cli import build_parser

    for lang, body, reason in blocks():
        if reason is None:
            continue
        assert reason, "a block that is not run must say why"
        assert lang == "sh", "every python block must run"
        for line in body.splitlines():
            command = line.split("#")[0].strip()
            if command.startswith("ptcodec "):
                build_parser().parse_args(shlex.split(command)[1:])  # exits (fails the test) on a bad option


def write_inputs(directory: Path) -> None:
    import av

    from ptcodec.encoder.reachable import reachable_clip
    from ptcodec.generators import load_generator
    from ptcodec.media import write_video

    clip = reachable_clip(load_generator("reference"), frames=30, size=(128, 128), interval=10, seed=3)
    write_video(directory / "in.mp4", clip, Fraction(30), codec="h264")
    with av.open(str(directory / "movie.mp4"), "w") as out:  # 12 frames and 0.4 s of a 440 Hz tone
        video = out.add_stream("libx264", rate=30)
        video.width = video.height = 128
        video.pix_fmt = "yuv420p"
        audio = out.add_stream("aac", rate=48000)
        for image in clip[:12]:
            out.mux(video.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(19200) / 48000)).astype(np.float32)[None]
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 48000
        out.mux(audio.encode(frame))
        out.mux(video.encode(None))
        out.mux(audio.encode(None))
    shutil.copy(default_vectors_dir() / "valid" / "sky_import" / "stream.ptv", directory / "sky.ptv")


def run_sh(command: str, cwd: Path) -> str:
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=cwd, env=env(), capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done.stdout


def test_the_main_job_command_runs(tmp_path):
    _, rest = split_setup(fresh_machine_commands()["demo"])
    out = run_sh(" && ".join(rest), tmp_path)
    assert (tmp_path / "ptcodec-demo" / "decoded.mp4").stat().st_size > 0
    assert "generated frames vs input" in out and "decoded.mp4 as stored vs input" in out


def test_every_other_block_runs_as_written(tmp_path):
    write_inputs(tmp_path)
    fresh = set(fresh_machine_commands().values())
    ran = 0
    for lang, body, reason in blocks():
        if reason is not None or body.strip() in fresh:
            continue
        if lang == "sh":
            run_sh(body, tmp_path)
        else:
            done = subprocess.run([sys.executable, "-c", body], cwd=tmp_path, env=env(), capture_output=True,
                                  text=True, timeout=1200)
            assert done.returncode == 0, f"{body}\n{done.stderr[-3000:]}"
        ran += 1
    assert ran >= 3
    assert (tmp_path / "movie.mkv").exists() and (tmp_path / "regenerated.mp4").exists()
