"""Encoder settings in two typed objects, and the quality presets.

- `StreamOptions`: everything a decoder sees. The sequence header's choices
  (rank, rules, noise seed and gamma, CRC) and where keyframes and scenes go.
  Two encodes with the same stream options and input give streams of the same
  structure.
- `FitOptions`: how the factors are fitted. These change the values a keyframe
  carries, never the stream's structure.

`split_settings` builds both from one flat mapping (argparse's namespace, a
vector's recorded settings), so no caller copies fields one by one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ptcodec.encoder.scenes import DEFAULT_THRESHOLD
from ptcodec.errors import PtcodecError
from ptcodec.process.noise import RELEASED_GAMMA, RELEASED_SEED
from ptcodec.ptv.syntax import InterpRule, LatentDtype, PrevLatentRule, QuantScheme, coded_scheme

RECIPES = ("ptcodec", "released")
PERCEPTUAL = ("msssim", "lpips", "vgg", "none")
"""The fitting loss's perceptual terms (ptcodec/encoder/losses.py)."""
DEFAULT_LR = 0.1
"""Adam's learning rate in both recipes (the released code's)."""
RELEASED_CHECK_EVERY = {"first_steps": 300, "later_steps": 20}
"""The released loop halves the learning rate when the loss has not improved over this many iterations."""

PRESETS: dict[str, dict[str, int]] = {
    # Optimizer steps for a scene's first keyframe and for each later keyframe
    # (ptcodec's recipe: one batched step covers the whole segment).
    "fast": {"first_steps": 200, "later_steps": 60},
    "default": {"first_steps": 1000, "later_steps": 150},
    "best": {"first_steps": 2000, "later_steps": 600},
}
QUASI_NEWTON_STEPS = 300
"""ptcodec's recipe: steps of a scene's first keyframe spent on L-BFGS before Adam
(fit.Budget.quasi_newton, at most a third of the budget): a cold start is where Adam is
slowest. Later keyframes start warm, where L-BFGS lost to Adam alone
(benchmarks/results/encoder_fit.md). A constant of the recipe, not a setting, so the
stream's metadata (the settings) stays that of ptcodec 0.1.0."""
QUASI_NEWTON_WARMUP = 300
"""Adam steps (constant learning rate) before that L-BFGS phase (fit.Budget.warmup). Started
from the uniform start, L-BFGS settled the natural clip's first keyframe in a basin that
2000 steps did not leave; after 300 Adam steps both benchmark cold keyframes reach the
released loss (benchmarks/results/encoder_fit.md). A recipe constant like the one above."""
WARM_START_MAX_SCALE = 4.0
"""A later keyframe starts from the previous keyframe's factors unless their prompt's RMS is over
this many times the RMS of the uniform start's (the released code's start, `uniform_prompt_rms`);
then it starts from the uniform start, as the released code starts every keyframe. A prompt that
large probably saturates the generator's cross-attention softmax (not measured). Started there, the
natural clip's keyframe 10 did not reach the released loss: batched steps ended at 0.1682 after 3600
frame-steps, single-frame steps at 0.1737 after 1200. From the uniform start, single-frame steps
reached it in 1120 (benchmarks/results/encoder_fit.md). The threshold separates the benchmark's two
clips (their previous prompts are 0.7-0.8x and 7.5-8.4x the uniform start's), measured on the released
chain's prompts. A recipe constant like the ones above."""
WARM_SINGLE_FRAME_SHARE = 0.5
"""The share of its step budget that a single-frame fit (fit.Budget.single_frame) started from the
previous keyframe's factors takes: a refinement of a nearby solution, where the cosine schedule
over the whole budget keeps the learning rate high for longer than it needs. Over half the budget
the reachable clip's keyframes 10 and 20 reached the released loss in 510 frame-steps each, over
the whole budget in 800 and 780; a fit from the uniform start keeps the whole budget (the natural
clip's keyframe 10 needs 1120 of its 1500 steps, and missed over 1000). Batched fits keep theirs:
over half the budget they missed (benchmarks/results/encoder_fit.md). A recipe constant like the
ones above."""
RELEASED_ITERATIONS = {"first_steps": 10_000, "later_steps": 1_500}
"""The released Promptus code's iterations (frame 0 / later keyframes)."""

DEFAULT_RANK = 8


