"""Prompt fitting: find the factors (u, v) of one keyframe by gradient descent.

A keyframe b is fitted against every frame whose conditioning it touches: the
frames a+1 .. b after the previous keyframe a of its scene (interpolation-aware
fitting, as the released code does), or frame b alone when it opens a scene.
`Segment` renders those frames from candidate factors the way a decoder will,
through the bitstream's quantizer, with the torch mirrors of the decoding
process (ptcodec/encoder/mirrors.py). Two optimizers drive it:

- `fit` (ptcodec's recipe): all frames of the segment in one batched generator
  call per step, or (`Budget.single_frame`, a later keyframe) one frame per step in
  shuffled passes over the segment; optionally first L-BFGS with a strong Wolfe line search on the
  loss without the quantizer (`Budget.quasi_newton`: it finds the basin of a cold
  start in a few hundred evaluations where Adam needs over a thousand), preceded
  by `Budget.warmup` Adam steps that keep it out of poor basins; then Adam through
  the quantizer with a cosine decay, the best iterate kept, and early stopping on
  a plateau or when a target PSNR is reached;
- `fit_released`: the released Promptus code's loop (one optimizer step per
  frame, then the worst frame twice, Adam lr 0.1 halved on plateau), kept to
  measure ptcodec's recipe against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from ptcodec.encoder import mirrors
from ptcodec.encoder.losses import FitLoss
from ptcodec.generators.base import Generator
from ptcodec.metrics import signed_psnr_per_frame
from ptcodec.ptv.syntax import PrevLatentRule


@dataclass
class Segment:
    """The frames one keyframe's factors decide, and how a decoder renders them."""

    generator: Generator
    targets: torch.Tensor
    """(B, 3, H, W) in [-1, 1]: frames a+1 .. b, or frame b alone at a scene start."""
    weights: torch.Tensor
    """(B,) weight of the new keyframe in each frame's conditioning (`mirrors.segment_weights`)."""
    left: tuple[torch.Tensor, torch.Tensor] | None
    """Dequantized factors of keyframe a (fixed), None at a scene start."""
    z_prev: torch.Tensor
    """(1, C, h, w): the latent whose mix with N0 is the first frame's input noise."""
    n0: torch.Tensor
    gamma: tuple[int, int]
    """The header's (gamma_num, gamma_den)."""
    prev_latent_rule: int
    quant_scheme: int
    ranks: tuple[int, ...]
    """Rank prefixes trained together (nested dropout); the last is the full rank."""
    levels: int = 255
    """The quantizer's top code (2^factor_bits - 1)."""

    def conditioning(self, u: torch.Tensor, v: torch.Tensor, rank: int) -> torch.Tensor:
        """c_t of every frame (B, m, n) from the first `rank` components."""
        u, v = u[:, :rank], v[:rank]
        if self.left is None:
            return mirrors.compose(u, v).expand(len(self.weights), -1, -1)
        left = self.left[0][:, :rank], self.left[1][:rank]
        return mirrors.segment_conditioning(left, (u, v), self.weights)

    def noise(self, z: torch.Tensor) -> torch.Tensor:
        return mirrors.mix_noise(z, self.n0, self.gamma)

    def render(self, u: torch.Tensor, v: torch.Tensor, only: int | None = None, quantized: bool = True
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """(frames (R*B, 3, H, W), conditioning (R*B, m, n)) for every rank prefix
        R in `ranks`, through the bitstream's quantizer (unless not `quantized`: the
        smooth loss L-BFGS needs); `only` renders one frame."""
        uq, vq = mirrors.fake_quantize_factors(u, v, self.quant_scheme, self.levels) if quantized else (u, v)
        frames, conds = [], []
        for rank in self.ranks:
            cond = self.conditioning(uq, vq, rank)
            if self.prev_latent_rule == PrevLatentRule.SEGMENT_START:
                if only is not None:
                    cond = cond[only : only + 1]
                noise = self.noise(self.z_prev).expand(len(cond), -1, -1, -1)
                frames.append(self.generator.generate(noise, cond)[0])
            else:  # previous frame: a chain, with the gradient cut between frames
                z, chain = self.z_prev, []
                for t in range(len(cond) if only is None else only + 1):
                    frame, z = self.generator.generate(self.noise(z.detach()), cond[t : t + 1])
                    chain.append(frame)
                frames.append(torch.cat(chain[-1:] if only is not None else chain))
                if only is not None:
                    cond = cond[only : only + 1]
            conds.append(cond)
        return torch.cat(frames), torch.cat(conds)

    def targets_for(self, only: int | None = None) -> torch.Tensor:
        targets = self.targets if only is None else self.targets[only : only + 1]
        return targets.repeat(len(self.ranks), 1, 1, 1)


@dataclass
class Budget:
    max_steps: int
    lr: float
    patience: int
    """Stop when the best loss has not improved by 0.1% for this many evaluations of the
    whole segment (one per step; with `single_frame`, one per pass)."""
    target_psnr: float | None = None
    """Stop once every frame of the segment reaches it."""
    target_loss: float | None = None
    """Stop once the loss reaches it (benchmarks: steps to match another recipe)."""
    min_lr_ratio: float = 0.05
    quasi_newton: int = 0
    """Loss evaluations (steps) of L-BFGS on the unquantized loss before the Adam steps,
    out of `max_steps` (at most a third of them: Adam needs the rest). The quantizer makes
    the loss a staircase that a line search cannot follow, so L-BFGS fits the smooth loss
    and Adam (straight-through) then adapts the factors to the quantizer."""
    warmup: int = 0
    """Adam steps at the constant learning rate before the L-BFGS phase (none without one; at
    most a third of `max_steps`). Started cold, L-BFGS can settle in a poor basin that Adam
    steps over (the natural clip's first keyframe in benchmarks/results/encoder_fit.md)."""
    single_frame: bool = False
    """Each Adam step renders one frame of the segment, the frames taken in seeded shuffled
    passes; after each pass the whole segment is rendered without a backward pass to keep the
    best iterate and decide stopping (`FitResult.judged_frames`). For the same frame-steps
    this makes ten times the updates of a 10-frame segment. From a start that suits the clip,
    later keyframes reached the released loss in fewer frame-steps than with batched steps;
    from the natural clip's saturated warm start they did worse (`WARM_START_MAX_SCALE`, and
    benchmarks/results/encoder_fit.md). No L-BFGS phase with it."""


@dataclass
class FitResult:
    u: torch.Tensor
    v: torch.Tensor
    loss: float
    psnr: float
    """Lowest PSNR over the segment's frames (full rank), before the closed loop."""
    steps: int
    """Optimizer steps taken."""
    frame_steps: int
    """Generator frame evaluations with a backward pass (the cost measure)."""
    judged_frames: int = 0
    """Frames rendered without a backward pass to judge the iterate (`Budget.single_frame`)."""


def step_cost(frames: int, ranks: int, released: bool) -> int:
    """Generator frame evaluations (with a backward pass) of one step on a segment of `frames`
    frames: the unit of fitting work (`FitResult.frame_steps`). ptcodec's step renders every
    frame at every rank of the ladder; the released loop's iteration takes one step per frame,
    then two on the worst (a scene's first keyframe: one)."""
    if released:
        return frames + 2 if frames > 1 else 1
    return frames * ranks


Progress = Callable[[int, float, float], None]
"""`progress(steps_taken, loss, psnr)` at every step, before it is taken: the optimizer
steps finished so far (0 at the first call, never the whole budget: the fit is not
done until it returns), and the latest loss and lowest PSNR (nan before the first)."""


def fit(segment: Segment, loss_fn: FitLoss, init: tuple[torch.Tensor, torch.Tensor], budget: Budget,
        smoothing: float = 0.0, progress: Progress | None = None) -> FitResult:
    """ptcodec's recipe: L-BFGS on the smooth loss (if asked), then Adam steps through the
    quantizer (batched, or one frame each), cosine learning rate, best iterate, early stop."""
    u = init[0].detach().clone().requires_grad_()
    v = init[1].detach().clone().requires_grad_()
    targets = segment.targets_for()

    def objective(quantized: bool = True, only: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        frames, cond = segment.render(u, v, only=only, quantized=quantized)
        loss = loss_fn(frames, targets if only is None else segment.targets_for(only), cond).mean()
        if smoothing and segment.left is not None:
            loss = smoothing * loss + (1 - smoothing) * _prompt_change(segment, u, v)
        return loss, frames

    quasi_newton = min(budget.quasi_newton, budget.max_steps // 3)
    warmup = min(budget.warmup, budget.max_steps // 3) if quasi_newton else 0
    adam_steps = budget.max_steps - quasi_newton
    count = len(segment.targets)
    single = budget.single_frame and count > 1
    if single and quasi_newton:
        raise ValueError("single-frame steps take no L-BFGS phase (its evaluations render the whole segment)")
    optimizer = torch.optim.Adam([u, v], lr=budget.lr)
    full = slice(len(targets) - count, None)  # the full-rank frames
    best = FitResult(u.detach().clone(), v.detach().clone(), math.inf, -math.inf, 0, 0)
    since_best, taken, judged = 0, 0, 0
    order: list[int] = []
    rng = np.random.default_rng(0)
    latest = [math.nan, math.nan]

    def judge(loss: torch.Tensor, frames: torch.Tensor, steps: int) -> tuple[bool, float, float]:
        """Keep the iterate if it is the best so far; (whether the fit should stop, loss, lowest PSNR)."""
        nonlocal best, since_best
        value = float(loss.detach())
        psnr = float(signed_psnr_per_frame(frames[full].detach(), targets[full]).min())
        since_best = 0 if value < best.loss * (1 - 1e-3) else since_best + 1
        if value < best.loss:
            best = FitResult(u.detach().clone(), v.detach().clone(), value, psnr, steps, 0)
        reached = (budget.target_psnr is not None and psnr >= budget.target_psnr) or (
            budget.target_loss is not None and value <= budget.target_loss)
        return reached or since_best >= budget.patience, value, psnr

    stopped = False
    for step in range(adam_steps):
        if step == warmup and quasi_newton:  # the L-BFGS phase, then a fresh Adam from its point
            taken = _quasi_newton(u, v, objective, quasi_newton,
                                  None if progress is None else lambda n, loss, psnr: progress(warmup + n, loss, psnr))
            optimizer = torch.optim.Adam([u, v], lr=budget.lr)
        decay = (step - warmup) / (adam_steps - warmup)
        ratio = 1.0 if step < warmup else budget.min_lr_ratio + (1 - budget.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * decay))
        for group in optimizer.param_groups:
            group["lr"] = budget.lr * ratio
        if single:
            if not order:  # a pass is over (or none began): judge the whole segment, then shuffle the next
                with torch.no_grad():
                    stopped, *latest = judge(*objective(), taken + step)
                judged += count
                if stopped:
                    break
                order = [int(t) for t in rng.permutation(count)]
            loss, frames = objective(only=order.pop())
            if progress is not None:  # the loss and PSNR of the last judged pass
                progress(taken + step, *latest)
        else:
            loss, frames = objective()
            stopped, value, psnr = judge(loss, frames, taken + step)
            if progress is not None:
                progress(taken + step, value, psnr)
            if stopped:
                break
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    if single and not stopped:  # the last pass's updates are judged too
        with torch.no_grad():
            judge(*objective(), taken + adam_steps)
        judged += count
    best.steps = taken + step + (0 if single and stopped else 1)
    frames_per_step = 1 if single else count
    best.frame_steps = best.steps * step_cost(frames_per_step, len(segment.ranks), released=False)
    best.judged_frames = judged * len(segment.ranks)
    return best


class _Spent(Exception):
    """The L-BFGS phase used its evaluations (raised inside its closure to stop it exactly there)."""


def _quasi_newton(u: torch.Tensor, v: torch.Tensor, objective: Callable[[bool], tuple[torch.Tensor, torch.Tensor]],
                  evaluations: int, progress: Progress | None) -> int:
    """L-BFGS with a strong Wolfe line search on the unquantized loss, for exactly `evaluations`
    loss evaluations (each one step of the budget); u and v end at the best point it evaluated.
    Returns the evaluations taken."""
    if evaluations <= 0:
        return 0
    optimizer = torch.optim.LBFGS([u, v], lr=1, max_iter=evaluations, max_eval=evaluations, history_size=50,
                                  tolerance_grad=0, tolerance_change=0, line_search_fn="strong_wolfe")
    best = (math.inf, u.detach().clone(), v.detach().clone())
    count = 0

    def closure() -> torch.Tensor:
        nonlocal best, count
        if count >= evaluations:
            raise _Spent
        if progress is not None:
            progress(count, best[0], math.nan)
        optimizer.zero_grad()
        loss, _ = objective(False)
        count += 1
        if float(loss.detach()) < best[0]:
            best = (float(loss.detach()), u.detach().clone(), v.detach().clone())
        loss.backward()
        return loss

    try:
        optimizer.step(closure)
    except _Spent:
        pass
    with torch.no_grad():
        u.copy_(best[1])
        v.copy_(best[2])
    return count


def _prompt_change(segment: Segment, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """The paper's temporal term ||c_b - c_a|| (mean absolute difference)."""
    assert segment.left is not None, "a scene's first keyframe has no prompt to change from"
    return (mirrors.compose(u, v) - mirrors.compose(*segment.left)).abs().mean()


def fit_released(segment: Segment, loss_fn: FitLoss, init: tuple[torch.Tensor, torch.Tensor], iterations: int,
                 check_every: int, lr: float, min_lr: float = 0.001,
                 progress: Progress | None = None) -> FitResult:
    """The released Promptus loop: each iteration takes one Adam step per frame of
    the segment in order, then two more on the worst frame (a scene's first
    keyframe: one step on its frame); the learning rate is halved when the loss
    has not improved over `check_every` iterations."""
    u = init[0].detach().clone().requires_grad_()
    v = init[1].detach().clone().requires_grad_()
    optimizer = torch.optim.Adam([u, v], lr=lr)
    count = len(segment.targets)
    frame_steps = 0
    best_window, window_start_best = math.inf, math.inf
    loss_value, psnr = math.nan, math.nan
    for iteration in range(iterations):
        if progress is not None:
            progress(iteration, loss_value, psnr)
        losses = np.zeros(count)
        for t in range(count):
            losses[t] = _released_step(segment, loss_fn, optimizer, u, v, t)
        if count > 1:  # a scene's first keyframe is fitted alone, without the extra steps
            worst = int(losses.argmax())
            for _ in range(2):
                _released_step(segment, loss_fn, optimizer, u, v, worst)
        frame_steps += step_cost(count, len(segment.ranks), released=True)
        loss_value = float(losses.mean())
        best_window = min(best_window, loss_value)
        if (iteration + 1) % check_every == 0:
            if best_window >= window_start_best:
                for group in optimizer.param_groups:
                    group["lr"] = max(group["lr"] / 2, min_lr)
            window_start_best = min(window_start_best, best_window)
            best_window = math.inf
    with torch.no_grad():
        frames, cond = segment.render(u, v)
        targets = segment.targets_for()
        loss_value = float(loss_fn(frames, targets, cond).mean())
        psnr = float(signed_psnr_per_frame(frames[-count:], targets[-count:]).min())
    return FitResult(u.detach(), v.detach(), loss_value, psnr, iterations, frame_steps)


def _released_step(segment: Segment, loss_fn: FitLoss, optimizer: torch.optim.Optimizer,
                   u: torch.Tensor, v: torch.Tensor, t: int) -> float:
    frames, cond = segment.render(u, v, only=t)
    loss = loss_fn(frames, segment.targets_for(t), cond).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return float(loss.detach())
