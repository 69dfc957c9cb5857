"""The package's layout rules (DESIGN.md, "Target layout"), checked by reading every module's
imports with ``ast`` - lazy imports inside functions and ``TYPE_CHECKING`` blocks included:

* no module imports another module's underscore names (``from x import _y``, or ``m._y`` on an
  imported package module); dunders such as ``__version__`` are fine, and so is a private
  module itself (``from gradcheck_kit._io import write_atomic``);
* ``lint`` and ``runtime`` never import each other;
* ``report`` never imports torch, ``lint``, ``runtime`` or ``commands``;
* the layers below the commands never import ``commands`` or ``cli``;
* nothing imports back up from the package root but its submodules (``__version__`` comes from
  ``gradcheck_kit._version``).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "gradcheck_kit"

# No module imports another's underscore names (the lint refactor removed the last ones).
ALLOWED_PRIVATE_IMPORTS: set[tuple[str, str, str]] = set()


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def is_package(name: str) -> bool:
    return MODULES.get(name, Path()).name == "__init__.py"


def is_module(name: str) -> bool:
    return name in MODULES


def private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def absolute(module: str, node: ast.ImportFrom) -> str:
    """The module an ``ImportFrom`` names, relative imports resolved against ``module``."""
    if not node.level:
        return node.module or ""
    base = module.split(".")
    if not is_package(module):
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(module: str) -> Iterator[tuple[str, str | None]]:
    """(imported module, name taken from it or None) for every import in ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, None
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            for alias in node.names:
                yield source, alias.name


def private_uses(module: str) -> Iterator[tuple[str, str]]:
    """(other module, underscore name) that ``module`` takes from another package module."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    bound: dict[str, str] = {}  # local name -> package module it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] != "gradcheck_kit":
                    continue
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    bound["gradcheck_kit"] = "gradcheck_kit"
        elif isinstance(node, ast.ImportFrom):
            source = absolute(module, node)
            if source.split(".")[0] != "gradcheck_kit":
                continue
            for alias in node.names:
                if is_module(f"{source}.{alias.name}"):
                    bound[alias.asname or alias.name] = f"{source}.{alias.name}"
                elif private(alias.name) and source != module:
                    yield source, alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            owner = dotted(node.value, bound)
            if owner is not None and owner != module and not is_module(f"{owner}.{node.attr}"):
                yield owner, node.attr


def dotted(node: ast.expr, bound: dict[str, str]) -> str | None:
    """The package module an expression names (``m`` or ``gradcheck_kit.lint.engine``)."""
    if isinstance(node, ast.Name):
        return bound.get(node.id)
    if isinstance(node, ast.Attribute):
        owner = dotted(node.value, bound)
        if owner is not None and is_module(f"{owner}.{node.attr}"):
            return f"{owner}.{node.attr}"
    return None


def in_layer(module: str, layer: str) -> bool:
    return module == layer or module.startswith(layer + ".")


def test_the_walk_sees_the_package() -> None:
    assert "gradcheck_kit.cli" in MODULES and "gradcheck_kit.commands.lint" in MODULES
    assert len(MODULES) > 40


def test_no_module_imports_another_modules_underscore_names() -> None:
    found = {(m, source, name) for m in MODULES for source, name in private_uses(m)}
    assert sorted(found - ALLOWED_PRIVATE_IMPORTS) == []


def test_the_allowlist_only_shrinks() -> None:
    """An entry whose import is gone (the lint refactor landed) must leave the list."""
    found = {(m, source, name) for m in MODULES for source, name in private_uses(m)}
    assert sorted(ALLOWED_PRIVATE_IMPORTS - found) == []


def test_the_check_catches_both_forms(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODULES, "gradcheck_kit.fake", tmp_path / "fake.py")
    (tmp_path / "fake.py").write_text(
        "from gradcheck_kit.report.gradients import _unnum, __name__ as n\n"
        "from .report import findings\n"
        "import gradcheck_kit.report.formats as formats\n"
        "import gradcheck_kit.report.sarif\n"
        "findings._hints, formats._escape_data, gradcheck_kit.report.sarif._uri\n"
        "findings.__doc__\n"
    )
    assert sorted(private_uses("gradcheck_kit.fake")) == [
        ("gradcheck_kit.report.findings", "_hints"),
        ("gradcheck_kit.report.formats", "_escape_data"),
        ("gradcheck_kit.report.gradients", "_unnum"),
        ("gradcheck_kit.report.sarif", "_uri"),
    ]


def layer_imports(layer: str) -> Iterator[tuple[str, str]]:
    """(module of ``layer``, module it imports: the source, or source.name for a submodule)."""
    for module in MODULES:
        if not in_layer(module, layer):
            continue
        for source, name in imports(module):
            target = f"{source}.{name}" if name and is_module(f"{source}.{name}") else source
            yield module, target


@pytest.mark.parametrize(
    ("layer", "forbidden"),
    [
        ("gradcheck_kit.lint", ("gradcheck_kit.runtime",)),
        ("gradcheck_kit.runtime", ("gradcheck_kit.lint",)),
        (
            "gradcheck_kit.report",
            ("torch", "gradcheck_kit.lint", "gradcheck_kit.runtime", "gradcheck_kit.commands"),
        ),
        ("gradcheck_kit.lint", ("gradcheck_kit.commands", "gradcheck_kit.cli")),
        ("gradcheck_kit.runtime", ("gradcheck_kit.commands", "gradcheck_kit.cli")),
        ("gradcheck_kit.config", ("gradcheck_kit.commands", "gradcheck_kit.cli")),
        ("gradcheck_kit.catalog", ("gradcheck_kit.commands", "gradcheck_kit.cli")),
    ],
)
def test_layers_import_one_way(layer: str, forbidden: tuple[str, ...]) -> None:
    bad = [
        (module, target)
        for module, target in layer_imports(layer)
        if any(in_layer(target, f) for f in forbidden)
    ]
    assert bad == []


def test_nothing_imports_back_up_from_the_package_root() -> None:
    bad = [
        (module, name)
        for module in MODULES
        for source, name in imports(module)
        if source == "gradcheck_kit" and name and not is_module(f"gradcheck_kit.{name}")
    ]
    assert bad == []


@pytest.mark.parametrize(
    "first",
    [
        "gradcheck_kit.strategies",
        "gradcheck_kit.runtime.strategies",
        "gradcheck_kit.runtime.devices",
    ],
)
def test_strategies_import_in_any_order_without_torch(first: str) -> None:
    """The public strategies re-export the runtime's: no cycle whichever is imported first,
    and neither imports torch until a recipe is materialised."""
    pytest.importorskip("hypothesis")
    others = [
        m
        for m in (
            "gradcheck_kit.strategies",
            "gradcheck_kit.runtime.strategies",
            "gradcheck_kit.runtime.devices",
        )
        if m != first
    ]
    code = (
        f"import sys, {first}, {', '.join(others)}; "
        "import gradcheck_kit.strategies as s; "
        "assert s.available_devices.__module__ == 'gradcheck_kit.runtime.devices'; "
        "assert 'torch' not in sys.modules, 'torch was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
