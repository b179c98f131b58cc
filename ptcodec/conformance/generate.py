"""Make the conformance vectors: `python -m ptcodec.conformance.generate bitstream/`.

One script makes every vector, in two stages:

1. **Encode** (torch): the reference encoder fits small clips that the reference
   generator can reproduce (ptcodec.encoder.reachable) at 64x64, with each option of the
   format. Gradient descent is floating point and the encoder's output is not
   normative: another CPU (AVX-512 against AVX2, say) or another torch gives
   other bits, all of them valid streams. So the committed vectors are the
   reference, and a fresh encode is judged by the conformance tiers, not
   compared bit for bit. `--from bitstream/` skips this stage and takes the
   encodings from the committed vectors instead (section ENCODINGS below).
2. **Assemble** (NumPy, exact): streams are built from the encoded units
   (rewrites: extra unit types, truncation, imported prompts), faulty streams
   are edited byte by byte from a valid one, and each vector gets its test.json:
   SHA-256 of its files, the parse dump (tier 1), the reconstruction hashes and
   tensors (tier 2), and the reference frames with their tolerance (tier 3).
   From the same encodings this stage gives the same bytes on any machine,
   except the reference frames, which the (torch) decoder makes: they agree
   across machines within the tier-3 tolerance, not bit for bit.

The script checks its own work: each valid stream must parse and each faulty
one must be rejected by ptcodec's reader with the error class it documents.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import struct
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import numpy as np

from ptcodec.conformance.calibrate import MARGIN_DB, precision_scores, tolerance_from
from ptcodec.conformance.vectors import ERROR_CLASSES, features, parse_dump, sha256_file
from ptcodec.errors import PtvError
from ptcodec.ptv import (
    MAGIC,
    Keyframe,
    LatentDtype,
    Metadata,
    Padding,
    ReservedUnit,
    SceneInit,
    SequenceHeader,
    Unit,
    read_all,
    serialize,
)
from ptcodec.ptv.syntax import Leb128, UnitType, crc32c
from ptcodec.ptv.units import encode_payload, unit_type_of

SIZE = 64
"""Width and height of the generated vectors (latent 4 x 8 x 8)."""
SHARED_SKY = Path(__file__).resolve().parents[3] / "shared" / "data" / "promptus_official" / "sky"


# -- stage 1: encoding ---------------------------------------------------------------------------


@dataclass
class Encoded:
    """One encoder run that vectors are made from."""

    header: SequenceHeader
    units: list[Unit]
    """Its scene-init and keyframe units (the encoder's metadata unit is left out: it names the
    ptcodec version, which would change the vectors with every release)."""
    generation: dict
    """How it was made (encoder, clip, options, closed-loop PSNR): the vector's test.json "generation"."""


def encode(gen, clip: np.ndarray, *, fps: Fraction = Fraction(30), frame_count: int | None = None,
           source: dict, **options) -> Encoded:
    """Encode a uint8 clip with the reference encoder; `source` says how the clip was made."""
    from ptcodec.encoder.encoder import Encoder
    from ptcodec.encoder.options import split_settings

    settings = dict(first_steps=150, later_steps=60, **options)
    encoder = Encoder(gen, *split_settings(settings), width=SIZE, height=SIZE, fps=fps,
                      frame_count=len(clip) if frame_count is None else frame_count)
    data = encoder.codec_private
    for frame in [*clip, None]:
        data += b"".join(p.data for p in encoder.encode(frame))
    header, records = read_all(data)
    described = {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()}
    generation = {"encoder": "ptcodec reference encoder", "generator": "reference",
                  "clip": "ptcodec.encoder.reachable.reachable_clip", **source, "options": described,
                  "closed_loop_psnr_db": round(encoder.report.psnr_mean, 2)}
    return Encoded(header, frame_units(records), generation)


def frame_units(records) -> list[Unit]:
    return [r.unit for r in records[1:] if isinstance(r.unit, (SceneInit, Keyframe))]


def clip(gen, frames: int, seed: int, *, interval: int = 3, rank: int = 4) -> np.ndarray:
    from ptcodec.encoder.reachable import reachable_clip

    return reachable_clip(gen, frames=frames, size=(SIZE, SIZE), interval=interval, rank=rank, seed=seed)


