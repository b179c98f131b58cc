"""`ptcodec package`: one rank-scalable stream as a DASH and HLS rank ladder.

Each rank of the ladder is the stream cut by `ptcodec truncate` (ptcodec/jobs/truncate.py,
the one implementation of cutting), split into an init segment (the stream's codec private
data, spec/ptv.md section 11.2) and media segments of whole temporal units (section 11.1),
so that init + segments is the truncated stream byte for byte. A segment ends at the first
temporal unit boundary where it holds at least `segment_s` seconds (the last
segment takes what is left, when that is under half of `segment_s`); the boundaries depend
only on the frame ranges, which cutting does not change, so the segments of every rank
cover the same frames (DASH segmentAlignment) and a player can switch rank at any of them.

Layout of OUTDIR:
    manifest.mpd            DASH MPD: one AdaptationSet, one Representation per rank
    master.m3u8             HLS master playlist: one variant per rank
    index.json              per rank and segment: file, bytes, frames, times, scene start
    r<R>/init.ptvi          codec private data of the rank-R stream (EXT-X-MAP, Initialization)
    r<R>/seg-<N>.ptvs       media segment N (from 1)
    r<R>/playlist.m3u8      HLS media playlist

A pixel ladder of the same clip (ptcodec/streaming/pixel.py: x264/x265, `ptcodec package CLIP --codec`) is
written by the same writers (write_package), its representations named by "label" instead of "rank".

Bandwidth: DASH's @bandwidth is a rate at which the representation plays without stalling
after minBufferTime of buffering; we give the peak of the per-segment rates (segment bytes ×
8 / segment duration, the init segment left out) with minBufferTime one longest segment,
which meets that definition. HLS's BANDWIDTH is that same peak and AVERAGE-BANDWIDTH the
mean rate of all media segments (their total bits over the total duration).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ptcodec.errors import InputError
from ptcodec.jobs.truncate import truncate_file
from ptcodec.outputs import check_output, write_error
from ptcodec.ptv import Keyframe, Packet, PtvReader, QuantScheme
from ptcodec.ptv.syntax import quant_layout

MIME_TYPE = "video/x-ptv"
"""The MIME type given to the segments (not registered; ptcodec's own)."""
CODECS = "ptv1"
"""The RFC 6381-style codecs string of a .ptv stream, for the MPD and the HLS CODECS attribute."""
DEFAULT_SEGMENT_S = 2.0
MARKER = ".ptcodec-package"
"""Written first into OUTDIR.partial, so that a stale one of ours can be removed on a rerun."""
SCHEMA = "ptcodec-package/1"


@dataclass(frozen=True)
class Segment:
    file: str
    """Path relative to OUTDIR."""
    bytes: int
    first_frame: int
    frames: int
    start_s: float
    duration_s: float
    starts_scene: bool
    """The segment's first temporal unit opens a scene (a random access point, spec 11.3)."""


@dataclass(frozen=True)
class Representation:
    rank: int | None
    """The prompt rank; None for a pixel-codec representation (ptcodec.streaming.pixel), which has a label."""
    init: str
    init_bytes: int
    segments: tuple[Segment, ...]
    peak_bps: int
    mean_bps: int
    playlist: str
    label: str | None = None
    """The representation's id in the MPD (default r<rank>)."""
    codec: str | None = None
    """The pixel codec adapter that made it (ptcodec.evaluate.codecs), None for a prompt ladder."""
    encoder_settings: dict[str, Any] | None = None

    @property
    def id(self) -> str:
        return self.label or f"r{self.rank}"


@dataclass(frozen=True)
class PackageResult:
    directory: str
    time_base: Fraction
    representations: tuple[Representation, ...]
    mime_type: str = MIME_TYPE
    codecs: str = CODECS


def check_paths(source: str | os.PathLike[str], outdir: str | os.PathLike[str], segment_s: float) -> tuple[str, str]:
    """The checks of every package (prompt or pixel) before any work: the segment length, the input, and
    an output directory that is new or empty; returns (source, outdir) as strings."""
    name, out = os.fspath(source), os.fspath(outdir)
    if not segment_s > 0 or not math.isfinite(segment_s):
        raise InputError(f"--segment-seconds must be a positive number of seconds, got {segment_s}")
    if not os.path.isfile(name):
        raise InputError(f"{name}: no such file")
    if os.path.isdir(out) and os.listdir(out):
        raise InputError(f"{out}: exists and is not empty; give a new or empty directory")
    check_output(out, inputs=[name], directory=True)
    return name, out


def package_file(source: str | os.PathLike[str], outdir: str | os.PathLike[str], *,
                 ranks: tuple[int, ...] | None = None, segment_s: float = DEFAULT_SEGMENT_S) -> PackageResult:
    """Write the package of `source` into `outdir` (which must not exist or be empty).
    `ranks`: the ladder (default: the stream's own rank only)."""
    name, out = check_paths(source, outdir, segment_s)
    stream_rank, time_base, durations = _survey(name)
    ladder = tuple(sorted(set(ranks))) if ranks else (stream_rank,)
    if ladder[-1] > stream_rank or ladder[0] < 1:
        raise InputError(f"{name}: the stream has rank {stream_rank}; --ranks must lie in 1..{stream_rank}, "
                         f"got {','.join(map(str, ladder))}")
    cuts = segment_starts(durations, round(Fraction(segment_s) / time_base))

    def write(partial: Path) -> PackageResult:
        reps = tuple(_representation(name, partial, rank, cuts, time_base) for rank in ladder)
        return PackageResult(out, time_base, reps)

    return write_package(out, write)


def write_package(out: str, write: Callable[[Path], PackageResult]) -> PackageResult:
    """Make `out` atomically: `write(partial)` writes the media of every representation into OUTDIR.partial,
    then the index, MPD and playlists are written next to them and the folder renamed to `out`
    (which the caller checked is absent or empty). Shared by the prompt and the pixel ladders."""
    partial = _fresh_partial(out)
    try:
        result = write(partial)
        _write_text(partial / "index.json", json.dumps(index_json(result), indent=1) + "\n")
        _write_text(partial / "manifest.mpd", mpd_text(result))
        _write_text(partial / "master.m3u8", master_playlist(result))
        for rep in result.representations:
            _write_text(partial / rep.playlist, media_playlist(rep))
        os.remove(partial / MARKER)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # ours alone; nothing of the user's is in it
        raise
    try:
        if os.path.isdir(out):
            os.rmdir(out)  # empty, checked above
        os.replace(partial, out)
    except OSError as error:
        raise write_error(out, error, "cannot rename the finished package to") from None
    return result


def _survey(name: str) -> tuple[int, Fraction, list[int]]:
    """The stream's rank (its largest keyframe's), time base and temporal unit durations in frames;
    a keyframe quantized per tensor cannot be cut, so it is refused here, before any work."""
    rank = 0
    with PtvReader(name) as reader:
        durations = []
        for packet in reader.packets():
            keyframe = _keyframe(packet)
            if quant_layout(keyframe.quant_scheme) != QuantScheme.PER_COMPONENT:
                raise InputError(f"{name}: the keyframe of frame {keyframe.frame_index} is quantized per tensor; "
                                 "only rank-scalable streams (ptcodec transcode --ranks ...) can be packaged as a "
                                 "rank ladder")
            rank = max(rank, keyframe.rank)
            durations.append(packet.duration)
        time_base = reader.time_base
    if not durations:
        raise InputError(f"{name}: the stream has no keyframe, so nothing to package")
    return rank, time_base, durations


def _keyframe(packet: Packet) -> Keyframe:
    return next(r.unit for r in packet.units if isinstance(r.unit, Keyframe))


def segment_starts(durations: list[int], target_frames: int) -> list[int]:
    """Indices of the temporal units that start a segment. A segment takes whole units until it
    holds at least `target_frames` frames, unless what is left after it would hold less than half
    that: then it takes the rest too, so the last segment is not a sliver (whose rate, over a
    fraction of a second, would be the peak bandwidth of the whole representation)."""
    target = max(target_frames, 1)
    starts, held, left = [0], 0, sum(durations)
    for i, duration in enumerate(durations[:-1]):
        held += duration
        left -= duration
        if held >= target and 2 * left >= target:
            starts.append(i + 1)
            held = 0
    return starts


def _fresh_partial(out: str) -> Path:
    partial = Path(out.rstrip(os.sep) + ".partial")
    if partial.exists():
        if not (partial / MARKER).is_file():
            raise InputError(f"{partial}: exists and was not left by ptcodec package; move it away")
        shutil.rmtree(partial)  # an interrupted run of ours: packaging is quick, so it starts over
    try:
        partial.mkdir(parents=True)
        (partial / MARKER).touch()
    except OSError as error:
        raise write_error(partial, error, "cannot create the directory") from None
    return partial


def _representation(source: str, partial: Path, rank: int, cuts: list[int], time_base: Fraction) -> Representation:
    folder = f"r{rank}"
    (partial / folder).mkdir()
    cut = partial / folder / ".truncated.ptv"
    truncate_file(source, cut, rank)
    init_name = f"{folder}/init.ptvi"
    segments: list[Segment] = []
    group: list[Packet] = []
    starts = set(cuts[1:])
    with PtvReader(cut) as reader:
        init = reader.codec_private()
        _write_bytes(partial / init_name, init)
        for i, packet in enumerate(reader.packets()):
            if i in starts:
                segments.append(_segment(partial, f"{folder}/seg-{len(segments) + 1:05d}.ptvs", group, time_base))
                group = []
            group.append(packet)
    segments.append(_segment(partial, f"{folder}/seg-{len(segments) + 1:05d}.ptvs", group, time_base))
    os.remove(cut)
    if len(segments) != len(cuts):  # cutting keeps every temporal unit (spec 7.3)
        raise AssertionError(f"rank {rank}: {len(segments)} segments, expected {len(cuts)}")
    peak, mean = segment_rates(segments, time_base)
    return Representation(rank, init_name, len(init), tuple(segments), peak, mean, f"{folder}/playlist.m3u8")


def segment_rates(segments: list[Segment], time_base: Fraction) -> tuple[int, int]:
    """(peak, mean) bit/s of media segments, rounded up: the peak of bytes x 8 / duration per segment, and
    all their bits over their total duration (the init segment left out, as the module docstring says)."""
    seconds = sum(Fraction(s.frames) for s in segments) * time_base
    peak = max(Fraction(8 * s.bytes) / (s.frames * time_base) for s in segments)
    mean = Fraction(8 * sum(s.bytes for s in segments)) / seconds
    return math.ceil(peak), math.ceil(mean)


def _segment(partial: Path, name: str, group: list[Packet], time_base: Fraction) -> Segment:
    """Write one media segment: its temporal units' bytes, in order."""
    data = b"".join(p.data for p in group)
    _write_bytes(partial / name, data)
    first, frames = group[0].pts, sum(p.duration for p in group)
    return Segment(name, len(data), first, frames, float(first * time_base), float(frames * time_base),
                   group[0].is_keyframe)


def index_json(result: PackageResult) -> dict:
    """The index; a pixel ladder's representations have "label", "codec" and "encoder_settings" instead
    of "rank" (optional keys of the same schema: ladder.load_ladder orders by rank, else by mean rate)."""
    return {
        "schema": SCHEMA,
        "time_base": [result.time_base.numerator, result.time_base.denominator],
        "mime_type": result.mime_type,
        "codecs": result.codecs,
        "representations": [_index_representation(r) for r in result.representations],
    }


def _index_representation(r: Representation) -> dict[str, Any]:
    out: dict[str, Any] = {} if r.rank is None else {"rank": r.rank}
    out.update({"init": r.init, "init_bytes": r.init_bytes, "bandwidth_peak_bps": r.peak_bps,
                "bandwidth_mean_bps": r.mean_bps, "playlist": r.playlist})
    extra = {"label": r.label, "codec": r.codec, "encoder_settings": r.encoder_settings}
    out.update({k: v for k, v in extra.items() if v is not None})
    out["segments"] = [asdict(s) for s in r.segments]
    return out


def mpd_text(result: PackageResult) -> str:
    """A static MPD: a SegmentList per Representation, with a SegmentTimeline in the stream's
    time base (timescale = its denominator), so that every segment's duration is exact."""
    from mpegdash.nodes import (
        MPEGDASH,
        URL,
        AdaptationSet,
        Period,
        S,
        SegmentList,
        SegmentTimeline,
        SegmentURL,
    )
    from mpegdash.nodes import Representation as DashRepresentation
    from mpegdash.parser import MPEGDASHParser

    tb = result.time_base
    reps = result.representations
    total = sum(Fraction(s.frames) for s in reps[0].segments) * tb
    longest = max(s.frames for s in reps[0].segments) * tb
    mpd = MPEGDASH()
    mpd.xmlns = "urn:mpeg:dash:schema:mpd:2011"
    mpd.profiles = "urn:mpeg:dash:profile:full:2011"
    mpd.type = "static"
    mpd.media_presentation_duration = _iso_duration(total)
    mpd.min_buffer_time = _iso_duration(longest)
    adaptation = AdaptationSet()
    adaptation.mime_type = result.mime_type
    adaptation.codecs = result.codecs
    adaptation.segment_alignment = True
    adaptation.representations = []
    for rep in reps:
        node = DashRepresentation()
        node.id = rep.id
        node.bandwidth = rep.peak_bps
        segment_list = SegmentList()
        segment_list.timescale = tb.denominator
        init = URL()
        init.source_url = rep.init
        segment_list.initializations = [init]
        timeline = SegmentTimeline()
        timeline.Ss = []
        urls = []
        for seg in rep.segments:
            s = S()
            s.t, s.d = seg.first_frame * tb.numerator, seg.frames * tb.numerator
            timeline.Ss.append(s)
            url = SegmentURL()
            url.media = seg.file
            urls.append(url)
        segment_list.segment_timelines = [timeline]
        segment_list.segment_urls = urls
        node.segment_lists = [segment_list]
        adaptation.representations.append(node)
    period = Period()
    period.id = "0"
    period.start = "PT0S"
    period.adaptation_sets = [adaptation]
    mpd.periods = [period]
    return str(MPEGDASHParser.get_as_doc(mpd).toprettyxml(indent=" "))


def _iso_duration(seconds: Fraction) -> str:
    return f"PT{float(seconds):.6f}S"


def master_playlist(result: PackageResult) -> str:
    import m3u8

    master = m3u8.M3U8()
    master.version = 7
    master.is_independent_segments = False
    for rep in result.representations:
        info = {"bandwidth": rep.peak_bps, "average_bandwidth": rep.mean_bps, "codecs": result.codecs}
        master.add_playlist(m3u8.Playlist(rep.playlist, info, [], None))
    return str(master.dumps())


def media_playlist(rep: Representation) -> str:
    """A VOD media playlist; URIs are relative to the playlist's folder. EXTINF is the
    segment's exact duration (frames × time base) as a decimal (m3u8 prints Python's repr)."""
    import m3u8

    playlist = m3u8.M3U8()
    playlist.version = 7
    playlist.playlist_type = "vod"
    playlist.is_endlist = True
    playlist.media_sequence = 1
    playlist.target_duration = math.ceil(max(s.duration_s for s in rep.segments))
    init = {"uri": os.path.basename(rep.init)}
    for seg in rep.segments:
        playlist.add_segment(m3u8.Segment(uri=os.path.basename(seg.file), duration=seg.duration_s, init_section=init))
    return str(playlist.dumps())


def _write_bytes(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
    except OSError as error:
        raise write_error(path, error) from None


def _write_text(path: Path, text: str) -> None:
    _write_bytes(path, text.encode())
