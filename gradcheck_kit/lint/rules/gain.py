"""The gain model as the saturating-stack rules (GCK001, GCK002) read it: what a run's layers do to
the gradient, in words (:func:`attenuation`, the structural mode) and in numbers
(:func:`predict`, the predicted mode, from the init of the layer before each activation)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from gradcheck_kit import catalog
from gradcheck_kit.catalog import DEFAULT_INIT_GAIN
from gradcheck_kit.lint.analyze import Run
from gradcheck_kit.lint.facts import FileFacts, FileRun, LayerInit
from gradcheck_kit.lint.rules.base import RuleContext, distinct

# Measured per-layer gradient multipliers at PyTorch's default nn.Linear init (width 256): what
# a saturating layer typically does, where the derivative bound alone says little (tanh' <= 1).
TYPICAL_GAIN = DEFAULT_INIT_GAIN  # one set of numbers for the linter, the sweep and the docs


def attenuation(run: Run) -> str:
    """What ``depth`` saturating layers do to the gradient, in words and numbers."""
    depth = run.depth
    bounds = {layer.name: layer.bound for layer in run.layers}
    worst = max(bounds.values(), default=1.0)
    if worst < 1.0:
        names = ", ".join(f"{n}' <= {b:.3g}" for n, b in bounds.items() if b < 1.0)
        factor = worst**depth
        return (
            f"{names}, so {depth} layers scale the gradient by at most "
            f"{worst:.3g}^{depth} ~ {factor:.0e}"
        )
    typical = [TYPICAL_GAIN[n] for n in bounds if n in TYPICAL_GAIN]
    if typical:
        gain = max(typical)
        return (
            f"each derivative is below 1 once units leave 0 (at PyTorch's default init a tanh "
            f"layer keeps ~{gain:.2f} of the gradient norm), so {depth} layers leave "
            f"~{gain**depth:.0e} of it"
        )
    return "each derivative is at most 1 and falls to 0 as units saturate"


@dataclass(frozen=True)
class Prediction:
    """The gain model applied to one run (see :mod:`gradcheck_kit.theory`)."""

    gain: float  # per-layer, geometric mean over the run's layers
    weight_var: float
    ratio: float  # the predicted flow ratio at the run's depth
    crossing: int | None  # the depth at which the run crosses the bound (None: never)
    init: str  # where the init came from, for the message


def theory_name(name: str) -> str:
    from gradcheck_kit.theory import ACTIVATIONS

    return name if name in ACTIVATIONS else "tanh"  # a user-declared one: derivative <= 1


def predict(run: Run, facts: FileFacts, ctx: RuleContext, head: bool = True) -> Prediction:
    """The predicted flow ratio of ``run`` from the init of the layer before each activation;
    ``head=False``: nothing with parameters follows the run (one hop fewer)."""
    from gradcheck_kit.theory import crossing_depth, predicted_flow_ratio, predicted_gain

    layers = distinct(run) or list(run.layers)
    logs: list[float] = []
    weight_vars: list[float] = []
    inits: list[LayerInit] = []
    for layer in layers:
        init = facts.inits.get(id(layer), LayerInit())
        inits.append(init)
        weight_var = init.weight_var if init.weight_var is not None else catalog.DEFAULT_WEIGHT_VAR
        explicit = init.weight_var is not None
        bias_var = 1.0 / (3.0 * init.fan_in) if init.fan_in and init.bias and not explicit else 0.0
        try:
            gain = predicted_gain(theory_name(layer.name), weight_var, bias_var)
        except (ValueError, ArithmeticError):
            gain = 1.0
        logs.append(math.log(gain) if gain > 0 else -700.0)
        weight_vars.append(weight_var)
    gain = math.exp(sum(logs) / len(logs))
    weight_var = weight_vars[0]
    ratio = predicted_flow_ratio(gain, weight_var, run.depth, head=head)
    crossing = crossing_depth(gain, weight_var, ctx.vanish_bound, head=head)
    return Prediction(gain, weight_var, ratio, crossing, init_words(inits, ctx))


def init_words(inits: list[LayerInit], ctx: RuleContext) -> str:
    name = ctx.file_name
    explicit = [i for i in inits if i.description]
    unread = [i for i in inits if i.unread]
    if explicit:
        first = explicit[0]
        where = f" at {name}:{first.line}" if first.line else ""
        return f"{first.description}{where}"
    if unread:
        first = unread[0]
        where = f" at {name}:{first.line}" if first.line else ""
        return f"PyTorch default (the linter cannot read {first.unread}{where})"
    return "PyTorch default: no init in this file"


def output_words(item: FileRun) -> str:
    if item.head:
        return ""
    return (
        f" (the last {item.run.layers[-1].name} is the model's output: {item.run.depth - 1} hops)"
    )
