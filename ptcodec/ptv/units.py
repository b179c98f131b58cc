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
from typing import Any

import construct as c
import numpy as np

from ptcodec.errors import CrcMismatchError, InvalidValueError, PtvError, TruncatedError
from ptcodec.ptv import syntax
from ptcodec.ptv.levels import LEVELS
from ptcodec.ptv.syntax import LatentDtype, UnitType


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
    version_minor: int = 0
    """1 when the stream may use a version 1.1 tool; a stream without one says 1.0."""
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
        """The latent as float32 (1, C, H, W): f16 and bf16 widen exactly, u8 codes dequantize
        per channel as (binary32(q) - zero_point) * scale (spec 6.3)."""
        shape = (1, self.channels, self.height, self.width)
        if self.dtype in (LatentDtype.U8, LatentDtype.U8_CODED):
            scales, zero_points = self.latent_params()
            diff = self.latent_codes().astype(np.float32) - zero_points.reshape(-1, 1, 1)
            return (diff * scales.reshape(-1, 1, 1)).astype(np.float32).reshape(shape)
        if self.dtype == LatentDtype.F32:
            return np.frombuffer(self.data, dtype="<f4").reshape(shape).astype(np.float32)
        if self.dtype == LatentDtype.F16:
            return np.frombuffer(self.data, dtype="<f2").reshape(shape).astype(np.float32)
        # bfloat16 is the top half of a float32.
        halves = np.frombuffer(self.data, dtype="<u2").astype(np.uint32) << 16
        return halves.view(np.float32).reshape(shape).copy()

    def latent_params(self) -> tuple[np.ndarray, np.ndarray]:
        """The per-channel float32 scales and zero points of a u8 latent."""
        c = self.channels
        return (np.frombuffer(self.data, dtype="<f4", count=c).astype(np.float32),
                np.frombuffer(self.data, dtype="<f4", count=c, offset=4 * c).astype(np.float32))

    def latent_codes(self) -> np.ndarray:
        """The u8 codes (C, H, W) of a u8 latent, entropy-decoded for U8_CODED (F34 to F36)."""
        shape = (self.channels, self.height, self.width)
        body = self.data[8 * self.channels:]
        if self.dtype == LatentDtype.U8:
            return np.frombuffer(body, dtype=np.uint8).reshape(shape)
        from ptcodec.entropy import latents

        status, position, codes = latents.decode(body, shape)
        coded_error(status, position, "scene_init.coded_latent")
        return codes

    @classmethod
    def from_latent(cls, frame_index: int, latent: np.ndarray, dtype: int = LatentDtype.F32, *,
                    bits: int = 8) -> SceneInit:
        """Store a (1, C, H, W) or (C, H, W) float latent; f16 rounds to nearest, bf16 to nearest-even;
        u8 quantizes each channel over its range to `bits` bits (codes 0 .. 2^bits - 1)."""
        arr = np.asarray(latent, dtype=np.float32)
        if arr.ndim == 4:
            if arr.shape[0] != 1:
                raise ValueError("scene-init latent must hold one frame")
            arr = arr[0]
        channels, height, width = arr.shape
        if dtype in (LatentDtype.U8, LatentDtype.U8_CODED):
            if not 1 <= bits <= 8:
                raise ValueError(f"latent bits {bits} is not in 1..8")
            lo = np.minimum(arr.min(axis=(1, 2)), np.float32(0)).astype(np.float32)  # the range holds 0, as a
            hi = np.maximum(arr.max(axis=(1, 2)), np.float32(0)).astype(np.float32)  # zero point in 0..L needs
            scales = ((hi - lo) / np.float32(2**bits - 1)).astype(np.float32)
            safe = np.where(scales > 0, scales, np.float32(1))
            zero_points = np.clip(np.rint(-lo / safe), 0, 2**bits - 1).astype(np.float32)
            zero_points = np.where(scales > 0, zero_points, np.float32(0)).astype(np.float32)
            codes = np.clip(np.rint(arr / safe[:, None, None] + zero_points[:, None, None]), 0, 2**bits - 1)
            codes = np.where(scales[:, None, None] > 0, codes, 0).astype(np.uint8)
            body = codes.tobytes()
            if dtype == LatentDtype.U8_CODED:
                from ptcodec.entropy import latents

                body = latents.encode(codes)
            data = scales.astype("<f4").tobytes() + zero_points.astype("<f4").tobytes() + body
            return cls(frame_index, int(dtype), channels, height, width, data)
        if dtype == LatentDtype.F32:
            data = arr.astype("<f4").tobytes()
        elif dtype == LatentDtype.F16:
            data = arr.astype("<f2").tobytes()
        elif dtype == LatentDtype.BF16:
            words = arr.view(np.uint32).astype(np.uint64)
            rounded = (words + 0x7FFF + ((words >> 16) & 1)) >> 16
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
    predicted: bool = False
    """Coded schemes: the codes are coded as residuals against the previous keyframe (7.5.2)."""
    carry_models: bool = False
    """Coded schemes: the coder starts from the previous keyframe's final model state (7.5.3)."""
    coded_factors: bytes = field(default=b"", repr=False)
    """Coded schemes: the range-coded codes. A parsed coded keyframe has empty u and v until
    ptv.coding.FactorCoding decodes them, in stream order."""

    @property
    def coded(self) -> bool:
        return self.quant_scheme in syntax.CODED_SCHEMES

    def u_codes(self) -> np.ndarray:
        """uint8 (m, r), row-major as coded."""
        if self.coded and not self.u:
            raise ValueError("a coded keyframe's codes are decoded in stream order (ptv.coding.FactorCoding)")
        return np.frombuffer(self.u, dtype=np.uint8).reshape(-1, self.rank)

    def v_codes(self) -> np.ndarray:
        """uint8 (r, n), row-major as coded."""
        if self.coded and not self.v:
            raise ValueError("a coded keyframe's codes are decoded in stream order (ptv.coding.FactorCoding)")
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


