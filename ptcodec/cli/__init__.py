"""The `ptcodec` command: one subcommand per module in this package.

Every error a user can cause is a `PtcodecError`, printed as one line on stderr
with exit status 1; no traceback reaches the terminal for bad input.
"""

from __future__ import annotations

import argparse
import sys

from ptcodec import __version__
from ptcodec.cli import codec, inspect, promptus
from ptcodec.errors import PtcodecError

COMMANDS = (codec, inspect, promptus)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ptcodec", description="Promptus video codec: video coded as diffusion prompts."
    )
    parser.add_argument("--version", action="version", version=f"ptcodec {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMANDS:
        module.register(sub)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:  # noqa: ARG001
    return f"ptcodec: warning: {message}\n"


def main(argv: list[str] | None = None) -> int:
    import warnings

    warnings.formatwarning = _one_line_warning
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except PtcodecError as error:
        print(f"ptcodec: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ptcodec: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
