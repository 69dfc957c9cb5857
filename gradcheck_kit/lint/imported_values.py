"""Values a caller imports from another module of the project: a call site's argument that is a
name (``PINN(2, 1, 64, depth, act)`` after ``from parameters import depth, act``), a module's
attribute (``params.depth`` after ``import parameters as params``), or an item of an imported
dict literal (``DEFAULT_CONFIG["n_layers"]``), each read where it is bound: a module-level
``name = <literal>`` (or constant expression of literals), bound once there and never changed
(:attr:`LoadedModule.unsure`). The caller must not bind the name itself anywhere (a parameter,
an assignment, a loop variable): then which value a call sees depends on what runs. Anything
else is unknown. The note names the place (``depth = 8 at parameters.py:4``).
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from gradcheck_kit.lint.interp.syntax import walked
from gradcheck_kit.lint.project import LoadedModule, Project
from gradcheck_kit.lint.provenance import cite, node_place

#: How many re-exports (``from .settings import depth`` in an ``__init__``) are followed.
_HOPS = 3


class ImportedValues:
    """The module-level literals a caller module imports from the project."""

    def __init__(
        self,
        project: Project,
        loaded: LoadedModule,
        constant: Callable[[ast.expr], tuple[Any] | None],
        literal: Callable[[Any, ast.expr], ast.expr],
    ) -> None:
        self.project = project
        self.loaded = loaded
        self._constant = constant  # literals.constant: a folded constant expression
        self._literal = literal  # literals.literal_node: a value as an expression
        self._stored: set[str] | None = None

    def value(self, node: ast.expr, notes: list[str]) -> ast.expr | None:
        """The literal ``node`` reads from another project module (with a note), else None."""
        key: str | int | None = None
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Call)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, int)
        ):  # ``a, depth = params()``: the function's returned tuple, item by item
            return self._returned(node.value, node.slice.value, node, notes)
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
            key = node.slice.value if isinstance(node.slice.value, (str, int)) else None
            if key is None:
                return None
            node = node.value
        found = self._binding(node)
        if found is None:
            return None
        module, name = found
        read = self._read(module, name, _HOPS)
        if read is None:
            return None
        value, where, stmt = read
        label = f"{name} = {value!r}"
        if key is not None:
            if not isinstance(value, dict) or key not in value:
                return None
            value, label = value[key], f"{name}[{key!r}] = {value[key]!r}"
        place = node_place(where.file.path, stmt, label)
        display = self.project.display(where.file.path)
        notes.append(cite(f"{label} at {display}:{stmt.lineno}", place=place))
        return self._literal(value, node)

    def _returned(
        self, call: ast.Call, index: int, node: ast.expr, notes: list[str]
    ) -> ast.expr | None:
        """Item ``index`` of what an imported function with no parameters returns, when it ends
        in its only ``return``, of a tuple of literals or of that module's literal names (not
        bound in the function)."""
        if call.args or call.keywords:
            return None
        found = self._binding(call.func)
        if found is None:
            return None
        module, name = found
        statements = module.bindings.get(name, [])
        if len(statements) != 1 or name in module.unsure:
            return None
        function = statements[0]
        if (
            not isinstance(function, ast.FunctionDef)
            or function.args.args
            or function.decorator_list
        ):
            return None
        last = function.body[-1]
        if not isinstance(last, ast.Return) or any(
            isinstance(n, ast.Return) and n is not last for n in ast.walk(function)
        ):
            return None  # one way out, at the end (what runs before it: prints, seeding)
        local = {
            n.id
            for n in ast.walk(function)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        } | {name for n in ast.walk(function) if isinstance(n, ast.Global) for name in n.names}
        returned = last.value
        if not isinstance(returned, ast.Tuple) or not 0 <= index < len(returned.elts):
            return None
        item = returned.elts[index]
        stmt: ast.stmt
        folded = self._constant(item)
        if folded is not None:
            value, stmt, where, label = folded[0], last, module, f"{name}()[{index}]"
        elif isinstance(item, ast.Name) and item.id not in local:
            read = self._read(module, item.id, _HOPS)
            if read is None:
                return None
            value, where, stmt = read
            label = item.id
        else:
            return None
        label = f"{label} = {value!r}"
        display = self.project.display(where.file.path)
        place = node_place(where.file.path, stmt, f"{label} (returned by {name}())")
        notes.append(
            cite(f"{label} at {display}:{stmt.lineno} (returned by {name}())", place=place)
        )
        return self._literal(value, node)

    def _binding(self, node: ast.expr, current: bool = False) -> tuple[LoadedModule, str] | None:
        """(the module, the name in it) that ``node`` names: an imported name, or an attribute
        of an imported project module; with ``current``, the file being linted counts as one
        (its values are the interpreter's to read, its functions a caller may call)."""
        if isinstance(node, ast.Name):
            if node.id in self._stores():
                return None
            statements = self.loaded.bindings.get(node.id, [])
            if len(statements) != 1 or not isinstance(statements[0], ast.ImportFrom):
                return None
            stmt = statements[0]
            alias = next((a for a in stmt.names if (a.asname or a.name) == node.id), None)
            module = self._module(stmt, self.loaded, current)
            return (module, alias.name) if alias is not None and module is not None else None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            owner = node.value.id
            if owner in self._stores():
                return None
            statements = self.loaded.bindings.get(owner, [])
            if len(statements) != 1 or not isinstance(statements[0], ast.Import):
                return None
            alias = next(
                (a for a in statements[0].names if a.asname == owner or a.name == owner), None
            )
            if alias is None:
                return None
            path = self.project.find_module(alias.name, self.loaded.file.path)
            module = self._load(path, current) if path is not None else None
            return (module, node.attr) if module is not None else None
        return None

    def defined(self, node: ast.expr) -> tuple[LoadedModule, ast.stmt] | None:
        """The one top-level statement that defines what ``node`` names (``f``, ``m.f``): in
        the caller, or imported from the project (the file being linted included)."""
        if isinstance(node, ast.Name):
            statements = self.loaded.bindings.get(node.id, [])
            if len(statements) == 1 and isinstance(statements[0], (ast.ClassDef, ast.FunctionDef)):
                return self.loaded, statements[0]
        found = self._binding(node, current=True)
        if found is None:
            return None
        module, name = found
        statements = module.bindings.get(name, [])
        return (module, statements[0]) if len(statements) == 1 else None

    def _module(
        self, stmt: ast.ImportFrom, importer: LoadedModule, current: bool = False
    ) -> LoadedModule | None:
        path = self.project.find_module("." * stmt.level + (stmt.module or ""), importer.file.path)
        if path is not None and not path.endswith(".py"):  # a namespace folder
            return None
        return self._load(path, current) if path is not None else None

    def _load(self, path: str, current: bool) -> LoadedModule | None:
        if current and path == self.project.current.path:
            return self.project.own
        return self.project.load(path)

    def _read(
        self, module: LoadedModule, name: str, hops: int
    ) -> tuple[Any, LoadedModule, ast.stmt] | None:
        """The literal ``module`` binds ``name`` to, where, and the statement; None if any."""
        if name in module.unsure:
            return None
        statements = module.bindings.get(name, [])
        if len(statements) != 1:
            return None
        stmt = statements[0]
        if isinstance(stmt, ast.ImportFrom) and hops > 0:  # a re-export
            alias = next((a for a in stmt.names if (a.asname or a.name) == name), None)
            source = self._module(stmt, module)
            if alias is None or source is None:
                return None
            return self._read(source, alias.name, hops - 1)
        value: ast.expr | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            if isinstance(stmt.targets[0], ast.Name):
                value = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            value = stmt.value
        if value is None:
            return None
        folded = self._constant(value)
        return (folded[0], module, stmt) if folded is not None else None

    def _stores(self) -> set[str]:
        """Every name the caller binds other than by an import: it may shadow the import."""
        if self._stored is None:
            stored: set[str] = set()
            for node in walked(self.loaded.tree):
                if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                    stored.add(node.id)
                elif isinstance(node, ast.arg):
                    stored.add(node.arg)
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    stored.add(node.name)
            self._stored = stored
        return self._stored


__all__ = ["ImportedValues"]