Unit = SequenceHeader | SceneInit | Keyframe | Metadata | Padding | ReservedUnit

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


def coded_error(status: int, position: int, field_name: str) -> None:
    """Raise the forbidden value that an entropy decoder's status names (F34 to F36)."""
    from ptcodec.entropy import rans

    if status == rans.OVERRUN:
        raise InvalidValueError("the range decoder needs a byte past the end of its coded data", field=field_name)
    if status == rans.BAD_START:
        raise InvalidValueError("coded data shorter than 4 bytes or with an impossible initial state",
                                field=field_name)
    if status == rans.BAD_END:
        raise InvalidValueError(f"coded data does not terminate at its end (stopped at byte {position})",
                                field=field_name)


def _check_keyframe_size(raw, payload_size: int, header: SequenceHeader) -> None:
    rank = raw.rank
    expected = (syntax.KEYFRAME_FIXED_SIZE + syntax.quant_params_size(raw.quant_scheme, rank)
                + header.tokens * rank + rank * header.embed_dim)
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
    coded = len(payload) > syntax.SCHEME_OFFSET and payload[syntax.SCHEME_OFFSET] in syntax.CODED_SCHEMES
    if kind == UnitType.KEYFRAME and coded:
        return _decode_coded_keyframe(payload, header)
    raw = run_construct(definition.parse, payload, short=InvalidValueError, **parse_params(header))
    if kind == UnitType.SEQUENCE_HEADER:
        return SequenceHeader(**_fields_from_syntax(syntax.SEQUENCE_HEADER, raw))
    if kind == UnitType.SCENE_INIT:
        return SceneInit(**_fields_from_syntax(syntax.SCENE_INIT, raw))
    if kind == UnitType.KEYFRAME:
        assert header is not None  # refused above
        _check_keyframe_size(raw, len(payload), header)
        fields = _fields_from_syntax(syntax.KEYFRAME, raw)
        quant: dict[str, Any] = quant_params_from_syntax(raw.quant_scheme, fields.pop("quant_params"))
        return Keyframe(**fields, **quant)
    if kind == UnitType.METADATA:
        return Metadata(tuple((e.key, e.value) for e in raw.entries))
    return Padding(len(raw.padding))


def _decode_coded_keyframe(payload: bytes, header: SequenceHeader | None) -> Keyframe:
    raw = run_construct(syntax.CODED_KEYFRAME_COMPILED.parse, payload, short=InvalidValueError, **parse_params(header))
    quant: dict[str, Any] = quant_params_from_syntax(raw.quant_scheme, raw.quant_params)
    return Keyframe(raw.frame_index, raw.rank, raw.quant_scheme, **quant, u=b"", v=b"",
                    predicted=raw.coding.predicted, carry_models=raw.coding.carry_models,
                    coded_factors=raw.coded_factors)


def encode_payload(unit: Unit, header: SequenceHeader | None) -> bytes:
    """Build one unit's payload bytes; the inverse of `decode_payload`."""
    if isinstance(unit, ReservedUnit):
        return unit.payload
    if isinstance(unit, Keyframe) and unit.coded:
        if not unit.coded_factors:
            raise ValueError("a coded keyframe needs its coded_factors (ptv.coding.FactorCoding.encode)")
        return run_construct(syntax.CODED_KEYFRAME.build, syntax_values(unit), **parse_params(header))
    definition = syntax.PAYLOADS[UnitType(unit_type_of(unit))]
    params = parse_params(unit if isinstance(unit, SequenceHeader) else header)
    return run_construct(definition.build, syntax_values(unit), **params)


