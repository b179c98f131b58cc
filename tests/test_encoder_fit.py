"""ptcodec's fitting recipe (ptcodec/encoder/fit.py): its cost is counted honestly, the loss it
reports is that of the quantized factors it returns, and it is deterministic."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptcodec.encoder import Encoder, FitOptions, StreamOptions
from ptcodec.encoder.encoder import fit_work, single_frame_steps, starting_factors, uniform_prompt_rms
from ptcodec.encoder.fit import Budget, Segment, fit, step_cost
from ptcodec.encoder.losses import FitLoss
from ptcodec.encoder.options import WARM_SINGLE_FRAME_SHARE, WARM_START_MAX_SCALE
from ptcodec.encoder.reachable import reachable_clip
from ptcodec.generators import load_generator
from ptcodec.process import noise
from ptcodec.ptv import PrevLatentRule, QuantScheme

SIZE = 32
RANK = 4


class Counting:
    """The reference generator, counting the frames it renders."""

    def __init__(self) -> None:
        self.generator = load_generator("reference")
        self.frames = 0

    def generate(self, noise_in: torch.Tensor, cond: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        self.frames += len(cond)
        return self.generator.generate(noise_in, cond)


def cold_problem(generator: Counting) -> tuple[Segment, tuple[torch.Tensor, torch.Tensor]]:
    """A scene's first keyframe: one frame, rendered from known factors, and the encoder's uniform start."""
    rng = np.random.RandomState(1)
    shape = (1, 4, SIZE // 8, SIZE // 8)
    z_prev = torch.from_numpy(rng.randn(*shape).astype(np.float32))
    n0 = torch.from_numpy(noise.initial_noise(7, shape))
    segment = Segment(generator=generator, targets=torch.zeros(1, 3, SIZE, SIZE), weights=torch.ones(1), left=None,
                      z_prev=z_prev, n0=n0, gamma=(95, 100), prev_latent_rule=0,
                      quant_scheme=QuantScheme.PER_TENSOR, ranks=(RANK,))
    truth = torch.from_numpy(rng.randn(77, RANK).astype(np.float32)), torch.from_numpy(rng.randn(RANK, 1024).astype(np.float32))
    with torch.no_grad():
        segment.targets = segment.render(*truth)[0]
    start = torch.from_numpy(rng.random_sample((77, RANK)).astype(np.float32)), torch.from_numpy(
        rng.random_sample((RANK, 1024)).astype(np.float32))
    generator.frames = 0  # the targets' render is no fitting work
    return segment, start


@pytest.mark.parametrize(("quasi_newton", "warmup"), [(0, 0), (4, 0), (4, 3)])
def test_fit_counts_every_rendered_frame_and_reports_the_loss_of_its_quantized_factors(quasi_newton, warmup):
    generator = Counting()
    segment, start = cold_problem(generator)
    loss_fn = FitLoss("msssim", 0.8, 0.0, None)
    reported: list[int] = []
    result = fit(segment, loss_fn, start, Budget(12, lr=0.1, patience=10**9, quasi_newton=quasi_newton, warmup=warmup),
                 progress=lambda taken, loss, psnr: reported.append(taken))
    assert result.steps == 12
    assert reported == list(range(12))  # Adam warm-up, L-BFGS evaluations, then Adam: one count
    assert result.frame_steps == 12 * step_cost(1, 1, released=False) == generator.frames
    with torch.no_grad():
        frames, cond = segment.render(result.u, result.v)  # through the bitstream's quantizer
        assert float(loss_fn(frames, segment.targets_for(), cond).mean()) == pytest.approx(result.loss, rel=1e-5)


def test_the_quasi_newton_start_lowers_the_loss_and_is_deterministic():
    loss_fn = FitLoss("msssim", 0.8, 0.0, None)
    runs = []
    for quasi_newton in (0, 10, 10):
        segment, start = cold_problem(Counting())
        # 60 steps: at 30 the two runs cross over on some CPUs (Adam 1.28e-3 vs 1.42e-3 here); at 60 the
        # L-BFGS start is 17% lower here (5.3e-5 vs 6.4e-5).
        runs.append(fit(segment, loss_fn, start, Budget(60, lr=0.1, patience=10**9, quasi_newton=quasi_newton)))
    adam, first, again = runs
    assert first.loss < adam.loss
    assert torch.equal(first.u, again.u) and torch.equal(first.v, again.v)


def test_the_warmup_applies_only_before_an_lbfgs_phase():
    loss_fn = FitLoss("msssim", 0.8, 0.0, None)

    def run(quasi_newton: int, warmup: int) -> torch.Tensor:
        segment, start = cold_problem(Counting())
        return fit(segment, loss_fn, start, Budget(9, lr=0.1, patience=10**9, quasi_newton=quasi_newton,
                                                   warmup=warmup)).u

    assert torch.equal(run(0, 0), run(0, 3))  # no L-BFGS phase: no warm-up, the same cosine Adam
    assert not torch.equal(run(3, 0), run(3, 3))


def warm_problem(generator: Counting, frames: int = 4, ranks: tuple[int, ...] = (RANK,)
                 ) -> tuple[Segment, tuple[torch.Tensor, torch.Tensor]]:
    """A later keyframe: `frames` frames between fixed left factors and the ones being fitted."""
    segment, start = cold_problem(generator)
    rng = np.random.RandomState(2)
    left = torch.from_numpy(rng.random_sample((77, RANK)).astype(np.float32)), torch.from_numpy(
        rng.random_sample((RANK, 1024)).astype(np.float32))
    weights = torch.arange(1, frames + 1, dtype=torch.float32) / frames
    segment.left, segment.weights, segment.ranks = left, weights, ranks
    segment.targets = segment.targets.repeat(frames, 1, 1, 1) * weights[:, None, None, None]
    generator.frames = 0
    return segment, start


@pytest.mark.parametrize("ranks", [(RANK,), (2, RANK)])
def test_single_frame_steps_count_every_backward_frame_and_every_judged_one(ranks):
    generator = Counting()
    segment, start = warm_problem(generator, frames=4, ranks=ranks)
    loss_fn = FitLoss("msssim", 0.8, 0.0, None)
    reported: list[int] = []
    result = fit(segment, loss_fn, start, Budget(10, lr=0.1, patience=10**9, single_frame=True),
                 progress=lambda taken, loss, psnr: reported.append(taken))
    assert result.steps == 10 and reported == list(range(10))
    assert result.frame_steps == 10 * len(ranks)  # one frame per step, at every rank of the ladder
    # the whole segment is judged at the start, after steps 4 and 8, and after the last (partial) pass
    assert result.judged_frames == 4 * 4 * len(ranks)
    assert generator.frames == result.frame_steps + result.judged_frames
    with torch.no_grad():
        frames, cond = segment.render(result.u, result.v)
        assert float(loss_fn(frames, segment.targets_for(), cond).mean()) == pytest.approx(result.loss, rel=1e-5)


def test_single_frame_steps_stop_at_the_first_pass_that_reaches_the_target():
    loss_fn = FitLoss("msssim", 0.8, 0.0, None)
    segment, start = warm_problem(Counting(), frames=4)
    free = fit(segment, loss_fn, start, Budget(40, lr=0.1, patience=10**9, single_frame=True))
    segment, start = warm_problem(Counting(), frames=4)
    with torch.no_grad():
        frames, cond = segment.render(*start)
        first = float(loss_fn(frames, segment.targets_for(), cond).mean())
    target = (first + free.loss) / 2  # reached somewhere inside the budget
    judged: dict[int, float] = {}  # progress reports the last judged pass's loss
    stopped = fit(segment, loss_fn, start, Budget(40, lr=0.1, patience=10**9, single_frame=True, target_loss=target),
                  progress=lambda taken, loss, psnr: judged.setdefault(taken, loss) if taken % 4 == 0 else None)
    assert stopped.loss <= target and 0 < stopped.steps < 40 and stopped.steps % 4 == 0
    assert stopped.frame_steps == stopped.steps
    assert all(loss > target for loss in judged.values())  # no earlier judged pass had reached it
    assert set(judged) == set(range(0, stopped.steps, 4))


def test_single_frame_steps_refuse_an_lbfgs_phase():
    segment, start = warm_problem(Counting(), frames=4)
    with pytest.raises(ValueError, match="L-BFGS"):
        fit(segment, FitLoss("msssim", 0.8, 0.0, None), start,
            Budget(12, lr=0.1, patience=10**9, single_frame=True, quasi_newton=3))


def test_a_scene_start_fits_the_same_with_or_without_single_frame_steps():
    loss_fn = FitLoss("msssim", 0.8, 0.0, None)
    runs = []
    for single in (False, True):  # one frame: every step is the whole segment
        segment, start = cold_problem(Counting())
        runs.append(fit(segment, loss_fn, start, Budget(6, lr=0.1, patience=10**9, single_frame=single)))
    assert torch.equal(runs[0].u, runs[1].u) and runs[0].judged_frames == runs[1].judged_frames == 0


def test_the_uniform_prompt_rms_is_that_of_sampled_uniform_factors():
    rng = np.random.default_rng(3)
    for rank in (1, 4, 8):
        c = rng.random((200, 77, rank)) @ rng.random((200, rank, 64))
        assert float(np.sqrt(np.mean(c**2))) == pytest.approx(uniform_prompt_rms(rank), rel=0.01)


def test_a_later_keyframe_starts_warm_unless_the_previous_prompt_is_far_larger_than_the_uniform_start():
    generator = load_generator("reference")
    rng = np.random.RandomState(5)
    last = rng.random_sample((77, RANK)).astype(np.float32), rng.random_sample((RANK, 1024)).astype(np.float32)
    uniform = np.random.RandomState(0 + 10)  # the released start of frame 10, seed 0
    released_start = uniform.random_sample((77, RANK)).astype(np.float32), uniform.random_sample((RANK, 1024)).astype(np.float32)
    warm = starting_factors(generator, FitOptions(), RANK, 10, last)
    assert np.array_equal(warm[0], last[0]) and np.array_equal(warm[1], last[1])
    # the same prompt scaled past WARM_START_MAX_SCALE times the uniform start's RMS (it is about 1x now)
    scale = np.float32(np.sqrt(1.2 * WARM_START_MAX_SCALE))
    cold = starting_factors(generator, FitOptions(), RANK, 10, (last[0] * scale, last[1] * scale))
    assert np.array_equal(cold[0], released_start[0]) and np.array_equal(cold[1], released_start[1])
    kept = np.float32(np.sqrt(0.8 * WARM_START_MAX_SCALE))  # the prompt at 0.8 of the limit
    assert np.array_equal(starting_factors(generator, FitOptions(), RANK, 10, (last[0] * kept, last[1] * kept))[0],
                          last[0] * kept)
    # the released recipe always starts uniform; so does a scene's first keyframe
    for options, previous in ((FitOptions(recipe="released"), last), (FitOptions(), None)):
        u, _ = starting_factors(generator, options, RANK, 10, previous)
        assert np.array_equal(u, released_start[0])


def test_later_keyframes_take_single_frame_steps_only_where_a_segment_shares_one_noise():
    ranks = len(StreamOptions().rank_ladder)
    later = FitOptions().steps()[1]
    # the same frame-steps either way: `later` steps' worth of the 10-frame segment
    assert fit_work(StreamOptions(), FitOptions(), 10, opens_scene=False) == (ranks, later * 10)
    chain = StreamOptions(prev_latent_rule=PrevLatentRule.PREVIOUS_FRAME)
    assert fit_work(chain, FitOptions(), 10, opens_scene=False) == (10 * ranks, later)
    assert fit_work(StreamOptions(), FitOptions(recipe="released"), 10, opens_scene=False)[1] == FitOptions(
        recipe="released").steps()[1]
    assert not single_frame_steps(StreamOptions(), FitOptions(), opens_scene=True)


def test_a_warm_single_frame_fit_takes_its_share_of_the_steps_and_every_other_fit_all_of_them():
    generator = load_generator("reference")

    def budget(stream: StreamOptions, first: bool, warm: bool, frames: int = 10, steps: int = 1500) -> int:
        encoder = Encoder(generator, stream, FitOptions(), width=SIZE, height=SIZE, fps=30)
        return encoder.budget(steps, first, warm, frames).max_steps

    assert WARM_SINGLE_FRAME_SHARE == 0.5
    assert budget(StreamOptions(), first=False, warm=True) == 750
    assert budget(StreamOptions(), first=False, warm=True, steps=1501) == 751  # rounded up
    assert budget(StreamOptions(), first=False, warm=False) == 1500  # from the uniform start
    assert budget(StreamOptions(), first=False, warm=True, frames=1) == 1500  # one frame: batched steps
    chain = StreamOptions(prev_latent_rule=PrevLatentRule.PREVIOUS_FRAME)  # batched steps
    assert budget(chain, first=False, warm=True) == 1500
    assert budget(StreamOptions(), first=True, warm=False, frames=1) == 1500


@pytest.mark.parametrize("warm_start", [True, False])
def test_an_encode_gives_a_warm_later_keyframe_its_share_of_the_planned_steps(warm_start):
    """Through the encoder: the second keyframe's fit (3 frames, 4 steps' worth of them, no early
    stop) takes 12 single-frame steps from the uniform start and its share from a warm one."""
    generator = load_generator("reference")
    clip = reachable_clip(generator, frames=4, size=(SIZE, SIZE), interval=3, rank=RANK, seed=2)
    fitting = FitOptions(first_steps=30, later_steps=4, patience=10**6, warm_start=warm_start)
    encoder = Encoder(generator, StreamOptions(ranks=(RANK,), interval=3), fitting, width=SIZE, height=SIZE,
                      fps=30, frame_count=len(clip))
    for frame in [*clip, None]:
        encoder.encode(frame)
    later = encoder.report.keyframes[1]
    assert (later.frame, later.scene_start) == (3, False)
    assert later.steps == (6 if warm_start else 12)  # WARM_SINGLE_FRAME_SHARE 0.5 of 12
    assert later.frame_steps == later.steps  # one frame at one rank per step
