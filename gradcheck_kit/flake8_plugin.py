"""flake8 plugin: ``flake8 --select GCK`` runs the same engine as ``gradcheck-kit lint``.

Registered under the ``flake8.extension`` entry point with the code prefix ``GCK``. Findings are
those of the CLI for the same file and config (``[tool.gradcheck-kit]`` in the nearest
pyproject.toml), at the same line and column: flake8 prints the 0-based offset a plugin yields
plus one, so the plugin yields the engine's 1-based column minus one. flake8 applies ``# noqa``
itself, as the engine does, and reports syntax errors as E999, so the plugin stays silent on
them.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import Any

from gradcheck_kit._version import __version__
from gradcheck_kit.config import Config, ConfigError, discover_config


@lru_cache(maxsize=64)
def _config_for(directory: str) -> Config:
    try:
        return discover_config([Path(directory)])
    except ConfigError:
        return Config()  # a broken config is the CLI's to report; flake8 runs with defaults


class GradcheckKitChecker:
    name = "gradcheck-kit"
    version = __version__

    def __init__(self, tree: ast.AST, filename: str, lines: list[str]) -> None:
        del tree  # flake8 classifies plugins by their arguments; the engine parses the lines
        self.filename = filename
        self.lines = lines

    def run(self) -> Iterator[tuple[int, int, str, type[Any]]]:
        from gradcheck_kit.lint.engine import lint_text

        directory = Path(self.filename).parent if self.filename not in ("-", "stdin") else Path()
        findings, _ = lint_text("".join(self.lines), self.filename, _config_for(str(directory)))
        for finding in findings:
            yield (
                finding.line,
                finding.column - 1,
                f"{finding.code} {finding.message}",
                type(self),
            )
