"""The flake8 plugin, run by the real flake8: same findings, lines and columns as the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = """\
import torch
import torch.nn as nn

net = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])
quiet = nn.Sequential(*[nn.Tanh() for _ in range(5)])  # noqa: GCK001


class MLP(nn.Module):
    def __init__(self, depth=16):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(depth))

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x
"""


def flake8(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flake8", "--isolated", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "model.py").write_text(BAD)
    (tmp_path / "good.py").write_text("import torch.nn as nn\nnet = nn.Sequential(nn.ReLU())\n")
    return tmp_path


def test_flake8_agrees_with_the_cli(
    project: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    done = flake8("--select", "GCK", "model.py", "good.py", cwd=project)
    assert done.returncode == 1, done.stderr
    monkeypatch.chdir(project)
    main(["lint", "--no-cache", "--format", "concise", "-q", "model.py", "good.py"])
    cli = capsys.readouterr().out
    assert done.stdout == cli
    assert [line.split(": ")[1].split()[0] for line in cli.splitlines()] == ["GCK001", "GCK001"]
    assert cli.startswith("model.py:4:23: GCK001 ")  # 1-based columns in both


def test_plugin_is_registered(project: Path) -> None:
    done = flake8("--version", cwd=project)
    assert "gradcheck-kit" in done.stdout


def test_flake8_reads_the_projects_config(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.gradcheck-kit]\nmax-saturating-depth = 6\n")
    done = flake8("--select", "GCK", "model.py", cwd=project)
    assert done.stdout.splitlines() == [done.stdout.splitlines()[0]]
    assert done.stdout.startswith("model.py:15:17: GCK001 16 saturating")


def test_flake8_select_and_noqa(project: Path) -> None:
    assert flake8("--select", "E", "model.py", cwd=project).stdout == ""
    (project / "model.py").write_text(BAD.replace("range(5)])\n", "range(5)])  # noqa\n", 1))
    done = flake8("--select", "GCK", "model.py", cwd=project)
    assert [line.split(":")[1] for line in done.stdout.splitlines()] == ["15"]


def test_syntax_errors_are_flake8s_to_report(project: Path) -> None:
    (project / "broken.py").write_text("import torch\nx = torch.tanh(\n")
    done = flake8("--select", "GCK,E999", "broken.py", cwd=project)
    assert "E999" in done.stdout and "GCK" not in done.stdout
