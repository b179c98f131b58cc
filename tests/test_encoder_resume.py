"""Resuming an interrupted encode, in process: from a partial file cut at any byte, after
an interruption during a fit or during a write; a refused resume leaves the partial file
as it was; and the encode's progress bar counts fitting work. (Real kills of a running
`ptcodec transcode` are in test_cli_codec.py.)"""

from __future__ import annotations

import errno
import os
import signal
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

import ptcodec.encoder.encoder as encoder_module
from ptcodec.cli import main
from ptcodec.cli import progress as progress_module
from ptcodec.cli.progress import Bars
from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.errors import PtcodecError
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media import write_video
from ptcodec.ptv import PtvReader

FIRST, LATER = 8, 6
OPTIONS = StreamOptions(interval=2), FitOptions(first_steps=FIRST, later_steps=LATER)
ARGS = ["--size", "64", "-K", "2", "--first-steps", str(FIRST), "--later-steps", str(LATER), "-q"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    """5 frames, one scene: keyframes 0, 2 and 4."""
    path = tmp_path_factory.mktemp("clip") / "clip.mkv"
    write_video(path, reachable_clip(ReferenceGenerator(), frames=5, size=(64, 64), interval=2, seed=7),
                Fraction(30), codec="ffv1")
    return path


@pytest.fixture(scope="module")
def whole(clip, tmp_path_factory) -> bytes:
    """The uninterrupted encode, in this process (resumed encodes must match it byte for byte)."""
    out = tmp_path_factory.mktemp("whole") / "whole.ptv"
    transcode_file(clip, out, *OPTIONS, size=(64, 64))
    return out.read_bytes()


def unit_ends(data: bytes) -> list[tuple[str, int, int]]:
    """(unit name, offset, end) of every unit of a stream, sequence header first."""
    with PtvReader(data) as reader:
        return [(r.name, r.offset, r.offset + r.size) for r in reader.units()]


def units_so_far(partial: Path) -> list[tuple[str, int, int]]:
    """The units of a partial file being written (none while its sequence header is not there)."""
    try:
        return unit_ends(partial.read_bytes())
    except (OSError, PtcodecError):
        return []


def complete_keyframes(data: bytes, cut: int) -> int:
    return sum(name == "keyframe" and end <= cut for name, _, end in unit_ends(data))


def cut_points(data: bytes) -> list[int]:
    """Inside and at the end of the signature and of every unit, and the whole file."""
    points = {0, 3, 8}
    for _, start, end in unit_ends(data):
        points |= {start + 1, (start + end) // 2, end - 1, end}
    return sorted(points)


class CountingFit:
    """Wraps the encoder's fit: counts fits, and can raise at the start of the n-th one."""

    def __init__(self, monkeypatch, interrupt_at: int | None = None, error: type[BaseException] = KeyboardInterrupt):
        self.calls = 0
        self.interrupt_at, self.error = interrupt_at, error
        self.real = encoder_module.fit
        monkeypatch.setattr(encoder_module, "fit", self)

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise self.error()
        return self.real(*args, **kwargs)


def test_resume_from_a_partial_cut_anywhere_gives_the_same_bytes_and_refits_nothing_kept(clip, whole, tmp_path,
                                                                                         monkeypatch):
    total = complete_keyframes(whole, len(whole))
    assert total == 3
    for cut in cut_points(whole):
        out = tmp_path / f"cut{cut}.ptv"
        Path(f"{out}.partial").write_bytes(whole[:cut])
        fits = CountingFit(monkeypatch)
        result = transcode_file(clip, out, *OPTIONS, size=(64, 64), resume=True)
        kept = complete_keyframes(whole, cut)
        assert out.read_bytes() == whole, f"cut at byte {cut}"
        assert result.resumed_keyframes == kept and fits.calls == total - kept, f"cut at byte {cut}"
        assert not Path(f"{out}.partial").exists()


def test_an_interruption_during_the_second_fit_keeps_the_first_keyframe(clip, whole, tmp_path, monkeypatch, capsys):
    out = tmp_path / "o.ptv"
    partial = Path(f"{out}.partial")
    CountingFit(monkeypatch, interrupt_at=2)
    assert main(["transcode", str(clip), str(out), *ARGS]) == 130
    assert complete_keyframes(partial.read_bytes(), partial.stat().st_size) == 1
    assert unit_ends(partial.read_bytes())[-1][2] == partial.stat().st_size  # nothing torn at the end
    fits = CountingFit(monkeypatch)
    assert main(["transcode", str(clip), str(out), *ARGS, "--resume"]) == 0
    assert fits.calls == 2 and out.read_bytes() == whole
    assert "1 kept from the partial stream" in capsys.readouterr().out


def test_an_interrupted_encode_into_matroska_resumes_to_the_same_file(clip, tmp_path, monkeypatch):
    whole = tmp_path / "whole.mkv"
    assert main(["transcode", str(clip), str(whole), *ARGS]) == 0
    out = tmp_path / "o.mkv"
    CountingFit(monkeypatch, interrupt_at=2)
    assert main(["transcode", str(clip), str(out), *ARGS]) == 130
    assert not out.exists()
    fits = CountingFit(monkeypatch)
    assert main(["transcode", str(clip), str(out), *ARGS, "--resume"]) == 0
    assert fits.calls == 2 and out.read_bytes() == whole.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.mkv", "whole.mkv"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_during_a_write_takes_effect_once_the_keyframe_is_on_disk(clip, whole, tmp_path, monkeypatch,
                                                                          signum):
    """The signal arrives while the first keyframe's units are being made durable."""
    out = tmp_path / "o.ptv"
    partial = Path(f"{out}.partial")
    real_fsync, sent, durable = os.fsync, [], []

    def fsync(fd):
        if not sent and "keyframe" in [name for name, _, _ in units_so_far(partial)]:
            sent.append(signum)
            os.kill(os.getpid(), signum)  # the first keyframe is written, not yet durable
            real_fsync(fd)
            durable.append(fd)  # reached only if the signal waits for the write to end
        else:
            real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["transcode", str(clip), str(out), *ARGS]) == 130
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert sent and durable
    data = partial.read_bytes()
    assert unit_ends(data)[-1][2] == len(data) and complete_keyframes(data, len(data)) == 1
    fits = CountingFit(monkeypatch)
    assert main(["transcode", str(clip), str(out), *ARGS, "--resume"]) == 0
    assert fits.calls == 2 and out.read_bytes() == whole


