"""The conformance runner judges other people's decoders, so it must survive any of them: malformed
outputs, huge outputs, crashes, hangs and stray child processes each give a "fail" verdict for that
vector with a clear detail, the runner goes on with the next vector, and it writes its report.

The hostile decoders are small shell or Python programs written into tmp_path."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from ptcodec.conformance.candidates import CommandCandidate
from ptcodec.conformance.runner import FAIL, PASS, SKIP, run_suite, write_results
from ptcodec.conformance.vectors import default_vectors_dir, load_vectors

VECTORS = default_vectors_dir()
PYTHON = shlex.quote(sys.executable)
BASIC = VECTORS / "valid" / "basic"
FRAME_BYTES = 64 * 64 * 3
"""One frame of valid/basic (64 x 64 RGB)."""


def python_decoder(tmp_path: Path, body: str, fields: str = "{in} {out} {parse} {dump}") -> str:
    """A command template running `body` as a Python script; sys.argv[1:] are the fields' paths."""
    script = tmp_path / "decoder.py"
    script.write_text("import json, os, shutil, sys\nIN, OUT, PARSE, DUMP = (sys.argv[1:] + [None] * 4)[:4]\n"
                      + textwrap.dedent(body))
    return f"{PYTHON} {shlex.quote(str(script))} {fields}"


def judge(tmp_path: Path, command: str, names: list[str], tiers: int, **options):
    """Run the suite on some vectors and write its report; returns (result, {vector: {tier: verdict}})."""
    candidate = CommandCandidate(command, **options)
    result = run_suite(load_vectors(VECTORS, names), candidate, tiers=tiers, workdir=tmp_path / "work")
    write_results(result, tmp_path / "results.json")
    assert json.loads((tmp_path / "results.json").read_text())["passed"] is result.passed
    return result, {v.vector: {t.tier: t for t in v.tiers} for v in result.verdicts}


def reference_parse() -> dict:
    return json.loads((BASIC / "test.json").read_text())["parse"]


# -- malformed {parse} ------------------------------------------------------------------------------------

def _float_field_replaced(value):
    dump = reference_parse()
    dump["units"][2]["fields"]["u_scale"] = [value]
    return json.dumps(dump)


MALFORMED_PARSE = {
    "not JSON": ("{units: oops", "not JSON"),
    "not UTF-8": (b"\xff\xfe{}", "not JSON"),
    "a list": ("[1, 2, 3]", "not a JSON object"),
    "units not a list": ('{"units": 5}', "no list of units"),
    "units holding numbers": ('{"units": [1, 2]}', "unit 0 is not a JSON object"),
    "fields not an object": ('{"units": [{"index": 0, "offset": 8, "size": 86, "type": "sequence_header", '
                             '"layer_id": null, "fields": [1]}]}', "unit 0: fields is not a JSON object"),
    "keys missing": ('{"units": [{"index": 0}]}', "unit 0: type is None, the reference has 'sequence_header'"),
    "an integer of 5000 digits": ('{"units": [{"offset": ' + "9" * 5000 + "}]}", "not JSON"),
    "an integer for a binary32": (_float_field_replaced(10**400), "unit 2 (keyframe).u_scale is [1000"),
    "a string for a binary32": (_float_field_replaced("x"), "unit 2 (keyframe).u_scale is ['x']"),
    "nested 100000 deep": ("[" * 100_000 + "]" * 100_000, "not JSON"),
    "a huge type name": ('{"units": [{"type": "' + "x" * 100_000 + '"}]}', "unit 0: type is 'xxxx"),
}


