"""The linter's static estimate, validated by the sweep (issue 8): for every example architecture
that GCK001 flags, the bound it states - each saturating layer scales the gradient by at most
``derivative_bound`` (catalog.py), so ``depth`` layers by at most ``bound^depth`` - is never
smaller than the attenuation the sweep measures on the real model. It is a bound; how tight it
is goes in the README."""

from __future__ import annotations

import importlib.util
import inspect
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit import catalog, sweep  # noqa: E402
from gradcheck_kit.lint.engine import lint_paths  # noqa: E402

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
BOUNDS = {act.name: act.derivative_bound for act in catalog.SATURATING_MODULES.values()}


def _flagged() -> list[tuple[Path, str, int, float]]:
    """(file, class the finding names, depth, per-layer bound) of every GCK001 finding."""
    found = []
    for finding in lint_paths([EXAMPLES]).findings:
        if finding.code != "GCK001" or not finding.symbol or not finding.depth:
            continue
        bound = max(BOUNDS[a] for a in finding.activations)
        found.append((Path(finding.path), finding.symbol, finding.depth, bound))
    return found


def _factories(path: Path, symbol: str):
    spec = importlib.util.spec_from_file_location(f"_example_{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, fn in inspect.getmembers(module, inspect.isfunction):
        if name.startswith("make_") and fn.__module__ == module.__name__:
            torch.manual_seed(0)
            if type(fn(2)).__name__ == symbol:
                yield name, fn


FLAGGED = _flagged()


def test_some_example_is_flagged():
    assert FLAGGED, "no GCK001 finding in examples/: nothing to validate"


@pytest.mark.parametrize(
    ("path", "symbol", "depth", "bound"), FLAGGED, ids=[f"{p.name}:{s}" for p, s, _, _ in FLAGGED]
)
def test_static_bound_is_never_below_the_measured_attenuation(path, symbol, depth, bound):
    torch.set_num_threads(1)
    factories = list(_factories(path, symbol))
    assert factories, f"no make_* factory in {path.name} builds {symbol}"
    for _name, factory in factories:
        depths = sorted({2, max(2, depth // 2), depth, depth + 2})
        report = sweep(factory, depths, 3, seed=0)
        assert report.gain is not None
        # per layer ...
        assert report.gain <= bound
        # ... and end to end, at the depth the finding names
        at_depth = next(p for p in report.points if p.depth == depth)
        assert at_depth.high is not None
        assert at_depth.high <= bound**depth
        tightness = math.log(report.gain) / math.log(bound) if bound < 1 else 0.0
        assert tightness >= 1.0  # the measured decay is at least as fast as the bound's
