"""The sub-commands of ``gradcheck-kit``: ``lint``, ``rule``, ``check``, ``sweep``, ``audit``.

Each module holds a frozen options dataclass (what :mod:`gradcheck_kit.cli` builds from the
command line) and a ``run_*(options) -> int`` that returns the exit code: 0 clean, 1 findings
or failed checks, 2 usage, config or internal error - the same for every command. They sit
between the front ends and the two halves (``lint`` and ``runtime``), render through the one
format registry (:mod:`gradcheck_kit.report.registry`), and ``audit`` composes ``lint`` and
``check`` through their public functions.

Nothing heavy is imported here: ``gradcheck-kit lint`` never loads torch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
#: How to get the runtime checker's dependencies.
INSTALL_HINT = (
    "pip install torch hypothesis (the runtime extra: pip install -e '.[runtime]' in a clone)"
)


@dataclass(frozen=True, kw_only=True)
class RuntimeOptions:
    """The flags ``check`` and ``sweep`` share (``cli._add_runtime_options``): how to build
    inputs, where to run, the bounds, the time limit and the output."""

    input_shape: Any = None  # one shape, several, or {name: shape} (config.InputShapes)
    input_dtype: str | None = None
    vocab_size: int | None = None
    device: str | None = None
    dtype: str | None = None
    seed: int | None = None
    vanish: float | None = None
    explode: float | None = None
    timeout: float | None = None
    output_file: str | None = None
    config: str | None = None
    quiet: bool = False
    verbose: bool = False
