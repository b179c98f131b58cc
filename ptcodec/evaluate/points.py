"""The rate points of each codec, and how one is made: encode the clip, decode it back, count the bytes.

- pixel codecs (x264, x265, SVT-AV1, VVenC, libaom): one point per target rate, rate-controlled to
  within 2% (codecs/base.encode_at_rate);
- ptcodec: one point per (rank, interval) of its grid, or per rung of a rank ladder (one stream cut
  with `truncate`), with total, steady-state and keyframe-payload rates (rates.py);
- vae, the paper's neural baseline: the generator's encoder makes latents, quantized to 8 bits over the
  clip, tiled into one grey frame per frame, coded with x265 at the target rate, then decoded and passed
  through the generator's decoder.

A point's `key` (its settings) names it: the runner stores each point under a hash of the clip and the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from ptcodec.encoder.options import CODINGS
from ptcodec.errors import InputError
from ptcodec.evaluate.specs import PIXEL_CODECS, CodecSpec
from ptcodec.generators import GeneratorOptions


@dataclass
class Clip:
    """A source clip in memory: (N, H, W, 3) uint8 RGB frames."""

    name: str
    frames: np.ndarray
    fps: Fraction
    content: str
    """"natural" (a real clip) or "reachable" (made by the generator itself: it favours ptcodec)."""
    sha256: str


@dataclass
class Made:
    """One point made: the decoded frames, and what the runner records of it."""

    decoded: np.ndarray
    record: dict[str, Any]


def _seconds(clip: Clip) -> float:
    return float(len(clip.frames) / clip.fps)


class PixelPoints:
    """A pixel codec at each target rate."""

    def __init__(self, spec: CodecSpec) -> None:
        from ptcodec.evaluate.codecs import make_codec

        self.spec = spec
        if spec.options:
            raise InputError(f"--codec {spec.name}: takes no options (its settings are fixed and recorded)")
        self.codec = make_codec(spec.name)
        self.label = getattr(self.codec, "label", spec.name)

    def keys(self, rates: tuple[float, ...]) -> list[dict[str, Any]]:
        return [{"target_kbps": rate} for rate in rates]

    def make(self, key: dict[str, Any], clip: Clip, workdir: Path, generator_options: GeneratorOptions) -> Made:
        from ptcodec.evaluate.codecs.base import encode_at_rate

        encoded = encode_at_rate(self.codec, clip.frames, clip.fps, key["target_kbps"], workdir)
        decoded = self.codec.decode(encoded)
        return Made(decoded, {"settings": encoded.settings, "bytes": encoded.bytes,
                              "kbps": {"total": encoded.bytes * 8 / 1000 / _seconds(clip)}, "generator": None})


class PtcodecPoints:
    """ptcodec over a grid of rank and interval (`ranks=4/8,K=2/10`), or one rank ladder cut to each of
    its rungs (`ladder=4/8/16`); `generator=` names the generator, `quality=` the fitting preset.
    `coding=1.1` uses the coding tools of bitstream 1.1, with `factor_bits=` and `rdoq=` (lambda) as
    further grid dimensions."""

    GRID = ("ranks", "K", "factor_bits", "rdoq")
    OPTIONS = ("generator", "ranks", "K", "ladder", "quality", "steps", "coding", "factor_bits", "rdoq")

    def __init__(self, spec: CodecSpec) -> None:
        unknown = set(spec.options) - set(self.OPTIONS)
        if unknown:
            raise InputError(f"--codec ptcodec: unknown option {', '.join(sorted(unknown))} "
                             f"({', '.join(self.OPTIONS)})")
        coding = spec.single("coding", "1.0")
        if coding not in CODINGS:
            raise InputError(f"--codec ptcodec: coding={coding} is not one of {', '.join(CODINGS)}")
        if coding == "1.0" and ({"factor_bits", "rdoq"} & set(spec.options)):
            raise InputError("--codec ptcodec: factor_bits and rdoq are tools of coding=1.1")
        if "ranks" in spec.options and "ladder" in spec.options:
            raise InputError("--codec ptcodec: give ranks=a/b (a grid of streams) or ladder=a/b (one stream), not both")
        self.spec = spec
        self.generator_id = spec.single("generator", "reference") or "reference"
        self.coding = coding
        self.label = f"ptcodec ({self.generator_id})" if coding == "1.0" else f"ptcodec {coding} ({self.generator_id})"

    def keys(self, rates: tuple[float, ...]) -> list[dict[str, Any]]:  # noqa: ARG002 - a grid, not target rates
        quality = self.spec.single("quality", "fast")
        steps = self.spec.single("steps")
        base = {"generator": self.generator_id, "quality": quality, **({"steps": int(steps)} if steps else {})}
        intervals = [int(k) for k in self.spec.options.get("K", ("10",))]
        tools: list[dict[str, Any]] = [{}]
        if self.coding != "1.0":  # keys of 1.0 points stay those of earlier runs
            tools = [{"coding": self.coding, "factor_bits": int(b), "rdoq": float(lam)}
                     for b in self.spec.options.get("factor_bits", ("8",))
                     for lam in self.spec.options.get("rdoq", ("0",))]
        if "ladder" in self.spec.options:
            ladder = tuple(sorted(int(r) for r in self.spec.options["ladder"]))
            return [{**base, **t, "ladder": list(ladder), "rank": r, "K": k}
                    for t in tools for k in intervals for r in ladder]
        ranks = [int(r) for r in self.spec.options.get("ranks", ("8",))]
        return [{**base, **t, "rank": r, "K": k} for t in tools for r in ranks for k in intervals]

    def make(self, key: dict[str, Any], clip: Clip, workdir: Path, generator_options: GeneratorOptions) -> Made:
        from ptcodec.decoder import Decoder
        from ptcodec.encoder import Encoder, FitOptions, StreamOptions
        from ptcodec.evaluate.rates import stream_rates
        from ptcodec.process.quant import truncate_keyframe
        from ptcodec.ptv import Keyframe, PtvReader, serialize

        generator = _generator(key["generator"], generator_options)
        ranks = tuple(key.get("ladder") or [key["rank"]])
        steps = {"first_steps": key["steps"], "later_steps": key["steps"]} if "steps" in key else {}
        coding = {"coding": key["coding"], "factor_bits": key["factor_bits"], "rdoq_lambda": key["rdoq"]} \
            if "coding" in key else {}
        stream = StreamOptions(ranks=ranks, interval=key["K"], **coding)
        fitting = FitOptions(quality=key["quality"], **steps)
        height, width = clip.frames.shape[1:3]
        encoder = Encoder(generator, stream, fitting, width=width, height=height, fps=clip.fps,
                          frame_count=len(clip.frames))
        data = encoder.codec_private
        for frame in [*clip.frames, None]:
            data += b"".join(p.data for p in encoder.encode(frame))
        if "ladder" in key and key["rank"] < max(ranks):  # the stream cut to this rung, as `ptcodec truncate` cuts it
            with PtvReader(data) as reader:
                units = [(truncate_keyframe(r.unit, key["rank"]) if isinstance(r.unit, Keyframe) else r.unit,
                          r.layer_id) for r in list(reader.units())[1:]]
                data = serialize(reader.header, units)
        path = workdir / "stream.ptv"
        path.write_bytes(data)
        with PtvReader(data) as reader:
            decoder = Decoder(reader.header, generator)
            decoded = np.stack([f.image for p in [*reader.packets(), None] for f in decoder.decode(p)])
        rates = stream_rates(path)
        settings = {"encoder": "ptcodec", "stream": dataclasses.asdict(stream), "fitting": dataclasses.asdict(fitting),
                    "perceptual": encoder.perceptual}
        return Made(decoded, {"settings": settings, "bytes": len(data), "kbps": rates.as_dict(),
                              "per_second_kbps": list(rates.per_second_kbps),
                              "generator": {"id": generator.id, "fingerprint": generator.fingerprint().hex()}})


class VaePoints:
    """The VAE baseline: the generator's latents, 8-bit, tiled into a grey picture, coded with x265."""

    def __init__(self, spec: CodecSpec) -> None:
        from ptcodec.evaluate.codecs import make_codec

        self.spec = spec
        self.generator_id = spec.single("generator", "reference") or "reference"
        self.codec = make_codec("x265")
        self.label = f"VAE + x265 ({self.generator_id})"

    def keys(self, rates: tuple[float, ...]) -> list[dict[str, Any]]:
        return [{"generator": self.generator_id, "target_kbps": rate} for rate in rates]

    def make(self, key: dict[str, Any], clip: Clip, workdir: Path, generator_options: GeneratorOptions) -> Made:
        import torch

        from ptcodec.evaluate.codecs.base import encode_at_rate
        from ptcodec.process.pixels import to_signed, to_uint8

        generator = _generator(key["generator"], generator_options)
        with torch.no_grad():
            latents = np.concatenate([
                generator.encode_latent(torch.from_numpy(to_signed(f)).permute(2, 0, 1)[None]).float().cpu().numpy()
                for f in clip.frames])
        lo, hi = float(latents.min()), float(latents.max())
        scale = (hi - lo) / 255 or 1.0
        codes = np.clip(np.round((latents - lo) / scale), 0, 255).astype(np.uint8)
        pictures = np.repeat(tile(codes)[..., None], 3, axis=3)  # grey: R = G = B
        encoded = encode_at_rate(self.codec, pictures, clip.fps, key["target_kbps"], workdir)
        grey = self.codec.decode(encoded).astype(np.float32).mean(axis=3)
        restored = untile(np.clip(np.round(grey), 0, 255).astype(np.uint8), latents.shape[1])
        with torch.no_grad():
            signed = generator.decode_latent(torch.from_numpy(restored.astype(np.float32) * scale + lo))
        decoded = to_uint8(signed.float().cpu().numpy().transpose(0, 2, 3, 1))
        side = 8  # lo and scale, float32 each: the dequantization a receiver needs
        settings = {"encoder": "vae", "latent_bits": 8, "tiling": f"{tile_grid(latents.shape[1])} grey",
                    "side_bytes": side, "picture_codec": encoded.settings}
        total = (encoded.bytes + side) * 8 / 1000 / _seconds(clip)
        return Made(decoded, {"settings": settings, "bytes": encoded.bytes + side, "kbps": {"total": total},
                              "generator": {"id": generator.id, "fingerprint": generator.fingerprint().hex()}})


