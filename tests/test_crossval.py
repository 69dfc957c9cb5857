"""The linter predicts what the runtime checker measures (DESIGN "One theory for both halves").

A generated family (activation x init x depth x width x layer: ``nn.Linear``, ``nn.Linear``
without bias, ``nn.Conv2d`` with kernel 3 and padding 1 on a 6x6 input): each is written as
source, linted with the public API, built in torch and measured with ``run_example``. Where the measured flow
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


def _zero_bias(layer: nn.Module) -> None:
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)


ACTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softsign": nn.Softsign}
#: init name -> (source line applied to ``layer``, torch function applied to a Linear)
INITS = {
    "default": ("pass", lambda lin: None),
    "xavier": (
        "nn.init.xavier_normal_(layer.weight); nn.init.zeros_(layer.bias)",
        lambda lin: (nn.init.xavier_normal_(lin.weight), _zero_bias(lin)),
    ),
    "xavier-5/3": (
        "nn.init.xavier_normal_(layer.weight, gain=5 / 3); nn.init.zeros_(layer.bias)",
        lambda lin: (nn.init.xavier_normal_(lin.weight, gain=5 / 3), _zero_bias(lin)),
    ),
    "kaiming": (
        "nn.init.kaiming_normal_(layer.weight, nonlinearity='relu'); nn.init.zeros_(layer.bias)",
        lambda lin: (
            nn.init.kaiming_normal_(lin.weight, nonlinearity="relu"),
            _zero_bias(lin),
        ),
    ),
}

SOURCE = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width={width}, depth={depth}):
        super().__init__()
        self.layers = nn.ModuleList({layer} for _ in range(depth))
        for layer in self.layers:
            {init}
        self.act = nn.{act}()
        self.head = nn.Linear({head_in}, 1)

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return self.head(x{flatten})
"""

SIDE = 6  # the conv family's input is (batch, width, SIDE, SIDE)
#: layer kind -> (source constructor, torch constructor of one layer)
LAYERS = {
    "linear": ("nn.Linear(width, width)", lambda w: nn.Linear(w, w)),
    "linear-nobias": ("nn.Linear(width, width, bias=False)", lambda w: nn.Linear(w, w, bias=False)),
    "conv": ("nn.Conv2d(width, width, 3, padding=1)", lambda w: nn.Conv2d(w, w, 3, padding=1)),
}


def _init_line(init: str, layer: str) -> str:
    line = INITS[init][0]
    return line.replace("; nn.init.zeros_(layer.bias)", "") if layer == "linear-nobias" else line


def _source(act: str, init: str, depth: int, width: int, layer: str) -> str:
    conv = layer == "conv"
    return SOURCE.format(
        width=width,
        depth=depth,
        layer=LAYERS[layer][0],
        init=_init_line(init, layer),
        act=ACTS[act].__name__,
        head_in=f"width * {SIDE * SIDE}" if conv else "width",
        flatten=".flatten(1)" if conv else "",
    )


def _factory(act: str, init: str, width: int, layer: str = "linear"):
    def build(depth: int) -> nn.Module:
        layers: list[nn.Module] = []
        for _ in range(depth):
            lin = LAYERS[layer][1](width)
            INITS[init][1](lin)
            layers += [lin, ACTS[act]()]
        if layer == "conv":
            return nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * SIDE * SIDE, 1))
        return nn.Sequential(*layers, nn.Linear(width, 1))

    return build


def _case(
    act: str, init: str, depth: int, width: int, layer: str = "linear", seed: int = 0
) -> tuple[bool, bool, float]:
    src = _source(act, init, depth, width, layer)
    flagged = any(f.code == "GCK001" for f in lint_source(src, "net.py"))
    torch.manual_seed(seed)
    shape = (8, width, SIDE, SIDE) if layer == "conv" else (32, width)
    example = Example(depth, InputSpec(shape, seed=seed), seed, "cpu", torch.float32)
    outcome = run_example(_factory(act, init, width, layer), example)
    assert outcome.ratio is not None, outcome.message
    return flagged, outcome.kind is FailureKind.VANISHING, outcome.ratio


def _agreement(cases) -> tuple[float, list]:
    decided, disagree = 0, []
    for case in cases:
        flagged, vanishing, ratio = _case(*case)
        if abs(math.log10(ratio / BOUND)) <= 0.5:
            continue  # within half a decade of the bound: either verdict is fair
        decided += 1
        if flagged != vanishing:
            disagree.append((*case, flagged, vanishing, ratio))
    return 1 - len(disagree) / max(decided, 1), disagree


def test_linter_agrees_with_runtime_quick() -> None:
    cases = itertools.product(ACTS, INITS, (3, 5, 8, 12, 16), (32,))
    agreement, disagree = _agreement(cases)
    assert agreement >= 0.98, disagree


def test_linter_agrees_with_runtime_conv_and_no_bias_quick() -> None:
    linear = itertools.product(ACTS, INITS, (4, 10), (32,), ("linear-nobias",))
    conv = itertools.product(ACTS, ("default", "xavier"), (4, 10), (8,), ("conv",))
    agreement, disagree = _agreement([*linear, *conv])
    assert agreement >= 0.98, disagree


@pytest.mark.slow
def test_linter_agrees_with_runtime_full() -> None:
    cases = itertools.product(ACTS, INITS, range(3, 17), (32, 64), ("linear",))
    agreement, disagree = _agreement(cases)
    assert agreement >= 0.98, disagree


@pytest.mark.slow
def test_linter_agrees_with_runtime_conv_and_no_bias_full() -> None:
    linear = itertools.product(ACTS, INITS, range(3, 17, 2), (32, 64), ("linear-nobias",))
    conv = itertools.product(ACTS, INITS, range(3, 17, 2), (8, 16), ("conv",))
    agreement, disagree = _agreement([*linear, *conv])
    assert agreement >= 0.98, disagree
