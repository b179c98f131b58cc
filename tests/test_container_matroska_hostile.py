"""Matroska input never gives a traceback (issue 11, item 4).

Damaged Matroska files reach `ptcodec.open`, `info`, `validate`, `demux`,
`decode` and `mux --with`; each must end in one line naming the problem (a
`PtcodecError`), or in output, never in another exception.
"""

from __future__ import annotations

import base64
import contextlib
import io
import random
import warnings
from pathlib import Path

import pytest

import ptcodec
from ptcodec.cli import main
from ptcodec.conformance.vectors import default_vectors_dir
from ptcodec.container.matroska import PRIVATE_TAG, read_prompt_track, write_matroska
from ptcodec.errors import InputError, PtcodecError
from ptcodec.ptv import PtvReader
from tests.mutations import mutate

REPO = Path(__file__).resolve().parents[1]
VECTORS = default_vectors_dir()
BASIC_MKV = VECTORS / "mkv" / "basic" / "stream.mkv"
SCENES = VECTORS / "valid" / "scenes" / "stream.ptv"


def run_cli(*argv) -> tuple[int, str]:
    """`ptcodec ARGV` in this process: (exit status, stderr). Any exception fails the test."""
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = main([str(a) for a in argv])
    return status, err.getvalue()


def patched(tmp_path: Path, old: bytes, new: bytes) -> Path:
    data = BASIC_MKV.read_bytes()
    assert data.count(old) == 1
    path = tmp_path / "patched.mkv"
    path.write_bytes(data.replace(old, new))
    return path


def without_codec_private(tmp_path: Path, tag: str) -> Path:
    """basic.mkv with its CodecPrivate element renamed to an unknown element, and this PTV_CODEC_PRIVATE tag."""
    data = BASIC_MKV.read_bytes()
    private = read_prompt_track(BASIC_MKV).codec_private
    at = data.index(b"\x63\xa2" + bytes([0x80 | len(private)]) + private)
    data = data[:at] + b"\x63\xa3" + data[at + 2 :]
    good = base64.b64encode(private)
    assert len(tag) == len(good)
    path = tmp_path / "tagged.mkv"
    path.write_bytes(data.replace(good, tag.encode()))
    return path


def assert_refused_in_one_line(path: Path, message: str) -> None:
    with pytest.raises(PtcodecError, match=message):
        ptcodec.open(path)
    for argv in (["info", path], ["info", "--json", path], ["validate", path], ["demux", path, path.with_suffix(".ptv")]):
        status, err = run_cli(*argv)
        assert status == 1 and len(err.strip().splitlines()) == 1 and message in err, (argv, err)


def test_the_tag_is_used_when_codec_private_is_missing(tmp_path):
    """The control for the next test: the renamed CodecPrivate really is gone, and the tag stands in."""
    good = base64.b64encode(read_prompt_track(BASIC_MKV).codec_private).decode()
    path = without_codec_private(tmp_path, good)
    assert read_prompt_track(path).ptv_bytes() == (VECTORS / "valid" / "basic" / "stream.ptv").read_bytes()


def test_a_tag_that_is_not_base64_is_one_line(tmp_path):
    good = base64.b64encode(read_prompt_track(BASIC_MKV).codec_private).decode()
    assert_refused_in_one_line(without_codec_private(tmp_path, "!" + good[1:]), f"{PRIVATE_TAG} tag is not valid base64")


def test_a_prompt_track_without_a_codec_is_one_line(tmp_path):
    """An unknown CodecID: FFmpeg gives the track no codec context at all."""
    assert_refused_in_one_line(patched(tmp_path, b"V_UNCOMPRESSED", b"V_UNCOMPRESSEX"), "no codec FFmpeg knows")


def test_a_fourcc_that_is_not_text_is_one_line(tmp_path):
    assert_refused_in_one_line(patched(tmp_path, b"PTV1", b"\xffTV1"), "no prompt track")


def test_mux_with_a_source_ffmpeg_cannot_copy_is_one_line(tmp_path):
    """A prompt track (or a damaged one) is no video FFmpeg copies; a cut file does not open."""
    import numpy as np

    from ptcodec.media import write_video

    write_video(tmp_path / "clip.mkv", np.zeros((2, 64, 64, 3), np.uint8), 30, codec="ffv1")
    status, err = run_cli("mux", SCENES, tmp_path / "out.mkv", "--with", tmp_path / "clip.mkv", "--with-video")
    assert status == 0 and err == ""  # the control: a video track is copied
    for source in (BASIC_MKV, patched(tmp_path, b"PTV1", b"\xffTV1")):
        status, err = run_cli("mux", SCENES, tmp_path / "out2.mkv", "--with", source, "--with-video")
        assert status == 1 and len(err.strip().splitlines()) == 1 and str(source) in err, err
    (tmp_path / "cut.mkv").write_bytes(BASIC_MKV.read_bytes()[:200])
    status, err = run_cli("mux", SCENES, tmp_path / "out3.mkv", "--with", tmp_path / "cut.mkv")
    assert status == 1 and len(err.strip().splitlines()) == 1 and "cut.mkv" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mkv", "cut.mkv", "out.mkv", "patched.mkv"]


