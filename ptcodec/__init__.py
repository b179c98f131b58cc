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
    "GeneratorError",
    "InputError",
    "InvalidValueError",
    "LimitExceededError",
    "PtcodecError",
    "PtvError",
    "TruncatedError",
    "UnsupportedVersionError",
    "__version__",
]
