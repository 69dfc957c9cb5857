"""A call site's argument imported from another project module (issue 18): a module-level
literal bound once, an item of an imported dict literal, an item of the tuple a settings
function returns. Anything the caller or the module may change stays unknown."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths

MODEL = """\
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.body = nn.Sequential(*[nn.Tanh() for _ in range(depth)])

    def forward(self, x):
        return self.body(x)
"""


def _codes(tmp_path: Path, settings: str, caller: str) -> list[tuple[str, int | None]]:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "settings.py").write_text(settings)
    (tmp_path / "run.py").write_text(caller)
    result = lint_paths([tmp_path], Config(max_saturating_depth=3))
    assert result.errors == []
    return [(f.code, f.depth) for f in result.findings]


FOUND = [("GCK001", 6)]
UNKNOWN = [("GCK002", None)]


@pytest.mark.parametrize(
    ("settings", "caller", "expected"),
    [
        ("DEPTH = 6\n", "from model import MLP\nfrom settings import DEPTH\nMLP(DEPTH)\n", FOUND),
        (
            "DEPTH = 2 * 3\n",
            "from model import MLP\nfrom settings import DEPTH\nMLP(DEPTH)\n",
            FOUND,
        ),
        (
            "DEPTH = 2 ** 2 + 2\n",
            "from model import MLP\nfrom settings import DEPTH\nMLP(DEPTH)\n",
            FOUND,
        ),
        (
            "def params():\n    print('seeding')\n    return 8, 6\n",
            "from model import MLP\nfrom settings import params\nw, d = params()\nMLP(d)\n",
            FOUND,
        ),
        (
            "d = 6\ndef params():\n    d = 2\n    return 8, d\n",
            "from model import MLP\nfrom settings import params\nw, d = params()\nMLP(d)\n",
            UNKNOWN,
        ),
        ("DEPTH = 6\n", "import settings as s\nfrom model import MLP\nMLP(s.DEPTH)\n", FOUND),
        (
            "CFG = {'depth': 6}\n",
            "from model import MLP\nfrom settings import CFG\nMLP(depth=CFG['depth'])\n",
            FOUND,
        ),
        (
            "def params():\n    return 8, 6\n",
            "from model import MLP\nfrom settings import params\nw, d = params()\nMLP(d)\n",
            FOUND,
        ),
        # bound twice, or inside an ``if``: which one runs is unknown
        (
            "DEPTH = 6\nDEPTH = 2\n",
            "from model import MLP\nfrom settings import DEPTH\nMLP(DEPTH)\n",
            UNKNOWN,
        ),
        (
            "import os\nif os.environ.get('X'):\n    DEPTH = 6\n",
            "from model import MLP\nfrom settings import DEPTH\nMLP(DEPTH)\n",
            UNKNOWN,
        ),
        # the caller binds the name too: a parameter shadows the import
        (
            "DEPTH = 6\n",
            "from model import MLP\nfrom settings import DEPTH\ndef f(DEPTH):\n    MLP(DEPTH)\n",
            UNKNOWN,
        ),
        # a key the dict does not have; a function that takes arguments
        (
            "CFG = {'depth': 6}\n",
            "from model import MLP\nfrom settings import CFG\nMLP(depth=CFG['n'])\n",
            UNKNOWN,
        ),
        (
            "def params(n):\n    return 8, n\n",
            "from model import MLP\nfrom settings import params\nw, d = params(6)\nMLP(d)\n",
            UNKNOWN,
        ),
        # a module the project does not have
        ("", "from model import MLP\nfrom elsewhere import DEPTH\nMLP(DEPTH)\n", UNKNOWN),
    ],
)
def test_imported_values_at_a_call_site(
    tmp_path: Path, settings: str, caller: str, expected: list[tuple[str, int | None]]
) -> None:
    assert _codes(tmp_path, settings, caller) == expected
