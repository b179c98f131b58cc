"""The `--codec` specifications of `ptcodec evaluate run`.

    x265                                   a pixel codec at every --rates target
    ptcodec:generator=sd-turbo,ranks=4/8/16,K=2/5/10
                                           ptcodec over the grid rank x interval (a/b/c: the values of a key)
    ptcodec:ladder=4/8/16,K=10             one rank-scalable stream cut to each rung of the ladder
    vae:generator=reference                the VAE baseline at every --rates target

A value with "/" is a list; the grid is the product of the lists, in the order given.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from ptcodec.errors import InputError

PIXEL_CODECS = ("x264", "x265", "svtav1", "vvenc", "libaom")
CODECS = (*PIXEL_CODECS, "ptcodec", "vae")


@dataclass(frozen=True)
class CodecSpec:
    name: str
    options: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Each key's values, in order (one value: a tuple of one)."""

    def grid(self, keys: tuple[str, ...]) -> list[dict[str, str]]:
        """Every combination of the listed keys' values, the other options fixed at their single value."""
        listed = [k for k in keys if k in self.options]
        fixed = {k: v[0] for k, v in self.options.items() if k not in listed}
        combos = itertools.product(*(self.options[k] for k in listed))
        return [{**fixed, **dict(zip(listed, combo, strict=True))} for combo in combos]

    def single(self, key: str, default: str | None = None) -> str | None:
        values = self.options.get(key)
        if values is None:
            return default
        if len(values) != 1:
            raise InputError(f"--codec {self.name}: {key} takes one value, got {'/'.join(values)}")
        return values[0]


def parse_codec(text: str) -> CodecSpec:
    """'name' or 'name:key=value,key=v1/v2'; an unknown codec or a malformed option is one line."""
    name, _, rest = text.partition(":")
    if name not in CODECS:
        raise InputError(f"--codec {text!r}: unknown codec {name!r}; choose from {', '.join(CODECS)}")
    options: dict[str, tuple[str, ...]] = {}
    for item in filter(None, rest.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key or not value or any(not v for v in value.split("/")):
            raise InputError(f"--codec {text!r}: {item!r} is not key=value (several values: key=a/b/c)")
        if key in options:
            raise InputError(f"--codec {text!r}: {key} is given twice")
        options[key] = tuple(value.split("/"))
    return CodecSpec(name, options)


def parse_rates(text: str) -> tuple[float, ...]:
    """'140,225,540' -> target rates in kbit/s, each > 0."""
    try:
        rates = tuple(float(r) for r in text.split(","))
    except ValueError:
        raise InputError(f"--rates {text!r}: give kbit/s values such as 140,225,540") from None
    if not rates or min(rates) <= 0:
        raise InputError(f"--rates {text!r}: rates must be above 0 kbit/s")
    return rates
