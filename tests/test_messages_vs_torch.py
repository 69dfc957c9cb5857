"""The numbers in GCK001/GCK006 messages, checked against torch (issue 17: "the message numbers
are tested against torch measurements, not against themselves").

Each model is written as source and linted; the per-layer gain and the predicted flow ratio are
parsed from the finding's message; the same model is built in torch and its flow ratio measured
with ``run_example`` (median over 3 init seeds). The measured per-layer gain is the per-hop
factor of that ratio, ``(ratio * s_w)^(1 / hops)`` (``s_w`` from the init alone: 1/sqrt(3) for
PyTorch's default, the Xavier gain), so the two numbers of a message are checked independently.
A bound is set past the prediction where the default one would keep the linter silent, so
that every case has a message to read.
"""

from __future__ import annotations

import math
import re
import statistics

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from gradcheck_kit import lint_source  # noqa: E402
from gradcheck_kit.config import Config  # noqa: E402
from gradcheck_kit.runtime.check import run_example  # noqa: E402
from gradcheck_kit.runtime.strategies import Example  # noqa: E402
from gradcheck_kit.strategies import InputSpec  # noqa: E402

WIDTH = 64
ACTS = {"tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "softsign": nn.Softsign}
#: init -> (source line applied to ``layer``, torch init of a Linear, s_w)
INITS = {
    "default": ("pass", lambda lin: None, 1 / math.sqrt(3)),
    "xavier": (
        "nn.init.xavier_normal_(layer.weight); nn.init.zeros_(layer.bias)",
        lambda lin: (nn.init.xavier_normal_(lin.weight), nn.init.zeros_(lin.bias)),
        1.0,
    ),
    "xavier-5/3": (
        "nn.init.xavier_normal_(layer.weight, gain=5 / 3); nn.init.zeros_(layer.bias)",
        lambda lin: (nn.init.xavier_normal_(lin.weight, gain=5 / 3), nn.init.zeros_(lin.bias)),
        5 / 3,
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
        self.act = nn.{act}(){head_init}

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return {out}
"""

GAIN = re.compile(r"(?:keeps|multiplies the gradient by) ~([0-9.e+-]+)")
RATIO = re.compile(r"predicted to be ~([0-9.e+-]+)x? (?:of )?what leaves")


def source(act: str, init: str, depth: int, head: bool) -> str:
    return SOURCE.format(
        width=WIDTH,
        depth=depth,
        init=INITS[init][0],
        act=ACTS[act].__name__,
        head_init="\n        self.head = nn.Linear(width, 1)" if head else "",
        out="self.head(x)" if head else "x",
    )


def measure(act: str, init: str, depth: int, head: bool) -> float:
    def build(n: int) -> nn.Module:
        layers: list[nn.Module] = []
        for _ in range(n):
            lin = nn.Linear(WIDTH, WIDTH)
            INITS[init][1](lin)
            layers += [lin, ACTS[act]()]
        return nn.Sequential(*layers, *([nn.Linear(WIDTH, 1)] if head else []))

    ratios = []
    for seed in range(3):
        torch.manual_seed(seed)
        example = Example(depth, InputSpec((32, WIDTH), seed=seed), seed, "cpu", torch.float32)
        outcome = run_example(build, example)
        assert outcome.ratio is not None, outcome.message
        ratios.append(outcome.ratio)
    return statistics.median(ratios)


def message_numbers(src: str, code: str, config: Config) -> tuple[float, float]:
    (finding,) = [f for f in lint_source(src, "net.py", config) if f.code == code]
    gain, ratio = GAIN.search(finding.message), RATIO.search(finding.message)
    assert gain and ratio, finding.message
    return float(gain.group(1).rstrip(".")), float(ratio.group(1))


def check(act: str, init: str, depth: int, head: bool, code: str, config: Config) -> None:
    gain, ratio = message_numbers(source(act, init, depth, head), code, config)
    measured = measure(act, init, depth, head)
    hops = depth if head else depth - 1  # the ratio ends at the input of the last Linear
    measured_gain = (measured * INITS[init][2]) ** (1 / hops)
    where = f"{act} {init} depth {depth} {'head' if head else 'no head'}"
    assert abs(gain / measured_gain - 1) < 0.05, (where, gain, measured_gain)
    assert abs(math.log10(ratio / measured)) < 0.3, (where, ratio, measured)


#: a vanish bound above every prediction: GCK001 reports each chain with its numbers
REPORT_ALL = Config(vanish_bound=0.5)


@pytest.mark.parametrize(
    ("act", "init", "depth", "head"),
    [
        ("tanh", "default", 10, True),
        ("tanh", "default", 16, True),
        ("sigmoid", "xavier", 6, True),
        # known deviation: mean-field over-predicts softsign's gain at PyTorch's default init
        # (0.51 vs 0.483 measured at width 64, +5.7%; 0.54 vs 0.505 at width 256), so the
        # predicted ratio is ~0.33 decade optimistic at depth 12 (6e-4 vs 2.8e-4)
        pytest.param(
            "softsign",
            "default",
            12,
            True,
            marks=pytest.mark.xfail(strict=True, reason="softsign gain over-predicted ~6%"),
        ),
        # an output activation with no head: one hop fewer (theory.predicted_flow_ratio)
        ("tanh", "default", 10, False),
        ("sigmoid", "default", 5, False),
    ],
)
def test_gck001_message_matches_torch(act: str, init: str, depth: int, head: bool) -> None:
    check(act, init, depth, head, "GCK001", REPORT_ALL)


def test_gck006_message_matches_torch() -> None:
    # tanh with Xavier gain 5/3 at depth 40 grows the gradient ~27x (predicted; torch ~25x):
    # below the default explode bound, so the default lint is silent...
    src = source("tanh", "xavier-5/3", 40, True)
    assert [f.code for f in lint_source(src, "net.py")] == []
    # ...and with a bound below that growth the message carries the numbers
    check("tanh", "xavier-5/3", 40, True, "GCK006", Config(explode_bound=2.0))
