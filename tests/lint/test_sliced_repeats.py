"""A value repeated a known number of times, sliced, is repeated fewer times:
``zip(sizes[:-1], sizes[1:])`` over ``(16,) * 5`` is 4 pairs, as over ``(16, 16, 16, 16, 16)``."""

from __future__ import annotations

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_source

MODEL = """\
import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self, sizes=SIZES):
        super().__init__()
        layers = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
"""


@pytest.mark.parametrize(
    ("sizes", "depth"),
    [
        ("(16,) * 5", 4),
        ("[16] * 5", 4),
        ("(16, 16, 16, 16, 16)", 4),
        ("[16] * 9", 8),
    ],
)
def test_pairs_of_a_repeated_tuple(sizes: str, depth: int) -> None:
    (finding,) = lint_source(MODEL.replace("SIZES", sizes), "m.py", Config(max_saturating_depth=1))
    assert finding.depth == depth