@dataclass(frozen=True)
class StreamOptions:
    """What the stream is made of: what a decoder sees."""

    ranks: tuple[int, ...] = (DEFAULT_RANK,)
    """The rank of every keyframe; several, e.g. (4, 8, 16), make a rate ladder: one
    rank-scalable stream of rank max(ranks), fitted with nested dropout over these
    prefixes and quantized per component."""
    interval: int = 10
    """K: frames from one keyframe to the next within a scene."""
    scene_threshold: float | None = DEFAULT_THRESHOLD
    """None turns scene-cut detection off."""
    max_scene_length: int | None = None
    """Start a new scene (a random access point) after this many frames."""
    prev_latent_rule: int = PrevLatentRule.SEGMENT_START
    interp_rule: int = InterpRule.LINEAR_FACTORS
    noise_seed: int = RELEASED_SEED
    gamma: tuple[int, int] = RELEASED_GAMMA
    latent_dtype: int = LatentDtype.F32
    """The scene-init latent's format in a 1.0 stream (a 1.1 stream codes it as U8_CODED)."""
    crc: bool = True
    coding: str = "1.0"
    """"1.1": the coding tools of bitstream 1.1 (entropy-coded keyframes, predicted and with
    carried models where that saves bytes, and an entropy-coded u8 scene-init latent);
    "1.0": raw 8-bit codes, as the released Promptus code sends them."""
    latent_bits: int = 8
    """1.1: bits of the scene-init latent's codes."""
    factor_bits: int = 8
    """1.1: bits of the factor codes (the quantizer's levels are 2^bits; codes stay bytes)."""
    rdoq_lambda: float = 0.0
    """1.1: rate-distortion optimised quantization; the weight of distortion against rate
    (0: plain rounding). See encoder/rdoq.py."""

    @property
    def rank(self) -> int:
        """The rank every keyframe carries (the top of the ladder)."""
        return max(self.ranks)

    @property
    def rank_ladder(self) -> tuple[int, ...]:
        """The rank prefixes a decoder may cut the stream to, increasing."""
        return tuple(sorted(set(self.ranks)))

    @property
    def quant_scheme(self) -> int:
        base = QuantScheme.PER_COMPONENT if len(self.rank_ladder) > 1 else QuantScheme.PER_TENSOR
        return coded_scheme(base) if self.coded else base

    @property
    def levels(self) -> int:
        """The factor quantizer's top code."""
        return 2**self.factor_bits - 1

    @property
    def coded(self) -> bool:
        """Whether the stream uses the coding tools of bitstream 1.1."""
        return self.coding == "1.1"

    @property
    def scene_latent_dtype(self) -> int:
        return LatentDtype.U8_CODED if self.coded else self.latent_dtype

    def check(self) -> None:
        if not self.ranks or any(r < 1 for r in self.ranks):
            raise PtcodecError(f"ranks must be at least 1, got {self.ranks}")
        if self.interval < 1:
            raise PtcodecError(f"--interval must be at least 1, got {self.interval}")
        if self.max_scene_length is not None and self.max_scene_length < 1:
            raise PtcodecError(f"the longest scene must be at least 1 frame, got {self.max_scene_length}")
        if self.scene_threshold is not None and not (math.isfinite(self.scene_threshold) and self.scene_threshold >= 0):
            raise PtcodecError(f"scene_threshold must be a number >= 0, got {self.scene_threshold}")
        if self.coding not in CODINGS:
            raise PtcodecError(f"unknown --coding {self.coding!r}; choose one of {', '.join(CODINGS)}")
        for name in ("latent_bits", "factor_bits"):
            if not 1 <= getattr(self, name) <= 8:
                raise PtcodecError(f"{name} must be within 1..8, got {getattr(self, name)}")
        if not (math.isfinite(self.rdoq_lambda) and self.rdoq_lambda >= 0):
            raise PtcodecError(f"rdoq_lambda must be a number >= 0, got {self.rdoq_lambda}")
        if not self.coded:
            for name in CODING_1_1_SETTINGS:
                if getattr(self, name) != getattr(StreamOptions, name):
                    raise PtcodecError(f"{name} is a tool of bitstream 1.1: give --coding 1.1 with it")
        elif self.latent_dtype != LatentDtype.F32:
            raise PtcodecError("a 1.1 stream codes its latent as u8 (--latent-bits); latent_dtype is for 1.0 streams")


