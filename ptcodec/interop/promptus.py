"""Lossless conversion between the authors' released prompt files and `.ptv`.

The released Promptus code saves each keyframe as a `torch.save` pickle
(`frame_XXXXX.prompt`: U uint8 (m, r), V uint8 (r, n), and float32 scalar
scales and zero points) plus `init.pth`, the VAE latent of frame 0. A pickle
from an untrusted source can run code, so these files are only ever opened with
`torch.load(..., weights_only=True)`. The uint8 codes, scales and zero points
go into per-tensor keyframe units bit for bit, and the rank and keyframe
positions are read from the files, not assumed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.errors import InputError, PtvError, one_line
from ptcodec.outputs import atomic_file, check_output, make_directory
from ptcodec.process.noise import RELEASED_GAMMA, RELEASED_SEED
from ptcodec.ptv import (
    InterpRule,
    Keyframe,
    PrevLatentRule,
    PtvReader,
    PtvWriter,
    QuantScheme,
    SceneInit,
    SequenceHeader,
    rules,
    smallest_level,
)
from ptcodec.ptv.levels import LEVELS
from ptcodec.ptv.syntax import UNKNOWN_FINGERPRINT, NoiseRule, quant_layout
from ptcodec.ptv.units import Unit

PROMPT_FILE = re.compile(r"frame_([0-9]{5,})\.prompt\Z")
PROMPT_SUFFIX = ".prompt"
INIT_FILE = "init.pth"
PROMPT_KEYS = ("U", "V", "U_scale", "U_zero_point", "V_scale", "V_zero_point")

# The released code's fixed choices (shared/design/promptus-reference.md).
RELEASED_GENERATOR = "sd-turbo"
RELEASED_DEVICE = "cuda:0"
"""The storage location torch.save recorded in every released file (they were saved from a GPU)."""

FIELD_MAX = 2**32 - 1
"""frame_index and frame_count are uint32 fields, and frame_count is the last index + 1."""
MAX_FILE_BYTES = max(level.max_unit_size for level in LEVELS.values()) + (1 << 20)
"""No file that fits a unit of the highest level is larger: checked before torch.load reads one."""


def released_fields() -> dict:
    """The sequence header fields that the released code fixes (spec/ptv.md, "Promptus
    prompt files"): what an imported stream gets and what an export requires."""
    from ptcodec.generators.sd_turbo import SDTurboGenerator

    return {
        "generator_id": RELEASED_GENERATOR,
        "tokens": SDTurboGenerator.tokens,
        "embed_dim": SDTurboGenerator.embed_dim,
        "latent_channels": SDTurboGenerator.latent_channels,
        "latent_downscale": SDTurboGenerator.downscale,
        "noise_rule": NoiseRule.NUMPY_LEGACY_GAUSSIAN,
        "noise_seed": RELEASED_SEED,
        "prev_latent_rule": PrevLatentRule.SEGMENT_START,
        "interp_rule": InterpRule.LINEAR_FACTORS,
    }


def _load(path: Path) -> object:
    import torch

    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"{path}: cannot read ({one_line(e)})") from None
    if size == 0:
        raise InputError(f"{path}: empty (0 bytes), not a torch file")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: {size:,} bytes is larger than any prompt or latent a level allows")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad or hostile file
        raise InputError(f"{path}: not a loadable torch file ({one_line(e, with_class=True)})") from None


def _describe(value: object) -> str:
    import torch

    if isinstance(value, torch.Tensor):
        return f"a {value.dtype} tensor of shape {tuple(value.shape)}"
    return f"a {type(value).__name__}"


def _tensor(path: Path, name: str, value: object, dtype) -> np.ndarray:
    """`value` as an array, if it is a tensor of `dtype` (no conversion: the import is bit for bit)."""
    import torch

    if not isinstance(value, torch.Tensor) or value.dtype != dtype:
        raise InputError(f"{path}: {name} must be a {dtype} tensor, found {_describe(value)}")
    return value.detach().contiguous().numpy()


