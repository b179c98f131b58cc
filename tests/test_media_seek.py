"""Reading from frame N seeks the container, and gives exactly the frames a read from the start gives.

The reference is decode-and-skip (seeking switched off with `reader._seekable`): for every input and
every N, `read_frames(start=N)` must equal frames N.. of a full read, array for array, including the
frame-rate resampling and a `Source`'s start offset.
"""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from ptcodec.errors import InputError
from ptcodec.jobs.plan import Source
from ptcodec.media import reader, write_video
from ptcodec.media.reader import read_frames
from tests.conftest import SHARED_DATA

CLIPS = SHARED_DATA / "clips"
COUNT = 5  # frames compared from each start


def moving(count: int, width: int = 64, height: int = 48) -> np.ndarray:
    """A textured pattern that moves every frame, so that any two frames differ."""
    yy, xx = np.mgrid[0:height, 0:width]
    frames = [
        np.stack([(xx * 4 + 3 * i) % 256, (yy * 5 + 7 * i) % 256, ((xx ^ yy) * 2 + 11 * i) % 256], axis=-1)
        for i in range(count)
    ]
    return np.asarray(frames, dtype=np.uint8)


def write_h264(path: Path, frames: np.ndarray, fps: int = 30, gop: int = 30) -> Path:
    """An MP4 with a keyframe every `gop` frames and B-frames (decode order differs from display order)."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps, options={"g": str(gop), "keyint_min": str(gop),
                                                                    "bf": "2", "sc_threshold": "0"})
        video.width, video.height, video.pix_fmt = frames.shape[2], frames.shape[1], "yuv420p"
        for i, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
        for packet in video.encode():
            container.mux(packet)
    return path


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("seek")
    mkv = root / "ffv1.mkv"
    write_video(mkv, moving(120), 30)
    return {"mkv": mkv, "mp4": write_h264(root / "gop30.mp4", moving(150))}


def keyframes(path: Path) -> list[int]:
    """Decode-order positions of the keyframe packets (for choosing starts on and between them)."""
    with av.open(str(path)) as container:
        return [i for i, p in enumerate(p for p in container.demux(video=0) if p.size) if p.is_keyframe]


def from_start(path: Path | str, monkeypatch: pytest.MonkeyPatch, **options) -> list[np.ndarray]:
    with monkeypatch.context() as patch:
        patch.setattr(reader, "_seekable", lambda name, container: False)
        return list(read_frames(path, **options))


class Counts:
    """How often a read went back to the start, and how many frames were decoded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.restarts = 0
        self.decoded = 0
        indexed, decode = reader._indexed, reader._decode

        def counted_indexed(*args):
            self.restarts += 1
            return indexed(*args)

        def counted_decode(*args) -> Iterator[av.VideoFrame]:
            for frame in decode(*args):
                self.decoded += 1
                yield frame

        monkeypatch.setattr(reader, "_indexed", counted_indexed)
        monkeypatch.setattr(reader, "_decode", counted_decode)


def starts_for(total: int, keys: list[int]) -> list[int]:
    """0, the last frame, one past it, keyframes, and frames just before and after them."""
    picks = {0, 1, total // 2, total - COUNT, total - 1, total}
    for key in keys:
        picks |= {key - 1, key, key + 1, key + 7}
    return sorted(n for n in picks if 0 <= n <= total)


def assert_same(path: Path | str, reference: list[np.ndarray], starts: list[int], counts: Counts | None = None,
                **options) -> None:
    """Frames start.. equal the reference's; with `counts`, a start inside the clip was read by seeking."""
    for n in starts:
        restarts = counts.restarts if counts is not None else 0
        got = list(read_frames(path, start=n, max_frames=COUNT, **options))
        expected = reference[n : n + COUNT]
        assert len(got) == len(expected), f"start {n}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            assert np.array_equal(a, b), f"start {n}, frame {n + i}"
        if counts is not None and 0 < n < len(reference):
            assert counts.restarts == restarts, f"start {n} was read from the beginning, not seeked"


@pytest.mark.parametrize("name", ["mkv", "mp4"])
@pytest.mark.parametrize("fps", [None, Fraction(24), Fraction(50), Fraction(30000, 1001)])
def test_seeking_gives_the_frames_of_a_read_from_the_start(
    inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch, name: str, fps: Fraction | None
) -> None:
    path = inputs[name]
    reference = from_start(path, monkeypatch, size=32, fps=fps)
    keys = keyframes(path)
    scale = 1 if fps is None else float(fps) / 30
    starts = starts_for(len(reference), [round(k * scale) for k in keys])
    assert_same(path, reference, starts, Counts(monkeypatch), size=32, fps=fps)


def test_seeking_decodes_from_the_keyframe_before(inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """Frame 125 of a 150-frame clip with keyframes every 30: at most the frames from 120 are decoded
    after the seek (plus the first frame, for the clip's time origin), not 125 of them."""
    path = inputs["mp4"]
    assert keyframes(path)[:5] == [0, 30, 60, 90, 120]
    counts = Counts(monkeypatch)
    frames = list(read_frames(path, size=32, start=125, max_frames=3))
    assert len(frames) == 3 and counts.restarts == 0
    assert counts.decoded <= 1 + (128 - 120) + 4  # the decoder may run a few frames ahead (B-frames)


def test_source_offset_and_frames(inputs: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A scene job's read, Source.frames(first, count), with an input start offset and a rate change."""
    path = inputs["mp4"]
    source = Source(str(path), (32, 32), "crop", 8, Fraction(25), start=7)
    reference = from_start(path, monkeypatch, size=(32, 32), fps=Fraction(25))[7:]
    for first in (0, 1, 18, 40, len(reference) - 2):
        got = list(source.frames(first, 4))
        assert len(got) == len(reference[first : first + 4])
        assert all(np.array_equal(a, b) for a, b in zip(got, reference[first : first + 4], strict=True))


@pytest.mark.parametrize("clip, fps, seeks", [("sky_512.mp4", None, True), ("sky_512.mp4", Fraction(24), True),
                                              ("big_buck_bunny_0_30.webm", None, True), ("vtest.avi", None, False),
                                              ("procgen.gif", None, False)])
def test_real_clips(monkeypatch: pytest.MonkeyPatch, clip: str, fps: Fraction | None, seeks: bool) -> None:
    """Real inputs: H.264 in MP4, VP8 in WebM (1 ms timestamps), H.264 in AVI (no presentation
    timestamps in display order: it falls back to decode-and-skip) and a GIF (never seeked)."""
    path = CLIPS / clip
    if not path.exists():
        pytest.skip(f"{path} not found (shared data is beside the repo, not in it)")
    reference = from_start(path, monkeypatch, size=64, fps=fps)
    total = len(reference)
    starts = sorted({0, 1, 29, 30, 31, total // 2, total - 1, total})
    counts = Counts(monkeypatch)
    assert_same(path, reference, starts, counts if seeks else None, size=64, fps=fps)
    if not seeks:
        assert counts.restarts == len(starts), "every read went back to the start"


def test_a_truncated_file_read_from_frame_n_is_reported_as_truncated(
    inputs: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decoding error met after a seek is not trusted to the seek: the read from the start meets
    it again and reports it, with the same message."""
    data = inputs["mkv"].read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(InputError) as from_zero:
        from_start(cut, monkeypatch, size=32, start=50)
    with pytest.raises(InputError) as seeked:
        list(read_frames(cut, size=32, start=50))
    assert "truncated" in str(seeked.value) and str(seeked.value) == str(from_zero.value)
