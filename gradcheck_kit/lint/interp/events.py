"""What the interpreter records for the rules besides runs: the init of the affine layer before
each saturating activation (the gain model's input), stacks whose explicit init amplifies the
gradient (GCK006), recurrences through a saturating activation in a loop over time (GCK003) and
losses given an already squashed input (GCK005). Each is an :class:`~gradcheck_kit.lint.facts.Event`
with structured data; the rule modules word the messages.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from gradcheck_kit.lint.facts import Event, LayerInit
from gradcheck_kit.lint.interp.frames import (
    Frame,
    Loop,
    Root,
)
from gradcheck_kit.lint.interp.models.init import (
    dominant_activation,
    init_namespace,
)
from gradcheck_kit.lint.interp.syntax import (
    full_name,
    names_in,
    single_operand,
    subscripts_by,
)
from gradcheck_kit.lint.interp.values import (
    Data,
    Instance,
    ModuleVal,
    Ref,
    Value,
)
from gradcheck_kit.lint.sketch import (
    Layer,
    iter_layers,
)

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine


def layer_inits(self: Machine, root: Root) -> None:
    """For each saturating layer of ``root``, the init of the affine layer before it."""
    previous: Layer | None = None
    for layer in iter_layers(root.node):
        if layer.kind == "affine":
            previous = layer
            continue
        if layer.kind != "saturating" or previous is None:
            continue
        origin = id(previous.origin)
        fan_in = self.fan_in.get(origin)
        init = self.inits.get(origin)
        bias = origin not in self.no_bias
        if init is not None:
            line = getattr(init.anchor, "lineno", None)
            root.inits[id(layer)] = LayerInit(
                init.weight_var, fan_in, init.description, line, bias=bias, affine=previous
            )
        elif origin in self.unread_inits:
            what, node = self.unread_inits[origin]
            line = getattr(node, "lineno", None)
            root.inits[id(layer)] = LayerInit(
                None, fan_in, None, line, what, bias=bias, affine=previous
            )
        else:
            root.inits[id(layer)] = LayerInit(None, fan_in, bias=bias, affine=previous)


def exploding_init(self: Machine, root: Root) -> None:
    """Deep stacks of affine layers whose explicit init makes each layer multiply the
    gradient by more than 1 (mean-field prediction), with no normalization between."""
    from gradcheck_kit.lint.analyze import Analyzer, ends_before_a_layer, maximal_runs
    from gradcheck_kit.theory import predicted_gain

    layers = iter_layers(root.node)
    inits = [self.inits.get(id(layer.origin)) for layer in layers if layer.kind == "affine"]
    if not any(inits):
        return
    # The prediction is a numerical integral (milliseconds): skip it where no stack of
    # explicitly initialised layers is deep enough to be reported.
    stacked = Analyzer(
        member=lambda layer: layer.kind == "affine" and id(layer.origin) in self.inits
    )
    stacked.record(stacked.walk(root.node))
    if not any(run.unbounded or run.depth > self.max_depth for run in stacked.runs):
        return
    activation = dominant_activation(layers)
    gains: dict[int, float] = {}
    for layer in layers:
        init = self.inits.get(id(layer.origin))
        if layer.kind != "affine" or init is None:
            continue
        try:
            gain = predicted_gain(activation, init.weight_var, 0.0)
        except (ValueError, ArithmeticError):
            continue
        if gain > 1.02:
            gains[id(layer)] = gain
    if not gains:
        return
    analyzer = Analyzer(member=lambda layer: id(layer) in gains)
    analyzer.record(analyzer.walk(root.node))
    for run in maximal_runs(analyzer.runs):
        if run.unbounded:
            continue
        top = max(run.layers, key=lambda layer: gains[id(layer)])
        gain = gains[id(top)]
        init = self.inits[id(top.origin)]
        # every init call of the stack, once each, with whether it is a tensor method (None:
        # written in another module): what a fix rewrites
        calls = {id(i.call): (i.call, i.method) for i in map(self.inits.get, origins(run)) if i}
        self.report(
            Event(
                "GCK006",
                run.layers[0].anchor,
                root.symbol,
                related=((init.anchor, "initialised here"),),
                data={
                    "depth": run.depth,
                    "gain": gain,
                    "activations": (activation,),
                    "weight_var": init.weight_var,
                    "init": init.description,
                    "line": getattr(init.anchor, "lineno", None),
                    "head": ends_before_a_layer(root.node, run.layers[-1]),
                    "init_calls": tuple(calls.values()),
                    "init_namespace": init_namespace(self.module),
                },
            )
        )


def origins(run: object) -> list[int]:
    """The origins of a run's layers, once each (an unrolled loop repeats one)."""
    layers: list[Layer] = getattr(run, "layers", [])
    return list(dict.fromkeys(id(layer.origin) for layer in layers))