def syntax_values(unit: Unit) -> dict:
    """The construct value of a unit's payload (what its definition in `syntax` builds)."""
    if isinstance(unit, SequenceHeader):
        return _fields_to_syntax(syntax.SEQUENCE_HEADER, unit)
    if isinstance(unit, SceneInit):
        return _fields_to_syntax(syntax.SCENE_INIT, unit)
    if isinstance(unit, Keyframe) and unit.coded:
        return {"frame_index": unit.frame_index, "rank": unit.rank, "quant_scheme": unit.quant_scheme,
                "quant_params": quant_params_to_syntax(unit),
                "coding": {"predicted": unit.predicted, "carry_models": unit.carry_models},
                "coded_factors": unit.coded_factors}
    if isinstance(unit, Keyframe):
        return _fields_to_syntax(syntax.KEYFRAME, unit, quant_params=quant_params_to_syntax(unit))
    if isinstance(unit, Metadata):
        return {"entries": [{"key": k, "value_size": len(v), "value": v} for k, v in unit.entries]}
    if isinstance(unit, Padding):
        return {"padding": bytes(unit.size)}
    raise TypeError(f"a {type(unit).__name__} has no syntax of its own")


def _fields_from_syntax(definition: c.Construct, raw) -> dict:
    """{dataclass field: value} for each element the definition stores (a nested one under its own name)."""
    out = {}
    for path in syntax.stored_fields(definition):
        value = raw
        for key in path:
            value = value[key]
        out[path[-1]] = value
    return out


def _fields_to_syntax(definition: c.Construct, unit: Unit, **computed) -> dict:
    """The construct value from a dataclass: each stored element from the field of its name, or from `computed`."""
    values: dict = {}
    for path in syntax.stored_fields(definition):
        slot = values
        for key in path[:-1]:
            slot = slot.setdefault(key, {})
        name = path[-1]
        slot[name] = computed[name] if name in computed else getattr(unit, name)
    return values


# -- quantization parameters ------------------------------------------------------------------

QUANT_PARAM_NAMES = tuple(name for name, in syntax.stored_fields(syntax.QUANT_PARAMS_PER_TENSOR))
"""The Keyframe fields of the quantization parameters: one value each per tensor, `rank` per component."""
COMPONENT_ARRAYS = tuple(name for name, in syntax.stored_fields(syntax.QUANT_PARAMS_PER_COMPONENT))
"""The per-component arrays, in the order of QUANT_PARAM_NAMES (u_scales holds u_scale...)."""
COMPONENT_ELEMENTS = {"u_scales": "f32", "u_zero_points": "u8", "v_scales": "f32", "v_zero_points": "u8"}
"""The element type of each per-component array (a test pins their sizes to the definition)."""


def quant_params_from_syntax(quant_scheme: int, params) -> dict[str, tuple[float, ...]]:
    """The four Keyframe parameter fields from a parsed quant_params."""
    if quant_scheme in syntax.PER_TENSOR_SCHEMES:
        return {name: (float(params[name]),) for name in QUANT_PARAM_NAMES}
    return {name: _ELEMENT_CODECS[COMPONENT_ELEMENTS[array]][1](params[array])
            for name, array in zip(QUANT_PARAM_NAMES, COMPONENT_ARRAYS, strict=True)}


def quant_params_to_syntax(keyframe: Keyframe) -> dict:
    """A keyframe's quant_params as its scheme's definition builds it; the inverse of the above."""
    if keyframe.quant_scheme in syntax.PER_TENSOR_SCHEMES:
        return {name: getattr(keyframe, name)[0] for name in QUANT_PARAM_NAMES}
    return {array: _ELEMENT_CODECS[COMPONENT_ELEMENTS[array]][0](getattr(keyframe, name))
            for name, array in zip(QUANT_PARAM_NAMES, COMPONENT_ARRAYS, strict=True)}


def _f32_bytes(values: tuple[float, ...]) -> bytes:
    return np.asarray(values, dtype="<f4").tobytes()


def _f32_values(data: bytes) -> tuple[float, ...]:
    return tuple(float(x) for x in np.frombuffer(data, dtype="<f4"))


def _u8_bytes(values: tuple[float, ...]) -> bytes:
    return bytes(int(v) for v in values)


def _u8_values(data: bytes) -> tuple[float, ...]:
    return tuple(float(v) for v in data)


_ELEMENT_CODECS = {"f32": (_f32_bytes, _f32_values), "u8": (_u8_bytes, _u8_values)}