# ENCODINGS: each encoder run, by the name of the valid vector that holds it as it came out of
# the encoder (other vectors are rewrites of these: see USES).

def _scenes(gen) -> Encoded:
    e = encode(gen, np.concatenate([clip(gen, 4, 3), clip(gen, 5, 4)]), rank=4, interval=3,
               source={"clip_seed": [3, 4], "frames": 9})
    starts = [u.frame_index for u in e.units if isinstance(u, SceneInit)]
    assert starts == [0, 4], f"the scene cut was not found where the clips join: {starts}"
    return e


ENCODINGS: dict[str, Callable[[object], Encoded]] = {
    "basic": lambda gen: encode(gen, clip(gen, 7, 1), rank=4, interval=3, source={"clip_seed": 1, "frames": 7}),
    "interval1": lambda gen: encode(gen, clip(gen, 4, 2, interval=1, rank=2), rank=2, interval=1, crc=False,
                                    frame_count=0, source={"clip_seed": 2, "frames": 4}),
    "scenes": _scenes,
    "prev_frame": lambda gen: encode(gen, clip(gen, 7, 5), fps=Fraction(25), rank=4, interval=3,
                                     prev_latent_rule=1, gamma=(80, 100), noise_seed=7,
                                     source={"clip_seed": 5, "frames": 7}),
    "hold": lambda gen: encode(gen, clip(gen, 7, 6, rank=3), fps=Fraction(30000, 1001), rank=3, interval=3,
                               interp_rule=1, source={"clip_seed": 6, "frames": 7}),
    "ladder": lambda gen: encode(gen, clip(gen, 7, 7, rank=16), ranks=(1, 2, 4, 8, 16), interval=3,
                                 source={"clip_seed": 7, "frames": 7}),
    "latent_f16": lambda gen: encode(gen, clip(gen, 4, 8, rank=2), rank=2, interval=3, latent_dtype=LatentDtype.F16,
                                     source={"clip_seed": 8, "frames": 4}),
    "latent_bf16": lambda gen: encode(gen, clip(gen, 4, 9, rank=2), rank=2, interval=3,
                                      latent_dtype=LatentDtype.BF16, source={"clip_seed": 9, "frames": 4}),
}
USES = {"syntax_extras": "basic", "edge_values": "basic", "empty": "basic", "ladder_r8": "ladder",
        "ladder_r1": "ladder", "ladder_mixed": "ladder"}
"""Valid vectors made from another vector's encoding; every faulty vector is made from basic's."""


def encodings(gen, wanted: set[str], source: Path | None) -> dict[str, Encoded]:
    """The encodings the wanted vectors need (all when `wanted` is empty): encoded afresh, or read back
    from the valid vectors of `source` (a committed vector set), which makes stage 2 exact."""
    needed = {"basic"} | {USES.get(name, name) for name in wanted} if wanted else set(ENCODINGS)
    out = {}
    for name in ENCODINGS:
        if name not in needed:
            continue
        if source is None:
            out[name] = ENCODINGS[name](gen)
            continue
        directory = source / "valid" / name
        header, records = read_all((directory / "stream.ptv").read_bytes())
        out[name] = Encoded(header, frame_units(records),
                            json.loads((directory / "test.json").read_text())["generation"])
    return out


# -- stage 2: assembling streams -------------------------------------------------------------------


def leb128(value: int) -> bytes:
    return Leb128().build(value)


def frame_unit(unit_type: int, payload: bytes, *, crc: bool, layer_id: int | None = None,
               size_field: bytes | None = None, header_byte: int | None = None, crc_xor: int = 0) -> bytes:
    """One unit from raw parts; the keyword arguments let a faulty vector break exactly one thing."""
    byte = header_byte if header_byte is not None else (unit_type << 3) | (4 if layer_id is not None else 0)
    body = bytes([byte]) + (bytes([layer_id]) if layer_id is not None else b"")
    body += size_field if size_field is not None else leb128(len(payload))
    body += payload
    if crc or unit_type == UnitType.SEQUENCE_HEADER:
        body += struct.pack("<I", crc32c(body) ^ crc_xor)
    return body