# -- events for the recurrence and loss rules ------------------------------------------------


def recurrence(self: Machine, small: ast.Assign, value: Value, frame: Frame) -> Value:
    """``h = torch.tanh(W(x_t) + U(h))`` in a loop over time: a saturating recurrence
    (GCK003). Its tanh is a step in time, not a layer of a stack, so it is taken off the
    path that GCK001/GCK002 read."""
    target = small.targets[0]
    if not isinstance(target, ast.Name) or not isinstance(value, Data) or not value.path:
        return value
    last = value.path[-1]
    if not (isinstance(last, Layer) and last.kind == "saturating" and last.anchor is small.value):
        return value
    names = names_in(small.value)
    if target.id not in names:
        return value
    loop = self.loops[-1]
    if loop.over_modules or not (loop.over_time or self.indexes_data(small.value, loop, frame)):
        return value
    loop.recurrent = True
    self.report(
        Event(
            "GCK003",
            small.value,
            self.scope_symbol(),
            data={"kind": "loop", "target": target.id, "activations": (last.name,)},
        )
    )
    return Data((*value.path[:-1], Layer("neutral", f"{last.name} (recurrent)")), value.origin)


def indexes_data(self: Machine, expr: ast.expr, loop: Loop, frame: Frame) -> bool:
    """``x[:, t]``: a tensor indexed by the loop variable (a time step), not
    ``self.heads[i]`` (a layer)."""
    for sub in subscripts_by(expr, loop.targets):
        if isinstance(self.eval(sub.value, frame), Data):
            return True
    return False


def squashed_twice(
    self: Machine,
    loss_call: ast.Call,
    anchor: ast.AST,
    expects: str,
    applied: str | None,
    applied_at: object | None,
    operand: ast.expr | None = None,
) -> None:
    """An output that already went through sigmoid/softmax, given to a loss that applies
    it again (GCK005). For the fix: where the squashing is (``squash``: the call written in the
    loss's argument, or the layer at the end of the model), the tensor it applies to
    (``operand``, when this file's code shows it) and the ``nn.Sequential(...)`` call it ends
    as the last argument of (``sequential``)."""
    if applied != expects:
        return
    squash = applied_at if applied_at is not None else anchor
    if applied_at is not None:
        operand = self.operands.get(id(applied_at))
    sequential = next(
        (
            holder.span_node
            for holder, _ in self.sequentials
            if isinstance(holder.span_node, ast.Call)
            and holder.span_node.args
            and holder.span_node.args[-1] is squash
        ),
        None,
    )
    self.report(
        Event(
            "GCK005",
            anchor,
            self.scope_symbol(),
            related=((applied_at, f"{applied} applied here"),) if applied_at else (),
            data={
                "loss": full_name(loss_call.func),
                "expects": expects,
                "activations": (applied,),
                "site": "model" if applied_at is not None else "loss",
                "squash": squash,
                "operand": operand,
                "sequential": sequential,
            },
        )
    )


def applied_to(self: Machine, call: ast.AST | None, operand: ast.expr | None) -> None:
    """Record that the activation written at ``call`` applies to ``operand`` (``x`` in
    ``torch.sigmoid(x)``, ``x.sigmoid()``, ``self.act(x)``): GCK005's fix puts the operand in
    the call's place. Only this file's own code: another module's is not edited."""
    if isinstance(call, ast.Call) and operand is not None and not self.in_foreign:
        self.operands[id(call)] = operand


def written_operand(self: Machine, call: ast.expr, frame: Frame) -> ast.expr | None:
    """The tensor a squashing call written in a loss's argument applies to: ``x`` in
    ``torch.sigmoid(x)`` and ``F.softmax(x, -1)`` (a torch function), ``self.act(x)`` (a
    module), ``x.softmax(-1)`` and ``(a + b).sigmoid()`` (a tensor method); None when the
    code does not tell which."""
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Attribute):
        return None
    receiver = call.func.value
    if not isinstance(receiver, (ast.Name, ast.Attribute)):
        return receiver  # ``(a + b).sigmoid()``: only a tensor has the method
    func = self.eval(call.func, frame)
    if isinstance(func, Ref):  # torch.sigmoid, F.softmax: the input is the first argument
        if call.args:
            return None if isinstance(call.args[0], ast.Starred) else call.args[0]
        return next((k.value for k in call.keywords if k.arg == "input"), None)
    if isinstance(func, (ModuleVal, Instance)):  # self.sigmoid = nn.Sigmoid(): a module call
        return single_operand(call)
    if isinstance(self.eval(receiver, frame), Data) or all(
        isinstance(arg, ast.Constant) or _negative_constant(arg) for arg in call.args
    ):
        return receiver  # x.sigmoid(), logits.softmax(-1), logits.softmax(dim=1)
    return None


def _negative_constant(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
    )
