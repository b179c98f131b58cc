"""The reference decoder: units in, frames out (spec/ptv.md, section 12).

Everything before the generator comes from `ptcodec.conditioning` and
`ptcodec.quant`, which are bit-exact; this module only decides what to generate
when, and in which batches. Batches are fixed by the stream, not by the
caller: a scene's first keyframe alone, then each segment (a, b] between two
keyframes in one call (under the segment-start rule all its frames share the
same input noise), then the held frames after a scene's last keyframe. The
encoder reconstructs through this same class, so its closed loop sees exactly
the frames a decoder will output, bit for bit on the same machine.

A keyframe's own frame is generated with the segment that ends at it, so a
decoder outputs frames one segment late: frames a .. b-1 leave when keyframe b
(or the next scene, or the end of the stream) arrives.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import torch

from ptcodec import conditioning
from ptcodec.conditioning import FramePlan
from ptcodec.errors import DamageWarning, GeneratorError, PtvError
from ptcodec.generators.base import Generator
from ptcodec.generators.onestep import initial_noise
from ptcodec.media.pixels import to_uint8
from ptcodec.ptv.framing import read_packet_units
from ptcodec.ptv.packet import Packet
from ptcodec.ptv.syntax import UNKNOWN_FINGERPRINT, PrevLatentRule
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, Unit
from ptcodec.quant import dequantize_keyframe

Factors = tuple[np.ndarray, np.ndarray]


@dataclass
class DecodedFrame:
    index: int
    image: np.ndarray
    """RGB uint8 (H, W, 3): the spec's truncation of the generator's [-1, 1] output."""
    signed: np.ndarray
    """The generator's output itself, float32 (3, H, W) in [-1, 1]."""
    concealed: bool = False
    """A copy of the last good frame, standing in for frames lost to damage."""

    def to_av(self, time_base) -> "object":
        """As an av.VideoFrame (rgb24) with pts = frame index in `time_base`."""
        import av

        frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts = self.index
        frame.time_base = time_base
        return frame


def check_generator(header: SequenceHeader, generator: Generator, *, check_fingerprint: bool = True) -> None:
    """Refuse a generator that is not the one the stream was made for."""
    if header.generator_id != generator.id:
        raise GeneratorError(f"stream needs generator {header.generator_id!r}, got {generator.id!r}")
    shape = (header.tokens, header.embed_dim, header.latent_channels, header.latent_downscale)
    have = (generator.tokens, generator.embed_dim, generator.latent_channels, generator.downscale)
    if shape != have:
        raise GeneratorError(
            f"stream needs (tokens, embed_dim, latent channels, downscale) = {shape}; generator "
            f"{generator.id!r} has {have}"
        )
    if check_fingerprint and header.generator_fingerprint != UNKNOWN_FINGERPRINT:
        if generator.fingerprint() != header.generator_fingerprint:
            raise GeneratorError(
                f"stream was made with other {generator.id!r} weights (fingerprint "
                f"{header.generator_fingerprint.hex()[:16]}..., loaded {generator.fingerprint().hex()[:16]}...); "
                "load the weights it names, or pass --ignore-fingerprint"
            )


def run_generator(
    generator: Generator, noise: np.ndarray, cond: np.ndarray, max_batch: int
) -> tuple[np.ndarray, np.ndarray]:
    """(frames (B, 3, H, W), latents (B, C, h, w)) as float32 NumPy, in chunks of max_batch."""
    frames, latents = [], []
    with torch.no_grad():
        for i in range(0, len(cond), max_batch):
            f, z = generator.generate(torch.from_numpy(noise[i : i + max_batch]), torch.from_numpy(cond[i : i + max_batch]))
            frames.append(f.float().cpu().numpy())
            latents.append(z.float().cpu().numpy())
    return np.concatenate(frames), np.concatenate(latents)


@dataclass
class _Key:
    """The last keyframe seen: its factors and what the generator made of it."""

    index: int
    factors: Factors
    frame: np.ndarray
    latent: np.ndarray


