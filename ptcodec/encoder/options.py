"""Encoder settings, and the quality presets that set the fitting budgets."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from ptcodec.errors import PtcodecError
from ptcodec.ptv.syntax import InterpRule, LatentDtype, PrevLatentRule, QuantScheme

RECIPES = ("ptcodec", "released")

PRESETS: dict[str, dict[str, int]] = {
    # Optimizer steps for a scene's first keyframe and for each later keyframe
    # (ptcodec's recipe: one batched step covers the whole segment).
    "fast": {"first_steps": 200, "later_steps": 60},
    "default": {"first_steps": 500, "later_steps": 150},
    "best": {"first_steps": 2000, "later_steps": 600},
}
RELEASED_ITERATIONS = {"first_steps": 10_000, "later_steps": 1_500}
"""The released Promptus code's iterations (frame 0 / later keyframes)."""


@dataclass(frozen=True)
class EncoderOptions:
    rank: int = 8
    ranks: tuple[int, ...] = ()
    """A rate ladder, e.g. (4, 8, 16): one rank-scalable stream of rank max(ranks),
    fitted with nested dropout over these prefixes and quantized per component."""
    interval: int = 10
    """K: frames from one keyframe to the next within a scene."""
    quality: str = "default"
    recipe: str = "ptcodec"
    first_steps: int | None = None
    later_steps: int | None = None
    lr: float | None = None
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
    prev_latent_rule: int = PrevLatentRule.SEGMENT_START
    interp_rule: int = InterpRule.LINEAR_FACTORS
    scene_threshold: float | None = 0.5
    """None turns scene-cut detection off."""
    max_scene_length: int | None = None
    """Start a new scene (a random access point) after this many frames."""
    noise_seed: int = 88
    gamma: tuple[int, int] = (95, 100)
    latent_dtype: int = LatentDtype.F32
    crc: bool = True
    seed: int = 0
    """Seeds the starting factors of a cold start."""
    extra: dict = field(default_factory=dict, compare=False)

    @property
    def full_rank(self) -> int:
        return max(self.ranks) if self.ranks else self.rank

    @property
    def rank_ladder(self) -> tuple[int, ...]:
        return tuple(sorted(set(self.ranks))) if self.ranks else (self.rank,)

    @property
    def quant_scheme(self) -> int:
        return QuantScheme.PER_COMPONENT if len(self.rank_ladder) > 1 else QuantScheme.PER_TENSOR

    def steps(self) -> tuple[int, int]:
        """(first, later) fitting budgets: explicit values, else the recipe's or preset's."""
        base = RELEASED_ITERATIONS if self.recipe == "released" else PRESETS[self.quality]
        return (self.first_steps or base["first_steps"], self.later_steps or base["later_steps"])

    def check(self) -> None:
        if self.quality not in PRESETS:
            raise PtcodecError(f"unknown --quality {self.quality!r}; choose one of {', '.join(PRESETS)}")
        if self.recipe not in RECIPES:
            raise PtcodecError(f"unknown recipe {self.recipe!r}; choose one of {', '.join(RECIPES)}")
        if self.interval < 1:
            raise PtcodecError(f"--interval must be at least 1, got {self.interval}")
        if any(r < 1 for r in self.rank_ladder):
            raise PtcodecError(f"ranks must be at least 1, got {self.rank_ladder}")
        if self.max_scene_length is not None and self.max_scene_length < 1:
            raise PtcodecError(f"the longest scene must be at least 1 frame, got {self.max_scene_length}")
        if not 0 <= self.alpha <= 1:
            raise PtcodecError(f"alpha must be within [0, 1], got {self.alpha}")
        if not 0 <= self.smoothing <= 1:
            raise PtcodecError(f"smoothing must be within [0, 1], got {self.smoothing}")
        for name in ("lr", "target_psnr"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value > 0):
                raise PtcodecError(f"{name} must be a number > 0, got {value}")
        for name in ("c_penalty", "scene_threshold"):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= 0):
                raise PtcodecError(f"{name} must be a number >= 0, got {value}")

    def describe(self) -> dict:
        """What goes into the stream's metadata (and must match on --resume)."""
        out = asdict(self)
        out.pop("extra")
        out["ranks"] = list(self.rank_ladder)
        return out
