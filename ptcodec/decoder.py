"""The reference decoder: units in, frames out (spec/ptv.md, section 12).

Everything before the generator is the normative process of `ptcodec.process`
(dequantization, conditioning, noise, 8-bit output), which is bit-exact; this
module only decides what to generate when, and in which batches. Batches are fixed by the stream and `max_batch`, not
by how the caller takes the frames: a scene's first keyframe alone, then each
segment (a, b] between two keyframes in chunks of max_batch frames from a + 1
(under the segment-start rule all its frames share the same input noise), then
the held frames after a scene's last keyframe, in chunks of max_batch likewise.
The encoder reconstructs through this same class, so its closed loop sees
exactly the frames a decoder will output, bit for bit on the same machine.

Frames are made lazily, so memory does not grow with the number of frames or of
held frames: `push`, `flush` and `decode_iter` return iterators, and a chunk is
generated (its conditioning computed) only when its first frame is asked for;
the decoder then holds one chunk, the last keyframe's factors and latent.
Work is queued in stream order: an iterator the caller leaves unfinished is
finished by the next one, which hands out the left-over frames first, so no
frame is lost or reordered. `decode(packet) -> list` is the PyAV shape, and
`decode_range` seeks (from the access point at or before a frame).

A keyframe's own frame is generated with the segment that ends at it, so a
decoder outputs frames one segment late: frames a .. b-1 leave when keyframe b
(or the next scene, or the end of the stream) arrives. The level bounds a
segment (max_frame_gap) and the frames of a stream (max_frame_count); the
decoder checks both before generating, also for packets no reader has checked
(Matroska Blocks).
"""

from __future__ import annotations

import copy
import itertools
import warnings
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
import torch

from ptcodec.errors import DamageWarning, GeneratorError, InvalidValueError, PtvError
from ptcodec.generators.base import Generator
from ptcodec.process import conditioning
from ptcodec.process.conditioning import FramePlan
from ptcodec.process.noise import initial_noise, mix_noise
from ptcodec.process.pixels import to_uint8
from ptcodec.process.quant import dequantize_keyframe
from ptcodec.ptv import rules
from ptcodec.ptv.framing import read_packet_units
from ptcodec.ptv.packet import Packet
from ptcodec.ptv.syntax import UNKNOWN_FINGERPRINT, PrevLatentRule
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, Unit

if TYPE_CHECKING:
    import av

    from ptcodec.container import PromptStream
    from ptcodec.generators import GeneratorOptions

Factors = tuple[np.ndarray, np.ndarray]


@dataclass
class DecodedFrame:
    """A frame out of the decoder: the one frame type of ptcodec's API (shaped like av.VideoFrame:
    `pts`, `time_base`, `to_ndarray()`; `to_av()` makes one)."""

    index: int
    image: np.ndarray
    """RGB uint8 (H, W, 3): the spec's truncation of the generator's [-1, 1] output."""
    signed: np.ndarray
    """The generator's output itself, float32 (3, H, W) in [-1, 1]."""
    time_base: Fraction
    concealed: bool = False
    """A copy of the last good frame, standing in for frames lost to damage."""

    @property
    def pts(self) -> int:
        """The frame index, in `time_base` units."""
        return self.index

    def to_ndarray(self, format: str = "rgb24") -> np.ndarray:  # noqa: A002 - PyAV's keyword
        """The RGB uint8 picture (H, W, 3), as av.VideoFrame.to_ndarray(format="rgb24") gives it."""
        if format != "rgb24":
            raise ValueError(f"decoded frames are rgb24; convert {format!r} with to_av().reformat()")
        return self.image

    def to_av(self) -> "av.VideoFrame":
        """As an av.VideoFrame (rgb24) with the same pts and time_base."""
        import av

        frame = av.VideoFrame.from_ndarray(self.image, format="rgb24")
        frame.pts = self.index
        frame.time_base = self.time_base
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
class KeyState:
    """The last keyframe decoded: its dequantized factors and what the generator made of it.
    The encoder's closed loop fits the next keyframe against exactly this (`Decoder.key`)."""

    index: int
    factors: Factors
    frame: np.ndarray
    latent: np.ndarray


