"""What resets a run, what is not a chain element, and what only looks like a reset (issue #2)."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config

#: These tests are about what the linter recognises as a chain: the structural mode (any
#: un-reset run longer than 3), not the gain model (tests/lint/test_predicted.py).
STRUCTURAL = Config(max_saturating_depth=3)

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def found(src: str, **config: object) -> list[tuple[str, int | None]]:
    findings = lint_source(
        HEADER + textwrap.dedent(src), "model.py", STRUCTURAL.with_overrides(**config)
    )
    return [(f.code, f.depth) for f in findings]


def chain(middle: str, n: int = 3, after: int | None = None) -> str:
    """A forward with ``n`` tanh layers, then ``middle``, then ``after`` (default ``n``) more."""
    before = "\n".join("        x = torch.tanh(self.fc(x))" for _ in range(n))
    rest = "\n".join(
        "        x = torch.tanh(self.fc(x))" for _ in range(n if after is None else after)
    )
    return f"""
class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(8, 8)
        self.bn = nn.BatchNorm1d(8)
        self.ln = nn.LayerNorm(8)
        self.block = nn.Sequential(nn.Linear(8, 8), nn.Tanh())

    def forward(self, x):
{before}
{textwrap.indent(textwrap.dedent(middle).strip(), " " * 8)}
{rest}
        return x
