"""Every reader path does work linear in the number of units (issue 11, item 3).

Work is counted as the Python and C function calls a path makes (a profiler
hook), which depends on the code and not on the machine's speed or load: a
stream of 4N units must cost about 4 times what one of N units costs. A scan
over the units seen so far, once per unit, makes that ratio about 16.
"""

from __future__ import annotations

import contextlib
import io
import sys

import pytest

import ptcodec
from ptcodec.cli import main
from ptcodec.container.matroska import mux, read_prompt_track
from ptcodec.ptv import PtvReader, ReservedUnit, serialize
from tests.conftest import make_header, make_keyframe, tiny_scene

N = 1000
LINEAR = 4.5
"""Largest allowed work(4N) / work(N): 4 for linear work, plus a little for constant costs that differ."""


def work(fn) -> int:
    """The number of Python and C function calls `fn()` makes."""
    calls = 0

    def count(frame, event, arg):
        nonlocal calls
        if event in ("call", "c_call"):
            calls += 1

    sys.setprofile(count)
    try:
        fn()
    finally:
        sys.setprofile(None)
    return calls


def many_units(count: int, *, leading: bool = False) -> bytes:
    """A valid stream with `count` empty reserved units between the scene-init
    unit and its keyframe (or, with `leading`, before the scene-init unit)."""
    header = make_header()
    filler = [ReservedUnit(9, b"") for _ in range(count)]
    scene = [tiny_scene(header), make_keyframe(header, 0)]
    units = [*filler, *scene] if leading else [scene[0], *filler, scene[1]]
    return serialize(header, units)


def quiet_main(*argv: str) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(list(argv)) == 0


def ratio(path_work, tmp_path, **stream) -> float:
    works = []
    for count in (N, 4 * N):
        path = tmp_path / f"s{count}.ptv"
        path.write_bytes(many_units(count, **stream))
        works.append(work(lambda path=path: path_work(path)))
    return works[1] / works[0]


PATHS = {
    "units": lambda p: list(PtvReader(p).units()),
    "packets": lambda p: list(PtvReader(p).packets()),
    "index": lambda p: PtvReader(p).index(),
    "open.demux": lambda p: list(ptcodec.open(p).demux()),
    "open.access_points": lambda p: ptcodec.open(p).access_points(),
    "info": lambda p: quiet_main("info", str(p)),
    "info --json": lambda p: quiet_main("info", "--json", str(p)),
    "validate": lambda p: quiet_main("validate", str(p)),
}


@pytest.mark.parametrize("name", PATHS)
def test_reading_a_stream_is_linear_in_its_units(tmp_path, name):
    assert ratio(PATHS[name], tmp_path) < LINEAR


def test_codec_private_is_linear_in_the_leading_units(tmp_path):
    assert ratio(lambda p: PtvReader(p).codec_private(), tmp_path, leading=True) < LINEAR


def test_mux_and_reading_the_matroska_back_are_linear(tmp_path):
    def mux_and_read(path):
        mux(path, path.with_suffix(".mkv"))
        PtvReader(read_prompt_track(path.with_suffix(".mkv")).ptv_bytes()).units()

    assert ratio(mux_and_read, tmp_path) < LINEAR
    assert ratio(lambda p: quiet_main("mux", str(p), str(p.with_suffix(".mkv"))), tmp_path) < LINEAR


def test_the_work_counter_sees_quadratic_work():
    """The measure itself: a loop that rescans what it has seen has a ratio near 16."""

    def quadratic(n):
        seen = []
        for i in range(n):
            any(x < 0 for x in seen)
            seen.append(i)

    assert work(lambda: quadratic(4 * 200)) / work(lambda: quadratic(200)) > 10
