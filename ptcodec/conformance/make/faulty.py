"""Stage 2 for the faulty vectors: each breaks exactly one rule of spec section 9.

They are edited from basic's encoding: a valid stream with one value, bit or
byte changed (the crc recomputed unless the crc is the point), built with the
raw unit builder (`raw`), so that the reader's error can only come from the
rule the vector names. Where one edit necessarily breaks two rules, the vector
says which other error class is accepted too (also_accepted).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

from ptcodec.conformance.make.encodings import Encoded
from ptcodec.conformance.make.raw import frame_unit, payload, unit_bytes
from ptcodec.conformance.make.writer import VectorWriter
from ptcodec.conformance.vectors import ERROR_CLASSES
from ptcodec.errors import PtvError
from ptcodec.ptv import MAGIC, Keyframe, LatentDtype, SceneInit, SequenceHeader, UnitType, read_all
from ptcodec.ptv.levels import LEVELS
from ptcodec.ptv.units import encode_payload


def make_faulty(w: VectorWriter, base: Encoded, only: Callable[[str], bool]) -> None:
    """Each breaks exactly one rule of spec section 9 (where that is possible; see also_accepted)."""
    h = dataclasses.replace(base.header, frame_count=0)
    scene, (k0, k1, *_) = base.one_scene()
    crc = h.crc_present

    def head(**override) -> bytes:
        return frame_unit(UnitType.SEQUENCE_HEADER, payload(h, None, **override), crc=True)

    def unit(unit_type: int, data: bytes, **kw) -> bytes:
        return frame_unit(unit_type, data, crc=crc, **kw)

    good_head = MAGIC + head()
    s_bytes, k0_bytes, k1_bytes = (unit_bytes(u, h) for u in (scene, k0, k1))
    good = good_head + s_bytes + k0_bytes + k1_bytes

    def header_only(**override) -> bytes:
        return MAGIC + head(**override)

    def add(name: str, rule: str, cls: str, description: str, data: bytes, also: tuple[str, ...] = ()) -> None:
        assert cls in ERROR_CLASSES
        if only(name):
            w.faulty(name, rule, cls, description, data, also)

    kf = 3  # UnitType.KEYFRAME
    add("bad_signature", "F1", "InvalidValueError", "the signature's second byte is 'X' instead of 'P'",
        MAGIC[:1] + b"X" + good[2:])
    add("empty_file", "F2", "TruncatedError", "an empty file (it ends inside the signature)", b"")
    add("truncated_signature", "F2", "TruncatedError", "only the first 5 bytes of the signature", MAGIC[:5])
    add("truncated_payload", "F2", "TruncatedError", "the stream ends 100 bytes into the last keyframe's payload",
        good[:len(good) - len(k1_bytes) + 100])
    add("truncated_crc", "F2", "TruncatedError", "the stream ends inside the last unit's crc", good[:-2])
    add("truncated_payload_size", "F2", "TruncatedError", "the stream ends inside a payload_size (first byte "
        "0x80: more follow)", good + bytes([0x28, 0x80]))
    add("forbidden_bit", "F3", "InvalidValueError", "the second keyframe's unit header byte has forbidden_bit "
        "set (0x98 instead of 0x18); crc recomputed", good_head + s_bytes + k0_bytes
        + unit(kf, encode_payload(k1, h), forbidden_bit=1))
    add("reserved_zero_2bits", "F3", "InvalidValueError", "the second keyframe's unit header has "
        "reserved_zero_2bits = 1; crc recomputed", good_head + s_bytes + k0_bytes
        + unit(kf, encode_payload(k1, h), reserved_zero_2bits=1))
    add("reserved_zero_7bits", "F3", "InvalidValueError", "the sequence header's flags byte is 0x03 "
        "(a reserved bit set beside crc_present); crc recomputed", header_only(reserved_zero_7bits=1))
    add("leb128_9_bytes", "F4", "InvalidValueError", "a padding unit's payload_size takes 9 bytes "
        "(80 x8 then 00)", good + unit(5, b"", size_field=b"\x80" * 8 + b"\x00"))
    add("leb128_not_minimal", "F4", "InvalidValueError", "a padding unit's payload_size 2 is written in 2 bytes "
        "(82 00)", good + unit(5, b"\x00\x00", size_field=b"\x82\x00"))
    add("leb128_above_2_32", "F4", "InvalidValueError", "a padding unit's payload_size is 2^32 (80 80 80 80 10); "
        "such a value also exceeds every max_unit_size, so F5 is accepted too",
        good + unit(5, b"", size_field=b"\x80\x80\x80\x80\x10"), also=("LimitExceededError",))
    add("leb128_metadata_not_minimal", "F4", "InvalidValueError", "a metadata entry's value_size 1 is written in "
        "2 bytes (81 00)", good + unit(4, b"\x01k\x81\x00v"))
    big = dataclasses.replace(h, version_minor=1, extension_data=bytes(1025 - 71 - len(h.generator_id)))
    add("header_too_large", "F5", "LimitExceededError", "a version 1.1 sequence header of 1,025 bytes "
        "(extension_data fills it)", MAGIC + frame_unit(1, payload(big, None), crc=True))
    limit = LEVELS[h.level].max_unit_size
    add("unit_too_large", "F5", "LimitExceededError", f"a padding unit of {limit + 1:,} zero bytes, one more "
        f"than level {h.level}'s max_unit_size", good + unit(5, bytes(limit + 1)))
    add("crc_mismatch", "F6", "CrcMismatchError", "the second keyframe's crc has its lowest bit flipped",
        good_head + s_bytes + k0_bytes + unit(kf, encode_payload(k1, h), crc_xor=1))
    add("header_crc_mismatch", "F6", "CrcMismatchError", "the sequence header's crc has its top bit flipped",
        MAGIC + frame_unit(1, payload(h, None), crc=True, crc_xor=0x80000000) + s_bytes + k0_bytes)
    add("payload_corrupted", "F6", "CrcMismatchError", "one byte of the first keyframe's codes is changed; the "
        "crc no longer matches", good_head + s_bytes + _flip(k0_bytes, 40) + k1_bytes)
    add("no_units", "F7", "InvalidValueError", "the signature and nothing else", MAGIC)
    add("first_unit_not_header", "F7", "InvalidValueError", "the first unit is a scene-init unit",
        MAGIC + frame_unit(2, encode_payload(scene, h), crc=True) + good[len(good_head):])
    add("second_header", "F7", "InvalidValueError", "a second sequence header after the first keyframe",
        good_head + s_bytes + k0_bytes + frame_unit(1, payload(h, None), crc=True) + k1_bytes)
    add("version_major_2", "F8", "UnsupportedVersionError", "version_major 2; crc recomputed",
        MAGIC + head(version_major=2) + s_bytes + k0_bytes)
    add("extension_in_1_0", "F9", "InvalidValueError", "version 1.0 with 3 bytes of extension_data",
        header_only(extension_data=b"\x00\x00\x00"))
    add("level_5", "F10", "InvalidValueError", "level 5 (not in the levels table)", header_only(level=5))
    add("generator_id_case", "F11", "InvalidValueError", "generator_id 'Reference' (an upper-case letter)",
        header_only(generator_id="Reference"))
    add("generator_id_empty", "F11", "InvalidValueError", "generator_id of length 0", header_only(generator_id=""))
    add("width_not_multiple", "F12", "InvalidValueError", "width 60, not a multiple of latent_downscale 8",
        header_only(width=60))
    add("downscale_zero", "F12", "InvalidValueError", "latent_downscale 0", header_only(latent_downscale=0))
    add("width_above_level", "F13", "LimitExceededError", "width 1,032 at level 1 (max_dimension 1,024)",
        header_only(width=1032, height=8))
    add("tokens_above_level", "F13", "LimitExceededError", "tokens 78 at level 1 (max_tokens 77)",
        header_only(tokens=78))
    add("time_base_zero", "F14", "InvalidValueError", "time_base_den 0", header_only(time_base_den=0))
    add("embed_dim_zero", "F14", "InvalidValueError", "embed_dim 0", header_only(embed_dim=0))
    add("noise_rule_1", "F15", "InvalidValueError", "noise_rule 1 (undefined)", header_only(noise_rule=1))
    add("prev_latent_rule_2", "F15", "InvalidValueError", "prev_latent_rule 2 (undefined)",
        header_only(prev_latent_rule=2))
    add("interp_rule_2", "F15", "InvalidValueError", "interp_rule 2 (undefined)", header_only(interp_rule=2))
    add("latent_dtype_3", "F15", "InvalidValueError", "the scene-init unit's dtype is 3 (undefined)",
        good_head + unit(2, payload(scene, h, dtype=3)) + k0_bytes)
    add("quant_scheme_2", "F15", "InvalidValueError", "a keyframe's quant_scheme is 2 (undefined; so also not in "
        "quant_schemes, F20, the same class)", good_head + s_bytes + unit(kf, payload(k0, h, quant_scheme=2)))
    add("gamma_above_1", "F16", "InvalidValueError", "gamma 101/100", header_only(gamma_num=101))
    add("quant_schemes_bit_2", "F17", "InvalidValueError", "quant_schemes 0x05 (bit 2 names no scheme)",
        header_only(quant_schemes=5))
    add("quant_schemes_zero", "F17", "InvalidValueError", "quant_schemes 0", header_only(quant_schemes=0))
    add("rank_zero", "F18", "InvalidValueError", "a keyframe of rank 0 (a 22-byte payload, consistent with it)",
        good_head + s_bytes + unit(kf, payload(dataclasses.replace(k0, frame_index=0, rank=0, u=b"", v=b""), h)))
    r17 = 17
    k17 = Keyframe(0, r17, 0, k0.u_scale, k0.u_zero_point, k0.v_scale, k0.v_zero_point,
                   bytes(h.tokens * r17), bytes(r17 * h.embed_dim))
    add("rank_above_level", "F19", "LimitExceededError", "a keyframe of rank 17 at level 1 (max_rank 16)",
        good_head + s_bytes + unit(kf, payload(k17, h)))
    k_pc = Keyframe(0, k0.rank, 1, (1e-3,) * k0.rank, (128,) * k0.rank, (1e-3,) * k0.rank, (128,) * k0.rank, k0.u, k0.v)
    add("scheme_not_declared", "F20", "InvalidValueError", "a per-component keyframe (scheme 1) where "
        "quant_schemes is 0x01", good_head + s_bytes + unit(kf, payload(k_pc, h)))
    for name, param, value, text in (("nan_scale", "u_scale", float("nan"), "u_scale is NaN"),
                                     ("negative_scale", "v_scale", -0.5, "v_scale is -0.5"),
                                     ("infinite_scale", "u_scale", float("inf"), "u_scale is +infinity"),
                                     ("zero_point_256", "v_zero_point", 256.0, "v_zero_point is 256.0")):
        change: dict[str, Any] = {param: (value,)}
        changed = dataclasses.replace(k0, **change)
        add(name, "F21", "InvalidValueError", f"the first keyframe's {text}",
            good_head + s_bytes + unit(kf, payload(changed, h)) + k1_bytes)
    add("keyframe_size_mismatch", "F22", "InvalidValueError", "a keyframe payload one byte longer than "
        "6 + 16 + m*r + r*n", good_head + s_bytes + unit(kf, payload(k0, h) + b"\x00"))
    add("metadata_entry_cut", "F22", "InvalidValueError", "a metadata entry whose value_size (9) runs past the "
        "end of its payload", good + unit(4, b"\x03key\x09abc"))
    add("header_cut", "F22", "InvalidValueError", "a sequence header payload cut 2 bytes short (it ends inside "
        "quant_schemes' neighbours)", MAGIC + frame_unit(1, payload(h, None)[:-2], crc=True))
    three_channels = dataclasses.replace(scene, channels=3, data=scene.data[: len(scene.data) * 3 // scene.channels])
    add("latent_shape", "F23", "InvalidValueError", "a scene-init unit with channels 3 (latent_channels is 4), "
        "its data sized for 3 channels", good_head + unit(2, payload(three_channels, h)) + k0_bytes)
    nan_data = np.array([np.nan], dtype="<f4").tobytes() + scene.data[4:]
    add("latent_nan", "F23", "InvalidValueError", "the first latent sample is NaN",
        good_head + unit(2, payload(dataclasses.replace(scene, data=nan_data), h)) + k0_bytes)
    add("first_scene_not_0", "F24", "InvalidValueError", "the first scene-init unit and keyframe are at frame 2",
        good_head + unit_bytes(_moved(scene, 2), h) + unit_bytes(_moved(k0, 2), h))
    add("keyframe_before_scene", "F24", "InvalidValueError", "a keyframe before the first scene-init unit",
        good_head + k0_bytes + s_bytes + k1_bytes)
    add("scene_without_keyframe", "F25", "InvalidValueError", "a scene-init unit at frame 5 followed by the "
        "keyframe of frame 6", good + unit_bytes(_moved(scene, 5), h) + unit_bytes(_moved(k1, 6), h))
    add("frames_backwards", "F26", "InvalidValueError", "keyframes at frames 0, 3, then 2",
        good + unit_bytes(_moved(k1, 2), h))
    add("frame_count_exceeded", "F27", "InvalidValueError", "frame_count 3 and a keyframe at frame 3",
        MAGIC + head(frame_count=3) + s_bytes + k0_bytes + k1_bytes)
    fast = dataclasses.replace(h, time_base_den=60)
    add("keyframe_rate", "F28", "LimitExceededError", "32 keyframes on consecutive frames at 60 fps: "
        "level 1 allows 30 within one second", MAGIC + frame_unit(1, payload(fast, None), crc=True)
        + unit_bytes(scene, fast) + b"".join(unit_bytes(_moved(_rank1(k0), i), fast) for i in range(32)))
    add("metadata_duplicate_key", "F29", "InvalidValueError", "a metadata unit with the key 'title' twice",
        good + unit(4, b"\x05title\x01a\x05title\x01b"))
    add("metadata_bad_utf8", "F29", "InvalidValueError", "a metadata value that is not UTF-8 (ff fe)",
        good + unit(4, b"\x04note\x02\xff\xfe"))
    add("metadata_key_space", "F29", "InvalidValueError", "a metadata key with a space ('a b')",
        good + unit(4, b"\x03a b\x01v"))
    add("padding_nonzero", "F30", "InvalidValueError", "a padding unit whose third byte is 01",
        good + unit(5, b"\x00\x00\x01\x00"))
    max_count, max_gap = LEVELS[h.level].max_frame_count, LEVELS[h.level].max_frame_gap
    add("frame_count_above_level", "F31", "LimitExceededError", f"frame_count {max_count + 1:,} at level {h.level} "
        f"(max_frame_count {max_count:,}); no scene-init or keyframe unit", header_only(frame_count=max_count + 1))
    # Keyframes max_gap apart up to frame max_count: tokens = embed_dim = 1 keeps the 2,049 keyframes 30 bytes each.
    thin = dataclasses.replace(h, tokens=1, embed_dim=1)
    thin_keys = [Keyframe(i, 1, 0, k0.u_scale, k0.u_zero_point, k0.v_scale, k0.v_zero_point, b"\x80", b"\x80")
                 for i in range(0, max_count + 1, max_gap)]
    add("frame_index_above_level", "F31", "LimitExceededError", f"frame_count 0 and keyframes every {max_gap:,} "
        f"frames (tokens and embed_dim 1, rank 1) up to one at frame {max_count:,}, level {h.level}'s "
        "max_frame_count", MAGIC + frame_unit(1, payload(thin, None), crc=True)
        + unit_bytes(scene, thin) + b"".join(unit_bytes(k, thin) for k in thin_keys))
    add("frame_gap_keyframes", "F32", "LimitExceededError", f"keyframes at frames 0 and {max_gap + 1:,}: "
        f"{max_gap + 1:,} frames apart, level {h.level} allows {max_gap:,}",
        good_head + s_bytes + k0_bytes + unit_bytes(_moved(k1, max_gap + 1), h))
    add("frame_gap_scene_start", "F32", "LimitExceededError", f"a keyframe at frame 0, then a scene starting at "
        f"frame {max_gap + 1:,}: {max_gap + 1:,} frames apart, level {h.level} allows {max_gap:,}",
        good_head + s_bytes + k0_bytes + unit_bytes(_moved(scene, max_gap + 1), h)
        + unit_bytes(_moved(k1, max_gap + 1), h))
    add("frame_gap_held_tail", "F32", "LimitExceededError", f"keyframes at frames 0 and 3 and frame_count "
        f"{max_gap + 4:,}: the last keyframe spans {max_gap + 1:,} frames, level {h.level} allows {max_gap:,}",
        MAGIC + head(frame_count=max_gap + 4) + s_bytes + k0_bytes + k1_bytes)


    make_faulty_1_1(add, base)


def make_faulty_1_1(add: Callable[..., None], base: Encoded) -> None:
    """The forbidden values of the version 1.1 tools (F33 to F37, and F3 and F21 for their new fields).

    Each is edited from basic coded with scheme 3 (intra, then predicted and carrying models) or from
    basic with a u8 latent; the maker checks that the reader's message is the one of the rule meant."""
    from ptcodec.conformance.make.valid import coded

    h = dataclasses.replace(base.header, frame_count=0)
    scene, (k0, k1, *_) = base.one_scene()
    h11, (_, c0, c1) = coded(h, [scene, k0, k1], lambda i: (i > 0, i > 0))
    assert isinstance(c0, Keyframe) and isinstance(c1, Keyframe)
    both = dataclasses.replace(h11, quant_schemes=0x09)  # schemes 0 and 3

    def head(header: SequenceHeader, **override) -> bytes:
        return MAGIC + frame_unit(UnitType.SEQUENCE_HEADER, payload(header, None, **override), crc=True)

    def unit(header: SequenceHeader, unit_type: int, data: bytes) -> bytes:
        return frame_unit(unit_type, data, crc=header.crc_present)

    def keyframe(k: Keyframe, header: SequenceHeader = h11, **override) -> bytes:
        """A coded keyframe's unit with elements of its payload set to any value (`predicted=True`)."""
        return unit(header, UnitType.KEYFRAME, payload(k, header, **override))

    def says(phrase: str) -> Callable[[bytes], bytes]:
        def check(data: bytes) -> bytes:
            try:
                read_all(data)
            except PtvError as error:
                assert phrase in str(error), f"expected {phrase!r}, the reader says: {error}"
            return data
        return check

    si = UnitType.SCENE_INIT
    s11 = unit_bytes(scene, h11)
    cf = c0.coded_factors

    def first(**override) -> bytes:
        """The coded stream up to its first keyframe, with elements of that keyframe set to any value."""
        return head(h11) + s11 + keyframe(c0, **override)

    add("v1_0_coded_scheme", "F33", "InvalidValueError", "a version 1.0 sequence header whose quant_schemes is 0x09 "
        "(bit 3: the version 1.1 scheme per-tensor coded)", says("version 1.1 scheme")(head(h, quant_schemes=0x09)))
    u8 = SceneInit.from_latent(0, scene.latent(), LatentDtype.U8)
    add("v1_0_u8_latent", "F33", "InvalidValueError", "a version 1.0 stream whose scene-init latent has dtype 3 "
        "(u8, version 1.1)", says("version 1.1 dtype")(head(h) + unit(h, si, encode_payload(u8, h))
                                                    + unit_bytes(k0, h)))
    add("coded_reserved_bit", "F3", "InvalidValueError", "the first coded keyframe's coding byte has a bit of "
        "reserved_zero_6bits set (0x80); crc recomputed", says("reserved")(first(reserved_zero_6bits=0x20)))
    add("coded_overrun", "F34", "InvalidValueError", "the first coded keyframe's coded_factors cut to half their "
        "length: the range decoder needs a byte past the end",
        says("past the end")(first(coded_factors=cf[:len(cf) // 2])))
    latent = SceneInit.from_latent(0, scene.latent(), LatentDtype.U8_CODED)
    cut = dataclasses.replace(latent, data=latent.data[:len(latent.data) - (len(latent.data) - 8 * scene.channels) // 2])
    add("latent_coded_overrun", "F34", "InvalidValueError", "a u8_coded scene-init latent whose coded codes are cut "
        "to half: the range decoder needs a byte past the end", says("past the end")(
            head(h11) + unit(h11, si, encode_payload(cut, h11)) + unit_bytes(k0, h11)))
    add("coded_too_short", "F35", "InvalidValueError", "the first coded keyframe's coded_factors are 3 bytes "
        "(the initial state needs 4)", says("shorter than 4 bytes")(first(coded_factors=cf[:3])))
    add("coded_state_low", "F35", "InvalidValueError", "the first coded keyframe's coded_factors start with "
        "00 00: the initial state is below 2^23",
        says("initial state")(first(coded_factors=b"\x00\x00" + cf[2:])))
    add("coded_state_high", "F35", "InvalidValueError", "the first coded keyframe's coded_factors start with 80: "
        "the initial state is 2^31 or more", says("initial state")(first(coded_factors=b"\x80" + cf[1:])))
    add("coded_trailing_byte", "F36", "InvalidValueError", "the first coded keyframe's coded_factors have one byte "
        "(00) after the last symbol's", says("does not terminate")(first(coded_factors=cf + b"\x00")))
    add("coded_final_state", "F36", "InvalidValueError", "one byte of the first coded keyframe's coded_factors has "
        "its lowest bit flipped (the last byte whose change neither overruns nor leaves bytes over): every byte is "
        "read but the final state is not 2^23",
        says("does not terminate")(first(coded_factors=_bad_final_state(h11, c0))))
    add("predicted_first", "F37", "InvalidValueError", "the first keyframe of the scene has predicted set (coding "
        "byte 0x02): it has no previous keyframe", says("no previous keyframe")(
            first(predicted=True)))
    add("carry_models_first", "F37", "InvalidValueError", "the first keyframe of the scene has carry_models set "
        "(coding byte 0x01): there is no model state to carry",
        says("carries models")(first(carry_models=True)))
    h2, (_, r4, r2) = coded(h, [scene, k0, _rank1(k1)], lambda i: (False, False))
    assert isinstance(r2, Keyframe)
    add("predicted_other_rank", "F37", "InvalidValueError", "a predicted keyframe of rank 1 after one of rank 4 "
        "(coding byte 0x02; its coded_factors are those of intra coding)",
        says("follows one of rank")(head(h2) + s11 + unit_bytes(r4, h2) + keyframe(r2, h2, predicted=True)))
    add("carry_models_after_uncoded", "F37", "InvalidValueError", "quant_schemes 0x09; a keyframe of scheme 0, "
        "then one of scheme 3 with carry_models set: the previous keyframe has no model state",
        says("carries models")(head(both) + unit_bytes(scene, both) + unit_bytes(k0, both)
                               + keyframe(dataclasses.replace(c1, predicted=False), both)))
    for name, index, value, text in (("latent_negative_scale", 0, -0.5, "the first channel's scale is -0.5"),
                                     ("latent_zero_point_256", scene.channels, 256.0,
                                      "the first channel's zero point is 256.0")):
        params = bytearray(u8.data)
        params[4 * index:4 * index + 4] = np.array([value], dtype="<f4").tobytes()
        bad = dataclasses.replace(u8, data=bytes(params))
        add(name, "F21", "InvalidValueError", f"a u8 scene-init latent (version 1.1): {text}",
            says("latent")(head(h11) + unit(h11, si, encode_payload(bad, h11)) + unit_bytes(k0, h11)))


def _bad_final_state(h: SequenceHeader, k: Keyframe) -> bytes:
    """k's coded_factors with the lowest bit of one byte flipped, the last byte for which the decoder reads
    every byte and ends in a state other than 2^23 (F36 and nothing else: flipping the very last byte
    may make the decoder want one more)."""
    from ptcodec.entropy import factors, rans
    from ptcodec.ptv.coding import FactorCoding

    centres = FactorCoding(h)._centres(k)
    data = k.coded_factors
    for offset in range(len(data) - 1, 3, -1):
        trial = data[:offset] + bytes([data[offset] ^ 1]) + data[offset + 1:]
        status, position, _, _ = factors.decode(trial, *centres, False, factors.new_model())
        if status == rans.BAD_END and position == len(trial):
            return trial
    raise AssertionError("no single-bit change ends in a bad final state")


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


Framed = TypeVar("Framed", SceneInit, Keyframe)


def _moved(unit: Framed, frame_index: int) -> Framed:
    return dataclasses.replace(unit, frame_index=frame_index)


def _rank1(k: Keyframe) -> Keyframe:
    return Keyframe(k.frame_index, 1, k.quant_scheme, k.u_scale, k.u_zero_point, k.v_scale, k.v_zero_point,
                    k.u_codes()[:, :1].tobytes(), k.v_codes()[:1].tobytes())
