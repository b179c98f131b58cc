"""Stage 2 for the valid vectors: streams assembled from the encodings, and the imported sky prompts.

Each valid vector exercises an option or an optional syntax of the format; those
not straight out of the encoder are rewrites of an encoding (extra unit types,
edge-case scales, rank truncation), so they need no encoder run of their own.
"""

from __future__ import annotations

import dataclasses
import tempfile
from collections.abc import Callable
from pathlib import Path

from ptcodec.conformance.make.encodings import Encoded
from ptcodec.conformance.make.raw import stream_with_header_layer
from ptcodec.conformance.make.writer import VectorWriter
from ptcodec.process.noise import RELEASED_GAMMA, RELEASED_SEED
from ptcodec.ptv import (
    Keyframe,
    LatentDtype,
    Metadata,
    Padding,
    ReservedUnit,
    SceneInit,
    SequenceHeader,
    Unit,
    serialize,
)
from ptcodec.ptv.coding import FactorCoding
from ptcodec.ptv.syntax import coded_scheme

Choice = Callable[[int], tuple[bool, bool]]
"""(predicted, carry_models) for a coded keyframe, by its position in its scene (0 for the first)."""

SKY_SOURCE = "shared/data/promptus_official/sky"
"""Where the released sky prompts come from, as valid/sky_import's test.json records it."""


PLAIN = {
    "interval1": "every frame a keyframe (interval 1), rank 2, CRCs off, frame_count 0 (unknown)",
    "scenes": "two scenes (a cut at frame 4, found by the encoder), each with its scene-init latent; "
              "no frame interpolates across the cut",
    "prev_frame": "previous-frame latent rule (the paper's), gamma 80/100, noise seed 7, 25 fps",
    "hold": "hold interpolation (each frame uses the last keyframe's prompt), rank 3, time base 1001/30000",
}
"""Valid vectors that are one encoding each, unchanged, and what they show."""


