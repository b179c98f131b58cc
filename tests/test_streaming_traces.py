"""Traces and the network model: exact download times on hand-computed traces, the real trace kinds, bad files."""

from __future__ import annotations

from pathlib import Path

import pytest

from ptcodec.errors import InputError
from ptcodec.streaming.traces import Trace, download_time, load_trace, load_trace_dir

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "traces"

STEPPED = Trace((0.0, 2.0), (1000.0, 3000.0), 4.0, "stepped")  # 2 s at 1 Mbit/s, 2 s at 3 Mbit/s, looping


def test_constant_trace_download_is_bytes_over_rate_plus_rtt():
    trace = Trace((0.0,), (1000.0,), 10.0)
    assert download_time(trace, 0.0, 12_500, 0.05) == pytest.approx(0.05 + 0.1)  # 100 kbit at 1,000 kbit/s
    assert download_time(trace, 7.3, 125_000, 0.0) == pytest.approx(1.0)
    assert trace.mean_kbps == pytest.approx(1000.0)


def test_stepped_trace_download_crosses_a_step():
    # from 1 s: 1 s at 1,000 kbit/s (1,000 kbit), the other 1,000 kbit at 3,000 kbit/s in 1/3 s
    assert download_time(STEPPED, 1.0, 250_000, 0.0) == pytest.approx(1 + 1 / 3)
    assert STEPPED.mean_kbps == pytest.approx(2000.0)


def test_download_wraps_around_the_trace_end():
    # request at 3.5 s, body from 3.6 s: 0.4 s at 3,000 (1,200 kbit), loop, 2 s at 1,000 (2,000 kbit),
    # then 300 kbit at 3,000 in 0.1 s: ends at 6.1 s
    assert download_time(STEPPED, 3.5, 437_500, 0.1) == pytest.approx(6.1 - 3.5)
    # three whole loops of 8,000 kbit each end exactly at 12 s
    assert download_time(STEPPED, 0.0, 3_000_000, 0.0) == pytest.approx(12.0)


def test_zero_throughput_segment_waits():
    trace = Trace((0.0, 1.0), (0.0, 1000.0), 2.0)
    assert download_time(trace, 0.0, 62_500, 0.0) == pytest.approx(1.5)


def test_scaled_divides_download_rate():
    half = STEPPED.scaled(0.5)
    assert half.kbps == (500.0, 1500.0)
    assert download_time(half, 0.0, 62_500, 0.0) == pytest.approx(1.0)  # 500 kbit at 500 kbit/s


def test_mahimahi_packets_per_millisecond_and_loop(tmp_path):
    path = tmp_path / "tiny.down"
    # loops at 4 ms; the packet at 4 ms falls on ms 0 of the next loop: packets per ms [3, 1, 0, 1]
    path.write_text("0\n0\n1\n3\n4\n")
    trace = load_trace(path)
    assert trace.duration_s == pytest.approx(0.004)
    assert trace.kbps == (36_000.0, 12_000.0, 0.0, 12_000.0)
    assert trace.mean_kbps == pytest.approx(5 * 12 / 0.004)
    assert download_time(trace, 0.0, 3 * 1500, 0.0) == pytest.approx(0.001)
    assert download_time(trace, 0.0, 4 * 1500, 0.0) == pytest.approx(0.002)
    assert download_time(trace, 0.0, 5 * 1500, 0.0) == pytest.approx(0.004)
    assert download_time(trace, 0.0, 10 * 1500, 0.0) == pytest.approx(0.008)  # two loops


def test_time_throughput_file(tmp_path):
    path = tmp_path / "norway_like"
    path.write_text("0.5\t2.0\n1.0\t4.0\n2.0\t1.0\n")
    trace = load_trace(path)
    assert trace.starts_s == (0.0, 0.5, 1.5)
    assert trace.kbps == (2000.0, 4000.0, 1000.0)
    assert trace.duration_s == pytest.approx(2.5)  # the last value holds for the previous step


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("0\n1\nabc\n", 3),
        ("0\n5\n3\n", 3),
        ("0 1.0\n0.5 x\n", 2),
        ("0\t1.0\n0.5\t2.0\n0.5\t3.0\n", 3),
        ("0 1.0\n0.5 2.0 7\n", 2),
        ("0 1.0\n0.5 -2.0\n", 2),
    ],
)
def test_garbage_lines_give_one_line_error_with_file_and_line(tmp_path, text, line):
    path = tmp_path / "bad.trace"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_trace(path)
    message = str(info.value)
    assert f"{path}:{line}:" in message
    assert "\n" not in message


@pytest.mark.parametrize("text", ["", "\n\n", "0\n0\n"])
def test_empty_or_zero_length_trace_is_an_error(tmp_path, text):
    path = tmp_path / "empty.down"
    path.write_text(text)
    with pytest.raises(InputError, match=str(path)):
        load_trace(path)


def test_missing_file_is_an_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read"):
        load_trace(tmp_path / "nope.down")


@pytest.mark.parametrize(
    ("relative", "min_s"),
    [
        ("mahimahi/TMobile-LTE-short.down", 10.0),
        ("pensieve_norway_test/norway_bus_1", 100.0),
        ("svsc_network/high/3", 100.0),
    ],
)
def test_real_trace_kinds_load(relative, min_s):
    path = DATA / relative
    if not path.exists():
        pytest.skip(f"{path} is absent (shared data not checked out next to the repository)")
    trace = load_trace(path)
    assert trace.duration_s > min_s
    assert 50 < trace.mean_kbps < 100_000
    assert download_time(trace, trace.duration_s - 0.3, 1_000_000, 0.08) > 0.08


def test_trace_directory_skips_readmes_and_names_by_relative_path(tmp_path):
    (tmp_path / "mm").mkdir()
    (tmp_path / "mm" / "a.down").write_text("0\n1\n2\n")
    (tmp_path / "mm" / "README.mahimahi").write_text("These trace files represent...\n")
    (tmp_path / "set" / "high").mkdir(parents=True)
    (tmp_path / "set" / "high" / "0").write_text("0 1.0\n0.5 2.0\n")
    traces = load_trace_dir(tmp_path, scale=0.5)
    assert [t.name for t in traces] == ["mm/a.downx0.5", "set/high/0x0.5"]
    assert traces[1].kbps == (500.0, 1000.0)
    with pytest.raises(InputError, match="no trace files"):
        load_trace_dir(_empty(tmp_path))


def _empty(tmp_path: Path) -> Path:
    empty = tmp_path / "empty"
    empty.mkdir()
    return empty
