"""A call site in another file passes the activation itself (issue 18): ``MLP(sizes,
activation=nn.Tanh)``, an instance, a function - read through the caller's own imports, so
the model file needs no saturating name and no import of its own."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths

BY_CLASS = """\
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, sizes, activation):
        super().__init__()
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), activation()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
"""

BY_INSTANCE = """\
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, sizes, act):
        super().__init__()
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.act = act

    def forward(self, x):
        for layer in self.layers:
            x = self.act(layer(x))
        return x
"""

BY_FUNCTION = BY_INSTANCE.replace("act):", "act_fn):").replace(
    "self.act = act", "self.act = act_fn"
)


def _found(tmp_path: Path, model: str, caller: str) -> list[tuple[str, int | None]]:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(model)
    (tmp_path / "train.py").write_text(caller)
    result = lint_paths([tmp_path], Config(max_saturating_depth=3))
    assert result.errors == []
    return [(f.code, f.depth) for f in result.findings]


SIZES = "[2] + [64] * 6 + [1]"


@pytest.mark.parametrize(
    ("model", "caller", "expected"),
    [
        (
            BY_CLASS,
            f"import torch.nn as nn\nfrom model import MLP\nMLP({SIZES}, activation=nn.Tanh)\n",
            7,
        ),
        (BY_CLASS, f"import torch\nfrom model import MLP\nMLP({SIZES}, torch.nn.Sigmoid)\n", 7),
        (BY_CLASS, f"from torch.nn import Tanh\nfrom model import MLP\nMLP({SIZES}, Tanh)\n", 7),
        (BY_INSTANCE, f"from torch import nn\nfrom model import MLP\nMLP({SIZES}, nn.Tanh())\n", 7),
        (BY_FUNCTION, f"import torch\nfrom model import MLP\nMLP({SIZES}, act_fn=torch.tanh)\n", 7),
        # not saturating, not torch's, or shadowed: nothing
        (BY_CLASS, f"import torch.nn as nn\nfrom model import MLP\nMLP({SIZES}, nn.ReLU)\n", None),
        (BY_CLASS, f"from acts import Tanh\nfrom model import MLP\nMLP({SIZES}, Tanh)\n", None),
        (
            BY_CLASS,
            f"import torch.nn as nn\nfrom model import MLP\nnn = object()\nMLP({SIZES}, nn.Tanh)\n",
            None,
        ),
    ],
)
def test_an_activation_passed_from_another_file(
    tmp_path: Path, model: str, caller: str, expected: int | None
) -> None:
    found = _found(tmp_path, model, caller)
    if expected is None:
        assert all(code != "GCK001" for code, _ in found), found
    else:
        assert found == [("GCK001", expected)]
