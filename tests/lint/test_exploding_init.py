"""GCK006 exploding-init: positives, traps, and the predicted gain in the finding.

Two modes: the predicted one (default) reports a stack whose predicted flow ratio is above the
explode bound (1e3); the structural one (``max-saturating-depth``) any stack deeper than N."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config, ConfigError, load_config
from gradcheck_kit.lint.cache import config_key
from gradcheck_kit.theory import crossing_depth, layer_gain

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
STRUCTURAL = Config(max_saturating_depth=3)


def run(src: str, config: Config | None = None) -> list[tuple[str, int | None]]:
    found = lint_source(HEADER + textwrap.dedent(src), "m.py", config)
    return [(f.code, f.depth) for f in found]


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
def test_exploding_init_structural(name: str) -> None:
    assert run(EXPLODING[name], STRUCTURAL) == [("GCK006", 8)]


#: 8 layers ending the model (no head): 7 hops. Predicted flow ratios (torch measures the first,
#: width 256, median of 3 seeds: 113): tanh with normal_(std=1) 1.2e2; Kaiming (ReLU gain) on
#: tanh ~1.0; kaiming_uniform_ on a linear stack 2^3 = 8. All below the explode bound 1e3.
PREDICTED_QUIET = {"normal-std-1-tanh", "kaiming-on-tanh", "kaiming-default-on-linear-stack"}


@pytest.mark.parametrize("name", sorted(EXPLODING))
def test_exploding_init_predicted(name: str) -> None:
    expected = [] if name in PREDICTED_QUIET else [("GCK006", 8)]
    assert run(EXPLODING[name]) == expected


def test_a_head_after_the_stack_is_one_more_hop() -> None:
    # the same tanh stack with a head: 8 hops, 3.6e2 predicted (torch: 3.5e2); at depth 12
    # 2.8e4 (torch: 2.1e4), above the bound
    src = mlp("nn.init.normal_(m.weight, std=1.0)", depth=12).replace(
        "self.net(x)", "self.head(self.net(x))"
    )
    src = src.replace(
        "self.net = nn.Sequential(*layers)",
        "self.net = nn.Sequential(*layers)\n            self.head = nn.Linear(width, 1)",
    )
    (finding,) = lint_source(HEADER + textwrap.dedent(src), "m.py")
    gain = layer_gain("tanh", "normal_", fan_in=256, std=1.0)
    assert finding.code == "GCK006" and finding.depth == 13  # the head is initialised too
    assert f"multiplies the gradient by ~{gain.gain:.3g}" in finding.message
    assert "normal_(std=1.0) at m.py:" in finding.message
    crossing = crossing_depth(gain.gain, gain.weight_var, 1e3, head=False)
    assert f"~{gain.flow_ratio(13, head=False):.0e}x what leaves the last one" in finding.message
    assert f"(crossed from depth {crossing})" in finding.message


def test_explode_bound_is_configurable() -> None:
    src = EXPLODING["normal-std-1-tanh"]
    assert run(src, Config(explode_bound=100.0)) == [("GCK006", 8)]
    assert run(src, Config(explode_bound=200.0)) == []
    assert config_key(Config(explode_bound=100.0)) != config_key(Config())


def test_explode_bound_config_key(tmp_path) -> None:
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.gradcheck-kit]\nexplode-bound = 100\n")
    assert load_config(path).explode_bound == 100.0
    path.write_text("[tool.gradcheck-kit]\nexplode-bound = 0.5\n")
    with pytest.raises(ConfigError, match="explode-bound"):
        load_config(path)


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
@pytest.mark.parametrize("config", [None, STRUCTURAL], ids=["predicted", "structural"])
def test_not_exploding(name: str, config: Config | None) -> None:
    assert [c for c, _ in run(SAFE[name], config) if c == "GCK006"] == []


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
    (finding,) = lint_source(HEADER + textwrap.dedent(src), "m.py", STRUCTURAL)
    assert finding.code == "GCK006" and finding.depth == 6
    assert "multiplies the gradient by ~5.66" in finding.message  # sqrt(64 * E[relu^2]) = sqrt(32)
    assert finding.related and finding.related[0].message == "initialised here"
    # predicted: 5 hops (the stack ends the model), 5.66^5 / 8 = 7.2e2 < 1e3; one more layer:
    # 4.1e3, crossed from depth 7
    assert lint_source(HEADER + textwrap.dedent(src), "m.py") == []
    (finding,) = lint_source(HEADER + textwrap.dedent(src.replace("range(6)", "range(7)")), "m.py")
    assert finding.depth == 7 and "~4e+03x" in finding.message
    assert "(crossed from depth 7)" in finding.message


def test_tanh_stack_with_exploding_init_is_not_also_called_vanishing() -> None:
    codes = {c for c, _ in run(EXPLODING["normal-std-1-tanh"], STRUCTURAL)}
    assert codes == {"GCK006"}
    assert run(EXPLODING["normal-std-1-tanh"]) == []  # predicted: grows 1.2e2x, neither bound


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
