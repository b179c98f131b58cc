"""Decoders under test: ptcodec itself, in process, or any program, as a command line.

A candidate turns one vector's stream into an `Outcome`: accepted or rejected
(with the error class it names), and whatever it can show of each tier: the
parse dump (tier 1), the SHA-256 of its reconstruction arrays (tier 2), its
frames (tier 3). The runner judges outcomes; candidates only produce them.
"""

from __future__ import annotations

import math
import os
import re
import selectors
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptcodec.conformance.compare import (
    OutputError,
    dump_digests,
    parse_dump_limit,
    read_json_output,
)
from ptcodec.conformance.vectors import ERROR_CLASSES, Vector
from ptcodec.errors import GeneratorError, PtvError, one_line


@dataclass
class Outcome:
    accepted: bool
    error_class: str | None = None
    message: str = ""
    parse: object | None = None
    """Tier 1: the decoder's parse dump, when it gives one (any JSON value: the comparison judges it)."""
    tier2: dict[str, str] | None = None
    """Tier 2: name -> SHA-256 of each array the decoder dumped."""
    tier2_dir: Path | None = None
    frames: np.ndarray | None = None
    """Tier 3: (frames, H, W, 3) RGB, or (frames, 3, H, W) planes for y4m."""
    frames_file: Path | None = None
    """Tier 3: the file a decoder wrote its frames to, read a frame at a time when judged."""
    frames_format: str = "rgb24"
    generator_missing: bool = False
    """The stream was read, but the generator it names is not available here (tier 3 is skipped)."""
    notes: dict[int, str] = field(default_factory=dict)
    """Per tier, why it could not be shown (no {dump} in the command...)."""
    unusable: dict[int, str] = field(default_factory=dict)
    """Per tier, what is wrong with what the decoder wrote for it (a fail)."""
    failure: str | None = None
    """The decoder crashed or ran past its time: a fail on every vector, valid or faulty."""


class PtcodecCandidate:
    """ptcodec's own decoder, called as a library: the parser, `reconstruct`, and `Decoder`
    with the generator the stream names (loaded once per generator id)."""

    name = "ptcodec (in process)"

    def __init__(self, generator_options: dict | None = None) -> None:
        self.generator_options = {"offline": True, **(generator_options or {})}  # never download in a test run
        self._generators: dict[str, object] = {}

    def run(self, vector: Vector, tiers: set[int], workdir: Path) -> Outcome:
        from ptcodec.conformance.vectors import read_parse_dump

        try:
            header, records, dump = read_parse_dump(read_stream_bytes(vector.stream), path=str(vector.stream))
        except PtvError as error:
            return Outcome(False, type(error).__name__, str(error))
        outcome = Outcome(True, parse=dump)
        units = [r.unit for r in records[1:]]
        if 2 in tiers:
            from ptcodec.process.reconstruction import reconstruct

            outcome.tier2_dir = workdir / "tier2"
            index = reconstruct(header, units).write(outcome.tier2_dir)  # the arrays are computed once
            outcome.tier2 = {name: entry["sha256"] for name, entry in index.items()}
        if 3 in tiers and vector.reference.test.get("tier3"):
            gen = self._generator(header.generator_id, outcome)
            if gen is not None:
                from ptcodec.decoder import decode_units

                images = [f.image for f in decode_units(header, units, gen)]
                outcome.frames = (np.stack(images) if images else
                                  np.zeros((0, header.height, header.width, 3), np.uint8))
        return outcome

    def _generator(self, generator_id: str, outcome: Outcome):
        from ptcodec.generators import load_generator

        if generator_id not in self._generators:
            try:
                self._generators[generator_id] = load_generator(generator_id, **self.generator_options)
            except GeneratorError as error:
                self._generators[generator_id] = error
        gen = self._generators[generator_id]
        if isinstance(gen, GeneratorError):
            outcome.generator_missing = True
            outcome.notes[3] = f"generator not available: {gen}"
            return None
        return gen


def read_stream_bytes(path: Path) -> bytes:
    """A vector's `.ptv` bytes; for a Matroska vector, the prompt track restored as Annex B.3 says."""
    from ptcodec.container.matroska import is_matroska, read_prompt_track

    if is_matroska(path):
        return read_prompt_track(path).ptv_bytes()
    return path.read_bytes()


