"""The reference encoder: prompt fitting in closed loop against a generator.

- options.py: settings and quality presets
- scenes.py: scene cuts and the keyframe plan
- fakequant.py: the bitstream's quantizer with a straight-through gradient
- losses.py: MSE + perceptual terms
- fit.py: fitting one keyframe's factors (ptcodec's recipe and the released one)
- encoder.py: the loop over keyframes, writing units and decoding them back
"""

from ptcodec.encoder.options import PRESETS, EncoderOptions

__all__ = ["PRESETS", "EncodeReport", "Encoder", "EncoderOptions", "KeyframeReport"]


def __getattr__(name: str):
    """The encoder itself needs torch: import it on first use, so that the CLI
    can read the options without loading torch."""
    if name in ("EncodeReport", "Encoder", "KeyframeReport"):
        from ptcodec.encoder import encoder

        return getattr(encoder, name)
    raise AttributeError(f"module 'ptcodec.encoder' has no attribute {name!r}")
