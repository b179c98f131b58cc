"""`ptcodec recode`: rewrite a stream with or without the 1.1 coding tools, without the generator.

To 1.1 every keyframe takes the coded scheme of its quantization layout (the writer
entropy-codes it, choosing prediction and carried models); to 1.0 every coded keyframe
goes back to its uncoded scheme. The factor codes and every other unit (metadata,
padding, reserved units, layer ids, the CRC setting) are kept, so 1.0 -> 1.1 -> 1.0
gives back the original bytes. Only the scene-init latent may change, when asked.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass

from ptcodec.errors import InputError
from ptcodec.outputs import check_output
from ptcodec.ptv import PtvReader, PtvWriter, syntax
from ptcodec.ptv.syntax import LatentDtype, QuantScheme
from ptcodec.ptv.units import Keyframe, SceneInit, SequenceHeader, Unit

CODINGS = ("1.0", "1.1")
LATENTS = {"keep": None, "f32": LatentDtype.F32, "u8": LatentDtype.U8, "u8-coded": LatentDtype.U8_CODED}
"""--latent: keep the scene-init latents as they are, or store them in this dtype."""
U8_DTYPES = frozenset({LatentDtype.U8, LatentDtype.U8_CODED})


@dataclass
class RecodeResult:
    keyframes: int
    recoded: int
    """Keyframes whose scheme changed."""
    latents: int
    """Scene-init latents whose dtype changed."""
    bytes_in: int
    bytes_out: int


def recode_header(header: SequenceHeader, coding: str) -> SequenceHeader:
    """The header with version_minor and quant_schemes for `coding`: each scheme's coded
    (1.1) or uncoded (1.0) twin is named instead of, or beside, it."""
    schemes = [s for s in QuantScheme if header.quant_schemes & (1 << s)]
    if coding == "1.1":
        bits = header.quant_schemes
        for s in schemes:
            bits |= 1 << syntax.coded_scheme(s)
        return dataclasses.replace(header, version_minor=1, quant_schemes=bits)
    bits = 0
    for s in schemes:
        bits |= 1 << syntax.quant_layout(s)
    return dataclasses.replace(header, version_minor=0, quant_schemes=bits)


def recode_keyframe(k: Keyframe, coding: str) -> Keyframe:
    """The keyframe under the scheme of `coding`, as codes: a coded one is coded anew by the writer."""
    scheme = syntax.coded_scheme(k.quant_scheme) if coding == "1.1" else syntax.quant_layout(k.quant_scheme)
    return dataclasses.replace(k, quant_scheme=int(scheme), predicted=False, carry_models=False, coded_factors=b"")


def recode_scene_init(s: SceneInit, coding: str, latent: str, bits: int, where: str) -> SceneInit:
    """The scene init with its latent in the dtype asked for (u8 <-> u8-coded keeps the codes)."""
    target = LATENTS[latent]
    if target is None:
        if coding == "1.0" and s.dtype in U8_DTYPES:
            raise InputError(f"{where}: the scene init of frame {s.frame_index} holds a u8 latent, which version 1.0 "
                             "cannot store; give --latent f32 to dequantize it (not lossless)")
        return s
    if coding == "1.0" and target in U8_DTYPES:
        raise InputError(f"--latent {latent} needs --coding 1.1 (version 1.0 has no u8 latents)")
    if target == s.dtype:
        return s
    if s.dtype in U8_DTYPES and target in U8_DTYPES:
        return _u8_recoded(s, target)
    return SceneInit.from_latent(s.frame_index, s.latent(), target, bits=bits)


def _u8_recoded(s: SceneInit, target: int) -> SceneInit:
    """The same u8 codes and parameters, stored plain or entropy-coded."""
    from ptcodec.entropy import latents

    codes = s.latent_codes()
    body = latents.encode(codes) if target == LatentDtype.U8_CODED else codes.tobytes()
    return dataclasses.replace(s, dtype=int(target), data=s.data[:8 * s.channels] + body)


def recode_file(source: str | os.PathLike[str], output: str | os.PathLike[str], coding: str, *,
                latent: str = "keep", latent_bits: int = 8) -> RecodeResult:
    if coding not in CODINGS:
        raise InputError(f"--coding {coding} is not one of {', '.join(CODINGS)}")
    if latent not in LATENTS:
        raise InputError(f"--latent {latent} is not one of {', '.join(LATENTS)}")
    if not 1 <= latent_bits <= 8:
        raise InputError(f"--latent-bits {latent_bits} is not in 1..8")
    check_output(output, inputs=[source])
    where = os.fspath(source)
    keyframes = recoded = changed_latents = 0
    with PtvReader(source) as reader:
        header = reader.header
        if coding == "1.1" and header.version_minor == 0 and header.extension_data:
            raise InputError(f"{where}: the 1.0 sequence header carries {len(header.extension_data)} bytes of "
                             "extension data, which a 1.1 header cannot keep")
        with PtvWriter(output, recode_header(header, coding)) as writer:
            for record in reader.units():
                unit: Unit = record.unit
                if record.index == 0:
                    continue
                if isinstance(unit, Keyframe):
                    keyframes += 1
                    new = recode_keyframe(unit, coding)
                    recoded += new.quant_scheme != unit.quant_scheme
                    unit = new
                elif isinstance(unit, SceneInit):
                    new_scene = recode_scene_init(unit, coding, latent, latent_bits, where)
                    changed_latents += new_scene.dtype != unit.dtype
                    unit = new_scene
                writer.write(unit, layer_id=record.layer_id)
    return RecodeResult(keyframes, recoded, changed_latents, os.path.getsize(source), os.path.getsize(output))
