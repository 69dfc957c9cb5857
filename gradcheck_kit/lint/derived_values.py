"""Values a caller computes from values it reads (:mod:`gradcheck_kit.lint.caller_values`), as
option strings are parsed in real code: ``args.hidden.split(",")``,
``list(map(int, s.split(",")))``, ``[int(x) for x in s.split(",")]``, and a name bound once to
one of those, then grown by ``layers.insert(0, in_dim)`` / ``layers.append(out_dim)`` before the
call. Read from the syntax tree, never run; anything else is unknown (None)."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any

from gradcheck_kit.lint.config_files import DataFile

#: conversions applied to each parsed element (argparse's ``type=`` callables too)
TYPES: dict[str, Callable[[Any], Any]] = {"int": int, "float": float, "str": str}
#: the most elements a derived list may have
MAX_ELEMENTS = 10_000

Read = Callable[[ast.expr, list[str], list[DataFile], int], "tuple[Any] | None"]


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


class Derivations:
    """Derived values of one caller module; ``read`` reads a value the caller gives directly
    (a literal, an option default, a config value), with the hops left."""

    def __init__(self, tree: ast.Module, read: Read) -> None:
        self.tree = tree
        self.read = read
        self.bindings: _Bindings | None = None  # made on the first name to follow

    def value(
        self, node: ast.expr, notes: list[str], files: list[DataFile], hops: int
    ) -> tuple[Any] | None:
        """A value computed from values this reader can read, as option strings are parsed:
        ``s.split(",")``, ``list(map(int, s.split(",")))``, ``[int(x) for x in s.split(",")]``,
        and a name bound once in the call's scope to one of those (then grown in place only by
        ``insert``/``append`` statements of literal-readable values before the call)."""
        if isinstance(node, ast.Name):
            return self._bound(node, notes, files, hops)
        if isinstance(node, ast.ListComp):
            return self._comprehension(node, notes, files, hops)
        if not isinstance(node, ast.Call) or node.keywords:
            return None
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "split" and len(node.args) <= 1:
            text = self.read(func.value, notes, files, hops)
            sep = self.read(node.args[0], notes, files, hops) if node.args else (None,)
            if text is None or sep is None or not isinstance(text[0], str):
                return None
            if not (sep[0] is None or (isinstance(sep[0], str) and sep[0])):
                return None
            parts = text[0].split(sep[0], MAX_ELEMENTS)
            return (parts,) if len(parts) <= MAX_ELEMENTS else None
        name = _name(func)
        if name in ("list", "tuple") and len(node.args) == 1:
            inner = self.read(node.args[0], notes, files, hops)
            if inner is None or not isinstance(inner[0], (list, tuple)):
                return None
            return (list(inner[0]) if name == "list" else tuple(inner[0]),)
        if name == "map" and len(node.args) == 2 and _name(node.args[0]) in TYPES:
            inner = self.read(node.args[1], notes, files, hops)
            if inner is None or not isinstance(inner[0], (list, tuple)):
                return None
            return _converted(TYPES[str(_name(node.args[0]))], inner[0])
        return None

    def _comprehension(
        self, node: ast.ListComp, notes: list[str], files: list[DataFile], hops: int
    ) -> tuple[Any] | None:
        """``[int(x) for x in s.split(",")]`` (one loop, no condition)."""
        if len(node.generators) != 1:
            return None
        (loop,) = node.generators
        if loop.ifs or loop.is_async or not isinstance(loop.target, ast.Name):
            return None
        var, elt = loop.target.id, node.elt
        if isinstance(elt, ast.Name) and elt.id == var:
            convert: Any = None
        elif (
            isinstance(elt, ast.Call)
            and _name(elt.func) in TYPES
            and len(elt.args) == 1
            and not elt.keywords
            and _name(elt.args[0]) == var
        ):
            convert = TYPES[str(_name(elt.func))]
        else:
            return None
        inner = self.read(loop.iter, notes, files, hops)
        if inner is None or not isinstance(inner[0], (list, tuple)):
            return None
        return (list(inner[0]),) if convert is None else _converted(convert, inner[0])

    def _bound(
        self, node: ast.Name, notes: list[str], files: list[DataFile], hops: int
    ) -> tuple[Any] | None:
        if self.bindings is None:
            self.bindings = _Bindings(self.tree)
        found = self.bindings.value(node)
        if found is None:
            return None
        value_node, grows = found
        value = self.read(value_node, notes, files, hops)
        if value is None or not grows:
            return value
        if not isinstance(value[0], list):
            return None
        grown = list(value[0])
        for method, args in grows:
            read = [self.read(a, notes, files, hops) for a in args]
            if any(r is None for r in read):
                return None
            if method == "append":
                grown.append(read[0][0])  # type: ignore[index]
            elif isinstance(read[0][0], int) and not isinstance(read[0][0], bool):  # type: ignore[index]
                grown.insert(read[0][0], read[1][0])  # type: ignore[index]
            else:
                return None
            if len(grown) > MAX_ELEMENTS:
                return None
        return (grown,)


#: how many derivations (a name, a split, a conversion) a value is followed through
MAX_HOPS = 6


def _converted(convert: Any, values: list[Any] | tuple[Any, ...]) -> tuple[Any] | None:
    """``map(int, values)``, or None where a value does not convert."""
    try:
        return ([convert(v) for v in values if not isinstance(v, (list, dict))],)
    except (TypeError, ValueError, OverflowError):
        return None


class _Bindings:
    """Names bound once in their scope (a function, or the module outside functions), with the
    value bound and the ``name.insert(i, v)`` / ``name.append(v)`` statements that follow the
    binding in the same block. A name stored again, changed in any other way, or grown inside
    another block is not followed."""

    def __init__(self, tree: ast.Module) -> None:
        #: id of a name read -> its scope (the only nodes :meth:`value` is asked about)
        self.scope_of: dict[int, int] = {}
        stores: dict[tuple[int, str], int] = {}
        self.values: dict[tuple[int, str], tuple[ast.expr, list[ast.stmt], int]] = {}
        grows: dict[tuple[int, str], list[ast.stmt]] = {}
        spoiled: set[tuple[int, str]] = set()
        stack: list[tuple[ast.AST, int]] = [(tree, id(tree))]
        children = ast.iter_child_nodes
        while stack:  # the whole module: the hot loop of a caller's derivations
            node, scope = stack.pop()
            kind = type(node)
            if kind is ast.Name:
                if type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                    self.scope_of[id(node)] = scope
                else:
                    key = (scope, node.id)  # type: ignore[attr-defined]
                    stores[key] = stores.get(key, 0) + 1
                continue  # its only child is its context
            if kind is ast.Constant:
                continue
            inner = scope
            if kind in _FUNCTIONS:
                inner = id(node)
                for arg in ast.walk(node.args):  # type: ignore[attr-defined]
                    if isinstance(arg, ast.arg):
                        stores[(inner, arg.arg)] = 2  # a parameter: whatever a call passes
            elif kind is ast.AugAssign and type(node.target) is ast.Name:  # type: ignore[attr-defined]
                stores[(scope, node.target.id)] = 2  # type: ignore[attr-defined]
            elif kind is ast.Subscript or kind is ast.Attribute:
                if type(node.ctx) is not ast.Load and type(node.value) is ast.Name:  # type: ignore[attr-defined]
                    spoiled.add((scope, node.value.id))  # type: ignore[attr-defined]
            elif kind is ast.Call:
                func = node.func  # type: ignore[attr-defined]
                owner = func.value if type(func) is ast.Attribute else None
                if type(owner) is ast.Name and func.attr not in _READERS:
                    spoiled.add((scope, owner.id))
            if isinstance(node, _BLOCKS):
                for field in ("body", "orelse", "finalbody"):
                    block = getattr(node, field, None)
                    if isinstance(block, list):
                        self._block(block, inner, grows)
            stack.extend((child, inner) for child in children(node))
        self.grows: dict[tuple[int, str], list[ast.stmt]] = grows
        for key in list(self.values):
            if stores.get(key) != 1:
                del self.values[key]
        self.spoiled = spoiled

    def _block(
        self, block: list[ast.stmt], inner: int, grows: dict[tuple[int, str], list[ast.stmt]]
    ) -> None:
        for index, stmt in enumerate(block):
            if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                target = stmt.targets[0]
                if isinstance(target, ast.Name):
                    self.values[(inner, target.id)] = (stmt.value, block, index)
                for name, part in _unpacked(target, stmt.value):
                    self.values[(inner, name)] = (part, block, index)
            elif (grow := _grows(stmt)) is not None:
                grows.setdefault((inner, grow[0]), []).append(stmt)

    def value(self, node: ast.Name) -> tuple[ast.expr, list[tuple[str, list[ast.expr]]]] | None:
        scope = self.scope_of.get(id(node))
        if scope is None:
            return None
        key = (scope, node.id)
        found = self.values.get(key)
        if found is None:
            return None
        if key in self.spoiled:
            return None
        value, block, index = found
        statements = self.grows.get(key, [])
        ordered = [s for s in block[index + 1 :] if s in statements]
        if len(ordered) != len(statements) or any(s.lineno >= node.lineno for s in ordered):
            return None  # grown elsewhere (in a branch, a loop) or after the call
        grows: list[tuple[str, list[ast.expr]]] = []
        for stmt in ordered:
            found_grow = _grows(stmt)
            assert found_grow is not None
            grows.append((found_grow[1], found_grow[2]))
        return value, grows


_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
#: the nodes with blocks of statements (``body``, ``orelse``, ``finalbody``)
_BLOCKS = (ast.stmt, ast.Module, ast.excepthandler, ast.match_case)

#: methods that read a list without changing it, or that :class:`_Bindings` follows
_READERS = frozenset({"insert", "append", "index", "count", "copy", "split", "strip", "get"})


def _unpacked(target: ast.expr, value: ast.expr) -> list[tuple[str, ast.expr]]:
    """``a, b = x, y``: (name, its expression) pairs; ``a, b = f()``: (name, ``f()[i]``), for
    a function that returns a tuple (:mod:`imported_values` reads one); none for any other
    shape."""
    if isinstance(target, ast.Tuple) and isinstance(value, ast.Call) and not value.args:
        if all(isinstance(t, ast.Name) for t in target.elts) and not value.keywords:
            return [
                (t.id, ast.copy_location(ast.Subscript(value, ast.Constant(i), ast.Load()), t))
                for i, t in enumerate(target.elts)
                if isinstance(t, ast.Name)
            ]
        return []
    if not (isinstance(target, ast.Tuple | ast.List) and isinstance(value, ast.Tuple | ast.List)):
        return []
    if len(target.elts) != len(value.elts):
        return []
    if not all(isinstance(t, ast.Name) for t in target.elts):
        return []
    if any(isinstance(v, ast.Starred) for v in value.elts):
        return []
    return [(t.id, v) for t, v in zip(target.elts, value.elts, strict=True)]  # type: ignore[attr-defined]


def _grows(stmt: ast.stmt) -> tuple[str, str, list[ast.expr]] | None:
    """(the list's name, ``insert``/``append``, the arguments) of ``name.insert(0, v)``."""
    if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call)):
        return None
    call = stmt.value
    func = call.func
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name)):
        return None
    wanted = {"insert": 2, "append": 1}.get(func.attr)
    if wanted is None or len(call.args) != wanted or call.keywords:
        return None
    if any(isinstance(a, ast.Starred) for a in call.args):
        return None
    return func.value.id, func.attr, list(call.args)


__all__ = ["MAX_HOPS", "TYPES", "Derivations"]
