"""Layer sizes kept in a NumPy array (``layers = np.array([2, 20, ..., 1])``, as PINN notebooks
write them) are read as the list they wrap: the stack's depth is known, not "unknown" (GCK002)."""

from __future__ import annotations

import textwrap

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config

SOURCE = """
    import numpy as np
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self, layers):
            super().__init__()
            self.act = nn.Tanh()
            self.linears = nn.ModuleList(
                [nn.Linear(layers[i], layers[i + 1]) for i in range(len(layers) - 1)]
            )

        def forward(self, x):
            for linear in self.linears[:-1]:
                x = self.act(linear(x))
            return self.linears[-1](x)


    layers = np.{make}([2] + [20] * {hidden} + [1])
    net = Net(layers)
    """


@pytest.mark.parametrize("make", ["array", "asarray"])
@pytest.mark.parametrize(("hidden", "expected"), [(8, [("GCK001", 8)]), (3, [])])
def test_sizes_in_a_numpy_array(make: str, hidden: int, expected: list[tuple[str, int]]) -> None:
    source = textwrap.dedent(SOURCE).replace("{make}", make).replace("{hidden}", str(hidden))
    findings = lint_source(source, "net.py", Config(max_saturating_depth=3))
    assert [(f.code, f.depth) for f in findings] == expected
