"""One-step generators: the model that turns (noise latent, prompt) into a frame.

The registry maps the generator id of a sequence header to the code that loads
it. Implementations import torch and diffusers only when loaded, so that
`import ptcodec.generators` stays light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ptcodec.errors import GeneratorError

if TYPE_CHECKING:
    from ptcodec.generators.base import Generator

REGISTRY: dict[str, tuple[str, str]] = {
    "reference": ("ptcodec.generators.reference", "ReferenceGenerator"),
    "sd-turbo": ("ptcodec.generators.sd_turbo", "SDTurboGenerator"),
}
"""generator id -> (module, class with a `load(**options)` classmethod)."""


def available_generators() -> list[str]:
    return sorted(REGISTRY)


def load_generator(generator_id: str, **options) -> "Generator":
    """Load the generator a stream names; GeneratorError says what is missing.
    The device is checked before anything loads."""
    if generator_id not in REGISTRY:
        raise GeneratorError(
            f"generator {generator_id!r} is not available; this ptcodec has: {', '.join(available_generators())}"
        )
    from ptcodec.generators.base import check_precision, torch_device

    check_precision(torch_device(options.get("device", "cpu")), options.get("dtype", "fp32"))
    module, name = REGISTRY[generator_id]
    return getattr(importlib.import_module(module), name).load(**options)