def _check_prompt(path: Path, data: object) -> dict[str, np.ndarray]:
    import torch

    if not isinstance(data, dict) or set(data) != set(PROMPT_KEYS):
        found = ", ".join(sorted(map(str, data))) if isinstance(data, dict) else _describe(data)
        raise InputError(f"{path}: expected a dict with keys {', '.join(PROMPT_KEYS)}, found {found}")
    out = {
        key: _tensor(path, key, data[key], torch.uint8 if key in ("U", "V") else torch.float32) for key in PROMPT_KEYS
    }
    u, v = out["U"], out["V"]
    if u.ndim != 2 or v.ndim != 2 or u.shape[1] != v.shape[0] or u.shape[1] == 0:
        raise InputError(f"{path}: U {u.shape} and V {v.shape} are not (m, r) and (r, n) with rank r >= 1")
    for key in PROMPT_KEYS[2:]:
        if out[key].size != 1:
            raise InputError(f"{path}: {key} must be a scalar, found shape {out[key].shape}")
    return out


def _prompt_files(root: Path) -> list[tuple[int, Path]]:
    """(frame index, path) of every prompt file, sorted; a `.prompt` file with
    another name is refused rather than skipped (that would drop a keyframe)."""
    found: dict[int, Path] = {}
    try:
        names = sorted(p.name for p in root.iterdir())
    except OSError as e:
        raise InputError(f"{root}: cannot list ({one_line(e)})") from None
    for name in names:
        if not name.lower().endswith(PROMPT_SUFFIX):
            continue
        match = PROMPT_FILE.match(name)
        if not match:
            raise InputError(f"{root / name}: a prompt file must be named frame_XXXXX.prompt (5 or more digits)")
        index = int(match.group(1))
        if index in found:
            raise InputError(f"{found[index]} and {name} are both frame {index}")
        if index > FIELD_MAX - 1:
            raise InputError(
                f"{root / name}: frame {index} does not fit the 32-bit frame_index and frame_count of .ptv "
                f"(the last frame can be at most {FIELD_MAX - 1})"
            )
        found[index] = root / name
    if not found:
        raise InputError(f"{root}: no frame_XXXXX.prompt files")
    prompts = sorted(found.items())
    if prompts[0][0] != 0:
        first, path = prompts[0]
        raise InputError(f"{path}: the first prompt is frame {first}, not frame 0 (frame_00000.prompt)")
    return prompts


def _check_init(path: Path, data: object) -> np.ndarray:
    import torch

    latent = _tensor(path, "the latent", data, torch.float32)
    want = (1, released_fields()["latent_channels"])
    if latent.ndim != 4 or latent.shape[:2] != want or 0 in latent.shape:
        raise InputError(f"{path}: expected a float32 tensor (1, {want[1]}, H, W), found shape {latent.shape}")
    return latent


def read_promptus_dir(directory: str | os.PathLike[str]) -> tuple[np.ndarray, list[tuple[int, dict[str, np.ndarray]]]]:
    """(init latent, [(frame index, prompt arrays), ...]) sorted by frame index.

    Names and frame indices are checked before any file is loaded; every error
    names the file it is about."""
    root = Path(directory)
    fields = released_fields()
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    found = _prompt_files(root)
    init_path = root / INIT_FILE
    if not init_path.is_file():
        raise InputError(f"{init_path}: missing (the scene-init latent of frame 0)")
    init = _check_init(init_path, _load(init_path))
    prompts = []
    for index, path in found:
        prompt = _check_prompt(path, _load(path))
        tokens, embed_dim = prompt["U"].shape[0], prompt["V"].shape[1]
        if (tokens, embed_dim) != (fields["tokens"], fields["embed_dim"]):
            raise InputError(
                f"{path}: U {prompt['U'].shape} and V {prompt['V'].shape} are not sd-turbo's "
                f"({fields['tokens']}, r) and (r, {fields['embed_dim']})"
            )
        prompts.append((index, prompt))
    return init, prompts


