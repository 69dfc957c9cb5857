"""Literals in a caller's code: whether an expression is one (``ast.literal_eval`` reads it),
a constant expression of literals folded (``[2] + [50] * 8 + [1]``), and a value written back
as the expression that spells it."""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import Any


def literal(node: ast.expr) -> bool:
    """Whether ``node`` is a Python literal (``ast.literal_eval`` reads it)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


#: The most elements a folded call-site argument may have (``[20] * 3`` folds; ``[0] * 10**9``
#: does not).
MAX_FOLDED = 10_000


def constant(node: ast.expr) -> tuple[Any] | None:
    """The value of a constant expression of literals as model code writes layer sizes
    (``[2] + [20] * 3 + [1]``, ``4 * [50]``, ``-1``, ``2 ** 8``): ``+``, ``-`` and ``*`` of
    numbers, strings, lists and tuples, within :data:`MAX_FOLDED` elements, ``**`` and ``//`` of
    integers (an exponent up to 64); None for anything else (a name, a call, another
    operator)."""
    if literal(node):
        return (ast.literal_eval(node),)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = constant(node.operand)
        if inner is None or not isinstance(inner[0], (int, float)) or isinstance(inner[0], bool):
            return None
        return (-inner[0] if isinstance(node.op, ast.USub) else inner[0],)
    ops = (ast.Add, ast.Sub, ast.Mult, ast.Pow, ast.FloorDiv)
    if not isinstance(node, ast.BinOp) or not isinstance(node.op, ops):
        return None
    left, right = constant(node.left), constant(node.right)
    if left is None or right is None:
        return None
    a, b = left[0], right[0]
    if isinstance(node.op, (ast.Pow, ast.FloorDiv)):  # ``2 ** 8``, ``256 // 4``: integers
        if not all(isinstance(v, int) and _number(v) for v in (a, b)):
            return None
        if isinstance(node.op, ast.FloorDiv):
            return (a // b,) if b else None
        return (a**b,) if 0 <= b <= 64 and abs(a) <= 2**16 else None
    sized = (str, list, tuple)
    if isinstance(node.op, ast.Mult) and isinstance(a, int) and isinstance(b, sized):
        a, b = b, a
    if isinstance(node.op, ast.Mult) and isinstance(a, sized):
        if not isinstance(b, int) or isinstance(b, bool) or len(a) * max(b, 0) > MAX_FOLDED:
            return None
    elif isinstance(a, sized) or isinstance(b, sized):
        if not (isinstance(node.op, ast.Add) and type(a) is type(b)):
            return None
        if len(a) + len(b) > MAX_FOLDED:  # type: ignore[arg-type]
            return None
    elif not all(_number(v) for v in (a, b)):
        return None
    try:
        if isinstance(node.op, ast.Add):
            return (a + b,)
        if isinstance(node.op, ast.Sub):
            return (a - b,)
        return (a * b,)
    except (TypeError, ValueError, OverflowError, MemoryError):
        return None


#: How an element of a caller's list that the linter cannot read is written in the list it
#: hands the class: a name no code binds, so the class's file reads it as unknown.
UNKNOWN_ELEMENT = "__gradcheck_unknown__"


def builds_list(node: ast.expr) -> bool:
    """A list or tuple display, or ``+``/``*`` that may build one (:func:`sized_list` reads it)."""
    return isinstance(node, (ast.List, ast.Tuple)) or (
        isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Mult))
    )


def sized_list(
    node: ast.expr, read: Callable[[ast.expr], ast.expr | None], whole: bool = False
) -> ast.List | None:
    """A list whose length is known though some of its elements are not: a list or tuple
    display, and ``+`` and ``*`` (by a readable int) of them, as layer sizes are written
    (``[data.shape[1]] + [50] * 8 + [1]``: ten sizes, the first unknown). ``read`` gives the
    literal of a part (or None). None where the length is not known, where every element is
    known unless ``whole`` (the caller's reader folds those), or past :data:`MAX_FOLDED`
    elements."""
    elements = _elements(node, read)
    if elements is None or (not whole and all(e is not None for e in elements)):
        return None
    holes = [
        e if e is not None else ast.copy_location(ast.Name(UNKNOWN_ELEMENT, ast.Load()), node)
        for e in elements
    ]
    return ast.copy_location(ast.List(holes, ast.Load()), node)


def _elements(
    node: ast.expr, read: Callable[[ast.expr], ast.expr | None]
) -> list[ast.expr | None] | None:
    if isinstance(node, (ast.List, ast.Tuple)):
        if any(isinstance(e, ast.Starred) for e in node.elts) or len(node.elts) > MAX_FOLDED:
            return None
        return [read(e) for e in node.elts]
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _elements(node.left, read), _elements(node.right, read)
        if left is None or right is None or len(left) + len(right) > MAX_FOLDED:
            return None
        return left + right
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for items, times in ((node.left, node.right), (node.right, node.left)):
            count = read(times)
            if not (isinstance(count, ast.Constant) and type(count.value) is int):
                continue
            inner = _elements(items, read)
            if inner is not None and len(inner) * max(count.value, 0) <= MAX_FOLDED:
                return inner * max(count.value, 0)
        return None
    if isinstance(node, ast.BinOp):
        return None  # another operator: not a list
    found = read(node)  # a name or attribute the caller binds to a list
    if isinstance(found, (ast.List, ast.Tuple)) and literal(found):
        return list(found.elts)
    return None


def _number(value: object) -> bool:
    """A number small enough to fold (an int of at most 64 bits, a float; not a bool)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and value.bit_length() <= 64)


def literal_node(value: Any, where: ast.expr) -> ast.expr:
    """``value`` (a literal: a number, a string, a list of them...) as the expression that
    writes it, at ``where``'s position; a value nested past Python's parser (a config file's)
    is written as an unknown name (:data:`UNKNOWN_ELEMENT`)."""
    try:
        node = ast.parse(repr(value), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # nested past the parser
        node = ast.Name(UNKNOWN_ELEMENT, ast.Load())  # a config's value: unknown, not an error
    for child in ast.walk(node):
        ast.copy_location(child, where)
    return node
