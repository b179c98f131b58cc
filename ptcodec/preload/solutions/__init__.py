"""Schedulers for the short-video challenge beyond the baselines (issue 16): the search scheduler and two
comparisons in the style of the challenge's top ideas. `search.py` imports only the standard library and
NumPy (it runs as a challenge `solution.py`)."""

from ptcodec.preload.solutions.search import Algorithm as SearchPixels
from ptcodec.preload.solutions.search import DashletStyle, GeneratorQueue, PdasStyle, SearchScheduler

__all__ = ["DashletStyle", "GeneratorQueue", "PdasStyle", "SearchPixels", "SearchScheduler"]
