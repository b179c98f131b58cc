"""The reference encoder: frames in, packets out, in closed loop.

It works like `av.CodecContext.encode`: feed frames in display order with
`encode(frame)`, then `encode(None)` to flush; each call returns the packets
(temporal units) it completed. As frames arrive it decides scene cuts and
keyframes; for each keyframe it fits the factors (ptcodec.encoder.fit),
quantizes them exactly as the bitstream stores them, and feeds the units to a
real `Decoder`, whose generated latents are what the next keyframe is fitted
against. The encoder never uses anything a decoder would not have, so errors do
not drift, and an encode resumed from the units of an interrupted one continues
exactly as the uninterrupted encode would: every choice depends only on the
input frames, the options and the units already written.

A packet leaves one keyframe late: its duration is the distance to the next
keyframe, known only when that keyframe is decided. A `.ptv` file stores no
durations, so a writer need not wait: `on_units` hands over each keyframe's
units as soon as its fit is done, and a kill loses at most the fit in progress.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import torch

from ptcodec import __version__
from ptcodec.decoder import DecodedFrame, Decoder
from ptcodec.encoder import mirrors
from ptcodec.encoder.fit import Budget, FitResult, Segment, fit, fit_released, step_cost
from ptcodec.encoder.losses import FitLoss
from ptcodec.encoder.options import (
    QUASI_NEWTON_STEPS,
    QUASI_NEWTON_WARMUP,
    RELEASED_CHECK_EVERY,
    WARM_SINGLE_FRAME_SHARE,
    WARM_START_MAX_SCALE,
    FitOptions,
    StreamOptions,
    describe,
)
from ptcodec.encoder.rdoq import rdoq_keyframe
from ptcodec.encoder.resume import Replay
from ptcodec.encoder.scenes import KeyframePlanner, PlannedScenes, SceneCutDetector, next_refresh, plan_keyframes
from ptcodec.errors import InputError
from ptcodec.generators import GeneratorOptions, load_generator
from ptcodec.generators.base import Generator
from ptcodec.metrics import psnr
from ptcodec.process.pixels import to_signed
from ptcodec.process.quant import quantize_keyframe
from ptcodec.ptv import MAGIC, Metadata, Packet, SceneInit, SequenceHeader, Unit, build_unit, smallest_level, syntax
from ptcodec.ptv.coding import FactorCoding


@dataclass
class KeyframeReport:
    frame: int
    scene_start: bool
    loss: float
    fit_psnr: float
    """Lowest PSNR (dB) over the keyframe's segment while fitting; the closed loop is in EncodeReport.psnr."""
    steps: int
    frame_steps: int
    seconds: float
    bytes: int
    resumed: bool = False


@dataclass
class EncodeReport:
    frames: int = 0
    keyframes: list[KeyframeReport] = field(default_factory=list)
    scene_starts: list[int] = field(default_factory=list)
    psnr: list[float] = field(default_factory=list)
    """Closed-loop PSNR (dB, 8-bit RGB) of every frame, as a decoder outputs it."""
    seconds: float = 0.0

    @property
    def frame_steps(self) -> int:
        return sum(k.frame_steps for k in self.keyframes)

    @property
    def psnr_mean(self) -> float:
        """Mean closed-loop PSNR over frames that are not exact copies (inf when all are)."""
        finite = [v for v in self.psnr if math.isfinite(v)]
        return float(np.mean(finite)) if finite else math.inf


def fit_work(stream: StreamOptions, fitting: FitOptions, frames: int, opens_scene: bool) -> tuple[int, int]:
    """(cost of one step, step budget) of fitting a keyframe whose segment has `frames` frames."""
    first_steps, later_steps = fitting.steps()
    released = fitting.recipe == "released"
    if not single_frame_steps(stream, fitting, opens_scene):
        return step_cost(frames, len(stream.rank_ladder), released), first_steps if opens_scene else later_steps
    # one frame per step, for the preset's frame-steps: `later_steps` steps' worth of the whole segment
    return step_cost(1, len(stream.rank_ladder), released), later_steps * frames


