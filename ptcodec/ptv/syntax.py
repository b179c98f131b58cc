"""The `.ptv` syntax: the one executable source of the format's byte layout.

Every structure in `spec/ptv.md` has its construct definition here, field for
field (a test compares the spec's syntax tables with these definitions). The
reader and writer parse and build only through these objects. Factor arrays and
latents stay `Bytes` so that NumPy reads them with `np.frombuffer`; element
arrays in construct are several times slower.

Semantic rules (forbidden values, unit order, level limits) live in
`ptcodec.ptv.rules`; this module only says where the bytes are.
"""

from __future__ import annotations

import enum
import functools

import construct as c
import google_crc32c

from ptcodec.errors import (
    InvalidValueError,
    LimitExceededError,
    TruncatedError,
    UnsupportedVersionError,
)

MAGIC = b"\x89PTV\r\n\x1a\n"
"""File signature: the PNG trick catches 7-bit and newline-mangling transfers."""

UNKNOWN_FINGERPRINT = bytes(32)
"""A generator_fingerprint of all zeros: the weights were not recorded."""

VERSION_MAJOR = 1
VERSION_MINOR = 1
"""The version this code implements. Version 1.1 adds the entropy-coding tools (coded
keyframes, u8 latents); a stream that uses none of them may say 1.0."""

MAX_SEQUENCE_HEADER_SIZE = 1024
"""Bound on the sequence header payload, which is read before the level is known."""

LEB128_MAX_BYTES = 8
LEB128_MAX_VALUE = 2**32 - 1


class UnitType(enum.IntEnum):
    SEQUENCE_HEADER = 1
    SCENE_INIT = 2
    KEYFRAME = 3
    METADATA = 4
    PADDING = 5
    # 0 and 6..15 are reserved: decoders skip them by size.


class LatentDtype(enum.IntEnum):
    F32 = 0
    F16 = 1
    BF16 = 2
    U8 = 3
    """Version 1.1: u8 codes with a binary32 scale and zero point per channel."""
    U8_CODED = 4
    """Version 1.1: as U8, the codes entropy-coded (section 6.3)."""


LATENT_DTYPE_SIZE = {LatentDtype.F32: 4, LatentDtype.F16: 2, LatentDtype.BF16: 2}
"""Bytes per sample of the float dtypes."""


class QuantScheme(enum.IntEnum):
    PER_TENSOR = 0
    """The released Promptus code: one float32 scale and zero point per factor."""
    PER_COMPONENT = 1
    """One scale and zero point per rank component: a stream can be cut to any lower rank."""
    PER_COMPONENT_CODED = 2
    """Version 1.1: PER_COMPONENT's parameters, the factor codes entropy-coded (section 7.5)."""
    PER_TENSOR_CODED = 3
    """Version 1.1: PER_TENSOR's parameters, the factor codes entropy-coded."""


CODED_SCHEMES = frozenset({QuantScheme.PER_COMPONENT_CODED, QuantScheme.PER_TENSOR_CODED})
"""The schemes whose factor codes are entropy-coded."""
PER_TENSOR_SCHEMES = frozenset({QuantScheme.PER_TENSOR, QuantScheme.PER_TENSOR_CODED})
"""The schemes with one scale and zero point per factor."""
VERSION_1_1_SCHEMES = CODED_SCHEMES
VERSION_1_1_DTYPES = frozenset({LatentDtype.U8, LatentDtype.U8_CODED})


def lowest_version_minor(quant_schemes: int, latent_dtype: int) -> int:
    """The version_minor a stream with these tools needs: 0 unless it uses a version 1.1 tool,
    so that a stream which uses none stays a version 1.0 stream, byte for byte (spec 5.2)."""
    uses_1_1 = any(quant_schemes & (1 << s) for s in VERSION_1_1_SCHEMES) or latent_dtype in VERSION_1_1_DTYPES
    return 1 if uses_1_1 else 0


def quant_layout(quant_scheme: int) -> QuantScheme:
    """The uncoded scheme with the same quantization parameters (PER_TENSOR or PER_COMPONENT)."""
    return QuantScheme.PER_TENSOR if quant_scheme in PER_TENSOR_SCHEMES else QuantScheme.PER_COMPONENT


def coded_scheme(quant_scheme: int) -> QuantScheme:
    """The coded scheme with the same quantization parameters."""
    return QuantScheme.PER_TENSOR_CODED if quant_scheme in PER_TENSOR_SCHEMES else QuantScheme.PER_COMPONENT_CODED


class NoiseRule(enum.IntEnum):
    NUMPY_LEGACY_GAUSSIAN = 0


