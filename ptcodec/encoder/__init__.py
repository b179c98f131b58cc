"""The reference encoder: prompt fitting in closed loop against a generator.

- options.py: settings and quality presets
- scenes.py: scene cuts and the keyframe plan
- fakequant.py: the bitstream's quantizer with a straight-through gradient
- losses.py: MSE + perceptual terms
- fit.py: fitting one keyframe's factors (ptcodec's recipe and the released one)
- encoder.py: the loop over keyframes, writing units and decoding them back
"""

from ptcodec.encoder.encoder import EncodePlan, EncodeReport, Encoder, KeyframeReport
from ptcodec.encoder.options import PRESETS, EncoderOptions

__all__ = ["PRESETS", "EncodePlan", "EncodeReport", "Encoder", "EncoderOptions", "KeyframeReport"]
