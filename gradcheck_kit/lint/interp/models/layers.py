"""Models of torch's layer classes and activation functions: saturating activations,
normalizations, affine layers (their fan-in and bias, for the gain model), other activations,
softmax, recurrent modules (a plain ``nn.RNN`` is a GCK003 event), and ``isinstance`` on a layer.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import Event
from gradcheck_kit.lint.interp.models import Model, model
from gradcheck_kit.lint.interp.models.init import fan_in_of
from gradcheck_kit.lint.interp.syntax import call_operand
from gradcheck_kit.lint.interp.values import (
    ClassRef,
    Const,
    Data,
    DictVal,
    FuncRef,
    Instance,
    ModuleVal,
    Ref,
    SeqVal,
    Unknown,
    Value,
)
from gradcheck_kit.lint.sketch import Built, Layer

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.frames import Frame
    from gradcheck_kit.lint.interp.machine import Machine


@model(catalog.SATURATING_MODULES, catalog.SATURATING_FUNCTIONS)
def saturating(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """``nn.Tanh()`` is a module, ``torch.tanh(x)`` a layer on ``x``'s path; a configured
    (``extend-saturating``) name has the derivative bound 1."""
    data_args = [a for a in args if isinstance(a, Data)]
    short = qname.rsplit(".", 1)[-1]
    act = catalog.saturating_for(qname) or catalog.Saturating(short, 1.0)
    layer = Layer("saturating", act.name, m.span(node), act.derivative_bound)
    if qname in catalog.SATURATING_MODULES or (short[:1].isupper() and not data_args):
        return ModuleVal(layer)
    if data_args:
        m.applied_to(node, call_operand(node, data_args[0], args))
        return m.extend(data_args[0], layer)
    return Unknown()


@model(catalog.NORMALIZATION_MODULES, catalog.NORMALIZATION_FUNCTIONS)
def normalization(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    data_args = [a for a in args if isinstance(a, Data)]
    layer = Layer("norm", qname.rsplit(".", 1)[-1], m.span(node))
    if qname in catalog.NORMALIZATION_MODULES or not data_args:
        return ModuleVal(layer)
    return m.extend(data_args[0], layer)


def with_configured(
    models: dict[str, Model], saturating_names: set[str], normalization_names: set[str]
) -> dict[str, Model]:
    """The registry plus the classes a project's config declares (``extend-saturating``,
    ``extend-normalization``). The catalog's saturating activations come first, then the
    configured ones, then the catalog's normalizations, then the configured ones, then the rest."""
    out = dict(models)
    for name in normalization_names:
        if not (
            catalog.saturating_for(name)
            or name in saturating_names
            or catalog.is_normalization(name)
        ):
            out[name] = normalization
    for name in saturating_names:
        if catalog.saturating_for(name) is None:
            out[name] = saturating
    return out


