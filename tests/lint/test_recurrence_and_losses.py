"""GCK003 saturating-recurrence and GCK005 squashed-twice: positives and traps."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"


def codes(src: str) -> list[tuple[str, int]]:
    return [(f.code, f.line - 3) for f in lint_source(HEADER + textwrap.dedent(src), "m.py")]


RECURRENCES = {
    "nn-rnn-default": "rnn = nn.RNN(8, 16, batch_first=True)\n",
    "nn-rnn-explicit-tanh": "rnn = nn.RNN(8, 16, 2, 'tanh')\n",
    "nn-rnncell": "from torch.nn import RNNCell\ncell = RNNCell(8, 16)\n",
    "manual-loop-over-unbind": """
        class Cell(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.W = nn.Linear(d, d)
                self.U = nn.Linear(d, d, bias=False)

            def forward(self, x):
                h = torch.zeros(x.size(0), x.size(2))
                for x_t in x.unbind(1):
                    h = torch.tanh(self.W(x_t) + self.U(h))
                return h
        """,
    "manual-loop-over-range-of-size": """
        class Cell(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.W = nn.Linear(d, d)
                self.U = nn.Linear(d, d)
                self.act = nn.Sigmoid()

            def forward(self, x, h):
                for t in range(x.size(1)):
                    h = self.act(self.W(x[:, t]) + self.U(h))
                return h
        """,
    "manual-loop-indexed-by-step": """
        class Cell(nn.Module):
            def __init__(self, d, steps):
                super().__init__()
                self.W = nn.Linear(d, d)
                self.U = nn.Linear(d, d)
                self.steps = steps

            def forward(self, x, h):
                for t in range(self.steps):
                    h = (self.W(x[:, t]) + self.U(h)).tanh()
                return h
        """,
}


@pytest.mark.parametrize("name", sorted(RECURRENCES))
def test_saturating_recurrence(name: str) -> None:
    assert [c for c, _ in codes(RECURRENCES[name])] == ["GCK003"]


NOT_RECURRENCES = {
    "relu-rnn": "rnn = nn.RNN(8, 16, nonlinearity='relu')\n",
    "lstm-gru": "a = nn.LSTM(8, 16)\nb = nn.GRU(8, 16)\nc = nn.LSTMCell(8, 16)\nd = nn.GRUCell(8, 16)\n",
    "manual-lstm-cell-additive-state": """
        class LSTM(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.w = nn.Linear(2 * d, 4 * d)

            def forward(self, x, h, c):
                for x_t in x.unbind(1):
                    i, f, g, o = self.w(torch.cat([x_t, h], -1)).chunk(4, -1)
                    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
                    h = torch.sigmoid(o) * torch.tanh(c)
                return h
        """,
    "manual-gru-cell": """
        class GRU(nn.Module):
            def __init__(self, d):
                super().__init__()
                self.z = nn.Linear(2 * d, d)
                self.n = nn.Linear(2 * d, d)

            def forward(self, x, h):
                for x_t in x.unbind(1):
                    xh = torch.cat([x_t, h], -1)
                    z = torch.sigmoid(self.z(xh))
                    n = torch.tanh(self.n(xh))
                    h = (1 - z) * h + z * n
                return h
        """,
    "stack-loop-is-not-a-recurrence": """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layers = nn.ModuleList(nn.Linear(8, 8) for _ in range(3))

            def forward(self, x):
                for layer in self.layers:
                    x = torch.tanh(layer(x))
                return x
        """,
    "tanh-of-input-only": """
        def f(W, x):
            outs = []
            for x_t in x.unbind(1):
                y = torch.tanh(W(x_t))
                outs.append(y)
            return outs
        """,
}


@pytest.mark.parametrize("name", sorted(NOT_RECURRENCES))
def test_not_a_saturating_recurrence(name: str) -> None:
    assert codes(NOT_RECURRENCES[name]) == []


def test_recurrence_is_not_also_a_stack() -> None:
    src = """
    class Cell(nn.Module):
        def __init__(self, d, steps=12):
            super().__init__()
            self.W = nn.Linear(d, d)
            self.U = nn.Linear(d, d)
            self.steps = steps

        def forward(self, x, h):
            for t in range(self.steps):
                h = torch.tanh(self.W(x[:, t]) + self.U(h))
            return h
    """
    assert [c for c, _ in codes(src)] == ["GCK003"]


SQUASHED = {
    "explicit-sigmoid-into-bce-with-logits": (
        "def loss(logits, y):\n    return F.binary_cross_entropy_with_logits(torch.sigmoid(logits), y)\n"
    ),
    "explicit-softmax-into-cross-entropy": (
        "def loss(logits, y):\n    return nn.CrossEntropyLoss()(logits.softmax(-1), y)\n"
    ),
    "model-ending-in-sigmoid": """
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 1))
                self.out = nn.Sigmoid()

            def forward(self, x):
                return self.out(self.body(x))

        model = Net()
        criterion = nn.BCEWithLogitsLoss()

        def train(loader, optimizer):
            for x, y in loader:
                loss = criterion(model(x), y)
                loss.backward()
        """,
    "lightning-style-self-call": """
        class Classifier(nn.Module):
            def __init__(self):
                super().__init__()
                self.net = nn.Sequential(nn.Linear(8, 10), nn.Softmax(dim=-1))
                self.loss = nn.CrossEntropyLoss()

            def forward(self, x):
                return self.net(x)

            def training_step(self, batch, batch_idx):
                x, y = batch
                return self.loss(self(x), y)
        """,
}


@pytest.mark.parametrize("name", sorted(SQUASHED))
def test_squashed_twice(name: str) -> None:
    assert [c for c, _ in codes(SQUASHED[name])] == ["GCK005"]


NOT_SQUASHED = {
    "logits-into-bce-with-logits": """
        model = nn.Sequential(nn.Linear(8, 1))
        def train(x, y):
            return nn.BCEWithLogitsLoss()(model(x), y)
        """,
    "sigmoid-into-bce": """
        model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
        def train(x, y):
            return nn.BCELoss()(model(x), y)
        """,
    "log-softmax-into-nll": """
        model = nn.Sequential(nn.Linear(8, 10), nn.LogSoftmax(dim=-1))
        def train(x, y):
            return F.nll_loss(model(x), y)
        """,
    "sigmoid-for-metrics-only": """
        model = nn.Sequential(nn.Linear(8, 1))
        def step(x, y):
            logits = model(x)
            loss = F.binary_cross_entropy_with_logits(logits, y)
            probs = torch.sigmoid(logits)
            return loss, probs
        """,
}


@pytest.mark.parametrize("name", sorted(NOT_SQUASHED))
def test_not_squashed_twice(name: str) -> None:
    assert codes(NOT_SQUASHED[name]) == []
