"""ptcodec: video coded as low-rank prompts for a one-step diffusion generator.

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
    "EncoderOptions",
    "GeneratorError",
    "InputError",
    "InvalidValueError",
    "LimitExceededError",
    "PtcodecError",
    "PtvError",
    "TruncatedError",
    "UnsupportedVersionError",
    "__version__",
    "open",
]


def __getattr__(name: str):
    """`ptcodec.open`, `ptcodec.Encoder` and `ptcodec.Decoder` (ptcodec/api.py) and
    `ptcodec.EncoderOptions`, imported on first use so that `import ptcodec` does not load torch."""
    if name == "open":  # parsing and demuxing need no torch
        from ptcodec.container import open

        return open
    if name in ("Encoder", "Decoder"):
        from ptcodec import api

        return getattr(api, name)
    if name == "EncoderOptions":  # settings only: no torch
        from ptcodec.encoder.options import EncoderOptions

        return EncoderOptions
    raise AttributeError(f"module 'ptcodec' has no attribute {name!r}")
