"""Small projects the project-wide lint tests write on disk (``tmp_path``)."""

from __future__ import annotations

import textwrap
from pathlib import Path


def write_project(root: Path, files: dict[str, str]) -> Path:
    """``root`` as a project (a ``pyproject.toml``) holding ``files`` (path -> text, dedented)."""
    (root / "pyproject.toml").write_text("[project]\nname = 'lab'\n")
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root
