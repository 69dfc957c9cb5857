"""A file that is both linted and read for another file's sake is parsed once per process, and a
changed text is never answered with the tree of the old one."""

from __future__ import annotations

import ast
import os
from pathlib import Path

from gradcheck_kit.config import Config
from gradcheck_kit.lint import project
from gradcheck_kit.lint.engine import lint_file

BLOCKS = """\
import torch.nn as nn


class Block(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))
"""

MODEL = """\
import torch.nn as nn

from pkg.blocks import Block


class Net(nn.Module):
    def __init__(self, width=64, depth=40):
        super().__init__()
        self.body = nn.Sequential(*[Block(width) for _ in range(depth)])

    def forward(self, x):
        return self.body(x)
"""


def _project(tmp_path: Path) -> tuple[Path, Path]:
    (tmp_path / "pyproject.toml").write_text("")
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "blocks.py").write_text(BLOCKS)
    (package / "model.py").write_text(MODEL)
    return package / "blocks.py", package / "model.py"


def test_a_linted_module_is_the_tree_its_importer_reads(tmp_path: Path) -> None:
    blocks, model = _project(tmp_path)
    project._TREES.clear()
    lint_file(blocks, Config())
    real = os.path.realpath(blocks)
    kept = project.reused_tree(real, BLOCKS)
    assert kept is not None
    findings, error = lint_file(model, Config())
    assert error is None
    assert [f.code for f in findings] == ["GCK001"]  # the block read from blocks.py counts
    loaded = project.Project.for_file(str(model)).load(real)
    assert loaded is not None and loaded.tree is kept


def test_an_imported_module_is_the_tree_it_is_linted_with(tmp_path: Path) -> None:
    blocks, model = _project(tmp_path)
    project._TREES.clear()
    lint_file(model, Config())  # reads blocks.py first
    real = os.path.realpath(blocks)
    read = project.reused_tree(real, BLOCKS)
    assert read is not None
    assert project.Project.for_file(str(model)).load(real).tree is read  # type: ignore[union-attr]


def test_a_changed_text_is_parsed_again(tmp_path: Path) -> None:
    path = os.path.realpath(tmp_path / "m.py")
    tree = ast.parse("x = 1")
    project.keep_tree(path, "x = 1", tree)
    assert project.reused_tree(path, "x = 1") is tree
    assert project.reused_tree(path, "x = 2") is None
    assert project.reused_tree(path + "c", "x = 1") is None


def test_the_trees_kept_are_bounded() -> None:
    project._TREES.clear()
    for i in range(project._TREES_KEPT + 5):
        project.keep_tree(f"/nowhere/{i}.py", "", ast.Module([], []))
    assert len(project._TREES) == project._TREES_KEPT
    assert project.reused_tree("/nowhere/0.py", "") is None
    assert project.reused_tree(f"/nowhere/{project._TREES_KEPT + 4}.py", "") is not None