def _keyframe(index: int, p: dict[str, np.ndarray]) -> Keyframe:
    return Keyframe(
        frame_index=index,
        rank=p["U"].shape[1],
        quant_scheme=QuantScheme.PER_TENSOR,
        u_scale=(float(p["U_scale"]),),
        u_zero_point=(float(p["U_zero_point"]),),
        v_scale=(float(p["V_scale"]),),
        v_zero_point=(float(p["V_zero_point"]),),
        u=p["U"].tobytes(),
        v=p["V"].tobytes(),
    )


def _check_stream(root: Path, header: SequenceHeader, units: list[tuple[Path, Unit]]) -> None:
    """Every rule the writer applies, before the output is opened: an error names
    the source file and nothing is written. frame_count comes from the last prompt
    file, so a header error about it names that file."""
    try:
        rules.check_sequence_header(header)
    except PtvError as error:
        raise InputError(f"{units[-1][0] if error.field == 'frame_count' else root}: {error}") from None
    stream = rules.StreamRules(header)
    for path, unit in units:
        try:
            stream.check(unit)
        except PtvError as error:
            raise InputError(f"{path}: {error}") from None
    try:
        stream.finish()
    except PtvError as error:  # the frames held after the last keyframe
        raise InputError(f"{units[-1][0]}: {error}") from None


def import_promptus(
    directory: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    fps: Fraction = Fraction(30),
    crc: bool = False,
    frame_count: int | None = None,
) -> SequenceHeader:
    """Convert a released prompt directory into a `.ptv` file; returns its header.

    Everything is read and checked against the stream rules first, so a bad
    input leaves no output, not even a partial file."""
    check_output(out_path, inputs=[directory])
    if fps <= 0 or fps.numerator > FIELD_MAX or fps.denominator > FIELD_MAX:
        raise InputError(f"--fps {fps} must be positive, with numerator and denominator that fit 32 bits")
    root = Path(directory)
    init, prompts = read_promptus_dir(root)
    last = prompts[-1][0]
    if frame_count is not None and not last < frame_count <= FIELD_MAX:
        raise InputError(
            f"frame_count (--frames) {frame_count} must be more than the last keyframe's index {last} "
            f"({root / f'frame_{last:05d}.prompt'}) and at most {FIELD_MAX}"
        )
    fields = released_fields()
    _, channels, lat_h, lat_w = init.shape
    width, height = lat_w * fields["latent_downscale"], lat_h * fields["latent_downscale"]
    indices = [i for i, _ in prompts]
    intervals = np.diff(indices) if len(indices) > 1 else np.array([1])
    keyframe_rate = float(fps / int(intervals.min()))
    max_rank = max(p["U"].shape[1] for _, p in prompts)
    count = frame_count if frame_count is not None else last + 1
    gap = max(int(intervals.max()), count - last)
    beyond: PtvError | None = None
    try:
        level = smallest_level(
            width, height, max_rank, fields["tokens"], fields["embed_dim"], channels, keyframe_rate,
            frame_count=count, frame_gap=gap,
        ).number
    except PtvError as error:  # checked against the highest level below, which names the file that breaks it
        level, beyond = max(LEVELS), error
    header = SequenceHeader(
        **fields,
        level=level,
        crc_present=crc,
        generator_fingerprint=UNKNOWN_FINGERPRINT,  # the released files do not say which weights
        width=width,
        height=height,
        time_base_num=fps.denominator,
        time_base_den=fps.numerator,
        frame_count=count,
        gamma_num=RELEASED_GAMMA[0],
        gamma_den=RELEASED_GAMMA[1],
        quant_schemes=1 << QuantScheme.PER_TENSOR,
        version_minor=0,  # no version 1.1 tool: the import is a 1.0 stream (ptcodec recode adds them)
    )
    units: list[tuple[Path, Unit]] = [(root / INIT_FILE, SceneInit.from_latent(0, init))]
    units += [(root / f"frame_{index:05d}.prompt", _keyframe(index, p)) for index, p in prompts]
    _check_stream(root, header, units)
    if beyond is not None:
        raise InputError(f"{root}: {beyond}")
    with PtvWriter(out_path, header) as writer:
        for _, unit in units:
            writer.write(unit)
    return header


