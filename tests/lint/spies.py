"""What the tests watch the engine do, shared by the project-wide lint tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint import engine


def linted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the files the engine lints from now on (cache hits are not linted)."""
    seen: list[str] = []
    real = engine.lint_bytes

    def spy(data: bytes, display: str, config: Config, *rest):  # type: ignore[no-untyped-def]
        seen.append(Path(display).name)
        return real(data, display, config, *rest)

    monkeypatch.setattr(engine, "lint_bytes", spy)
    return seen