GENERATOR_MISSING = 3
"""Exit status of a decoder that read the stream but does not have its generator (tier 3 is then skipped)."""
CLASS_NAME = re.compile(r"\b(" + "|".join(ERROR_CLASSES) + r")\b")
KEEP_BYTES = 64 << 10
"""Of each of a decoder's stdout and stderr, the runner keeps this many first and last bytes."""
MESSAGE_LIMIT = 2000
"""Characters of a decoder's last line that go into a verdict."""
KILL_GRACE_S = 2.0
"""After SIGTERM, how long a timed-out decoder has before SIGKILL."""
DRAIN_GRACE_S = 1.0
"""After the decoder has exited, how long its output pipes may stay open (held by a process that left
its process group) before the runner stops reading them."""


class CommandCandidate:
    """Any decoder, run as a shell command per vector (interface: conformance/README.md).

    The template's fields are replaced by quoted paths: {in} a copy of the vector's
    stream, {out} the frames file to write (.rgb or .y4m), {dump} (optional) a
    directory for the tier-2 dump, {parse} (optional) a file for the tier-1 parse dump.
    Exit status 0 means decoded; 3 that the stream was read but its generator
    is not available; death by a signal (or 128 + N from the shell for a child that
    died by signal N) is a crash; any other status means rejected, and the output
    must name the error class. The command runs in a session of its own, so that
    it and every process it started are killed when it times out or exits."""

    def __init__(self, template: str, *, frames_format: str = "rgb", timeout: float = 600.0) -> None:
        if "{in}" not in template:
            raise ValueError("the --decoder command must contain {in}")
        if not (timeout > 0 and math.isfinite(timeout)):
            raise ValueError(f"the timeout must be a positive number of seconds, not {timeout:g}")
        self.template = template
        self.frames_format = frames_format
        self.timeout = timeout
        self.name = template

    def command(self, paths: dict[str, Path]) -> str:
        text = self.template
        for key, path in paths.items():
            text = text.replace("{" + key + "}", shlex.quote(os.fspath(path)))
        return text

    def run(self, vector: Vector, tiers: set[int], workdir: Path) -> Outcome:
        paths = {"in": workdir / vector.stream.name, "out": workdir / f"frames.{self.frames_format}",
                 "dump": workdir / "tier2", "parse": workdir / "parse.json"}
        try:
            _fresh_directory(workdir)
            shutil.copyfile(vector.stream, paths["in"])  # the decoder cannot damage the vector set
        except OSError as error:
            return Outcome(False, failure=f"could not prepare its work directory {workdir} ({one_line(error)})")
        done = run_command(self.command(paths), workdir, self.timeout)
        said = done.said()
        if done.timed_out:
            return Outcome(False, message=last_line(said), failure=f"timed out after {self.timeout:g} s")
        if done.signal is not None:
            return Outcome(False, message=last_line(said), failure=f"crashed: {done.signal}")
        last = last_line(said) or f"exit status {done.returncode}"
        if done.returncode not in (0, GENERATOR_MISSING):
            named = CLASS_NAME.search(said)
            return Outcome(False, named.group(1) if named else None, last)
        outcome = Outcome(True)
        if vector.expect != "decode":
            return outcome  # accepting a faulty stream fails whatever was written
        if done.returncode == GENERATOR_MISSING:
            outcome.generator_missing = True
            outcome.notes[3] = f"generator not available: {last}"
        reference = vector.reference.test
        if "{parse}" in self.template:
            try:
                document = read_json_output(paths["parse"], parse_dump_limit(reference["parse"]))
                outcome.parse = parse_dump_from(document)
            except OutputError as error:
                outcome.unusable[1] = str(error)
        else:
            outcome.notes[1] = "the command has no {parse}; acceptance only"
        if 2 in tiers:
            self._read_dump(paths["dump"], list(reference["tier2"]["sha256"]), outcome)
        if 3 in tiers and reference.get("tier3") and done.returncode == 0 and os.path.lexists(paths["out"]):
            outcome.frames_file = paths["out"]
            outcome.frames_format = "y4m" if self.frames_format == "y4m" else "rgb24"
        return outcome

    def _read_dump(self, directory: Path, expected: list[str], outcome: Outcome) -> None:
        if "{dump}" not in self.template:
            outcome.notes[2] = "the command has no {dump}"
        elif not directory.is_dir():
            outcome.unusable[2] = "the command wrote no dump directory"
        else:
            try:
                outcome.tier2, outcome.tier2_dir = dump_digests(directory, expected), directory
            except OutputError as error:
                outcome.unusable[2] = str(error)


