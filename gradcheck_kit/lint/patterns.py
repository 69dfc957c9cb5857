"""What the extractor knows about PyTorch idioms beyond the catalog: methods that return the
module, wrappers, losses that squash their input, activations for the mean-field theory, explicit
initialisations and their weight variance."""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.sketch import Layer, Node, Repeat, Seq
from gradcheck_kit.lint.values import (
    Const,
    ModuleVal,
    Ref,
    SeqVal,
    Unknown,
    Value,
)

_LOSS_FUNCTIONS = frozenset(
    {"cross_entropy", "binary_cross_entropy", "binary_cross_entropy_with_logits", "nll_loss",
     "mse_loss", "l1_loss", "kl_div", "cosine_embedding_loss"}
)  # fmt: skip

_RETURNS_SELF = frozenset(
    {"to", "cuda", "cpu", "float", "double", "half", "bfloat16", "train", "eval", "type",
     "requires_grad_", "share_memory", "to_empty", "xpu", "mps"}
)  # fmt: skip
_MODULE_WRAPPERS = frozenset(
    {"torch.compile", "torch.jit.script", "torch.jit.trace", "torch.nn.DataParallel",
     "torch.nn.parallel.DistributedDataParallel", "torch.nn.parallel.DataParallel",
     "torch.nn.utils.weight_norm", "torch.nn.utils.spectral_norm",
     "torch.nn.utils.parametrizations.weight_norm",
     "torch.nn.utils.parametrizations.spectral_norm"}
)  # fmt: skip

_SOFTMAX_NAMES = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}

#: Losses that apply a squashing function to their input themselves.
_LOGIT_LOSSES = {
    "binary_cross_entropy_with_logits": "sigmoid",
    "BCEWithLogitsLoss": "sigmoid",
    "cross_entropy": "softmax",
    "CrossEntropyLoss": "softmax",
}


def _squash_applied_by(func: Value) -> str | None:
    if isinstance(func, Ref):
        return (
            _LOGIT_LOSSES.get(func.qname.rsplit(".", 1)[-1])
            if func.qname.startswith("torch.")
            else None
        )
    if isinstance(func, ModuleVal) and isinstance(func.node, Layer):
        return _LOGIT_LOSSES.get(func.node.name)
    return None


def _squash_name(expr: ast.expr) -> str | None:
    if isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
        name = expr.func.attr
        return "sigmoid" if name == "expit" else name
    return None


def _tail_layer(path: tuple[Node, ...]) -> Layer | None:
    """The last layer a tensor went through, looking through containers and shape-only ops."""
    for node in reversed(path):
        while isinstance(node, (Seq, Repeat)):
            if isinstance(node, Repeat):
                node = node.body
            elif node.items:
                inner = _tail_layer(node.items)
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


@dataclass(eq=False)
class _Weight(Value):
    """``layer.weight`` (or ``.weight.data``) of a known affine layer: the target of an init."""

    layer: Layer


@dataclass(frozen=True)
class _Init:
    weight_var: float  # s_w^2: weight variance times fan-in
    description: str
    anchor: object


_ACTIVATION_MODULES = {
    f"torch.nn.{name}": name.lower()
    for name in ("ReLU", "GELU", "SiLU", "ELU", "SELU", "LeakyReLU", "Mish", "Softplus", "ReLU6")
}
_ACTIVATION_FUNCTIONS = {
    **{f"torch.nn.functional.{n}": n for n in ("relu", "gelu", "silu", "elu", "selu", "mish")},
    **{f"torch.{n}": n for n in ("relu", "selu")},
    "torch.nn.functional.leaky_relu": "leakyrelu",
    "torch.nn.functional.relu6": "relu6",
}
_THEORY_NAMES = {"leakyrelu": "relu", "relu6": "relu", "mish": "silu", "softplus": "softplus"}


def _const(value: Value | None) -> Any:
    return value.value if isinstance(value, Const) else None


