"""Models of explicit initialisation: ``nn.init.xavier_normal_(layer.weight, gain=...)`` and
``layer.weight.data.normal_(std=...)`` on a known affine layer record the weight variance the
init draws (the formulas are :func:`gradcheck_kit.catalog.init_weight_var`'s), which the gain
model of GCK001/GCK002/GCK006 reads."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.values import Const, SeqVal, Value
from gradcheck_kit.lint.sketch import Layer

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.frames import Frame
    from gradcheck_kit.lint.interp.machine import Machine


@dataclass(eq=False)
class Weight(Value):
    """``layer.weight`` (or ``.weight.data``) of a known affine layer: the target of an init."""

    layer: Layer


@dataclass(frozen=True)
class ExplicitInit:
    weight_var: float  # s_w^2: weight variance times fan-in
    description: str
    anchor: object
    #: the init call itself, written in this file (None: reached through another module's
    #: code), and whether it is a tensor method (``w.normal_()``) - what a fix rewrites
    call: ast.Call | None = None
    method: bool = False


def const(value: Value | None) -> Any:
    return value.value if isinstance(value, Const) else None


def fan_in_of(kind: str, args: list[Value], kwargs: dict[str, Value]) -> int | None:
    first = const(
        kwargs.get("in_features") or kwargs.get("in_channels") or (args[0] if args else None)
    )
    if not isinstance(first, int) or first < 1:
        return None
    if "Conv" not in kind:
        return first
    raw = kwargs.get("kernel_size") or (args[2] if len(args) > 2 else None)
    dims = int(kind[-2]) if kind[-2].isdigit() else 2
    if isinstance(raw, Const) and isinstance(raw.value, int):
        return int(first * raw.value**dims)
    plain = raw.plain() if isinstance(raw, SeqVal) else None
    sizes = [const(v) for v in plain or []]
    if sizes and all(isinstance(k, int) for k in sizes):
        return int(first * math.prod(sizes))
    return None


def weight_variance(
    fn: str, args: list[Value], kwargs: dict[str, Value], fan_in: int | None
) -> tuple[float, str] | None:
    """(s_w^2, description) of an explicit init, when the code makes it computable."""
    positions = catalog.INIT_PARAMS.get(fn.rstrip("_"), ())
    params: dict[str, object] = {}
    for index, key in enumerate(positions):
        value = kwargs.get(key) or (args[index] if len(args) > index else None)
        if value is not None:
            params[key] = const(value)
    weight_var = catalog.init_weight_var(fn, params, fan_in)
    if weight_var is None:
        return None
    shown = ", ".join(
        f"{k}={v!r}" if k in ("nonlinearity", "mode") else f"{k}={v}" for k, v in params.items()
    )
    return weight_var, f"{fn}({shown})"


def record_init(
    m: Machine,
    layer: Layer,
    fn: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    method: bool = False,
) -> None:
    if layer.kind != "affine" or layer.name.startswith("Embedding"):
        return  # an embedding is a lookup: no gradient flows through it to earlier layers
    fan_in = m.fan_in.get(id(layer.origin))
    init = weight_variance(fn, args, kwargs, fan_in)
    if init is not None:
        call = None if m.in_foreign else node
        m.inits[id(layer.origin)] = ExplicitInit(init[0], init[1], m.span(node), call, method)
    else:
        m.unread_inits[id(layer.origin)] = (f"nn.init.{fn}", m.span(node))


def init_function(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """Any ``torch.nn.init.*`` applied to a known layer's weight (looked up by namespace:
    :data:`catalog.INIT_NAMESPACE`); ``calculate_gain("tanh")`` is its number."""
    if qname == catalog.INIT_NAMESPACE + catalog.INIT_GAIN_FUNCTION:
        return calculate_gain(args, kwargs)
    if not (args and isinstance(args[0], Weight)):
        return None
    record_init(m, args[0].layer, qname.rsplit(".", 1)[-1], args[1:], kwargs, node)
    return Const(None)


def calculate_gain(args: list[Value], kwargs: dict[str, Value]) -> Value | None:
    """``nn.init.calculate_gain(nonlinearity, param)``: the square root of
    :data:`catalog.KAIMING_GAIN2` (leaky_relu with its slope ``param``)."""
    name = const(kwargs.get("nonlinearity") or (args[0] if args else None))
    if not isinstance(name, str) or name not in catalog.KAIMING_GAIN2:
        return None
    slope = const(kwargs.get("param") or (args[1] if len(args) > 1 else None))
    if name == "leaky_relu" and isinstance(slope, (int, float)) and not isinstance(slope, bool):
        return Const(math.sqrt(2.0 / (1 + slope**2)))
    return Const(math.sqrt(catalog.KAIMING_GAIN2[name]))


#: Where each binding of the file's top-level imports leads, as a prefix of the init namespace
#: (``torch`` -> ``torch.nn.init``), best first: a fix that writes an init call names it so.
_INIT_ROUTES = (
    (catalog.INIT_NAMESPACE.rstrip("."), ""),
    (catalog.NN_NAMESPACE.rstrip("."), ".init"),
    (catalog.TORCH_NAMESPACE.rstrip("."), ".nn.init"),
)


def init_namespace(module: ast.Module) -> str | None:
    """How the file's top-level imports name ``torch.nn.init`` (``nn.init``, ``init``,
    ``torch.nn.init``), or None when they do not."""
    found: dict[str, str] = {}  # qualified module -> local name
    for statement in module.body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.asname is not None:
                    found.setdefault(alias.name, alias.asname)
                else:
                    root = alias.name.split(".", 1)[0]
                    found.setdefault(root, root)
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            for alias in statement.names:
                found.setdefault(f"{statement.module}.{alias.name}", alias.asname or alias.name)
    for qualified, tail in _INIT_ROUTES:
        if qualified in found:
            return found[qualified] + tail
    return None


def dominant_activation(layers: list[Layer]) -> str:
    names = [
        catalog.THEORY_NAMES.get(layer.name, layer.name)
        for layer in layers
        if layer.kind in ("saturating", "activation") and layer.name not in catalog.SOFTMAX_NAMES
    ]
    if not names:
        return "linear"
    return max(dict.fromkeys(names), key=names.count)
