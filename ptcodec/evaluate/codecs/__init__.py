"""Pixel-codec baselines behind one interface (base.PixelCodec), by name.

x264, x265 and SVT-AV1 run in process through PyAV; VVenC and libaom run through the
imageio-ffmpeg binary. Colour conversion is colour.py's, rate control base.encode_at_rate.
"""

from __future__ import annotations

from ptcodec.errors import InputError
from ptcodec.evaluate.codecs.base import Encoded, PixelCodec, encode_at_rate
from ptcodec.evaluate.codecs.libaom import Libaom
from ptcodec.evaluate.codecs.svtav1 import SvtAv1
from ptcodec.evaluate.codecs.vvenc import VVenC
from ptcodec.evaluate.codecs.x264 import X264
from ptcodec.evaluate.codecs.x265 import X265

CODECS: dict[str, type] = {"x264": X264, "x265": X265, "svtav1": SvtAv1, "vvenc": VVenC, "libaom": Libaom}


def make_codec(name: str) -> PixelCodec:
    """The adapter called `name`, with its table settings."""
    try:
        codec: PixelCodec = CODECS[name]()
    except KeyError:
        raise InputError(f"unknown pixel codec {name!r}; choose from {', '.join(CODECS)}") from None
    return codec


__all__ = ["CODECS", "Encoded", "PixelCodec", "encode_at_rate", "make_codec"]