@pytest.mark.parametrize("case", list(MALFORMED_PARSE))
def test_a_malformed_parse_dump_fails_tier_1_and_the_run_goes_on(tmp_path, case):
    content, phrase = MALFORMED_PARSE[case]
    data = content if isinstance(content, bytes) else content.encode()
    (tmp_path / "payload").write_bytes(data)
    command = python_decoder(tmp_path, f"shutil.copy({str(tmp_path / 'payload')!r}, PARSE)")
    result, table = judge(tmp_path, command, ["valid/basic", "faulty/crc_mismatch"], tiers=1)
    verdict = table["valid/basic"][1]
    assert verdict.status == FAIL and verdict.detail.startswith("parse dump: ") and phrase in verdict.detail, \
        verdict.detail
    assert len(verdict.detail) < 400
    assert table["faulty/crc_mismatch"][1].status == FAIL  # judged too: it was "decoded"


def test_the_reference_parse_dump_passes_through_the_same_decoder(tmp_path):
    """The control for the cases above: the same decoder with a correct dump passes."""
    (tmp_path / "payload").write_text(json.dumps({**reference_parse(), "file": "x", "summary": {}}))
    command = python_decoder(tmp_path, f"shutil.copy({str(tmp_path / 'payload')!r}, PARSE)")
    _, table = judge(tmp_path, command, ["valid/basic"], tiers=1)
    assert table["valid/basic"][1].status == PASS, table["valid/basic"][1].detail


def test_a_parse_dump_far_larger_than_the_reference_is_refused_unread(tmp_path):
    command = python_decoder(tmp_path, "f = open(PARSE, 'wb'); f.truncate(50_000_000)")
    _, table = judge(tmp_path, command, ["valid/basic"], tiers=1)
    verdict = table["valid/basic"][1]
    assert verdict.status == FAIL and "50000000 bytes, more than" in verdict.detail, verdict.detail


@pytest.mark.parametrize("kind", ["fifo", "directory", "/dev/zero"])
def test_a_parse_dump_that_is_not_a_regular_file_fails(tmp_path, kind):
    make = {"fifo": "os.mkfifo(PARSE)", "directory": "os.mkdir(PARSE)", "/dev/zero": "os.symlink('/dev/zero', PARSE)"}
    _, table = judge(tmp_path, python_decoder(tmp_path, make[kind]), ["valid/basic"], tiers=1)
    verdict = table["valid/basic"][1]
    assert verdict.status == FAIL and "parse.json: not a regular file" in verdict.detail, verdict.detail


# -- malformed {dump} -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good_dump(tmp_path_factory) -> Path:
    """A correct tier-2 dump of valid/basic, written by ptcodec's reconstruction."""
    from ptcodec.process.reconstruction import reconstruct
    from ptcodec.ptv import read_all

    header, records = read_all((BASIC / "stream.ptv").read_bytes())
    directory = tmp_path_factory.mktemp("dump") / "tier2"
    reconstruct(header, [r.unit for r in records[1:]]).write(directory)
    return directory