def single_frame_steps(stream: StreamOptions, fitting: FitOptions, opens_scene: bool) -> bool:
    """Whether a keyframe's fit takes one frame per step (fit.Budget.single_frame): ptcodec's later
    keyframes, when every frame of a segment starts from the same noise. Under the previous-frame
    rule a frame's noise comes from the frame before, so rendering frame t alone costs t + 1 frames."""
    return (fitting.recipe == "ptcodec" and not opens_scene
            and stream.prev_latent_rule == syntax.PrevLatentRule.SEGMENT_START)


def planned_work(stream: StreamOptions, fitting: FitOptions, scene_starts: list[int], frame_count: int,
                 after: int = -1) -> int:
    """Fitting work (`fit_work` budgets) of the keyframes planned after frame `after` for frames
    scene_starts[0] .. frame_count-1 with these scene starts (0 when the frame count is unknown)."""
    work, previous = 0, after
    for key in plan_keyframes(scene_starts, frame_count, stream.interval) if frame_count else []:
        if key > after:
            opens_scene = key in scene_starts
            cost, budget = fit_work(stream, fitting, 1 if opens_scene else key - previous, opens_scene)
            work += cost * budget
            previous = key
    return work


def uniform_prompt_rms(rank: int) -> float:
    """RMS of c = u v with u, v uniform in [0, 1) (the released start): each entry sums `rank`
    products with E[uv] = 1/4 and E[(uv)^2] = 1/9, so E[c^2] = rank^2/16 + rank (1/9 - 1/16)."""
    return math.sqrt(rank**2 / 16 + rank * (1 / 9 - 1 / 16))


def starts_warm(fitting: FitOptions, rank: int, last: tuple[np.ndarray, np.ndarray] | None) -> bool:
    """Whether a fit starts from `last` (the previous keyframe's factors; None at a scene's first
    keyframe): ptcodec's recipe does, unless their prompt's RMS is over WARM_START_MAX_SCALE times
    the uniform start's."""
    if last is None or fitting.recipe != "ptcodec" or last[0].shape[1] != rank:
        return False
    rms = float(np.sqrt(np.mean(np.square(last[0].astype(np.float64) @ last[1].astype(np.float64)))))
    return rms <= WARM_START_MAX_SCALE * uniform_prompt_rms(rank)


def starting_factors(generator: Generator, fitting: FitOptions, rank: int, frame: int,
                     last: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray]:
    """Where keyframe `frame`'s fit starts: `last` where `starts_warm`; otherwise, and always in
    the released recipe, the released code's start: u, v uniform in [0, 1), seeded by the frame."""
    if starts_warm(fitting, rank, last):
        assert last is not None
        return np.array(last[0], np.float32), np.array(last[1], np.float32)
    rng = np.random.RandomState(fitting.seed + frame)
    u = rng.random_sample((generator.tokens, rank)).astype(np.float32)
    v = rng.random_sample((rank, generator.embed_dim)).astype(np.float32)
    return u, v


def make_header(generator: Generator, options: StreamOptions, width: int, height: int, fps: Fraction,
                frame_count: int = 0) -> SequenceHeader:
    """The sequence header of an encode. The level admits the geometry, the rank,
    one keyframe per frame (the most scene cuts can add), frame_count and the
    keyframe interval (the longest temporal unit: cuts only shorten them), so it
    is known before any frame is seen. frame_count 0 (a live encode) leaves the
    length open: the writer then refuses a keyframe at the level's max_frame_count."""
    gen, opts = generator, options
    if width % gen.downscale or height % gen.downscale or width < 1 or height < 1:
        raise InputError(f"frame size {width}x{height} is not a multiple of the latent grid ({gen.downscale})")
    fps = Fraction(fps)
    gap = min(opts.interval, frame_count) if frame_count else opts.interval
    level = smallest_level(width, height, opts.rank, gen.tokens, gen.embed_dim, gen.latent_channels,
                           math.ceil(fps), frame_count, gap)
    tb = 1 / fps
    return SequenceHeader(
        level=level.number, crc_present=opts.crc, generator_id=gen.id, generator_fingerprint=gen.fingerprint(),
        width=width, height=height, time_base_num=tb.numerator, time_base_den=tb.denominator,
        frame_count=frame_count, tokens=gen.tokens, embed_dim=gen.embed_dim, latent_channels=gen.latent_channels,
        latent_downscale=gen.downscale, noise_seed=opts.noise_seed, gamma_num=opts.gamma[0], gamma_den=opts.gamma[1],
        prev_latent_rule=opts.prev_latent_rule, interp_rule=opts.interp_rule, quant_schemes=1 << opts.quant_scheme,
        version_minor=syntax.lowest_version_minor(1 << opts.quant_scheme, opts.scene_latent_dtype),
    )


