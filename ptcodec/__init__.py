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
