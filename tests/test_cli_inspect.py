"""`ptcodec info`, `validate`, `import-promptus` as a user runs them."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ptcodec.ptv import serialize
from tests.test_interop_promptus import write_released_dir


def ptcodec(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ptcodec", *map(str, args)], capture_output=True, text=True, cwd=cwd)


def test_info_summarizes_an_imported_stream(tmp_path):
    write_released_dir(tmp_path / "src", frames=(0, 5, 10), rank=2)
    assert ptcodec("import-promptus", tmp_path / "src", tmp_path / "a.ptv").returncode == 0
    out = ptcodec("info", tmp_path / "a.ptv").stdout
    assert "64x64, 30 fps, 11 frames" in out
    assert "keyframes    3, rank 2, interval 5..5" in out
    assert "scenes       1" in out
    payload = 3 * (77 * 2 + 2 * 1024 + 16) + 4 * 8 * 8 * 4
    assert f"= {payload} payload" in out


def test_info_json_dumps_every_element(tmp_path, tiny_stream):
    path = tmp_path / "t.ptv"
    path.write_bytes(serialize(*tiny_stream))
    dump = json.loads(ptcodec("info", "--json", path).stdout)
    assert dump["header"]["generator_id"] == "reference"
    assert [u["type"] for u in dump["units"]] == ["sequence_header", "scene_init", "keyframe", "keyframe"]
    keyframe = dump["units"][3]["fields"]
    assert keyframe["frame_index"] == 10 and bytes.fromhex(keyframe["u"]) == tiny_stream[1][2].u


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda d: d[:-3], "TruncatedError|ends inside"),
        (lambda d: d[:40] + bytes([d[40] ^ 4]) + d[41:], "CRC-32C mismatch"),
        (lambda d: b"GIF89a" + d[6:], "not a .ptv file"),
    ],
)
def test_validate_names_the_problem_in_one_line(tmp_path, tiny_stream, damage, message):
    path = tmp_path / "bad.ptv"
    path.write_bytes(damage(serialize(*tiny_stream)))
    result = ptcodec("validate", path)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert str(path) in lines[0] and "byte" in lines[0]
    import re

    assert re.search(message, lines[0])


def test_validate_accepts_a_valid_stream(tmp_path, tiny_stream):
    path = tmp_path / "ok.ptv"
    path.write_bytes(serialize(*tiny_stream))
    result = ptcodec("validate", path)
    assert result.returncode == 0 and "valid (4 units, 2 keyframes" in result.stdout


def test_import_of_a_missing_directory_is_one_line(tmp_path):
    result = ptcodec("import-promptus", tmp_path / "nope", tmp_path / "x.ptv")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "not a directory" in result.stderr
    assert not (tmp_path / "x.ptv").exists()


def test_import_ptcodec_stays_torch_free():
    code = "import sys, ptcodec, ptcodec.ptv, ptcodec.process.quant, ptcodec.process.conditioning, ptcodec.cli; " \
        "print('torch' in sys.modules, 'diffusers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout
    assert out.split() == ["False", "False"]
