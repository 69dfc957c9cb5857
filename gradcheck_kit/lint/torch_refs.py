"""A call site's argument that names a torch callable (``MLP(sizes, activation=nn.Tanh)``,
``act=torch.nn.Sigmoid()``, ``torch.tanh``, ``F.sigmoid``): the qualified name it has through
the caller's own imports (``import torch.nn as nn``, ``from torch import nn``, ``from torch.nn
import Tanh``), handed to the model file's interpreter as a :class:`TorchRef` node, so the
model's ``activation()`` builds that layer whatever the model file itself imports.

Only torch's names are read this way (the interpreter knows them); a call of one is kept with
literal arguments only (``nn.LeakyReLU(0.2)``). Anything else is not a reference.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from gradcheck_kit.lint.interp.syntax import dotted_name
from gradcheck_kit.lint.project import LoadedModule

#: The package whose names a reference may have.
_TORCH = "torch"


class TorchRef(ast.expr):
    """A torch callable named at a call site in another file, by its qualified name."""

    _fields = ("qname",)

    def __init__(self, qname: str) -> None:
        super().__init__()
        self.qname = qname


def torch_reference(
    node: ast.expr, loaded: LoadedModule, literal: Callable[[ast.expr], bool]
) -> ast.expr | None:
    """``node`` as a :class:`TorchRef` (or a call of one with literal arguments), read through
    the imports of the caller ``loaded``; None when it is not one. ``literal``: whether an
    argument is a literal."""
    if isinstance(node, ast.Call):
        func = torch_reference(node.func, loaded, literal)
        if not isinstance(func, TorchRef):
            return None
        if not all(literal(a) for a in node.args) or not all(
            k.arg and literal(k.value) for k in node.keywords
        ):
            return None
        return ast.copy_location(ast.Call(func, list(node.args), list(node.keywords)), node)
    dotted = dotted_name(node)
    if dotted is None:
        return None
    head, _, rest = dotted.partition(".")
    statements = loaded.bindings.get(head, [])
    if len(statements) != 1 or head in loaded.unsure:
        return None
    stmt = statements[0]
    base: str | None = None
    if isinstance(stmt, ast.Import):
        for alias in stmt.names:
            if alias.asname == head:
                base = alias.name
            elif alias.asname is None and alias.name.split(".")[0] == head:
                base = head  # ``import torch.nn``: the name bound is ``torch``
    elif isinstance(stmt, ast.ImportFrom) and not stmt.level and stmt.module:
        for alias in stmt.names:
            if (alias.asname or alias.name) == head:
                base = f"{stmt.module}.{alias.name}"
    if base is None or base.split(".")[0] != _TORCH:
        return None
    return ast.copy_location(TorchRef(f"{base}.{rest}" if rest else base), node)


__all__ = ["TorchRef", "torch_reference"]
