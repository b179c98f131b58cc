"""The reference encoder: frames in, units out, in closed loop.

For each keyframe in order it fits the factors (ptcodec.encoder.fit), quantizes
them exactly as the bitstream stores them, writes the units, and then feeds
them to a real `Decoder`, whose generated latents and frames are what the next
keyframe is fitted against. The encoder never uses anything a decoder would not
have, so errors do not drift, and a stream resumed from its units continues
exactly as an uninterrupted encode would: every choice depends only on the
input, the options and the units already written.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ptcodec import __version__
from ptcodec.decoder import DecodedFrame, Decoder
from ptcodec.encoder import scenes
from ptcodec.encoder.fit import Budget, FitResult, Segment, fit, fit_released
from ptcodec.encoder.losses import FitLoss
from ptcodec.encoder.options import EncoderOptions
from ptcodec.errors import PtcodecError
from ptcodec.generators.base import Generator
from ptcodec.media.pixels import psnr, to_signed
from ptcodec.ptv import Keyframe, Metadata, SceneInit, SequenceHeader, smallest_level
from ptcodec.ptv.writer import PtvWriter
from ptcodec.quant import quantize_keyframe

DEFAULT_PERCEPTUAL = {"reference": "msssim", "sd-turbo": "lpips"}


@dataclass
class EncodePlan:
    header: SequenceHeader
    metadata: Metadata
    scene_starts: list[int]
    keyframes: list[int]
    scene_latents: dict[int, np.ndarray]
    """Scene start -> its scene-init latent (1, C, h, w), as the generator's encoder made it."""


@dataclass
class KeyframeReport:
    frame: int
    scene_start: bool
    loss: float
    fit_psnr: float
    steps: int
    frame_steps: int
    seconds: float
    bytes: int


@dataclass
class EncodeReport:
    frames: int = 0
    keyframes: list[KeyframeReport] = field(default_factory=list)
    scene_starts: list[int] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    """Closed-loop PSNR (dB, 8-bit) of every frame, as a decoder will output it."""
    resumed_keyframes: int = 0
    seconds: float = 0.0

    @property
    def frame_steps(self) -> int:
        return sum(k.frame_steps for k in self.keyframes)


ProgressFn = Callable[[int, KeyframeReport | None], None]
"""Called with the number of frames finished so far and the keyframe just fitted."""


