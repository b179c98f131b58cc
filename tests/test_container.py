"""Prompt streams in Matroska, the PyAV-style API, seeking and damage."""

from __future__ import annotations

import warnings
from fractions import Fraction

import av
import numpy as np
import pytest
import torch

import ptcodec
from ptcodec.cli import main
from ptcodec.conformance.vectors import default_vectors_dir
from ptcodec.container.matroska import CODEC_TAG, PRIVATE_TAG, demux, mux, read_prompt_track, write_matroska
from ptcodec.decoder import DamageWarning
from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.jobs.decode import decode_file
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media import load_clip, write_video
from ptcodec.ptv import Metadata, Padding, PtvReader, ReservedUnit, serialize
from tests.conftest import SHARED_DATA, make_header, make_keyframe, tiny_scene

QUICK = StreamOptions(interval=3, max_scene_length=6), FitOptions(first_steps=20, later_steps=10)
SIZE = (64, 64)


@pytest.fixture(scope="module")
def gen() -> ReferenceGenerator:
    torch.set_num_threads(2)
    return ReferenceGenerator()


@pytest.fixture(scope="module")
def encoded(gen, tmp_path_factory):
    """A 14-frame reference-generator clip, its stream (access points at 0, 6, 12) and every decoded frame."""
    tmp = tmp_path_factory.mktemp("encoded")
    clip = reachable_clip(gen, frames=14, size=SIZE, interval=3, seed=11)
    write_video(tmp / "clip.mkv", clip, Fraction(30), codec="ffv1")
    transcode_file(tmp / "clip.mkv", tmp / "s.ptv", *QUICK, size=SIZE)
    frames = []
    decode_file(tmp / "s.ptv", tmp / "full.mkv", on_frame=frames.append)
    return tmp, clip, np.stack([f.image for f in frames])


@pytest.mark.parametrize("crc", [True, False])
def test_ptv_to_mkv_to_ptv_is_byte_identical(tmp_path, crc):
    header = make_header(crc_present=crc, frame_count=25)
    units = [Metadata((("title", b"x"),)), Padding(3), tiny_scene(header), make_keyframe(header, 0),
             ReservedUnit(9, b"\x01\x02"), make_keyframe(header, 10, seed=1), Metadata((("note", b"y"),)),
             tiny_scene(header, 12), make_keyframe(header, 12, seed=2)]
    data = serialize(header, units)
    (tmp_path / "a.ptv").write_bytes(data)
    result = mux(tmp_path / "a.ptv", tmp_path / "a.mkv")
    assert result.packets == 3
    assert demux(tmp_path / "a.mkv", tmp_path / "b.ptv") == 3
    assert (tmp_path / "b.ptv").read_bytes() == data


def test_mux_of_a_stream_without_frames_is_refused_in_one_line(tmp_path, capsys):
    """FFmpeg cannot read back a Matroska file without Blocks, so mux says so and writes nothing."""
    empty = default_vectors_dir() / "valid" / "empty" / "stream.ptv"
    assert list(PtvReader(empty).packets()) == []
    assert main(["mux", str(empty), str(tmp_path / "e.mkv")]) == 1
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "no temporal units" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_mkv_with_real_video_and_audio(encoded, tmp_path):
    chaplin = SHARED_DATA / "clips" / "chaplin.mp4"
    if not chaplin.exists():
        pytest.skip(f"{chaplin} not found (shared data is beside the repo, not in it)")
    tmp, _, _ = encoded
    mux(tmp / "s.ptv", tmp_path / "all.mkv", with_source=str(chaplin), with_video=True)
    with av.open(str(tmp_path / "all.mkv")) as container:
        streams = list(container.streams)
        assert [s.type for s in streams] == ["video", "video", "audio"]
        prompt = streams[0]
        assert prompt.codec_context.codec_tag == CODEC_TAG
        assert streams[1].codec_context.name == "h264"
        with PtvReader(tmp / "s.ptv") as reader:
            private = reader.codec_private()
            expected = [(p.pts, p.duration) for p in reader.packets()]
        assert bytes(prompt.codec_context.extradata) == private
        import base64

        assert base64.b64decode(prompt.metadata[PRIVATE_TAG]) == private
        got = [(p.pts * p.time_base, p.duration * p.time_base) for p in container.demux(prompt) if p.size]
    assert len(got) == len(expected)
    for (seconds, duration), (pts, frames) in zip(got, expected, strict=True):
        assert abs(seconds - Fraction(pts, 30)) <= Fraction(1, 1000)
        assert abs(duration - Fraction(frames, 30)) <= Fraction(1, 1000)
    assert read_prompt_track(tmp_path / "all.mkv").ptv_bytes() == (tmp / "s.ptv").read_bytes()
    # Decoding the MKV keeps the source's audio and gives the frames of the .ptv.
    frames = []
    decode_file(tmp_path / "all.mkv", tmp_path / "out.mkv", on_frame=frames.append)
    assert np.array_equal(np.stack([f.image for f in frames]), encoded[2])
    with av.open(str(tmp_path / "out.mkv")) as out:
        assert [s.type for s in out.streams] == ["video", "audio"]


