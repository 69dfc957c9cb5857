"""A file that names no saturating activation but stacks a block another module defines with one
(``from lab.layers import SmoothUnit``) is interpreted, and the block's module is in its cache
key; a wrapper's echo of the class file's finding is dropped from a run that holds both."""

from __future__ import annotations

import ast
import os
import shutil
import time
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.lint.imported_blocks import imports_saturating_block, names_a_word
from tests.lint.spies import linted

PROJECTS = Path(__file__).resolve().parent.parent / "projects"
WORDS = ("sigmoid", "tanh", "softsign", "expit")


def _definition(source: str) -> ast.AST:
    return ast.parse(source).body[0]


@pytest.mark.parametrize(
    "source",
    [
        "class B:\n    def forward(self, x):\n        return torch.sigmoid(x)",
        "class B:\n    def __init__(self):\n        self.act = nn.Tanh()",
        "def block(width, act='tanh'):\n    return make(width, act)",
        "class B:\n    def forward(self, x):\n        return x.sigmoid()",
    ],
)
def test_a_definition_that_uses_a_saturating_activation(source: str) -> None:
    assert names_a_word(_definition(source), WORDS)


@pytest.mark.parametrize(
    "source",
    [
        'class B:\n    """Unlike a sigmoid, this unit does not saturate."""\n    act = nn.ReLU',
        "def block(width):\n    raise ValueError('tanh is not supported here, use relu or gelu')",
    ],
)
def test_a_docstring_or_a_message_is_not_an_activation(source: str) -> None:
    assert not names_a_word(_definition(source), WORDS)


def _project(tmp_path: Path, name: str) -> Path:
    root = tmp_path / name
    shutil.copytree(PROJECTS / name, root)
    return root


def test_the_stacking_file_consults_the_block_module(tmp_path: Path) -> None:
    root = _project(tmp_path, "imported_block_deep")
    tower = root / "lab" / "tower.py"
    consulted: list[tuple[str, str, int, int]] = []
    tree = ast.parse(tower.read_text())
    assert imports_saturating_block(tree, tower.read_text(), str(tower), (), consulted)
    paths = {os.path.relpath(c[0], root.resolve()) for c in consulted}
    assert paths == {os.path.join("lab", "layers", "__init__.py"), "lab/layers/smooth.py"}


def test_a_block_with_no_saturating_activation_lets_nothing_in(tmp_path: Path) -> None:
    root = _project(tmp_path, "imported_block_deep")
    smooth = root / "lab" / "layers" / "smooth.py"
    smooth.write_text(smooth.read_text().replace("torch.sigmoid", "torch.relu"))
    tower = root / "lab" / "tower.py"
    assert not imports_saturating_block(ast.parse(tower.read_text()), tower.read_text(), str(tower))
    assert lint_paths([root], Config()).findings == []


def test_editing_the_block_module_relints_the_stacking_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _project(tmp_path, "imported_block_deep")
    cache = tmp_path / "cache"
    assert [f.depth for f in lint_paths([root], Config(), cache_dir=cache).findings] == [8]
    seen = linted(monkeypatch)
    smooth = root / "lab" / "layers" / "smooth.py"
    smooth.write_text(smooth.read_text().replace("torch.sigmoid", "torch.relu"))
    later = time.time() + 5
    os.utime(smooth, (later, later))
    assert lint_paths([root], Config(), cache_dir=cache).findings == []
    assert sorted(seen) == ["smooth.py", "tower.py"]


def test_a_wrapper_echo_is_dropped_only_when_the_class_file_reports(tmp_path: Path) -> None:
    root = _project(tmp_path, "module_wrapper_deep")
    wrapper = root / "models" / "pinn.py"
    alone = lint_paths([wrapper], Config()).findings
    assert [(Path(f.path).name, f.line, f.depth) for f in alone] == [("pinn.py", 11, 8)]
    whole = lint_paths([root], Config()).findings
    assert [(Path(f.path).name, f.depth) for f in whole] == [("mlp.py", 8)]
    assert any(r.path and r.path.endswith("pinn.py") and r.line == 11 for r in whole[0].related)


def test_a_package_init_that_only_re_exports_the_block_is_not_let_in(tmp_path: Path) -> None:
    root = _project(tmp_path, "imported_block_deep")
    init = root / "lab" / "layers" / "__init__.py"
    assert not imports_saturating_block(ast.parse(init.read_text()), init.read_text(), str(init))


@pytest.mark.parametrize(
    "statement",
    ["from lab import layers as L", "import lab.layers as L", "from lab.layers import smooth as L"],
)
def test_a_module_imported_whole_counts_through_the_attributes_read(
    tmp_path: Path, statement: str
) -> None:
    root = _project(tmp_path, "imported_block_deep")
    tower = root / "lab" / "tower.py"
    text = tower.read_text().replace("from lab.layers import SmoothUnit", statement)
    tower.write_text(text.replace("[SmoothUnit(", "[L.SmoothUnit("))
    assert [(Path(f.path).name, f.depth) for f in lint_paths([root], Config()).findings] == [
        ("tower.py", 8)
    ]
    other = text.replace("[SmoothUnit(", "[L.OtherUnit(")  # an attribute it does not define
    tower.write_text(other)
    assert not imports_saturating_block(ast.parse(other), other, str(tower))
