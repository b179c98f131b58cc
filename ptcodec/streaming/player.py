"""`ptcodec play`: a package over HTTP, segment by segment, each representation chosen by an ABR.

The player is the simulator's client on a real network: the same ABR objects (abr.make_abr) choose
each segment from the same state, and the same playback model (simulate.Playback) accounts for the
buffer, rebuffering, generation stalls, the max-buffer wait and startup. What differs is where the
times come from: a segment's download time is measured on the wall clock (the request, its RTT and its
bytes, plus its representation's init segment the first time that representation is used), and the
max-buffer wait is slept for real. So over `ptcodec serve` with a trace the player and
`ptcodec simulate-abr` on that trace should agree, up to the scheduling of a real event loop.

Generation is either modelled at `gen_fps` frames/s (the Ladder's, as in the simulator) or real:
each arrived segment's units go through a `Decoder` of the stream's generator, timed, and the frames/s
it achieves is that segment's generation speed in the playback model (and, for a compute-aware ABR,
the speed of its representation from then on). Real generation runs between downloads; the model
takes generation as pipelined with playback, so its time is not on the session clock, and the wall
clock runs ahead of it by that time (the max-buffer wait is shortened by it).

Rank switches under real generation. The representations of a package share one sequence header
(cutting keeps it), and the decoder interpolates between keyframes of different rank by their composed
prompts (spec 12.5), so a switch between segments decodes as the spliced stream does. Version 1.1
streams are the exception: a predicted keyframe is coded against the previous keyframe of the same
representation and rank, and one that carries models starts from that keyframe's coder state, so
neither decodes after a keyframe of another representation. For a 1.1 stream the player therefore
switches only at segments that open a scene (`switch_allowed`), and says so when a fallback is refused.

The URL is the package's root, its index.json or its manifest.mpd. An MPD is parsed with `mpegdash`
and checked against index.json beside it, which gives the exact segment sizes and frame ranges (the
Ladder, ladder.ladder_from_index). Every URL of the package must be on the manifest's own server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

from ptcodec.errors import InputError, one_line
from ptcodec.streaming.abr import Abr, Ladder
from ptcodec.streaming.ladder import ladder_from_index
from ptcodec.streaming.simulate import Playback, SegmentLog, SessionResult

if TYPE_CHECKING:
    import aiohttp  # imported where used, so that the CLI loads without the [stream] extra

    from ptcodec.decoder import Decoder
    from ptcodec.generators.base import Generator
    from ptcodec.media import VideoWriter
    from ptcodec.ptv import SequenceHeader

RETRIES = 2
"""Retries of a failed segment on one representation before the player tries another."""
BACKOFF_S = 0.2
"""The wait before the first retry; it doubles for each further one."""
MAX_MANIFEST_BYTES = 16 << 20
"""The most an MPD or index.json may hold: a manifest is read whole, so its size is bounded."""
TIMEOUT_S = 60.0
"""Seconds without progress on a request before it counts as failed."""


@dataclass(frozen=True)
class Package:
    """A package as the player sees it: the Ladder and, per representation (lowest rank first), URLs."""

    url: str
    """The index.json's URL."""
    ladder: Ladder
    ranks: tuple[int, ...]
    init_urls: tuple[str, ...]
    init_bytes: tuple[int, ...]
    segment_urls: tuple[tuple[str, ...], ...]
    """segment_urls[rep][segment]."""
    starts_scene: tuple[bool, ...]
    """Per segment: it opens a scene (a random access point)."""


class FetchFailed(Exception):
    """One failed request (an HTTP status, a broken connection, a short body): the player retries it."""


async def _read(response: aiohttp.ClientResponse, cap: int) -> bytes:
    """The body, refusing one longer than `cap` bytes before holding it."""
    declared = response.content_length
    if declared is not None and declared > cap:
        raise FetchFailed(f"Content-Length {declared:,} exceeds {cap:,} bytes")
    body = bytearray()
    async for chunk in response.content.iter_chunked(64 * 1024):
        body += chunk
        if len(body) > cap:
            raise FetchFailed(f"more than {cap:,} bytes")
    return bytes(body)


async def fetch(session: aiohttp.ClientSession, url: str, *, expected: int | None = None,
                cap: int = MAX_MANIFEST_BYTES) -> bytes:
    """GET `url`; `expected`: the exact size the index gives (Content-Length and body are checked)."""
    import aiohttp

    try:
        async with session.get(url) as response:
            if response.status != 200:
                raise FetchFailed(f"HTTP {response.status} {response.reason or ''}".rstrip())
            if expected is not None and response.content_length not in (None, expected):
                raise FetchFailed(f"Content-Length {response.content_length:,}, the index says {expected:,} bytes")
            body = await _read(response, cap if expected is None else expected)
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as error:
        raise FetchFailed(one_line(error, with_class=True)) from None
    if expected is not None and len(body) != expected:
        raise FetchFailed(f"{len(body):,} bytes, the index says {expected:,}")
    return body