def _fan_in(kind: str, args: list[Value], kwargs: dict[str, Value]) -> int | None:
    first = _const(
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
    sizes = [_const(v) for v in plain or []]
    if sizes and all(isinstance(k, int) for k in sizes):
        return int(first * math.prod(sizes))
    return None


def _weight_variance(
    fn: str, args: list[Value], kwargs: dict[str, Value], fan_in: int | None
) -> tuple[float, str] | None:
    """(s_w^2, description) of an explicit init, when the code makes it computable (the
    formulas are :func:`gradcheck_kit.catalog.init_weight_var`'s)."""
    positions = _INIT_PARAMS.get(fn.rstrip("_"), ())
    params: dict[str, object] = {}
    for index, key in enumerate(positions):
        value = kwargs.get(key) or (args[index] if len(args) > index else None)
        if value is not None:
            params[key] = _const(value)
    weight_var = catalog.init_weight_var(fn, params, fan_in)
    if weight_var is None:
        return None
    shown = ", ".join(
        f"{k}={v!r}" if k in ("nonlinearity", "mode") else f"{k}={v}" for k, v in params.items()
    )
    return weight_var, f"{fn}({shown})"


#: Positional parameters of ``torch.nn.init`` functions after the tensor.
_INIT_PARAMS: dict[str, tuple[str, ...]] = {
    "normal": ("mean", "std"),
    "trunc_normal": ("mean", "std"),
    "uniform": ("a", "b"),
    "constant": ("val",),
    "ones": (),
    "kaiming_normal": ("a", "mode", "nonlinearity"),
    "kaiming_uniform": ("a", "mode", "nonlinearity"),
    "xavier_normal": ("gain",),
    "xavier_uniform": ("gain",),
    "orthogonal": ("gain",),
}


def _dominant_activation(layers: list[Layer]) -> str:
    names = [
        _THEORY_NAMES.get(layer.name, layer.name)
        for layer in layers
        if layer.kind in ("saturating", "activation")
        and layer.name not in ("softmax", "log_softmax")
    ]
    if not names:
        return "linear"
    return max(dict.fromkeys(names), key=names.count)


def _isinstance(value: Value, classes: Value) -> Value:
    """``isinstance(m, nn.Linear)`` for a module whose class the linter knows."""
    if not isinstance(value, ModuleVal) or not isinstance(value.node, Layer):
        return Unknown()
    options = classes.plain() if isinstance(classes, SeqVal) else [classes]
    if options is None or not all(isinstance(o, Ref) for o in options):
        return Unknown()
    names = {o.qname.rsplit(".", 1)[-1] for o in options if isinstance(o, Ref)}
    layer = value.node
    known = layer.kind in ("affine", "norm") or layer.name[:1].isupper()
    if layer.name in names:
        return Const(True)
    return Const(False) if known else Unknown()


def _is_loss(func: Value) -> bool:
    if isinstance(func, Ref):
        short = func.qname.rsplit(".", 1)[-1]
        return short in _LOSS_FUNCTIONS or short.endswith("_loss")
    if isinstance(func, ModuleVal) and isinstance(func.node, Layer):
        return func.node.name.endswith("Loss")
    if isinstance(func, Unknown) and func.symbol:
        last = func.symbol.rsplit(".", 1)[-1].lower()
        return "loss" in last or "criterion" in last
    return False


def _unwrap_squash(expr: ast.expr) -> ast.expr:
    """``torch.sigmoid(z)``, ``F.softmax(z, 1)``, ``z.sigmoid()`` -> ``z``: the squashing
    belongs to the loss. Purely syntactic; peeling can only shorten a run, never lengthen it."""
    if not isinstance(expr, ast.Call) or not isinstance(expr.func, ast.Attribute):
        return expr
    if expr.func.attr not in _SQUASHING:
        return expr
    if expr.args:
        first = expr.args[0]
        return first.value if isinstance(first, ast.Starred) else first
    if expr.keywords:
        return expr.keywords[0].value
    return expr.func.value


_SQUASHING = frozenset({"sigmoid", "tanh", "softmax", "log_softmax", "expit"})
