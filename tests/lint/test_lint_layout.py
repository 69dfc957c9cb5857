"""The linter's layout holds: torch knowledge only in the catalog and the interpreter's models,
modules small enough to read in one sitting, and the project seam (a file consults itself; the
cache key is its content hash plus the hashes of what it consulted)."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import pytest

from gradcheck_kit import catalog
from gradcheck_kit.lint import engine
from gradcheck_kit.lint.cache import content_hash, file_key
from gradcheck_kit.lint.interp.machine import extract
from gradcheck_kit.lint.interp.models import MODELS
from gradcheck_kit.lint.project import NO_MODULE, Project, ProjectFile, module_name

LINT = Path(engine.__file__).parent
INTERP = LINT / "interp"
MAX_LINES = 600
GRANDFATHERED: dict[str, int] = {}  # none left: engine.py was split (discovery.py, noqa.py)


def _catalog_names() -> set[str]:
    """The catalog's qualified names and class names (``torch.nn.Tanh``, ``CrossEntropyLoss``).
    Short lowercase entries (``float``, ``add``) are also Python's or the interpreter's own words
    (a builtin, a join of two paths), so they are not counted."""
    names: set[str] = set()
    for key, value in vars(catalog).items():
        if not key.isupper():
            continue
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, (dict, frozenset, set, tuple)):
            names.update(v for v in value if isinstance(v, str))
    return {n for n in names if "." in n or n[:1].isupper()} - set(dir(builtins))


def _string_constants(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
    ]


@pytest.mark.parametrize("path", sorted(INTERP.glob("*.py")), ids=lambda p: p.name)
def test_no_torch_name_in_the_interpreter_outside_models_and_catalog(path: Path) -> None:
    known = _catalog_names()
    offending = [
        (line, text)
        for line, text in _string_constants(path)
        if text.startswith("torch") or text in known or text in catalog.MODULE_API_NAMES
    ]
    assert offending == [], f"{path.name}: torch knowledge belongs in catalog.py or interp/models/"


def test_nn_module_api_names_count_as_torch_knowledge() -> None:
    """``"forward"``, ``"add_module"``, ``"weight"``... name nn.Module's API: catalog names."""
    assert {"forward", "apply", "modules", "add_module", "weight", "shape"} <= (
        catalog.MODULE_API_NAMES
    )


def test_the_check_sees_a_torch_literal(tmp_path: Path) -> None:
    planted = tmp_path / "planted.py"
    planted.write_text(
        '"""doc: torch.nn.Tanh is fine here."""\nX = ("torch.nn.Tanh", "BCEWithLogitsLoss")\n'
    )
    found = [text for _, text in _string_constants(planted)]
    assert found == ["torch.nn.Tanh", "BCEWithLogitsLoss"]  # the docstring is skipped
    assert {"torch.nn.Tanh", "BCEWithLogitsLoss"} <= _catalog_names()


@pytest.mark.parametrize("path", sorted(LINT.rglob("*.py")), ids=lambda p: str(p.relative_to(LINT)))
def test_lint_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    limit = GRANDFATHERED.get(str(path.relative_to(LINT)), MAX_LINES)
    assert lines <= limit, f"{path.name} has {lines} lines: split it by what it holds"


def test_catalog_imports_nothing_of_torch_libcst_or_the_linter() -> None:
    tree = ast.parse(Path(catalog.__file__).read_text(encoding="utf-8"))
    imported = [
        alias.name if isinstance(node, ast.Import) else (node.module or "")
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom))
        for alias in node.names
    ]
    assert not [m for m in imported if m.split(".")[0] in ("torch", "libcst", "numpy")]
    assert not [m for m in imported if m.startswith("gradcheck_kit.lint")]


def test_every_catalog_qualified_name_with_a_model_is_registered_once() -> None:
    assert MODELS["torch.nn.Sequential"].__name__ == "sequential"
    assert MODELS["torch.nn.Tanh"] is MODELS["torch.tanh"]
    assert all(name in MODELS for name in catalog.AFFINE_MODULES)


def test_module_name_follows_packages(tmp_path: Path) -> None:
    package = tmp_path / "pkg" / "models"
    package.mkdir(parents=True)
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "mlp.py").write_text("")
    (tmp_path / "script.py").write_text("")
    assert module_name(str(package / "mlp.py")) == "pkg.models.mlp"
    assert module_name(str(package / "__init__.py")) == "pkg.models"
    assert module_name(str(tmp_path / "script.py")) == "script"
    assert module_name("<string>") == NO_MODULE


def test_a_project_without_a_root_resolves_only_the_file_itself() -> None:
    """A project with no root (a loose file, source with no file) resolves nothing but itself;
    resolution across a project is tested on the fixture projects (tests/lint/test_project.py)."""
    current = ProjectFile("pkg/mlp.py", "pkg.mlp")
    project = Project(current, (ProjectFile("pkg/blocks.py", "pkg.blocks"),))
    assert project.resolve("pkg.mlp", "MLP") is current
    assert project.resolve("pkg.blocks", "Block") is None
    assert project.resolve("torch.nn", "Tanh") is None


def test_the_interpreter_records_the_files_it_consulted() -> None:
    project = Project(ProjectFile("mlp.py", "mlp"))
    source = "import torch.nn as nn\nfrom mlp import WIDTH\nfrom blocks import Block\n"
    result = extract(source, project=project)
    assert [f.module for f in result.consulted] == ["mlp"]
    assert [f.module for f in extract("x = 1\n").consulted] == [NO_MODULE]


def test_cache_key_is_the_content_hash_plus_what_was_consulted() -> None:
    own, other = content_hash(b"a = 1\n"), content_hash(b"b = 2\n")
    assert file_key(own) == own == file_key(own, {})  # caches written before stay valid
    key = file_key(own, {"pkg.blocks": other})
    assert key != own
    assert key != file_key(own, {"pkg.blocks": content_hash(b"b = 3\n")})
    assert key == file_key(own, {"pkg.blocks": other})
