"""Proof that GCK001/GCK002's suggestion repairs the model, not just the finding: each model is
built from its source before and after the suggested edits (linted, then ``apply_fixes``) and
checked by the runtime checker, whose verdict goes from vanishing to passing. Among them the
issue's own example, a 16-layer tanh MLP, and sigmoid stacks (where a norm before the activation
or a swap to SiLU/GELU would not do: see :mod:`gradcheck_kit.lint.rules.suggest`), and a
He-initialised convolution stack, where no width can be named and the swap to ReLU is the fix
(:mod:`gradcheck_kit.lint.rules.suggest_swap`)."""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit.lint.engine import lint_source  # noqa: E402
from gradcheck_kit.lint.fixes import apply_fixes  # noqa: E402
from gradcheck_kit.report.gradients import FailureKind  # noqa: E402
from gradcheck_kit.runtime.check import check_gradients  # noqa: E402

TANH_MLP = """import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self, width=128, depth=16):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))

    def forward(self, x):
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return x
"""

TANH_APPENDED = """import torch.nn as nn


def mlp(depth=16, width=64):
    layers = []
    for _ in range(depth):
        layers.append(nn.Linear(width, width))
        layers.append(nn.Tanh())
    layers.append(nn.Linear(width, 10))
    return nn.Sequential(*layers)
"""

SIGMOID_SEQUENTIAL = """import torch.nn as nn

model = nn.Sequential(
    nn.Linear(784, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 256), nn.Sigmoid(),
    nn.Linear(256, 10),
)
"""

SIGMOID_COMPREHENSION = """import torch.nn as nn

model = nn.Sequential(
    *[m for _ in range(16) for m in (nn.Linear(64, 64), nn.Sigmoid())], nn.Linear(64, 1)
)
"""

SIGMOID_FUNCTIONAL = """import torch.nn as nn
import torch.nn.functional as F


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(32, 64)
        self.fc2 = nn.Linear(64, 64)
        self.fc3 = nn.Linear(64, 64)
        self.fc4 = nn.Linear(64, 64)
        self.fc5 = nn.Linear(64, 64)
        self.head = nn.Linear(64, 1)

    def forward(self, x):
        x = F.sigmoid(self.fc1(x))
        x = F.sigmoid(self.fc2(x))
        x = F.sigmoid(self.fc3(x))
        x = F.sigmoid(self.fc4(x))
        x = F.sigmoid(self.fc5(x))
        return self.head(x)
"""

UNBOUNDED_ENCODER = """import torch
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, config):
        super().__init__()
        self.layers = nn.ModuleList(
            nn.Linear(config.hidden_size, config.hidden_size) for _ in range(config.num_layers)
        )
        self.head = nn.Linear(config.hidden_size, 1)

    def forward(self, x):
        for layer in self.layers:
            x = torch.sigmoid(layer(x))
        return self.head(x)
"""


SIGMOID_CONV_KAIMING = """import torch.nn as nn


class ConvNet(nn.Module):
    def __init__(self, depth=12, channels=16):
        super().__init__()
        layers = []
        for _ in range(depth):
            conv = nn.Conv2d(channels, channels, 3, padding=1)
            nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
            layers.append(conv)
            layers.append(nn.Sigmoid())
        self.body = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, 1, 1)

    def forward(self, x):
        return self.head(self.body(x))
"""


def _config(depth: int) -> Any:
    return types.SimpleNamespace(hidden_size=64, num_layers=depth)


#: name -> (source, rule, how to build the model from the module's namespace at a depth, depths)
CASES: dict[str, tuple[str, str, Callable[[dict[str, Any], int], Any], Any]] = {
    "tanh_mlp_16": (TANH_MLP, "GCK001", lambda ns, d: ns["MLP"](depth=d), 16),
    "tanh_appended_16": (TANH_APPENDED, "GCK001", lambda ns, d: ns["mlp"](depth=d), 16),
    "sigmoid_sequential_5": (SIGMOID_SEQUENTIAL, "GCK001", lambda ns, d: ns["model"], 5),
    "sigmoid_comprehension_16": (SIGMOID_COMPREHENSION, "GCK001", lambda ns, d: ns["model"], 16),
    "sigmoid_functional_5": (SIGMOID_FUNCTIONAL, "GCK001", lambda ns, d: ns["Net"](), 5),
    "sigmoid_unbounded_8_32": (
        UNBOUNDED_ENCODER,
        "GCK002",
        lambda ns, d: ns["Encoder"](_config(d)),
        (8, 32),
    ),
    # no Linear width to normalize: the swap to ReLU, which He's init keeps at gain 1
    "sigmoid_conv_kaiming_12_swap": (
        SIGMOID_CONV_KAIMING,
        "GCK001",
        lambda ns, d: ns["ConvNet"](depth=d),
        12,
    ),
}
INPUTS = {"sigmoid_conv_kaiming_12_swap": (2, 16, 8, 8)}


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def suggested(source: str, rule: str) -> str:
    findings = [f for f in lint_source(source, "model.py") if f.code == rule]
    assert findings, f"the model must trigger {rule}"
    fixes = [f.fix for f in findings if f.fix is not None]
    assert len(fixes) == len(findings)
    out, _ = apply_fixes(source, fixes)
    assert not [f for f in lint_source(out, "model.py") if f.code in ("GCK001", "GCK002")]
    return out


def factory(source: str, build: Callable[[dict[str, Any], int], Any]) -> Callable[[int], Any]:
    def make(depth: int) -> Any:
        namespace: dict[str, Any] = {"__name__": "suggested_model"}
        exec(compile(source, "model.py", "exec"), namespace)  # a fresh model, fresh weights
        return build(namespace, depth)

    return make


def verdict(
    source: str,
    build: Callable[[dict[str, Any], int], Any],
    depths: Any,
    input_shape: Any = None,
) -> Any:
    return check_gradients(
        factory(source, build),
        depths=depths,
        input_shape=input_shape,
        raise_on_failure=False,
        max_examples=5,
        seed=0,
        database=None,
        name="suggested",
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_suggestion_turns_a_vanishing_model_into_a_passing_one(case: str) -> None:
    source, rule, build, depths = CASES[case]
    before = verdict(source, build, depths, INPUTS.get(case))
    assert not before.passed
    assert before.failure is not None and before.failure.kind is FailureKind.VANISHING
    after = verdict(suggested(source, rule), build, depths, INPUTS.get(case))
    assert after.passed, after.failure
    assert after.ratio is not None and before.ratio is not None
    assert after.ratio > 1e3 * before.ratio


def test_the_conv_stack_gets_the_swap_and_not_a_norm() -> None:
    (fix,) = [f.fix for f in lint_source(SIGMOID_CONV_KAIMING, "m.py") if f.fix is not None]
    assert fix.message.startswith("Swap sigmoid for ReLU")
    assert "layers.append(nn.ReLU())" in suggested(SIGMOID_CONV_KAIMING, "GCK001")


def test_the_rule_pages_before_and_after_pairs_build_and_pass() -> None:
    """GCK001's page: its 16-layer tanh MLP pair is the one measured above."""
    page = (Path(__file__).resolve().parents[1] / "rules" / "GCK001.md").read_text("utf-8")
    assert TANH_MLP in page
    assert suggested(TANH_MLP, "GCK001") in page