"""


RESETS = {
    "batchnorm": "x = self.bn(x)",
    "layernorm": "x = self.ln(x)",
    "groupnorm-inline": "x = nn.GroupNorm(2, 8)(x)",
    "functional-layer-norm": "x = F.layer_norm(x, (8,))",
    "functional-batch-norm": "x = F.batch_norm(x, None, None, training=True)",
    "rms-norm": "x = nn.RMSNorm(8)(x)",
    "residual-add": "x = x + self.block(x)",
    "residual-add-reversed": "x = self.block(x) + x",
    "residual-augassign": "identity = x\nout = self.block(x)\nout += identity\nx = out",
    "torch-add": "x = torch.add(x, self.block(x))",
    "tensor-add-method": "x = x.add(self.block(x))",
}


@pytest.mark.parametrize("name", sorted(RESETS))
def test_resets(name: str) -> None:
    assert found(chain(RESETS[name])) == []


def test_same_chain_without_reset_is_flagged() -> None:
    assert found(chain("x = self.fc(x)")) == [("GCK001", 6)]


def test_user_block_returning_input_plus_something_is_residual() -> None:
    src = """
    class ResBlock(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.fc = nn.Linear(d, d)

        def forward(self, x):
            out = torch.tanh(self.fc(x))
            return x + out

    net = nn.Sequential(*[ResBlock(8) for _ in range(20)])
    """
    assert found(src) == []


NOT_CHAIN_ELEMENTS = {
    "silu-style-gate": "x = x * torch.sigmoid(x)",
    "gate-from-other-branch": "g = self.fc(x)\nx = self.fc(x) * torch.sigmoid(g)",
    "glu-style": "a = self.fc(x)\nb = self.fc(x)\nx = a * b.sigmoid()",
    "wavenet-gate": "x = torch.tanh(self.fc(x)) * torch.sigmoid(self.fc(x))",
    "highway": "t = torch.sigmoid(self.fc(x))\nx = self.fc(x) * t + x * (1 - t)",
    "gelu-tanh-approximation": (
        "x = 0.5 * x * (1 + torch.tanh(0.7978845608 * (x + 0.044715 * torch.pow(x, 3))))"
    ),
    "sigmoid-on-weights": "w = torch.sigmoid(self.fc.weight)\nx = F.linear(x, w)",
    "comment-and-string": "# torch.tanh(torch.tanh(x))\ns = 'torch.tanh(x)'\nx = self.fc(x)",
}


@pytest.mark.parametrize("name", sorted(NOT_CHAIN_ELEMENTS))
def test_not_chain_elements(name: str) -> None:
    # 1 + 2 tanh around the snippet: one chain element in it would make a run of 4
    assert found(chain(NOT_CHAIN_ELEMENTS[name], n=1, after=2)) == []
    assert found(chain("x = torch.tanh(x)", n=1, after=2)) == [("GCK001", 4)]


def test_squeeze_excitation_is_a_gate() -> None:
    src = """
    class SE(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.fc = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Conv2d(c, c // 4, 1), nn.ReLU(),
                                    nn.Conv2d(c // 4, c, 1), nn.Sigmoid())

        def forward(self, x):
            return x * self.fc(x)

    net = nn.Sequential(*[nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), SE(8)) for _ in range(10)])
    """
    assert found(src) == []


def test_manual_lstm_and_gru_cells_are_gates() -> None:
    src = """
    class LSTMCell(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.w = nn.Linear(2 * d, 4 * d)

        def forward(self, x, h, c):
            i, f, g, o = self.w(torch.cat([x, h], -1)).chunk(4, -1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            return h, c

    class GRUCell(nn.Module):
        def __init__(self, d):
            super().__init__()
            self.z = nn.Linear(d, d)
            self.n = nn.Linear(d, d)

        def forward(self, x, h):
            z = torch.sigmoid(self.z(x))
            n = torch.tanh(self.n(x))
            return (1 - z) * n + z * h

    class Stacked(nn.Module):
        def __init__(self):
            super().__init__()
            self.cells = nn.ModuleList(LSTMCell(8) for _ in range(6))

        def forward(self, x, h, c):
            for cell in self.cells:
                x, c = cell(x, h, c)
            return x
    """
    assert found(src) == []


def test_lstm_and_gru_modules_are_not_flagged() -> None:
    src = """
    net = nn.Sequential(nn.LSTM(8, 8), nn.GRU(8, 8), nn.LSTM(8, 8), nn.GRU(8, 8), nn.LSTM(8, 8))
    """
    assert found(src) == []


def test_sigmoid_inside_a_loss() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)

        def forward(self, x, y):
            x = torch.tanh(self.fc(x))
            x = torch.tanh(self.fc(x))
            x = torch.tanh(self.fc(x))
            return F.binary_cross_entropy(torch.sigmoid(x), y)
    """
    assert found(src) == []


def test_parallel_branches_count_on_their_own() -> None:
    src = """
    class TwoTower(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
            self.b = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh())
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.a(x) + self.b(x))
    """
    assert found(src) == []


LOOKALIKES = {
    "grad-norm": "n = x.norm()\nx = x / (x.norm() + 1e-6)",
    "distributions-normal": "d = torch.distributions.Normal(x, 1.0)\nx = self.fc(x)",
    "init-normal": "nn.init.normal_(self.fc.weight, std=0.01)\nx = self.fc(x)",
    "torch-norm-function": "x = x / torch.norm(x, dim=-1, keepdim=True)",
}


@pytest.mark.parametrize("name", sorted(LOOKALIKES))
def test_lookalikes_do_not_reset(name: str) -> None:
    assert found(chain(LOOKALIKES[name], n=2)) == [("GCK001", 4)]


def test_norm_declared_but_not_on_forward_path() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(8, 8)
            self.norm = nn.BatchNorm1d(8)  # declared, never used

        def forward(self, x):
            for _ in range(5):
                x = torch.tanh(self.fc(x))
            return x
    """
    assert found(src) == [("GCK001", 5)]


def test_norm_behind_a_flag_whose_default_is_off() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self, depth=5, use_bn=False):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers.append(nn.Linear(8, 8))
                if use_bn:
                    layers.append(nn.BatchNorm1d(8))
                layers.append(nn.Tanh())
            self.net = nn.Sequential(*layers)

        def forward(self, x):
            return self.net(x)
    """
    assert found(src) == [("GCK001", 5)]
    assert found(src.replace("use_bn=False", "use_bn=True")) == []


def test_norm_layer_none_default() -> None:
    src = """
    class Net(nn.Module):
        def __init__(self, depth=4, norm_layer=None):
            super().__init__()
            self.fcs = nn.ModuleList(nn.Linear(8, 8) for _ in range(depth))
            self.norm = norm_layer(8) if norm_layer is not None else nn.Identity()

        def forward(self, x):
            for fc in self.fcs:
                x = torch.sigmoid(self.norm(fc(x)))
            return x
    """
    assert found(src) == [("GCK001", 4)]


def test_user_normalization_classes_reset() -> None:
    subclass = """
    class MyNorm(nn.LayerNorm):
        pass

    class Scale(nn.Module):  # a custom normalization, named in config
        def forward(self, x):
            return x / x.std()

    a = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.Tanh(), MyNorm(8)) for _ in range(8)])
    b = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), nn.Tanh(), Scale()) for _ in range(8)])
    """
    assert found(subclass) == [("GCK001", 8)]
    assert found(subclass, extend_normalization=("model.Scale",)) == []


def test_user_saturating_activation_from_config() -> None:
    src = """
    from mylib.layers import ScaledTanh
    net = nn.Sequential(*[nn.Sequential(nn.Linear(8, 8), ScaledTanh()) for _ in range(5)])
    """
    assert found(src) == []
    assert found(src, extend_saturating=("mylib.layers.ScaledTanh",)) == [("GCK001", 5)]


def test_threshold_and_option() -> None:
    three = "net = nn.Sequential(nn.Tanh(), nn.Tanh(), nn.Tanh())"
    assert found(three) == []
    assert found(three, max_saturating_depth=2) == [("GCK001", 3)]


def test_noqa() -> None:
    src = "net = nn.Sequential(nn.Tanh(), nn.Tanh(), nn.Tanh(), nn.Tanh())"
    assert found(src) == [("GCK001", 4)]
    assert found(src + "  # noqa: GCK001") == []
    assert found(src + "  # noqa") == []
    assert found(src + "  # noqa: GCK002") == [("GCK001", 4)]
    assert found("# gradcheck-kit: noqa\n" + src) == []
