"""Models whose forward takes several inputs (issue 22, item 8): a PINN's ``forward(x, t)``, an
encoder-decoder's ``forward(src, tgt)``, keyword inputs - from Python, the CLI and pyproject,
inferred where the first layer tells, a clear error where it cannot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from torch import nn  # noqa: E402

import gradcheck_kit as gk  # noqa: E402

PINN = '''
import torch
from torch import nn


class PINN(nn.Module):
    """u(x, t): a tanh MLP on the concatenated coordinates, as in every PINN tutorial."""

    def __init__(self, depth, width=32):
        super().__init__()
        layers = [nn.Linear(2, width), nn.Tanh()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.Tanh()]
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x, t):
        return self.net(torch.cat([x, t], dim=1))


class Wide(nn.Module):
    """forward(x, t) with a 3-feature x: the shapes cannot be told from the first layer."""

    def __init__(self, depth):
        super().__init__()
        self.lin = nn.Linear(4, 8)
        self.out = nn.Sequential(*[nn.Linear(8, 8) for _ in range(depth)])

    def forward(self, x, t):
        return self.out(self.lin(torch.cat([x, t], dim=1)))


def make_pinn(depth):
    return PINN(depth)


def make_wide(depth):
    return Wide(depth)
'''


@pytest.fixture
def models(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pinn.py").write_text(PINN)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_pinns_two_scalar_inputs_are_inferred(models: Path) -> None:
    report = gk.check_gradients(
        "pinn.py:make_pinn", depths=(2, 3), max_examples=3, seed=0, raise_on_failure=False
    )
    assert report.examples_run >= 1 and (report.failure is None or report.failure.kind != "error")
    assert any("forward takes 2 inputs (x, t)" in note for note in report.notes)


def test_shapes_that_cannot_be_told_are_a_clear_error(models: Path) -> None:
    with pytest.raises(ValueError, match=r"forward takes 2 inputs \(x, t\).*input_shape="):
        gk.check_gradients("pinn.py:make_wide", depths=(2, 3), max_examples=2, seed=0)
    cli = run(models, "pinn.py:make_wide", "--max-examples", "2")
    assert cli.returncode == 2, cli.stderr  # a usage error naming the target, not a bug
    assert "pinn.py:make_wide: forward takes 2 inputs" in cli.stderr
    assert "internal error" not in cli.stderr


@pytest.mark.parametrize(
    "shapes", [[(8, 3), (8, 1)], {"x": (8, 3), "t": (8, 1)}], ids=["positional", "keywords"]
)
def test_several_shapes_from_python(models: Path, shapes: object) -> None:
    report = gk.check_gradients(
        "pinn.py:make_wide", depths=(2, 3), input_shape=shapes, max_examples=3, seed=0,
        raise_on_failure=False,
    )  # fmt: skip
    assert report.failure is None or report.failure.kind != "error", report.failure
    assert report.example is not None
    described = str(report.example["inputs"])
    assert described.count(", seed ") == 2  # two inputs drawn
    if isinstance(shapes, dict):
        assert described.startswith("{x: ") and ", t: " in described


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gradcheck_kit", "check", "--format", "json", *args]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_several_shapes_from_the_cli_and_pyproject(models: Path) -> None:
    cli = run(models, "pinn.py:make_wide", "--input-shape", "x=8,3;t=8,1", "--depths", "2:3",
              "--max-examples", "2", "--seed", "0")  # fmt: skip
    assert cli.returncode in (0, 1), cli.stderr
    (row,) = json.loads(cli.stdout)
    assert row["failure"] is None or row["failure"]["kind"] != "error", row["failure"]
    (models / "pyproject.toml").write_text(
        "[[tool.gradcheck-kit.check]]\n"
        'target = "pinn.py:make_wide"\n'
        "input-shape = [[8, 3], [8, 1]]\n"
        "depths = [2, 3]\nmax-examples = 2\nseed = 0\n"
    )
    declared = run(models)
    assert declared.returncode in (0, 1), declared.stderr
    (row,) = json.loads(declared.stdout)
    assert row["status"] in ("passed", "failed"), row
    bad = run(models, "pinn.py:make_wide", "--input-shape", "8,3;4,1")
    assert bad.returncode == 2 and "share their batch size" in bad.stderr


def test_a_module_taking_two_inputs_directly() -> None:
    class Bilinear(nn.Module):
        def __init__(self, depth: int) -> None:
            super().__init__()
            self.mix = nn.Bilinear(4, 4, 4)
            self.out = nn.Sequential(*[nn.Linear(4, 4) for _ in range(depth)])

        def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
            return self.out(self.mix(a, b))

    report = gk.check_gradients(
        Bilinear, depths=(2, 3), input_shape=[(8, 4), (8, 4)], max_examples=3, seed=0,
        raise_on_failure=False,
    )  # fmt: skip
    assert report.failure is None or report.failure.kind != "error", report.failure
