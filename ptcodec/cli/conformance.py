"""`ptcodec conformance`: judge a decoder (ptcodec's, or any command) against the vectors."""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ptcodec.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("conformance", help="judge a decoder against the conformance vectors",
                       description=(
        "Run the conformance vectors through a decoder and judge it per tier (1 parse, 2 reconstruction, "
        "3 generation); print a verdict table, write a results JSON, and check that every requirement of the "
        "spec has a vector. Exit 0 when everything judged passes. The decoder interface is in "
        "conformance/README.md."))
    p.add_argument("--decoder", metavar='"CMD {in} {out}"', help=(
        "a shell command that decodes {in} into raw RGB (or y4m) frames at {out}; optional {dump} "
        "(a directory for the tier-2 dump) and {parse} (a file for the tier-1 parse dump). Exit status 0 means "
        "decoded; death by a signal, or 128+N from the shell for signal N, is a crash; any other status is a "
        "rejection, and the output must name the error class. Default: ptcodec's decoder, in process"))
    p.add_argument("--tier", type=int, choices=(1, 2, 3), default=3, help="judge tiers 1 to N (default 3)")
    p.add_argument("--vectors", metavar="DIR", help="the vector directory (default: the vectors installed with "
                   "ptcodec, ptcodec/conformance/bitstream/)")
    p.add_argument("--only", nargs="+", metavar="NAME", default=(), help="only these vectors (name or kind/name)")
    p.add_argument("--frames", choices=("rgb", "y4m"), default="rgb",
                   help="what an external decoder writes at {out} (default rgb: raw RGB24 frames back to back)")
    p.add_argument("--json", metavar="FILE", default="conformance-results.json",
                   help="results file (default conformance-results.json; '-' for none)")
    p.add_argument("--workdir", metavar="DIR", help="keep every decoder output here (default: a temporary directory)")
    p.add_argument("--timeout", type=float, default=600.0, metavar="SECONDS", help=(
        "seconds per vector for --decoder (default 600); then the decoder and every process it started "
        "are killed (SIGTERM, then SIGKILL) and the vector fails"))
    p.add_argument("--no-coverage", action="store_true", help="skip the check that every requirement has a vector")
    p.add_argument("--spec", metavar="FILE", help=(
        "the spec whose requirements must each have a vector (default spec/ptv.md, when it exists: run in a "
        "ptcodec checkout; elsewhere the coverage check is skipped unless this is given)"))
    p.add_argument("--map", metavar="FILE", help=(
        "the requirement map that says which vectors cover each requirement (default conformance/requirements.json)"))
    p.add_argument("-q", "--quiet", action="store_true", help="print only the summary lines")
    p.set_defaults(run=run_conformance)


def run_conformance(args: argparse.Namespace) -> int:
    from ptcodec.cli.progress import bar
    from ptcodec.conformance.candidates import CommandCandidate, PtcodecCandidate
    from ptcodec.conformance.runner import run_suite, write_results
    from ptcodec.conformance.vectors import default_vectors_dir, load_vectors

    root = args.vectors or default_vectors_dir()
    vectors = load_vectors(root, args.only)
    if args.only and len(vectors) < len(set(args.only)):
        raise InputError(f"--only: some of {' '.join(args.only)} are not vectors of {root}")
    for vector in vectors:  # a damaged vector set is refused before anything runs
        vector.check_files()
    if not (args.timeout > 0 and math.isfinite(args.timeout)):
        raise InputError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")
    coverage_files = _coverage_files(args)
    candidate: CommandCandidate | PtcodecCandidate
    if args.decoder:
        try:
            candidate = CommandCandidate(
                args.decoder, frames_format=args.frames, timeout=args.timeout)
        except ValueError as error:
            raise InputError(str(error)) from None
    else:
        candidate = PtcodecCandidate()
    progress = bar(len(vectors), "conformance", quiet=args.quiet, unit="vector")
    result = run_suite(vectors, candidate, tiers=args.tier, workdir=args.workdir,
                       on_vector=lambda _: progress.update(1))
    progress.close()
    text = result.table()
    print(text if not args.quiet else "\n".join(text.splitlines()[-2:]))
    if args.json != "-":
        write_results(result, args.json)
        print(f"results: {args.json}")
    covered = coverage_files is None or _coverage(root, *coverage_files)
    return 0 if result.passed and covered else 1


def _coverage_files(args: argparse.Namespace) -> tuple[Path, Path] | None:
    """The spec and the requirement map to check coverage against, or None to skip the check
    (asked for, or no spec here and none given); a file given that is not there is refused now,
    before the vectors run."""
    from ptcodec.conformance.coverage import DEFAULT_MAP, DEFAULT_SPEC

    if args.no_coverage or args.only:
        return None
    if args.spec is None and not DEFAULT_SPEC.is_file():
        print(f"coverage: not checked (no {DEFAULT_SPEC} here; run in a ptcodec checkout or pass --spec and --map)")
        return None
    files = (Path(args.spec or DEFAULT_SPEC), Path(args.map or DEFAULT_MAP))
    for option, path in zip(("--spec", "--map"), files, strict=True):
        if not path.is_file():
            raise InputError(f"{option} {path}: no such file")
    return files


def _coverage(root, spec: Path, requirement_map: Path) -> bool:
    from ptcodec.conformance.coverage import check_coverage

    report = check_coverage(root, spec, requirement_map)
    problems = list(report.uncovered) + list(report.stale)
    if problems:
        print(f"coverage: {len(report.uncovered)} requirements without a vector, {len(report.stale)} stale map "
              "entries:", file=sys.stderr)
        for item in problems[:20]:
            print(f"  {item}", file=sys.stderr)
        return False
    print(f"coverage: every requirement and syntax element has a vector ({report.summary()})")
    return True
