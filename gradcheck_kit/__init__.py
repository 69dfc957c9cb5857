"""gradcheck-kit: catch vanishing and exploding gradients in PyTorch models.

Two halves, one vocabulary:

* :func:`lint_source` / :func:`lint_paths` read model code statically (never importing torch);
* :func:`check_gradients` builds the model at depths Hypothesis chooses and measures the
  gradient at every layer (needs the ``runtime`` extra: torch and hypothesis).

Nothing heavy is imported here: names are resolved on first use.
"""

from __future__ import annotations

import importlib
import random
from typing import TYPE_CHECKING, Any

from gradcheck_kit._version import __version__

_LAZY: dict[str, str] = {
    # static half
    "lint_source": "gradcheck_kit.lint.engine",
    "lint_paths": "gradcheck_kit.lint.engine",
    "Finding": "gradcheck_kit.report.findings",
    "LintError": "gradcheck_kit.report.findings",
    "LintResult": "gradcheck_kit.report.findings",
    "Config": "gradcheck_kit.config",
    "ConfigError": "gradcheck_kit.config",
    # runtime half (torch + hypothesis, imported only when used)
    "check_gradients": "gradcheck_kit.runtime.check",
    "Bounds": "gradcheck_kit.report.gradients",
    "GradientReport": "gradcheck_kit.report.gradients",
    "Failure": "gradcheck_kit.report.gradients",
    "LayerStat": "gradcheck_kit.report.gradients",
    "GradientFlowError": "gradcheck_kit.report.gradients",
    "sweep": "gradcheck_kit.runtime.sweep",
    "SweepReport": "gradcheck_kit.report.sweeps",
    # mean-field theory (pure Python)
    "predicted_gain": "gradcheck_kit.theory",
}

_SUBMODULES = ("strategies", "theory")

__all__ = [
    "Bounds",
    "Config",
    "ConfigError",
    "Failure",
    "Finding",
    "GradientFlowError",
    "GradientReport",
    "LayerStat",
    "LintError",
    "LintResult",
    "SweepReport",
    "__version__",
    "check_gradients",
    "lint_paths",
    "lint_source",
    "predicted_gain",
    "strategies",
    "sweep",
    "theory",
]

if TYPE_CHECKING:  # pragma: no cover
    from gradcheck_kit import strategies, theory
    from gradcheck_kit.config import Config, ConfigError
    from gradcheck_kit.lint.engine import lint_paths, lint_source
    from gradcheck_kit.report.findings import Finding, LintError, LintResult
    from gradcheck_kit.report.gradients import (
        Bounds,
        Failure,
        GradientFlowError,
        GradientReport,
        LayerStat,
    )
    from gradcheck_kit.report.sweeps import SweepReport
    from gradcheck_kit.runtime.check import check_gradients
    from gradcheck_kit.runtime.sweep import sweep
    from gradcheck_kit.theory import predicted_gain


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return _import(f"gradcheck_kit.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'gradcheck_kit' has no attribute {name!r}")
    value = getattr(_import(module), name)
    globals()[name] = value
    return value


def _import(module: str) -> Any:
    """A lazy import that leaves Python's global ``random`` as it was (importing rich draws
    from it, and a seeded user's stream must not move because a name was looked up)."""
    state = random.getstate()
    try:
        return importlib.import_module(module)
    finally:
        random.setstate(state)


def __dir__() -> list[str]:
    return __all__
