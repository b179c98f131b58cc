"""The reference encoder: prompt fitting in closed loop against a generator.

- options.py: StreamOptions (what a decoder sees) and FitOptions (how to fit), presets
- scenes.py: scene cuts and the keyframe planner
- mirrors.py: torch mirrors of the normative process (quantizer, conditioning, noise)
- losses.py: MSE + perceptual terms
- fit.py: fitting one keyframe's factors (ptcodec's recipe and the released one)
- resume.py: continuing an interrupted encode from its partial stream
- encoder.py: the loop over keyframes, writing units and decoding them back
- rdoq.py: rate-distortion optimised quantization (bitstream 1.1)
- reachable.py: clips the generator can reproduce exactly (demo and test content)
"""

from ptcodec.encoder.options import PRESETS, FitOptions, StreamOptions, split_settings

__all__ = ["PRESETS", "EncodeReport", "Encoder", "FitOptions", "KeyframeReport", "StreamOptions", "split_settings"]


def __getattr__(name: str):
    """The encoder itself needs torch: import it on first use, so that the CLI
    can read the options without loading torch."""
    if name in ("EncodeReport", "Encoder", "KeyframeReport"):
        from ptcodec.encoder import encoder

        return getattr(encoder, name)
    raise AttributeError(f"module 'ptcodec.encoder' has no attribute {name!r}")