DUMP_CHANGES = {
    "index.json not JSON": ("write('index.json', b'{oops')", "index.json: not JSON"),
    "index.json a list": ("write('index.json', b'[]')", "index.json: not a JSON object"),
    "index.json a directory": ("os.remove(d + '/index.json'); os.mkdir(d + '/index.json')",
                               "index.json: not a regular file"),
    "index.json missing": ("os.remove(d + '/index.json')", "index.json: missing"),
    "an entry not an object": ("edit(lambda i: i.update(n0=[1, 2]))", "n0: the entry is not a JSON object"),
    "shape missing": ("edit(lambda i: i['n0'].pop('shape'))", "n0: no shape"),
    "sha256 missing": ("edit(lambda i: i['n0'].pop('sha256'))", "n0: no sha256"),
    "shape not a list": ("edit(lambda i: i['n0'].update(shape='1x4'))", "n0: shape '1x4' is not a list of sizes"),
    "shape of floats": ("edit(lambda i: i['n0'].update(shape=[1.0, 4, 8, 8]))", "is not a list of sizes"),
    "shape of booleans": ("edit(lambda i: i['n0'].update(shape=[True, 4, 8, 8]))", "is not a list of sizes"),
    "a negative shape": ("edit(lambda i: i['n0'].update(shape=[-1, 4, 8, 8]))", "is not a list of sizes"),
    "an enormous shape": ("edit(lambda i: i['n0'].update(shape=[2**32, 2**32, 2**32, 8]))",
                          "n0.f32: 1024 bytes, the index's shape [4294967296, 4294967296, 4294967296, 8] needs "),
    "a shape whose product overflows int64": ("edit(lambda i: i['n0'].update(shape=[2**32, 2**32, 0 + 2**30]))",
                                              "n0.f32: 1024 bytes, the index's shape"),
    "a file missing": ("os.remove(d + '/n0.f32')", "n0.f32: missing"),
    "a file too short": ("write('n0.f32', b'1234')", "n0.f32: 4 bytes, the index's shape [1, 4, 8, 8] needs 1024"),
    "a file a directory": ("os.remove(d + '/n0.f32'); os.mkdir(d + '/n0.f32')", "n0.f32: not a regular file"),
    "a file linked to /dev/zero": ("os.remove(d + '/n0.f32'); os.symlink('/dev/zero', d + '/n0.f32')",
                                   "n0.f32: not a regular file"),
    "a file a FIFO": ("os.remove(d + '/n0.f32'); os.mkfifo(d + '/n0.f32')", "n0.f32: not a regular file"),
    "a name with a path": ("edit(lambda i: i.update({'../x': i['n0']}))", "'../x' is not an array name"),
    "the dump a file": ("shutil.rmtree(d); open(d, 'w').close()", "the command wrote no dump directory"),
}


@pytest.mark.parametrize("case", list(DUMP_CHANGES) + ["none (the control)"])
def test_a_malformed_dump_fails_tier_2_with_the_problem_named(tmp_path, good_dump, case):
    change, phrase = DUMP_CHANGES.get(case, ("", None))
    body = f"""
    d = DUMP
    shutil.copytree({str(good_dump)!r}, d)
    def write(name, data):
        with open(os.path.join(d, name), 'wb') as f: f.write(data)
    def edit(change):
        index = json.load(open(d + '/index.json')); change(index); write('index.json', json.dumps(index).encode())
    {change}
    """
    command = python_decoder(tmp_path, body, "{in} {out} - {dump}")
    _, table = judge(tmp_path, command, ["valid/basic", "faulty/crc_mismatch"], tiers=2)
    verdict = table["valid/basic"][2]
    if phrase is None:
        assert verdict.status == PASS, verdict.detail
        return
    assert verdict.status == FAIL and verdict.detail.startswith("dump: ") and phrase in verdict.detail, verdict.detail
    assert table["valid/basic"][1].status == PASS and "faulty/crc_mismatch" in table


def test_a_tier2_mismatch_with_another_shape_is_explained_without_loading_it(tmp_path, good_dump):
    """A decoder's shape is only believed as far as its file's size: a wrong shape is reported, not reshaped."""
    body = f"""
    d = DUMP
    shutil.copytree({str(good_dump)!r}, d)
    index = json.load(open(d + '/index.json'))
    index['n0']['shape'] = [256]
    with open(d + '/n0.f32', 'r+b') as f: f.write(b'junk')
    json.dump(index, open(d + '/index.json', 'w'))
    """
    _, table = judge(tmp_path, python_decoder(tmp_path, body, "{in} {out} - {dump}"), ["valid/basic"], tiers=2)
    verdict = table["valid/basic"][2]
    assert verdict.status == FAIL and "n0: shape (256,), the reference has (1, 4, 8, 8)" in verdict.detail, \
        verdict.detail


# -- malformed frames ---------------------------------------------------------------------------------------

def _rgb(frames: int, extra: bytes = b"") -> bytes:
    return (BASIC / "frames.rgb").read_bytes()[:frames * FRAME_BYTES] + extra


def _y4m(header: bytes = b"YUV4MPEG2 W64 H64 F30:1 C444\n", frames: int = 7, marker: bytes = b"FRAME\n",
         cut: int = 0) -> bytes:
    from ptcodec.conformance.compare import read_rgb, rgb_as_y4m

    planes = rgb_as_y4m(read_rgb(BASIC / "frames.rgb", 64, 64))
    data = header + b"".join(marker + p.tobytes() for p in planes[:frames])
    return data[:len(data) - cut]


