"""The linter predicts what the runtime checker measures (DESIGN "One theory for both halves").

A generated family of MLPs (activation x init x depth x width): each is written as source, linted
with the public API, built in torch and measured with ``run_example``. Where the measured flow
ratio is more than half a decade from the vanish bound, the linter's verdict (GCK001 or not)
must equal the runtime's (vanishing or not) in >= 98% of cases.
"""

from __future__ import annotations

import itertools
import math

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from gradcheck_kit import lint_source  # noqa: E402
from gradcheck_kit.report.gradients import FailureKind  # noqa: E402
from gradcheck_kit.runtime.check import run_example  # noqa: E402
from gradcheck_kit.runtime.strategies import Example  # noqa: E402
from gradcheck_kit.strategies import InputSpec  # noqa: E402

BOUND = 1e-3
ACTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softsign": nn.Softsign}
#: init name -> (source line applied to ``layer``, torch function applied to a Linear)
INITS = {
    "default": ("pass", lambda lin: None),
    "xavier": (
        "nn.init.xavier_normal_(layer.weight); nn.init.zeros_(layer.bias)",
        lambda lin: (nn.init.xavier_normal_(lin.weight), nn.init.zeros_(lin.bias)),
    ),
    "xavier-5/3": (
        "nn.init.xavier_normal_(layer.weight, gain=5 / 3); nn.init.zeros_(layer.bias)",
        lambda lin: (nn.init.xavier_normal_(lin.weight, gain=5 / 3), nn.init.zeros_(lin.bias)),
    ),
    "kaiming": (
        "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu'); nn.init.zeros_(layer.bias)",
        lambda lin: (
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu"),
            nn.init.zeros_(lin.bias),
        ),
    ),
}

SOURCE = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width={width}, depth={depth}):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(width, width) for _ in range(depth))
        for layer in self.layers:
            {init}
        self.act = nn.{act}()
        self.head = nn.Linear(width, 1)

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return self.head(x)
"""


def _factory(act: str, init: str, width: int):
    def build(depth: int) -> nn.Module:
        layers: list[nn.Module] = []
        for _ in range(depth):
            lin = nn.Linear(width, width)
            INITS[init][1](lin)
            layers += [lin, ACTS[act]()]
        return nn.Sequential(*layers, nn.Linear(width, 1))

    return build


def _case(act: str, init: str, depth: int, width: int, seed: int = 0) -> tuple[bool, bool, float]:
    src = SOURCE.format(width=width, depth=depth, init=INITS[init][0], act=ACTS[act].__name__)
    flagged = any(f.code == "GCK001" for f in lint_source(src, "net.py"))
    torch.manual_seed(seed)
    example = Example(depth, InputSpec((32, width), seed=seed), seed, "cpu", torch.float32)
    outcome = run_example(_factory(act, init, width), example)
    assert outcome.ratio is not None, outcome.message
    return flagged, outcome.kind is FailureKind.VANISHING, outcome.ratio


def _agreement(cases) -> tuple[float, list]:
    decided, disagree = 0, []
    for act, init, depth, width in cases:
        flagged, vanishing, ratio = _case(act, init, depth, width)
        if abs(math.log10(ratio / BOUND)) <= 0.5:
            continue  # within half a decade of the bound: either verdict is fair
        decided += 1
        if flagged != vanishing:
            disagree.append((act, init, depth, width, flagged, vanishing, ratio))
    return 1 - len(disagree) / max(decided, 1), disagree


def test_linter_agrees_with_runtime_quick() -> None:
    cases = itertools.product(ACTS, INITS, (3, 5, 8, 12, 16), (32,))
    agreement, disagree = _agreement(cases)
    assert agreement >= 0.98, disagree


@pytest.mark.slow
def test_linter_agrees_with_runtime_full() -> None:
    cases = itertools.product(ACTS, INITS, range(3, 17), (32, 64))
    agreement, disagree = _agreement(cases)
    assert agreement >= 0.98, disagree
