"""ptcodec: video coded as low-rank prompts for a one-step diffusion generator.

Encode (ptcodec/encoder/, in closed loop through the real decoder)::

    video --media.load_clip--> RGB frames --scenes: cuts, KeyframePlanner--> keyframes b
      for each keyframe b:   frames a+1..b (targets)
        fit.fit: Adam on (u, v) through  mirrors.fake_quantize -> mirrors.segment_conditioning
                 -> mirrors.mix_noise -> generator.generate -> losses.FitLoss   (torch, gradients)
        process.quant.quantize_keyframe --> Keyframe unit (8-bit u, v + scales)
        Decoder.push(unit) --> the frames a decoder will output; its KeyState feeds the next fit
    units --ptv.PtvWriter / container.matroska--> .ptv or .mkv

Decode (ptcodec/decoder.py over the normative process, ptcodec/process/, NumPy, bit-exact)::

    .ptv / .mkv --container.open--> Packets --ptv.framing--> units
      Keyframe --process.quant.dequantize_keyframe--> u (m, r), v (r, n)
      FramePlan --process.conditioning--> c_t = u v / sqrt(r), interpolated between keyframes
      SceneInit latent, N0 --process.noise.mix_noise--> input noise N_t
      generator.generate(N_t, c_t) --process.pixels.to_uint8--> DecodedFrame (RGB uint8)
    frames --media.VideoWriter--> mp4 / mkv / y4m / png

`import ptcodec` stays light (no torch, no diffusers): a muxer or a CDN node
that only needs the bitstream syntax must not pay for the models.
"""

from ptcodec.errors import (
    CrcMismatchError,
    GeneratorError,
    InputError,
    InvalidValueError,
    LimitExceededError,
    PtcodecError,
    PtvError,
    TruncatedError,
    UnsupportedVersionError,
)

__version__ = "0.1.0"

__all__ = [
    "CrcMismatchError",
    "Decoder",
    "Encoder",
    "FitOptions",
    "GeneratorError",
    "GeneratorOptions",
    "InputError",
    "InvalidValueError",
    "LimitExceededError",
    "PtcodecError",
    "PtvError",
    "StreamOptions",
    "TruncatedError",
    "UnsupportedVersionError",
    "__version__",
    "open",
]

_LAZY = {
    "open": ("ptcodec.container", "open"),  # parsing and demuxing need no torch
    "Encoder": ("ptcodec.encoder.encoder", "Encoder"),
    "Decoder": ("ptcodec.decoder", "Decoder"),
    "StreamOptions": ("ptcodec.encoder.options", "StreamOptions"),  # settings only: no torch
    "FitOptions": ("ptcodec.encoder.options", "FitOptions"),
    "GeneratorOptions": ("ptcodec.generators", "GeneratorOptions"),
}


def __getattr__(name: str):
    """The API's classes, imported on first use so that `import ptcodec` does not load torch."""
    if name in _LAZY:
        import importlib

        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'ptcodec' has no attribute {name!r}")
