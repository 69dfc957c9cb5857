"""Proof that the GCK003/GCK004/GCK006/GCK007 fixes are right, not only applied (issue 21, item
5): the source before and after ``--fix --unsafe-fixes`` is built with torch and measured.

* GCK006: a 12-layer tanh MLP with ``normal_(std=1.0)`` fails the runtime check (exploding);
  with the fix's Xavier init it passes.
* GCK003: the fixed ``nn.GRU`` is a drop-in for the ``nn.RNN`` (same call, same output shapes)
  and keeps far more of the first time step's gradient over a long sequence; its update gate can
  carry the gradient through time where the tanh RNN cannot (runtime check).
* GCK004/GCK007: the training step, executed on a real tiny model, applies gradients whose norm
  is bounded by the clip only after the fix (with AMP: unscaled, then clipped at the threshold).
"""

from __future__ import annotations

import statistics
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

torch = pytest.importorskip("torch")

from gradcheck_kit.config import Config  # noqa: E402
from gradcheck_kit.lint.engine import lint_source  # noqa: E402
from gradcheck_kit.lint.fixes import apply_fixes  # noqa: E402
from gradcheck_kit.runtime.check import check_gradients  # noqa: E402


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Small models on a shared machine: one thread is faster than contending for several."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def fix(src: str, code: str) -> tuple[str, str]:
    """(before, after): ``src`` and the text ``--fix --unsafe-fixes`` leaves for ``code``."""
    before = textwrap.dedent(src)
    findings = [f for f in lint_source(before, "m.py", Config()) if f.code == code]
    assert findings and all(f.fix is not None for f in findings)
    after, applied = apply_fixes(before, [f.fix for f in findings if f.fix is not None])
    assert applied and after != before
    assert not [f for f in lint_source(after, "m.py", Config()) if f.code == code]
    return before, after


def load(text: str) -> dict[str, Any]:
    namespace: dict[str, Any] = {"__name__": "fixture"}
    exec(compile(text, "fixture.py", "exec"), namespace)
    return namespace


# --- GCK006 -----------------------------------------------------------------------------------

EXPLODING_MLP = """
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, width=128, depth=12):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, mean=0.0, std=1.0)

    def forward(self, x):
        return self.head(self.net(x))
"""


def test_gck006_fix_takes_the_runtime_check_from_exploding_to_passing() -> None:
    before, after = fix(EXPLODING_MLP, "GCK006")
    assert 'nn.init.xavier_normal_(m.weight, gain=nn.init.calculate_gain("tanh"))' in after
    reports = {}
    for name, text in (("before", before), ("after", after)):
        mlp = load(text)["MLP"]
        reports[name] = check_gradients(
            lambda depth, mlp=mlp: mlp(depth=depth),
            depths=(12, 12),
            input_shape=(16, 128),
            max_examples=2,
            seed=0,
            raise_on_failure=False,
            database=None,
        )
    failed, passed = reports["before"], reports["after"]
    assert not failed.passed and failed.failure is not None
    assert failed.failure.kind.value == "exploding"
    assert failed.ratio is not None and failed.ratio > 1e3  # measured ~5e3
    assert passed.passed and passed.ratio is not None and 0.1 < passed.ratio < 10  # ~1.3


# --- GCK003 -----------------------------------------------------------------------------------

RNN_ENCODER = """
import torch
import torch.nn as nn


def make_encoder():
    return nn.RNN(input_size=32, hidden_size=64, batch_first=True, nonlinearity="tanh")


def first_step_share(encoder, steps):
    x = torch.randn(16, steps, 32, requires_grad=True)
    out, h = encoder(x)
    assert out.shape == (16, steps, 64) and h.shape == (1, 16, 64)
    out[:, -1].sum().backward()
    norms = x.grad.norm(dim=(0, 2))
    return (norms[0] / norms[-1]).item()
"""


def first_step_shares(text: str, steps: int) -> list[float]:
    namespace = load(text)
    shares = []
    for seed in range(3):
        torch.manual_seed(seed)
        shares.append(namespace["first_step_share"](namespace["make_encoder"](), steps))
    return shares


def test_gck003_fix_is_a_drop_in_that_keeps_the_first_steps_gradient() -> None:
    before, after = fix(RNN_ENCODER, "GCK003")
    assert "nn.GRU(input_size=32, hidden_size=64, batch_first=True)" in after
    rnn = statistics.median(first_step_shares(before, 30))
    gru = statistics.median(first_step_shares(after, 30))
    # the gradient that reaches step 0 from step 29, relative to the last step's: measured
    # ~1e-10 for the tanh RNN and ~1e-7 for the GRU (default init, median of 3 seeds)
    assert rnn < 1e-6
    assert gru > 30 * rnn


RECURRENT_EXAMPLE = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, steps, features=32, hidden=64):
        super().__init__()
        self.steps = steps
        self.inp = nn.Linear(features, hidden)
        self.cell = nn.RNNCell(hidden, hidden, nonlinearity="tanh")
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        u = self.inp(x)
        h = self.cell(u, torch.zeros_like(u))
        blank = torch.zeros_like(u)
        for _ in range(self.steps - 1):
            h = self.cell(blank, h)
        return self.head(h)