MALFORMED_FRAMES = {
    "rgb: the last frame cut": ("rgb", lambda: _rgb(7)[:-5], "frame 6 is cut short (12283 of 12288 bytes)"),
    "rgb: no frames": ("rgb", lambda: b"", "0 frames, the reference has 7"),
    "rgb: 6 frames": ("rgb", lambda: _rgb(6), "6 frames, the reference has 7"),
    "rgb: an extra frame": ("rgb", lambda: _rgb(7, bytes(FRAME_BYTES)), "more than 7 frames, the reference has 7"),
    "y4m: not y4m": ("y4m", lambda: b"RIFF....", "not a y4m file"),
    "y4m: no header line": ("y4m", lambda: b"YUV4MPEG2 W64 H64" + b" " * 10_000, "not a y4m file"),
    "y4m: no width": ("y4m", lambda: _y4m(b"YUV4MPEG2 H64 C444\n"), "no W in the y4m header"),
    "y4m: a width not a number": ("y4m", lambda: _y4m(b"YUV4MPEG2 Wx H64 C444\n"), "W 'x' is not a size"),
    "y4m: a huge width": ("y4m", lambda: _y4m(b"YUV4MPEG2 W1000000000 H64 C444\n"),
                          "1000000000x64, the reference frames are 64x64"),
    "y4m: 4:2:0": ("y4m", lambda: _y4m(b"YUV4MPEG2 W64 H64 C420jpeg\n"), "C420jpeg"),
    "y4m: a FRAME marker missing": ("y4m", lambda: _y4m(marker=b""), "no FRAME header at byte 29"),
    "y4m: a marker without its newline": ("y4m", lambda: _y4m(frames=1)[:29] + b"FRAME" + b" " * 10_000,
                                          "no FRAME header at byte 29"),
    "y4m: the last frame cut": ("y4m", lambda: _y4m(cut=7), "frame 6 is cut short"),
    "y4m: an extra frame": ("y4m", lambda: _y4m() + _y4m(b"", frames=1), "more than 7 frames, the reference has 7"),
}


@pytest.mark.parametrize("case", list(MALFORMED_FRAMES) + ["rgb: the control", "y4m: the control"])
def test_malformed_frames_fail_tier_3_with_the_problem_named(tmp_path, case):
    frames_format, make, phrase = MALFORMED_FRAMES.get(case, (case[:3], _rgb(7) if case[:3] == "rgb" else _y4m, None))
    (tmp_path / "payload").write_bytes(make() if callable(make) else make)
    command = python_decoder(tmp_path, f"shutil.copy({str(tmp_path / 'payload')!r}, OUT)", "{in} {out}")
    _, table = judge(tmp_path, command, ["valid/basic", "faulty/crc_mismatch"], tiers=3, frames_format=frames_format)
    verdict = table["valid/basic"][3]
    if phrase is None:
        assert verdict.status == PASS, verdict.detail
        return
    assert verdict.status == FAIL and phrase in verdict.detail, verdict.detail
    assert table["valid/basic"][2].status == SKIP and "faulty/crc_mismatch" in table


@pytest.mark.parametrize("kind", ["fifo", "directory", "/dev/zero"])
def test_a_frames_file_that_is_not_a_regular_file_fails(tmp_path, kind):
    make = {"fifo": "os.mkfifo(OUT)", "directory": "os.mkdir(OUT)", "/dev/zero": "os.symlink('/dev/zero', OUT)"}
    _, table = judge(tmp_path, python_decoder(tmp_path, make[kind], "{in} {out}"), ["valid/basic"], tiers=3)
    verdict = table["valid/basic"][3]
    assert verdict.status == FAIL and "frames.rgb: not a regular file" in verdict.detail, verdict.detail


