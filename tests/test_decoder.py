"""The decoder against the spec's decoding process written out frame by frame
(section 12.10): same conditioning, same noise, same source latents."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from ptcodec.decoder import Decoder, run_generator
from ptcodec.errors import GeneratorError, LimitExceededError
from ptcodec.generators.reference import ReferenceGenerator
from ptcodec.process import conditioning
from ptcodec.process.noise import initial_noise, mix_noise
from ptcodec.process.quant import dequantize_keyframe, quantize_keyframe, truncate_keyframe
from ptcodec.ptv import LEVELS, InterpRule, PrevLatentRule, QuantScheme, SceneInit, read_all, serialize
from tests.conftest import make_header


@pytest.fixture(scope="module")
def gen() -> ReferenceGenerator:
    torch.set_num_threads(2)
    return ReferenceGenerator()


def stream(gen, prev_rule: int, interp_rule: int, frame_count: int):
    """Two scenes (frames 0 and 7), keyframes 0, 3, 5 | 7, 9; ranks 4, 4, 2 | 3, 3."""
    header = make_header(
        generator_id="reference", generator_fingerprint=gen.fingerprint(), width=32, height=24, tokens=77,
        embed_dim=1024, frame_count=frame_count, prev_latent_rule=prev_rule, interp_rule=interp_rule,
        quant_schemes=3, level=3,
    )
    rng = np.random.RandomState(5)
    units = []
    for frame, rank in ((0, 4), (3, 4), (5, 2), (7, 3), (9, 3)):
        if frame in (0, 7):
            units.append(SceneInit.from_latent(frame, rng.randn(1, 4, 3, 4).astype(np.float32)))
        scheme = QuantScheme.PER_COMPONENT if frame == 5 else QuantScheme.PER_TENSOR
        keyframe = quantize_keyframe(frame, rng.randn(77, rank), rng.randn(rank, 1024), scheme)
        units.append(keyframe)
    return header, units


def spec_frames(gen, header, units) -> list[np.ndarray]:
    """Section 12.10, one frame at a time."""
    keyframes = [u for u in units if not isinstance(u, SceneInit)]
    scenes = {u.frame_index: u.latent() for u in units if isinstance(u, SceneInit)}
    factors = {k.frame_index: dequantize_keyframe(k) for k in keyframes}
    plans = conditioning.plan_frames(sorted(scenes), sorted(factors), header.frame_count, header.prev_latent_rule)
    n0 = initial_noise(header.noise_seed, (1, *header.latent_shape))
    latents, frames = {}, []
    for plan in plans:
        c = conditioning.frame_conditioning(plan, factors, header.interp_rule)
        z_prev = scenes[plan.frame] if plan.prev_source is None else latents[plan.prev_source]
        noise = mix_noise(z_prev, n0, header.gamma_num, header.gamma_den)
        f, z = run_generator(gen, noise, c[None], 1)
        latents[plan.frame] = z
        frames.append(f[0])
    return frames


@pytest.mark.parametrize("prev_rule", [PrevLatentRule.SEGMENT_START, PrevLatentRule.PREVIOUS_FRAME])
@pytest.mark.parametrize("interp_rule", [InterpRule.LINEAR_FACTORS, InterpRule.HOLD])
@pytest.mark.parametrize("frame_count", [0, 13])
def test_decoder_follows_the_decoding_process(gen, prev_rule, interp_rule, frame_count):
    header, units = stream(gen, prev_rule, interp_rule, frame_count)
    decoder = Decoder(header, gen, max_batch=3)
    out = [f for unit in units for f in decoder.push(unit)] + list(decoder.flush())
    expected = spec_frames(gen, header, units)
    assert [f.index for f in out] == list(range(len(expected)))
    assert len(expected) == (frame_count or 10)
    for frame, reference in zip(out, expected, strict=True):
        np.testing.assert_allclose(frame.signed, reference, atol=2e-5, err_msg=f"frame {frame.index}")
    assert out[0].image.shape == (24, 32, 3) and out[0].image.dtype == np.uint8


def test_decoding_twice_gives_identical_frames(gen):
    header, units = stream(gen, PrevLatentRule.SEGMENT_START, InterpRule.LINEAR_FACTORS, 12)

    def run():
        decoder = Decoder(header, gen)
        return np.stack([f.image for unit in units for f in decoder.push(unit)] + [f.image for f in decoder.flush()])

    assert np.array_equal(run(), run())


def test_rank_cut_keyframes_decode(gen):
    header, units = stream(gen, PrevLatentRule.SEGMENT_START, InterpRule.LINEAR_FACTORS, 0)
    cut = [truncate_keyframe(u, 1) if getattr(u, "quant_scheme", None) == QuantScheme.PER_COMPONENT else u for u in units]
    decoder = Decoder(header, gen)
    out = [f for unit in cut for f in decoder.push(unit)] + list(decoder.flush())
    expected = spec_frames(gen, header, cut)
    for frame, reference in zip(out, expected, strict=True):
        np.testing.assert_allclose(frame.signed, reference, atol=2e-5)


def test_a_stream_for_another_generator_or_other_weights_is_refused(gen):
    header, _ = stream(gen, 0, 0, 0)
    with pytest.raises(GeneratorError, match="needs generator 'sd-turbo'"):
        Decoder(make_header(generator_id="sd-turbo", tokens=77, embed_dim=1024), gen)
    with pytest.raises(GeneratorError, match="tokens, embed_dim"):
        Decoder(make_header(generator_fingerprint=gen.fingerprint()), gen)
    other = ReferenceGenerator(seed=1)
    with pytest.raises(GeneratorError, match="other 'reference' weights"):
        Decoder(header, other)
    Decoder(header, other, check_fingerprint=False)


# -- memory and work bounded by the level ------------------------------------------------------


def counted(gen, monkeypatch) -> list[int]:
    """The batch size of every call to the generator, from now on."""
    calls: list[int] = []
    real = gen.generate

    def generate(noise, cond):
        calls.append(len(cond))
        return real(noise, cond)

    monkeypatch.setattr(gen, "generate", generate)
    return calls


def level1_stream(gen, keyframes: list[int], frame_count: int):
    header = make_header(generator_id="reference", generator_fingerprint=gen.fingerprint(), width=64, height=64,
                         tokens=77, embed_dim=1024, frame_count=frame_count, quant_schemes=1, level=1)
    rng = np.random.RandomState(3)
    units = [SceneInit.from_latent(0, rng.randn(1, *header.latent_shape).astype(np.float32))]
    units += [quantize_keyframe(k, rng.randn(77, 2), rng.randn(2, 1024), QuantScheme.PER_TENSOR) for k in keyframes]
    return header, units


def test_a_held_tail_at_the_gap_limit_is_generated_a_chunk_at_a_time(gen, monkeypatch):
    """The issue: each held frame cost 0.4 MB (its conditioning), all held at once."""
    import tracemalloc

    gap = LEVELS[1].max_frame_gap
    header, units = level1_stream(gen, [0, 3], 3 + gap)
    read_all(serialize(header, units))  # a valid stream: the last keyframe spans max_frame_gap frames
    decoder = Decoder(header, gen, max_batch=8)
    assert [f.index for u in units for f in decoder.push(u)] == [0, 1, 2]
    calls = counted(gen, monkeypatch)
    tail = decoder.flush()
    assert next(tail).index == 3 and calls == []  # keyframe 3 was generated with its segment
    assert next(tail).index == 4 and calls == [8]  # the first held frame comes before the rest is generated
    tracemalloc.start()
    try:
        rest = sum(1 for _ in tail)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert rest == gap - 2 and sum(calls) == gap - 1 and max(calls) == 8
    one_c = header.tokens * header.embed_dim * 4
    assert peak < 4 * 8 * one_c, f"{peak / 1e6:.1f} MB for a tail of {gap} frames"  # a few chunks, not the tail


def test_a_segment_is_generated_a_chunk_at_a_time_and_nothing_is_lost(gen, monkeypatch):
    header, units = level1_stream(gen, [0, 40], 0)
    decoder = Decoder(header, gen, max_batch=4)
    for unit in units[:2]:
        decoder.push(unit)  # iterators left unconsumed: their work is done by the next one
    calls = counted(gen, monkeypatch)
    frames = decoder.push(units[2])
    assert next(frames).index == 0 and calls == [1]  # the scene's first keyframe, queued from before
    assert next(frames).index == 1 and calls == [1, 4]
    assert [f.index for f in frames] == list(range(2, 40)) and calls == [1] + [4] * 10
    assert [f.index for f in decoder.flush()] == [40]


def test_units_beyond_the_level_are_refused_before_anything_is_generated(gen, monkeypatch):
    """Units that no reader checked (the decoder's own inputs, Matroska Blocks)."""
    gap = LEVELS[1].max_frame_gap
    header, units = level1_stream(gen, [0, gap + 1], 0)
    decoder = Decoder(header, gen)
    calls = counted(gen, monkeypatch)
    list(decoder.push(units[0])), list(decoder.push(units[1]))
    with pytest.raises(LimitExceededError, match="max_frame_gap") as caught:
        list(decoder.push(units[2]))
    assert caught.value.field == "frame_index" and calls == [1]
    header, units = level1_stream(gen, [0], 2 + gap)
    decoder = Decoder(header, gen)
    list(decoder.push(units[0])), list(decoder.push(units[1]))
    with pytest.raises(LimitExceededError, match="max_frame_gap") as caught:
        list(decoder.flush())
    assert caught.value.field == "sequence_header.frame_count"
    header, units = level1_stream(gen, [0, 2**31], 0)
    decoder = Decoder(header, gen)
    with pytest.raises(LimitExceededError, match="max_frame_count"):
        [f for u in units for f in decoder.push(u)]


def test_a_container_hands_out_frames_as_they_are_generated(gen, monkeypatch, tmp_path):
    import itertools

    import ptcodec

    gap = LEVELS[1].max_frame_gap
    header, units = level1_stream(gen, [0, 3], 3 + gap)
    (tmp_path / "s.ptv").write_bytes(serialize(header, units))
    calls = counted(gen, monkeypatch)
    with ptcodec.open(tmp_path / "s.ptv") as container:
        frames = list(itertools.islice(container.decode(generator=gen), 6))
    assert [f.pts for f in frames] == list(range(6))
    assert sum(calls) <= 1 + 3 + 16  # keyframe 0, the segment (0, 3], one chunk of the held tail


def test_packets_that_cannot_follow_what_was_decoded_are_damage_not_a_crash(gen):
    """Packets fed to the API decoder straight from a container that lost some: a keyframe of a scene
    the decoder never opened, or one that does not move forward, is concealed with a warning, and
    decoding goes on from the next random access point (the second scene, frame 7)."""
    from ptcodec.errors import DamageWarning
    from ptcodec.ptv import PtvReader

    header, units = stream(gen, 0, 0, 11)
    with PtvReader(serialize(header, units)) as reader:
        packets = list(reader.packets())
    full = Decoder(header, gen)
    expected = [f.image for p in [*packets, None] for f in full.decode(p)]
    for fed in (packets[1:], [packets[0], packets[2], packets[1], *packets[3:]]):
        decoder = Decoder(header, gen)
        with pytest.warns(DamageWarning, match="undecodable packet|missing data"):
            frames = [f for p in [*fed, None] for f in decoder.decode(p)]
        by_index = {f.index: f for f in frames}
        assert all(by_index[t].image.tobytes() == expected[t].tobytes() for t in range(7, 11))
        assert all(not by_index[t].concealed for t in range(7, 11))


def test_a_packet_whose_pts_lies_is_damage_and_concealment_stays_bounded(gen):
    """A packet's pts that is not its payload's frame must not set how far the decoder conceals:
    a pts of 10^9 would otherwise make it emit a billion held frames."""
    import dataclasses

    from ptcodec.errors import DamageWarning
    from ptcodec.ptv import PtvReader

    header, units = stream(gen, 0, 0, 11)
    with PtvReader(serialize(header, units)) as reader:
        packets = list(reader.packets())
    decoder = Decoder(header, gen)
    lying = [packets[0], dataclasses.replace(packets[1], pts=10**9), *packets[2:]]
    with pytest.warns(DamageWarning, match="pts"):
        frames = [f for p in [*lying, None] for f in decoder.decode(p)]
    assert len(frames) <= header.frame_count and max(f.index for f in frames) < header.frame_count


def test_one_decoder_made_from_a_header_codec_private_data_or_a_container_stream(gen, tmp_path):
    """Decoder.load takes what a caller has; all three decode the same frames, which are the one
    frame type (PyAV-shaped: pts, time_base, to_ndarray, to_av)."""
    import ptcodec
    from ptcodec.decoder import Decoder

    header, units = stream(gen, 0, 0, 11)
    data = serialize(header, units)
    (tmp_path / "s.ptv").write_bytes(data)
    with ptcodec.open(tmp_path / "s.ptv") as container:
        packets = list(container.demux())
        decoders = [Decoder.load(header, gen), Decoder.load(container.streams[0].codec_private, gen),
                    Decoder.load(container.streams[0], gen), Decoder(header, gen)]
    outputs = [[f for p in [*packets, None] for f in d.decode(p)] for d in decoders]
    first = outputs[0]
    assert [f.pts for f in first] == list(range(11)) and first[0].time_base == header.time_base
    for other in outputs[1:]:
        assert all(np.array_equal(a.to_ndarray(), b.image) for a, b in zip(first, other, strict=True))
    av_frame = first[3].to_av()
    assert (av_frame.pts, av_frame.time_base, av_frame.format.name) == (3, header.time_base, "rgb24")
    assert np.array_equal(av_frame.to_ndarray(format="rgb24"), first[3].image)
    with pytest.raises(ValueError, match="rgb24"):
        first[0].to_ndarray(format="yuv420p")