async def _manifest(session: aiohttp.ClientSession, url: str, what: str) -> str:
    try:
        body = await fetch(session, url)
    except FetchFailed as error:
        raise InputError(f"{url}: cannot fetch the {what} ({error})") from None
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as error:
        raise InputError(f"{url}: the {what} is not UTF-8 text ({error.reason} at byte {error.start})") from None


def _same_server(base: str, relative: object, where: str) -> str:
    """`relative` resolved against `base`, refused when it is not a string or leaves base's server."""
    if not isinstance(relative, str) or not relative:
        raise InputError(f"{where}: malformed package index (a file name is {relative!r})")
    url = urljoin(base, relative)
    if urlsplit(url)[:2] != urlsplit(base)[:2]:
        raise InputError(f"{where}: the index points outside its server ({relative!r})")
    return url


def package_from_index(index_url: str, index: Any, *, gen_fps: tuple[float, ...] | None = None) -> Package:
    """The Package of a parsed index.json fetched from `index_url`; one-line InputErrors naming it."""
    try:
        ladder = ladder_from_index(index, index_url, gen_fps=gen_fps)
    except InputError as error:
        text = str(error)
        raise InputError(text if text.startswith(index_url) else f"{index_url}: {text}") from None
    reps = sorted(index["representations"], key=lambda r: r["rank"])
    try:
        inits = tuple(_same_server(index_url, r["init"], index_url) for r in reps)
        init_bytes = tuple(int(r["init_bytes"]) for r in reps)
        segments = tuple(tuple(_same_server(index_url, s["file"], index_url) for s in r["segments"]) for r in reps)
        scenes = tuple(bool(s["starts_scene"]) for s in reps[0]["segments"])
    except (KeyError, TypeError, ValueError) as error:
        raise InputError(f"{index_url}: malformed package index ({error!r})") from None
    if any(size < 0 for size in init_bytes):
        raise InputError(f"{index_url}: malformed package index (a negative init_bytes)")
    return Package(index_url, ladder, tuple(int(r["rank"]) for r in reps), inits, init_bytes, segments, scenes)