def header_payload(h: SequenceHeader, *, flags: int | None = None, **override) -> bytes:
    """A sequence header payload packed field by field (spec 5.1), so any value can be written."""
    v = {**h.__dict__, **override}
    gid = v["generator_id"].encode("ascii")
    return (
        struct.pack("<BBBB", v["version_major"], v["version_minor"], v["level"],
                    int(v["crc_present"]) if flags is None else flags)
        + bytes([len(gid)]) + gid + v["generator_fingerprint"]
        + struct.pack("<HHIIIHHBBBIHHBBB", v["width"], v["height"], v["time_base_num"], v["time_base_den"],
                      v["frame_count"], v["tokens"], v["embed_dim"], v["latent_channels"], v["latent_downscale"],
                      v["noise_rule"], v["noise_seed"], v["gamma_num"], v["gamma_den"], v["prev_latent_rule"],
                      v["interp_rule"], v["quant_schemes"])
        + v["extension_data"]
    )


def keyframe_payload(k: Keyframe, *, rank: int | None = None, scheme: int | None = None,
                     params: bytes | None = None, extra: bytes = b"") -> bytes:
    rank = k.rank if rank is None else rank
    scheme = k.quant_scheme if scheme is None else scheme
    if params is None:
        if k.quant_scheme == 0:
            params = struct.pack("<4f", k.u_scale[0], k.u_zero_point[0], k.v_scale[0], k.v_zero_point[0])
        else:
            params = (struct.pack(f"<{k.rank}f", *k.u_scale) + bytes(int(z) for z in k.u_zero_point)
                      + struct.pack(f"<{k.rank}f", *k.v_scale) + bytes(int(z) for z in k.v_zero_point))
    return struct.pack("<IBB", k.frame_index, rank, scheme) + params + k.u + k.v + extra


def scene_payload(s: SceneInit, *, dtype: int | None = None, channels: int | None = None,
                  data: bytes | None = None) -> bytes:
    return (struct.pack("<IBBHH", s.frame_index, s.dtype if dtype is None else dtype,
                        s.channels if channels is None else channels, s.height, s.width)
            + (s.data if data is None else data))


def unit_bytes(unit: Unit, header: SequenceHeader, layer_id: int | None = None) -> bytes:
    return frame_unit(unit_type_of(unit), encode_payload(unit, header), crc=header.crc_present, layer_id=layer_id)


def stream_with_header_layer(header: SequenceHeader, units: list, *, header_layer: int | None = None) -> bytes:
    """A valid stream; (unit, layer_id) pairs give units a layer_id. `serialize` checks every rule."""
    data = serialize(header, units)
    if header_layer is None:
        return data
    _, records = read_all(data)
    rest = data[records[1].offset:] if len(records) > 1 else b""
    return MAGIC + frame_unit(UnitType.SEQUENCE_HEADER, encode_payload(header, None), crc=True,
                              layer_id=header_layer) + rest


# -- writing vectors -------------------------------------------------------------------------------


