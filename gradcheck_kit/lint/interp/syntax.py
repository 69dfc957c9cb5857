"""Helpers on the stdlib syntax tree the machine reads: names bound or used by an expression,
subscripts indexed by a loop variable, a call's arguments in binding order, an attribute chain's
dotted name.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Sequence


def target_names(target: ast.expr) -> frozenset[str]:
    return frozenset(n.id for n in walk_names(target))


def walk_names(node: ast.AST) -> Iterator[ast.Name]:
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name):
            yield current
        elif isinstance(current, ast.Attribute):
            stack.append(current.value)  # ``self.h``: only the base is a name
        else:
            stack.extend(ast.iter_child_nodes(current))


def names_in(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in walk_names(node))


def subscripts_by(node: ast.AST, names: frozenset[str]) -> Iterator[ast.Subscript]:
    """Subscripts in ``node`` whose index uses a loop variable (``x[:, t]``)."""
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Subscript) and names_in(current.slice) & names:
            yield current
        stack.extend(ast.iter_child_nodes(current))


def full_name(node: ast.AST) -> str | None:
    """``torch.nn.functional.softmax`` for an attribute chain (a call: its function)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = full_name(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    if isinstance(node, (ast.Call, ast.Subscript)):
        return full_name(node.func if isinstance(node, ast.Call) else node.value)
    return None


def dotted_name(node: ast.expr) -> str | None:
    """``torch.nn.functional.tanh`` for a chain of names and attributes only (unlike
    :func:`full_name`, None for anything that calls or indexes on the way)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        head = dotted_name(node.value)
        return None if head is None else f"{head}.{node.attr}"
    return None


def arguments_of(call: ast.Call) -> Iterator[tuple[ast.expr, str, str | None]]:
    """(expression, star, keyword) for each argument of ``call``: star is ``"*"``, ``"**"`` or
    ``""``; positional arguments come first, as Python binds them."""
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            yield arg.value, "*", None
        else:
            yield arg, "", None
    for keyword in call.keywords:
        yield keyword.value, "**" if keyword.arg is None else "", keyword.arg


def call_operand(call: ast.Call, tensor: object, args: Sequence[object]) -> ast.expr | None:
    """The argument written for ``tensor`` in a functional call (``torch.sigmoid(x)``,
    ``F.softmax(input=x, dim=1)``), or None when it cannot be told."""
    if call.args and args and args[0] is tensor:
        first = call.args[0]
        return None if isinstance(first, ast.Starred) else first
    if not call.args:
        return next((k.value for k in call.keywords if k.arg == "input"), None)
    return None


def single_operand(call: ast.Call | None) -> ast.expr | None:
    """``x`` in ``self.act(x)``: a module called with one plain positional argument."""
    if call is None or call.keywords or len(call.args) != 1:
        return None
    return None if isinstance(call.args[0], ast.Starred) else call.args[0]


#: id(tree) -> (the tree, its nodes in ``ast.walk`` order): at most :data:`_WALKS_KEPT` trees
_WALKED: dict[int, tuple[ast.AST, list[ast.AST]]] = {}
_WALKS_KEPT = 64


def walked(tree: ast.AST) -> list[ast.AST]:
    """``list(ast.walk(tree))``, made once per tree: a module read for its callers' values, its
    config reads, its imported values and its call outline is walked once, not once by each
    (iterating a list is ~20x faster than ``ast.walk``'s generator)."""
    found = _WALKED.get(id(tree))
    if found is not None and found[0] is tree:
        return found[1]
    nodes = list(ast.walk(tree))
    if len(_WALKED) >= _WALKS_KEPT:
        _WALKED.clear()
    _WALKED[id(tree)] = (tree, nodes)
    return nodes
