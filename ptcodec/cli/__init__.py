"""The `ptcodec` command: parsing and printing only; the work is in ptcodec.jobs and below.

Subcommands are registered by codec.py (transcode, decode, mux, demux, truncate,
demo), inspect.py (info, validate, reconstruct), promptus.py (import-promptus,
export-promptus), conformance.py, evaluate.py, streaming.py (package, package-quality, serve,
simulate-abr, play) and preload.py (preload-sim); types.py, generator_args.py, progress.py and signals.py
are what they share.

Every error a user can cause is a `PtcodecError`, printed as one line on stderr
with exit status 1; no traceback reaches the terminal for bad input.
"""

from __future__ import annotations

import argparse
import os
import sys

from ptcodec import __version__
from ptcodec.cli import codec, conformance, evaluate, inspect, preload, promptus, streaming
from ptcodec.errors import DamageWarning, PtcodecError, PtvError

COMMANDS = (codec, inspect, promptus, conformance, evaluate, streaming, preload)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptcodec", description="Promptus video codec: video coded as diffusion prompts.", allow_abbrev=False
    )
    parser.add_argument("--version", action="version", version=f"ptcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    for command in sub.choices.values():  # --start must not silently mean --start-frame
        command.allow_abbrev = False
    return parser


def quiet_threads() -> None:
    """On a busy machine, let PyTorch's OpenMP threads sleep while they wait instead of
    spinning: spinning threads then take the cores the working ones need. Measured on 2
    cores (a 12-frame fast encode): beside two busy processes, 68 s spinning (the default)
    against 32 s passive; on an idle machine, 20 s against 28 s. So the passive policy is
    chosen only when the load average already fills the cores. It must be set before
    torch loads; a policy the user set (OMP_WAIT_POLICY, GOMP_SPINCOUNT) is kept."""
    if "OMP_WAIT_POLICY" in os.environ or "GOMP_SPINCOUNT" in os.environ:
        return
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1  # Linux only
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # not on every platform
        return
    if load >= cores:
        os.environ["OMP_WAIT_POLICY"] = "PASSIVE"


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ARG001
    print(f"ptcodec: warning: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Warnings (a damaged packet, say) print as one line each, like errors."""
    import warnings

    quiet_threads()

    with warnings.catch_warnings():
        warnings.simplefilter("always", DamageWarning)
        warnings.showwarning = _show_warning
        return _main(argv)


OPTIONAL_PACKAGES = {"aiohttp": "stream", "mpegdash": "stream", "m3u8": "stream", "matplotlib": "eval",
                     "bjontegaard": "eval", "imageio_ffmpeg": "eval", "ray": "distributed"}
"""The packages of pyproject's optional extras (import name: extra), imported only by the commands that use them."""


def _main(argv: list[str] | None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except PtvError as error:  # the class name is part of the message: conformance runners read it
        print(f"ptcodec: error: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except PtcodecError as error:
        print(f"ptcodec: error: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        extra = OPTIONAL_PACKAGES.get((error.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"ptcodec: error: {args.command} needs {error.name}, from an optional extra: "
              f"pip install 'ptcodec[{extra}]'", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ptcodec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
