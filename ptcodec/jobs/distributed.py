"""Running the scenes of a plan as Ray tasks, on a local cluster or an existing one.

Each scene is one task (`_fit_scene`, running `scenes.encode_scene`): its arguments are the
job (a path, options, the plan) and a frame range, never frames. A task asks for one GPU when
the generator runs on CUDA, so Ray places one scene per GPU. Ray retries a task whose worker
died (`max_retries`); an error of the encode itself (a bad input) is not retried: it would fail
again. Workers report their fitting work to a small actor (`_Board`) that the driver polls, so
one progress bar covers them all; finished scenes come back to the driver, which keeps each in
the scene store at once (scenes.SceneStore), so a killed job resumes without refitting them.

A local cluster is bound to 127.0.0.1: Ray otherwise binds the machine's external address,
and passing it the loopback address is not enough on Linux (Ray turns "127.0.0.1" into the
external address unless clusters are switched off for the process, which
RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0 does). `start_local` checks the address it got.
"""

from __future__ import annotations

import contextlib
import os
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

from ptcodec.errors import InputError, PtcodecError
from ptcodec.jobs.scenes import Scene, SceneJob, encode_scene

LOOPBACK = "127.0.0.1"
MAX_RETRIES = 2
"""Times Ray runs a scene again after its worker died."""
POLL_S = 0.5

SceneFn = Callable[[SceneJob, Scene, Callable[[int], None] | None], bytes]
"""What a task runs: scenes.encode_scene, or a wrapper of it (tests inject faults this way)."""


def _import_ray() -> Any:
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # read when ray is first imported
    try:
        import ray
    except ImportError:
        raise InputError("--workers and --ray-address need Ray: pip install 'ptcodec[distributed]'") from None
    return ray


@contextlib.contextmanager
def cluster(workers: int | None, address: str | None, *, gpus_per_task: float) -> Iterator[Any]:
    """Ray, connected: a local cluster of `workers` CPUs on 127.0.0.1 (stopped afterwards), or the
    existing cluster at `address`."""
    if workers is not None and workers < 1:
        raise InputError(f"--workers {workers}: give at least 1")
    ray = _import_ray()
    if ray.is_initialized():
        raise PtcodecError("Ray is already initialised in this process; ptcodec starts its own connection")
    if address is not None:
        check_reachable(address)
        try:
            ray.init(address=address, logging_level="ERROR", log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise InputError(f"--ray-address {address}: cannot connect ({_first_line(error)})") from None
    else:
        start_local(ray, workers or 1, gpus=int(gpus_per_task * (workers or 1)))
    try:
        yield ray
    finally:
        ray.shutdown()


def check_reachable(address: str, timeout_s: float = 5.0) -> None:
    """Refuse an address nothing answers at, in one line: Ray itself would retry for minutes.
    "auto" (the cluster started on this machine) is left to Ray, which answers at once."""
    if address == "auto":
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise InputError(f"--ray-address {address}: give host:port (the head node's GCS address), ray://host:port or auto")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s).close()
    except OSError as error:
        raise InputError(f"--ray-address {address}: cannot connect ({error.strerror or error})") from None


def start_local(ray: Any, cpus: int, *, gpus: int = 0) -> None:
    """A local Ray cluster of `cpus` CPUs on 127.0.0.1 only; refuses one bound anywhere else."""
    from ray._private import ray_constants  # the switch read by Ray's choice of node address

    ray_constants.ENABLE_RAY_CLUSTER = False  # in case ray was imported before _import_ray could set it
    ray.init(num_cpus=cpus, num_gpus=gpus, include_dashboard=False, _node_ip_address=LOOPBACK,
             logging_level="ERROR", log_to_driver=False, configure_logging=True)
    addresses = {node["NodeManagerAddress"] for node in ray.nodes()}
    if addresses != {LOOPBACK}:
        ray.shutdown()
        raise PtcodecError(f"the local Ray cluster bound {sorted(addresses)}, not {LOOPBACK} only; refusing to run")


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def run_scenes(job: SceneJob, scenes: list[Scene], *, workers: int | None, address: str | None,
               keep: Callable[[Scene, bytes], None], progress: Callable[[int, int, int], None] | None = None,
               work_of: Callable[[Scene], int] | None = None, scene_fn: SceneFn = encode_scene) -> None:
    """Fit `scenes` as Ray tasks; `keep(scene, units)` as each finishes (in completion order);
    `progress(scenes done, work done, work total)` every poll, work as `work_of(scene)` plans it."""
    cuda = job.generator_options.device.startswith("cuda")
    with cluster(workers, address, gpus_per_task=1.0 if cuda else 0.0) as ray:
        board = ray.remote(_Board).options(num_cpus=0).remote()
        task = ray.remote(_fit_scene).options(max_retries=MAX_RETRIES, retry_exceptions=False,
                                              num_gpus=1 if cuda else 0, num_cpus=1)
        pending = {task.remote(job, scene, board, scene_fn): scene for scene in scenes}
        total = sum(work_of(s) for s in scenes) if work_of else len(scenes)
        finished_work, done = 0, 0
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
            for ref in ready:
                scene = pending.pop(ref)
                try:
                    data = ray.get(ref)
                except ray.exceptions.RayTaskError as error:
                    cause = error.cause if isinstance(error.cause, PtcodecError) else None
                    raise cause or PtcodecError(f"scene at frame {scene[0]} failed: {_first_line(error)}") from None
                except ray.exceptions.RayError as error:
                    raise PtcodecError(f"scene at frame {scene[0]} failed after {MAX_RETRIES} retries: "
                                       f"{_first_line(error)}") from None
                keep(scene, data)
                done += 1
                finished_work += work_of(scene) if work_of else 1
            if progress is not None:
                running = ray.get(board.running.remote(), timeout=30) if work_of else 0
                progress(done, min(total, finished_work + running), total)


def _fit_scene(job: SceneJob, scene: Scene, board: Any, scene_fn: SceneFn) -> bytes:
    """The body of a task: fit one scene, reporting its work to the board about once a second."""
    last = [0.0]

    def report(work: int) -> None:
        now = time.monotonic()
        if now - last[0] >= 1.0:
            last[0] = now
            board.report.remote(scene[0], work)

    data = scene_fn(job, scene, report)
    board.report.remote(scene[0], None)
    return data


class _Board:
    """Work done by the scenes in progress (a Ray actor): the driver's progress between completions."""

    def __init__(self) -> None:
        self.work: dict[int, int] = {}

    def report(self, scene: int, work: int | None) -> None:
        if work is None:
            self.work.pop(scene, None)
        else:
            self.work[scene] = work

    def running(self) -> int:
        return sum(self.work.values())
