"""What a call to a callable with no model does: a torch class is a neutral module (affine if
the catalog says so), a torch function keeps its tensor argument's path (a loss or softmax aside),
anything else keeps the path too, or is unknown."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.syntax import call_operand
from gradcheck_kit.lint.interp.values import Data, ModuleVal, Unknown, Value, looks_like_norm
from gradcheck_kit.lint.sketch import Layer

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine


def unmodelled_call(m: Machine, qname: str, args: list[Value], node: ast.Call) -> Value:
    data_args = [a for a in args if isinstance(a, Data)]
    span = m.span(node)
    short = qname.rsplit(".", 1)[-1]
    if qname.startswith(catalog.TORCH_NAMESPACE):
        if short[:1].isupper():
            kind = "affine" if qname in catalog.AFFINE_MODULES else "neutral"
            return ModuleVal(Layer(kind, short, span))  # type: ignore[arg-type]
        if data_args:
            if short.endswith("_loss") or "loss" in short or short in catalog.LOSS_FUNCTIONS:
                return Unknown()
            if short in catalog.SOFTMAX_NAMES:
                m.applied_to(node, call_operand(node, data_args[0], args))
                return m.extend(data_args[0], Layer("activation", short, span))
            return data_args[0]
        return Unknown(qname, any(isinstance(a, Unknown) and a.from_data for a in args))
    # defined outside this file and not torch: unknown
    if data_args:
        if looks_like_norm(qname):
            return m.extend(data_args[0], Layer("norm", short, span))
        return data_args[0]
    return Unknown(short)