class PrevLatentRule(enum.IntEnum):
    SEGMENT_START = 0
    """Released code: every frame of a segment uses the latent generated at its opening keyframe."""
    PREVIOUS_FRAME = 1
    """Paper text: every frame uses the latent generated for the frame before it."""


class InterpRule(enum.IntEnum):
    LINEAR_FACTORS = 0
    HOLD = 1


class Leb128(c.Construct):
    """Unsigned LEB128 with the format's rules: minimal, at most 8 bytes, at most 2^32-1."""

    def _parse(self, stream, context, path):
        value = 0
        for i in range(LEB128_MAX_BYTES):
            byte = stream.read(1)
            if len(byte) != 1:
                raise TruncatedError("stream ends inside a leb128 value", field=field_path(path))
            b = byte[0]
            value |= (b & 0x7F) << (7 * i)
            if not b & 0x80:
                if i > 0 and b == 0:
                    raise InvalidValueError("leb128 value is not minimally encoded", field=field_path(path))
                if value > LEB128_MAX_VALUE:
                    raise InvalidValueError(f"leb128 value {value} exceeds 2^32-1", field=field_path(path))
                return value
        raise InvalidValueError(f"leb128 value longer than {LEB128_MAX_BYTES} bytes", field=field_path(path))

    def _build(self, obj, stream, context, path):
        value = int(obj)
        if not 0 <= value <= LEB128_MAX_VALUE:
            raise InvalidValueError(f"leb128 value {value} outside 0..2^32-1", field=field_path(path))
        out = bytearray()
        while True:
            b = value & 0x7F
            value >>= 7
            out.append(b | (0x80 if value else 0))
            if not value:
                break
        stream.write(bytes(out))
        return obj

    def _sizeof(self, context, path):
        raise c.SizeofError("leb128 has variable size")


class PayloadLimit(c.Construct):
    """F5 (and F7 for the first unit): checks payload_size against its limit before
    any byte of the payload is read, and refuses to build a unit a reader would refuse."""

    def __init__(self) -> None:
        super().__init__()
        self.flagbuildnone = True

    def _check(self, context) -> None:
        size = context.payload_size
        unit_type = context.header.unit_type
        if context._params.get("expect_sequence_header") and unit_type != UnitType.SEQUENCE_HEADER:
            raise InvalidValueError("first unit is not a sequence header", field="unit_type")
        if unit_type == UnitType.SEQUENCE_HEADER:
            limit, what = MAX_SEQUENCE_HEADER_SIZE, "sequence header size limit"
        else:
            limit, what = context._params.max_unit_size, "level's max unit size"
        if size > limit:
            raise LimitExceededError(
                f"payload_size {size} exceeds the {what} ({limit})", field="payload_size"
            )

    def _parse(self, stream, context, path):
        self._check(context)

    def _build(self, obj, stream, context, path):
        self._check(context)

    def _sizeof(self, context, path):
        return 0


class Valid(c.Adapter):
    """A field whose value is checked as soon as it is read, before later fields
    that depend on it (sizes, layout) are parsed. `check(value, ctx)` returns an
    error to raise, or None."""

    def __init__(self, subcon: c.Construct, check) -> None:
        super().__init__(subcon)
        self.check = check

    def _decode(self, obj, context, path):
        error = self.check(obj, context)
        if error is not None:
            raise error.located(field=field_path(path))
        return obj

    def _encode(self, obj, context, path):
        return self._decode(obj, context, path)


def _defined(enum_type: type[enum.IntEnum], name: str):
    def check(value, ctx):
        if value not in enum_type._value2member_map_:
            return InvalidValueError(f"{name} {value} is not defined")
        return None

    return check


def _check_version_major(value, ctx):
    if value != VERSION_MAJOR:
        return UnsupportedVersionError(
            f"version {value}.x is not supported (this decoder implements {VERSION_MAJOR}.{VERSION_MINOR})"
        )
    return None


def _check_rank(value, ctx):
    if value == 0:
        return InvalidValueError("rank 0 is forbidden")
    if value > ctx._params.max_rank:
        return LimitExceededError(f"rank {value} exceeds the level's max rank {ctx._params.max_rank}")
    return None


def _check_latent_dim(name: str):
    def check(value, ctx):
        expected = ctx._params.latent_shape[name]
        if value != expected:
            return InvalidValueError(f"latent {name} {value} disagrees with the sequence header ({expected})")
        return None

    return check


def field_path(path: str | None) -> str | None:
    """Turn construct's '(parsing) -> a -> b' into 'a.b'."""
    if not path:
        return None
    parts = [p.strip() for p in path.split("->")[1:] if p.strip() not in ("body", "value")]
    return ".".join(parts) or None