@dataclass
class VectorWriter:
    root: Path
    gen: object = None
    wanted: Callable[[str], bool] = lambda name: True
    """Which vectors to write; the faulty README lists every faulty vector either way."""
    readme: list[str] = field(default_factory=list)

    def _directory(self, kind: str, name: str) -> Path:
        directory = self.root / kind / name
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        return directory

    def valid(self, name: str, description: str, data: bytes, *, generation: dict, **extra) -> None:
        from ptcodec.process.reconstruction import reconstruct

        directory = self._directory("valid", name)
        (directory / "stream.ptv").write_bytes(data)
        header, records = read_all(data)
        units = [r.unit for r in records]
        rec = reconstruct(header, units[1:])
        index = rec.write(directory / "tier2")
        # c is 315 KB a frame: test.json keeps its hashes, the runner recomputes it to explain a mismatch.
        for name_ in index:
            if name_.startswith("c_"):
                (directory / "tier2" / f"{name_}.f32").unlink()
        kept = {k: v for k, v in index.items() if not k.startswith("c_")}
        (directory / "tier2" / "index.json").write_text(json.dumps(kept, indent=1) + "\n")
        test = {
            "kind": "valid", "name": name, "description": description, "stream": "stream.ptv",
            "expect": {"outcome": "decode"},
            **extra,
            "features": features(header, records),
            "generation": generation,
            "parse": parse_dump(records),
            "tier2": {"tensors": "tier2", "sha256": {k: v["sha256"] for k, v in index.items()}},
            "tier3": self._frames(directory, header, units),
        }
        self._finish(directory, test)

    def _frames(self, directory: Path, header: SequenceHeader, units: list[Unit]) -> dict | None:
        """Reference frames (raw RGB), made by ptcodec's decoder in binary32 on this machine."""
        if header.generator_id != "reference":
            return None
        from ptcodec.decoder import decode_units

        frames = [f.image for f in decode_units(header, units[1:], self.gen)]
        with open(directory / "frames.rgb", "wb") as f:
            for image in frames:
                f.write(np.ascontiguousarray(image, dtype=np.uint8).tobytes())
        reference = np.stack(frames) if frames else np.zeros((0, header.height, header.width, 3), np.uint8)
        scores = precision_scores(header, units[1:], reference)
        return {"generator": "reference", "frames": "frames.rgb", "format": "rgb24", "count": len(frames),
                "width": header.width, "height": header.height, "metric": "psnr_rgb8_min",
                "tolerance_db": tolerance_from(scores), "margin_db": MARGIN_DB,
                "calibration_db": {k: round(v, 2) if math.isfinite(v) else "inf" for k, v in scores.items()}}

    def faulty(self, name: str, rule: str, error_class: str, description: str, data: bytes,
               also: tuple[str, ...] = ()) -> None:
        check_rejected(name, data, (error_class, *also))
        self.readme.append(f"| `{name}` | {rule} | {error_class}{''.join(' or ' + a for a in also)} | {description} |")
        if not self.wanted(name):
            return
        directory = self._directory("faulty", name)
        (directory / "stream.ptv").write_bytes(data)
        expect = {"outcome": "reject", "error_class": error_class, "rule": rule}
        if also:
            expect["also_accepted"] = list(also)
        self._finish(directory, {"kind": "faulty", "name": name, "description": description,
                                 "stream": "stream.ptv", "expect": expect})

    def mkv(self, name: str) -> None:
        from ptcodec.container.matroska import mux

        directory = self._directory("mkv", name)
        mux(self.root / "valid" / name / "stream.ptv", directory / "stream.mkv")
        source = json.loads((self.root / "valid" / name / "test.json").read_text())
        self._finish(directory, {
            "kind": "mkv", "name": name, "stream": "stream.mkv", "source": f"valid/{name}",
            "description": f"valid/{name} muxed into Matroska (spec Annex B); its reference data is that vector's",
            "expect": {"outcome": "decode"}, "features": sorted({*source["features"], "container.matroska"}),
        })

    def _finish(self, directory: Path, test: dict) -> None:
        files = sorted(p for p in directory.rglob("*") if p.is_file() and p.name != "test.json")
        test["files"] = {p.relative_to(directory).as_posix(): sha256_file(p) for p in files}
        (directory / "test.json").write_text(json.dumps(test, indent=1) + "\n")


def check_rejected(name: str, data: bytes, classes: tuple[str, ...]) -> None:
    """The reference parser must reject a faulty vector with its documented class."""
    try:
        read_all(data)
    except PtvError as error:
        if type(error).__name__ not in classes:
            raise AssertionError(f"faulty/{name}: ptcodec raised {type(error).__name__} ({error}), "
                                 f"the vector documents {' or '.join(classes)}") from None
        return
    raise AssertionError(f"faulty/{name}: ptcodec accepted it")


# -- the valid vectors -------------------------------------------------------------------------------


