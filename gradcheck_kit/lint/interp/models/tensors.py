"""Models of functions and methods on tensors: sums (a residual), products, concatenation,
splitting into steps, activations called as methods (``x.tanh()``), and what reads a number off a
tensor (``x.size(1)``)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.models import model, tensor_method
from gradcheck_kit.lint.interp.values import Data, Repeated, SeqVal, Unknown, Value
from gradcheck_kit.lint.sketch import Count, Layer

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.frames import Frame
    from gradcheck_kit.lint.interp.machine import Machine


@model(catalog.ADDITION_FUNCTIONS)
def addition(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    data_args = [a for a in args if isinstance(a, Data)]
    return m.join("add", data_args[0], data_args[1]) if len(data_args) >= 2 else None


@model(catalog.MULTIPLY_FUNCTIONS)
def product(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    data_args = [a for a in args if isinstance(a, Data)]
    return m.join("mul", data_args[0], data_args[1]) if len(data_args) >= 2 else None


@model(catalog.CONCAT_FUNCTIONS)
def concatenation(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    if not args:
        return None
    parts = [v for v in m.as_entries(args[0]) if isinstance(v, Data)]
    result: Value = parts[0] if parts else Unknown()
    for part in parts[1:]:
        assert isinstance(result, Data)
        result = m.join("alt", result, part)
    return result


@model(catalog.SPLIT_FUNCTIONS)
def split(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    data_args = [a for a in args if isinstance(a, Data)]
    if not data_args:
        return None
    return SeqVal((Repeated(Count(None, per_step=True), (data_args[0],)),), "tuple")


@tensor_method(catalog.SOFTMAX_NAMES)
def softmax_method(m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call) -> Value:
    m.applied_to(node, node.func.value if isinstance(node.func, ast.Attribute) else None)
    return m.extend(owner, Layer("activation", name, m.span(node)))


@tensor_method(catalog.RELU_METHODS)
def relu_method(m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call) -> Value:
    return m.extend(owner, Layer("activation", catalog.RELU_METHODS[0], m.span(node)))


@tensor_method(catalog.SATURATING_METHODS)
def saturating_method(
    m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call
) -> Value:
    act = catalog.SATURATING_METHODS[name]
    m.applied_to(node, node.func.value if isinstance(node.func, ast.Attribute) else None)
    return m.extend(owner, Layer("saturating", act.name, m.span(node), act.derivative_bound))


@tensor_method(catalog.ADDITION_METHODS)
def addition_method(m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call) -> Value:
    other = next((a for a in args if isinstance(a, Data)), None)
    return owner if other is None else m.join("add", owner, other)


@tensor_method(catalog.MULTIPLY_METHODS)
def product_method(m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call) -> Value:
    other = next((a for a in args if isinstance(a, Data)), None)
    return owner if other is None else m.join("mul", owner, other)


@tensor_method(catalog.SCALAR_METHODS)
def scalar_method(m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call) -> Value:
    return Unknown(name, from_data=True)


@tensor_method(catalog.SPLIT_METHODS)
def split_method(m: Machine, owner: Data, name: str, args: list[Value], node: ast.Call) -> Value:
    return SeqVal((Repeated(Count(None, per_step=True), (owner,)),), "tuple")
