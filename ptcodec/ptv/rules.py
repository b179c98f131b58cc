"""The semantic rules of a `.ptv` stream: forbidden values, unit order, level limits.

The syntax module says where bytes are; this module says which values are
allowed. Reader and writer apply the same checks, so an encoder cannot write a
stream the reader would refuse. Each check cites its row of the spec's table of
forbidden values ("F" numbers in spec/ptv.md).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import deque

import numpy as np

from ptcodec.errors import InvalidValueError, LimitExceededError
from ptcodec.ptv import syntax
from ptcodec.ptv.coding import FactorCoding
from ptcodec.ptv.levels import LEVELS
from ptcodec.ptv.syntax import (
    InterpRule,
    NoiseRule,
    PrevLatentRule,
    QuantScheme,
)
from ptcodec.ptv.units import (
    QUANT_PARAM_NAMES,
    Keyframe,
    Metadata,
    SceneInit,
    SequenceHeader,
    Unit,
)

GENERATOR_ID = re.compile(r"[a-z0-9._-]{1,32}\Z")
METADATA_KEY = re.compile(r"[\x21-\x7e]{1,255}\Z")
QUANT_SCHEME_BITS = (1 << len(QuantScheme)) - 1


def _defined(value: int, enum_type, name: str) -> None:
    if value not in enum_type._value2member_map_:
        raise InvalidValueError(f"{name} {value} is not defined", field=name)


def check_sequence_header(h: SequenceHeader) -> None:
    """F9 to F17, and F31 for frame_count."""
    if h.version_minor == syntax.VERSION_MINOR and h.extension_data:
        raise InvalidValueError(
            f"version {h.version_major}.{h.version_minor} header has {len(h.extension_data)} bytes after its last field",
            field="extension_data",
        )
    level = LEVELS.get(h.level)
    if level is None:
        raise InvalidValueError(f"level {h.level} is not defined", field="level")
    if not GENERATOR_ID.match(h.generator_id):
        raise InvalidValueError(
            f"generator_id {h.generator_id!r} must be 1..32 characters of [a-z0-9._-]", field="generator_id"
        )
    if h.latent_downscale == 0:
        raise InvalidValueError("latent_downscale is 0", field="latent_downscale")
    for name in ("width", "height"):
        value = getattr(h, name)
        if value == 0 or value % h.latent_downscale:
            raise InvalidValueError(
                f"{name} {value} is not a positive multiple of latent_downscale {h.latent_downscale}", field=name
            )
        if value > level.max_dimension:
            raise LimitExceededError(f"{name} {value} exceeds level {h.level}'s {level.max_dimension}", field=name)
    if h.width * h.height > level.max_picture_size:
        raise LimitExceededError(
            f"{h.width}x{h.height} exceeds level {h.level}'s {level.max_picture_size} pixels", field="width"
        )
    if h.time_base_num == 0 or h.time_base_den == 0:
        raise InvalidValueError("time base has a zero term", field="time_base_num")
    for name, limit in (
        ("tokens", level.max_tokens),
        ("embed_dim", level.max_embed_dim),
        ("latent_channels", level.max_latent_channels),
    ):
        value = getattr(h, name)
        if value == 0:
            raise InvalidValueError(f"{name} is 0", field=name)
        if value > limit:
            raise LimitExceededError(f"{name} {value} exceeds level {h.level}'s {limit}", field=name)
    _defined(h.noise_rule, NoiseRule, "noise_rule")
    if h.gamma_den == 0 or h.gamma_num > h.gamma_den:
        raise InvalidValueError(f"gamma {h.gamma_num}/{h.gamma_den} is not in [0, 1]", field="gamma_den")
    _defined(h.prev_latent_rule, PrevLatentRule, "prev_latent_rule")
    _defined(h.interp_rule, InterpRule, "interp_rule")
    if h.quant_schemes == 0 or h.quant_schemes & ~QUANT_SCHEME_BITS:
        raise InvalidValueError(f"quant_schemes 0x{h.quant_schemes:02x} is not a valid set", field="quant_schemes")
    if h.version_minor == 0 and any(h.quant_schemes & (1 << s) for s in syntax.VERSION_1_1_SCHEMES):
        raise InvalidValueError(
            f"a version 1.0 stream names a version 1.1 scheme in quant_schemes 0x{h.quant_schemes:02x}",
            field="quant_schemes")
    if h.frame_count > level.max_frame_count:
        raise LimitExceededError(
            f"frame_count {h.frame_count} exceeds level {h.level}'s max_frame_count {level.max_frame_count}",
            field="frame_count",
        )


def check_keyframe(k: Keyframe, h: SequenceHeader) -> None:
    """F20 to F22 (F18 and F19 are checked during parsing, before the factors are read)."""
    if not h.quant_schemes & (1 << k.quant_scheme):
        raise InvalidValueError(
            f"quant_scheme {k.quant_scheme} is not among the sequence header's quant_schemes", field="quant_scheme"
        )
    count = 1 if k.quant_scheme in syntax.PER_TENSOR_SCHEMES else k.rank
    for name in QUANT_PARAM_NAMES:
        values = getattr(k, name)
        if len(values) != count:
            raise InvalidValueError(f"{name} holds {len(values)} values, expected {count}", field=name)
        for value in values:
            if not math.isfinite(value):
                raise InvalidValueError(f"{name} is {value}", field=name)
            if name.endswith("scale") and value < 0:
                raise InvalidValueError(f"{name} {value} is negative", field=name)
            if name.endswith("zero_point") and not 0 <= value <= 255:
                raise InvalidValueError(f"{name} {value} is outside [0, 255]", field=name)
    if k.coded and not k.u:
        return  # its codes are decoded in stream order (ptv.coding), which checks their sizes
    if len(k.u) != h.tokens * k.rank or len(k.v) != k.rank * h.embed_dim:
        raise InvalidValueError("factor sizes disagree with tokens, rank and embed_dim", field="u")


def check_scene_init(s: SceneInit, h: SequenceHeader) -> None:
    """F23, and for u8 latents F33 (a 1.1 dtype in a 1.0 stream), F21 (their parameters) and F34 to F36."""
    if (s.channels, s.height, s.width) != h.latent_shape:
        raise InvalidValueError(
            f"latent shape {(s.channels, s.height, s.width)} disagrees with the sequence header {h.latent_shape}",
            field="channels",
        )
    if s.dtype in syntax.VERSION_1_1_DTYPES:
        if h.version_minor == 0:
            raise InvalidValueError(f"a version 1.0 stream holds a latent of version 1.1 dtype {s.dtype}",
                                    field="scene_init.dtype")
        if len(s.data) < 8 * s.channels:
            raise InvalidValueError(f"the u8 latent's data ({len(s.data)} bytes) ends inside its scales and zero "
                                    f"points ({8 * s.channels} bytes)", field="scene_init.zero_points")
        scales, zero_points = s.latent_params()
        if not (np.isfinite(scales).all() and (scales >= 0).all()):
            raise InvalidValueError("a latent scale is NaN, infinite or negative", field="scene_init.scales")
        if not (np.isfinite(zero_points).all() and ((zero_points >= 0) & (zero_points <= 255)).all()):
            raise InvalidValueError("a latent zero point is NaN, infinite or outside [0, 255]",
                                    field="scene_init.zero_points")
    if not np.isfinite(s.latent()).all():
        raise InvalidValueError("latent holds NaN or infinity", field="data")


def check_metadata(m: Metadata) -> None:
    """F29."""
    seen = set()
    for key, value in m.entries:
        if not METADATA_KEY.match(key):
            raise InvalidValueError(f"metadata key {key!r} must be 1..255 printable ASCII characters", field="key")
        if key in seen:
            raise InvalidValueError(f"metadata key {key!r} appears twice", field="key")
        seen.add(key)
        try:
            value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidValueError(f"metadata value of {key!r} is not UTF-8", field="value") from None


def check_frame_index(frame_index: int, h: SequenceHeader) -> None:
    """F27 and F31: a scene-init or keyframe frame_index is a frame of the stream, and within the level."""
    count = h.frame_count
    if count and frame_index >= count:
        raise InvalidValueError(f"frame_index {frame_index} is beyond frame_count {count}", field="frame_index")
    limit = LEVELS[h.level].max_frame_count
    if frame_index >= limit:
        raise LimitExceededError(
            f"frame_index {frame_index} is not below level {h.level}'s max_frame_count {limit}", field="frame_index"
        )


def check_frame_gap(last_keyframe: int | None, frame_index: int, h: SequenceHeader, *, to: str = "frame") -> None:
    """F32: from one keyframe to the next (a scene start is a keyframe) at most max_frame_gap frames.

    `to` names what lies at frame_index ("keyframe", "scene start"); the tail after the last
    keyframe is checked by `check_frame_tail`."""
    limit = LEVELS[h.level].max_frame_gap
    if last_keyframe is not None and frame_index - last_keyframe > limit:
        raise LimitExceededError(
            f"{frame_index - last_keyframe} frames from keyframe {last_keyframe} to the {to} at frame {frame_index} "
            f"exceed level {h.level}'s max_frame_gap {limit}",
            field="frame_index",
        )


def check_frame_tail(last_keyframe: int | None, h: SequenceHeader) -> None:
    """F32 for the last keyframe: it holds frames up to frame_count (none when frame_count is 0)."""
    limit = LEVELS[h.level].max_frame_gap
    if h.frame_count and last_keyframe is not None and h.frame_count - last_keyframe > limit:
        raise LimitExceededError(
            f"{h.frame_count - last_keyframe} frames from the last keyframe {last_keyframe} to frame_count "
            f"{h.frame_count} exceed level {h.level}'s max_frame_gap {limit}",
            field="sequence_header.frame_count",
        )


class StreamRules:
    """Checks what depends on more than one unit: order, frame indices, keyframe rate, frame gaps.

    Each unit is checked as it arrives, so a stream is refused at its first unit beyond the
    level (F31, F32), before a decoder has generated anything for it."""

    def __init__(self, header: SequenceHeader, *, at_access_point: bool = False) -> None:
        """`at_access_point`: the units start at a random access point rather than at the
        stream's start (a decoder after a seek or a loss), so the first scene may start anywhere."""
        self.header = header
        self.at_access_point = at_access_point
        self.level = LEVELS[header.level]
        self.last_keyframe: int | None = None
        self.pending_scene: int | None = None
        self.recent_keyframes: deque[int] = deque()
        self.coding = FactorCoding(header)
        """The state of coded keyframes (version 1.1), which also lives in stream order."""

    def check(self, unit: Unit, *, encode: bool = False) -> Unit:
        """Check one unit, in stream order, and return it: a parsed coded keyframe with its codes
        decoded, or (`encode`, for writers) a coded keyframe given as codes with its coded form."""
        h = self.header
        if isinstance(unit, SequenceHeader):
            raise InvalidValueError("a second sequence header", field="unit_type")
        if isinstance(unit, SceneInit):
            check_scene_init(unit, h)
            if self.pending_scene is not None:
                raise InvalidValueError("scene-init unit follows a scene-init unit without a keyframe", field="frame_index")
            if self.last_keyframe is None and unit.frame_index != 0 and not self.at_access_point:
                raise InvalidValueError(f"first scene starts at frame {unit.frame_index}, not 0", field="frame_index")
            if self.last_keyframe is not None and unit.frame_index <= self.last_keyframe:
                raise InvalidValueError(
                    f"scene starts at frame {unit.frame_index}, not after keyframe {self.last_keyframe}",
                    field="frame_index",
                )
            check_frame_index(unit.frame_index, h)
            check_frame_gap(self.last_keyframe, unit.frame_index, h, to="scene start")
            self.pending_scene = unit.frame_index
            self.coding.scene_start()
        elif isinstance(unit, Keyframe):
            check_keyframe(unit, h)
            if self.pending_scene is not None and unit.frame_index != self.pending_scene:
                raise InvalidValueError(
                    f"keyframe {unit.frame_index} follows a scene-init unit for frame {self.pending_scene}",
                    field="frame_index",
                )
            if self.last_keyframe is None and self.pending_scene is None:
                raise InvalidValueError("first keyframe has no scene-init unit before it", field="frame_index")
            if self.last_keyframe is not None and unit.frame_index <= self.last_keyframe:
                raise InvalidValueError(
                    f"keyframe frame_index {unit.frame_index} does not increase (previous {self.last_keyframe})",
                    field="frame_index",
                )
            check_frame_index(unit.frame_index, h)
            check_frame_gap(self.last_keyframe, unit.frame_index, h, to="keyframe")
            self._check_keyframe_rate(unit.frame_index)
            if unit.coded and encode and not unit.coded_factors:
                unit = self.coding.encode(unit)
            elif unit.coded:
                unit = self.coding.decode(dataclasses.replace(unit, u=b"", v=b""))
            else:
                self.coding.step(unit)
            self.last_keyframe = unit.frame_index
            self.pending_scene = None
        elif isinstance(unit, Metadata):
            check_metadata(unit)
        return unit

    def finish(self) -> None:
        if self.pending_scene is not None:
            raise InvalidValueError(
                f"stream ends after the scene-init unit for frame {self.pending_scene} without its keyframe",
                field="frame_index",
            )
        check_frame_tail(self.last_keyframe, self.header)

    def _check_keyframe_rate(self, frame_index: int) -> None:
        """At most max_keyframe_rate keyframes in any window shorter than one second."""
        num, den = self.header.time_base_num, self.header.time_base_den
        window = self.recent_keyframes
        window.append(frame_index)
        while (frame_index - window[0]) * num >= den:
            window.popleft()
        if len(window) > self.level.max_keyframe_rate:
            raise LimitExceededError(
                f"{len(window)} keyframes within one second exceed level {self.header.level}'s "
                f"{self.level.max_keyframe_rate}",
                field="frame_index",
            )


def check_unit_alone(unit: Unit, header: SequenceHeader) -> None:
    """The checks that need only the unit and the header (used for random access)."""
    if isinstance(unit, Keyframe):
        check_keyframe(unit, header)
    elif isinstance(unit, SceneInit):
        check_scene_init(unit, header)
    elif isinstance(unit, Metadata):
        check_metadata(unit)
