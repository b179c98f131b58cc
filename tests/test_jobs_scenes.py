"""Scene-parallel transcoding: the plan, scene-independent fits, Ray on loopback, resume, retries, memory."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from ptcodec.encoder import FitOptions, StreamOptions
from ptcodec.errors import InputError, PtcodecError
from ptcodec.jobs.plan import Source, make_plan, max_scene_frames
from ptcodec.jobs.scenes import STORE_SUFFIX, SceneJob, SceneStore, encode_scene, planning_threads
from ptcodec.jobs.transcode import transcode_file
from ptcodec.media.writer import VideoWriter

pytest.importorskip("ray")

STREAM = StreamOptions(ranks=(2,), interval=4)
FIT = FitOptions(quality="fast", first_steps=6, later_steps=3)
SCENES = [0, 8, 16]
"""Scene starts of the clip `three_scenes` writes (each scene a different random picture)."""


def write_clip(path: Path, scene_starts: list[int], frames: int, side: int = 32, seed: int = 0) -> Path:
    """A lossless clip whose scenes are unrelated pictures, each moving a little (FFV1)."""
    rng = np.random.RandomState(seed)
    writer = VideoWriter(path, 10, codec="ffv1")
    base = None
    for t in range(frames):
        if t in scene_starts:
            base = rng.randint(0, 255, (side, side, 3)).astype(np.int16)
        assert base is not None
        writer.write(np.clip(base + rng.randint(-3, 4, (side, side, 3)), 0, 255).astype(np.uint8))
    writer.close()
    return path


@pytest.fixture(scope="module")
def three_scenes(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "clip.mkv", SCENES, 24)


@pytest.fixture(scope="module")
def serial(three_scenes, tmp_path_factory) -> bytes:
    """The serial encode (no Ray): the bytes every worker count must give."""
    out = tmp_path_factory.mktemp("serial") / "serial.ptv"
    result = transcode_file(three_scenes, out, STREAM, FIT, size=(32, 32))
    assert result.report.scene_starts == SCENES and result.scenes == 0
    return out.read_bytes()


def listening() -> set[tuple[str, int]]:
    """(address, port) of every TCP socket listening on this machine (Linux /proc)."""
    found = set()
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            if state != "0A":  # LISTEN
                continue
            address, port = local.split(":")
            raw = bytes.fromhex(address)
            if family == socket.AF_INET:
                text = socket.inet_ntop(family, raw[::-1])
            else:  # four little-endian 32-bit words
                text = socket.inet_ntop(family, b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
            found.add((text, int(port, 16)))
    return found


def is_loopback(address: str) -> bool:
    return address in ("127.0.0.1", "::1", "::ffff:127.0.0.1")


def test_the_plan_is_the_encoders_own_cut_detection(three_scenes):
    from ptcodec.generators import load_generator

    source = Source(str(three_scenes), (32, 32), "crop", 8, None)
    plan = make_plan(source, load_generator("reference"), scene_threshold=0.5, max_scene_length=None)
    assert plan.scene_starts == tuple(SCENES) and plan.frame_count == 24 and (plan.width, plan.height) == (32, 32)
    assert plan.scenes == [(0, 8), (8, 16), (16, 24)]
    refreshed = make_plan(source, load_generator("reference"), scene_threshold=0.5, max_scene_length=5)
    assert refreshed.scene_starts == (0, 5, 8, 13, 16, 21)  # refresh points restart at each cut


def test_max_scene_takes_frames_or_seconds():
    assert max_scene_frames("300", Fraction(30)) == 300
    assert max_scene_frames("10s", Fraction(30)) == 300
    assert max_scene_frames("2.5s", Fraction(24)) == 60
    for bad in ("0", "abc", "0s", "-1s"):
        with pytest.raises(InputError, match="--max-scene"):
            max_scene_frames(bad, Fraction(30))


def test_each_scene_alone_gives_the_bytes_of_the_serial_stream(three_scenes, serial):
    """No scene depends on another: fitting the last scene first, alone, gives its units of the serial
    stream, so their concatenation after the header and metadata is that stream."""
    from ptcodec.generators import load_generator

    source = Source(str(three_scenes), (32, 32), "crop", 8, None)
    plan = make_plan(source, load_generator("reference"), scene_threshold=0.5, max_scene_length=None)
    job = SceneJob(source, plan, STREAM, FIT, "reference", threads=planning_threads("cpu"))
    pieces = {scene: encode_scene(job, scene) for scene in reversed(plan.scenes)}
    codec_private = job.encoder(load_generator("reference")).codec_private
    assert codec_private + b"".join(pieces[s] for s in plan.scenes) == serial


def test_a_scene_fits_with_the_thread_count_of_the_process_that_planned_it(three_scenes, serial):
    """A Ray task asking for one CPU runs PyTorch on one thread, and CPU results differ in their last
    bits with the thread count: the job carries the planner's count, the task fits with it and then
    restores its own, so a one-thread worker still gives the serial bytes."""
    import torch

    from ptcodec.generators import load_generator

    threads = planning_threads("cpu")
    if threads is None or threads < 2:
        pytest.skip("needs a process planning with two or more threads")
    source = Source(str(three_scenes), (32, 32), "crop", 8, None)
    plan = make_plan(source, load_generator("reference"), scene_threshold=0.5, max_scene_length=None)
    job = SceneJob(source, plan, STREAM, FIT, "reference", threads=threads)
    torch.set_num_threads(1)
    try:
        pieces = [encode_scene(job, scene) for scene in plan.scenes]
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    assert job.encoder(load_generator("reference")).codec_private + b"".join(pieces) == serial
    assert planning_threads("cuda:0") is None


def test_one_worker_on_ray_gives_the_serial_bytes_on_loopback_only(three_scenes, serial, tmp_path):
    before = listening()
    seen: set[tuple[str, int]] = set()

    def progress(task: str, done: int, total: int) -> None:  # noqa: ARG001 - called while the cluster runs
        if task == "encoding":
            seen.update(listening() - before)

    out = tmp_path / "one.ptv"
    result = transcode_file(three_scenes, out, STREAM, FIT, size=(32, 32), workers=1, progress=progress)
    assert out.read_bytes() == serial and result.scenes == 3 and result.resumed_scenes == 0
    assert seen, "the cluster's sockets were seen while it ran"
    assert all(is_loopback(address) for address, _ in seen), sorted(seen)
    assert not Path(str(out) + STORE_SUFFIX).exists() and not Path(str(out) + ".partial").exists()


def test_an_interrupted_job_resumes_without_refitting_its_finished_scenes(three_scenes, serial, tmp_path):
    out = tmp_path / "two.ptv"
    store = Path(str(out) + STORE_SUFFIX)

    def stop_after_a_scene(task: str, done: int, total: int) -> None:  # noqa: ARG001
        if task == "encoding" and store.is_dir() and any(p.suffix == ".units" for p in store.iterdir()):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        transcode_file(three_scenes, out, STREAM, FIT, size=(32, 32), workers=2, progress=stop_after_a_scene)
    kept = {p.name: p.stat().st_mtime_ns for p in store.iterdir() if p.suffix == ".units"}
    assert 1 <= len(kept) < 3 and not out.exists()
    with pytest.raises(InputError, match="--resume"):  # a fresh start would throw the kept scenes away
        transcode_file(three_scenes, out, STREAM, FIT, size=(32, 32), workers=2)
    result = transcode_file(three_scenes, out, STREAM, FIT, size=(32, 32), workers=2, resume=True)
    assert result.resumed_scenes == len(kept)
    assert out.read_bytes() == serial
    assert not store.exists()


def test_resume_refuses_scenes_of_other_options(three_scenes, tmp_path):
    out = tmp_path / "x.ptv"
    store = Path(str(out) + STORE_SUFFIX)
    store.mkdir()
    (store / "job.json").write_text('{"codec_private_sha256": "00", "scenes": []}')
    (store / "scene-000000000-000000008.units").write_bytes(b"")
    with pytest.raises(InputError, match="another input, with other options or another --threads"):
        transcode_file(three_scenes, out, STREAM, FIT, size=(32, 32), workers=1, resume=True)


def test_the_thread_count_is_part_of_the_plan(three_scenes, tmp_path):
    """--threads 1 (what local workers on a small machine want): the serial encode and two workers
    give the same bytes, the caller's own thread count is restored, and a store fitted at one
    thread count is not resumed at another (CPU bytes differ with it)."""
    import torch

    before = torch.get_num_threads()
    serial_one = tmp_path / "serial-1.ptv"
    transcode_file(three_scenes, serial_one, STREAM, FIT, size=(32, 32), threads=1)
    assert torch.get_num_threads() == before
    parallel_one = tmp_path / "workers-2.ptv"
    result = transcode_file(three_scenes, parallel_one, STREAM, FIT, size=(32, 32), workers=2, threads=1)
    assert result.scenes == 3 and parallel_one.read_bytes() == serial_one.read_bytes()
    assert torch.get_num_threads() == before
    with pytest.raises(InputError, match="--threads 0"):
        transcode_file(three_scenes, tmp_path / "zero.ptv", STREAM, FIT, size=(32, 32), threads=0)

    out = str(tmp_path / "store.ptv")
    store = SceneStore(out, b"header", [(0, 8), (8, 16)], resume=False, threads=1)
    store.put((0, 8), b"units")
    with pytest.raises(InputError, match="another --threads"):
        SceneStore(out, b"header", [(0, 8), (8, 16)], resume=True, threads=2)
    assert SceneStore(out, b"header", [(0, 8), (8, 16)], resume=True, threads=1).get((0, 8)) == b"units"


def test_local_workers_that_would_share_the_cores_get_a_note(monkeypatch, capsys):
    """Two local workers at two threads each on two CPUs run slower than one serial encode
    (benchmarks/results/scenes.json): the CLI says so and names the --threads that fits."""
    import torch

    from ptcodec.cli import build_parser
    from ptcodec.cli.codec import _warn_oversubscribed

    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        for extra, noted in (([], True), (["--threads", "1"], False), (["-q"], False), (["--device", "cuda"], False)):
            _warn_oversubscribed(build_parser().parse_args(["transcode", "in.mp4", "out.ptv", "--workers", "2", *extra]))
            err = capsys.readouterr().err
            assert ("--threads 1 runs faster" in err) == noted, (extra, err)
        _warn_oversubscribed(build_parser().parse_args(["transcode", "in.mp4", "out.ptv", "--workers", "1"]))
        assert capsys.readouterr().err == ""
    finally:
        torch.set_num_threads(before)


_MARK = "PTCODEC_TEST_CRASH_MARK"


def crash_once(job, scene, report):
    """A scene function whose worker dies the first time it fits scene 8 (a lost worker)."""
    mark = Path(os.environ[_MARK])
    if scene[0] == 8 and not mark.exists():
        mark.write_text("crashed")
        os._exit(1)
    return encode_scene(job, scene, report)


def test_a_task_whose_worker_dies_is_retried(three_scenes, serial, tmp_path, monkeypatch):
    from ptcodec.generators import load_generator
    from ptcodec.jobs.distributed import run_scenes

    monkeypatch.setenv(_MARK, str(tmp_path / "crashed"))  # the local cluster's workers inherit it
    source = Source(str(three_scenes), (32, 32), "crop", 8, None)
    plan = make_plan(source, load_generator("reference"), scene_threshold=0.5, max_scene_length=None)
    job = SceneJob(source, plan, STREAM, FIT, "reference", threads=planning_threads("cpu"))
    kept: dict = {}
    run_scenes(job, plan.scenes, workers=1, address=None, keep=kept.__setitem__, scene_fn=crash_once)
    assert (tmp_path / "crashed").read_text() == "crashed"
    codec_private = job.encoder(load_generator("reference")).codec_private
    assert codec_private + b"".join(kept[s] for s in plan.scenes) == serial


def test_bad_worker_counts_and_addresses_are_one_line_errors(three_scenes, tmp_path):
    with pytest.raises(InputError, match="--workers 0"):
        transcode_file(three_scenes, tmp_path / "a.ptv", STREAM, FIT, size=(32, 32), workers=0)
    with pytest.raises(PtcodecError, match="--ray-address 127.0.0.1:9"):
        transcode_file(three_scenes, tmp_path / "b.ptv", STREAM, FIT, size=(32, 32), ray_address="127.0.0.1:9")
    cli = subprocess.run([sys.executable, "-m", "ptcodec", "transcode", str(three_scenes), str(tmp_path / "c.ptv"),
                          "--workers", "0", "-q"], capture_output=True, text=True)
    assert cli.returncode != 0 and "--workers" in cli.stderr and "Traceback" not in cli.stderr


def test_a_long_input_is_transcoded_in_bounded_memory(tmp_path):
    """3,000 frames at 64x64 (35 MiB as RGB) through the serial path: the input is read twice
    frame by frame (plan, then fit), never held, so the peak RSS of 3,000 frames is within a third
    of the clip (12 MiB) of the peak of 300 frames; holding the clip would add all of it (measured:
    +4.5 MiB, against +36 MiB before the input was streamed). One malloc arena, trimmed at once,
    so that the figure is the memory in use rather than the allocator's fragmentation."""
    clip = write_clip(tmp_path / "long.mkv", list(range(0, 3000, 1000)), 3000, side=64)
    script = (
        "import resource, sys\n"
        "from ptcodec.encoder import FitOptions, StreamOptions\n"
        "from ptcodec.jobs.transcode import transcode_file\n"
        "frames = int(sys.argv[3])\n"
        "transcode_file(sys.argv[1], sys.argv[2], StreamOptions(ranks=(1,), interval=30),\n"
        "               FitOptions(first_steps=1, later_steps=1), size=(64, 64), max_frames=frames)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )

    def peak_kib(frames: int) -> int:
        run = subprocess.run([sys.executable, "-c", script, str(clip), str(tmp_path / f"{frames}.ptv"), str(frames)],
                             capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_ARENA_MAX": "1", "MALLOC_TRIM_THRESHOLD_": "0"})
        assert run.returncode == 0, run.stderr
        return int(run.stdout.split()[-1])

    short, long = peak_kib(300), peak_kib(3000)
    clip_kib = 3000 * 64 * 64 * 3 // 1024
    assert long - short < clip_kib // 3, (short, long, clip_kib)
