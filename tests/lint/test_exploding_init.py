"""GCK006 exploding-init: positives, traps, and the predicted gain in the finding."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def run(src: str) -> list[tuple[str, int | None]]:
    return [(f.code, f.depth) for f in lint_source(HEADER + textwrap.dedent(src), "m.py")]


def mlp(init: str, act: str = "nn.Tanh()", width: int = 256, depth: int = 8, norm: str = "") -> str:
    return f"""
    class MLP(nn.Module):
        def __init__(self, width={width}, depth={depth}):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), {norm}{act}]
            self.net = nn.Sequential(*layers)
            for m in self.modules():
                if isinstance(m, nn.Linear):
                    {init}

        def forward(self, x):
            return self.net(x)
    """


EXPLODING = {
    "normal-std-1-tanh": mlp("nn.init.normal_(m.weight, std=1.0)"),
    "normal-positional-relu": mlp("nn.init.normal_(m.weight, 0.0, 1.0)", act="nn.ReLU()"),
    "weight-data-normal": mlp("m.weight.data.normal_(0, 1)", act="nn.ReLU()"),
    "uniform-wide": mlp("nn.init.uniform_(m.weight, -1.0, 1.0)", act="nn.ReLU()"),
    "ones": mlp("nn.init.ones_(m.weight)", act="nn.ReLU()"),
    "kaiming-on-tanh": mlp("nn.init.kaiming_normal_(m.weight, nonlinearity='relu')"),
    "kaiming-default-on-linear-stack": mlp(
        "nn.init.kaiming_uniform_(m.weight)", act="nn.Identity()"
    ),
}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_init(name: str) -> None:
    assert run(EXPLODING[name]) == [("GCK006", 8)]


SAFE = {
    "xavier-tanh": mlp("nn.init.xavier_normal_(m.weight)"),
    "kaiming-relu": mlp("nn.init.kaiming_normal_(m.weight, nonlinearity='relu')", act="nn.ReLU()"),
    "small-normal": mlp("nn.init.normal_(m.weight, std=0.02)", act="nn.ReLU()"),
    "normalized": mlp(
        "nn.init.normal_(m.weight, std=1.0)", act="nn.ReLU()", norm="nn.LayerNorm(width), "
    ),
    "shallow": mlp("nn.init.normal_(m.weight, std=1.0)", act="nn.ReLU()", depth=3),
    "kaiming-on-sigmoid-vanishes-not-explodes": mlp(
        "nn.init.kaiming_normal_(m.weight, nonlinearity='relu')", act="nn.SiLU()"
    ),
    "init-of-biases-only": mlp("nn.init.normal_(m.bias, std=1.0)", act="nn.ReLU()"),
}


@pytest.mark.parametrize("name", sorted(SAFE))
def test_not_exploding(name: str) -> None:
    assert [c for c, _ in run(SAFE[name]) if c == "GCK006"] == []


def test_residual_stack_is_not_reported() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self, depth=8):
            super().__init__()
            self.layers = nn.ModuleList(nn.Linear(128, 128) for _ in range(depth))
            for layer in self.layers:
                nn.init.normal_(layer.weight, std=1.0)

        def forward(self, x):
            for layer in self.layers:
                x = x + torch.relu(layer(x))
            return x
    """
    assert run(src) == []


def test_apply_and_message() -> None:
    src = """
    def init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, std=1.0)

    model = nn.Sequential(*[nn.Sequential(nn.Linear(64, 64), nn.ReLU()) for _ in range(6)])
    model.apply(init_weights)
    """
    (finding,) = lint_source(HEADER + textwrap.dedent(src), "m.py")
    assert finding.code == "GCK006" and finding.depth == 6
    assert "multiplies the gradient by ~5.66" in finding.message  # sqrt(64 * E[relu^2]) = sqrt(32)
    assert finding.related and finding.related[0].message == "initialised here"


def test_tanh_stack_with_exploding_init_is_not_also_called_vanishing() -> None:
    codes = {c for c, _ in run(EXPLODING["normal-std-1-tanh"])}
    assert codes == {"GCK006"}


def test_a_shallow_exploding_init_silences_nothing() -> None:
    # two explicitly initialised layers (not reported: not deeper than max-saturating-depth)
    # must not hide the deep sigmoid stack of the same model from GCK001
    src = """
    class Net(nn.Module):
        def __init__(self, width=64):
            super().__init__()
            self.stem = nn.Sequential(nn.Linear(width, width), nn.Linear(width, width))
            for m in self.stem:
                nn.init.normal_(m.weight, std=1.0)
            self.body = nn.Sequential(
                *[nn.Sequential(nn.Linear(width, width), nn.Sigmoid()) for _ in range(6)]
            )

        def forward(self, x):
            return self.body(self.stem(x))
    """
    assert run(src) == [("GCK001", 6)]
