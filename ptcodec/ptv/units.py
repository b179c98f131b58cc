"""The units of a `.ptv` stream as Python values, and their payload codec.

Each dataclass holds exactly the syntax elements of one unit, so that
`decode_payload(encode_payload(x)) == x` and `encode_payload(decode_payload(b)) == b`:
every valid byte string has one canonical parse. Factor codes and latents stay
as bytes; the array views (`u_codes`, `latent`) are computed on demand.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

import construct as c
import numpy as np

from ptcodec.errors import CrcMismatchError, InvalidValueError, PtvError, TruncatedError
from ptcodec.ptv import syntax
from ptcodec.ptv.levels import LEVELS
from ptcodec.ptv.syntax import LatentDtype, QuantScheme, UnitType


@dataclass(frozen=True)
class SequenceHeader:
    level: int
    crc_present: bool
    generator_id: str
    generator_fingerprint: bytes
    width: int
    height: int
    time_base_num: int
    time_base_den: int
    frame_count: int
    tokens: int
    embed_dim: int
    latent_channels: int
    latent_downscale: int
    noise_seed: int
    gamma_num: int
    gamma_den: int
    prev_latent_rule: int
    interp_rule: int
    quant_schemes: int
    noise_rule: int = syntax.NoiseRule.NUMPY_LEGACY_GAUSSIAN
    version_major: int = syntax.VERSION_MAJOR
    version_minor: int = syntax.VERSION_MINOR
    extension_data: bytes = b""

    @property
    def time_base(self) -> Fraction:
        """Seconds per frame: frame i is presented at i * time_base."""
        return Fraction(self.time_base_num, self.time_base_den)

    @property
    def fps(self) -> Fraction:
        return 1 / self.time_base

    @property
    def latent_shape(self) -> tuple[int, int, int]:
        ds = self.latent_downscale
        return (self.latent_channels, self.height // ds, self.width // ds)


@dataclass(frozen=True)
class SceneInit:
    frame_index: int
    dtype: int
    channels: int
    height: int
    width: int
    data: bytes = field(repr=False)

    def latent(self) -> np.ndarray:
        """The latent as float32 (1, C, H, W); f16 and bf16 widen exactly."""
        shape = (1, self.channels, self.height, self.width)
        if self.dtype == LatentDtype.F32:
            return np.frombuffer(self.data, dtype="<f4").reshape(shape).astype(np.float32)
        if self.dtype == LatentDtype.F16:
            return np.frombuffer(self.data, dtype="<f2").reshape(shape).astype(np.float32)
        # bfloat16 is the top half of a float32.
        halves = np.frombuffer(self.data, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape).copy()

    @classmethod
    def from_latent(cls, frame_index: int, latent: np.ndarray, dtype: int = LatentDtype.F32) -> "SceneInit":
        """Store a (1, C, H, W) or (C, H, W) float latent; f16 rounds to nearest, bf16 to nearest-even."""
        arr = np.asarray(latent, dtype=np.float32)
        if arr.ndim == 4:
            if arr.shape[0] != 1:
                raise ValueError("scene-init latent must hold one frame")
            arr = arr[0]
        channels, height, width = arr.shape
        if dtype == LatentDtype.F32:
            data = arr.astype("<f4").tobytes()
        elif dtype == LatentDtype.F16:
            data = arr.astype("<f2").tobytes()
        elif dtype == LatentDtype.BF16:
            bits = arr.view(np.uint32).astype(np.uint64)
            rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
            data = rounded.astype("<u2").tobytes()
        else:
            raise ValueError(f"unknown latent dtype {dtype}")
        return cls(frame_index, int(dtype), channels, height, width, data)


@dataclass(frozen=True)
class Keyframe:
    """One keyframe's quantized factors. Per-tensor streams hold one scale and
    zero point per factor; per-component streams hold `rank` of each."""

    frame_index: int
    rank: int
    quant_scheme: int
    u_scale: tuple[float, ...]
    u_zero_point: tuple[float, ...]
    v_scale: tuple[float, ...]
    v_zero_point: tuple[float, ...]
    u: bytes = field(repr=False)
    v: bytes = field(repr=False)

    def u_codes(self) -> np.ndarray:
        """uint8 (m, r), row-major as coded."""
        return np.frombuffer(self.u, dtype=np.uint8).reshape(-1, self.rank)

    def v_codes(self) -> np.ndarray:
        """uint8 (r, n), row-major as coded."""
        return np.frombuffer(self.v, dtype=np.uint8).reshape(self.rank, -1)


@dataclass(frozen=True)
class Metadata:
    entries: tuple[tuple[str, bytes], ...]


@dataclass(frozen=True)
class Padding:
    size: int


@dataclass(frozen=True)
class ReservedUnit:
    """A unit of a type this version does not define: kept so it can be skipped and rewritten."""

    unit_type: int
    payload: bytes = field(repr=False)


Unit = Union[SequenceHeader, SceneInit, Keyframe, Metadata, Padding, ReservedUnit]

UNIT_TYPES: dict[type, int] = {
    SequenceHeader: UnitType.SEQUENCE_HEADER,
    SceneInit: UnitType.SCENE_INIT,
    Keyframe: UnitType.KEYFRAME,
    Metadata: UnitType.METADATA,
    Padding: UnitType.PADDING,
}


def unit_type_of(unit: Unit) -> int:
    if isinstance(unit, ReservedUnit):
        return unit.unit_type
    return UNIT_TYPES[type(unit)]


def unit_name(unit_type: int) -> str:
    try:
        return UnitType(unit_type).name.lower()
    except ValueError:
        return f"reserved_{unit_type}"


def parse_params(header: SequenceHeader | None) -> dict:
    """The values from the sequence header that the payload syntax depends on."""
    if header is None:
        return {"crc_present": False, "max_unit_size": syntax.MAX_SEQUENCE_HEADER_SIZE, "expect_sequence_header": True}
    level = LEVELS[header.level]
    channels, height, width = header.latent_shape
    return {
        "crc_present": header.crc_present,
        "max_unit_size": level.max_unit_size,
        "max_rank": level.max_rank,
        "tokens": header.tokens,
        "embed_dim": header.embed_dim,
        "latent_shape": {"channels": channels, "height": height, "width": width},
    }


def _check_keyframe_size(raw, payload_size: int, header: SequenceHeader) -> None:
    rank = raw.rank
    params = 16 if raw.quant_scheme == QuantScheme.PER_TENSOR else 10 * rank
    expected = 6 + params + header.tokens * rank + rank * header.embed_dim
    if payload_size != expected:
        raise InvalidValueError(
            f"payload_size {payload_size} disagrees with the keyframe's fields ({expected} bytes)", field="payload_size"
        )


def run_construct(action, *args, short: type[PtvError] = TruncatedError, **params):
    """Run a construct parse/build and turn its errors into PtvErrors with a field path.

    `short` is the error for running out of bytes: truncation when reading a
    file, but an invalid size when a payload is shorter than its own fields.
    """
    try:
        return action(*args, **params)
    except PtvError:
        raise
    except (c.StreamError, struct.error) as e:
        what = "data ends inside a field" if short is TruncatedError else "payload ends inside a field"
        raise short(what, field=syntax.field_path(getattr(e, "path", None))) from None
    except c.ChecksumError:
        raise CrcMismatchError("CRC-32C mismatch", field="crc") from None
    except c.ConstError as e:
        raise InvalidValueError("reserved or forbidden bits are not zero", field=syntax.field_path(e.path)) from None
    except c.TerminatedError as e:
        raise InvalidValueError("payload has bytes after its last field", field=syntax.field_path(e.path)) from None
    except c.ConstructError as e:
        raise InvalidValueError(f"malformed field ({e.__class__.__name__})", field=syntax.field_path(e.path)) from None
    except UnicodeError:
        raise InvalidValueError("string is not ASCII") from None


def decode_payload(unit_type: int, payload: bytes, header: SequenceHeader | None) -> Unit:
    """Parse one unit's payload into its dataclass (syntax only; see rules for semantics)."""
    if unit_type not in UnitType._value2member_map_:
        return ReservedUnit(unit_type, payload)
    kind = UnitType(unit_type)
    if kind != UnitType.SEQUENCE_HEADER and header is None:
        raise InvalidValueError(f"{kind.name.lower()} unit before the sequence header", field="unit_type")
    definition = syntax.KEYFRAME_COMPILED if kind == UnitType.KEYFRAME else syntax.PAYLOADS[kind]
    raw = run_construct(definition.parse, payload, short=InvalidValueError, **parse_params(header))
    if kind == UnitType.SEQUENCE_HEADER:
        return SequenceHeader(
            version_major=raw.version_major,
            version_minor=raw.version_minor,
            level=raw.level,
            crc_present=raw.flags.crc_present,
            generator_id=raw.generator_id,
            generator_fingerprint=raw.generator_fingerprint,
            width=raw.width,
            height=raw.height,
            time_base_num=raw.time_base_num,
            time_base_den=raw.time_base_den,
            frame_count=raw.frame_count,
            tokens=raw.tokens,
            embed_dim=raw.embed_dim,
            latent_channels=raw.latent_channels,
            latent_downscale=raw.latent_downscale,
            noise_rule=raw.noise_rule,
            noise_seed=raw.noise_seed,
            gamma_num=raw.gamma_num,
            gamma_den=raw.gamma_den,
            prev_latent_rule=raw.prev_latent_rule,
            interp_rule=raw.interp_rule,
            quant_schemes=raw.quant_schemes,
            extension_data=raw.extension_data,
        )
    if kind == UnitType.SCENE_INIT:
        return SceneInit(raw.frame_index, raw.dtype, raw.channels, raw.height, raw.width, raw.data)
    if kind == UnitType.KEYFRAME:
        _check_keyframe_size(raw, len(payload), header)
        q = raw.quant_params
        if raw.quant_scheme == QuantScheme.PER_TENSOR:
            scales = ((q.u_scale,), (q.u_zero_point,), (q.v_scale,), (q.v_zero_point,))
        else:
            scales = (
                _floats(q.u_scales),
                tuple(float(z) for z in q.u_zero_points),
                _floats(q.v_scales),
                tuple(float(z) for z in q.v_zero_points),
            )
        return Keyframe(raw.frame_index, raw.rank, raw.quant_scheme, *scales, raw.u, raw.v)
    if kind == UnitType.METADATA:
        return Metadata(tuple((e.key, e.value) for e in raw.entries))
    return Padding(len(raw.padding))