def mpd_representations(url: str, text: str) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Per Representation id of the MPD: (init URL, media URLs), resolved against `url`."""
    from xml.parsers.expat import ExpatError

    from mpegdash.parser import MPEGDASHParser

    if "<MPD" not in text:  # mpegdash would take any other string for a URL or a file name and open it
        raise InputError(f"{url}: not a DASH MPD (no <MPD> element)")
    try:
        mpd = MPEGDASHParser.parse(text)
        out = {}
        for period in mpd.periods or []:
            for adaptation in period.adaptation_sets or []:
                for rep in adaptation.representations or []:
                    segment_list = rep.segment_lists[0]
                    init = urljoin(url, segment_list.initializations[0].source_url)
                    out[str(rep.id)] = (init, tuple(urljoin(url, s.media) for s in segment_list.segment_urls))
    except (ExpatError, AttributeError, IndexError, TypeError, ValueError) as error:
        raise InputError(f"{url}: malformed MPD ({one_line(error, with_class=True)})") from None
    if not out:
        raise InputError(f"{url}: the MPD has no representations")
    return out


def _index_url(url: str) -> str:
    path = urlsplit(url).path
    if path.endswith((".json", ".mpd")):
        return urljoin(url, "index.json") if path.endswith(".mpd") else url
    return urljoin(url if url.endswith("/") else url + "/", "index.json")


async def open_package(session: aiohttp.ClientSession, url: str, *,
                       gen_fps: tuple[float, ...] | None = None) -> Package:
    """Fetch the manifest at `url` (the package root, its index.json or its manifest.mpd)."""
    if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc:
        raise InputError(f"{url}: give an http:// URL of a package (its root, index.json or manifest.mpd)")
    index_url = _index_url(url)
    mpd = None
    if urlsplit(url).path.endswith(".mpd"):
        mpd = mpd_representations(url, await _manifest(session, url, "MPD"))
    text = await _manifest(session, index_url, "package index")
    try:
        index = json.loads(text)
    except json.JSONDecodeError as error:
        raise InputError(f"{index_url}: not a package index ({error})") from None
    package = package_from_index(index_url, index, gen_fps=gen_fps)
    if mpd is not None:
        want = {(package.init_urls[rep], package.segment_urls[rep]) for rep in range(package.ladder.reps)}
        if set(mpd.values()) != want:
            raise InputError(f"{url}: the MPD and {index_url} list different representations or segments")
    return package


def switch_allowed(header: SequenceHeader | None, package: Package, segment: int, current: int | None,
                   rep: int) -> bool:
    """Whether real generation can decode `rep` for `segment` after `current` (see the module docstring):
    always within a representation and at a scene start, and otherwise unless the stream may use 1.1 tools."""
    return header is None or current in (None, rep) or package.starts_scene[segment] or header.version_minor < 1


class Generation:
    """Real generation: each arrived segment's units through one Decoder, timed; frames to `output`."""

    def __init__(self, generator: Generator, output: str | None = None, *, max_batch: int = 16,
                 check_fingerprint: bool = True) -> None:
        self.generator = generator
        self.output = output
        self.max_batch = max_batch
        self.check_fingerprint = check_fingerprint
        if output is not None:
            from ptcodec.outputs import check_output

            check_output(output)  # before any download
        self.header: SequenceHeader | None = None
        self.decoder: Decoder | None = None
        self.writer: VideoWriter | None = None
        self.rep: int | None = None
        """The representation of the last segment decoded."""
        self.frames = 0

    def init(self, url: str, data: bytes) -> None:
        """An init segment: the first makes the decoder; every other must carry the same sequence header."""
        from ptcodec.errors import PtvError
        from ptcodec.ptv import PtvReader

        try:
            with PtvReader(data, path=url) as reader:
                header = reader.header
        except PtvError as error:
            raise InputError(f"{url}: not an init segment ({one_line(error)})") from None
        if self.header is None:
            from ptcodec.decoder import Decoder
            from ptcodec.media import VideoWriter

            self.decoder = Decoder(header, self.generator, max_batch=self.max_batch,
                                   check_fingerprint=self.check_fingerprint)
            self.header = header
            if self.output is not None:
                self.writer = VideoWriter(self.output, header.fps)
        elif header != self.header:
            raise InputError(f"{url}: its sequence header differs from the first representation's, so the "
                             "player cannot switch to it")

    def segment(self, url: str, rep: int, data: bytes) -> tuple[int, float]:
        """Decode one media segment of `rep`: (frames it completed, seconds of generation)."""
        from ptcodec.errors import PtvError
        from ptcodec.ptv.framing import read_packet_units

        assert self.decoder is not None and self.header is not None, "init() comes first"
        started = time.perf_counter()
        count = 0
        try:
            for unit in read_packet_units(data, self.header):
                for frame in self.decoder.push(unit):
                    self._write(frame.image)
                    count += 1
        except PtvError as error:
            raise InputError(f"{url}: cannot decode the segment ({one_line(error)})") from None
        self.rep = rep
        return count, time.perf_counter() - started

    def finish(self) -> None:
        """The end of the stream: the held frames, then the output renamed into place."""
        if self.decoder is not None:
            for frame in self.decoder.flush():
                self._write(frame.image)
        if self.writer is not None:
            self.writer.close()

    def abort(self) -> None:
        if self.writer is not None:
            self.writer.abort()

    def _write(self, image: Any) -> None:
        self.frames += 1
        if self.writer is not None:
            self.writer.write(image)


Progress = Callable[[SegmentLog, int, int], None]
"""progress(log of the segment just played, segments done, total)."""
Warn = Callable[[str], None]