@dataclass(frozen=True)
class FitOptions:
    """How each keyframe's factors are fitted: nothing a decoder sees but their values."""

    quality: str = "default"
    recipe: str = "ptcodec"
    first_steps: int | None = None
    later_steps: int | None = None
    lr: float | None = None
    """None: DEFAULT_LR (`learning_rate`)."""
    target_psnr: float | None = None
    patience: int = 40
    perceptual: str | None = None
    """None: the generator's default (msssim for `reference`, lpips for `sd-turbo`)."""
    perceptual_weights: str | None = None
    alpha: float = 0.8
    c_penalty: float = 0.0
    """Weight of mean(|c|) in the loss (the released code uses 0.1)."""
    smoothing: float = 0.0
    """The paper's temporal term: loss = s * D + (1 - s) * |c_b - c_a| when nonzero."""
    warm_start: bool = True
    seed: int = 0
    """Seeds the starting factors of a cold start."""

    @property
    def learning_rate(self) -> float:
        return self.lr or DEFAULT_LR

    def steps(self) -> tuple[int, int]:
        """(first, later) fitting budgets: explicit values, else the recipe's or preset's."""
        base = RELEASED_ITERATIONS if self.recipe == "released" else PRESETS[self.quality]
        return (self.first_steps or base["first_steps"], self.later_steps or base["later_steps"])

    def check(self) -> None:
        if self.quality not in PRESETS:
            raise PtcodecError(f"unknown --quality {self.quality!r}; choose one of {', '.join(PRESETS)}")
        if self.recipe not in RECIPES:
            raise PtcodecError(f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}")
        if self.perceptual is not None and self.perceptual not in PERCEPTUAL:
            raise PtcodecError(f"unknown perceptual loss {self.perceptual!r}; choose one of {', '.join(PERCEPTUAL)}")
        if not 0 <= self.alpha <= 1:
            raise PtcodecError(f"alpha must be within [0, 1], got {self.alpha}")
        if not 0 <= self.smoothing <= 1:
            raise PtcodecError(f"smoothing must be within [0, 1], got {self.smoothing}")
        for name in ("lr", "target_psnr"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise PtcodecError(f"{name} must be a number > 0, got {value}")
        if not (math.isfinite(self.c_penalty) and self.c_penalty >= 0):
            raise PtcodecError(f"c_penalty must be a number >= 0, got {self.c_penalty}")


CODINGS = ("1.0", "1.1")
CODING_1_1_SETTINGS = ("latent_bits", "factor_bits", "rdoq_lambda")
"""Settings of the 1.1 tools, described (in the stream's metadata) only when they are used, so that
a 1.0 encode's bytes stay those of ptcodec 0.1.0."""


def setting_names() -> set[str]:
    """Every field of StreamOptions and FitOptions, and `rank` (a one-rung ladder)."""
    return {f.name for cls in (StreamOptions, FitOptions) for f in dataclasses.fields(cls)} | {"rank"}


def split_settings(settings: Mapping[str, Any]) -> tuple[StreamOptions, FitOptions]:
    """(StreamOptions, FitOptions) from one flat mapping of field names. `rank` (one rank) is the
    one-rung ladder `ranks`; a name neither object has is an error; None stands for the default,
    except in a field where None is a value (scene_threshold None: no scene-cut detection)."""
    settings = dict(settings)
    if "rank" in settings:
        rank = settings.pop("rank")
        if settings.get("ranks") is not None and rank is not None:
            raise PtcodecError("give either a rank or a rank ladder (ranks), not both")
        if rank is not None:
            settings["ranks"] = (rank,)
    unknown = set(settings) - setting_names()
    if unknown:
        raise PtcodecError(f"unknown encoder settings: {', '.join(sorted(unknown))}")
    for name in ("ranks", "gamma"):
        if settings.get(name) is not None:
            settings[name] = tuple(settings[name])
    def given(cls: type) -> dict[str, Any]:
        fields = {f.name: f for f in dataclasses.fields(cls)}
        return {k: v for k, v in settings.items() if k in fields and (v is not None or "None" in str(fields[k].type))}

    return StreamOptions(**given(StreamOptions)), FitOptions(**given(FitOptions))


def describe(stream: StreamOptions, fit: FitOptions, perceptual: str) -> dict:
    """What goes into the stream's metadata unit (and must match on --resume): every setting."""
    out: dict[str, Any] = {**dataclasses.asdict(stream), **dataclasses.asdict(fit), "perceptual": perceptual}
    if not stream.coded:
        for name in ("coding", *CODING_1_1_SETTINGS):
            del out[name]
    out["rank"] = stream.rank
    out["ranks"] = list(stream.rank_ladder)
    return out
