"""The import statements of a module, and the project modules they name: what the prefilter
(:mod:`gradcheck_kit.lint.prefilter`, :mod:`gradcheck_kit.lint.imported_blocks`) and the call
sites (:mod:`gradcheck_kit.lint.callsites`) read of a file's imports without interpreting it."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradcheck_kit.lint.project import Project


def import_targets(
    project: Project, body: list[ast.stmt], importer: str
) -> list[tuple[str, tuple[str, ...]]]:
    """The ``.py`` modules that the import statements in ``body`` (and in the statements it
    nests, not in expressions) name, each with the names imported from it (none for a module
    imported as a whole or a submodule)."""
    return [(path, names) for path, names, _ in _resolved(project, body, importer)]


def modules_bound(project: Project, body: list[ast.stmt], importer: str) -> dict[str, str]:
    """The ``.py`` modules that the imports in ``body`` bind whole to a name (``from lab import
    layers``, ``import lab.layers as layers``, ``import settings``): name -> module. ``import
    lab.layers`` binds ``lab``, which is not followed."""
    return {bound: path for path, _, bound in _resolved(project, body, importer) if bound}


def _resolved(
    project: Project, body: list[ast.stmt], importer: str
) -> list[tuple[str, tuple[str, ...], str | None]]:
    """(module, the names imported from it, the name it is bound to when imported whole)."""
    out: list[tuple[str, tuple[str, ...], str | None]] = []
    for node in imports_in(body):
        if isinstance(node, ast.ImportFrom):
            base = project.find_module("." * node.level + (node.module or ""), importer)
            if base is None:
                continue
            names: list[str] = []
            for alias in node.names:
                sub = project.submodule(base, alias.name) if alias.name != "*" else None
                if sub is not None:
                    out.append((sub, (), alias.asname or alias.name))
                else:
                    names.append(alias.name)
            if names:
                out.append((base, tuple(names), None))
        else:
            for alias in node.names:
                found = project.find_module(alias.name, importer)
                if found is not None:
                    plain = alias.asname is None and "." in alias.name
                    out.append((found, (), None if plain else alias.asname or alias.name))
    return [entry for entry in out if entry[0].endswith(".py")]


#: id(body) -> (the body, its imports): a module's body is asked about more than once
_IMPORTS_IN: dict[int, tuple[list[ast.stmt], list[ast.Import | ast.ImportFrom]]] = {}
_IMPORTS_KEPT = 64


def imports_in(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of ``body`` and of the statement lists nested in it (functions,
    classes, ``if``/``try``/``with`` blocks), in order; expressions are not walked."""
    found = _IMPORTS_IN.get(id(body))
    if found is not None and found[0] is body:
        return found[1]
    out = _imports_in(body)
    if len(_IMPORTS_IN) >= _IMPORTS_KEPT:
        _IMPORTS_IN.clear()
    _IMPORTS_IN[id(body)] = (body, out)
    return out


def _imports_in(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    out: list[ast.Import | ast.ImportFrom] = []
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out.append(stmt)
            continue
        nested: list[ast.stmt] = []
        for field in ("body", "orelse", "finalbody"):
            value = getattr(stmt, field, None)
            if isinstance(value, list):
                nested.extend(value)
        for handler in getattr(stmt, "handlers", ()):
            nested.extend(handler.body)
        for case in getattr(stmt, "cases", ()):
            nested.extend(case.body)
        stack.extend(reversed(nested))
    return out


def forget() -> None:
    """Forget the imports of past runs' modules."""
    _IMPORTS_IN.clear()
