"""Rate accounting of .ptv streams (issue 13): total, steady-state and keyframe-payload kbit/s.

Expected values are computed here from the vector's own description (its test.json
lists every unit's offset, size and fields) and the file size, not from the reader."""

from __future__ import annotations

import json
import os
from fractions import Fraction

import pytest

from ptcodec.evaluate.rates import stream_rates

SKY = os.path.join(os.path.dirname(__file__), "..", "ptcodec", "conformance", "bitstream", "valid", "sky_import")


@pytest.fixture(scope="module")
def sky():
    with open(os.path.join(SKY, "test.json")) as handle:
        description = json.load(handle)
    return os.path.join(SKY, "stream.ptv"), description["parse"]["units"]


def test_sky_rates_match_the_issue_and_an_independent_count(sky):
    path, units = sky
    header = units[0]["fields"]
    fps = Fraction(header["time_base_den"], header["time_base_num"])
    duration = header["frame_count"] / fps  # 141 frames at 30 fps: 4.7 s
    keyframes = [u for u in units if u["type"] == "keyframe"]
    span = (keyframes[-1]["fields"]["frame_index"] - keyframes[0]["fields"]["frame_index"]) / fps
    # The keyframe payload from the syntax: frame_index (4), rank (1), quant_scheme (1), four f32
    # per-tensor quantization parameters (16), then u (tokens x rank) and v (rank x embed_dim) bytes.
    rank = keyframes[0]["fields"]["rank"]
    payload = 4 + 1 + 1 + 16 + header["tokens"] * rank + rank * header["embed_dim"]
    assert all(k["size"] == payload + 1 + 2 for k in keyframes)  # unit header byte, 2-byte size, no CRC

    rates = stream_rates(path)

    assert rates.bytes == os.path.getsize(path)
    assert rates.total_kbps == pytest.approx(float(8 * os.path.getsize(path) / duration / 1000))
    assert round(rates.total_kbps, 1) == 337.3  # the issue's figure
    steady = 8 * sum(k["size"] for k in keyframes[1:]) / span / 1000
    assert rates.steady_kbps == pytest.approx(float(steady))
    assert round(rates.steady_kbps) == 212  # the issue's "about 212"
    assert rates.keyframe_kbps == pytest.approx(float(8 * payload * (len(keyframes) - 1) / span / 1000))
    assert rates.keyframe_kbps == pytest.approx(211.92)
    assert rates.steady_kbps < rates.total_kbps  # the 64 KiB scene-init latent is left out


def test_per_second_rates_add_up_to_the_file(sky):
    path, units = sky
    rates = stream_rates(path)
    assert len(rates.per_second_kbps) == 5  # 4.7 s
    # Every second but the last is whole; the last (0.7 s) is divided by its own length.
    counted = sum(rates.per_second_kbps[:-1]) * 1000 / 8 + rates.per_second_kbps[-1] * 0.7 * 1000 / 8
    assert counted == pytest.approx(os.path.getsize(path))


def test_rates_from_bytes_equal_rates_from_the_path(sky):
    path, _ = sky
    with open(path, "rb") as handle:
        data = handle.read()
    assert stream_rates(data) == stream_rates(path)
