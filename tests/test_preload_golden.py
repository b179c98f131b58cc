"""Golden tests: both baselines reproduce issue 16's table (the challenge simulator's own means over the
20 traces of each class) within ±0.05 per class, on the shared challenge data."""

from __future__ import annotations

import pytest

from ptcodec.preload.baselines import BASELINES
from ptcodec.preload.runner import run_class
from tests.conftest import SHARED_DATA

TRACES = SHARED_DATA / "traces" / "svsc_network"
VIDEOS = SHARED_DATA / "short_video"

# Issue 16, "Baseline scores in the challenge's own simulator".
TABLE = {
    ("no_save", "high"): -12.67,
    ("no_save", "medium"): -10.17,
    ("no_save", "low"): -10.67,
    ("no_save", "mixed"): -19.82,
    ("fixed_preload", "high"): -16.56,
    ("fixed_preload", "medium"): -24.39,
    ("fixed_preload", "low"): -33.25,
    ("fixed_preload", "mixed"): -34.64,
}


@pytest.fixture(scope="module")
def data() -> None:
    if not TRACES.is_dir() or not VIDEOS.is_dir():
        pytest.skip(f"the challenge's data is not at {SHARED_DATA} (shared data is beside the repo, not in it)")


@pytest.mark.parametrize(("baseline", "trace_class"), sorted(TABLE))
def test_baseline_reproduces_the_challenge_table(data: None, baseline: str, trace_class: str) -> None:
    done: list[tuple[int, int]] = []
    scores = run_class(
        BASELINES[baseline], TRACES / trace_class, video_dir=VIDEOS, progress=lambda i, n: done.append((i, n))
    )
    assert len(scores.traces) == 20
    assert done[-1] == (20, 20)
    assert scores.mean["score"] == pytest.approx(TABLE[baseline, trace_class], abs=0.05)


def test_a_process_pool_gives_the_same_figures(data: None) -> None:
    inline = run_class(BASELINES["no_save"], TRACES / "medium", video_dir=VIDEOS)
    pooled = run_class(BASELINES["no_save"], TRACES / "medium", video_dir=VIDEOS, workers=2)
    assert pooled == inline


def test_baselines_import_only_the_standard_library_and_numpy() -> None:
    """So that each file runs unchanged as a solution.py inside the challenge's own simulator."""
    import ast
    import sys
    from pathlib import Path

    import ptcodec.preload.baselines as package

    for path in sorted(Path(package.__file__).parent.glob("*.py")):
        if path.name == "__init__.py":
            continue
        tree = ast.parse(path.read_text())
        roots = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        roots |= {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert roots <= set(sys.stdlib_module_names) | {"numpy"}, (path.name, roots)


def test_the_simulator_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = "import sys, ptcodec.preload.runner, ptcodec.preload.baselines; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