def make_valid(w: VectorWriter, enc: dict[str, Encoded], only: Callable[[str], bool]) -> None:
    """Write the valid vectors from their encodings (not sky_import: see make_sky)."""
    from ptcodec.process.quant import truncate_keyframe

    e = enc["basic"]
    if only("basic"):
        w.valid("basic", "one scene, rank 4, per-tensor quantization, keyframes every 3 frames, CRCs on; "
                "the released code's rules (segment-start latent, linear factors, "
                f"gamma {RELEASED_GAMMA[0]}/{RELEASED_GAMMA[1]}, seed {RELEASED_SEED})",
                serialize(e.header, e.units), generation=e.generation)
    if only("syntax_extras"):
        extended = dataclasses.replace(e.header, version_minor=1, extension_data=b"\x01\x02\x03\x04\x05",
                                       frame_count=9)
        s, (k0, k1, k2, *_) = e.one_scene()
        units = [
            Metadata((("title", b"conformance vector"), ("comment", "h\u00e9llo, \u4e16\u754c".encode()))),
            (ReservedUnit(6, b"reserved before the first frame"), 2),
            Padding(0),
            s, (k0, 1), Metadata(()), Padding(5),
            k1, ReservedUnit(0, b""), ReservedUnit(15, bytes(range(40))),
            (k2, 7), Metadata((("chapter", b"end"),)),
        ]
        w.valid("syntax_extras", "basic's units with every optional syntax: version 1.1 with 5 bytes of "
                "extension_data; metadata units (stream-level with two entries incl. multi-byte UTF-8, empty, and in "
                "a temporal unit), padding units (empty and 5 bytes), reserved unit types 0, 6 and 15 (to be "
                "skipped), layer_ids on the sequence header and on keyframes; frame_count 9 so frames 7 and 8 hold "
                "the last keyframe", stream_with_header_layer(extended, units, header_layer=3), derived="rewrite",
                generation={"from": "valid/basic"})
    if only("edge_values"):
        s, (k0, k1, k2, *_) = e.one_scene()
        k1 = dataclasses.replace(k1, u_scale=(-0.0,))
        k2 = dataclasses.replace(k2, v_scale=(2.0**-133,))
        w.valid("edge_values", "basic with two edge-case scales: the keyframe of frame 3 has u_scale -0.0 (its U "
                "is signed zeros, and frames between interpolate towards them: the sign of zero is kept), the "
                "keyframe of frame 6 has v_scale 2^-133, a subnormal, so V and the products of composition are "
                "subnormal (no flush to zero, spec 2.4)", serialize(e.header, [s, k0, k1, k2]), derived="rewrite",
                generation={"from": "valid/basic"})
    for name, description in PLAIN.items():  # vectors that are an encoding as it came out of the encoder
        if only(name):
            encoded = enc[name]
            w.valid(name, description, serialize(encoded.header, encoded.units), generation=encoded.generation)
    if any(only(n) for n in ("ladder", "ladder_r8", "ladder_r1", "ladder_mixed")):
        e6 = enc["ladder"]
        scene, keys = e6.one_scene()
        # A rewriter must keep layer_ids and reserved units: the ladder carries both, so its cuts show it.
        decorated = [scene] + [(k, 0) for k in keys[:2]] + [ReservedUnit(9, b"\x00\x01\x02")] + [(k, 0) for k in keys[2:]]
        if only("ladder"):
            w.valid("ladder", "rank-scalable stream: rank 16 (level 1's maximum), per-component quantization, "
                    "fitted with nested dropout over ranks 1, 2, 4, 8, 16; layer_id 0 on keyframes and one reserved "
                    "unit (type 9)", serialize(e6.header, decorated), generation=e6.generation)
        for rank in (8, 1):
            if only(f"ladder_r{rank}"):
                cut = [(truncate_keyframe(u, rank), layer) if isinstance(u, Keyframe) else (u, layer)
                       for u, layer in (x if isinstance(x, tuple) else (x, None) for x in decorated)]
                w.valid(f"ladder_r{rank}", f"valid/ladder truncated to rank {rank} by the rewriter of spec 7.3 "
                        "(layer_ids and the reserved unit kept)", serialize(e6.header, cut), derived="truncate",
                        generation={"from": "valid/ladder", "truncate": rank})
        if only("ladder_mixed"):
            ranks = [16, 1, 4]
            mixed = [scene] + [truncate_keyframe(k, r) for k, r in zip(keys, ranks, strict=True)]
            w.valid("ladder_mixed", "valid/ladder with its keyframes truncated to ranks 16, 1 and 4: frames between "
                    "keyframes of different ranks interpolate the composed prompts (spec 12.5)",
                    serialize(e6.header, mixed), derived="truncate",
                    generation={"from": "valid/ladder", "truncate": ranks})
    for name, dtype in (("latent_f16", LatentDtype.F16), ("latent_bf16", LatentDtype.BF16)):
        if only(name):
            e7 = enc[name]
            w.valid(name, f"scene-init latent stored as {LatentDtype(dtype).name.lower()} (dtype {int(dtype)}), "
                    "rank 2", serialize(e7.header, e7.units), generation=e7.generation)
    if only("empty"):
        h = dataclasses.replace(e.header, crc_present=False, frame_count=5)
        w.valid("empty", "a sequence header and a metadata unit, no scene or keyframe: a stream with no frames "
                "(frame_count 5 notwithstanding, spec 12.3)", serialize(h, [Metadata((("note", b"no frames"),))]),
                generation={"from": "valid/basic"})


