"""ptcodec.media: reading video at the codec's geometry and rate, writing it back
atomically and reproducibly, the 8-bit sample conversions, and one clear
InputError line for every unusable input."""

from __future__ import annotations

import re
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ptcodec.errors import InputError, PtcodecError
from ptcodec.media import (
    Geometry,
    VideoWriter,
    load_clip,
    output_size,
    probe,
    read_frames,
    write_video,
)
from ptcodec.metrics import psnr

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CLIPS = SHARED_DATA / "clips"


# --- synthetic clips, made with PyAV directly (independent of the writer) ----


def gradients(count: int = 16, width: int = 96, height: int = 64) -> np.ndarray:
    """Moving colour gradients, smooth enough for lossy codecs to keep them well."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([(xx * 2 + 5 * i) % 256, (yy * 3 + 7 * i) % 256, (xx + yy + 11 * i) % 256], axis=-1)
        for i in range(count)
    ]
    return np.asarray(frames, dtype=np.uint8)


def numbered(count: int = 16, width: int = 96, height: int = 64) -> np.ndarray:
    """Flat frames whose red value is 15 * index, to tell frames apart after resampling."""
    frames = np.zeros((count, height, width, 3), np.uint8)
    frames[..., 0] = (15 * np.arange(count, dtype=np.uint8))[:, None, None]
    frames[..., 1] = 100
    return frames


def make_clip(
    path: Path,
    frames: np.ndarray,
    fps: int = 30,
    *,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    audio: bool = False,
    options: dict[str, str] | None = None,
) -> Path:
    with av.open(str(path), "w", options=options or {}) as container:
        video = container.add_stream(codec, rate=fps)
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], pix_fmt
        sound = None
        if audio:
            sound = container.add_stream("aac", rate=16000)
            sound.layout = "mono"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
        if sound is not None:
            samples = 16000 * len(frames) // fps
            tone = (0.1 * np.sin(np.arange(samples) * 0.05)).astype(np.float32)[None]
            _mux_audio(container, sound, tone, "fltp")
    return path


def _mux_audio(container, sound, samples: np.ndarray, fmt: str) -> None:
    """Encode one mono 16 kHz chunk starting at 0, then flush the encoder."""
    chunk = av.AudioFrame.from_ndarray(samples, format=fmt, layout="mono")
    chunk.sample_rate, chunk.pts = 16000, 0
    for packet in [*sound.encode(chunk), *sound.encode()]:
        container.mux(packet)


def make_audio_only(path: Path, codec: str = "aac", fmt: str = "fltp") -> Path:
    with av.open(str(path), "w") as container:
        sound = container.add_stream(codec, rate=16000)
        sound.layout = "mono"
        dtype = np.float32 if fmt.startswith("flt") else np.int16
        _mux_audio(container, sound, np.zeros((1, 16000), dtype), fmt)
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {
        "mp4": make_clip(root / "grad.mp4", gradients()),
        "audio_mp4": make_clip(root / "grad_audio.mp4", gradients(), audio=True),
        "numbered_mkv": make_clip(root / "numbered.mkv", numbered(), codec="ffv1", pix_fmt="bgr0"),
        "numbered_mp4": make_clip(root / "numbered.mp4", numbered(), pix_fmt="yuv444p"),
    }


def read_all(path: Path | str, **options) -> np.ndarray:
    return np.stack(list(read_frames(path, **options)))


def frame_ids(frames: np.ndarray) -> list[int]:
    """Which `numbered` frame each frame is (red = 15 * index, within codec error)."""
    return [int(round(float(f[..., 0].mean()) / 15)) for f in frames]


def test_import_media_does_not_import_torch() -> None:
    code = "import sys, ptcodec.media; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# --- geometry ----------------------------------------------------------------


def test_output_size_crop_and_keep() -> None:
    assert output_size(96, 64, None, "crop", 8) == (64, 64)
    assert output_size(100, 70, None, "crop", 8) == (64, 64)
    assert output_size(96, 64, (32, 16), "crop", 8) == (32, 16)
    assert output_size(640, 360, 256, "keep", 8) == (256, 144)
    assert output_size(640, 360, (256, 256), "keep", 8) == (256, 144)
    assert output_size(360, 640, (256, 256), "keep", 8) == (144, 256)
    assert output_size(100, 70, None, "keep", 8) == (96, 64)
    assert output_size(96, 64, (64, 64), "keep", 8) == (64, 40)
    assert output_size(4, 4, None, "keep", 8) == (8, 8)
    assert Geometry((32, 16), "crop", 8).crop_box(96, 64) == (0, 8, 96, 48)
    assert Geometry(None, "crop", 8).crop_box(96, 64) == (16, 0, 64, 64)


@given(
    st.integers(1, 4000),
    st.integers(1, 4000),
    st.sampled_from([1, 2, 8, 16]),
    st.integers(1, 64),
    st.integers(1, 64),
    st.sampled_from(["crop", "keep"]),
)
def test_output_size_properties(src_w: int, src_h: int, m: int, box_w: int, box_h: int, fit: str) -> None:
    size = (box_w * m, box_h * m)
    width, height = output_size(src_w, src_h, size, fit, m)
    assert width % m == 0 and height % m == 0 and width >= m and height >= m
    if fit == "crop":
        assert (width, height) == size
    else:
        assert width <= size[0] and height <= size[1]
        assert width == size[0] or height == size[1] or min(width, height) == m or min(src_w, src_h) < m


@pytest.mark.parametrize(
    "size, fit, multiple",
    [((30, 30), "crop", 8), ((0, 64), "crop", 8), ((64, 64), "stretch", 8), ((64, -8), "keep", 8), ("64", "crop", 8)],
)
def test_bad_geometry_is_an_input_error(clips: dict[str, Path], size, fit: str, multiple: int) -> None:
    with pytest.raises(InputError, match="size|fit"):
        output_size(96, 64, size, fit, multiple)
    with pytest.raises(InputError) as info:
        read_frames(clips["mp4"], size=size, fit=fit, multiple=multiple)
    assert clips["mp4"].name in str(info.value)


def test_centred_crop_keeps_the_centre(tmp_path: Path) -> None:
    """Blue frame, green side bands, red centre: the crop drops the bands and centres the red."""
    frame = np.zeros((64, 96, 3), np.uint8)
    frame[..., 2] = 255
    frame[:, :16] = (0, 255, 0)
    frame[:, 80:] = (0, 255, 0)
    frame[16:48, 32:64] = (255, 0, 0)
    path = make_clip(tmp_path / "centre.mkv", np.stack([frame] * 2), codec="ffv1", pix_fmt="bgr0")

    square = read_all(path)  # crop, no size: the centred 64 x 64 square as it is
    assert square.shape == (2, 64, 64, 3)
    assert np.array_equal(square[0], frame[:, 16:80])

    small = read_all(path, size=(32, 32))
    assert small.shape == (2, 32, 32, 3)
    assert np.abs(small[0, 8:24, 8:24].astype(int) - (255, 0, 0)).max() <= 2
    assert np.abs(small[0, :4, :4].astype(int) - (0, 0, 255)).max() <= 2
    assert (small[0, ..., 1] < 10).all()  # no trace of the green side bands

    wide = read_all(path, size=(32, 16))  # 2:1 crop keeps the full width, rows 8 .. 56
    assert wide.shape == (2, 16, 32, 3)
    assert np.abs(wide[0, 8, 16].astype(int) - (255, 0, 0)).max() <= 2
    assert wide[0, 8, 0, 1] > 245  # the left band survives a full-width crop

    kept = read_all(path, size=(48, 48), fit="keep", multiple=8)
    assert kept.shape == (2, 32, 48, 3)


# --- reading -----------------------------------------------------------------


def test_probe_synthetic(clips: dict[str, Path]) -> None:
    info = probe(clips["mp4"])
    assert (info.width, info.height, info.fps, info.frame_count, info.codec, info.has_audio) == (
        96, 64, Fraction(30), 16, "h264", False,
    )
    assert probe(clips["audio_mp4"]).has_audio
    mkv = probe(clips["numbered_mkv"])  # Matroska does not count frames: packets are counted
    assert (mkv.fps, mkv.frame_count, mkv.codec) == (Fraction(30), 16, "ffv1")


def test_read_frames_shapes_and_order(clips: dict[str, Path]) -> None:
    frames = read_all(clips["numbered_mkv"], fit="keep")
    assert frames.shape == (16, 64, 96, 3) and frames.dtype == np.uint8
    assert np.array_equal(frames, numbered())
    clip = load_clip(clips["numbered_mkv"], size=(32, 32))
    assert clip.frames.shape == (16, 32, 32, 3) and clip.fps == 30 and clip.info.frame_count == 16


@pytest.mark.parametrize("name", ["numbered_mkv", "numbered_mp4"])
@pytest.mark.parametrize(
    "fps, expected",
    [
        (30, list(range(16))),
        (15, list(range(0, 16, 2))),
        (10, [0, 3, 6, 9, 12, 15]),
        (25, [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 12, 13, 14, 15]),
        (60, [i // 2 for i in range(32)]),
    ],
)
def test_fps_resampling_by_timestamp(clips: dict[str, Path], name: str, fps: int, expected: list[int]) -> None:
    """Output frame i is the source frame shown at i / fps (Matroska's 1 ms ticks included)."""
    frames = read_all(clips[name], fit="keep", fps=Fraction(fps))
    assert frame_ids(frames) == expected


def test_start_and_max_frames(clips: dict[str, Path]) -> None:
    path = clips["numbered_mkv"]
    assert frame_ids(read_all(path, fit="keep", start=3, max_frames=5)) == [3, 4, 5, 6, 7]
    assert frame_ids(read_all(path, fit="keep", start=14)) == [14, 15]
    assert frame_ids(read_all(path, fit="keep", fps=15, start=2, max_frames=3)) == [4, 6, 8]
    assert frame_ids(read_all(path, fit="keep", fps=60, start=5, max_frames=3)) == [2, 3, 3]
    assert list(read_frames(path, max_frames=0)) == []
    assert list(read_frames(path, start=100)) == []
    clip = load_clip(path, fit="keep", start=10, max_frames=100)
    assert frame_ids(clip.frames) == list(range(10, 16))
    with pytest.raises(InputError, match="no frames"):
        load_clip(path, start=100)


# --- writing -----------------------------------------------------------------


def test_ffv1_round_trip_is_exact(tmp_path: Path) -> None:
    noise = np.random.default_rng(1).integers(0, 256, (5, 37, 51, 3), dtype=np.uint8)
    path = tmp_path / "noise.mkv"
    assert write_video(path, noise, Fraction(24)) == 5
    assert probe(path).codec == "ffv1"
    assert np.array_equal(read_all(path, fit="keep", multiple=1), noise)
    h264_in_mkv = tmp_path / "lossy.mkv"
    write_video(h264_in_mkv, gradients(4), 24, codec="h264")
    assert probe(h264_in_mkv).codec == "h264"


@pytest.mark.parametrize("target", ["seq/", "frames_dir", "pattern/img_%03d.png"])
def test_png_sequence_round_trip_is_exact(tmp_path: Path, target: str) -> None:
    frames = np.random.default_rng(2).integers(0, 256, (4, 24, 40, 3), dtype=np.uint8)
    if target == "frames_dir":
        (tmp_path / target).mkdir()
        (tmp_path / target / "keep.txt").write_text("not ours")
    write_video(f"{tmp_path}/{target}", frames, 30)  # keeps a trailing "/"
    directory = tmp_path / target.split("/")[0]
    pattern = "img_%03d.png" if "%" in target else "frame_%05d.png"
    names = sorted(p.name for p in directory.iterdir())
    assert [n for n in names if n.endswith(".png")] == [pattern % i for i in range(4)]
    assert not [n for n in names if "partial" in n] and not list(tmp_path.glob("*partial*"))
    back = read_all(directory / pattern, fit="keep", multiple=1)
    assert np.array_equal(back, frames)
    assert probe(directory / pattern).frame_count == 4


@pytest.mark.parametrize("name", ["out.mp4", "out.mov", "out.y4m"])
def test_lossy_round_trips_are_close(tmp_path: Path, name: str) -> None:
    frames = gradients()
    fps = Fraction(30000, 1001)
    write_video(tmp_path / name, frames, fps)
    info = probe(tmp_path / name)
    assert (info.fps, info.frame_count, info.width, info.height) == (fps, 16, 96, 64)
    back = read_all(tmp_path / name, fit="keep")
    assert psnr(frames, back) > 35
    assert not list(tmp_path.glob("*partial*"))


@pytest.mark.parametrize("fps", [Fraction(24), Fraction(25), Fraction(30000, 1001), Fraction(10)])
@pytest.mark.parametrize("name", ["a.mp4", "a.mkv", "a.y4m"])
def test_written_files_read_back_with_rate_and_count(tmp_path: Path, name: str, fps: Fraction) -> None:
    write_video(tmp_path / name, gradients(7), fps)
    info = probe(tmp_path / name)
    assert (info.fps, info.frame_count) == (fps, 7)
    assert len(list(read_frames(tmp_path / name, fit="keep"))) == 7


def test_h264_is_deterministic(tmp_path: Path) -> None:
    frames = gradients(12)
    write_video(tmp_path / "a.mp4", frames, 30)
    write_video(tmp_path / "b.mp4", frames, 30)
    assert (tmp_path / "a.mp4").read_bytes() == (tmp_path / "b.mp4").read_bytes()


@pytest.mark.parametrize("name", ["out.mp4", "out.mkv"])
def test_audio_from_copies_audio(clips: dict[str, Path], tmp_path: Path, name: str) -> None:
    write_video(tmp_path / name, gradients(), 30, audio_from=clips["audio_mp4"])
    info = probe(tmp_path / name)
    assert info.has_audio and info.frame_count == 16
    with av.open(str(tmp_path / name)) as container:
        audio = container.streams.audio[0]
        assert audio.codec_context.name == "aac"  # copied as it is
        assert sum(1 for packet in container.demux(audio) if packet.size) > 5
    write_video(tmp_path / ("silent_" + name), gradients(), 30, audio_from=clips["mp4"])
    assert not probe(tmp_path / ("silent_" + name)).has_audio


def test_audio_from_reencodes_what_mp4_cannot_hold(tmp_path: Path) -> None:
    wav = make_audio_only(tmp_path / "tone.wav", "pcm_s16le", "s16")
    write_video(tmp_path / "out.mp4", gradients(8), 30, audio_from=wav)
    with av.open(str(tmp_path / "out.mp4")) as container:
        assert container.streams.audio[0].codec_context.name == "aac"
    with pytest.raises(InputError, match="missing.wav"):
        VideoWriter(tmp_path / "x.mp4", 30, audio_from=tmp_path / "missing.wav")
    with pytest.raises(PtcodecError, match="audio"):
        VideoWriter(tmp_path / "x.y4m", 30, audio_from=wav)


@pytest.mark.parametrize("target", ["fail.mp4", "fail.mkv", "fail.y4m", "fail_dir/", "fail_%04d.png"])
def test_failure_inside_with_leaves_nothing(tmp_path: Path, target: str) -> None:
    before = set(tmp_path.iterdir())
    with pytest.raises(RuntimeError):
        with VideoWriter(f"{tmp_path}/{target}", 30) as writer:
            writer.write(gradients(1)[0])
            writer.write(gradients(1)[0])
            raise RuntimeError("encoder crashed")
    assert set(tmp_path.iterdir()) == before
    with pytest.raises(PtcodecError, match="no frames"):
        with VideoWriter(f"{tmp_path}/{target}", 30):
            pass
    assert set(tmp_path.iterdir()) == before


def test_writer_rejects_bad_outputs_and_frames(tmp_path: Path) -> None:
    with pytest.raises(PtcodecError, match="format"):
        VideoWriter(tmp_path / "out.avi", 30)
    with pytest.raises(PtcodecError, match="codec"):
        VideoWriter(tmp_path / "out.mp4", 30, codec="vp9")
    with pytest.raises(PtcodecError, match="does not exist"):
        VideoWriter(tmp_path / "nowhere" / "out.mp4", 30)
    with VideoWriter(tmp_path / "out.mkv", 30) as writer:
        with pytest.raises(ValueError):
            writer.write(np.zeros((8, 8), np.uint8))
        writer.write(np.zeros((8, 8, 3), np.uint8))
        with pytest.raises(ValueError, match="8x8"):
            writer.write(np.zeros((16, 8, 3), np.uint8))
    assert probe(tmp_path / "out.mkv").frame_count == 1


# --- bad inputs --------------------------------------------------------------


def bad_inputs(root: Path, good_mp4: Path) -> dict[str, tuple[Path, str]]:
    """name -> (path, a word the message must contain)."""
    (root / "a_directory").mkdir()
    (root / "empty.mp4").write_bytes(b"")
    (root / "random.mp4").write_bytes(np.random.default_rng(3).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    (root / "notes.txt").write_text("this is not a video\n" * 50)
    (root / "header_only.y4m").write_bytes(b"YUV4MPEG2 W96 H64 F30:1 C444\n")
    data = good_mp4.read_bytes()  # moov at the end: the first half has no index
    (root / "half.mp4").write_bytes(data[: len(data) // 2])
    fast = make_clip(root / "fast.mp4", gradients(60), options={"movflags": "+faststart"})
    data = fast.read_bytes()  # moov first: opens, then runs out of frames
    (root / "half_faststart.mp4").write_bytes(data[: len(data) // 2])
    return {
        "missing": (root / "missing.mp4", "no such file"),
        "directory": (root / "a_directory", "directory"),
        "empty": (root / "empty.mp4", "empty"),
        "random bytes": (root / "random.mp4", "cannot be opened"),
        "text": (root / "notes.txt", "text"),
        "audio only": (make_audio_only(root / "sound.m4a"), "no video stream"),
        "no frames": (root / "header_only.y4m", "no decodable frames"),
        "truncated": (root / "half.mp4", "truncated"),
        "truncated midway": (root / "half_faststart.mp4", "frame"),
    }


@pytest.fixture(scope="module")
def bad(tmp_path_factory: pytest.TempPathFactory, clips: dict[str, Path]) -> dict[str, tuple[Path, str]]:
    return bad_inputs(tmp_path_factory.mktemp("bad"), clips["mp4"])


BAD_CASES = [
    "missing", "directory", "empty", "random bytes", "text", "audio only", "no frames", "truncated", "truncated midway",
]


@pytest.mark.parametrize("case", BAD_CASES)
@pytest.mark.parametrize("how", ["probe", "read_frames", "load_clip"])
def test_bad_inputs_give_one_line_input_errors(bad: dict[str, tuple[Path, str]], case: str, how: str) -> None:
    path, word = bad[case]
    with pytest.raises(InputError) as info:
        if how == "probe":
            probe(path)
        elif how == "read_frames":
            list(read_frames(path))
        else:
            load_clip(path)
    message = str(info.value)
    assert path.name in message and word in message
    assert "\n" not in message and "Traceback" not in message
    if case in ("random bytes", "truncated"):
        assert info.value.__cause__ is not None  # FFmpeg's error stays chained for debugging


def test_truncated_midway_names_the_frame(bad: dict[str, tuple[Path, str]]) -> None:
    path = bad["truncated midway"][0]
    seen = []
    with pytest.raises(InputError, match=r"frame \d+") as info:
        for frame in read_frames(path, fit="keep"):
            seen.append(frame)
    # "decoding failed at frame N" (N frames came out) or "ends after frame N - 1".
    named = int(re.search(r"frame (\d+)", str(info.value)).group(1))
    assert 0 < len(seen) < 60 and named in (len(seen), len(seen) - 1)


def test_open_errors_raise_at_the_call(bad: dict[str, tuple[Path, str]]) -> None:
    """read_frames checks the file before returning, not at the first next()."""
    with pytest.raises(InputError):
        read_frames(bad["missing"][0])
    with pytest.raises(InputError):
        read_frames(bad["audio only"][0])


# --- real clips (beside the repository, skipped when absent) ------------------


@pytest.fixture
def real_clips() -> Path:
    if not CLIPS.is_dir():
        pytest.skip(f"real clips not found at {CLIPS} (shared data is beside the repo, not in it)")
    return CLIPS


def test_probe_sky(real_clips: Path) -> None:
    info = probe(real_clips / "sky_512.mp4")
    assert (info.width, info.height, info.fps, info.frame_count) == (512, 512, Fraction(30), 141)


def test_chaplin_keep_256(real_clips: Path) -> None:
    frames = read_all(real_clips / "chaplin.mp4", size=256, fit="keep", max_frames=3)
    assert frames.shape == (3, 144, 256, 3)
    assert probe(real_clips / "chaplin.mp4").has_audio


def test_vtest_and_gif(real_clips: Path) -> None:
    assert probe(real_clips / "vtest.avi").fps == 10
    frames = read_all(real_clips / "procgen.gif", max_frames=4)
    assert frames.shape == (4, 384, 384, 3) and frames.std() > 1
