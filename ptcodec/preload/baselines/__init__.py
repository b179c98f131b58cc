"""The challenge's two baselines, written from the rules in issue 16.

Each module defines `Algorithm` with the challenge's interface and imports only the standard library
and NumPy, so the file runs unchanged as a `solution.py` in the original simulator.
"""

from ptcodec.preload.baselines.fixed_preload import Algorithm as FixedPreload
from ptcodec.preload.baselines.no_save import Algorithm as NoSave

BASELINES = {"no_save": NoSave, "fixed_preload": FixedPreload}

__all__ = ["BASELINES", "FixedPreload", "NoSave"]
