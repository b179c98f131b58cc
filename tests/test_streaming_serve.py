"""`ptcodec serve`: the package over HTTP on 127.0.0.1, paced by a trace. The pacing is checked
against the trace's own arithmetic on a constant and on a stepped trace (transfers of about a
second, so that the event loop's scheduling is small beside them)."""

from __future__ import annotations

import asyncio
import threading
import time
import urllib.error
import urllib.request

import pytest

from ptcodec.streaming import serve
from ptcodec.streaming.traces import Trace


class Server:
    """A server in a thread of its own, with its own event loop."""

    def __init__(self, directory, trace, rtt_s=0.0):
        self.loop = asyncio.new_event_loop()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.runner, self.port = self.loop.run_until_complete(serve.start(directory, trace, rtt_s=rtt_s))
            ready.set()
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        assert ready.wait(10)
        self.link = self.runner.app[serve.LINK]

    def get(self, name: str) -> tuple[bytes, float, float]:
        """The body, the link time at the request, and the seconds the request took."""
        at, start = self.link.now(), time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/{name}", timeout=30) as response:
            body = response.read()
        return body, at, time.monotonic() - start

    def close(self):
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "r8").mkdir()
    (tmp_path / "r8" / "seg-00001.ptvs").write_bytes(bytes(range(256)) * 1000)  # 256,000 bytes
    (tmp_path / "index.json").write_text("{}")
    return tmp_path


def expected_seconds(trace: Trace, at: float, nbytes: int, rtt_s: float) -> float:
    return trace.time_of_kbit(trace.kbit_until(at + rtt_s) + nbytes * 8 / 1000) - at


@pytest.mark.parametrize("trace", [
    Trace((0.0,), (2048.0,), 10.0, "constant"),  # 256,000 bytes at 2,048 kbit/s: 1 s
    Trace((0.0, 0.3), (4096.0, 1024.0), 10.0, "stepped"),  # 153.6 KB in 0.3 s, the rest at 1/4 of it
], ids=["constant", "stepped"])
def test_the_pacing_follows_the_trace_within_5_percent(files, trace):
    server = Server(files, trace, rtt_s=0.05)
    try:
        body, at, took = server.get("r8/seg-00001.ptvs")
        assert body == (files / "r8" / "seg-00001.ptvs").read_bytes()
        want = expected_seconds(trace, at, len(body), 0.05)
        assert want > 0.8
        assert abs(took - want) <= 0.05 * want, (took, want)
    finally:
        server.close()


def test_the_trace_starts_at_the_first_request_not_when_the_server_starts(files):
    """A player starts some seconds after the server (its imports, its generator); the simulator starts each
    session at the trace's beginning, so the server's trace must too, or the two see different networks."""
    trace = Trace((0.0, 0.3), (4096.0, 1024.0), 10.0, "stepped")
    server = Server(files, trace, rtt_s=0.05)
    try:
        time.sleep(1.0)  # the server idles; the trace must not run meanwhile
        body, _, took = server.get("r8/seg-00001.ptvs")
        want = expected_seconds(trace, 0.0, len(body), 0.05)  # as if at the trace's start: 1.15 s (2.05 s at 1 s)
        assert abs(took - want) <= 0.05 * want, (took, want)
    finally:
        server.close()


def test_it_listens_on_loopback_only_and_refuses_paths_outside(files):
    server = Server(files, None)
    try:
        sockets = next(iter(server.runner.sites))._server.sockets
        assert {s.getsockname()[0] for s in sockets} == {"127.0.0.1"}
        body, _, took = server.get("index.json")
        assert body == b"{}" and took < 5
        for name in ("missing.ptvs", "..%2F..%2Fetc%2Fpasswd"):
            with pytest.raises(urllib.error.HTTPError) as error:
                server.get(name)
            assert error.value.code == 404
    finally:
        server.close()


def test_a_missing_directory_is_a_one_line_error(tmp_path):
    from ptcodec.errors import InputError

    with pytest.raises(InputError, match="not a directory"):
        serve.make_app(tmp_path / "none")


@pytest.mark.parametrize("stop", ["SIGINT", "SIGTERM"])
def test_the_command_serves_until_stopped(files, stop):
    """Ctrl-C or SIGTERM stops it cleanly, even when it starts with SIGINT ignored (as a shell's
    background job does)."""
    import re
    import signal
    import subprocess
    import sys

    ignoring = "import signal, sys, runpy; signal.signal(signal.SIGINT, signal.SIG_IGN); sys.argv[0] = 'ptcodec'; "
    process = subprocess.Popen([sys.executable, "-c", ignoring + "runpy.run_module('ptcodec', run_name='__main__')",
                                "serve", str(files), "--port", "0", "--rtt-ms", "0"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline()
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url and "full speed" in line, line
        with urllib.request.urlopen(url.group(0) + "index.json", timeout=30) as response:
            assert response.read() == b"{}"
    finally:
        process.send_signal(getattr(signal, stop))
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0 and "Traceback" not in err, err
    assert out.strip().endswith("stopped"), out