def make_valid(w: VectorWriter, enc: dict[str, Encoded], only: Callable[[str], bool]) -> None:
    """Write the valid vectors from their encodings."""
    from ptcodec.process.quant import truncate_keyframe

    e = enc["basic"]
    if only("basic"):
        w.valid("basic", "one scene, rank 4, per-tensor quantization, keyframes every 3 frames, CRCs on; "
                "the released code's rules (segment-start latent, linear factors, gamma 95/100, seed 88)",
                serialize(e.header, e.units), generation=e.generation)
    if only("syntax_extras"):
        h = e.header
        extended = SequenceHeader(**{**h.__dict__, "version_minor": 1, "extension_data": b"\x01\x02\x03\x04\x05",
                                     "frame_count": 9})
        s, k0, k1, k2 = e.units[:4]
        units = [
            Metadata((("title", "conformance vector".encode()), ("comment", "h\u00e9llo, \u4e16\u754c".encode()))),
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
        s, k0, k1, k2 = e.units[:4]
        k1 = Keyframe(**{**k1.__dict__, "u_scale": (-0.0,)})
        k2 = Keyframe(**{**k2.__dict__, "v_scale": (2.0**-133,)})
        w.valid("edge_values", "basic with two edge-case scales: the keyframe of frame 3 has u_scale -0.0 (its U "
                "is signed zeros, and frames between interpolate towards them: the sign of zero is kept), the "
                "keyframe of frame 6 has v_scale 2^-133, a subnormal, so V and the products of composition are "
                "subnormal (no flush to zero, spec 2.4)", serialize(e.header, [s, k0, k1, k2]), derived="rewrite",
                generation={"from": "valid/basic"})
    if only("interval1"):
        e2 = enc["interval1"]
        w.valid("interval1", "every frame a keyframe (interval 1), rank 2, CRCs off, frame_count 0 (unknown)",
                serialize(e2.header, e2.units), generation=e2.generation)
    if only("scenes"):
        e3 = enc["scenes"]
        w.valid("scenes", "two scenes (a cut at frame 4, found by the encoder), each with its scene-init latent; "
                "no frame interpolates across the cut", serialize(e3.header, e3.units),
                generation=e3.generation)
    if only("prev_frame"):
        e4 = enc["prev_frame"]
        w.valid("prev_frame", "previous-frame latent rule (the paper's), gamma 80/100, noise seed 7, 25 fps",
                serialize(e4.header, e4.units), generation=e4.generation)
    if only("hold"):
        e5 = enc["hold"]
        w.valid("hold", "hold interpolation (each frame uses the last keyframe's prompt), rank 3, "
                "time base 1001/30000", serialize(e5.header, e5.units),
                generation=e5.generation)
    if any(only(n) for n in ("ladder", "ladder_r8", "ladder_r1", "ladder_mixed")):
        e6 = enc["ladder"]
        scene, *keys = e6.units
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
            mixed = [scene] + [truncate_keyframe(k, r) for k, r in zip(keys, ranks)]
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
        h = SequenceHeader(**{**e.header.__dict__, "crc_present": False, "frame_count": 5})
        w.valid("empty", "a sequence header and a metadata unit, no scene or keyframe: a stream with no frames "
                "(frame_count 5 notwithstanding, spec 12.3)", serialize(h, [Metadata((("note", b"no frames"),))]),
                generation={"from": "valid/basic"})
    if only("sky_import"):
        make_sky(w)


def make_sky(w: VectorWriter) -> None:
    """The authors' released sky prompts (rank 8, 15 keyframes), imported as Annex A says."""
    import tempfile

    from ptcodec.interop.promptus import import_promptus

    if not SHARED_SKY.is_dir():
        print(f"sky_import: skipped, {SHARED_SKY} not found (shared data)", file=sys.stderr)
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sky.ptv"
        import_promptus(SHARED_SKY, path)
        data = path.read_bytes()
    w.valid("sky_import", "the authors' released Promptus prompts for the sky clip (512x512, rank 8, keyframes "
            "every 10 frames, 141 frames), imported per Annex A; tiers 1 and 2 only (sd-turbo weights are not part "
            "of the suite)", data, imported="promptus", generation={"from": "shared/data/promptus_official/sky"})


# -- the faulty vectors -------------------------------------------------------------------------------


def make_faulty(w: VectorWriter, base: Encoded, only: Callable[[str], bool]) -> None:
    """Each breaks exactly one rule of spec section 9 (where that is possible; see also_accepted)."""
    h = SequenceHeader(**{**base.header.__dict__, "frame_count": 0})
    scene, k0, k1 = base.units[:3]
    crc = h.crc_present

    def head(**override) -> bytes:
        return frame_unit(1, header_payload(h, **override), crc=True)

    def unit(unit_type: int, payload: bytes, **kw) -> bytes:
        return frame_unit(unit_type, payload, crc=crc, **kw)

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
        + unit(kf, encode_payload(k1, h), header_byte=0x80 | (kf << 3)))
    add("reserved_zero_2bits", "F3", "InvalidValueError", "the second keyframe's unit header has "
        "reserved_zero_2bits = 1; crc recomputed", good_head + s_bytes + k0_bytes
        + unit(kf, encode_payload(k1, h), header_byte=(kf << 3) | 1))
    add("reserved_zero_7bits", "F3", "InvalidValueError", "the sequence header's flags byte is 0x03 "
        "(a reserved bit set beside crc_present); crc recomputed", header_only(flags=0x03))
    add("leb128_9_bytes", "F4", "InvalidValueError", "a padding unit's payload_size takes 9 bytes "
        "(80 x8 then 00)", good + unit(5, b"", size_field=b"\x80" * 8 + b"\x00"))
    add("leb128_not_minimal", "F4", "InvalidValueError", "a padding unit's payload_size 2 is written in 2 bytes "
        "(82 00)", good + unit(5, b"\x00\x00", size_field=b"\x82\x00"))
    add("leb128_above_2_32", "F4", "InvalidValueError", "a padding unit's payload_size is 2^32 (80 80 80 80 10); "
        "such a value also exceeds every max_unit_size, so F5 is accepted too",
        good + unit(5, b"", size_field=b"\x80\x80\x80\x80\x10"), also=("LimitExceededError",))
    add("leb128_metadata_not_minimal", "F4", "InvalidValueError", "a metadata entry's value_size 1 is written in "
        "2 bytes (81 00)", good + unit(4, b"\x01k\x81\x00v"))
    big = SequenceHeader(**{**h.__dict__, "version_minor": 1, "extension_data": bytes(1025 - 71 - len(h.generator_id))})
    add("header_too_large", "F5", "LimitExceededError", "a version 1.1 sequence header of 1,025 bytes "
        "(extension_data fills it)", MAGIC + frame_unit(1, header_payload(big), crc=True))
    from ptcodec.ptv.levels import LEVELS

    limit = LEVELS[h.level].max_unit_size
    add("unit_too_large", "F5", "LimitExceededError", f"a padding unit of {limit + 1:,} zero bytes, one more "
        f"than level {h.level}'s max_unit_size", good + unit(5, bytes(limit + 1)))
    add("crc_mismatch", "F6", "CrcMismatchError", "the second keyframe's crc has its lowest bit flipped",
        good_head + s_bytes + k0_bytes + unit(kf, encode_payload(k1, h), crc_xor=1))
    add("header_crc_mismatch", "F6", "CrcMismatchError", "the sequence header's crc has its top bit flipped",
        MAGIC + frame_unit(1, header_payload(h), crc=True, crc_xor=0x80000000) + s_bytes + k0_bytes)
    add("payload_corrupted", "F6", "CrcMismatchError", "one byte of the first keyframe's codes is changed; the "
        "crc no longer matches", good_head + s_bytes + _flip(k0_bytes, 40) + k1_bytes)
    add("no_units", "F7", "InvalidValueError", "the signature and nothing else", MAGIC)
    add("first_unit_not_header", "F7", "InvalidValueError", "the first unit is a scene-init unit",
        MAGIC + frame_unit(2, encode_payload(scene, h), crc=True) + good[len(good_head):])
    add("second_header", "F7", "InvalidValueError", "a second sequence header after the first keyframe",
        good_head + s_bytes + k0_bytes + frame_unit(1, header_payload(h), crc=True) + k1_bytes)
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
        good_head + unit(2, scene_payload(scene, dtype=3)) + k0_bytes)
    add("quant_scheme_2", "F15", "InvalidValueError", "a keyframe's quant_scheme is 2 (undefined; so also not in "
        "quant_schemes, F20, the same class)", good_head + s_bytes + unit(kf, keyframe_payload(k0, scheme=2)))
    add("gamma_above_1", "F16", "InvalidValueError", "gamma 101/100", header_only(gamma_num=101))
    add("quant_schemes_bit_2", "F17", "InvalidValueError", "quant_schemes 0x05 (bit 2 names no scheme)",
        header_only(quant_schemes=5))
    add("quant_schemes_zero", "F17", "InvalidValueError", "quant_schemes 0", header_only(quant_schemes=0))
    add("rank_zero", "F18", "InvalidValueError", "a keyframe of rank 0 (a 22-byte payload, consistent with it)",
        good_head + s_bytes + unit(kf, struct.pack("<IBB", 0, 0, 0) + keyframe_payload(k0)[6:22]))
    r17 = 17
    k17 = Keyframe(0, r17, 0, k0.u_scale, k0.u_zero_point, k0.v_scale, k0.v_zero_point,
                   bytes(h.tokens * r17), bytes(r17 * h.embed_dim))
    add("rank_above_level", "F19", "LimitExceededError", "a keyframe of rank 17 at level 1 (max_rank 16)",
        good_head + s_bytes + unit(kf, keyframe_payload(k17)))
    k_pc = Keyframe(0, k0.rank, 1, (1e-3,) * k0.rank, (128,) * k0.rank, (1e-3,) * k0.rank, (128,) * k0.rank, k0.u, k0.v)
    add("scheme_not_declared", "F20", "InvalidValueError", "a per-component keyframe (scheme 1) where "
        "quant_schemes is 0x01", good_head + s_bytes + unit(kf, keyframe_payload(k_pc)))
    params = struct.unpack("<4f", keyframe_payload(k0)[6:22])
    for name, index, value, text in (("nan_scale", 0, float("nan"), "u_scale is NaN"),
                                     ("negative_scale", 2, -0.5, "v_scale is -0.5"),
                                     ("infinite_scale", 0, float("inf"), "u_scale is +infinity"),
                                     ("zero_point_256", 3, 256.0, "v_zero_point is 256.0")):
        changed = list(params)
        changed[index] = value
        add(name, "F21", "InvalidValueError", f"the first keyframe's {text}",
            good_head + s_bytes + unit(kf, keyframe_payload(k0, params=struct.pack("<4f", *changed))) + k1_bytes)
    add("keyframe_size_mismatch", "F22", "InvalidValueError", "a keyframe payload one byte longer than "
        "6 + 16 + m*r + r*n", good_head + s_bytes + unit(kf, keyframe_payload(k0, extra=b"\x00")))
    add("metadata_entry_cut", "F22", "InvalidValueError", "a metadata entry whose value_size (9) runs past the "
        "end of its payload", good + unit(4, b"\x03key\x09abc"))
    add("header_cut", "F22", "InvalidValueError", "a sequence header payload cut 2 bytes short (it ends inside "
        "quant_schemes' neighbours)", MAGIC + frame_unit(1, header_payload(h)[:-2], crc=True))
    add("latent_shape", "F23", "InvalidValueError", "a scene-init unit with channels 3 (latent_channels is 4), "
        "its data sized for 3 channels", good_head + unit(2, scene_payload(scene, channels=3,
                                                                           data=scene.data[: 3 * 8 * 8 * 4]))
        + k0_bytes)
    nan_data = struct.pack("<f", float("nan")) + scene.data[4:]
    add("latent_nan", "F23", "InvalidValueError", "the first latent sample is NaN",
        good_head + unit(2, scene_payload(scene, data=nan_data)) + k0_bytes)
    shifted = [_moved(scene, 2), _moved(k0, 2)]
    add("first_scene_not_0", "F24", "InvalidValueError", "the first scene-init unit and keyframe are at frame 2",
        good_head + b"".join(unit_bytes(u, h) for u in shifted))
    add("keyframe_before_scene", "F24", "InvalidValueError", "a keyframe before the first scene-init unit",
        good_head + k0_bytes + s_bytes + k1_bytes)
    add("scene_without_keyframe", "F25", "InvalidValueError", "a scene-init unit at frame 5 followed by the "
        "keyframe of frame 6", good + unit_bytes(_moved(scene, 5), h) + unit_bytes(_moved(k1, 6), h))
    add("frames_backwards", "F26", "InvalidValueError", "keyframes at frames 0, 3, then 2",
        good + unit_bytes(_moved(k1, 2), h))
    add("frame_count_exceeded", "F27", "InvalidValueError", "frame_count 3 and a keyframe at frame 3",
        MAGIC + head(frame_count=3) + s_bytes + k0_bytes + k1_bytes)
    fast = SequenceHeader(**{**h.__dict__, "time_base_den": 60})
    rate_units = [scene] + [_moved(_rank1(k0), i) for i in range(32)]
    add("keyframe_rate", "F28", "LimitExceededError", "32 keyframes on consecutive frames at 60 fps: "
        "level 1 allows 30 within one second", MAGIC + frame_unit(1, header_payload(fast), crc=True)
        + b"".join(unit_bytes(u, fast) for u in rate_units))
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
    thin = SequenceHeader(**{**h.__dict__, "tokens": 1, "embed_dim": 1})
    thin_keys = [Keyframe(i, 1, 0, k0.u_scale, k0.u_zero_point, k0.v_scale, k0.v_zero_point, b"\x80", b"\x80")
                 for i in range(0, max_count + 1, max_gap)]
    add("frame_index_above_level", "F31", "LimitExceededError", f"frame_count 0 and keyframes every {max_gap:,} "
        f"frames (tokens and embed_dim 1, rank 1) up to one at frame {max_count:,}, level {h.level}'s "
        "max_frame_count", MAGIC + frame_unit(1, header_payload(thin), crc=True)
        + b"".join(unit_bytes(u, thin) for u in [scene, *thin_keys]))
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


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1:]


