"""Whether a user module class (or a plain function, a lambda) is a saturating activation, read
from what its forward computes:
``1 / (1 + torch.exp(-x))`` is a sigmoid and ``(e^x - e^-x) / (e^x + e^-x)`` or
``2 * torch.sigmoid(2 * x) - 1`` a tanh, whatever the class is called.

The forward must be straight-line code of its input alone (local names bound once, then one
``return``), built only from arithmetic, constants and a few elementwise functions (``exp``,
``sigmoid``, ``tanh``, ``abs``, ``sqrt``...). It is then *evaluated* at fixed sample points and
compared with sigmoid, tanh and softsign: the same function, not a lookalike. ``x *
torch.sigmoid(x)`` (SiLU), ``log(1 + exp(x))`` (softplus) compute other functions and are not
saturating; a forward that calls anything else (``x.clamp``, ``torch.sin``, a submodule, a
parameter) is not decided here: it is interpreted as any other forward.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.syntax import full_name
from gradcheck_kit.lint.interp.values import ClassInfo


class _Unreadable(Exception):
    """The forward uses something this evaluator does not model."""


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


#: one-argument functions (the last part of the called name, or a tensor method's name)
_UNARY: dict[str, Callable[[float], float]] = {
    "exp": math.exp,
    "sigmoid": _sigmoid,
    "expit": _sigmoid,
    "tanh": math.tanh,
    "abs": abs,
    "absolute": abs,
    "neg": lambda x: -x,
    "negative": lambda x: -x,
    "reciprocal": lambda x: 1.0 / x,
    "square": lambda x: x * x,
    "sqrt": math.sqrt,
    "rsqrt": lambda x: 1.0 / math.sqrt(x),
}
#: two-argument functions (``torch.add(a, b)``, ``a.mul(b)``)
_BINARY: dict[str, Callable[[float, float], float]] = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "subtract": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "multiply": lambda a, b: a * b,
    "div": lambda a, b: a / b,
    "divide": lambda a, b: a / b,
    "true_divide": lambda a, b: a / b,
    "pow": lambda a, b: a**b,
}
_OPERATORS: dict[type[ast.operator], Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
#: named constants (the whole dotted name)
_CONSTANTS = {"math.e": math.e, "np.e": math.e, "numpy.e": math.e}

#: the functions a forward is compared with
_TARGETS: tuple[tuple[catalog.Saturating, Callable[[float], float]], ...] = (
    (catalog.SIGMOID, _sigmoid),
    (catalog.TANH, math.tanh),
    (catalog.SOFTSIGN, lambda x: x / (1.0 + abs(x))),
)
#: where the forward is evaluated: both tails and the bend around zero (asymmetric, so an odd or
#: even lookalike cannot match by symmetry alone)
_SAMPLES = (-9.0, -4.5, -2.2, -1.3, -0.4, 0.0, 0.25, 0.9, 1.7, 3.1, 6.0, 11.0)


def saturating_kind(info: ClassInfo) -> catalog.Saturating | None:
    """The saturating activation the class's own ``forward`` computes, or None when it computes
    another function or anything this module does not read (see the module docstring)."""
    method = info.methods.get(catalog.MODULE_FORWARD)
    if method is None or isinstance(method, ast.AsyncFunctionDef):
        return None
    return _computed(method, 1)


def saturating_function(func: ast.AST) -> catalog.Saturating | None:
    """The same for a plain function of one argument or a lambda (``def squash(x): return 1 /
    (1 + torch.exp(-x))``, ``act=lambda x: ...``)."""
    if not isinstance(func, (ast.FunctionDef, ast.Lambda)):
        return None
    return _computed(func, 0)


def _computed(func: ast.FunctionDef | ast.Lambda, position: int) -> catalog.Saturating | None:
    """The saturating activation ``func`` computes of its parameter at ``position``."""
    try:
        expression, variable = _expression(func, position)
        values = [_evaluate(expression, variable, x) for x in _SAMPLES]
    except (_Unreadable, ArithmeticError, ValueError, RecursionError):
        return None
    for act, target in _TARGETS:
        if all(
            math.isclose(v, target(x), rel_tol=1e-9, abs_tol=1e-12)
            for x, v in zip(_SAMPLES, values, strict=True)
        ):
            return act
    return None


def _expression(func: ast.FunctionDef | ast.Lambda, position: int) -> tuple[ast.expr, str]:
    """The returned expression with the local names it reads substituted, and the input's name
    (the parameter at ``position``: 1 after a method's ``self``)."""
    params = func.args
    positional = [*params.posonlyargs, *params.args]
    if (
        len(positional) != position + 1
        or params.vararg
        or params.kwarg
        or params.kwonlyargs
        or params.defaults
    ):
        raise _Unreadable
    variable = positional[position].arg
    if isinstance(func, ast.Lambda):
        return func.body, variable
    bound: dict[str, ast.expr] = {}
    body = func.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]  # the docstring
    for stmt in body[:-1]:
        if (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            bound[stmt.targets[0].id] = _substitute(stmt.value, bound)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            name = stmt.target.id
            current: ast.expr = bound.get(name, ast.Name(name, ast.Load()))
            bound[name] = ast.BinOp(current, stmt.op, _substitute(stmt.value, bound))
        else:
            raise _Unreadable
    if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
        raise _Unreadable
    return _substitute(body[-1].value, bound), variable


def _substitute(node: ast.expr, bound: dict[str, ast.expr]) -> ast.expr:
    if isinstance(node, ast.Name) and node.id in bound:
        return bound[node.id]
    node = _copy(node)
    for name, value in ast.iter_fields(node):
        if isinstance(value, ast.expr):
            setattr(node, name, _substitute(value, bound))
        elif isinstance(value, list):
            setattr(
                node,
                name,
                [_substitute(v, bound) if isinstance(v, ast.expr) else v for v in value],
            )
    return node


def _copy(node: ast.expr) -> ast.expr:
    fields = {name: getattr(node, name) for name in node._fields if hasattr(node, name)}
    return type(node)(**fields)


def _evaluate(node: ast.expr, variable: str, x: float) -> float:
    if isinstance(node, ast.Name):
        if node.id == variable:
            return x
        raise _Unreadable
    if isinstance(node, ast.Constant):
        if isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
            return float(node.value)
        raise _Unreadable
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, variable, x)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        operator = _OPERATORS.get(type(node.op))
        if operator is None:
            raise _Unreadable
        left = _evaluate(node.left, variable, x)
        right = _evaluate(node.right, variable, x)
        result = operator(left, right)
        if isinstance(result, complex):
            raise _Unreadable
        return float(result)
    if isinstance(node, ast.Attribute):
        name = full_name(node)
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        raise _Unreadable
    if isinstance(node, ast.Call) and not node.keywords:
        return _call(node, variable, x)
    raise _Unreadable


def _call(node: ast.Call, variable: str, x: float) -> float:
    func = node.func
    if not isinstance(func, ast.Attribute):
        raise _Unreadable  # a bare name may be anything the module defines
    name = func.attr
    dotted = full_name(func)
    if dotted is not None and isinstance(func.value, (ast.Name, ast.Attribute)):
        # a module's function (``torch.exp(x)``, ``F.sigmoid(x)``, ``np.exp(x)``) or a method of
        # the input (``x.exp()``): the receiver's name tells them apart
        receiver = full_name(func.value)
        if receiver != variable:
            args = [_evaluate(a, variable, x) for a in node.args]
            return _apply(name, args)
    receiver_value = _evaluate(func.value, variable, x)  # a method of a tensor expression
    args = [receiver_value, *(_evaluate(a, variable, x) for a in node.args)]
    return _apply(name, args)


def _apply(name: str, args: list[float]) -> float:
    if len(args) == 1 and name in _UNARY:
        return float(_UNARY[name](args[0]))
    if len(args) == 2 and name in _BINARY:
        result = _BINARY[name](args[0], args[1])
        if isinstance(result, complex):
            raise _Unreadable
        return float(result)
    raise _Unreadable


__all__ = ["saturating_function", "saturating_kind"]
