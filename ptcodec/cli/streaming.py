"""`ptcodec package`: adaptive streaming over rank ladders (ptcodec.streaming)."""

from __future__ import annotations

import argparse

from ptcodec.cli.types import positive_float, ranks


def register(sub: argparse._SubParsersAction) -> None:
    from ptcodec.streaming.package import CODECS, DEFAULT_SEGMENT_S, MIME_TYPE

    p = sub.add_parser(
        "package", help="write a rank-scalable stream as a DASH/HLS ladder, one representation per rank",
        description="Cut a rank-scalable stream (per-component keyframes) to each rank of the ladder with "
        "`ptcodec truncate`, and write each as an init segment (the codec private data) and media segments of "
        f"whole temporal units, with a DASH MPD (manifest.mpd), HLS playlists (master.m3u8, r<R>/playlist.m3u8) "
        f"and index.json. mimeType {MIME_TYPE}, codecs {CODECS}; bandwidth is the peak segment rate.")
    p.add_argument("input", help="a rank-scalable .ptv stream (encoded with --ranks)")
    p.add_argument("outdir", help="the directory to write (must not exist, or be empty)")
    p.add_argument("--segment-seconds", type=positive_float, default=DEFAULT_SEGMENT_S, metavar="S",
                   help=f"a segment ends at the first keyframe after S seconds (default {DEFAULT_SEGMENT_S:g})")
    p.add_argument("--ranks", type=ranks, metavar="R,R,...",
                   help="the ranks of the ladder, each at most the stream's (default: the stream's own rank only)")
    p.set_defaults(run=run_package)


def run_package(args: argparse.Namespace) -> int:
    from ptcodec.streaming.package import package_file

    result = package_file(args.input, args.outdir, ranks=args.ranks, segment_s=args.segment_seconds)
    for rep in result.representations:
        print(f"{result.directory}: rank {rep.rank}: {len(rep.segments)} segments, "
              f"{rep.init_bytes + sum(s.bytes for s in rep.segments):,} bytes, "
              f"peak {rep.peak_bps / 1000:,.1f} kbit/s, mean {rep.mean_bps / 1000:,.1f} kbit/s")
    print(f"{result.directory}: manifest.mpd, master.m3u8, index.json")
    return 0