class Encoder:
    def __init__(self, generator: Generator, options: EncoderOptions) -> None:
        options.check()
        self.generator = generator
        self.options = options
        perceptual = options.perceptual or DEFAULT_PERCEPTUAL.get(generator.id, "msssim")
        self.loss = FitLoss(perceptual, options.alpha, options.c_penalty, options.perceptual_weights)
        self.perceptual = perceptual

    # -- planning --------------------------------------------------------------
    def plan(self, frames: np.ndarray, fps: Fraction) -> EncodePlan:
        """Scene cuts, keyframe positions and the sequence header for these frames (T, H, W, 3) uint8."""
        count, height, width = frames.shape[:3]
        if count == 0:
            raise PtcodecError("no frames to encode")
        gen, opts = self.generator, self.options
        if height % gen.downscale or width % gen.downscale:
            raise PtcodecError(f"frame size {width}x{height} is not a multiple of the latent grid ({gen.downscale})")
        latents = self._latents(frames)
        starts = scenes.detect_scenes(latents, opts.scene_threshold)
        keyframes = scenes.plan_keyframes(starts, count, opts.interval)
        rate = scenes.max_keyframes_per_second(keyframes, fps)
        level = smallest_level(width, height, opts.full_rank, gen.tokens, gen.embed_dim, gen.latent_channels, rate)
        tb = 1 / Fraction(fps)
        header = SequenceHeader(
            level=level.number, crc_present=opts.crc, generator_id=gen.id, generator_fingerprint=gen.fingerprint(),
            width=width, height=height, time_base_num=tb.numerator, time_base_den=tb.denominator,
            frame_count=count, tokens=gen.tokens, embed_dim=gen.embed_dim, latent_channels=gen.latent_channels,
            latent_downscale=gen.downscale, noise_seed=opts.noise_seed, gamma_num=opts.gamma[0],
            gamma_den=opts.gamma[1], prev_latent_rule=opts.prev_latent_rule, interp_rule=opts.interp_rule,
            quant_schemes=1 << opts.quant_scheme,
        )
        described = dict(opts.describe(), perceptual=self.perceptual)
        metadata = Metadata((
            ("encoder", f"ptcodec {__version__}".encode()),
            ("encoder-options", json.dumps(described, sort_keys=True).encode()),
        ))
        return EncodePlan(header, metadata, starts, keyframes, {s: latents[s : s + 1] for s in starts})

    def _latents(self, frames: np.ndarray, batch: int = 16) -> np.ndarray:
        out = []
        with torch.no_grad():
            for i in range(0, len(frames), batch):
                x = torch.from_numpy(to_signed(frames[i : i + batch])).permute(0, 3, 1, 2).contiguous()
                out.append(self.generator.encode_latent(x).float().cpu().numpy())
        return np.concatenate(out)

    # -- encoding --------------------------------------------------------------
    def encode(self, frames: np.ndarray, plan: EncodePlan, writer: PtvWriter, *, done: Iterable = (),
               progress: ProgressFn | None = None,
               on_frame: Callable[[DecodedFrame], None] | None = None) -> EncodeReport:
        """Fit and write every keyframe of `plan` not already among `done` (the units
        of an interrupted encode, sequence header first), then finish the stream."""
        started = time.perf_counter()
        opts = self.options
        header = plan.header
        decoder = Decoder(header, self.generator)
        report = EncodeReport(frames=len(frames), scene_starts=plan.scene_starts)
        targets = torch.from_numpy(to_signed(frames)).permute(0, 3, 1, 2).contiguous()
        last_factors: tuple[np.ndarray, np.ndarray] | None = None

        def collect(out: list[DecodedFrame]) -> None:
            for frame in out:
                report.psnr.append(psnr(frame.image, frames[frame.index]))
                if on_frame is not None:
                    on_frame(frame)

        done_keyframes = []
        for record in list(done)[1:]:
            collect(decoder.push(record.unit))
            if isinstance(record.unit, Keyframe):
                done_keyframes.append(record.unit.frame_index)
                last_factors = decoder.key.factors
        if done_keyframes != plan.keyframes[: len(done_keyframes)]:
            raise PtcodecError("the partial stream's keyframes do not match this encode's plan; cannot resume")
        report.resumed_keyframes = len(done_keyframes)
        if progress is not None and done_keyframes:
            progress(done_keyframes[-1] + 1, None)
        if not done_keyframes:
            writer.write(plan.metadata)

        first_steps, later_steps = opts.steps()
        for b in plan.keyframes[len(done_keyframes):]:
            t0 = time.perf_counter()
            scene_start = b in plan.scene_latents
            units: list = []
            if scene_start:
                scene = SceneInit.from_latent(b, plan.scene_latents[b], opts.latent_dtype)
                units.append(scene)
                collect(decoder.push(scene))
                segment = self._segment(decoder, targets[b : b + 1], torch.ones(1), None, scene.latent())
                steps = first_steps
            else:
                key = decoder.key
                a = key.index
                weights = torch.tensor([(t - a) / (b - a) for t in range(a + 1, b + 1)], dtype=torch.float32)
                left = tuple(torch.from_numpy(f) for f in key.factors)
                segment = self._segment(decoder, targets[a + 1 : b + 1], weights, left, key.latent)
                steps = later_steps
            init = self._start(last_factors, b)
            result = self._fit(segment, init, steps, scene_start)
            keyframe = quantize_keyframe(b, result.u.numpy(), result.v.numpy(), opts.quant_scheme)
            units.append(keyframe)
            written = sum(writer.write(unit) for unit in units)
            writer.flush()
            collect(decoder.push(keyframe))
            last_factors = decoder.key.factors
            kf = KeyframeReport(b, scene_start, result.loss, result.psnr, result.steps, result.frame_steps,
                                time.perf_counter() - t0, written)
            report.keyframes.append(kf)
            if progress is not None:
                progress(b + 1, kf)
        collect(decoder.flush())
        writer.close()
        if progress is not None:
            progress(len(frames), None)
        report.seconds = time.perf_counter() - started
        return report

    def _segment(self, decoder: Decoder, targets: torch.Tensor, weights: torch.Tensor,
                 left: tuple[torch.Tensor, torch.Tensor] | None, z_prev: np.ndarray) -> Segment:
        from ptcodec.conditioning import noise_weights

        h = decoder.header
        gen = self.generator
        w_prev, w_noise = noise_weights(h.gamma_num, h.gamma_den)
        as_gen = {"device": getattr(gen, "device", "cpu"), "dtype": getattr(gen, "dtype", torch.float32)}
        return Segment(
            generator=gen, targets=targets.to(**as_gen), weights=weights.to(**as_gen),
            left=None if left is None else tuple(f.to(**as_gen) for f in left),
            z_prev=torch.from_numpy(np.asarray(z_prev, dtype=np.float32)).to(**as_gen),
            n0=torch.from_numpy(decoder.n0).to(**as_gen), noise_weights=(float(w_prev), float(w_noise)),
            prev_latent_rule=h.prev_latent_rule, quant_scheme=self.options.quant_scheme, ranks=self.options.rank_ladder,
        )

    def _start(self, last: tuple[np.ndarray, np.ndarray] | None, frame: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Warm start from the previous keyframe's dequantized factors (what the
        stream holds, so a resumed encode starts from the same point), else the
        released code's start: u, v uniform in [0, 1)."""
        gen, rank = self.generator, self.options.full_rank
        if last is not None and self.options.warm_start and self.options.recipe == "ptcodec" and last[0].shape[1] == rank:
            u, v = last
        else:
            rng = np.random.RandomState(self.options.seed + frame)
            u = rng.random_sample((gen.tokens, rank)).astype(np.float32)
            v = rng.random_sample((rank, gen.embed_dim)).astype(np.float32)
        device = getattr(gen, "device", "cpu")
        return torch.from_numpy(np.array(u)).to(device), torch.from_numpy(np.array(v)).to(device)

    def _fit(self, segment: Segment, init: tuple[torch.Tensor, torch.Tensor], steps: int, first: bool) -> FitResult:
        opts = self.options
        torch.manual_seed(0)  # nothing random is drawn in fitting; this only pins library internals
        if opts.recipe == "released":
            result = fit_released(segment, self.loss, init, steps, check_every=300 if first else 20, lr=opts.lr or 0.1)
        else:
            budget = Budget(steps, lr=opts.lr or 0.1, patience=opts.patience, target_psnr=opts.target_psnr)
            result = fit(segment, self.loss, init, budget, smoothing=opts.smoothing)
        result.u, result.v = result.u.float().cpu(), result.v.float().cpu()
        return result


def mean_psnr(values: list[float]) -> float:
    finite = [v for v in values if math.isfinite(v)]
    return float(np.mean(finite)) if finite else math.inf
