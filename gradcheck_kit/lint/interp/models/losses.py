"""What the interpreter knows about losses: which callables are losses, which apply a squashing
function to their input themselves (GCK005), and peeling a squashing call off a loss's
argument."""

from __future__ import annotations

import ast

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.values import ModuleVal, Ref, Unknown, Value
from gradcheck_kit.lint.sketch import Layer, Node, Repeat, Seq


def squash_applied_by(func: Value) -> str | None:
    if isinstance(func, Ref):
        return (
            catalog.LOGIT_LOSSES.get(func.qname.rsplit(".", 1)[-1])
            if func.qname.startswith(catalog.TORCH_NAMESPACE)
            else None
        )
    if isinstance(func, ModuleVal) and isinstance(func.node, Layer):
        return catalog.LOGIT_LOSSES.get(func.node.name)
    return None


def squash_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        name = expr.func.attr
        return "sigmoid" if name == "expit" else name
    return None


def tail_layer(path: tuple[Node, ...]) -> Layer | None:
    """The last layer a tensor went through, looking through containers and shape-only ops."""
    for node in reversed(path):
        while isinstance(node, (Seq, Repeat)):
            if isinstance(node, Repeat):
                node = node.body
            elif node.items:
                inner = tail_layer(node.items)
                if inner is None:
                    return None
                node = inner
            else:
                break
        if isinstance(node, Seq):
            continue  # empty
        if isinstance(node, Layer):
            if node.kind == "neutral":
                continue
            return node
        return None
    return None


def is_loss(func: Value) -> bool:
    if isinstance(func, Ref):
        short = func.qname.rsplit(".", 1)[-1]
        return short in catalog.LOSS_FUNCTIONS or short.endswith("_loss")
    if isinstance(func, ModuleVal) and isinstance(func.node, Layer):
        return func.node.name.endswith("Loss")
    if isinstance(func, Unknown) and func.symbol:
        last = func.symbol.rsplit(".", 1)[-1].lower()
        return "loss" in last or "criterion" in last
    return False


def unwrap_squash(expr: ast.expr) -> ast.expr:
    """``torch.sigmoid(z)``, ``F.softmax(z, 1)``, ``z.sigmoid()`` -> ``z``: the squashing
    belongs to the loss. Purely syntactic; peeling can only shorten a run, never lengthen it."""
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Attribute):
        return expr
    if expr.func.attr not in catalog.SQUASHING:
        return expr
    if expr.args:
        first = expr.args[0]
        return first.value if isinstance(first, ast.Starred) else first
    if expr.keywords:
        return expr.keywords[0].value
    return expr.func.value
