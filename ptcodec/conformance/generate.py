"""Make the conformance vectors: `python -m ptcodec.conformance.generate DIR [--from VECTORS] [--sky DIR]`.

The entry point only: how the vectors are made, in two stages (encode, then
assemble exactly), is in `ptcodec.conformance.make`. The reference set is the
package's own `ptcodec/conformance/bitstream/`; write a new set elsewhere and
compare, or over it to change the committed vectors.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ptcodec.conformance.make.encodings import encodings
from ptcodec.conformance.make.faulty import make_faulty
from ptcodec.conformance.make.matroska import write_mkv
from ptcodec.conformance.make.valid import make_sky, make_valid, make_version_1_1
from ptcodec.conformance.make.writer import VectorWriter, write_faulty_readme

SKY = "sky_import"


def generate(root: Path, names: list[str], source: Path | None = None, sky: Path | None = None) -> None:
    """Write the named vectors (all when `names` is empty) under `root`; `source`: take the
    encodings from that vector set instead of encoding afresh; `sky`: the directory of the
    released sky prompts, for valid/sky_import (left out without it)."""
    from ptcodec.generators import load_generator

    wanted = set(names)

    def only(name: str) -> bool:
        return not wanted or name in wanted

    root.mkdir(parents=True, exist_ok=True)
    gen = load_generator("reference")
    enc = encodings(gen, wanted, source)
    w = VectorWriter(root, gen, only)
    make_valid(w, enc, only)
    make_version_1_1(w, enc, only)
    if only(SKY):
        if sky is not None:
            make_sky(w, sky)
        else:
            print(f"{SKY}: skipped (pass --sky DIR, the released sky prompts)", file=sys.stderr)
    make_faulty(w, enc["basic"], lambda name: True)  # every rule is listed in the README; `w` writes the wanted
    for directory in sorted((root / "valid").glob("*/test.json")):
        name = directory.parent.name
        if only(name) and name != "empty":
            write_mkv(w, name)
    if (root / "faulty").is_dir():  # the README lists every faulty vector, written now or before
        write_faulty_readme(root / "faulty" / "README.md", w.readme)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptcodec.conformance.generate", description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path,
                        help="where to write the vectors (the package's own set is ptcodec/conformance/bitstream/)")
    parser.add_argument("names", nargs="*", help="only these vectors (default: all)")
    parser.add_argument("--from", dest="source", type=Path, metavar="VECTORS",
                        help="take the encodings from this vector set (e.g. ptcodec/conformance/bitstream/) instead "
                        "of encoding again: the streams, parse dumps and tier-2 data then come out identical on any "
                        "machine")
    parser.add_argument("--sky", type=Path, metavar="DIR",
                        help="the authors' released Promptus files of the sky clip (e.g. "
                        "shared/data/promptus_official/sky), "
                        "for valid/sky_import; without it that vector is skipped")
    args = parser.parse_intermixed_args(argv)
    if args.source is not None and not (args.source / "valid").is_dir():
        parser.error(f"--from {args.source}: not a vector set (no valid/ directory)")
    if args.sky is not None and not args.sky.is_dir():
        parser.error(f"--sky {args.sky}: no such directory")
    if SKY in args.names and args.sky is None:
        parser.error(f"{SKY} needs --sky DIR (the released sky prompts)")
    generate(args.directory, args.names, args.source, args.sky)
    return 0


if __name__ == "__main__":
    sys.exit(main())