def first_block_dropped(tmp_path: Path) -> Path:
    """valid/scenes (access points at frames 0 and 4) as Matroska without its first Block."""
    with PtvReader(SCENES) as reader:
        header, private, packets = reader.header, reader.codec_private(), list(reader.packets())
    assert [p.pts for p in packets if p.is_keyframe] == [0, 4] and packets[0].is_keyframe
    path = tmp_path / "cut.mkv"
    write_matroska(path, header, private, packets[1:])
    return path


def test_decoding_starts_at_the_first_access_point_when_the_first_block_is_missing(tmp_path):
    from ptcodec.decoder import DamageWarning
    from ptcodec.generators.reference import ReferenceGenerator
    from ptcodec.jobs.decode import decode_file

    path = first_block_dropped(tmp_path)
    gen = ReferenceGenerator()
    full = [f.to_ndarray(format="rgb24") for f in ptcodec.open(SCENES).decode(generator=gen)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frames = list(ptcodec.open(path).decode(generator=gen))
    messages = [str(w.message) for w in caught if issubclass(w.category, DamageWarning)]
    assert len(messages) == 1 and "frame 4" in messages[0], messages
    assert [f.pts for f in frames] == list(range(4, 9))
    assert all((f.to_ndarray(format="rgb24") == full[f.pts]).all() for f in frames)
    # The same through decode_file and the command line.
    decoded = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        decode_file(path, tmp_path / "out.y4m", on_frame=decoded.append)
    assert [f.index for f in decoded] == list(range(4, 9))
    status, err = run_cli("decode", path, tmp_path / "cli.y4m", "-q")
    assert status == 0 and err.count("ptcodec: warning:") == 1 and "Traceback" not in err, err


def test_a_stream_without_an_access_point_is_one_line(tmp_path):
    from ptcodec.generators.reference import ReferenceGenerator

    with PtvReader(SCENES) as reader:
        header, private, packets = reader.header, reader.codec_private(), list(reader.packets())
    write_matroska(tmp_path / "none.mkv", header, private, [p for p in packets if not p.is_keyframe])
    with pytest.raises(PtcodecError, match="no random access point"):
        list(ptcodec.open(tmp_path / "none.mkv").decode(generator=ReferenceGenerator()))


def test_access_points_of_a_damaged_track_are_its_scene_starts(tmp_path):
    with ptcodec.open(first_block_dropped(tmp_path)) as container:
        assert container.access_points() == [4]


# --- bounded fuzz ------------------------------------------------------------------

FUZZ_CASES = 1000
FUZZ_SOURCES = sorted((VECTORS / "mkv").glob("*/stream.mkv"))


def through_open(path: Path) -> None:
    try:
        with ptcodec.open(path) as container:
            list(container.demux())
            container.access_points()
    except PtcodecError:
        pass


def test_mutated_matroska_gives_only_ptcodec_errors(tmp_path):
    """Seeded mutations of the committed Matroska vectors through open, info, validate and demux."""
    rng = random.Random(11)
    sources = [p.read_bytes() for p in FUZZ_SOURCES]
    path, out = tmp_path / "m.mkv", tmp_path / "o.ptv"
    refused = 0
    for case in range(FUZZ_CASES):
        path.write_bytes(mutate(rng.choice(sources), rng, focus=1024))
        through_open(path)
        for argv in (["info", path], ["info", "--json", path], ["validate", path], ["demux", path, out]):
            status, err = run_cli(*argv)
            assert status in (0, 1) and "Traceback" not in err, (case, argv, err)
            refused += status
        if case % 10 == 0:
            status, err = run_cli("mux", SCENES, tmp_path / "with.mkv", "--with", path, "--with-video")
            assert status in (0, 1) and "Traceback" not in err, (case, err)
    assert refused > FUZZ_CASES  # the mutations do reach the parsers


def test_ptcodec_open_refuses_what_is_not_a_file(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        ptcodec.open(tmp_path / "missing.mkv")
    with pytest.raises(InputError, match="directory"):
        ptcodec.open(tmp_path)


DECODE_CASES = 200


def test_decoding_mutated_matroska_gives_only_ptcodec_errors(tmp_path):
    """Seeded mutations decoded with the reference generator: damaged Blocks are
    concealed or left out, and the decoder never meets a keyframe of a scene it did not see."""
    import torch

    from ptcodec.generators.reference import ReferenceGenerator

    torch.set_num_threads(1)
    gen = ReferenceGenerator()
    rng = random.Random(5)
    sources = [(VECTORS / "mkv" / name / "stream.mkv").read_bytes() for name in ("scenes", "hold", "basic")]
    path = tmp_path / "m.mkv"
    decoded = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(DECODE_CASES):
            path.write_bytes(mutate(rng.choice(sources), rng, focus=1024))
            try:
                with ptcodec.open(path) as container:
                    decoded += sum(1 for _ in container.decode(generator=gen))
            except PtcodecError:
                pass
    assert decoded > 0
