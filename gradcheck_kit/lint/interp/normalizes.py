"""What a user module class's own methods compute, read from their syntax: whether it
normalizes (it is one operation that subtracts a mean and divides by a spread:
``(x - mean) / torch.sqrt(var + eps)``, ``(x - mu) * torch.rsqrt(var + eps)``, or calls a
functional normalization; ``x / x.std()`` or ``x / x.norm()`` alone are not), and whether it
computes any statistic at all.

A class is then decided by what its forward does, not by its name: ``Standardize`` that divides
by a spread is a normalization; a ``LayerNorm`` whose forward only scales its input is not. A
class named like a normalization whose methods compute anything statistic-like (a mean, a
variance, a call of a submodule named ``norm``...) keeps the name's verdict: what the linter
cannot read does not overturn it.
"""

from __future__ import annotations

import ast

from gradcheck_kit.lint.interp.syntax import full_name
from gradcheck_kit.lint.interp.values import ClassInfo

#: calls that divide by a spread of their input (the last part of the called name)
#: (not ``norm``: ``x / x.norm()`` projects onto a sphere, a lookalike that resets nothing)
SPREADS = frozenset({"std", "var", "sqrt", "rsqrt", "std_mean", "var_mean"})
#: calls that compute the mean subtracted
MEANS = frozenset({"mean", "std_mean", "var_mean"})
#: calls that make a class more than one operation (its forward is then interpreted)
_LAYERS = frozenset({"tanh", "sigmoid", "softsign", "hardtanh", "hardsigmoid", "softmax", "linear"})
#: functional normalizations (the last part of the called name)
FUNCTIONAL = frozenset(
    {
        "layer_norm",
        "batch_norm",
        "group_norm",
        "instance_norm",
        "rms_norm",
        "normalize",
        "local_response_norm",
    }
)
#: words that, in any name a method calls or reads, say it may compute a statistic
STATISTIC_WORDS = ("mean", "var", "std", "norm", "sqrt", "stat", "moment", "running")


def _called(node: ast.AST) -> str:
    if isinstance(node, ast.Call):
        name = full_name(node.func) if isinstance(node.func, (ast.Name, ast.Attribute)) else None
        return (name or "").rsplit(".", 1)[-1]
    return ""


def _methods(info: ClassInfo) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    return [m for name, m in info.methods.items() if name != "__init__"]


def _leaf(info: ClassInfo) -> bool:
    """Whether the class is one operation: its methods apply no submodule (``self.fc(x)``) and
    no saturating or affine function."""
    for method in _methods(info):
        for node in ast.walk(method):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            if (
                isinstance(func, ast.Attribute)
                and isinstance(func.value, ast.Name)
                and func.value.id == "self"
            ):
                return False
            if _called(node) in _LAYERS:
                return False
    return True


def normalizes(info: ClassInfo) -> bool:
    """Whether the class is one operation (no submodule applied, no saturating or affine
    function) that subtracts a mean and divides by a spread (or multiplies by a reciprocal
    square root), or calls a functional normalization."""
    if not _leaf(info):
        return False
    for method in _methods(info):
        if any(_called(node) in FUNCTIONAL for node in ast.walk(method)):
            return True
        spread_names = _bound_to(method, SPREADS)
        mean_names = _bound_to(method, MEANS)
        centred = scaled = False
        for node in ast.walk(method):
            if not isinstance(node, ast.BinOp):
                continue
            if isinstance(node.op, ast.Sub) and _has(node.right, MEANS, mean_names):
                centred = True
            if isinstance(node.op, ast.Div) and _has(node.right, SPREADS, spread_names):
                scaled = True
            if isinstance(node.op, ast.Mult) and any(
                _called(side) == "rsqrt" or (isinstance(side, ast.Name) and side.id in spread_names)
                for side in (node.left, node.right)
            ):
                scaled = True
        if centred and scaled:
            return True
    return False


def _bound_to(method: ast.AST, calls: frozenset[str]) -> set[str]:
    """Names bound (directly or through another such name) to an expression calling one of
    ``calls``: ``var = x.var(0); std = torch.sqrt(var + eps)``."""
    names: set[str] = set()
    for _ in range(2):
        for stmt in ast.walk(method):
            if isinstance(stmt, ast.Assign) and _has(stmt.value, calls, names):
                for target in stmt.targets:
                    names.update(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return names


def _has(node: ast.AST, calls: frozenset[str], names: set[str]) -> bool:
    return any(
        _called(sub) in calls or (isinstance(sub, ast.Name) and sub.id in names)
        for sub in ast.walk(node)
    )


def computes_statistics(info: ClassInfo) -> bool:
    """Whether any name the class's own methods call or read says it may compute a statistic
    (see :data:`STATISTIC_WORDS`)."""
    for method in _methods(info):
        for node in ast.walk(method):
            if isinstance(node, ast.Attribute):
                word = node.attr.lower()
            elif isinstance(node, ast.Name):
                word = node.id.lower()
            else:
                continue
            if any(w in word for w in STATISTIC_WORDS):
                return True
    return False


__all__ = ["computes_statistics", "normalizes"]
