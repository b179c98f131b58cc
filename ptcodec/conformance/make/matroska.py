"""The Matroska vectors: each valid vector muxed into Matroska (spec Annex B).

An mkv vector holds only the muxed stream; its reference data is the valid
vector's (test.json "source"), so a decoder is judged on what it demuxes.
Matroska bytes depend on the FFmpeg that muxed them; the stream inside does not.
"""

from __future__ import annotations

import json

from ptcodec.conformance.make.writer import VectorWriter


def write_mkv(w: VectorWriter, name: str) -> None:
    """mkv/<name> from the valid vector <name> already written under the same root."""
    from ptcodec.container.matroska import mux

    source_dir = w.root / "valid" / name
    directory = w.directory("mkv", name)
    mux(source_dir / "stream.ptv", directory / "stream.mkv")
    source = json.loads((source_dir / "test.json").read_text())
    w.finish(directory, {
        "kind": "mkv", "name": name, "stream": "stream.mkv", "source": f"valid/{name}",
        "description": f"valid/{name} muxed into Matroska (spec Annex B); its reference data is that vector's",
        "expect": {"outcome": "decode"}, "features": sorted({*source["features"], "container.matroska"}),
    })