CODED: dict[str, tuple[str, str, Choice]] = {
    "coded_per_tensor": ("basic", "basic's keyframes entropy-coded (quant_scheme 3, per-tensor coded), each intra: "
                         "neither predicted nor carrying models", lambda i: (False, False)),
    "coded_per_component": ("ladder", "valid/ladder's rank-16 keyframes entropy-coded (quant_scheme 2, "
                            "per-component coded), each intra", lambda i: (False, False)),
    "coded_predicted": ("basic", "basic coded with scheme 3; the keyframes after the first are predicted from the "
                        "previous keyframe's dequantized factors (fresh models)", lambda i: (i > 0, False)),
    "coded_carry_models": ("basic", "basic coded with scheme 3; the keyframes after the first start their coder from "
                           "the previous keyframe's final model state (not predicted)", lambda i: (False, i > 0)),
    "coded_predicted_carry": ("basic", "basic coded with scheme 3; the keyframes after the first are predicted and "
                              "carry models", lambda i: (i > 0, i > 0)),
    "coded_scenes": ("scenes", "valid/scenes coded with scheme 3, predicted and carrying models within each scene; "
                     "the first keyframe of the second scene starts afresh (intra, fresh models)",
                     lambda i: (i > 0, i > 0)),
}
"""Coded-keyframe vectors (version 1.1): the encoding each rewrites, what it shows, and its coding choice."""


def coded(header: SequenceHeader, units: list[Unit], choice: Choice) -> tuple[SequenceHeader, list[Unit]]:
    """A version 1.1 stream with the keyframes in their coded scheme, coded as `choice` says
    (FactorCoding in stream order, as the writer does, with the options forced)."""
    schemes = {coded_scheme(u.quant_scheme) for u in units if isinstance(u, Keyframe)}
    h = dataclasses.replace(header, version_minor=1, quant_schemes=sum(1 << int(s) for s in schemes))
    coding = FactorCoding(h)
    out: list[Unit] = []
    position = 0
    for unit in units:
        if isinstance(unit, SceneInit):
            coding.scene_start()
            position = 0
        elif isinstance(unit, Keyframe):
            predicted, carry = choice(position)
            unit = coding.encode(dataclasses.replace(unit, quant_scheme=coded_scheme(unit.quant_scheme)),
                                 predicted=predicted, carry_models=carry)
            position += 1
        out.append(unit)
    return h, out


def make_version_1_1(w: VectorWriter, enc: dict[str, Encoded], only: Callable[[str], bool]) -> None:
    """The vectors of the version 1.1 tools: coded keyframes, u8 latents, and a 1.1 stream using none."""
    for name, (source, description, choice) in CODED.items():
        if only(name):
            e = enc[source]
            h, units = coded(e.header, e.units, choice)
            w.valid(name, description, serialize(h, units), derived="rewrite", generation={"from": f"valid/{source}"})
    e = enc["basic"]
    h11 = dataclasses.replace(e.header, version_minor=1)
    scene, keys = e.one_scene()
    for name, dtype in (("latent_u8", LatentDtype.U8), ("latent_u8_coded", LatentDtype.U8_CODED)):
        if only(name):
            s8 = SceneInit.from_latent(scene.frame_index, scene.latent(), dtype, bits=8)
            w.valid(name, f"basic with its scene-init latent quantized to 8 bits per channel (dtype {int(dtype)}, "
                    f"{LatentDtype(dtype).name.lower()}{', entropy-coded' if dtype == LatentDtype.U8_CODED else ''}); "
                    "version 1.1, uncoded keyframes", serialize(h11, [s8, *keys]), derived="rewrite",
                    generation={"from": "valid/basic"})
    if only("version_1_1_plain"):
        w.valid("version_1_1_plain", "basic's units under a version 1.1 sequence header that uses no 1.1 tool "
                "(scheme 0, f32 latent, no extension_data): it decodes as basic does", serialize(h11, e.units),
                derived="rewrite", generation={"from": "valid/basic"})


def make_sky(w: VectorWriter, sky: Path) -> None:
    """The authors' released sky prompts (rank 8, 15 keyframes, the directory `sky`), imported as Annex A says."""
    from ptcodec.interop.promptus import import_promptus

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sky.ptv"
        import_promptus(sky, path)
        data = path.read_bytes()
    w.valid("sky_import", "the authors' released Promptus prompts for the sky clip (512x512, rank 8, keyframes "
            "every 10 frames, 141 frames), imported per Annex A; tiers 1 and 2 only (sd-turbo weights are not part "
            "of the suite)", data, imported="promptus", generation={"from": SKY_SOURCE})