def _fresh_directory(path: Path) -> None:
    """An empty directory at path, so that nothing a decoder wrote in an earlier run is judged as its output."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)


def parse_dump_from(document: object) -> object:
    """Accept `ptcodec info --json --hash-bytes` output (extra keys ignored) as a parse dump;
    anything else is passed on as it is, for the comparison to say what is wrong with it."""
    return {"units": document.get("units")} if isinstance(document, dict) else document


# -- running a command -------------------------------------------------------------------------------------


class _Capture:
    """The first and last KEEP_BYTES of an output stream, and its length, whatever its size."""

    def __init__(self) -> None:
        self.head, self.tail, self.total = bytearray(), bytearray(), 0

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = max(KEEP_BYTES - len(self.head), 0)
        self.head += data[:room]
        self.tail += data[room:]
        del self.tail[:-KEEP_BYTES]

    def text(self) -> str:
        gap = self.total - len(self.head) - len(self.tail)
        cut_out = f"\n[{gap} bytes not kept]\n".encode() if gap else b""
        return bytes(self.head + cut_out + self.tail).decode("utf-8", "replace")


@dataclass
class Finished:
    returncode: int
    timed_out: bool
    stdout: _Capture
    stderr: _Capture

    @property
    def signal(self) -> str | None:
        """The signal that killed the command, or that killed its last command (`sh` exits 128 + N then)."""
        code = self.returncode
        number = -code if code < 0 else code - 128
        if not 0 < number < signal.NSIG:
            return None
        try:
            return signal.Signals(number).name
        except ValueError:
            return f"signal {number}"

    def said(self) -> str:
        """stderr then stdout, as text (at most 2 x 2 x KEEP_BYTES)."""
        return (self.stderr.text() + "\n" + self.stdout.text()).strip()


def run_command(command: str, cwd: Path, timeout: float) -> Finished:
    """Run a shell command in a session of its own, reading its output through bounded buffers.
    On a timeout its process group gets SIGTERM, then SIGKILL; when it exits, whatever it left
    running in its group is killed."""
    process = subprocess.Popen(command, shell=True, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, start_new_session=True)
    captures = {process.stdout: _Capture(), process.stderr: _Capture()}
    timed_out = True
    try:
        timed_out = _read_until_exit(process, captures, time.monotonic() + timeout)
    finally:
        if timed_out:
            _signal_group(process.pid, signal.SIGTERM)
            _wait_exit(process, time.monotonic() + KILL_GRACE_S)
        _signal_group(process.pid, signal.SIGKILL)
        for pipe in captures:
            if pipe is not None:
                pipe.close()
        process.wait()
    return Finished(process.returncode, timed_out, captures[process.stdout], captures[process.stderr])


def _read_until_exit(process: subprocess.Popen, captures: dict, deadline: float) -> bool:
    """Read both pipes until the command has exited and they are closed; True if the deadline came first."""
    exited_at = None
    with selectors.DefaultSelector() as selector:
        for pipe in captures:
            selector.register(pipe, selectors.EVENT_READ)
        while selector.get_map():
            now = time.monotonic()
            if exited_at is None and _exited(process):
                exited_at = now
                _signal_group(process.pid, signal.SIGKILL)  # what it left behind would hold the pipes open
            if exited_at is None and now >= deadline:
                return True
            if exited_at is not None and now >= exited_at + DRAIN_GRACE_S:
                break
            for key, _ in selector.select(0.1):
                data = os.read(key.fd, 1 << 16)
                if data:
                    captures[key.fileobj].add(data)
                else:
                    selector.unregister(key.fileobj)
    return not _wait_exit(process, deadline)


def _exited(process: subprocess.Popen) -> bool:
    """Whether the command has exited, without reaping it: its pid (and so its process group's id)
    stays reserved until the group has been killed."""
    if not hasattr(os, "waitid"):  # macOS: poll reaps, so the group is killed by its pid until then
        return process.poll() is not None
    return os.waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _wait_exit(process: subprocess.Popen, deadline: float) -> bool:
    while not _exited(process):
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.02)
    return True


def _signal_group(group: int, number: int) -> None:
    try:
        os.killpg(group, number)
    except (ProcessLookupError, PermissionError):
        pass


def last_line(text: str) -> str:
    """The last non-empty line of what a decoder wrote, safe to print (control characters become '?'),
    cut to its last MESSAGE_LIMIT characters, saying so."""
    lines = [line for line in text.splitlines() if line.strip()]
    line = lines[-1].strip() if lines else ""
    marker = f"[cut: the last {MESSAGE_LIMIT} characters] " if len(line) > MESSAGE_LIMIT else ""
    return marker + "".join(c if c.isprintable() or c == "\t" else "?" for c in line[-MESSAGE_LIMIT:])
