"""`ptcodec serve`: a package over HTTP on loopback, paced by a network trace.

The server plays the part of the network in the simulator (simulate.py): one bottleneck link
whose throughput follows the trace, looping, from the server's first request (as each simulated
session starts at the trace's beginning; a player starts some seconds after its server), and a fixed
RTT before each response's first byte. Responses share the link one after another, as the
simulator's sequential downloads do. Each response is written in chunks, and each chunk is
held back until the time by which the trace has carried every byte up to its end (the same
traces.Trace arithmetic as download_time). Without a trace it serves at full speed.

It binds 127.0.0.1 only: it is a test bench, not a public server.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import web

from ptcodec.errors import InputError
from ptcodec.streaming.traces import Trace

HOST = "127.0.0.1"
CHUNK = 16 * 1024
"""Bytes written at a time: small enough that pacing is smooth at tens of kbit/s."""


class PacedLink:
    """The trace as one link: `deadline(nbytes)` is when the link has carried `nbytes` more bytes."""

    def __init__(self, trace: Trace | None, rtt_s: float) -> None:
        self.trace, self.rtt_s = trace, rtt_s
        self.origin: float | None = None
        """When the first request came: the trace's time 0."""
        self.lock = asyncio.Lock()
        self.kbit_sent = 0.0  # kbit the link has carried since it started, in trace time

    def now(self) -> float:
        """Seconds on the trace: 0 until the first request."""
        return 0.0 if self.origin is None else time.monotonic() - self.origin

    async def send(self, response: web.StreamResponse, data: bytes) -> None:
        """Write `data`, each chunk no earlier than the trace allows."""
        if self.origin is None:
            self.origin = time.monotonic()
        async with self.lock:  # one response at a time on the link
            await asyncio.sleep(self.rtt_s)
            if self.trace is not None:  # the link idles while no one sends: it does not bank capacity
                self.kbit_sent = max(self.kbit_sent, self.trace.kbit_until(self.now()))
            for start in range(0, len(data), CHUNK):
                chunk = data[start:start + CHUNK]
                if self.trace is not None:
                    self.kbit_sent += len(chunk) * 8 / 1000
                    wait = self.trace.time_of_kbit(self.kbit_sent) - self.now()
                    if wait > 0:
                        await asyncio.sleep(wait)
                await response.write(chunk)


LINK: web.AppKey[PacedLink] = web.AppKey("link", PacedLink)
"""The application's link (tests read its clock)."""


def make_app(directory: str | Path, trace: Trace | None = None, *, rtt_s: float = 0.0) -> web.Application:
    """The aiohttp application serving the files below `directory`, paced by `trace`."""
    root = Path(directory).resolve()
    if not root.is_dir():
        raise InputError(f"{directory}: not a directory (give the OUTDIR of `ptcodec package`)")
    link = PacedLink(trace, rtt_s)

    async def handle(request: web.Request) -> web.StreamResponse:
        path = (root / request.match_info["path"]).resolve()
        if root not in path.parents or not path.is_file():
            raise web.HTTPNotFound(text=f"{request.path}: no such file\n")
        data = path.read_bytes()
        response = web.StreamResponse(headers={"Content-Length": str(len(data))})
        response.content_type = _content_type(path)
        await response.prepare(request)
        await link.send(response, data)
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_get("/{path:.+}", handle)
    app[LINK] = link
    return app


def _content_type(path: Path) -> str:
    return {".mpd": "application/dash+xml", ".m3u8": "application/vnd.apple.mpegurl",
            ".json": "application/json"}.get(path.suffix, "video/x-ptv")


SHUTDOWN_TIMEOUT_S = 2.0
"""How long stopping the server waits for requests in flight to finish."""


async def start(directory: str | Path, trace: Trace | None = None, *, port: int = 0,
                rtt_s: float = 0.0) -> tuple[web.AppRunner, int]:
    """Start serving on 127.0.0.1 (`port` 0: any free port); returns the runner and the port.
    Cleaning the runner up waits at most SHUTDOWN_TIMEOUT_S for requests in flight (aiohttp's
    default is 60 s), so that Ctrl-C stops `ptcodec serve` within seconds."""
    runner = web.AppRunner(make_app(directory, trace, rtt_s=rtt_s), access_log=None,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port)
    try:
        await site.start()
    except OSError as error:
        await runner.cleanup()
        raise InputError(f"cannot listen on {HOST}:{port} ({error.strerror or error})") from None
    return runner, runner.addresses[0][1]