# -- bounded reading ---------------------------------------------------------------------------------------------

def test_a_huge_stderr_line_is_cut_in_the_verdict_and_the_report(tmp_path):
    command = f"{PYTHON} -c \"import sys; sys.stderr.write('InvalidValueError ' + 'x' * 20_000_000)\"; exit 1 # {{in}}"
    _, table = judge(tmp_path, command, ["valid/basic", "faulty/crc_mismatch"], tiers=1)
    verdict = table["valid/basic"][1]
    assert verdict.status == FAIL and "rejected a valid stream" in verdict.detail
    assert len(verdict.detail) < 2500 and "[cut:" in verdict.detail and verdict.detail.endswith("xxxx")
    # the class name at the start of 20 MB was still read: a rejection with the wrong class, not "no class"
    assert "rejected with InvalidValueError; expected CrcMismatchError" in table["faulty/crc_mismatch"][1].detail
    assert (tmp_path / "results.json").stat().st_size < 20_000


MEMORY_PROBE = """
import resource, sys
from pathlib import Path
from ptcodec.conformance.candidates import CommandCandidate
from ptcodec.conformance.runner import run_suite
from ptcodec.conformance.vectors import load_vectors

vectors, work = load_vectors(sys.argv[1], ["valid/basic"]), Path(sys.argv[2])
run_suite(vectors, CommandCandidate("cp " + sys.argv[3] + " {out} # {in}"), tiers=3, workdir=work / "warm")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hostile = CommandCandidate("head -c 200000000 /dev/zero; head -c 200000000 /dev/zero >&2; "
                           "head -c 300000000 /dev/zero > {out} # {in}")
result = run_suite(vectors, hostile, tiers=3, workdir=work / "hostile")
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024, [(t.status, t.detail[:200]) for t in result.verdicts[0].tiers])
"""


def test_huge_outputs_are_read_in_bounded_memory(tmp_path):
    """200 MB on stdout and on stderr and a 300 MB frames file: the runner's peak memory grows by little."""
    (tmp_path / "probe.py").write_text(MEMORY_PROBE)
    try:
        done = subprocess.run([sys.executable, str(tmp_path / "probe.py"), str(VECTORS), str(tmp_path),
                               str(BASIC / "frames.rgb")], capture_output=True, text=True, timeout=120)
    finally:
        shutil.rmtree(tmp_path / "hostile", ignore_errors=True)
    assert done.returncode == 0, done.stderr
    grown_mb, verdicts = done.stdout.split(" ", 1)
    assert int(grown_mb) < 64, done.stdout
    assert "more than 7 frames, the reference has 7" in verdicts


# -- crashes, signals, timeouts -------------------------------------------------------------------------------

CRASHES = {
    "the shell killed by SIGSEGV": ("echo CrcMismatchError >&2; kill -SEGV $$", "SIGSEGV"),
    "a child killed by SIGSEGV (sh reports 139)": ("echo CrcMismatchError >&2; sh -c 'kill -SEGV $$'", "SIGSEGV"),
    "a child aborting (sh reports 134)": (f"echo CrcMismatchError >&2; {PYTHON} -c 'import os; os.abort()'",
                                          "SIGABRT"),
}


@pytest.mark.parametrize("case", list(CRASHES))
def test_a_decoder_killed_by_a_signal_is_a_crash_not_a_rejection(tmp_path, case):
    command, name = CRASHES[case]
    _, table = judge(tmp_path, command + " # {in}", ["valid/basic", "faulty/crc_mismatch"], tiers=2)
    faulty, valid = table["faulty/crc_mismatch"][1], table["valid/basic"][1]
    assert faulty.status == FAIL and faulty.detail.startswith(f"crashed: {name}"), faulty.detail
    assert "expected a reject with CrcMismatchError (F6)" in faulty.detail
    assert valid.status == FAIL and valid.detail.startswith(f"crashed: {name}"), valid.detail
    assert table["valid/basic"][2].status == FAIL


