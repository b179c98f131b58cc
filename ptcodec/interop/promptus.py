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
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.errors import InputError
from ptcodec.outputs import atomic_file, check_output, make_directory
from ptcodec.ptv import (
    InterpRule,
    Keyframe,
    PrevLatentRule,
    PtvReader,
    PtvWriter,
    QuantScheme,
    SceneInit,
    SequenceHeader,
    smallest_level,
)
from ptcodec.ptv.syntax import UNKNOWN_FINGERPRINT

PROMPT_FILE = re.compile(r"frame_(\d{5,})\.prompt\Z")
INIT_FILE = "init.pth"
PROMPT_KEYS = ("U", "V", "U_scale", "U_zero_point", "V_scale", "V_zero_point")

# The released code's fixed choices (shared/design/promptus-reference.md).
RELEASED_GENERATOR = "sd-turbo"
RELEASED_SEED = 88
RELEASED_GAMMA = (95, 100)
LATENT_DOWNSCALE = 8


def _load(path: Path) -> object:
    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many kinds for a bad or hostile file
        raise InputError(f"{path}: not a loadable torch file ({e.__class__.__name__}: {str(e).splitlines()[0]})") from None


def _check_prompt(path: Path, data: object) -> dict[str, np.ndarray]:
    import torch

    if not isinstance(data, dict) or set(data) != set(PROMPT_KEYS):
        keys = sorted(data) if isinstance(data, dict) else type(data).__name__
        raise InputError(f"{path}: expected a dict with keys {', '.join(PROMPT_KEYS)}, found {keys}")
    out = {}
    for key in PROMPT_KEYS:
        value = data[key]
        want = torch.uint8 if key in ("U", "V") else torch.float32
        if not isinstance(value, torch.Tensor) or value.dtype != want:
            raise InputError(f"{path}: {key} must be a {want} tensor")
        out[key] = value.detach().contiguous().numpy()
    if out["U"].ndim != 2 or out["V"].ndim != 2 or out["U"].shape[1] != out["V"].shape[0]:
        raise InputError(f"{path}: U {out['U'].shape} and V {out['V'].shape} are not (m, r) and (r, n)")
    for key in PROMPT_KEYS[2:]:
        if out[key].size != 1:
            raise InputError(f"{path}: {key} must be a scalar")
    return out


def read_promptus_dir(directory: str | os.PathLike[str]) -> tuple[np.ndarray, list[tuple[int, dict[str, np.ndarray]]]]:
    """(init latent, [(frame index, prompt arrays), ...]) sorted by frame index."""
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"{root}: not a directory")
    found = sorted((int(m.group(1)), p) for p in root.iterdir() if (m := PROMPT_FILE.match(p.name)))
    if not found:
        raise InputError(f"{root}: no frame_XXXXX.prompt files")
    init_path = root / INIT_FILE
    if not init_path.is_file():
        raise InputError(f"{root}: {INIT_FILE} is missing (the scene-init latent of frame 0)")
    import torch

    init = _load(init_path)
    if not isinstance(init, torch.Tensor) or init.dtype != torch.float32 or init.ndim != 4 or init.shape[0] != 1:
        raise InputError(f"{init_path}: expected a float32 tensor (1, C, H, W)")
    prompts = [(index, _check_prompt(path, _load(path))) for index, path in found]
    if prompts[0][0] != 0:
        raise InputError(f"{root}: the first prompt is frame {prompts[0][0]}, not frame 0")
    return init.numpy(), prompts


def import_promptus(
    directory: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    *,
    fps: Fraction = Fraction(30),
    crc: bool = False,
    frame_count: int | None = None,
) -> SequenceHeader:
    """Convert a released prompt directory into a `.ptv` file; returns its header."""
    check_output(out_path, inputs=[directory])
    init, prompts = read_promptus_dir(directory)
    tokens, rank = prompts[0][1]["U"].shape
    embed_dim = prompts[0][1]["V"].shape[1]
    _, channels, lat_h, lat_w = init.shape
    width, height = lat_w * LATENT_DOWNSCALE, lat_h * LATENT_DOWNSCALE
    indices = [i for i, _ in prompts]
    intervals = np.diff(indices) if len(indices) > 1 else np.array([1])
    keyframe_rate = float(fps / int(intervals.min()))
    max_rank = max(p["U"].shape[1] for _, p in prompts)
    level = smallest_level(width, height, max_rank, tokens, embed_dim, channels, keyframe_rate)
    header = SequenceHeader(
        level=level.number,
        crc_present=crc,
        generator_id=RELEASED_GENERATOR,
        generator_fingerprint=UNKNOWN_FINGERPRINT,  # the released files do not say which weights
        width=width,
        height=height,
        time_base_num=fps.denominator,
        time_base_den=fps.numerator,
        frame_count=frame_count if frame_count is not None else indices[-1] + 1,
        tokens=tokens,
        embed_dim=embed_dim,
        latent_channels=channels,
        latent_downscale=LATENT_DOWNSCALE,
        noise_seed=RELEASED_SEED,
        gamma_num=RELEASED_GAMMA[0],
        gamma_den=RELEASED_GAMMA[1],
        prev_latent_rule=PrevLatentRule.SEGMENT_START,
        interp_rule=InterpRule.LINEAR_FACTORS,
        quant_schemes=1 << QuantScheme.PER_TENSOR,
    )
    with PtvWriter(out_path, header) as writer:
        writer.write(SceneInit.from_latent(0, init))
        for index, p in prompts:
            if p["U"].shape[0] != tokens or p["V"].shape[1] != embed_dim:
                raise InputError(f"frame {index}: factor shapes differ from frame 0's")
            writer.write(
                Keyframe(
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
            )
    return header


def export_promptus(ptv_path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> int:
    """Write the files the authors' `generation.py` loads; returns the number of keyframes.

    Only what the released code can express is exported: one scene and per-tensor
    quantization. Anything else is refused rather than silently changed.
    """
    import torch

    root = Path(directory)
    check_output(root, inputs=[ptv_path], directory=True)
    with PtvReader(ptv_path) as reader:
        records = [r.unit for r in reader.units()]
    scenes = [u for u in records if isinstance(u, SceneInit)]
    keyframes = [u for u in records if isinstance(u, Keyframe)]
    if len(scenes) != 1:
        raise InputError(f"{ptv_path}: has {len(scenes)} scenes; the released format holds exactly one")
    if any(k.quant_scheme != QuantScheme.PER_TENSOR for k in keyframes):
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


def _save(obj: object, path: Path) -> None:
    """torch.save through a file object (so that a full disk is an OSError naming its cause)
    to a temporary name, then rename: no half-written file under the real name."""
    import torch

    with atomic_file(path) as f:
        torch.save(obj, f)
