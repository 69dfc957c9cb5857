"""Hostile paths and planted files (issue 20, items 6-11): symlink loops in every format,
``# noqa`` outside comments, planted cache files, special output files, huge stacks and
unreadable or excluded paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nm = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"


@pytest.mark.parametrize("fmt", ["github", "sarif", "json", "concise"])
def test_symlink_loop_in_every_format(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 6: Path.resolve raised RuntimeError in the github and sarif formats."""
    os.symlink("loop.py", tmp_path / "loop.py")
    (tmp_path / "bad.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    code = main(["lint", "--no-cache", "--format", fmt, "."])
    out = capsys.readouterr().out
    assert code == 1
    assert "loop.py" in out
    assert "GCK001" in out
    if fmt == "sarif":
        log = json.loads(out)
        notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        uris = [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes]
        assert uris == ["loop.py"]
