"""One-step generators: the model that turns (noise latent, prompt) into a frame.

The registry maps the generator id of a sequence header to the code that loads
it. Implementations import torch and diffusers only when loaded, so that
`import ptcodec.generators` stays light.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ptcodec.errors import GeneratorError

if TYPE_CHECKING:
    from ptcodec.generators.base import Generator

REGISTRY: dict[str, tuple[str, str]] = {
    "reference": ("ptcodec.generators.reference", "ReferenceGenerator"),
    "sd-turbo": ("ptcodec.generators.sd_turbo", "SDTurboGenerator"),
}
"""generator id -> (module, class with a `load(**options)` classmethod)."""


@dataclass(frozen=True)
class GeneratorOptions:
    """How to load whichever generator a stream names (the CLI's generator options). Each
    generator takes the fields its `load` has; the others (sd-turbo's weights, for the
    reference generator) do not concern it and are left aside."""

    device: str = "cpu"
    dtype: str = "fp32"
    offline: bool = False
    """Never touch the network (as HF_HUB_OFFLINE=1); False leaves it to the environment."""
    unet: str | None = None
    """sd-turbo: the UNet's hub id or local folder (None: the default)."""
    vae: str | None = None
    """sd-turbo: the VAE's hub id or local folder (None: the default)."""

    def arguments(self, load) -> dict:
        """The keyword arguments of a generator's `load` that these options set."""
        takes = inspect.signature(load).parameters
        given = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        given["offline"] = self.offline or None  # None: the environment decides
        return {name: value for name, value in given.items() if name in takes and value is not None}


def available_generators() -> list[str]:
    return sorted(REGISTRY)


def load_generator(generator_id: str, options: GeneratorOptions | None = None, **arguments) -> "Generator":
    """Load the generator a stream names; GeneratorError says what is missing.
    `options` are shared by every generator (each takes its own fields); `arguments` go to
    this generator's `load` as they are (one it does not take is a TypeError, a caller's bug).
    The device is checked before anything loads."""
    if generator_id not in REGISTRY:
        raise GeneratorError(
            f"generator {generator_id!r} is not available; this ptcodec has: {', '.join(available_generators())}"
        )
    from ptcodec.generators.base import check_precision, torch_device

    given = options or GeneratorOptions()
    check_precision(torch_device(arguments.get("device", given.device)), arguments.get("dtype", given.dtype))
    module, name = REGISTRY[generator_id]
    load = getattr(importlib.import_module(module), name).load
    return load(**{**(options.arguments(load) if options else {}), **arguments})
