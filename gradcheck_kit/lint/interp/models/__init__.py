"""How the interpreter runs a call to a known callable: one registered function per callable
(or per family of callables that behave alike), reading :mod:`gradcheck_kit.catalog` for data.

A call flows so: the machine evaluates ``f(args)``; when ``f`` is a qualified name from an import
(``torch.nn.Sequential``), it looks the name up in :data:`MODELS` - one dict get - and runs the
model, which returns the call's abstract value or ``None`` ("not my case"), then
:func:`~gradcheck_kit.lint.interp.models.generic.unmodelled_call` decides (a torch callable the
catalog does not describe keeps the tensor's path; anything else is unknown). A method called on
a tensor (``x.softmax(1)``) is looked up in :data:`TENSOR_METHODS` the same way.

Adding a callable: a function decorated with ``@model("torch.nn.Something")`` in the module of
its family, and its names in the catalog.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from gradcheck_kit.lint.interp.values import Data, Value

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.frames import Frame
    from gradcheck_kit.lint.interp.machine import Machine

#: (machine, qualified name, positional args, keyword args, call node, frame) -> the call's
#: value, or None: the generic rule decides.
Model = Callable[["Machine", str, list[Value], dict[str, Value], ast.Call, "Frame"], "Value | None"]
#: (machine, the tensor, method name, args, call node) -> the call's value.
TensorMethod = Callable[["Machine", Data, str, list[Value], ast.Call], Value]

MODELS: dict[str, Model] = {}
TENSOR_METHODS: dict[str, TensorMethod] = {}


def model(*names: str | Iterable[str]) -> Callable[[Model], Model]:
    """Register the decorated function for these qualified names (strings or collections)."""

    def register(fn: Model) -> Model:
        for group in names:
            for name in (group,) if isinstance(group, str) else group:
                if name in MODELS:
                    raise ValueError(f"{name} has two models")
                MODELS[name] = fn
        return fn

    return register


def tensor_method(*names: str | Iterable[str]) -> Callable[[TensorMethod], TensorMethod]:
    """Register the decorated function for these tensor method names."""

    def register(fn: TensorMethod) -> TensorMethod:
        for group in names:
            for name in (group,) if isinstance(group, str) else group:
                if name in TENSOR_METHODS:
                    raise ValueError(f"tensor method {name} has two models")
                TENSOR_METHODS[name] = fn
        return fn

    return register


# The families register themselves on import.
from gradcheck_kit.lint.interp.models import (  # noqa: E402
    containers,
    init,
    layers,
    tensors,
)

__all__ = [
    "MODELS",
    "TENSOR_METHODS",
    "Model",
    "TensorMethod",
    "containers",
    "init",
    "layers",
    "model",
    "tensor_method",
    "tensors",
]