class Encoder:
    """`Encoder(generator, stream, fitting, width=, height=, fps=)`, or `Encoder.load("reference", ...)`
    to load a generator by id; then `encode(frame)` per frame and `encode(None)` at the end.
    `codec_private` is what precedes the packets in a `.ptv` file (or goes into Matroska's
    CodecPrivate)."""

    def __init__(self, generator: Generator, stream: StreamOptions = StreamOptions(),
                 fitting: FitOptions = FitOptions(), *, width: int, height: int, fps: Fraction | int,
                 frame_count: int = 0, resume: Iterable[Unit] = (),
                 scene_starts: Sequence[int] | None = None, first_frame: int = 0,
                 on_frame: Callable[[DecodedFrame], None] | None = None,
                 on_keyframe: Callable[[KeyframeReport], None] | None = None,
                 on_units: Callable[[int, bytes], None] | None = None,
                 on_progress: Callable[[int, int], None] | None = None) -> None:
        """`on_units(frame, data)`: the bytes of a keyframe's units (its scene-init unit
        first) the moment its fit is done, before the packet that carries them; not
        called for units replayed from `resume`. `on_progress(done, left)`: fitting work
        in generator frame evaluations (see `work`), after every optimizer step. `resume`: the units
        of an interrupted encode of the same input (ptcodec/encoder/resume.py), replayed, not fitted.
        `scene_starts`: the scenes of a plan made beforehand (ptcodec/jobs/plan.py), used instead of
        detecting cuts. `first_frame`: this encoder codes frames from there on, the first of them
        opening a scene of the plan (one scene of a stream encoded in parallel, ptcodec/jobs/scenes.py);
        `encode(None)` then ends that scene at the last frame given, not the stream."""
        if isinstance(generator, str):
            raise TypeError(f"Encoder takes a Generator; load one by id with Encoder.load({generator!r}, ...)")
        stream.check()
        fitting.check()
        self.generator = generator
        self.stream, self.fitting = stream, fitting
        self.perceptual = fitting.perceptual or generator.perceptual
        self.loss = FitLoss(self.perceptual, fitting.alpha, fitting.c_penalty, fitting.perceptual_weights)
        self.header = make_header(generator, stream, width, height, Fraction(fps), frame_count)
        self.metadata = Metadata((
            ("encoder", f"ptcodec {__version__}".encode()),
            ("encoder-options", json.dumps(describe(stream, fitting, self.perceptual), sort_keys=True).encode()),
        ))
        self.decoder = Decoder(self.header, generator)
        self._coding = FactorCoding(self.header)
        """Codes the keyframes of a 1.1 stream in stream order (prediction, carried models)."""
        self.report = EncodeReport()
        self.on_frame, self.on_keyframe = on_frame, on_keyframe
        self.on_units, self.on_progress = on_units, on_progress
        if first_frame and (scene_starts is None or first_frame not in scene_starts):
            raise ValueError(f"first_frame {first_frame} must open a scene of the plan (scene_starts)")
        self._scenes: SceneCutDetector | PlannedScenes = (
            SceneCutDetector(stream.scene_threshold, max_length=stream.max_scene_length) if scene_starts is None
            else PlannedScenes(scene_starts, first_frame))
        self._keyframes = KeyframePlanner(stream.interval)
        self._keyframes.last = first_frame - 1 if first_frame else None
        self._frames: dict[int, np.ndarray] = {}
        """Input frames not yet output by the closed loop (targets and PSNR)."""
        self._first = first_frame
        self._next = first_frame
        self._scene_start = first_frame
        self._last_key = -1
        """The last keyframe whose units are done (fitted or replayed)."""
        self._last_factors: tuple[np.ndarray, np.ndarray] | None = None
        self._pending: tuple[int, bool, bytes] | None = None
        """The last keyframe's temporal unit (pts, opens a scene, bytes), waiting for its duration."""
        self._replay = Replay(resume)
        self._work_done = self._resumed_work()
        self._plan: tuple[int, int, int] | None = None
        """(scene start, after, work): the last `_planned_work`, asked again at every step."""
        self._fitting: tuple[int, int, int, int] | None = None
        """The fit in progress: (keyframe, cost of one step, step budget, steps taken)."""
        self._started = time.perf_counter()

    @classmethod
    def load(cls, generator_id: str = "reference", stream: StreamOptions = StreamOptions(),
             fitting: FitOptions = FitOptions(), *, options: GeneratorOptions | None = None, width: int, height: int,
             fps: Fraction | int, **encoder_arguments) -> "Encoder":
        """An encoder with the generator `generator_id` loaded (with `options`)."""
        return cls(load_generator(generator_id, options), stream, fitting, width=width, height=height, fps=fps,
                   **encoder_arguments)

    @property
    def codec_private(self) -> bytes:
        return MAGIC + build_unit(self.header, None) + build_unit(self.metadata, self.header)

    # -- fitting work, for progress bars ---------------------------------------------
    @property
    def work(self) -> tuple[int, int]:
        """(done, left): fitting work in generator frame evaluations. Done counts every
        finished keyframe (replayed ones too) at its full budget, plus the steps of the fit
        in progress; left is the rest of that fit and the keyframes still to come (the
        keyframe plan up to the frame count, assuming no scene cut beyond the ones seen
        so far). Fits that stop early finish ahead of it; a scene cut adds work."""
        if self._fitting is None:
            return self._work_done, self._planned_work(self._decided())
        frame, cost, budget, taken = self._fitting
        return self._work_done + cost * taken, cost * (budget - taken) + self._planned_work(frame)

    def _decided(self) -> int:
        """The last keyframe decided, fitted or held in the partial stream being resumed."""
        return max(self._last_key, self._replay.up_to)

    def _planned_work(self, after: int) -> int:
        """Work of the planned keyframes after frame `after` (none when the frame count is unknown)."""
        if self._plan is not None and self._plan[:2] == (self._scene_start, after):
            return self._plan[2]
        count, opts = self.header.frame_count, self.stream
        starts = [self._scene_start]
        refresh = next_refresh(self._scene_start, opts.max_scene_length)
        while refresh is not None and refresh < count:  # assuming no cut beyond the ones seen
            starts.append(refresh)
            refresh = next_refresh(refresh, opts.max_scene_length)
        work = planned_work(opts, self.fitting, starts, count, after)
        self._plan = (self._scene_start, after, work)
        return work

    def _resumed_work(self) -> int:
        work, previous = 0, 0
        for i, (frame, opens_scene) in enumerate(self._replay.keyframes()):
            opens_scene = opens_scene or i == 0
            cost, budget = fit_work(self.stream, self.fitting, 1 if opens_scene else frame - previous, opens_scene)
            work += cost * budget
            previous = frame
        return work

    def _on_step(self, taken: int, loss: float, psnr: float) -> None:  # noqa: ARG002 - fit.Progress
        assert self._fitting is not None, "steps are reported only while a keyframe is fitted"
        frame, cost, budget, _ = self._fitting
        self._fitting = (frame, cost, budget, taken)
        if self.on_progress is not None:
            self.on_progress(*self.work)

    # -- frames in, packets out --------------------------------------------------
    def encode(self, frame: object | None) -> list[Packet]:
        """Take one frame (av.VideoFrame or RGB uint8 (H, W, 3)); None flushes."""
        if frame is None:
            return self._flush()
        image = _rgb(frame)
        h = self.header
        if image.shape != (h.height, h.width, 3):
            raise InputError(f"frame {self._next} is {image.shape[1]}x{image.shape[0]}, the stream is {h.width}x{h.height}")
        if h.frame_count and self._next >= h.frame_count:
            raise InputError(f"more frames than the frame_count {h.frame_count} this encoder was made for")
        t = self._next
        self._next += 1
        latent = frame_latent(self.generator, image)
        cut = self._scenes.push(latent)
        self._frames[t] = image
        packets: list[Packet] = []
        for key, opens_scene in self._keyframes.frame(t, cut):
            if opens_scene:
                self._scene_start = t
                self.report.scene_starts.append(t)
            packets += self._keyframe(key, scene_latent=latent if opens_scene else None)
        return packets

    def _flush(self) -> list[Packet]:
        packets: list[Packet] = []
        for key, _ in self._keyframes.finish(self._next):
            packets += self._keyframe(key)
        end = self._next  # the stream's frame count, or the end of the scene this encoder codes
        if self._pending is not None:
            packets.append(self._packet(end))
        self._collect(self.decoder.flush(end))
        self.report.frames = self._next
        self.report.seconds = time.perf_counter() - self._started
        return packets

    def _packet(self, next_keyframe: int) -> Packet:
        assert self._pending is not None, "a packet leaves once the keyframe after it is decided"
        pts, opens_scene, data = self._pending
        self._pending = None
        return Packet(data, pts, next_keyframe - pts, self.header.time_base, opens_scene)

    # -- one keyframe --------------------------------------------------------------
    def _keyframe(self, b: int, scene_latent: np.ndarray | None = None) -> list[Packet]:
        t0 = time.perf_counter()
        units: list[Unit] = []
        resumed = self._replay.at(b, opens_scene=scene_latent is not None)
        scene: SceneInit | None = None
        if scene_latent is not None:
            scene = resumed[0] if resumed else SceneInit.from_latent(b, scene_latent, self.stream.scene_latent_dtype,
                                                                     bits=self.stream.latent_bits)
            assert scene is not None, "Replay.at checked that the kept units open the scene too"
            self._coding.step(scene)
            units.append(scene)
            self._collect(self.decoder.push(scene))
        result: FitResult | None = None
        if resumed is not None:
            keyframe = resumed[1]
        else:
            result = self._fit(b, scene)
            u, v = result.u.numpy(), result.v.numpy()
            keyframe = quantize_keyframe(b, u, v, self.stream.quant_scheme, self.stream.levels)
            keyframe = rdoq_keyframe(keyframe, u, v, self.stream.rdoq_lambda, previous=self._coding.previous,
                                     levels=self.stream.levels)
        keyframe = self._coding.keyframe(keyframe, encode=True)
        units.append(keyframe)
        data = b"".join(build_unit(u, self.header) for u in units)
        if resumed is None and self.on_units is not None:
            self.on_units(b, data)
        self._collect(self.decoder.push(keyframe))
        assert self.decoder.key is not None, "the decoder holds the keyframe it was just given"
        self._last_key, self._last_factors = b, self.decoder.key.factors
        if result is not None and self.on_progress is not None:
            self.on_progress(*self.work)
        packets = [self._packet(b)] if self._pending is not None else []
        self._pending = (b, scene_latent is not None, data)
        report = KeyframeReport(b, scene_latent is not None, result.loss if result else math.nan,
                                result.psnr if result else math.nan, result.steps if result else 0,
                                result.frame_steps if result else 0, time.perf_counter() - t0, len(data),
                                resumed=resumed is not None)
        self.report.keyframes.append(report)
        if self.on_keyframe is not None:
            self.on_keyframe(report)
        return packets

    def _fit(self, b: int, scene: SceneInit | None) -> FitResult:
        segment = self._segment(b, scene)
        cost, steps = fit_work(self.stream, self.fitting, len(segment.targets), scene is not None)
        self._fitting = (b, cost, steps, 0)
        init, warm = self._start(b, opens_scene=scene is not None)
        result = self._optimize(segment, init, steps, first=scene is not None, warm=warm)
        self._fitting = None
        self._work_done += cost * steps  # in full, if it stopped early: the plan counted it so
        return result

    def _segment(self, b: int, scene: SceneInit | None) -> Segment:
        """The frames keyframe b decides, as the decoder will render them."""
        gen, h = self.generator, self.header
        device = getattr(gen, "device", "cpu")
        dtype = getattr(gen, "dtype", torch.float32)
        if scene is not None:
            frames, weights, left, z_prev = [b], np.ones(1, np.float32), None, scene.latent()
        else:
            key = self.decoder.key
            assert key is not None, "a keyframe that opens no scene follows one of its scene"
            frames = list(range(key.index + 1, b + 1))
            weights = mirrors.segment_weights(key.index, b, h.interp_rule)
            left, z_prev = key.factors, key.latent
        targets = torch.from_numpy(to_signed(np.stack([self._frames[t] for t in frames]))).permute(0, 3, 1, 2)
        segment = Segment(
            generator=gen, targets=targets.to(device, dtype), weights=torch.from_numpy(weights).to(device, dtype),
            left=None if left is None else (torch.from_numpy(left[0]).to(device, dtype),
                                            torch.from_numpy(left[1]).to(device, dtype)),
            z_prev=torch.from_numpy(np.asarray(z_prev, dtype=np.float32)).to(device, dtype),
            n0=torch.from_numpy(self.decoder.n0).to(device, dtype), gamma=(h.gamma_num, h.gamma_den),
            prev_latent_rule=h.prev_latent_rule, quant_scheme=self.stream.quant_scheme, levels=self.stream.levels,
            ranks=self.stream.rank_ladder,
        )
        return segment

    def _optimize(self, segment: Segment, init: tuple[torch.Tensor, torch.Tensor], steps: int,
                  first: bool, warm: bool) -> FitResult:
        opts = self.fitting
        if opts.recipe == "released":
            check_every = RELEASED_CHECK_EVERY["first_steps" if first else "later_steps"]
            result = fit_released(segment, self.loss, init, steps, check_every=check_every, lr=opts.learning_rate,
                                  progress=self._on_step)
        else:
            budget = self.budget(steps, first, warm, len(segment.targets))
            result = fit(segment, self.loss, init, budget, smoothing=opts.smoothing, progress=self._on_step)
        result.u, result.v = result.u.float().cpu(), result.v.float().cpu()
        return result

    def budget(self, steps: int, first: bool, warm: bool, frames: int) -> Budget:
        """ptcodec's recipe for one keyframe of `steps` steps on a segment of `frames` frames (`first`:
        a scene's first, started cold; `warm`: started from the previous keyframe's factors,
        `starts_warm`), in one place so that benchmarks/bench_encoder.py measures what the encoder
        runs. A warm single-frame fit of several frames takes WARM_SINGLE_FRAME_SHARE of the steps
        (the plan, `fit_work`, counts them all, as it does for a fit that stops early); a one-frame
        segment's steps are batched steps, which keep their budget."""
        opts = self.fitting
        single = single_frame_steps(self.stream, opts, first)
        if single and warm and frames > 1:
            steps = math.ceil(steps * WARM_SINGLE_FRAME_SHARE)
        return Budget(steps, lr=opts.learning_rate, patience=opts.patience, target_psnr=opts.target_psnr,
                      quasi_newton=QUASI_NEWTON_STEPS if first else 0, warmup=QUASI_NEWTON_WARMUP,
                      single_frame=single)

    def _start(self, frame: int, opens_scene: bool) -> tuple[tuple[torch.Tensor, torch.Tensor], bool]:
        """(start, whether it is warm): the previous keyframe's dequantized factors (what the
        stream holds, so a resumed encode starts from the same point), else the
        released code's start (`starting_factors`). A scene's first keyframe always
        starts cold: no scene depends on another, so scenes can be fitted in any
        order, on any machine, with the same result (jobs/scenes.py)."""
        last = None if opens_scene or not self.fitting.warm_start else self._last_factors
        warm = starts_warm(self.fitting, self.stream.rank, last)
        u, v = starting_factors(self.generator, self.fitting, self.stream.rank, frame, last if warm else None)
        device = getattr(self.generator, "device", "cpu")
        return (torch.from_numpy(u).to(device), torch.from_numpy(v).to(device)), warm

    def _collect(self, frames: Iterable[DecodedFrame]) -> None:
        for frame in frames:
            self.report.psnr.append(psnr(frame.image, self._frames.pop(frame.index)))
            if self.on_frame is not None:
                self.on_frame(frame)


def frame_latent(generator: Generator, image: np.ndarray) -> np.ndarray:
    """The generator's latent of one RGB uint8 frame: what scene cuts are measured on and what a
    scene-init unit holds (the plan of ptcodec/jobs/plan.py computes the same, frame by frame)."""
    with torch.no_grad():
        x = torch.from_numpy(to_signed(image)).permute(2, 0, 1)[None]
        return generator.encode_latent(x).float().cpu().numpy()


def _rgb(frame: object) -> np.ndarray:
    if isinstance(frame, np.ndarray):
        image = frame
    elif hasattr(frame, "to_ndarray"):
        image = frame.to_ndarray(format="rgb24")
    else:
        raise TypeError(f"encode() takes an av.VideoFrame, an RGB uint8 array or None, not {type(frame).__name__}")
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"frames must be RGB uint8 (H, W, 3), got {image.dtype} {image.shape}")
    return image