@model(catalog.GATED_RECURRENT_MODULES)
def gated_recurrent(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """LSTM/GRU: their gates keep the gradient; neutral for the stack rules."""
    return ModuleVal(Layer("neutral", qname.rsplit(".", 1)[-1], m.span(node)))


@model(catalog.AFFINE_MODULES)
def affine(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """``nn.Linear(fan_in, ...)``/``nn.ConvNd``: a layer whose fan-in and bias the gain model
    reads."""
    short = qname.rsplit(".", 1)[-1]
    anchor = m.span(node)
    layer = Layer("affine", short, anchor, ref=Built(anchor))  # its own init, per instance
    fan_in = fan_in_of(short, args, kwargs)
    if fan_in is not None:
        m.fan_in[id(layer.origin)] = fan_in
    bias = kwargs.get("bias")
    if isinstance(bias, Const) and bias.value is False:
        m.no_bias.add(id(layer.origin))
    return ModuleVal(layer)


@model(catalog.ACTIVATION_MODULES)
def activation_module(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    return ModuleVal(Layer("activation", catalog.ACTIVATION_MODULES[qname], m.span(node)))


@model(catalog.ACTIVATION_FUNCTIONS)
def activation_function(
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
    layer = Layer("activation", catalog.ACTIVATION_FUNCTIONS[qname], m.span(node))
    return m.extend(data_args[0], layer)


@model(catalog.SOFTMAX_MODULES)
def softmax_module(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    return ModuleVal(Layer("activation", catalog.SOFTMAX_MODULES[qname], m.span(node)))


@model(catalog.PLAIN_RECURRENT_MODULES)
def plain_recurrent(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """``nn.RNN`` / ``nn.RNNCell`` with their default tanh nonlinearity: a GCK003 event; the
    module itself is what any torch class is (the generic rule)."""
    nonlinearity = kwargs.get("nonlinearity") or (args[3] if len(args) > 3 else None)
    if nonlinearity is None or (
        isinstance(nonlinearity, Const) and nonlinearity.value == catalog.PLAIN_RECURRENT_DEFAULT
    ):  # relu, or something the linter cannot see: precision first
        # the module the class is read from (``nn`` in ``nn.RNN``): a fix names its gated
        # sibling there
        owner = m.eval(node.func.value, frame) if isinstance(node.func, ast.Attribute) else None
        m.report(
            Event(
                "GCK003",
                node,
                m.scope_symbol(),
                data={
                    "kind": "module",
                    "module": qname.rsplit(".", 1)[-1],
                    "activations": (catalog.PLAIN_RECURRENT_DEFAULT,),
                    "owner": owner.qname if isinstance(owner, Ref) else None,
                },
            )
        )
    return None


#: Bases that make a class a torch module (for ``isinstance(m, nn.Module)``).
_MODULE_CLASSES = (
    catalog.MODULE_BASES
    | catalog.SEQUENTIAL_CONTAINERS
    | catalog.LIST_CONTAINERS
    | catalog.DICT_CONTAINERS
)


def isinstance_of(value: Value, classes: Value) -> Value:
    """``isinstance(m, nn.Linear)`` for a module whose class the linter knows;
    ``isinstance(m, nn.Module)`` for any module (a torch layer, an instance of a Module class of
    the project: a container's own forward checks it before calling)."""
    options = classes.plain() if isinstance(classes, SeqVal) else [classes]
    builtin = _builtin_types(options)
    if builtin is not None:  # ``isinstance(identifier, str)`` in an activation helper
        if isinstance(value, Const):
            return Const(isinstance(value.value, builtin))
        if isinstance(value, SeqVal) and value.kind in ("list", "tuple"):
            return Const(list in builtin if value.kind == "list" else tuple in builtin)
        if isinstance(value, DictVal):
            return Const(dict in builtin)
        if isinstance(value, (FuncRef, ClassRef, ModuleVal, Instance, Data)):
            return Const(False)  # a function, a class, a module or a tensor: none of them
        return Unknown()
    any_module = options is not None and any(
        isinstance(o, Ref) and o.qname in catalog.MODULE_BASES for o in options
    )
    if any_module and (
        isinstance(value, ModuleVal)
        or (isinstance(value, Instance) and value.cls.torch_bases() & _MODULE_CLASSES)
    ):
        return Const(True)
    if not isinstance(value, ModuleVal) or not isinstance(value.node, Layer):
        return Unknown()
    if options is None or not all(isinstance(o, Ref) for o in options):
        return Unknown()
    names = {o.qname.rsplit(".", 1)[-1] for o in options if isinstance(o, Ref)}
    layer = value.node
    known = layer.kind in ("affine", "norm") or layer.name[:1].isupper()
    if layer.name in names:
        return Const(True)
    return Const(False) if known else Unknown()


#: The builtin types ``isinstance`` is decided for on a constant.
_BUILTIN_TYPES: dict[str, type] = {
    "builtins.str": str,
    "builtins.int": int,
    "builtins.float": float,
    "builtins.bool": bool,
    "builtins.list": list,
    "builtins.tuple": tuple,
    "builtins.dict": dict,
}


def _builtin_types(options: list[Value] | None) -> tuple[type, ...] | None:
    """The builtin types ``options`` name (``str``, ``(int, float)``), or None where any is not
    one."""
    if not options or not all(isinstance(o, Ref) and o.qname in _BUILTIN_TYPES for o in options):
        return None
    return tuple(_BUILTIN_TYPES[o.qname] for o in options if isinstance(o, Ref))