class Decoder:
    """Feed units in stream order with `push`; call `flush` at the end of the stream."""

    def __init__(
        self, header: SequenceHeader, generator: Generator, *, max_batch: int = 16, check_fingerprint: bool = True
    ) -> None:
        check_generator(header, generator, check_fingerprint=check_fingerprint)
        self.header = header
        self.generator = generator
        self.max_batch = max_batch
        self.n0 = initial_noise(header.noise_seed, (1, *header.latent_shape))
        self.key: _Key | None = None
        self._scene_latent: tuple[int, np.ndarray] | None = None
        self.frames_out = 0
        self.next_index = 0
        """The frame the decoder outputs next."""
        self._last: DecodedFrame | None = None
        self._lost = False
        self._expected: int | None = None

    # -- the pieces the encoder's closed loop reuses ---------------------------
    def noise_from(self, latent: np.ndarray) -> np.ndarray:
        """N = w_prev * Z_prev + w_noise * N0 (spec 12.8), bit-exact."""
        return conditioning.mix_noise(latent, self.n0, self.header.gamma_num, self.header.gamma_den)

    def segment_conditioning(self, left: Factors, right: Factors, a: int, b: int) -> np.ndarray:
        """c_t for t = a+1 .. b (spec 12.5), float32 (b - a, m, n)."""
        factors = {a: left, b: right}
        plans = [FramePlan(t, 0, a, b if t < b else None, None) for t in range(a + 1, b)]
        conds = [conditioning.frame_conditioning(p, factors, self.header.interp_rule) for p in plans]
        conds.append(conditioning.compose(*right))
        return np.stack(conds)

    def generate_chain(self, z_prev: np.ndarray, cond: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frames from conditioning (B, m, n) whose input noise comes from z_prev:
        all from z_prev under the segment-start rule (one batch), or each from the
        frame before under the previous-frame rule (one at a time)."""
        if self.header.prev_latent_rule == PrevLatentRule.SEGMENT_START:
            noise = np.repeat(self.noise_from(z_prev), len(cond), axis=0)
            return run_generator(self.generator, noise, cond, self.max_batch)
        frames, latents = [], []
        for c in cond:
            f, z = run_generator(self.generator, self.noise_from(z_prev), c[None], 1)
            frames.append(f)
            latents.append(z)
            z_prev = z
        return np.concatenate(frames), np.concatenate(latents)

    # -- packets in, frames out (like av.CodecContext.decode) ----------------------
    def decode(self, packet: Packet | None) -> list[DecodedFrame]:
        """One temporal unit in, the frames it completes out; None flushes.

        A packet that does not parse, or a gap in the packets (a pts other than the
        previous packet's pts + duration), gives a DamageWarning naming the time;
        the last good frame is then held until the next random access point, and
        decoding goes on from there (spec 11.3)."""
        if packet is None:
            out = [] if self._lost else self.flush()
            if self.header.frame_count:
                out += self._conceal(self.header.frame_count) if self._lost else []
            return out
        try:
            units = read_packet_units(packet.data, self.header)
        except PtvError as error:
            return self._lose(packet.pts, f"damaged packet ({error})")
        if self._expected is not None and packet.pts != self._expected and not self._lost:
            out = self._lose(self._expected, f"missing data (next packet at frame {packet.pts})")
        else:
            out = []
        self._expected = packet.pts + packet.duration if packet.duration else None
        if self._lost:
            if not isinstance(units[0], SceneInit):
                return out
            out += self._conceal(packet.pts)
            self._lost = False
        for unit in units:
            out += self.push(unit)
        return out

    def _lose(self, frame: int, what: str) -> list[DecodedFrame]:
        seconds = float(frame * self.header.time_base)
        warnings.warn(DamageWarning(
            f"{what} at {seconds:.3f} s (frame {frame}); holding the last frame until the next random access point"),
            stacklevel=3)
        out = []
        if self.key is not None and not self._lost:
            out.append(self._frame(self.key.index, self.key.frame))
        self.key, self._scene_latent, self._lost = None, None, True
        return out

    def _conceal(self, end: int) -> list[DecodedFrame]:
        out = []
        while self.next_index < end and self._last is not None:
            last = self._last
            out.append(self._emit(DecodedFrame(self.next_index, last.image, last.signed, concealed=True)))
        return out

    # -- stream input ----------------------------------------------------------
    def push(self, unit: Unit) -> list[DecodedFrame]:
        """Take one unit; returns the frames it completes (possibly none)."""
        if isinstance(unit, SceneInit):
            out = self._end_scene(unit.frame_index)
            self._scene_latent = (unit.frame_index, unit.latent())
            return out
        if isinstance(unit, Keyframe):
            return self._keyframe(unit)
        return []  # metadata, padding and reserved units play no part (spec 12.1)

    def flush(self) -> list[DecodedFrame]:
        """The end of the stream: the last keyframe and the frames that hold it."""
        if self.key is None:
            return []
        total = self.header.frame_count or self.key.index + 1
        return self._end_scene(total)

    # -- internals -------------------------------------------------------------
    def _keyframe(self, unit: Keyframe) -> list[DecodedFrame]:
        factors = dequantize_keyframe(unit)
        b = unit.frame_index
        if self._scene_latent is not None and self._scene_latent[0] == b:
            cond = conditioning.compose(*factors)[None]
            frames, latents = run_generator(self.generator, self.noise_from(self._scene_latent[1]), cond, 1)
            self._scene_latent = None
            self.key = _Key(b, factors, frames[0], latents[0:1])
            return []
        key = self.key
        assert key is not None, "a keyframe without a scene (the reader's rules prevent this)"
        cond = self.segment_conditioning(key.factors, factors, key.index, b)
        frames, latents = self.generate_chain(key.latent, cond)
        out = [self._frame(key.index, key.frame)]
        out += [self._frame(key.index + 1 + i, frames[i]) for i in range(len(frames) - 1)]
        self.key = _Key(b, factors, frames[-1], latents[-1:])
        return out

    def _end_scene(self, end: int) -> list[DecodedFrame]:
        """Output the last keyframe and the frames up to `end` that hold it."""
        key = self.key
        if key is None:
            return []
        out = [self._frame(key.index, key.frame)]
        held = end - key.index - 1
        if held > 0:
            cond = np.repeat(conditioning.compose(*key.factors)[None], held, axis=0)
            frames, _ = self.generate_chain(key.latent, cond)
            out += [self._frame(key.index + 1 + i, f) for i, f in enumerate(frames)]
        self.key = None
        return out

    def _frame(self, index: int, signed: np.ndarray) -> DecodedFrame:
        return self._emit(DecodedFrame(index, to_uint8(signed.transpose(1, 2, 0)), signed))

    def _emit(self, frame: DecodedFrame) -> DecodedFrame:
        self.frames_out += 1
        self.next_index = frame.index + 1
        self._last = frame
        return frame


def decode_units(header: SequenceHeader, units: Iterable[Unit], generator: Generator, **options) -> list[DecodedFrame]:
    """Every frame of a parsed stream (units after the sequence header, in order), in one call."""
    decoder = Decoder(header, generator, **options)
    frames = [frame for unit in units for frame in decoder.push(unit)]
    return frames + decoder.flush()