class Decoder:
    """`Decoder(header, generator)`, or `Decoder.load(stream)` to load the generator the stream names.

    Packets in, frames out as av.CodecContext does: `decode(packet)`, then `decode(None)`;
    `decode_range` seeks. Or units in stream order with `push`, and `flush` at the end
    (the encoder's closed loop). All return the frames completed (see the module docstring)."""

    def __init__(
        self, header: SequenceHeader, generator: Generator, *, max_batch: int = 16, check_fingerprint: bool = True
    ) -> None:
        if not isinstance(header, SequenceHeader) or generator is None or isinstance(generator, str):
            raise TypeError("Decoder takes a sequence header and a Generator; for codec private data, a container's "
                            "stream or a generator by id, use Decoder.load(...)")
        check_generator(header, generator, check_fingerprint=check_fingerprint)
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        self.header = header
        self.generator = generator
        self.max_batch = max_batch
        self.n0 = initial_noise(header.noise_seed, (1, *header.latent_shape))
        self.key: KeyState | None = None
        """The last keyframe of the current scene, until the scene ends (public: the encoder reads it)."""
        self._scene_latent: tuple[int, np.ndarray] | None = None
        self.next_index = 0
        """The frame the decoder outputs next."""
        self._last: DecodedFrame | None = None
        self._lost = False
        self._expected: int | None = None
        self._rules = rules.StreamRules(header, at_access_point=True)
        """The stream's order and level rules, for units as they come (packets may start anywhere)."""
        self._work: deque[Iterator[DecodedFrame]] = deque()
        """Queued work, in stream order: each item yields its frames as it generates them."""

    @classmethod
    def load(cls, stream: "bytes | SequenceHeader | PromptStream", generator: Generator | None = None, *,
             options: "GeneratorOptions | None" = None, max_batch: int = 16,
             check_fingerprint: bool = True) -> "Decoder":
        """A decoder for a stream given by its codec private data (bytes), its sequence header or a
        container's prompt stream; the generator the stream names is loaded (with `options`) unless given."""
        from ptcodec.container import PromptStream
        from ptcodec.generators import load_generator
        from ptcodec.ptv import PtvReader

        if isinstance(stream, PromptStream):
            header = stream.header
        elif isinstance(stream, (bytes, bytearray)):
            with PtvReader(bytes(stream), path="codec private data") as reader:
                header = reader.header
        else:
            header = stream
        gen = generator or load_generator(header.generator_id, options)
        return cls(header, gen, max_batch=max_batch, check_fingerprint=check_fingerprint)

    # -- the pieces the encoder's closed loop reuses ---------------------------
    def noise_from(self, latent: np.ndarray) -> np.ndarray:
        """N = w_prev * Z_prev + w_noise * N0 (spec 12.8), bit-exact."""
        return mix_noise(latent, self.n0, self.header.gamma_num, self.header.gamma_den)

    def segment_conditioning(self, left: Factors, right: Factors, a: int, b: int, start: int, stop: int) -> np.ndarray:
        """c_t for t = start .. stop-1 of the segment (a, b] (spec 12.5), float32 (stop - start, m, n)."""
        factors = {a: left, b: right}
        conds = [conditioning.frame_conditioning(FramePlan(t, 0, a, b, None), factors, self.header.interp_rule)
                 for t in range(start, min(stop, b))]
        if stop > b:
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
        """One temporal unit in, the frames it completes out; None flushes (see `decode_iter`)."""
        return list(self.decode_iter(packet))

    def decode_iter(self, packet: Packet | None) -> Iterator[DecodedFrame]:
        """`decode`, a frame at a time: frames are generated as they are taken.

        A packet that does not parse, or a gap in the packets (a pts other than the
        previous packet's pts + duration), gives a DamageWarning naming the time;
        the last good frame is then held until the next random access point, and
        decoding goes on from there (spec 11.3)."""
        return self._queue(self._packet(packet))

    def decode_range(self, packets: Iterable[Packet], start: int = 0, end: int | None = None
                     ) -> Iterator[DecodedFrame]:
        """Frames start .. end-1 of a stream's packets, seeking: decoding begins at the last access
        point at or before `start` (or, when there is none, at the next one, with a warning);
        frames before `start` are generated but not returned."""
        for packet in itertools.chain(_from_access_point(packets, start), [None]):
            for frame in self.decode_iter(packet):  # a frame at a time: a long temporal unit is never held whole
                if frame.index >= start and (end is None or frame.index < end):
                    yield frame
                if end is not None and self.next_index >= end:
                    return

    def _packet(self, packet: Packet | None) -> Iterator[DecodedFrame]:
        if packet is None:
            if not self._lost:
                yield from self._flush()
            elif self.header.frame_count:
                yield from self._conceal(self.header.frame_count)
            return
        try:
            units = read_packet_units(packet.data, self.header)
        except PtvError as error:
            yield from self._lose(packet.pts, f"damaged packet ({error})")
            return
        frame = next(u.frame_index for u in units if isinstance(u, (SceneInit, Keyframe)))
        if packet.pts != frame:  # the payload's frame index is the one that counts (spec B.2)
            yield from self._lose(packet.pts, f"damaged packet (its pts {packet.pts} is not its frame {frame})")
            return
        if self._expected is not None and frame != self._expected and not self._lost:
            yield from self._lose(self._expected, f"missing data (next packet at frame {frame})")
        self._expected = frame + packet.duration if packet.duration else None
        if self._lost and not isinstance(units[0], SceneInit):
            return
        trial = copy.deepcopy(self._rules)  # a packet is taken whole or not at all
        try:  # before concealing up to it: the level bounds that too
            units = [trial.check(unit) for unit in units]
        except PtvError as error:
            yield from self._lose(frame, f"undecodable packet ({error})")
            return
        self._rules = trial
        if self._lost:
            yield from self._conceal(frame)
            self._lost = False
        for unit in units:
            yield from self._unit(unit)

    def _lose(self, frame: int, what: str) -> Iterator[DecodedFrame]:
        seconds = float(frame * self.header.time_base)
        warnings.warn(DamageWarning(
            f"{what} at {seconds:.3f} s (frame {frame}); holding the last frame until the next random access point"),
            stacklevel=2)
        if self.key is not None and not self._lost:
            yield self._frame(self.key.index, self.key.frame)
        self.key, self._scene_latent, self._lost = None, None, True
        self._rules = rules.StreamRules(self.header, at_access_point=True)  # it goes on at the next one

    def _conceal(self, end: int) -> Iterator[DecodedFrame]:
        while self.next_index < end and self._last is not None:
            last = self._last
            yield self._emit(DecodedFrame(self.next_index, last.image, last.signed, self.header.time_base, concealed=True))

    # -- stream input ----------------------------------------------------------
    def push(self, unit: Unit) -> Iterator[DecodedFrame]:
        """Take one unit (checked at once against the stream rules); returns an iterator over the
        frames it completes (possibly none)."""
        unit = self._rules.check(unit)
        return self._queue(self._unit(unit))

    def flush(self, end: int | None = None) -> Iterator[DecodedFrame]:
        """The end of the stream: the last keyframe and the frames that hold it, up to the
        frame count (or `end`: where the units given end, when they are one piece of a stream)."""
        return self._queue(self._flush(end))

    def _queue(self, work: Iterator[DecodedFrame]) -> Iterator[DecodedFrame]:
        self._work.append(work)
        return self._drain()

    def _drain(self) -> Iterator[DecodedFrame]:
        """Frames of the queued work, oldest first (any iterator the decoder returned drains them all)."""
        while self._work:
            frame = next(self._work[0], None)
            if frame is None:
                self._work.popleft()
            else:
                yield frame

    # -- internals: generators run by _drain, in stream order -------------------
    def _unit(self, unit: Unit) -> Iterator[DecodedFrame]:
        if isinstance(unit, SceneInit):  # units come checked by push or _packet (order, frames, level)
            yield from self._end_scene(unit.frame_index)
            self._scene_latent = (unit.frame_index, unit.latent())
        elif isinstance(unit, Keyframe):
            yield from self._keyframe(unit)
        # metadata, padding and reserved units play no part (spec 12.1)

    def _flush(self, end: int | None = None) -> Iterator[DecodedFrame]:
        if self.key is None:
            return
        self._rules.finish()  # the held tail is within the level too
        yield from self._end_scene(end or self.header.frame_count or self.key.index + 1)

    def _keyframe(self, unit: Keyframe) -> Iterator[DecodedFrame]:
        factors = dequantize_keyframe(unit)
        b = unit.frame_index
        if self._scene_latent is not None and self._scene_latent[0] == b:
            cond = conditioning.compose(*factors)[None]
            frames, latents = run_generator(self.generator, self.noise_from(self._scene_latent[1]), cond, 1)
            self._scene_latent = None
            self.key = KeyState(b, factors, frames[0], latents[0:1])
            return
        key = self.key
        assert key is not None, "the stream rules admit no keyframe without its scene"
        yield self._frame(key.index, key.frame)
        chunks = (self.segment_conditioning(key.factors, factors, key.index, b, t, t + self.max_batch)
                  for t in range(key.index + 1, b + 1, self.max_batch))
        for t, frame, latent in self._generate(key.index + 1, key.latent, chunks):
            if t < b:
                yield self._frame(t, frame)
            else:
                self.key = KeyState(b, factors, frame, latent[None])

    def _end_scene(self, end: int) -> Iterator[DecodedFrame]:
        """Output the last keyframe and the frames up to `end` that hold it (the caller checked the gap)."""
        key = self.key
        if key is None:
            return
        yield self._frame(key.index, key.frame)
        cond = conditioning.compose(*key.factors)[None]
        chunks = (np.repeat(cond, min(self.max_batch, end - t), axis=0)
                  for t in range(key.index + 1, end, self.max_batch))
        for t, frame, _ in self._generate(key.index + 1, key.latent, chunks):
            yield self._frame(t, frame)
        self.key = None

    def _generate(self, first: int, z_prev: np.ndarray, chunks: Iterable[np.ndarray]
                  ) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """(frame index, frame, latent) from `first` on, one chunk of conditioning at a time;
        under the previous-frame rule each chunk starts from the last latent of the one before."""
        t = first
        for cond in chunks:
            frames, latents = self.generate_chain(z_prev, cond)
            if self.header.prev_latent_rule == PrevLatentRule.PREVIOUS_FRAME:
                z_prev = latents[-1:]
            for frame, latent in zip(frames, latents, strict=True):
                yield t, frame, latent
                t += 1

    def _frame(self, index: int, signed: np.ndarray) -> DecodedFrame:
        return self._emit(DecodedFrame(index, to_uint8(signed.transpose(1, 2, 0)), signed, self.header.time_base))

    def _emit(self, frame: DecodedFrame) -> DecodedFrame:
        self.next_index = frame.index + 1
        self._last = frame
        return frame