def test_decoding_from_mkv_equals_decoding_from_ptv_and_cli_works_on_mkv(encoded, tmp_path, capsys):
    tmp, _, full = encoded
    assert main(["mux", str(tmp / "s.ptv"), str(tmp_path / "s.mkv")]) == 0
    assert main(["info", str(tmp_path / "s.mkv")]) == 0
    assert "access at    0.000 s, 0.200 s, 0.400 s" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "s.mkv")]) == 0
    assert main(["decode", str(tmp_path / "s.mkv"), str(tmp_path / "out.mkv"), "-q", "--codec", "ffv1"]) == 0
    assert np.array_equal(load_clip(tmp_path / "out.mkv").frames, full)


def test_the_api_frame_by_frame_gives_the_cli_stream_and_frames(gen, encoded):
    tmp, _, full = encoded
    source = load_clip(tmp / "clip.mkv")
    encoder = ptcodec.Encoder(gen, *QUICK, width=64, height=64, fps=30, frame_count=len(source.frames))
    packets = []
    with av.open(str(tmp / "clip.mkv")) as container:
        for frame in container.decode(video=0):
            packets += encoder.encode(frame)
    packets += encoder.encode(None)
    assert encoder.codec_private + b"".join(p.data for p in packets) == (tmp / "s.ptv").read_bytes()
    assert [p.is_keyframe for p in packets] == [p.pts in (0, 6, 12) for p in packets]
    assert all(p.time_base == Fraction(1, 30) and p.duration > 0 for p in packets)

    decoder = ptcodec.Decoder.load(encoder.codec_private, gen)
    frames = [f for p in packets for f in decoder.decode(p)] + decoder.decode(None)
    assert [f.pts for f in frames] == list(range(14)) and frames[0].time_base == Fraction(1, 30)
    assert np.array_equal(np.stack([f.to_ndarray(format="rgb24") for f in frames]), full)

    with ptcodec.open(tmp / "s.ptv") as container:
        assert container.streams[0].frames == 14 and container.access_points() == [0, 6, 12]
        assert [p.data for p in container.demux()] == [p.data for p in packets]
        assert np.array_equal(np.stack([f.to_ndarray(format="rgb24") for f in container.decode(generator=gen)]), full)


@pytest.mark.parametrize("start,duration", [(0.0, 0.1), (0.1, 0.2), (0.2, 0.1), (0.3, 0.2), (0.4, 1.0)])
def test_seeking_gives_the_frames_of_a_full_decode(encoded, tmp_path, start, duration):
    tmp, _, full = encoded
    frames = []
    decode_file(tmp / "s.ptv", tmp_path / "part.mkv", start=start, duration=duration,
                on_frame=frames.append)
    first = round(start * 30)
    last = min(first + round(duration * 30), 14)
    assert [f.index for f in frames] == list(range(first, last))
    assert np.array_equal(np.stack([f.image for f in frames]), full[first:last])


def damaged_mkv(tmp, target, how: str) -> None:
    """The stream as MKV with the Block of frame 7's keyframe bit-flipped or left out."""
    with PtvReader(tmp / "s.ptv") as reader:
        header, private, packets = reader.header, reader.codec_private(), list(reader.packets())
    victim = next(i for i, p in enumerate(packets) if p.pts == 9)
    if how == "flip":
        data = bytearray(packets[victim].data)
        data[len(data) // 2] ^= 0x10
        packets[victim] = type(packets[victim])(bytes(data), packets[victim].pts, packets[victim].duration,
                                                packets[victim].time_base, packets[victim].is_keyframe)
    else:
        del packets[victim]
    write_matroska(target, header, private, packets)


@pytest.mark.parametrize("how", ["flip", "cut"])
def test_a_damaged_or_missing_block_warns_and_decoding_goes_on(encoded, tmp_path, how):
    tmp, _, full = encoded
    damaged_mkv(tmp, tmp_path / "bad.mkv", how)
    frames = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        decode_file(tmp_path / "bad.mkv", tmp_path / "out.mkv", on_frame=frames.append)
    messages = [str(w.message) for w in caught if issubclass(w.category, DamageWarning)]
    assert len(messages) == 1 and "0.300 s (frame 9)" in messages[0], messages
    assert [f.index for f in frames] == list(range(14))
    images = np.stack([f.image for f in frames])
    # Frames before the damaged unit's segment and from the next access point on are intact ...
    assert np.array_equal(images[:6], full[:6]) and np.array_equal(images[12:], full[12:])
    # ... and the gap holds the last good frame.
    assert all(f.concealed for f in frames[7:12]) and all(np.array_equal(images[t], images[6]) for t in range(7, 12))


def test_cli_decode_of_a_damaged_mkv_prints_one_warning(encoded, tmp_path, capsys):
    tmp, _, _ = encoded
    damaged_mkv(tmp, tmp_path / "bad.mkv", "flip")
    assert main(["decode", str(tmp_path / "bad.mkv"), str(tmp_path / "o.mp4"), "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count("ptcodec: warning: damaged packet") == 1 and "Traceback" not in err