def test_a_disk_that_fills_up_during_the_encode_keeps_the_work_for_resume(clip, whole, tmp_path, monkeypatch,
                                                                          capsys):
    out = tmp_path / "o.ptv"
    partial = Path(f"{out}.partial")
    real_fsync = os.fsync

    def fsync(fd):  # a file system that reports ENOSPC when the first keyframe is made durable
        if "keyframe" in [name for name, _, _ in units_so_far(partial)]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    assert main(["transcode", str(clip), str(out), *ARGS]) == 1
    assert capsys.readouterr().err.strip() == f"ptcodec: error: {partial}: cannot write: No space left on device"
    monkeypatch.setattr(os, "fsync", real_fsync)
    kept = complete_keyframes(partial.read_bytes(), partial.stat().st_size)
    fits = CountingFit(monkeypatch)
    assert main(["transcode", str(clip), str(out), *ARGS, "--resume"]) == 0
    assert fits.calls == 3 - kept and out.read_bytes() == whole


def first_unit_end(data: bytes, name: str, n: int = 1) -> tuple[int, int]:
    found = [(start, end) for unit, start, end in unit_ends(data) if unit == name]
    return found[n - 1]


def test_a_refused_resume_leaves_the_partial_file_as_it_was(clip, whole, tmp_path, capsys):
    out = tmp_path / "o.ptv"
    partial = Path(f"{out}.partial")
    start, end = first_unit_end(whole, "keyframe", 2)
    before = whole[: (start + end) // 2]  # the first keyframe complete, the second one cut off
    partial.write_bytes(before)
    assert main(["transcode", str(clip), str(out), *ARGS, "--rank", "4", "--resume"]) == 1
    assert "other encoder options" in capsys.readouterr().err
    assert main(["transcode", str(clip), str(out), *ARGS, "--size", "32", "--resume"]) == 1
    assert "sequence header differs in width, height" in capsys.readouterr().err
    assert partial.read_bytes() == before and not out.exists()
    # ... and the same command then resumes it
    assert main(["transcode", str(clip), str(out), *ARGS, "--resume"]) == 0
    assert out.read_bytes() == whole


def test_a_resume_refused_mid_encode_leaves_the_partial_file_as_it_was(tmp_path, capsys):
    """Same sequence header and options, another input: the keyframes fall elsewhere."""
    gen = ReferenceGenerator()
    one_scene = reachable_clip(gen, frames=6, size=(64, 64), interval=2, seed=2)
    two_scenes = np.concatenate([reachable_clip(gen, frames=3, size=(64, 64), interval=2, seed=s) for s in (3, 4)])
    for name, frames in (("one.mkv", one_scene), ("two.mkv", two_scenes)):
        write_video(tmp_path / name, frames, Fraction(30), codec="ffv1")
    out = tmp_path / "o.ptv"
    assert main(["transcode", str(tmp_path / "one.mkv"), str(out), *ARGS]) == 0
    data = out.read_bytes()
    out.unlink()
    partial = Path(f"{out}.partial")
    partial.write_bytes(data[:-3])  # its last keyframe cut off
    assert main(["transcode", str(tmp_path / "two.mkv"), str(out), *ARGS, "--resume"]) == 1
    err = capsys.readouterr().err
    assert "made from another input; cannot resume" in err and "\n" not in err.strip()
    assert partial.read_bytes() == data[:-3]


def test_a_fresh_encode_does_not_overwrite_an_interrupted_one(clip, whole, tmp_path, capsys):
    out = tmp_path / "o.ptv"
    partial = Path(f"{out}.partial")
    kept = whole[: first_unit_end(whole, "keyframe", 2)[1]]
    partial.write_bytes(kept)
    assert main(["transcode", str(clip), str(out), *ARGS]) == 1
    err = capsys.readouterr().err.strip()
    assert f"{partial} holds an interrupted encode (2 keyframes)" in err and "--resume" in err and "\n" not in err
    assert partial.read_bytes() == kept


# -- the progress bar ---------------------------------------------------------------


class RecordingBar:
    """Stands in for tqdm: records the encoding bar's (n, total) after every change, and the fits
    between (the bar of the planning pass before it is left out)."""

    events: list = []

    def __init__(self, *, total, initial=0, disable=False, desc=None, **kwargs):
        self.total, self.n, self.disable = total, initial, disable
        self.recorded = desc == "encoding"
        self._event(("open", self.n, self.total, disable))

    def _event(self, event: tuple) -> None:
        if self.recorded:
            RecordingBar.events.append(event)

    def update(self, count):
        self.n += count
        self._event(("bar", self.n, self.total))

    def set_postfix(self, *args, **kwargs):
        pass

    def close(self):
        self._event(("close", self.n, self.total))


def watch_fits(monkeypatch):
    real = encoder_module.fit

    def fit(*args, **kwargs):
        budget = args[3] if len(args) > 3 else kwargs["budget"]
        RecordingBar.events.append(("fit", budget.max_steps))
        try:
            return real(*args, **kwargs)
        finally:
            RecordingBar.events.append(("fitted",))

    monkeypatch.setattr(encoder_module, "fit", fit)


def test_the_encode_bar_counts_fitting_steps_and_reaches_its_total_with_the_last_fit(clip, tmp_path, monkeypatch):
    RecordingBar.events = []
    monkeypatch.setattr(progress_module, "tqdm", RecordingBar)
    watch_fits(monkeypatch)
    with Bars(quiet=False) as bars:
        transcode_file(clip, tmp_path / "o.ptv", *OPTIONS, size=(64, 64), progress=bars)
    events = RecordingBar.events
    # The plan, from the options alone: keyframe 0 opens the scene (FIRST steps on
    # one frame), keyframes 2 and 4 each take LATER steps on their 2-frame segments.
    total = FIRST * 1 + LATER * 2 + LATER * 2
    assert events[0] == ("open", 0, total, False)
    assert {e[2] for e in events if e[0] == "bar"} == {total}  # no scene cut, no early stop: the plan holds
    fits = [i for i, e in enumerate(events) if e[0] == "fit"]
    ends = [i for i, e in enumerate(events) if e[0] == "fitted"]
    assert len(fits) == len(ends) == 3
    assert events[fits[0]][1] == FIRST  # later fits: their share of 2 * LATER single-frame steps
    for begin, end in zip(fits, ends, strict=True):
        steps = events[begin][1]
        during = [e[1] for e in events[begin:end] if e[0] == "bar"]
        assert len(during) >= steps - 1 and during == sorted(set(during)), during  # moves at every step
    before_last = [e[1] for e in events[: ends[-1]] if e[0] == "bar"]
    assert max(before_last) < total  # never full while a keyframe still fits
    assert events[-1] == ("close", total, total)


def test_quiet_silences_the_bar_and_a_resumed_encode_starts_at_its_kept_work(clip, whole, tmp_path, monkeypatch):
    RecordingBar.events = []
    monkeypatch.setattr(progress_module, "tqdm", RecordingBar)
    out = tmp_path / "o.ptv"
    Path(f"{out}.partial").write_bytes(whole[: first_unit_end(whole, "keyframe", 1)[1]])
    with Bars(quiet=True) as bars:
        transcode_file(clip, out, *OPTIONS, size=(64, 64), resume=True, progress=bars)
    total = FIRST + 4 * LATER
    assert RecordingBar.events[0] == ("open", FIRST, total, True)  # keyframe 0 is done: its steps count as done