def crc32c(data: bytes) -> int:
    return google_crc32c.value(data)


UNIT_HEADER = c.BitStruct(
    "forbidden_bit" / c.Const(0, c.BitsInteger(1)),
    "unit_type" / c.BitsInteger(4),
    "extension_flag" / c.Flag,
    "reserved_zero_2bits" / c.Const(0, c.BitsInteger(2)),
)

UNIT = c.Struct(
    "body" / c.RawCopy(
        c.Struct(
            "header" / UNIT_HEADER,
            "layer_id" / c.If(c.this.header.extension_flag, c.Int8ul),
            "payload_size" / Leb128(),
            PayloadLimit(),
            "payload" / c.Bytes(c.this.payload_size),
        )
    ),
    "crc" / c.If(
        c.this._params.crc_present | (c.this.body.value.header.unit_type == int(UnitType.SEQUENCE_HEADER)),
        c.Checksum(c.Int32ul, crc32c, c.this.body.data),
    ),
)
"""One unit. The sequence header always carries its CRC (so its own crc flag is
protected); other units carry one when the sequence header's crc_present is set."""

SEQUENCE_HEADER = c.Struct(
    "version_major" / Valid(c.Int8ul, _check_version_major),
    "version_minor" / c.Int8ul,
    "level" / c.Int8ul,
    "flags" / c.BitStruct(
        "reserved_zero_7bits" / c.Const(0, c.BitsInteger(7)),
        "crc_present" / c.Flag,
    ),
    "generator_id" / c.PascalString(c.Int8ul, "ascii"),
    "generator_fingerprint" / c.Bytes(32),
    "width" / c.Int16ul,
    "height" / c.Int16ul,
    "time_base_num" / c.Int32ul,
    "time_base_den" / c.Int32ul,
    "frame_count" / c.Int32ul,
    "tokens" / c.Int16ul,
    "embed_dim" / c.Int16ul,
    "latent_channels" / c.Int8ul,
    "latent_downscale" / c.Int8ul,
    "noise_rule" / c.Int8ul,
    "noise_seed" / c.Int32ul,
    "gamma_num" / c.Int16ul,
    "gamma_den" / c.Int16ul,
    "prev_latent_rule" / c.Int8ul,
    "interp_rule" / c.Int8ul,
    "quant_schemes" / c.Int8ul,
    "extension_data" / c.GreedyBytes,
)
"""Version 1.0 ends at quant_schemes; extension_data holds the fields a later
minor version appends, which a 1.0 decoder skips."""

SCENE_INIT = c.Struct(
    "frame_index" / c.Int32ul,
    "dtype" / Valid(c.Int8ul, _defined(LatentDtype, "dtype")),
    "channels" / Valid(c.Int8ul, _check_latent_dim("channels")),
    "height" / Valid(c.Int16ul, _check_latent_dim("height")),
    "width" / Valid(c.Int16ul, _check_latent_dim("width")),
    "data" / c.Switch(
        c.this.dtype,
        {
            **{int(dtype): c.Bytes(c.this.channels * c.this.height * c.this.width * size)
               for dtype, size in LATENT_DTYPE_SIZE.items()},
            int(LatentDtype.U8): c.Bytes(8 * c.this.channels + c.this.channels * c.this.height * c.this.width),
            int(LatentDtype.U8_CODED): c.GreedyBytes,
        },
    ),
    c.Terminated,
)
"""For the u8 dtypes, data is a LATENT_U8_PARAMS structure followed by the codes (U8)
or by their coded form (U8_CODED); ptv.units reads it."""

LATENT_U8_PARAMS = c.Struct(
    "scales" / c.Bytes(4 * c.this._.channels),
    "zero_points" / c.Bytes(4 * c.this._.channels),
)

QUANT_PARAMS_PER_TENSOR = c.Struct(
    "u_scale" / c.Float32l,
    "u_zero_point" / c.Float32l,
    "v_scale" / c.Float32l,
    "v_zero_point" / c.Float32l,
)

QUANT_PARAMS_PER_COMPONENT = c.Struct(
    "u_scales" / c.Bytes(4 * c.this._.rank),
    "u_zero_points" / c.Bytes(c.this._.rank),
    "v_scales" / c.Bytes(4 * c.this._.rank),
    "v_zero_points" / c.Bytes(c.this._.rank),
)

QUANT_PARAMS_LAYOUTS: dict[int, c.Construct] = {
    int(scheme): QUANT_PARAMS_PER_TENSOR if scheme in PER_TENSOR_SCHEMES else QUANT_PARAMS_PER_COMPONENT
    for scheme in QuantScheme
}
"""The quant_params structure of each quant_scheme."""