"""


def test_gck003_fix_brings_a_gate_that_carries_the_gradient_through_time() -> None:
    """The memory task of ``examples/recurrent.py`` (input at the first step only): the tanh
    RNNCell fails the runtime check at 32 steps; the GRUCell the fix puts there passes once its
    update gate leans to "keep" (bias +3, the GRU's counterpart of the LSTM's forget bias) -
    the carry path a gateless cell has no parameter for."""
    before, after = fix(RECURRENT_EXAMPLE, "GCK003")
    assert "nn.GRUCell(hidden, hidden)" in after
    rnn_net, gru_net = load(before)["Net"], load(after)["Net"]

    def gru(depth: int) -> Any:
        net = gru_net(depth)
        hidden = net.cell.hidden_size
        with torch.no_grad():
            net.cell.bias_ih[hidden : 2 * hidden].fill_(3.0)  # update gate z: r, z, n
        return net

    options: dict[str, Any] = dict(
        depths=(32, 32), input_shape=(8, 32), max_examples=3, seed=0, database=None
    )
    failed = check_gradients(rnn_net, raise_on_failure=False, **options)
    passed = check_gradients(gru, raise_on_failure=False, **options)
    assert not failed.passed and failed.failure is not None
    assert failed.failure.kind.value == "vanishing"
    assert passed.passed


# --- GCK004 / GCK007: the norm the optimizer step applies -------------------------------------

MODEL = """
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(4, 16, batch_first=True)
        self.head = nn.Linear(16, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1])

"""


@contextmanager
def step_norms() -> Iterator[list[float]]:
    """The gradient norm over each optimizer's parameters when its step runs."""
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    norms: list[float] = []

    def hook(optimizer: Any, args: Any, kwargs: Any) -> None:
        grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
        norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())

    handle = register_optimizer_step_pre_hook(hook)
    try:
        yield norms
    finally:
        handle.remove()


def batches(n: int = 8) -> list[tuple[Any, Any]]:
    torch.manual_seed(0)
    return [(torch.randn(4, 6, 4), 100 * torch.randn(4, 1)) for _ in range(n)]


def train_norms(text: str, call: Callable[[dict[str, Any]], None]) -> list[float]:
    namespace = load(text)
    torch.manual_seed(0)
    with step_norms() as norms:
        call(namespace)
    assert norms
    return norms


TRAIN_PLAIN = """
def train(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    for x, y in loader:
        optimizer.zero_grad()
        loss = (model(x) - y).pow(2).mean()
        loss.backward()
        optimizer.step()
"""

TRAIN_AMP = """
def train(model, loader, accum=2):
    opt = torch.optim.SGD(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cpu")
    for i, (x, y) in enumerate(loader):
        loss = (model(x) - y).pow(2).mean() / accum
        scaler.scale(loss).backward()
        if (i + 1) % accum == 0:
            scaler.step(opt)
            scaler.update()
            opt.zero_grad()
"""


@pytest.mark.parametrize("train", [TRAIN_PLAIN, TRAIN_AMP], ids=["plain", "amp-accumulation"])
def test_gck004_fix_bounds_every_update(train: str) -> None:
    before, after = fix(MODEL + train, "GCK004")

    def run(namespace: dict[str, Any]) -> None:
        namespace["train"](namespace["Net"](), batches())

    unclipped, clipped = train_norms(before, run), train_norms(after, run)
    assert max(unclipped) > 10  # the targets are large: so are the gradients
    assert max(clipped) <= 1.0 + 1e-4
    assert min(clipped) > 0.99  # clipped to the threshold, not below it


CLIP_BEFORE_BACKWARD = """
import torch
from torch.nn.utils import clip_grad_norm_


def train(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    for data, target in loader:
        optimizer.zero_grad()
        clip_grad_norm_(model.parameters(), 1.0)
        loss = (model(data) - target).pow(2).mean()
        loss.backward()
        optimizer.step()
"""

CLIP_AFTER_STEP = """
import torch


def train(model, loader, accumulation_steps=2):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    for i, (x, y) in enumerate(loader):
        loss = (model(x) - y).pow(2).mean() / accumulation_steps
        loss.backward()
        if (i + 1) % accumulation_steps == 0:
            optimizer.step()
            optimizer.zero_grad()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
"""

CLIP_SCALED = """
import torch


def train(model, loader):
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-4)
    scaler = torch.amp.GradScaler("cpu")
    for x, y in loader:
        optimizer.zero_grad()
        scaler.scale((model(x) - y).pow(2).mean()).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        scaler.step(optimizer)
        scaler.update()
"""


@pytest.mark.parametrize(
    "train",
    [CLIP_BEFORE_BACKWARD, CLIP_AFTER_STEP, CLIP_SCALED],
    ids=["before-backward", "after-step", "scaled"],
)
def test_gck007_fix_makes_the_clip_bound_the_update(train: str) -> None:
    source = MODEL.replace("import torch\nimport torch.nn as nn\n", "import torch.nn as nn\n")
    before, after = fix(train + source, "GCK007")

    def run(namespace: dict[str, Any]) -> None:
        namespace["train"](namespace["Net"](), batches())

    misplaced, clipped = train_norms(before, run), train_norms(after, run)
    assert max(clipped) <= 1.0 + 1e-4 and min(clipped) > 0.99
    if train is CLIP_SCALED:
        # clipped while still multiplied by the loss scale (65536): the update is cut ~65536x
        # too much - every step applies a norm near 1/65536, not the threshold
        assert max(misplaced) < 1e-3
    else:
        assert max(misplaced) > 10