def test_an_ordinary_exit_status_is_still_a_rejection(tmp_path):
    """The control: exit statuses that are not 128 + a signal are rejections."""
    _, table = judge(tmp_path, "echo CrcMismatchError >&2; exit 1 # {in}", ["faulty/crc_mismatch"], tiers=1)
    assert table["faulty/crc_mismatch"][1].status == PASS


def _gone(pid: int) -> bool:
    """No such process, or only a zombie left for init to reap."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return True
    return state in ("Z", "X")


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if _gone(pid):
            return True
        time.sleep(0.05)
    return _gone(pid)


def test_a_timeout_kills_the_decoders_whole_process_group(tmp_path):
    pidfile = tmp_path / "child.pid"
    command = (f"sleep 300 >/dev/null 2>&1 & echo $! > {shlex.quote(str(pidfile))}; sleep 300 >/dev/null 2>&1 "
               "# {in}")
    try:
        # 4 s: time for the shell to start and write the pidfile even on a loaded machine
        _, table = judge(tmp_path, command, ["valid/basic", "faulty/crc_mismatch"], tiers=1, timeout=4)
        child = int(pidfile.read_text())
        assert _wait_gone(child), f"the decoder's child {child} survived its timeout"
        for vector in ("valid/basic", "faulty/crc_mismatch"):
            assert table[vector][1].status == FAIL and "timed out after 4 s" in table[vector][1].detail
    finally:
        if pidfile.exists() and not _gone(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def test_a_child_left_holding_the_output_neither_hangs_the_runner_nor_survives_it(tmp_path):
    pidfile = tmp_path / "child.pid"
    wait = f"until [ -s {shlex.quote(str(pidfile))} ]; do sleep 0.05; done"
    command = (f"sh -c 'echo $$ > {pidfile}; exec sleep 60' & {wait}; echo CrcMismatchError >&2; exit 1 # {{in}}")
    try:
        _, table = judge(tmp_path, command, ["faulty/crc_mismatch"], tiers=1, timeout=30)
        assert table["faulty/crc_mismatch"][1].status == PASS, table["faulty/crc_mismatch"][1].detail
        assert _wait_gone(int(pidfile.read_text()))
    finally:
        if pidfile.exists() and not _gone(int(pidfile.read_text())):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


# -- other hostile behaviour ----------------------------------------------------------------------------------

def test_non_utf8_and_control_characters_in_the_output_are_kept_printable(tmp_path):
    command = r"printf 'CrcMismatchError \377\376 \033[2J done\n' >&2; exit 1 # {in}"
    _, table = judge(tmp_path, command, ["faulty/crc_mismatch", "valid/basic"], tiers=1)
    assert table["faulty/crc_mismatch"][1].status == PASS
    detail = table["valid/basic"][1].detail
    assert "CrcMismatchError" in detail and "done" in detail and detail.isprintable(), repr(detail)


def test_a_decoder_cannot_damage_the_vectors_it_is_given(tmp_path):
    for name in ("basic", "hold"):
        shutil.copytree(BASIC.parent / name, tmp_path / "vectors" / "valid" / name)
    vectors = load_vectors(tmp_path / "vectors")
    result = run_suite(vectors, CommandCandidate("echo junk > {in}"), tiers=1, workdir=tmp_path / "work")
    assert len(result.verdicts) == 2
    for vector in vectors:
        vector.check_files()


def test_a_decoder_that_removes_or_replaces_its_directories_is_judged_and_the_run_goes_on(tmp_path):
    """It deletes its own directory, and puts a file where the runner keeps the other valid vectors'."""
    command = 'd="$PWD"; cd /; rm -rf "$d"; k="$(dirname "$d")"; rm -rf "$k"; echo x > "$k" # {in}'
    result, table = judge(tmp_path, command, ["valid/basic", "valid/hold", "faulty/crc_mismatch"], tiers=2)
    assert len(result.verdicts) == 3
    assert table["valid/basic"][1].status == PASS  # accepted, no parse dump asked for
    assert table["valid/hold"][1].status == FAIL and "work directory" in table["valid/hold"][1].detail
    assert table["faulty/crc_mismatch"][1].status == FAIL


