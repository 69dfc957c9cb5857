"""``audit`` puts a static finding and the runtime check of the same model on one row, whatever
the route from the declared factory to the flagged class, and says whether they agree."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit.cli import main

MODELS = """
import torch.nn as nn


class DeepSigmoid(nn.Module):
    def __init__(self, depth=8):
        super().__init__()
        layers = [nn.Linear(16, 32), nn.Sigmoid()]
        for _ in range(depth - 1):
            layers += [nn.Linear(32, 32), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.net(x))


class ShallowTanh(nn.Module):
    def __init__(self, depth=6):
        super().__init__()
        layers = [nn.Linear(16, 32), nn.Tanh()]
        for _ in range(depth - 1):
            layers += [nn.Linear(32, 32), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(self.net(x))
"""

FACTORIES = """
import functools

import torch.nn as nn

from models import DeepSigmoid, ShallowTanh


class Wrapper(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.inner = DeepSigmoid(depth)

    def forward(self, x):
        return self.inner(x)


class Sub(DeepSigmoid):
    pass


def build(depth, kind="plain"):
    return DeepSigmoid(depth)


def make_plain(depth):
    return DeepSigmoid(depth)


def make_wrapped(depth):
    return Wrapper(depth)


def make_sub(depth):
    return Sub(depth)


make_partial = functools.partial(build, kind="partial")


def make_container(depth):
    return nn.Sequential(DeepSigmoid(depth))


def make_tanh(depth):
    return ShallowTanh(depth)
"""


@pytest.fixture(autouse=True)
def fresh_modules(monkeypatch):
    """Each test's project has its own models.py: never the one an earlier test imported."""
    for name in ("models", "factories"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    yield
    for name in ("models", "factories"):
        sys.modules.pop(name, None)


def project(
    tmp_path: Path, factory: str, config: str = "", depths: str = "8:8", models: str = MODELS
) -> Path:
    (tmp_path / "models.py").write_text(models)
    (tmp_path / "factories.py").write_text(FACTORIES)
    (tmp_path / "pyproject.toml").write_text(
        "[tool.gradcheck-kit]\n"
        + textwrap.dedent(config)
        + textwrap.dedent(
            f"""
            [[tool.gradcheck-kit.check]]
            target = "factories.py:{factory}"
            depths = "{depths}"
            input-shape = [16, 16]
            max-examples = 2
            seed = 0
            """
        )
    )
    return tmp_path


def audit(capsys: pytest.CaptureFixture[str], root: Path) -> tuple[int, dict]:
    code = main(["audit", "--format", "json", str(root / "models.py")])
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize(
    "factory", ["make_plain", "make_wrapped", "make_sub", "make_partial", "make_container"]
)
def test_every_route_to_the_flagged_class_is_one_row(tmp_path, capsys, factory):
    code, data = audit(capsys, project(tmp_path, factory))
    assert code == 1
    (row,) = [c for c in data["confirmations"] if c["code"] == "GCK001"]
    assert row["check"] == f"factories.py:{factory}"
    assert row["agreement"] == "confirmed"
    assert "confirmed at runtime" in row["explanation"]


def test_a_finding_the_runtime_refutes_at_the_codes_depth_does_not_fail_the_audit(tmp_path, capsys):
    # the structural mode flags any chain of 4+; a 6-layer tanh net keeps ~1/20 of its gradient
    tanh_only = (
        MODELS[: MODELS.index("class DeepSigmoid")] + MODELS[MODELS.index("class ShallowTanh") :]
    )
    root = project(
        tmp_path,
        "make_tanh",
        config="max-saturating-depth = 3\n",
        depths="6:6",
        models=tanh_only + "\nDeepSigmoid = ShallowTanh\n",
    )
    code, data = audit(capsys, root)
    (row,) = data["confirmations"]
    assert row["agreement"] == "refuted"
    assert "measured depth 6" in row["explanation"]
    assert data["passed"] is True and code == 0
    assert "refuted at runtime" in data["verdict"]


def test_a_runtime_check_that_stops_short_of_the_codes_depth_says_so(tmp_path, capsys):
    root = project(tmp_path, "make_tanh", config="max-saturating-depth = 3\n", depths="2:3")
    code, data = audit(capsys, root)
    (row,) = data["confirmations"]
    assert row["agreement"] == "unconfirmed"
    assert "raise its depths to include 6" in row["explanation"]
    assert code == 1  # not refuted: the finding still counts


def test_the_terminal_report_says_whether_they_agree(tmp_path, capsys):
    root = project(tmp_path, "make_tanh", config="max-saturating-depth = 3\n", depths="6:6")
    main(["audit", str(root / "models.py")])
    out = " ".join(capsys.readouterr().out.split())
    assert "measured depth 6 (the code's own) and passed" in out
    assert "refuted at runtime" in out
