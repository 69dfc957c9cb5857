"""Which names a module binds to a class defined in another file of the project: imported
(under an alias too), through a package's re-exports and star imports, as an attribute of an
imported module (``nets.SigmoidMLP``), or through a package that loads a backend submodule by a
computed name. Read from import statements and the call index, a few hops deep; nothing runs.
"""

from __future__ import annotations

import ast
import os

from gradcheck_kit.lint import callindex
from gradcheck_kit.lint.interp.syntax import dotted_name
from gradcheck_kit.lint.project import LoadedModule, Project, stem

#: How many import hops a re-export may take (``pkg/__init__`` -> ``pkg/models`` -> file).
HOPS = 4


def calls_name(func: ast.expr, direct: set[str], modules: set[str], name: str) -> bool:
    """Whether ``func`` names the class: a bound name, or ``module.Class`` where ``module``
    (a name or a dotted chain) is bound to the class's module."""
    if isinstance(func, ast.Name):
        return func.id in direct
    if isinstance(func, ast.Attribute) and func.attr == name:
        return dotted_name(func.value) in modules
    return False


def bindings(
    project: Project,
    loaded: LoadedModule,
    name: str,
    home: str,
    imports: list[ast.Import | ast.ImportFrom],
) -> tuple[set[str], set[str]]:
    """In a caller module: the names bound to the class, and the (dotted) names bound to a
    module whose ``name`` is the class (``imports``: its import statements, if known)."""
    direct: set[str] = set()
    modules: set[str] = set()
    importer = loaded.file.path
    for node in imports:
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found = project.find_module(module, importer)
            for alias in node.names:
                if alias.name == "*":
                    if found is not None and defines(project, found, name, HOPS, home):
                        direct.add(name)
                    continue
                bound = alias.asname or alias.name
                if alias.name == name and found is not None:
                    if defines(project, found, name, HOPS, home):
                        direct.add(bound)
                elif found is not None:  # ``from pkg import models``: a submodule
                    sub = project.submodule(found, alias.name)
                    if sub is not None and defines(project, sub, name, HOPS, home):
                        modules.add(bound)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found = project.find_module(alias.name, importer)
                if found is None:
                    continue
                bound = alias.asname or alias.name
                if defines(project, found, name, HOPS, home):
                    modules.add(bound)
                elif found.endswith("__init__.py") and _within(home, found):
                    # ``import deepxde as dde`` then ``dde.nn.FNN(...)``: a subpackage
                    for sub in project.submodules(found):
                        if _within(home, sub) and defines(project, sub, name, HOPS, home):
                            modules.add(f"{bound}.{stem(sub)}")
    return direct, modules


def _within(home: str, module: str) -> bool:
    """Whether ``home`` is inside the package or module at ``module`` (its folder)."""
    folder = os.path.dirname(module) if module.endswith("__init__.py") else module
    return home == module or home.startswith(folder.rstrip(os.sep) + os.sep)


def defines(project: Project, path: str, name: str, hops: int, home: str) -> bool:
    """Whether the module at ``path`` is ``home`` (the file that defines ``name``), or
    re-exports its ``name`` (an import of it, or a star import of a module that does), within
    ``hops`` imports."""
    if path == home:
        return True
    if hops <= 0 or not path.endswith(".py"):
        return False
    if project.root is not None and not _may_rebind(callindex.index(project.root), path, name):
        return False  # its text imports no ``name``, star-imports nothing, loads nothing
    loaded = project.load(path)
    if loaded is None:
        return False
    for stmt in loaded.bindings.get(name, []):
        if isinstance(stmt, ast.ImportFrom):
            alias = next((a for a in stmt.names if (a.asname or a.name) == name), None)
            found = project.find_module("." * stmt.level + (stmt.module or ""), path)
            if (
                alias is not None
                and found is not None
                and defines(project, found, alias.name, hops - 1, home)
            ):
                return True
    for star in loaded.stars:
        found = project.find_module("." * star.level + (star.module or ""), path)
        if found is not None and defines(project, found, name, hops - 1, home):
            return True
    if loaded.dispatches and name not in loaded.bindings:  # a backend chosen at run time
        return any(defines(project, sub, name, hops - 1, home) for sub in project.dispatched(path))
    return False


def _may_rebind(index: callindex.CallIndex, path: str, name: str) -> bool:
    """Whether the module at ``path`` may re-export ``name`` as :func:`_defines` follows it, by
    its index entry (no parse): it imports the name, star-imports, or calls ``import_module``
    (a package choosing a backend); a file not in the index may."""
    entry = index.entries.get(path)
    if entry is None:
        return True
    marks = entry[4]
    return (
        f" ={name} " in marks
        or " * " in marks
        or " .import_module " in marks  # ``importlib.import_module(...)``
        or " =import_module " in marks  # ``from importlib import import_module``
    )