KEYFRAME = c.Struct(
    "frame_index" / c.Int32ul,
    "rank" / Valid(c.Int8ul, _check_rank),
    "quant_scheme" / Valid(c.Int8ul, _defined(QuantScheme, "quant_scheme")),
    "quant_params" / c.Switch(c.this.quant_scheme, QUANT_PARAMS_LAYOUTS),
    "u" / c.Bytes(c.this._params.tokens * c.this.rank),
    "v" / c.Bytes(c.this.rank * c.this._params.embed_dim),
    c.Terminated,
)
"""A keyframe of an uncoded scheme (0, 1). A coded scheme's payload is a CODED_KEYFRAME."""

CODED_KEYFRAME = c.Struct(
    "frame_index" / c.Int32ul,
    "rank" / Valid(c.Int8ul, _check_rank),
    "quant_scheme" / Valid(c.Int8ul, _defined(QuantScheme, "quant_scheme")),
    "quant_params" / c.Switch(c.this.quant_scheme, QUANT_PARAMS_LAYOUTS),
    "coding" / c.BitStruct(
        "reserved_zero_6bits" / c.Const(0, c.BitsInteger(6)),
        "predicted" / c.Flag,
        "carry_models" / c.Flag,
    ),
    "coded_factors" / c.GreedyBytes,
)
"""Version 1.1, section 7.5: the factor codes as one range-coded string."""

METADATA_ENTRY = c.Struct(
    "key" / c.PascalString(c.Int8ul, "ascii"),
    "value_size" / Leb128(),
    "value" / c.Bytes(c.this.value_size),
)

METADATA = c.Struct(
    "entries" / c.GreedyRange(METADATA_ENTRY),
    c.Terminated,
)

def _check_zero_bytes(value, ctx):
    if value.count(0) != len(value):
        return InvalidValueError("padding holds a nonzero byte")
    return None


PADDING = c.Struct(
    "padding" / Valid(c.GreedyBytes, _check_zero_bytes),
)

PAYLOADS: dict[UnitType, c.Construct] = {
    UnitType.SEQUENCE_HEADER: SEQUENCE_HEADER,
    UnitType.SCENE_INIT: SCENE_INIT,
    UnitType.KEYFRAME: KEYFRAME,
    UnitType.METADATA: METADATA,
    UnitType.PADDING: PADDING,
}


@functools.cache
def stored_fields(struct: c.Construct) -> tuple[tuple[str, ...], ...]:
    """The paths of the elements a structure stores, in syntax order: `("width",)`,
    `("flags", "crc_present")`.

    Constants (reserved bits, checked rather than stored) and unnamed checks are
    left out, and an anonymous nested structure (the flags byte) is walked. The
    units' dataclasses map to and from construct values through these paths, so
    the field list of a unit is written only in its definition above.
    """
    out: list[tuple[str, ...]] = []
    for sub in _innermost(struct).subcons:
        if sub.name is None:
            continue
        inner = _innermost(sub)
        if isinstance(inner, c.Const):
            continue
        if isinstance(inner, c.Struct):
            out += [(sub.name, *path) for path in stored_fields(inner)]
        else:
            out.append((sub.name,))
    return tuple(out)


def _innermost(con: c.Construct) -> c.Construct:
    """The construct under its name, bit-level wrapper and value check (a Const is kept: it is not stored)."""
    while isinstance(con, (c.Renamed, c.Transformed, c.Restreamed, Valid)):
        con = con.subcon
    return con


@functools.cache
def quant_params_size(quant_scheme: int, rank: int) -> int:
    """Bytes of a keyframe's quant_params for its scheme and rank."""
    return QUANT_PARAMS_LAYOUTS[quant_scheme].sizeof(rank=rank)


SCHEME_OFFSET = 5
"""The byte of a keyframe payload that holds quant_scheme, which selects KEYFRAME or CODED_KEYFRAME."""

KEYFRAME_FIXED_SIZE = sum(KEYFRAME._subcons[name].sizeof() for name in ("frame_index", "rank", "quant_scheme"))
"""Bytes before a keyframe's quant_params."""


CODED_KEYFRAME_COMPILED = CODED_KEYFRAME.compile()
"""CODED_KEYFRAME compiled, for the same reason; GreedyBytes takes the rest, so no size check is needed."""

KEYFRAME_COMPILED = KEYFRAME.compile()
"""The same keyframe syntax, compiled by construct: about 3x faster, and keyframes
are nearly all of a stream. Compiled parsers do not check that a read returned
every byte it asked for, so `units.decode_payload` checks the keyframe's size."""
