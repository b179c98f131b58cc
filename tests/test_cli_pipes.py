"""Streams from pipes and FIFOs (issue 11, item 7): `-`, /dev/stdin, <(...) and os.mkfifo.

A .ptv stream is read front to back, so everything but random access works
from a source that cannot seek; what needs a second pass says so in one line.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import ptcodec
from ptcodec.conformance.vectors import default_vectors_dir
from ptcodec.errors import InputError
from ptcodec.ptv import PtvReader

REPO = Path(__file__).resolve().parents[1]
VECTORS = default_vectors_dir()
BASIC = VECTORS / "valid" / "basic" / "stream.ptv"
SCENES = VECTORS / "valid" / "scenes" / "stream.ptv"
BASIC_MKV = VECTORS / "mkv" / "basic" / "stream.mkv"


def ptcodec_cli(*args, stdin: bytes | None = None, shell: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    if shell is not None:
        command = ["bash", "-c", shell.replace("PTCODEC", f"{sys.executable} -m ptcodec")]
    else:
        command = [sys.executable, "-m", "ptcodec", *map(str, args)]
    return subprocess.run(command, input=stdin, capture_output=True, env=env, timeout=60, check=False)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    err = result.stderr.decode()
    assert result.returncode == 1 and "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@contextlib.contextmanager
def fifo(tmp_path: Path, data: bytes, name: str = "in.fifo"):
    """A named pipe that a thread fills with `data` once a reader opens it."""
    path = tmp_path / name
    os.mkfifo(path)

    def feed() -> None:
        with contextlib.suppress(BrokenPipeError), open(path, "wb") as f:
            f.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        yield path
    finally:
        if writer.is_alive():  # the reader never opened it, or stopped early: let the writer finish
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
            try:
                while writer.is_alive():
                    with contextlib.suppress(BlockingIOError):
                        os.read(fd, 1 << 16)
                    writer.join(0.01)
            finally:
                os.close(fd)


# --- info and validate -----------------------------------------------------------


@pytest.mark.parametrize("stream", [BASIC, BASIC_MKV], ids=["ptv", "mkv"])
def test_validate_and_info_read_standard_input(stream):
    data = stream.read_bytes()
    by_file = ptcodec_cli("info", stream)
    assert by_file.returncode == 0
    result = ptcodec_cli("validate", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().startswith("-: valid (")
    result = ptcodec_cli("info", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode().split("\n", 1)[1] == by_file.stdout.decode().split("\n", 1)[1]


def test_info_json_of_standard_input_is_the_files_dump():
    data = BASIC.read_bytes()
    piped = ptcodec_cli("info", "--json", "-", stdin=data)
    assert piped.returncode == 0, piped.stderr
    by_file = json.loads(ptcodec_cli("info", "--json", BASIC).stdout)
    dump = json.loads(piped.stdout)
    assert dump["file"] == "-" and {**dump, "file": str(BASIC)} == by_file


def test_dev_stdin_and_process_substitution_are_read_as_streams():
    result = ptcodec_cli("validate", "/dev/stdin", stdin=SCENES.read_bytes())
    assert result.returncode == 0 and b"valid (" in result.stdout, result.stderr
    result = ptcodec_cli(shell=f"PTCODEC info <(cat {SCENES})")
    assert result.returncode == 0 and b"scenes       2" in result.stdout, result.stderr
    result = ptcodec_cli(shell=f"PTCODEC info --json <(cat {SCENES})")
    assert result.returncode == 0 and len(json.loads(result.stdout)["units"]) == 8, result.stderr


def test_a_damaged_stream_from_a_pipe_names_the_byte():
    data = SCENES.read_bytes()
    line = one_line_error(ptcodec_cli("validate", "-", stdin=data[:-5]))
    # unit 7: the last of its 8 units (info --json counts them)
    assert line.startswith("ptcodec: error: TruncatedError: -, byte ") and "unit 7" in line


def test_validate_and_info_read_a_fifo(tmp_path):
    for stream in (SCENES, BASIC_MKV):
        with fifo(tmp_path, stream.read_bytes(), f"{stream.suffix}.fifo") as path:
            result = ptcodec_cli("validate", path)
        assert result.returncode == 0 and b"valid (" in result.stdout, result.stderr


# --- the reader on a forward-only source -------------------------------------------


class ForwardOnly(io.RawIOBase):
    """A file object that can only be read forward, like a pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(min(len(buffer), 7))  # short reads, as a pipe gives
        buffer[: len(chunk)] = chunk
        return len(chunk)


def test_the_reader_reads_a_forward_only_source_once():
    data = SCENES.read_bytes()
    expected = PtvReader(data)
    want_private, want_packets = expected.codec_private(), [(p.pts, p.data) for p in expected.packets()]
    reader = PtvReader(ForwardOnly(data))
    assert reader.codec_private() == want_private
    assert [(p.pts, p.data) for p in reader.packets()] == want_packets
    assert [(r.offset, r.size) for r in PtvReader(ForwardOnly(data)).units()] == [
        (r.offset, r.size) for r in PtvReader(data).units()]
    with pytest.raises(InputError, match="cannot seek") as info:
        reader.index()
    assert "\n" not in str(info.value)
    with pytest.raises(InputError, match="read only once"):
        list(reader.units())


def test_open_reads_a_fifo(tmp_path):
    with fifo(tmp_path, SCENES.read_bytes()) as path, ptcodec.open(path) as container:
        assert container.streams[0].header == PtvReader(SCENES).header
        assert [p.pts for p in container.demux()] == [p.pts for p in PtvReader(SCENES).packets()]


# --- decode and transcode of a FIFO ---------------------------------------------------


@pytest.mark.parametrize("stream", [SCENES, BASIC_MKV], ids=["ptv", "mkv"])
def test_decode_reads_a_fifo(tmp_path, stream):
    assert ptcodec_cli("decode", stream, tmp_path / "file.y4m", "-q").returncode == 0
    with fifo(tmp_path, stream.read_bytes()) as path:
        result = ptcodec_cli("decode", path, tmp_path / "fifo.y4m", "-q")
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fifo.y4m").read_bytes() == (tmp_path / "file.y4m").read_bytes()


def test_transcode_reads_a_fifo(tmp_path):
    from ptcodec.media import write_video

    rng = np.random.default_rng(3)
    frames = np.repeat(rng.integers(0, 256, (1, 64, 64, 3), dtype=np.uint8), 4, axis=0)
    write_video(tmp_path / "clip.mkv", frames, Fraction(30), codec="ffv1")
    options = ["--size", "64", "--interval", "2", "--first-steps", "2", "--later-steps", "1", "-q"]
    assert ptcodec_cli("transcode", tmp_path / "clip.mkv", tmp_path / "file.ptv", *options).returncode == 0
    with fifo(tmp_path, (tmp_path / "clip.mkv").read_bytes()) as path:
        result = ptcodec_cli("transcode", path, tmp_path / "fifo.ptv", *options)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "fifo.ptv").read_bytes() == (tmp_path / "file.ptv").read_bytes()


def test_mux_reads_standard_input(tmp_path):
    """mux reads its input once (codec private data, then the packets), so a pipe will do."""
    result = ptcodec_cli("mux", "-", tmp_path / "a.mkv", stdin=SCENES.read_bytes())
    assert result.returncode == 0, result.stderr
    assert ptcodec_cli("demux", tmp_path / "a.mkv", tmp_path / "b.ptv").returncode == 0
    assert (tmp_path / "b.ptv").read_bytes() == SCENES.read_bytes()