def tile_grid(channels: int) -> tuple[int, int]:
    """(rows, columns) of the channel tiles: as square as the channel count allows (4 channels: 2 x 2)."""
    rows = int(np.floor(np.sqrt(channels)))
    while channels % rows:
        rows -= 1
    return rows, channels // rows


def tile(codes: np.ndarray) -> np.ndarray:
    """(N, C, h, w) -> (N, rows * h, cols * w): channel c at tile (c // cols, c % cols)."""
    n, c, h, w = codes.shape
    rows, cols = tile_grid(c)
    return codes.reshape(n, rows, cols, h, w).transpose(0, 1, 3, 2, 4).reshape(n, rows * h, cols * w)


def untile(pictures: np.ndarray, channels: int) -> np.ndarray:
    """The inverse of `tile`."""
    n, height, width = pictures.shape
    rows, cols = tile_grid(channels)
    h, w = height // rows, width // cols
    return pictures.reshape(n, rows, h, cols, w).transpose(0, 1, 3, 2, 4).reshape(n, channels, h, w)


_GENERATORS: dict[tuple[str, GeneratorOptions], Any] = {}


def _generator(generator_id: str, options: GeneratorOptions):
    """One loaded generator per id and options for the whole run."""
    from ptcodec.generators import load_generator

    key = (generator_id, options)
    if key not in _GENERATORS:
        _GENERATORS[key] = load_generator(generator_id, options)
    return _GENERATORS[key]


def points_of(spec: CodecSpec) -> PixelPoints | PtcodecPoints | VaePoints:
    if spec.name in PIXEL_CODECS:
        return PixelPoints(spec)
    if spec.name == "ptcodec":
        return PtcodecPoints(spec)
    return VaePoints(spec)
