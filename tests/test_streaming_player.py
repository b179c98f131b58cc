"""`ptcodec play`: the player over loopback against the simulator, the compute-aware choice through the
player, one-line errors (bad manifests, segments that fail mid-stream), and real generation with the
reference generator, whose frames are those `ptcodec decode` makes of the same stream."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ptcodec.cli import main
from ptcodec.errors import InputError
from ptcodec.process.quant import quantize_keyframe
from ptcodec.ptv import QuantScheme, SceneInit, serialize
from ptcodec.streaming import serve
from ptcodec.streaming.abr import Abr, AbrState, Ladder, make_abr
from ptcodec.streaming.ladder import load_ladder
from ptcodec.streaming.package import package_file
from ptcodec.streaming.player import Generation, play, switch_allowed
from ptcodec.streaming.simulate import simulate_session
from ptcodec.streaming.traces import Trace
from tests.conftest import make_header, tiny_scene
from tests.test_streaming_serve import Server

FRAMES = 300  # 10 s at 30 fps, a keyframe every 10 frames, scenes at 0 and 150: ten 1 s segments
RANKS = (2, 4, 8, 16)


def make_ladder_stream(path: Path) -> Path:
    """Rank 16 at 8 tokens x 256: about 15, 28, 55 and 107 kbit/s at ranks 2, 4, 8, 16."""
    header = make_header(frame_count=FRAMES, tokens=8, embed_dim=256)
    rng = np.random.default_rng(0)
    units = []
    for frame in range(0, FRAMES, 10):
        if frame in (0, 150):
            units.append(tiny_scene(header, frame))
        u = rng.standard_normal((8, 16)).astype(np.float32)
        v = rng.standard_normal((16, 256)).astype(np.float32)
        units.append(quantize_keyframe(frame, u, v, QuantScheme.PER_COMPONENT))
    path.write_bytes(serialize(header, units))
    return path


@pytest.fixture
def package(tmp_path) -> Path:
    out = tmp_path / "pkg"
    package_file(make_ladder_stream(tmp_path / "in.ptv"), out, ranks=RANKS, segment_s=1.0)
    return out


class Fixed(Abr):
    """A fixed list of representations (the last repeats): the choice under test, not an algorithm."""

    name = "fixed"

    def __init__(self, *reps: int) -> None:
        super().__init__(compute_aware=False)
        self.reps = reps

    def _pick(self, state: AbrState, ladder: Ladder, candidates: list[int]) -> int:
        return self.reps[min(state.segment, len(self.reps) - 1)]


def test_player_and_simulator_agree_over_loopback(package):
    """Rate-based over a trace that drops from 256 to 32 kbit/s: it climbs to the top rank, stalls after the
    drop and steps down. The server's trace runs from its start and the index.json download comes first, so
    the simulator gets the trace from the moment the player's session began (measured on the link's clock).
    The drop is placed while the player waits on its 3 s buffer cap (by the simulator's timeline), so no
    download straddles it: one that did would turn the loop's few milliseconds into much longer stalls."""
    rtt, hi, lo = 0.01, 256.0, 32.0
    manifest_s = rtt + (package / "index.json").stat().st_size * 8 / 1000 / hi
    drop = manifest_s + 2.82  # between the arrival of segment 6 (2.55 s into the session) and its next request
    trace = Trace((0.0, drop), (hi, lo), 100.0, "drop")

    async def session():
        runner, port = await serve.start(package, trace, rtt_s=rtt)
        assert {s.getsockname()[0] for s in next(iter(runner.sites))._server.sockets} == {"127.0.0.1"}
        link = runner.app[serve.LINK]
        began = []
        try:
            result = await play(f"http://127.0.0.1:{port}/", make_abr("rb"), max_buffer_s=3.0,
                                on_package=lambda p: began.append(link.now()))
        finally:
            await runner.cleanup()
        return result, began[0]

    played, began = asyncio.run(session())
    seen = Trace((0.0, drop - began), (hi, lo), 100.0 - began, "drop")
    simulated = simulate_session(load_ladder(package), make_abr("rb"), seen, rtt_s=rtt, max_buffer_s=3.0)
    assert played.trace.startswith("http://127.0.0.1:")
    assert len({log.rep for log in simulated.segments}) >= 3 and simulated.stall_count >= 1  # a real test
    assert played.stall_count == simulated.stall_count
    assert played.stall_s == pytest.approx(simulated.stall_s, rel=0.10)
    assert played.mean_bitrate_kbps == pytest.approx(simulated.mean_bitrate_kbps, rel=0.10)
    print(f"stalls {played.stall_count}/{simulated.stall_count}, stall s {played.stall_s:.3f}/{simulated.stall_s:.3f}, "
          f"mean kbit/s {played.mean_bitrate_kbps:.1f}/{simulated.mean_bitrate_kbps:.1f} (player/simulator)")


@pytest.fixture
def server(package):
    server = Server(package, None)  # full speed: only the generation model limits the client
    sockets = next(iter(server.runner.sites))._server.sockets
    assert {s.getsockname()[0] for s in sockets} == {"127.0.0.1"}
    yield server
    server.close()


def _play(server, tmp_path, *args: str, name: str = "log.json") -> dict:
    log = tmp_path / name
    assert main(["play", f"http://127.0.0.1:{server.port}/", *args, "--log", str(log), "-q"]) == 0
    return json.loads(log.read_text())["abrs"]


def test_a_compute_unaware_abr_stalls_on_generation_and_the_compute_aware_one_does_not(server, tmp_path, capsys):
    speeds = "60,60,60,12"  # the top rank generates at 12 frames/s, below the 30 frames/s of playback
    aware = _play(server, tmp_path, "--abr", "rb", "--gen-fps", speeds, name="aware.json")["rb"][0]
    unaware = _play(server, tmp_path, "--abr", "rb", "--gen-fps", speeds, "--compute-unaware")["rb"][0]
    assert {s["rank"] for s in unaware["segments"][1:]} == {16}  # the network allows the top rank
    assert unaware["gen_stall_s"] > 5 and unaware["stall_count"] >= 9
    assert aware["stall_s"] == 0 and aware["stall_count"] == 0
    assert {s["rank"] for s in aware["segments"][1:]} == {8}
    assert aware["qoe"] > unaware["qoe"]
    out = capsys.readouterr().out
    assert "stalls" in out and out.count("\n") == 4  # a summary and the log's name, twice


def test_the_mpd_is_parsed_and_checked_against_the_index(server, package, tmp_path, capsys):
    log = tmp_path / "log.json"
    url = f"http://127.0.0.1:{server.port}/manifest.mpd"
    assert main(["play", url, "--abr", "bola", "--log", str(log)]) == 0
    err = capsys.readouterr().err
    assert err.count("segment ") == 10 and "segment 10/10: rep" in err  # one line a segment on stderr
    session = json.loads(log.read_text())["abrs"]["bola"][0]
    assert session["trace"] == url and len(session["segments"]) == 10
    assert {"rep", "rank", "bytes", "download_s", "buffer_s", "rebuffer_s", "gen_stall_s"} <= set(session["segments"][0])
    mpd = (package / "manifest.mpd").read_text()
    (package / "manifest.mpd").write_text(mpd.replace("seg-00003.ptvs", "seg-00099.ptvs", 1))
    assert main(["play", url, "-q"]) == 1
    assert "the MPD and" in capsys.readouterr().err


@pytest.mark.parametrize(("name", "text", "message"), [
    ("index.json", "{not json", "not a package index"),
    ("index.json", '{"schema": "other"}', "not a `ptcodec package` index"),
    ("index.json", '{"schema": "ptcodec-package/1", "representations": 3}', "malformed package index"),
    ("manifest.mpd", "<MPD><Period><AdaptationSet>", "malformed MPD"),
    ("manifest.mpd", "hello", "not a DASH MPD"),
])
def test_a_malformed_manifest_is_one_line_naming_it(server, package, capsys, name, text, message):
    (package / name).write_text(text)
    url = f"http://127.0.0.1:{server.port}/" + ("manifest.mpd" if name == "manifest.mpd" else "")
    assert main(["play", url, "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err and f"127.0.0.1:{server.port}/{name}" in err, err


def test_an_index_that_points_to_another_server_is_refused(server, package, capsys):
    index = json.loads((package / "index.json").read_text())
    index["representations"][1]["segments"][2]["file"] = "http://192.0.2.1/seg.ptvs"
    (package / "index.json").write_text(json.dumps(index))
    assert main(["play", f"http://127.0.0.1:{server.port}/index.json", "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("index.json: the index points outside its server ('http://192.0.2.1/seg.ptvs')"), err


def test_a_missing_manifest_is_one_line(server, capsys):
    assert main(["play", f"http://127.0.0.1:{server.port}/none/", "-q"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.endswith("/none/index.json: cannot fetch the package index (HTTP 404 Not Found)"), err


def test_a_failed_segment_is_retried_then_fetched_at_another_rank(server, package, tmp_path, capsys):
    (package / "r16" / "seg-00004.ptvs").unlink()  # 404 mid-stream
    short = package / "r16" / "seg-00006.ptvs"
    size = len(short.read_bytes())
    short.write_bytes(short.read_bytes()[:-10])  # a body shorter than the index says
    session = _play(server, tmp_path, "--abr", "rb")["rb"][0]
    ranks = [s["rank"] for s in session["segments"]]
    assert ranks[3] == 8 and ranks[5] == 8 and ranks[2] == ranks[4] == ranks[6] == 16, ranks
    err = capsys.readouterr().err
    assert "r16/seg-00004.ptvs: failed 3 times (HTTP 404 Not Found)" in err
    assert f"r16/seg-00006.ptvs: failed 3 times (Content-Length {size - 10:,}, the index says {size:,} bytes)" in err


def test_a_segment_no_rank_has_stops_the_command_with_one_line(server, package):
    for rank in RANKS:
        (package / f"r{rank}" / "seg-00004.ptvs").unlink()
    url = f"http://127.0.0.1:{server.port}/"
    run = subprocess.run([sys.executable, "-m", "ptcodec", "play", url, "--abr", "rb", "-q"],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith(f"ptcodec: error: {url}r16/seg-00004.ptvs: segment 4 could not be fetched from any "
                           "representation: rank 16: HTTP 404"), last
    assert run.stderr.count("failed 3 times") == 4


# -- real generation with the reference generator ----------------------------------------------------------------


def reference_stream(path: Path, scheme: int = QuantScheme.PER_COMPONENT, *, similar: bool = False) -> Path:
    """24 frames of 32 x 24 for the reference generator, keyframes every 4 frames, scenes at 0 and 12;
    `similar`: each keyframe a small change of the one before (so that 1.1 predicts it)."""
    from ptcodec.generators.reference import ReferenceGenerator

    coded = scheme == QuantScheme.PER_COMPONENT_CODED
    header = make_header(generator_id="reference", generator_fingerprint=ReferenceGenerator().fingerprint(),
                         width=32, height=24, tokens=77, embed_dim=1024, frame_count=24, level=3,
                         quant_schemes=7 if coded else 3, version_minor=1 if coded else 0)
    rng = np.random.RandomState(3)
    u, v = rng.randn(77, 4), rng.randn(4, 1024)
    units = []
    for frame in range(0, 24, 4):
        if frame in (0, 12):
            units.append(SceneInit.from_latent(frame, rng.randn(1, *header.latent_shape).astype(np.float32)))
        if not similar:
            u, v = rng.randn(77, 4), rng.randn(4, 1024)
        units.append(quantize_keyframe(frame, u + 0.01 * rng.randn(77, 4), v, scheme))
    path.write_bytes(serialize(header, units))
    return path


def decoded(stream: Path, out: Path) -> bytes:
    assert main(["decode", str(stream), str(out), "-q"]) == 0
    return out.read_bytes()


def test_real_generation_writes_the_frames_decode_makes(tmp_path, capsys):
    from ptcodec.jobs.truncate import truncate_file

    stream = reference_stream(tmp_path / "ref.ptv")
    package_file(stream, tmp_path / "pkg", ranks=(2, 4), segment_s=0.2)
    server = Server(tmp_path / "pkg", None)
    try:
        out, log = tmp_path / "played.rgb", tmp_path / "log.json"
        # bb stays at the lowest rank while the buffer is under its 5 s reservoir: the whole 0.8 s clip
        assert main(["play", f"http://127.0.0.1:{server.port}/", "--abr", "bb", "--generator", "reference",
                     "--output", str(out), "--log", str(log), "-q"]) == 0
    finally:
        server.close()
    session = json.loads(log.read_text())["abrs"]["bb"][0]
    assert {s["rank"] for s in session["segments"]} == {2}
    assert "24 frames generated" in capsys.readouterr().out
    truncate_file(stream, tmp_path / "r2.ptv", 2)
    want = decoded(tmp_path / "r2.ptv", tmp_path / "r2.rgb")
    assert len(want) == 24 * 32 * 24 * 3
    assert out.read_bytes() == want
    assert not list(tmp_path.glob("*.partial*"))


def _generate(tmp_path, stream: Path, abr: Abr) -> tuple[list[int], bytes]:
    from ptcodec.generators.reference import ReferenceGenerator

    package_file(stream, tmp_path / "pkg", ranks=(2, 4), segment_s=0.13)  # a segment per keyframe (4 frames)
    server = Server(tmp_path / "pkg", None)
    try:
        out = tmp_path / "played.rgb"
        generation = Generation(ReferenceGenerator(), str(out))
        result = asyncio.run(play(f"http://127.0.0.1:{server.port}/", abr, generation=generation))
    finally:
        server.close()
    return [log.rep for log in result.segments], out.read_bytes()


def _spliced(tmp_path, reps: list[int]) -> Path:
    index = json.loads((tmp_path / "pkg" / "index.json").read_text())
    chosen = [index["representations"][rep] for rep in reps]
    data = (tmp_path / "pkg" / chosen[0]["init"]).read_bytes()
    data += b"".join((tmp_path / "pkg" / r["segments"][i]["file"]).read_bytes() for i, r in enumerate(chosen))
    path = tmp_path / "spliced.ptv"
    path.write_bytes(data)
    return path


def test_a_rank_switch_mid_scene_decodes_as_the_spliced_stream(tmp_path):
    """Version 1.0: rank 2 then rank 4 from segment 2 (frame 4, inside the first scene): the decoder
    interpolates the composed prompts across the change, exactly as for the spliced stream."""
    reps, frames = _generate(tmp_path, reference_stream(tmp_path / "ref.ptv"), Fixed(0, 1))
    assert reps == [0, 1, 1, 1, 1, 1]
    assert frames == decoded(_spliced(tmp_path, reps), tmp_path / "spliced.rgb")


def test_a_version_1_1_stream_switches_only_at_scene_starts(tmp_path):
    """Predicted keyframes need the previous keyframe of their own rank: the spliced stream that switches
    inside a scene cannot be read, so the player keeps the rank until the next scene (segment 4, frame 12)."""
    from ptcodec.errors import PtvError
    from ptcodec.ptv import PtvReader

    stream = reference_stream(tmp_path / "ref.ptv", QuantScheme.PER_COMPONENT_CODED, similar=True)
    reps, frames = _generate(tmp_path, stream, Fixed(0, 1))
    assert reps == [0, 0, 0, 1, 1, 1]
    assert frames == decoded(_spliced(tmp_path, reps), tmp_path / "spliced.rgb")
    with PtvReader(_spliced(tmp_path, [0, 1, 1, 1, 1, 1])) as reader, \
            pytest.raises(PtvError, match="predicted keyframe of rank 4 follows one of rank 2"):
        list(reader.units())


def test_switch_allowed_only_refuses_1_1_switches_inside_a_scene():
    from ptcodec.streaming.player import Package

    ladder = Ladder((10.0, 20.0), 1.0, ((1, 1), (1, 1)))
    package = Package("http://127.0.0.1/index.json", ladder, (2, 4), ("a", "b"), (1, 1),
                      (("a1", "a2"), ("b1", "b2")), (True, False))
    v10, v11 = make_header(), make_header(version_minor=1)
    assert switch_allowed(v10, package, 1, 0, 1)
    assert not switch_allowed(v11, package, 1, 0, 1)
    assert switch_allowed(v11, package, 0, 0, 1) and switch_allowed(v11, package, 1, 1, 1)
    assert switch_allowed(None, package, 1, 0, 1)


def test_output_needs_a_generator():
    from ptcodec.cli import build_parser

    args = build_parser().parse_args(["play", "http://127.0.0.1:1/", "--output", "x.rgb"])
    with pytest.raises(InputError, match="--output needs --generator"):
        args.run(args)
