"""Output paths: refuse a bad one before any work, and write files atomically.

Every command that writes follows the same rules (the developers' guide): an
output that cannot be written (a missing or read-only directory, a name that is
an existing directory, a name that is one of the inputs) is refused with one
line before any fitting or decoding starts; the output is written under a
temporary name beside it and renamed only when complete; a failed write (a full
disk) is one line that names the file, and leaves no temporary file behind.

The writers of whole formats keep their own temporary files (`PtvWriter` for
.ptv, `VideoWriter` for video, `ptcodec.container.matroska.write_matroska`); they share these
checks and `write_error`. Plain files (a demuxed stream, dump arrays, prompt
files) go through `atomic_file`. No torch, no PyAV: the parsing tools use it.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterable, Iterator
from typing import BinaryIO

from ptcodec.errors import InputError, one_line

PARTIAL_SUFFIX = ".partial"


def write_error(path: str | os.PathLike[str], error: Exception, doing: str = "cannot write") -> InputError:
    """One line for a failed write: the file and the system's reason (no space left, permission denied)."""
    return InputError(f"{os.fspath(path)}: {doing}: {one_line(error)}")


def check_output(path: str | os.PathLike[str], *, inputs: Iterable[str | os.PathLike[str] | None] = (),
                 directory: bool = False) -> None:
    """Refuse, before any work, an output that cannot be written or would replace an input.

    `directory`: the output is a directory (created if missing) rather than a file.
    Inputs are compared by file identity, so another spelling of the same path, a
    hard link or a symbolic link to an input is refused too.
    """
    name = os.fspath(path)
    if directory:
        if os.path.exists(name) and not os.path.isdir(name):
            raise InputError(f"{name}: exists and is not a directory")
    elif os.path.isdir(name):
        raise InputError(f"{name}: is a directory; give a file name for the output")
    refuse_inputs(name, inputs)
    if directory and os.path.isdir(name):
        check_writable(name, name)
    else:
        parent = os.path.dirname(os.path.abspath(name))
        if not os.path.isdir(parent):
            if directory:  # created with its parents: the nearest existing ancestor must be writable
                while not os.path.isdir(parent) and os.path.dirname(parent) != parent:
                    parent = os.path.dirname(parent)
            else:
                raise InputError(f"{name}: the directory {parent} does not exist")
        check_writable(parent, name)


def refuse_inputs(path: str, inputs: Iterable[str | os.PathLike[str] | None]) -> None:
    """An output must never be one of the inputs: writing it would destroy the source."""
    if not os.path.exists(path):
        return
    for source in inputs:
        if source is None or not os.path.exists(source):
            continue
        if os.path.samefile(path, source):
            raise InputError(f"{path}: the output is the input {os.fspath(source)}; choose another output name")


def check_writable(directory: str, output: str) -> None:
    """Create and remove a file in `directory`: the only test that tells what a write will do
    (permission bits, read-only mounts, ACLs, immutable flags)."""
    try:
        handle, probe = tempfile.mkstemp(prefix=".ptcodec-probe-", dir=directory)
    except OSError as error:
        raise InputError(f"{output}: cannot write in the directory {directory}: "
                         f"{one_line(error)}") from None
    os.close(handle)
    os.remove(probe)


def make_directory(path: str | os.PathLike[str]) -> None:
    """mkdir -p, with a failure as one line."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise write_error(path, error, "cannot create the directory") from None


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike[str], *, durable: bool = True) -> Iterator[BinaryIO]:
    """A binary file written as `<path>.partial`, made durable (fsync; `durable=False`
    skips it, for the many parts of a whole that a last durable file completes) and
    renamed to `path` when the block ends; on any failure the partial file is removed,
    and an OSError becomes one line naming the file."""
    name = os.fspath(path)
    partial = name + PARTIAL_SUFFIX
    try:
        handle = open(partial, "wb")  # noqa: SIM115 - closed below
    except OSError as error:
        raise write_error(partial, error, "cannot create") from None
    try:
        with handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.replace(partial, name)
    except BaseException as error:
        with contextlib.suppress(OSError):
            os.remove(partial)
        if isinstance(error, OSError):
            raise write_error(partial, error) from None
        raise