def test_a_reused_workdir_never_lends_old_outputs_to_a_new_run(tmp_path):
    _rgb_file = tmp_path / "payload"
    _rgb_file.write_bytes(_rgb(7))
    judge(tmp_path, f"cp {_rgb_file} {{out}} # {{in}}", ["valid/basic"], tiers=3)
    _, table = judge(tmp_path, "true {in}", ["valid/basic"], tiers=3)
    assert table["valid/basic"][3].status == FAIL and "no frames written" in table["valid/basic"][3].detail


# -- the command -----------------------------------------------------------------------------------------------

def test_the_command_reports_a_hostile_decoder_and_writes_its_results(tmp_path):
    out = tmp_path / "results.json"
    decoder = "echo '[1]' > {parse}; kill -SEGV $$ # {in}"
    done = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--tier", "1", "--only", "valid/basic",
                           "faulty/crc_mismatch", "--decoder", decoder, "--timeout", "20", "--json", str(out),
                           "--vectors", str(VECTORS), "--workdir", str(tmp_path / "work")],
                          capture_output=True, text=True)
    assert done.returncode == 1, done.stderr
    assert "crashed: SIGSEGV" in done.stdout and "DOES NOT CONFORM" in done.stdout
    report = json.loads(out.read_text())
    assert [v["status"] for v in report["vectors"]] == [FAIL, FAIL]


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf"])
def test_a_timeout_that_is_not_a_positive_number_is_refused_in_one_line(tmp_path, value):
    done = subprocess.run([sys.executable, "-m", "ptcodec", "conformance", "--decoder", "true {in}",
                           "--timeout", value, "--vectors", str(VECTORS), "--json", "-"],
                          capture_output=True, text=True)
    assert done.returncode != 0 and done.stderr.strip().count("\n") == 0 and "--timeout" in done.stderr, done.stderr


def _run_cli_in_its_own_session(tmp_path: Path, decoder: str, *options: str) -> tuple[int, str]:
    """`ptcodec conformance` on faulty/crc_mismatch, in a session of its own (so that a decoder that
    signals its process group cannot reach the test), with a standard input that never ends."""
    with open(tmp_path / "said.txt", "w") as said:
        process = subprocess.Popen([sys.executable, "-m", "ptcodec", "conformance", "--tier", "1", "--only",
                                    "faulty/crc_mismatch", "--decoder", decoder, "--json", "-", "--vectors",
                                    str(VECTORS), *options], stdin=subprocess.PIPE, stdout=said,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        try:
            returncode = process.wait(timeout=120)
        finally:
            process.stdin.close()
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
    return returncode, (tmp_path / "said.txt").read_text()


def test_a_decoder_that_signals_its_process_group_does_not_kill_the_runner(tmp_path):
    returncode, said = _run_cli_in_its_own_session(tmp_path, "kill -TERM 0 # {in}")
    assert returncode == 1, said
    assert "crashed: SIGTERM; expected a reject with CrcMismatchError" in said and "DOES NOT CONFORM" in said


def test_a_decoder_reading_standard_input_reads_nothing(tmp_path):
    returncode, said = _run_cli_in_its_own_session(tmp_path, "cat > /dev/null; echo CrcMismatchError >&2; exit 1 "
                                                   "# {in}", "--timeout", "10")
    assert returncode == 0 and "CONFORMS" in said, said


def test_the_compare_tool_reports_a_malformed_frames_file_in_one_line(tmp_path, capsys):
    from ptcodec.conformance.compare import main

    (tmp_path / "frames.y4m").write_bytes(b"YUV4MPEG2 H64 C444\n")
    assert main([str(BASIC), str(tmp_path / "frames.y4m")]) == 1
    assert capsys.readouterr().out == "valid/basic: fail: frames.y4m: no W in the y4m header\n"
