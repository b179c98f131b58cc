"""Decoders under test: ptcodec itself, in process, or any program, as a command line.

A candidate turns one vector's stream into an `Outcome`: accepted or rejected
(with the error class it names), and whatever it can show of each tier: the
parse dump (tier 1), the SHA-256 of its reconstruction arrays (tier 2), its
frames (tier 3). The runner judges outcomes; candidates only produce them.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ptcodec.conformance.compare import dump_digests, read_rgb, read_y4m
from ptcodec.conformance.vectors import ERROR_CLASSES, Vector
from ptcodec.errors import GeneratorError, PtvError


@dataclass
class Outcome:
    accepted: bool
    error_class: str | None = None
    message: str = ""
    parse: dict | None = None
    """Tier 1: the decoder's parse dump, when it gives one."""
    tier2: dict[str, str] | None = None
    """Tier 2: name -> SHA-256 of each array the decoder dumped."""
    tier2_dir: Path | None = None
    frames: np.ndarray | None = None
    """Tier 3: (frames, H, W, 3) RGB, or (frames, 3, H, W) planes for y4m."""
    frames_format: str = "rgb24"
    generator_missing: bool = False
    """The stream was read, but the generator it names is not available here (tier 3 is skipped)."""
    notes: dict[int, str] = field(default_factory=dict)
    """Per tier, why it could not be shown (no {dump} in the command, unreadable frames...)."""


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
            from ptcodec.reconstruction import reconstruct

            rec = reconstruct(header, units)
            outcome.tier2 = rec.digests()
            outcome.tier2_dir = workdir / "tier2"
            rec.write(outcome.tier2_dir)
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
    from ptcodec.mkv import is_matroska, read_prompt_track

    if is_matroska(path):
        return read_prompt_track(path).ptv_bytes()
    return path.read_bytes()


GENERATOR_MISSING = 3
"""Exit status of a decoder that read the stream but does not have its generator (tier 3 is then skipped)."""
CLASS_NAME = re.compile(r"\b(" + "|".join(ERROR_CLASSES) + r")\b")


class CommandCandidate:
    """Any decoder, run as a shell command per vector (interface: conformance/README.md).

    The template's fields are replaced by quoted paths: {in} the vector's stream,
    {out} the frames file to write (.rgb or .y4m), {dump} (optional) a directory
    for the tier-2 dump, {parse} (optional) a file for the tier-1 parse dump.
    Exit status 0 means decoded; 3 that the stream was read but its generator
    is not available; any other means rejected, and the output must name the
    error class."""

    def __init__(self, template: str, *, frames_format: str = "rgb", timeout: float = 600.0) -> None:
        if "{in}" not in template:
            raise ValueError("the --decoder command must contain {in}")
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
        workdir.mkdir(parents=True, exist_ok=True)
        paths = {"in": vector.stream, "out": workdir / f"frames.{self.frames_format}",
                 "dump": workdir / "tier2", "parse": workdir / "parse.json"}
        try:
            done = subprocess.run(self.command(paths), shell=True, capture_output=True, text=True,
                                  timeout=self.timeout, cwd=workdir)
        except subprocess.TimeoutExpired:
            return Outcome(False, None, f"timed out after {self.timeout:g} s")
        said = (done.stderr + "\n" + done.stdout).strip()
        last = said.splitlines()[-1] if said else f"exit status {done.returncode}"
        if done.returncode not in (0, GENERATOR_MISSING):
            named = CLASS_NAME.search(said)
            return Outcome(False, named.group(1) if named else None, last)
        outcome = Outcome(True)
        if done.returncode == GENERATOR_MISSING:
            outcome.generator_missing = True
            outcome.notes[3] = f"generator not available: {last}"
        if "{parse}" in self.template:
            outcome.parse = _read_parse(paths["parse"], outcome)
        else:
            outcome.notes[1] = "the command has no {parse}; acceptance only"
        if 2 in tiers:
            if "{dump}" not in self.template:
                outcome.notes[2] = "the command has no {dump}"
            elif paths["dump"].is_dir():
                try:
                    outcome.tier2, outcome.tier2_dir = dump_digests(paths["dump"]), paths["dump"]
                except (OSError, ValueError, KeyError) as error:
                    outcome.notes[2] = f"unreadable dump ({error})"
                    outcome.tier2 = {}
            else:
                outcome.tier2 = {}
                outcome.notes[2] = "the command wrote no dump directory"
        spec = vector.reference.test.get("tier3")
        if 3 in tiers and spec and done.returncode == 0 and paths["out"].exists():
            try:
                if self.frames_format == "y4m":
                    outcome.frames, outcome.frames_format = read_y4m(paths["out"]), "y4m"
                else:
                    outcome.frames = read_rgb(paths["out"], spec["width"], spec["height"])
            except (OSError, ValueError) as error:
                outcome.notes[3] = f"unreadable frames ({error})"
        return outcome


def _read_parse(path: Path, outcome: Outcome) -> dict | None:
    import json

    try:
        dump = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        outcome.notes[1] = f"unreadable parse dump ({error})"
        return {}
    return parse_dump_from(dump)


def parse_dump_from(document: dict) -> dict:
    """Accept `ptcodec info --json --hash-bytes` output (extra keys ignored) as a parse dump."""
    return {"units": document.get("units")}