def encode_payload(unit: Unit, header: SequenceHeader | None) -> bytes:
    """Build one unit's payload bytes; the inverse of `decode_payload`."""
    if isinstance(unit, ReservedUnit):
        return unit.payload
    kind = UnitType(unit_type_of(unit))
    definition = syntax.PAYLOADS[kind]
    params = parse_params(unit if isinstance(unit, SequenceHeader) else header)
    if isinstance(unit, SequenceHeader):
        values = {
            "version_major": unit.version_major,
            "version_minor": unit.version_minor,
            "level": unit.level,
            "flags": {"crc_present": unit.crc_present},
            "generator_id": unit.generator_id,
            "generator_fingerprint": unit.generator_fingerprint,
            "width": unit.width,
            "height": unit.height,
            "time_base_num": unit.time_base_num,
            "time_base_den": unit.time_base_den,
            "frame_count": unit.frame_count,
            "tokens": unit.tokens,
            "embed_dim": unit.embed_dim,
            "latent_channels": unit.latent_channels,
            "latent_downscale": unit.latent_downscale,
            "noise_rule": unit.noise_rule,
            "noise_seed": unit.noise_seed,
            "gamma_num": unit.gamma_num,
            "gamma_den": unit.gamma_den,
            "prev_latent_rule": unit.prev_latent_rule,
            "interp_rule": unit.interp_rule,
            "quant_schemes": unit.quant_schemes,
            "extension_data": unit.extension_data,
        }
    elif isinstance(unit, SceneInit):
        values = vars(unit)
    elif isinstance(unit, Keyframe):
        if unit.quant_scheme == QuantScheme.PER_TENSOR:
            quant = {
                "u_scale": unit.u_scale[0],
                "u_zero_point": unit.u_zero_point[0],
                "v_scale": unit.v_scale[0],
                "v_zero_point": unit.v_zero_point[0],
            }
        else:
            quant = {
                "u_scales": np.asarray(unit.u_scale, dtype="<f4").tobytes(),
                "u_zero_points": bytes(int(z) for z in unit.u_zero_point),
                "v_scales": np.asarray(unit.v_scale, dtype="<f4").tobytes(),
                "v_zero_points": bytes(int(z) for z in unit.v_zero_point),
            }
        values = {**vars(unit), "quant_params": quant}
    elif isinstance(unit, Metadata):
        values = {"entries": [{"key": k, "value_size": len(v), "value": v} for k, v in unit.entries]}
    else:
        values = {"padding": bytes(unit.size)}
    return run_construct(definition.build, values, **params)


def _floats(data: bytes) -> tuple[float, ...]:
    return tuple(float(x) for x in np.frombuffer(data, dtype="<f4"))