def iter_frames(header: SequenceHeader, units: Iterable[Unit], generator: Generator,
                **options) -> Iterator[DecodedFrame]:
    """Every frame of a parsed stream (units after the sequence header, in order), as generated."""
    decoder = Decoder(header, generator, **options)
    for unit in units:
        yield from decoder.push(unit)
    yield from decoder.flush()


def decode_units(header: SequenceHeader, units: Iterable[Unit], generator: Generator, **options) -> list[DecodedFrame]:
    """Every frame of a parsed stream (units after the sequence header, in order), in one call."""
    return list(iter_frames(header, units, generator, **options))


def _from_access_point(packets: Iterable[Packet], start: int) -> Iterator[Packet]:
    """The packets from the last access point at or before frame `start` on.

    Without one (a Matroska track that lost its first Block, say) decoding can
    only begin at the next access point: a DamageWarning names the frame."""
    packets = iter(packets)
    held: list[Packet] = []
    skipped = 0
    for packet in packets:
        if packet.pts <= start and packet.is_keyframe:
            held = [packet]
            continue
        if packet.pts <= start and held:
            held.append(packet)
            continue
        if not held and not packet.is_keyframe:
            skipped += 1
            continue
        if not held:
            seconds = float(packet.pts * packet.time_base)
            warnings.warn(DamageWarning(
                f"no random access point at or before frame {start}; decoding starts at the next one, "
                f"{seconds:.3f} s (frame {packet.pts})"), stacklevel=3)
        yield from held
        yield packet
        held = []
        break
    else:
        if skipped and not held:
            raise InvalidValueError(f"no random access point (a packet that opens a scene) in {skipped} packets: "
                                    "nothing can be decoded")
        yield from held
        return
    yield from packets
