"""GCK001's predicted mode: the gain model (theory.layer_gain) decides, from the init in the
code, whether a chain crosses the runtime checker's vanish bound."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config
from gradcheck_kit.theory import crossing_depth, layer_gain, predicted_flow_ratio

TEMPLATE = """\
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, width=64, depth={depth}):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        for layer in self.layers:
            {init}
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.{act}(layer(x))
        return self.head(x)
"""


def source(act: str, depth: int, init: str = "pass") -> str:
    return TEMPLATE.format(act=act, depth=depth, init=init)


def test_xavier_tanh_pinn_is_silent_by_default_and_flagged_structurally() -> None:
    src = source("tanh", 9, "nn.init.xavier_normal_(layer.weight)")
    assert lint_source(src, "model.py") == []
    (finding,) = lint_source(src, "model.py", Config(max_saturating_depth=3))
    assert finding.code == "GCK001" and finding.depth == 9


def test_default_init_message_names_gain_source_and_crossing() -> None:
    assert lint_source(source("tanh", 12), "model.py") == []
    (finding,) = lint_source(source("tanh", 16), "model.py")
    assert "PyTorch default: no init in this file" in finding.message
    assert "~0.57 of the gradient" in finding.message
    assert "crossed from depth 14" in finding.message


def test_explicit_init_is_named_with_its_line() -> None:
    src = source("sigmoid", 6, "nn.init.xavier_normal_(layer.weight, gain=1.0)")
    (finding,) = lint_source(src, "model.py")
    assert "xavier_normal_(gain=1.0) at model.py:10" in finding.message
    assert "crossed from depth 5" in finding.message


def test_sigmoid_default_crosses_at_four() -> None:
    assert lint_source(source("sigmoid", 3), "m.py") == []
    assert [f.depth for f in lint_source(source("sigmoid", 4), "m.py")] == [4]


def test_unreadable_init_is_named_and_treated_as_default() -> None:
    src = source("tanh", 16, "nn.init.sparse_(layer.weight, 0.1)")
    (finding,) = lint_source(src, "model.py")
    assert "cannot read nn.init.sparse_ at model.py:10" in finding.message


def test_vanish_bound_is_configurable() -> None:
    assert [f.depth for f in lint_source(source("tanh", 10), "m.py", Config(vanish_bound=0.01))]


def test_gain_5_3_tanh_grows_and_never_vanishes() -> None:
    src = source("tanh", 40, "nn.init.xavier_uniform_(layer.weight, gain=5 / 3)")
    assert lint_source(src, "m.py", Config(select=("GCK001",))) == []


@pytest.mark.parametrize(
    ("act", "init", "params", "depth"),
    [
        ("sigmoid", "default", {}, 4),
        ("tanh", "default", {}, 14),
        ("softsign", "default", {}, 12),
        ("sigmoid", "xavier_normal_", {}, 5),
        ("sigmoid", "xavier_uniform_", {"gain": 5 / 3}, 7),
        ("sigmoid", "kaiming_normal_", {"nonlinearity": "relu"}, 6),
        ("tanh", "xavier_normal_", {}, None),
        ("tanh", "orthogonal_", {"gain": 5 / 3}, None),
    ],
)
def test_crossing_depths(act: str, init: str, params: dict, depth: int | None) -> None:
    gain = layer_gain(act, init, fan_in=64, **params)
    assert gain.crossing() == depth


def test_init_table() -> None:
    assert layer_gain("tanh", "normal_", fan_in=64, std=0.125).weight_var == pytest.approx(1.0)
    assert layer_gain("tanh", "uniform_", fan_in=48, a=-0.25, b=0.25).weight_var == 1.0
    assert layer_gain("tanh", "trunc_normal_", fan_in=100, std=0.02).weight_var == 0.04
    assert layer_gain("relu", "kaiming_uniform_", fan_in=8).weight_var == 2.0
    assert layer_gain("relu", "kaiming_uniform_", fan_in=8, a=5**0.5).weight_var == pytest.approx(
        1 / 3
    )
    assert layer_gain("tanh", "xavier_normal_", fan_in=16, fan_out=48).weight_var == 0.5
    assert layer_gain("tanh", "default", fan_in=64).bias_var == 1 / 192
    assert layer_gain("tanh", "default", fan_in=64, bias=False).bias_var == 0.0
    assert predicted_flow_ratio(0.5, 0.25, 3) == pytest.approx(0.25)
    assert crossing_depth(0.5, 1.0, 0.1) == 4


def test_structural_message_unchanged_with_explicit_limit() -> None:
    src = textwrap.dedent(source("tanh", 5))
    (finding,) = lint_source(src, "m.py", Config(max_saturating_depth=3))
    assert "5 saturating activations (tanh) in a row" in finding.message


QRES = """\
import torch
from torch import nn


class Block(nn.Module):
    def __init__(self, width=64, depth=8):
        super().__init__()
        self.a = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        self.b = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for a, b in zip(self.a, self.b):
            {body}
        return x
"""


@pytest.mark.parametrize(
    ("body", "flagged"),
    [
        ("x = torch.sigmoid(a(x) + b(x))", True),  # QRes-style: a sum of two functions of x
        ("x1 = a(x); x2 = b(x); x = torch.sigmoid(x1 * x2 + x1)", True),  # products
        ("x = x + torch.sigmoid(a(x))", False),  # identity shortcut
        ("x = b(x) + torch.sigmoid(a(x))", False),  # projection shortcut
        ("x = torch.sigmoid(x + a(x))", False),  # the input itself comes back
        # a product is not a residual: no addend is the input or a projection of it
        ("x1 = torch.tanh(a(x)); x2 = torch.tanh(b(x)); x = x1 * x2 + x1", True),
        ("x1 = torch.sigmoid(a(x)); x2 = torch.sigmoid(b(x)); x = x1 * x2 + x1", True),
        ("x = torch.sigmoid(a(x)) * torch.sigmoid(b(x))", True),  # gates of nothing
        ("x = torch.tanh(a(x)) + torch.tanh(b(x))", True),  # two saturating paths
        ("x1 = torch.tanh(a(x)); x2 = torch.tanh(b(x)); x = x1 * x2 + x", False),
        ("t = torch.sigmoid(a(x)); x = torch.tanh(b(x)) * t + x * (1 - t)", False),  # highway
        ("x = b(x) * torch.sigmoid(a(x))", False),  # a gate (GLU)
    ],
)
def test_resets_are_residuals_only(body: str, flagged: bool) -> None:
    findings = lint_source(QRES.format(body=body), "m.py", Config(max_saturating_depth=3))
    assert bool(findings) is flagged