def _check_exportable(ptv_path: str | os.PathLike[str], header: SequenceHeader) -> None:
    """The released code renders every file with the same generator, noise and rules:
    a stream that needs anything else cannot be expressed in its files."""
    for name, value in released_fields().items():
        if getattr(header, name) != value:
            raise InputError(
                f"{ptv_path}: {name} is {getattr(header, name)}; the released code always uses {value}"
            )
    if Fraction(header.gamma_num, header.gamma_den) != Fraction(*RELEASED_GAMMA):
        raise InputError(
            f"{ptv_path}: gamma is {header.gamma_num}/{header.gamma_den}; the released code always uses "
            f"{RELEASED_GAMMA[0]}/{RELEASED_GAMMA[1]}"
        )


def export_promptus(ptv_path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> int:
    """Write the files the authors' `generation.py` loads; returns the number of keyframes.

    Only what the released code can express is exported: one scene and per-tensor
    quantization. Anything else is refused rather than silently changed.
    """
    import torch

    root = Path(directory)
    check_output(root, inputs=[ptv_path], directory=True)
    with PtvReader(ptv_path) as reader:
        header = reader.header
        records = [r.unit for r in reader.units()]
    _check_exportable(ptv_path, header)
    scenes = [u for u in records if isinstance(u, SceneInit)]
    keyframes = [u for u in records if isinstance(u, Keyframe)]
    if len(scenes) != 1:
        raise InputError(f"{ptv_path}: has {len(scenes)} scenes; the released format holds exactly one")
    if any(quant_layout(k.quant_scheme) != QuantScheme.PER_TENSOR for k in keyframes):
        raise InputError(f"{ptv_path}: per-component quantization has no released-format equivalent")
    make_directory(root)
    _save(torch.from_numpy(scenes[0].latent().copy()), root / INIT_FILE)
    for k in keyframes:
        prompt = {
            "U": torch.from_numpy(k.u_codes().copy()),
            "V": torch.from_numpy(k.v_codes().copy()),
            "U_scale": torch.tensor(k.u_scale[0], dtype=torch.float32),
            "U_zero_point": torch.tensor(k.u_zero_point[0], dtype=torch.float32),
            "V_scale": torch.tensor(k.v_scale[0], dtype=torch.float32),
            "V_zero_point": torch.tensor(k.v_zero_point[0], dtype=torch.float32),
        }
        _save(prompt, root / f"frame_{k.frame_index:05d}.prompt")
    return len(keyframes)


_TAG_AS_RELEASED: ContextVar[bool] = ContextVar("ptcodec_promptus_tag_as_released", default=False)
_TAGGER_PRIORITY = 9
"""torch tries storage taggers in priority order; its own CPU tagger has priority 10."""
_tagger_registered = False


def _released_location(storage) -> str | None:
    """torch.serialization tagger: inside `_tagged_as_released`, a CPU storage is
    recorded with the released files' location; elsewhere it defers to torch's own."""
    if _TAG_AS_RELEASED.get() and storage.device.type == "cpu":
        return RELEASED_DEVICE
    return None


def _restore_nothing(storage, location: str) -> None:  # noqa: ARG001 - torch's deserializer signature
    """Loading is left to torch's own deserializers (this package only tags)."""
    return None


@contextmanager
def _tagged_as_released() -> Iterator[None]:
    """Saves in this context record every CPU storage as `cuda:0`, as the released
    files do, so that the authors' `torch.load` without map_location puts our
    tensors where it puts theirs; no CUDA is needed to write them. The tagger is
    registered once with torch.serialization.register_package and only acts while
    this context (and only in this thread or task) is active."""
    global _tagger_registered
    import torch

    if not _tagger_registered:
        torch.serialization.register_package(_TAGGER_PRIORITY, _released_location, _restore_nothing)
        _tagger_registered = True
    token = _TAG_AS_RELEASED.set(True)
    try:
        yield
    finally:
        _TAG_AS_RELEASED.reset(token)


def _save(obj: object, path: Path) -> None:
    """torch.save through a file object (so that a full disk is an OSError naming its cause)
    to a temporary name, then rename: no half-written file under the real name."""
    import torch

    with _tagged_as_released(), atomic_file(path) as f:
        torch.save(obj, f)
