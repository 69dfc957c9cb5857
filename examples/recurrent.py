"""A vanilla tanh RNN unrolled over time versus an LSTM: the sequence length is the depth.

Backpropagation through time multiplies the gradient by the recurrent Jacobian once per step, and
with a tanh cell every step also multiplies it by tanh' < 1, so the gradient from the last step
reaching the first one vanishes geometrically with the sequence length - the same failure as a
deep tanh stack, along time instead of layers (Bengio et al., 1994). The LSTM's additive cell
state carries the gradient across steps (Hochreiter & Schmidhuber, 1997). Each model here runs
its cell in a Python loop, so the runtime checker sees every time step as a layer; ``depth`` is
the number of steps. The input arrives at the first step only (a memory task: carry it to the
end), so the gradient that reaches it has crossed every step.
"""

import torch
import torch.nn as nn


class TanhRNN(nn.Module):
    def __init__(self, steps: int, features: int = 32, hidden: int = 64):
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


class LSTMNet(nn.Module):
    def __init__(self, steps: int, features: int = 32, hidden: int = 64, forget_bias: float = 3.0):
        super().__init__()
        self.steps = steps
        self.inp = nn.Linear(features, hidden)
        self.cell = nn.LSTMCell(hidden, hidden)
        with torch.no_grad():  # forget-gate bias: remember by default (see the docstring)
            self.cell.bias_ih[hidden : 2 * hidden].fill_(forget_bias)
        self.head = nn.Linear(hidden, 1)

    def forward(self, x):
        u = self.inp(x)
        blank = torch.zeros_like(u)
        h, c = self.cell(u, (blank, blank))
        for _ in range(self.steps - 1):
            h, c = self.cell(blank, (h, c))
        return self.head(h)


def make_rnn(depth: int) -> nn.Module:
    return TanhRNN(depth)


def make_lstm(depth: int) -> nn.Module:
    return LSTMNet(depth)
