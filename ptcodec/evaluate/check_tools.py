"""Which pixel codecs and VMAF this machine has, and why each missing one is missing.

Probes only: PyAV's list of codecs and the imageio-ffmpeg binary's -encoders and -filters,
so `ptcodec evaluate check` answers in a second without encoding anything.
"""

from __future__ import annotations

from typing import Literal

import av

from ptcodec.errors import PtcodecError
from ptcodec.evaluate.codecs.ffmpeg import ffmpeg_version, probe_ffmpeg

# name -> (PyAV encoder, PyAV decoder) for the in-process codecs.
_PYAV = {"x264": ("libx264", "h264"), "x265": ("libx265", "hevc"), "svtav1": ("libsvtav1", "libdav1d")}
# name -> (ffmpeg encoder of the imageio-ffmpeg binary, PyAV decoder of its output).
_FFMPEG = {"vvenc": ("libvvenc", "vvc"), "libaom": ("libaom-av1", "libdav1d")}


def _pyav_has(name: str, mode: Literal["r", "w"]) -> bool:
    try:
        av.Codec(name, mode)
    except (av.FFmpegError, ValueError):
        return False
    return True


def _ffmpeg_lists() -> tuple[str, str, str | None]:
    """(encoders, filters, why not): the binary's -encoders and -filters tables, or the reason there are none."""
    try:
        return probe_ffmpeg(["-encoders"]), probe_ffmpeg(["-filters"]), None
    except PtcodecError as error:
        return "", "", str(error)
    except OSError as error:
        return "", "", f"cannot run the imageio-ffmpeg binary: {error.strerror or error}"


def _listed(table: str, name: str) -> bool:
    return any(len(words := line.split()) >= 2 and words[1] == name for line in table.splitlines())


def available() -> dict[str, tuple[bool, str]]:
    """name -> (available, what provides it or why it is missing), for x264, x265, svtav1, vvenc, libaom and vmaf."""
    result: dict[str, tuple[bool, str]] = {}
    pyav = f"PyAV {av.__version__}"
    for name, (encoder, decoder) in _PYAV.items():
        if not _pyav_has(encoder, "w"):
            result[name] = (False, f"{pyav} was built without the {encoder} encoder")
        elif not _pyav_has(decoder, "r"):
            result[name] = (False, f"{pyav} has no {decoder} decoder for {encoder}'s output")
        else:
            result[name] = (True, f"{encoder} in {pyav}")
    encoders, filters, why_not = _ffmpeg_lists()
    version = ffmpeg_version() if why_not is None else ""
    for name, (encoder, decoder) in _FFMPEG.items():
        if why_not is not None:
            result[name] = (False, why_not)
        elif not _listed(encoders, encoder):
            result[name] = (False, f"{version} has no {encoder} encoder (imageio-ffmpeg>=0.8.1 has)")
        elif not _pyav_has(decoder, "r"):
            result[name] = (False, f"{pyav} has no {decoder} decoder for {encoder}'s output")
        else:
            result[name] = (True, f"{encoder} in {version}")
    if why_not is not None:
        result["vmaf"] = (False, why_not)
    elif not _listed(filters, "libvmaf"):
        result["vmaf"] = (False, f"{version} has no libvmaf filter")
    else:
        result["vmaf"] = (True, f"libvmaf (model vmaf_v0.6.1, built in) in {version}")
    return result