class Player:
    """One session of `package` with `abr`; `run()` plays every segment and gives the SessionResult."""

    def __init__(self, session: aiohttp.ClientSession, package: Package, abr: Abr, *,
                 generation: Generation | None = None, max_buffer_s: float = 60.0, retries: int = RETRIES,
                 backoff_s: float = BACKOFF_S, progress: Progress | None = None, warn: Warn | None = None) -> None:
        self.session = session
        self.package = package
        self.abr = abr
        self.generation = generation
        self.playback = Playback(package.ladder, max_buffer_s=max_buffer_s)
        self.retries = retries
        self.backoff_s = backoff_s
        self.progress = progress
        self.warn = warn or (lambda text: None)
        self.inits: dict[int, bytes] = {}
        self.measured: dict[int, float] = {}
        """Generation frames/s measured per representation (real generation)."""

    async def run(self, name: str | None = None) -> SessionResult:
        """Play every segment; the result's trace is `name` (default the index's URL)."""
        loop = asyncio.get_running_loop()
        ladder = self.package.ladder
        origin = loop.time()
        try:
            for seg in range(ladder.segments):
                rep = self._allowed(seg, self.playback.choose(self.abr, seg))
                start = loop.time()
                rep, data, nbytes = await self._download(seg, rep)
                download_s = loop.time() - start
                gen_fps = None
                if self.generation is not None:
                    gen_fps = await asyncio.to_thread(self._generate, seg, rep, data)
                self.playback.arrive(seg, rep, nbytes, download_s, gen_fps=gen_fps)
                if self.progress is not None:
                    self.progress(self.playback.logs[-1], seg + 1, ladder.segments)
                idle = origin + self.playback.now - loop.time()  # the first frame, the max-buffer wait
                if idle > 0:
                    await asyncio.sleep(idle)
            if self.generation is not None:
                await asyncio.to_thread(self.generation.finish)
        except BaseException:
            if self.generation is not None:
                self.generation.abort()
            raise
        return self.playback.result(self.abr.name, name or self.package.url)

    def _allowed(self, seg: int, rep: int) -> int:
        """The ABR's choice, or the current representation where real generation cannot switch."""
        generation = self.generation
        if generation is None or switch_allowed(generation.header, self.package, seg, generation.rep, rep):
            return rep
        assert generation.rep is not None
        return generation.rep

    def _generate(self, seg: int, rep: int, data: bytes) -> float | None:
        """Decode the segment; its frames/s, which also becomes the ABR's speed for `rep`."""
        assert self.generation is not None
        frames, seconds = self.generation.segment(self.package.segment_urls[rep][seg], rep, data)
        if frames == 0 or seconds <= 0:
            return self.measured.get(rep)
        speed = frames / seconds
        self.measured[rep] = speed
        # Generation costs about the same at every rank (the generator's work does not depend on it), so a
        # representation not measured yet takes the latest measurement.
        speeds = tuple(self.measured.get(r, speed) for r in range(self.package.ladder.reps))
        self.playback.ladder = dataclasses.replace(self.playback.ladder, gen_fps=speeds)
        return speed

    def _fallbacks(self, seg: int, rep: int) -> list[int]:
        """`rep`, then lower representations (nearest first), then higher ones the ABR may choose."""
        feasible = set(self.abr.feasible(self.playback.ladder))
        order = [rep, *range(rep - 1, -1, -1), *(r for r in range(rep + 1, self.package.ladder.reps) if r in feasible)]
        generation = self.generation
        if generation is None:
            return order
        return [r for r in order if switch_allowed(generation.header, self.package, seg, generation.rep, r)]

    async def _download(self, seg: int, rep: int) -> tuple[int, bytes, int]:
        """(representation, media bytes, bytes fetched with the init segment) of `seg`, retrying a failed
        request `retries` times with a doubling backoff, then trying other representations."""
        package = self.package
        failures = []
        for candidate in self._fallbacks(seg, rep):
            url = package.segment_urls[candidate][seg]
            error: FetchFailed | None = None
            attempts = 0
            for attempt in range(self.retries + 1):
                if attempt:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
                attempts += 1
                try:
                    fetched = await self._init(candidate)
                    data = await fetch(self.session, url, expected=package.ladder.sizes[candidate][seg])
                    return candidate, data, len(data) + fetched
                except FetchFailed as failed:
                    error = failed
            failures.append(f"rank {package.ranks[candidate]}: {error}")
            self.warn(f"{url}: failed {attempts} times ({error})")
        refused = "" if len(failures) == package.ladder.reps else " (the others cannot be decoded after this " \
            "segment's predecessor: a version 1.1 stream switches only at a scene start)"
        raise InputError(f"{package.segment_urls[rep][seg]}: segment {seg + 1} could not be fetched from any "
                         f"representation{refused}: {'; '.join(failures)}")

    async def _init(self, rep: int) -> int:
        """Fetch `rep`'s init segment the first time it is used; the bytes fetched now."""
        if rep in self.inits:
            return 0
        url = self.package.init_urls[rep]
        data = await fetch(self.session, url, expected=self.package.init_bytes[rep])
        if self.generation is not None:
            self.generation.init(url, data)
        self.inits[rep] = data
        return len(data)


async def play(url: str, abr: Abr, *, gen_fps: tuple[float, ...] | None = None,
               generation: Generation | None = None, max_buffer_s: float = 60.0, retries: int = RETRIES,
               backoff_s: float = BACKOFF_S, progress: Progress | None = None, warn: Warn | None = None,
               timeout_s: float = TIMEOUT_S, on_package: Callable[[Package], None] | None = None) -> SessionResult:
    """Play the package at `url` with `abr` (see the module docstring); the SessionResult is named by `url`.
    `on_package` is called with the package once its manifest is in."""
    if gen_fps is not None and generation is not None:
        raise InputError("give either modelled generation speeds or a generator, not both")
    import aiohttp

    timeout = aiohttp.ClientTimeout(total=None, sock_connect=timeout_s, sock_read=timeout_s)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        package = await open_package(session, url, gen_fps=gen_fps)
        if on_package is not None:
            on_package(package)
        player = Player(session, package, abr, generation=generation, max_buffer_s=max_buffer_s, retries=retries,
                        backoff_s=backoff_s, progress=progress, warn=warn)
        return await player.run(url)


def play_url(url: str, abr: Abr, **options: Any) -> SessionResult:
    """`play` in an event loop of its own (the CLI's entry)."""
    return asyncio.run(play(url, abr, **options))