def _moved(unit: Unit, frame_index: int) -> Unit:
    return type(unit)(**{**unit.__dict__, "frame_index": frame_index})


def _rank1(k: Keyframe) -> Keyframe:
    return Keyframe(k.frame_index, 1, k.quant_scheme, k.u_scale, k.u_zero_point, k.v_scale, k.v_zero_point,
                    k.u_codes()[:, :1].tobytes(), k.v_codes()[:1].tobytes())


# -- the script ------------------------------------------------------------------------------------------


def generate(root: Path, names: list[str], source: Path | None = None) -> None:
    """Write the named vectors (all when `names` is empty) under `root`; `source`: take the
    encodings from that vector set instead of encoding afresh."""
    from ptcodec.generators import load_generator

    wanted = set(names)

    def only(name: str) -> bool:
        return not wanted or name in wanted

    root.mkdir(parents=True, exist_ok=True)
    gen = load_generator("reference")
    enc = encodings(gen, wanted, source)
    w = VectorWriter(root, gen, only)
    make_valid(w, enc, only)
    make_faulty(w, enc["basic"], lambda name: True)  # every rule is listed in the README; `w` writes the wanted
    for directory in sorted((root / "valid").glob("*/test.json")):
        name = directory.parent.name
        if only(name) and name != "empty":
            w.mkv(name)
    if (root / "faulty").is_dir():  # the README lists every faulty vector, written now or before
        write_faulty_readme(root / "faulty" / "README.md", w.readme)


def write_faulty_readme(path: Path, lines: list[str]) -> None:
    path.write_text(
        "# Faulty vectors\n\n"
        "Each stream breaks one rule of spec/ptv.md section 9 and must be rejected with the error class given\n"
        "(an implementation in another language reports the class by name). Made by\n"
        "`python -m ptcodec.conformance.generate`; every crc is valid unless the vector is about the crc.\n\n"
        "| vector | rule | error class | what is broken |\n|---|---|---|---|\n" + "\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ptcodec.conformance.generate", description=__doc__.split("\n")[0])
    parser.add_argument("directory", help="where to write the vectors (the repository's is bitstream/)")
    parser.add_argument("names", nargs="*", help="only these vectors (default: all)")
    parser.add_argument("--from", dest="source", type=Path, metavar="VECTORS",
                        help="take the encodings from this vector set (e.g. bitstream/) instead of encoding again: "
                        "the streams, parse dumps and tier-2 data then come out identical on any machine")
    args = parser.parse_intermixed_args(argv)
    generate(Path(args.directory), args.names, args.source)
    return 0


if __name__ == "__main__":
    sys.exit(main())
