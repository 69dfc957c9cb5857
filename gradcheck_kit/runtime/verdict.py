"""The one place that decides whether a measured run failed, how, and says why.

:func:`judge` turns one measured forward + backward (:class:`Measurement`) into an
:class:`Outcome`. :func:`gradcheck_kit.runtime.check.run_example` runs the follow-ups a verdict
needs and hands them back here:

* :func:`rejudge_scaled` - is a crossed bound a property of the network, or of the scale of its
  earliest activation? (a normalization layer divides the gradient before it by the scale of
  its input: a BatchNorm net fed a tiny input shows a huge "ratio" that says nothing about the
  network);
* :func:`stepped_note` / :func:`rejudge_revived` - a model with weights that are exactly zero at
  init (zero_init_residual, a zero head, LayerScale at 0) is measured after one SGD step on
  them; zeros left after it are dead, and :func:`rejudge_revived` says why;
* :func:`rejudge_stepped` - a flow that vanishes only because of LayerScale-size weights.

Definitions (README "What is measured"):

* a *layer* is a module call that owns parameters; *containers* (a root owning a class token)
  are never ends of the ratio (input embeddings are, like any layer);
* the **flow ratio** is RMS(gradient at the earliest layer's output) / RMS(gradient at the
  latest layer's input), the latest layer being the head: what reaches the body's first
  hidden activation, relative to what leaves the head;
* the **amplification** is the flow ratio times the forward growth of the activations between
  the same ends (growth only, never shrinkage): a net that amplifies both ways;
* the **scale-free ratio** is (gradient x activation RMS at the earliest end) / (the same at
  the latest end): invariant to the scale of the earliest activation wherever what follows it
  is scale-invariant (normalization), and equal to the flow ratio's own verdict otherwise;
* **through time**, per fused RNN/LSTM/GRU: the smallest per-step input gradient over the
  largest (vanishing), and for one direction the first step's over the last (exploding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from gradcheck_kit.report.gradients import (
    Bounds,
    FailureKind,
    LayerStat,
    SequenceStat,
    fmt,
)
from gradcheck_kit.runtime.devices import dtype_name
from gradcheck_kit.runtime.probe import RawLayer, RawSequence
from gradcheck_kit.runtime.strategies import Example, inverse_width_sum

__all__ = [
    "TINY_WEIGHT",
    "FailureKind",
    "Measurement",
    "Outcome",
    "judge",
    "nonfinite",
    "rejudge_revived",
    "rejudge_scaled",
    "rejudge_stepped",
    "scale_test_factor",
    "small_weights",
    "stepped_note",
]

#: How far the start's scale is moved to ask whether a crossed bound is a property of the
#: network: x10 for exploding (a normalized net's amplification falls 100x), /10 for vanishing.
SCALE_STEP = 10.0
#: A metric that moves at least like scale^0.5 under that change follows the input's scale.
SCALE_EXPONENT = 0.5


@dataclass
class Measurement:
    """What the probe saw of one forward + backward."""

    layers: list[RawLayer]
    sequences: list[RawSequence] = field(default_factory=list)
    output_nonfinite: str | None = None  # "NaN" | "inf" | None
    loss_nonfinite: str | None = None


@dataclass
class Outcome:
    """One example, judged."""

    example: Example
    layers: tuple[LayerStat, ...] = ()
    ratio: float | None = None
    amplification: float | None = None
    scale_free_ratio: float | None = None
    limits: tuple[float, float] | None = None
    kind: FailureKind | None = None
    message: str = ""
    exception: str | None = None
    score: float = -math.inf  # >= 0 fails; the largest passing one is the "worst" example
    sequences: tuple[SequenceStat, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    #: layer index of the ratio's earliest end, and the kind of bound crossed there
    start: int | None = None
    crossed: FailureKind | None = None
    zeros: tuple[int, ...] = ()  # layers whose output gradient is exactly zero (not underflow)
    revived: bool = False  # measured after one SGD step (zero-init weights held layers at 0)

    @property
    def failed(self) -> bool:
        return self.kind is not None


def nonfinite(value: float | None) -> str | None:
    if value is None or math.isfinite(value):
        return None
    return "NaN" if math.isnan(value) else "inf"


def _stat(index: int, raw: RawLayer, underflow: bool = False) -> LayerStat:
    return LayerStat(
        index=index,
        name=raw.name,
        type=raw.type_name,
        width=raw.width,
        grad_rms=raw.grad_rms,
        param_grad_rms=raw.param_grad_rms,
        activation_rms=raw.activation_rms,
        input_grad_rms=raw.input_grad_rms,
        saturation=raw.saturation,
        activation=raw.activation,
        underflow=underflow,
    )


def _at(layer: LayerStat) -> str:
    return f"layer {layer.index} ({layer.type} {layer.name!r})"


def _per_layer(ratio: float, hops: int) -> str:
    """The geometric mean factor per hop: ``ratio ** (1 / hops)``, the number a reader can
    check against the ratio it comes from."""
    if ratio <= 0:
        return "x0"
    return f"x{ratio ** (1 / hops):.3g}"


def _fail(out: Outcome, kind: FailureKind, message: str) -> Outcome:
    out.kind, out.message, out.score = kind, message, math.inf
    return out


def judge(
    example: Example,
    run: Measurement,
    bounds: Bounds,
    reference: Measurement | None = None,
) -> Outcome:
    """The first verdict on one run; ``reference`` is the float32 run of a low-precision
    example that had exact zeros (to tell underflow from a dead layer)."""
    raws = run.layers
    ref_grads: list[float | None] = []
    if reference is not None and len(reference.layers) == len(raws):
        ref_grads = [r.grad_rms for r in reference.layers]
    underflow = [
        bool(ref_grads)
        and raw.grad_rms == 0.0
        and ref_grads[i] is not None
        and (ref_grads[i] or 0.0) > 0.0
        for i, raw in enumerate(raws)
    ]
    layers = tuple(_stat(i, raw, underflow[i]) for i, raw in enumerate(raws))
    sequences = tuple(_sequence(s, bounds) for s in run.sequences)
    out = Outcome(example, layers, sequences=sequences, notes=_batch_note(raws))

    # 1. non-finite values: forward first, then backward
    fwd_bad = [(layer, nonfinite(layer.activation_rms)) for layer in layers]
    fwd_bad = [(layer, k) for layer, k in fwd_bad if k]
    if fwd_bad or run.output_nonfinite:
        if fwd_bad:
            layer, kind = fwd_bad[0]
            place = f"first at the output of {_at(layer)}"
        else:
            kind = run.output_nonfinite
            place = "in the model output (after the last layer with parameters)"
        return _fail(out, FailureKind.NONFINITE, f"{kind} in the forward pass, {place}")
    if run.loss_nonfinite:
        return _fail(out, FailureKind.NONFINITE, f"the loss is {run.loss_nonfinite}")
    for layer in reversed(layers):  # the backward pass meets the latest layer first
        for value in (layer.input_grad_rms, layer.grad_rms, layer.param_grad_rms):
            kind = nonfinite(value)
            if kind:
                return _fail(
                    out,
                    FailureKind.NONFINITE,
                    f"{kind} in the backward pass, first at {_at(layer)} (forward was finite)",
                )

    # 2. the ends of the ratio: leaf layers that got a gradient, leading embeddings skipped
    leaves = [layer for layer, raw in zip(layers, raws, strict=True) if not raw.container]
    reached = [layer for layer in leaves if layer.grad_rms is not None]
    if not reached:
        return _fail(out, FailureKind.ERROR, "no gradient reached any layer's output")
    watched = [layer for layer, raw in zip(layers, raws, strict=True) if raw.grad_numel]
    cut = []
    for layer in watched:
        if layer.grad_rms is not None or raws[layer.index].container:
            break
        cut.append(layer)
    if cut:
        return _fail(
            out,
            FailureKind.DEAD,
            f"no gradient reaches {_at(cut[0])}"
            + (f" or the {len(cut) - 1} layer(s) after it" if len(cut) > 1 else "")
            + f", while {_at(reached[0])} gets one: the path from them to the loss is cut "
            "(a .detach(), torch.no_grad(), or a step with no gradient such as argmax or an "
            "integer cast)",
        )
    first, last = reached[0], reached[-1]
    out.start = first.index
    end = last.input_grad_rms if last.input_grad_rms not in (None, 0.0) else last.grad_rms
    end_act = (
        raws[last.index].input_activation_rms
        if last.input_grad_rms not in (None, 0.0)
        else last.activation_rms
    )
    assert end is not None and first.grad_rms is not None
    path = reached[:-1] if last.input_grad_rms not in (None, 0.0) else reached
    lim_v, lim_e = bounds.limits(inverse_width_sum([layer.width for layer in path[:-1] or path]))
    out.limits = (lim_v, lim_e)
    ratio = first.grad_rms / end if end > 0 else (0.0 if first.grad_rms == 0 else math.inf)
    growth = 1.0
    if end_act and first.activation_rms:
        growth = max(1.0, end_act / first.activation_rms)
    out.ratio, out.amplification = ratio, ratio * growth
    if end_act and first.activation_rms and end > 0:
        out.scale_free_ratio = ratio * first.activation_rms / end_act

    # 3. exactly-zero gradients: underflow, a decay that reached zero, or dead (confirmed by
    # rejudge_revived, which looks again after one SGD step)
    zeros = [layer for layer in reached if layer.grad_rms == 0.0]
    if zeros:
        low = [layer for layer in zeros if layer.underflow]
        if low:
            ref = ref_grads[low[0].index]
            return _fail(
                out,
                FailureKind.DEAD,
                f"{len(low)} layer(s) get exactly zero gradient in {dtype_name(example.dtype)} "
                f"but {fmt(ref)} in float32: underflow, first at {_at(low[0])} (use float32 or "
                "bfloat16 for these layers, or a loss scale)",
            )
        z = zeros[-1]
        after = next((layer for layer in reached if layer.index > z.index and layer.grad_rms), None)
        decayed = after is not None and (after.grad_rms or 0.0) / end < lim_v
        if not decayed:
            out.zeros = tuple(layer.index for layer in zeros)
            return _fail(
                out,
                FailureKind.DEAD,
                f"the gradient is exactly zero at the output of {_at(z)}"
                + (f" ({len(zeros)} layers in all)" if len(zeros) > 1 else "")
                + (
                    f", while {_at(after)} after it still gets {fmt(after.grad_rms)}"
                    if after is not None
                    else ""
                ),
            )

    # 4. the bounds on the flow ratio, then through time
    # a chain of n layers -> activation ends at the head's input after n activations: the
    # n-th root is the per-layer factor (theory.predicted_flow_ratio: gain^n / s_w)
    hops = max(1, len(path))
    score_v = math.log(lim_v / ratio) if ratio > 0 else math.inf
    score_e = math.log(out.amplification / lim_e) if out.amplification > 0 else -math.inf
    out.score = max(score_v, score_e)
    if score_v >= 0:
        out.crossed = out.kind = FailureKind.VANISHING
        out.message = (
            f"flow ratio {fmt(ratio)} < vanish limit {fmt(lim_v)}: the earliest layer gets "
            f"{fmt(first.grad_rms)}, the latest {fmt(end)} (about {_per_layer(ratio, hops)} per "
            f"layer over {hops} layers)"
        )
    elif score_e > 0:
        out.crossed = out.kind = FailureKind.EXPLODING
        out.message = (
            f"flow ratio {fmt(ratio)} x forward growth {growth:.3g} = {fmt(out.amplification)} "
            f"> explode limit {fmt(lim_e)}: the earliest layer gets {fmt(first.grad_rms)}, "
            f"the latest {fmt(end)} (about {_per_layer(out.amplification, hops)} per layer over "
            f"{hops} layers)"
        )
    if out.kind is None:
        _judge_time(out)
    return out


#: BatchNorm statistics over fewer values per channel than this are degenerate (over 2 values
#: every feature is +-1 after normalization) and say nothing about training.
MIN_BATCH_STAT_VALUES = 8


def _batch_note(raws: list[RawLayer]) -> tuple[str, ...]:
    counts = [
        (raw.out_numel // raw.width, raw)
        for raw in raws
        if "BatchNorm" in raw.type_name and raw.width and raw.out_numel
    ]
    if not counts:
        return ()
    fewest, raw = min(counts, key=lambda pair: pair[0])
    if fewest >= MIN_BATCH_STAT_VALUES:
        return ()
    return (
        f"{raw.type_name} {raw.name!r} computes its batch statistics over {fewest} value(s) "
        "per channel: too few to say anything about training (every feature is about +-1); "
        "pass input_shape= with a larger batch (16 or more) or larger inputs",
    )


def _sequence(raw: RawSequence, bounds: Bounds) -> SequenceStat:
    steps = tuple(raw.steps)
    top = max(steps) if steps else 0.0
    lim_v, lim_e = bounds.limits(len(steps) / max(1, raw.hidden_size))
    return SequenceStat(
        name=raw.name,
        type=raw.type_name,
        steps=steps,
        bidirectional=raw.bidirectional,
        ratio=(min(steps) / top) if top > 0 else None,
        first_last=(steps[0] / steps[-1]) if steps and steps[-1] > 0 else None,
        limits=(lim_v, lim_e),
    )


def _judge_time(out: Outcome) -> None:
    """Through time: each fused recurrent module's per-step input gradients."""
    for seq in out.sequences:
        if len(seq.steps) < 2 or seq.limits is None:
            continue
        lim_v, lim_e = seq.limits
        if not seq.bidirectional and seq.first_last is not None and seq.first_last > lim_e:
            out.kind = FailureKind.EXPLODING
            out.score = max(out.score, math.log(seq.first_last / lim_e))
            out.message = (
                f"exploding through time in {seq.type} {seq.name!r}: the gradient at the first "
                f"of {len(seq.steps)} input steps is {fmt(seq.first_last)} times the last's "
                f"> explode limit {fmt(lim_e)} (about "
                f"{_per_layer(seq.first_last, len(seq.steps) - 1)} per step)"
            )
            return
        if seq.ratio is not None:
            score = math.log(lim_v / seq.ratio) if seq.ratio > 0 else math.inf
            out.score = max(out.score, score)
            if score >= 0:
                weakest = min(range(len(seq.steps)), key=seq.steps.__getitem__)
                out.kind = FailureKind.VANISHING
                out.message = (
                    f"vanishing through time in {seq.type} {seq.name!r}: over "
                    f"{len(seq.steps)} input steps the smallest per-step gradient (step "
                    f"{weakest}) is {fmt(seq.ratio)} of the largest < vanish limit "
                    f"{fmt(lim_v)} (about {_per_layer(seq.ratio, len(seq.steps) - 1)} per step): "
                    "the early steps get no learning signal"
                )
                return


def _free_crossed(outcome: Outcome) -> FailureKind | None:
    free, limits = outcome.scale_free_ratio, outcome.limits
    if free is None or limits is None:
        return None
    if free < limits[0]:
        return FailureKind.VANISHING
    return FailureKind.EXPLODING if free > limits[1] else None


def scale_test_factor(outcome: Outcome) -> float | None:
    """The factor to scale the ratio's earliest activation by, to learn which ratio judges this
    example (None: nothing to test). Asked only where the flow ratio (or amplification) or the
    scale-free ratio crosses a bound: where both are within bounds the answer changes nothing."""
    if outcome.start is None or outcome.ratio is None:
        return None
    raw = outcome.crossed if outcome.kind == outcome.crossed else None
    if outcome.kind is not None and raw is None:  # dead, nonfinite, through time: decided
        return None
    crossed = raw or _free_crossed(outcome)
    if crossed is None:
        return None
    return SCALE_STEP if crossed is FailureKind.EXPLODING else 1.0 / SCALE_STEP


def rejudge_scaled(outcome: Outcome, scaled: Outcome, factor: float) -> Outcome:
    """``scaled`` is the same example with the earliest activation multiplied by ``factor``.

    Where the flow ratio follows that scale (like scale^-1: a normalization after the earliest
    end divides the gradient by the scale of its input), the ratio measures the input, and the
    scale-free ratio judges the example. Elsewhere (un-normalized nets, whose flow ratio does
    not depend on the input's scale, or only weakly through saturation) the flow ratio and the
    amplification judge it, as :func:`judge` did."""
    before, after = outcome.ratio, scaled.ratio
    if (
        scaled.kind in (FailureKind.ERROR, FailureKind.NONFINITE)
        or not before
        or not after
        or not (math.isfinite(before) and math.isfinite(after))
    ):
        return outcome
    exponent = math.log(after / before) / math.log(factor)
    if abs(exponent) < SCALE_EXPONENT or outcome.scale_free_ratio is None:
        return outcome
    assert outcome.limits is not None
    lim_v, lim_e = outcome.limits
    free = outcome.scale_free_ratio
    why = (
        f"the flow ratio {fmt(before)} follows the scale of the earliest activation "
        f"(x{factor:g} there moves it to {fmt(after)}, like scale^{exponent:.2g}): a "
        "normalization after it divides the gradient by that scale, so the ratio measures the "
        "input, not the network"
    )
    judged = replace(outcome, kind=None, message="", crossed=None)
    judged.score = max(math.log(lim_v / free), math.log(free / lim_e)) if free > 0 else math.inf
    kind = _free_crossed(outcome)
    if kind is not None:
        judged.kind = kind
        limit = lim_v if kind is FailureKind.VANISHING else lim_e
        judged.message = (
            f"scale-free ratio {fmt(free)} {'<' if kind is FailureKind.VANISHING else '>'} "
            f"{kind.value[:-3]} limit {fmt(limit)} (gradient x activation, earliest end over "
            f"latest). {why[0].upper()}{why[1:]}"
        )
        return judged
    if outcome.kind is not None:  # the raw ratio crossed: say why it does not count
        judged.notes = (
            *outcome.notes,
            f"{why[0].upper()}{why[1:]}; judged by the scale-free ratio {fmt(free)}, within "
            f"{fmt(lim_v)}..{fmt(lim_e)}",
        )
    _judge_time(judged)
    return judged


def rejudge_revived(
    outcome: Outcome, zero_before: tuple[str, ...], zero_after: tuple[str, ...]
) -> Outcome:
    """``outcome`` has exactly-zero gradients after the weights that were exactly zero at init
    (``zero_before``) took one SGD step (``zero_after``: still zero after it). Say why."""
    layer = outcome.layers[outcome.zeros[-1]]
    after = next((lay for lay in outcome.layers if lay.index > layer.index and lay.grad_rms), None)
    held = [name for name in zero_before if name in zero_after]
    cause = (
        f"the weights {', '.join(held[:3])} are exactly zero and stay zero after an update "
        "(a saddle that no optimizer step leaves)"
        if held
        else "every unit in between is inactive for every input (e.g. ReLUs whose inputs are "
        "all negative)"
        + (", also after one SGD step on the weights that were zero at init" if zero_before else "")
    )
    return replace(
        outcome,
        message=(
            f"the gradient is exactly zero at the output of {_at(layer)}"
            + (f" ({len(outcome.zeros)} layers in all)" if len(outcome.zeros) > 1 else "")
            + (f" and nothing passes to {_at(after)} after it" if after is not None else "")
            + f": {cause}"
        ),
    )


def stepped_note(outcome: Outcome, zero_before: tuple[str, ...]) -> Outcome:
    """The note on a model measured after one SGD step on its zero-initialised weights."""
    names = ", ".join(zero_before[:3]) + (
        f" and {len(zero_before) - 3} more" if len(zero_before) > 3 else ""
    )
    outcome.notes = (
        *outcome.notes,
        f"weights that are exactly zero at init ({names}) were measured after one SGD step on "
        "them: at init a zero head, a zero_init_residual BatchNorm or a LayerScale at 0 holds "
        "the gradient before it at exactly zero by design, and the first step revives it",
    )
    outcome.revived = True
    return outcome


#: A weight this small everywhere is small by design (LayerScale starts at 1e-4..1e-6), not an
#: init scale: the first optimizer step moves it by more than its size.
TINY_WEIGHT = 1e-4


def small_weights(model: torch.nn.Module, limit: float = 0.0) -> tuple[str, ...]:
    """Parameters (biases aside) whose every entry is at most ``limit`` in size (exactly zero by
    default): what holds a gradient at (or near) zero by design at init."""
    found = []
    for name, p in model.named_parameters():
        if not p.numel() or name.endswith("bias"):
            continue
        if bool(torch.linalg.vector_norm(p.detach(), math.inf) <= limit):
            found.append(name)
    return tuple(found)


def rejudge_stepped(outcome: Outcome, stepped: Outcome, tiny: tuple[str, ...]) -> Outcome:
    """``outcome`` vanished; ``stepped`` is the same example after one SGD step, taken because
    the model has weights that are tiny by design (``tiny``: LayerScale, a zero head). When the
    step lifts the flow out of the vanishing range, only those weights held it down: the
    stepped run is judged, with a note. Otherwise the first verdict stands."""
    if stepped.kind is FailureKind.VANISHING or stepped.kind is FailureKind.ERROR:
        return outcome
    names = ", ".join(tiny[:3]) + (f" and {len(tiny) - 3} more" if len(tiny) > 3 else "")
    stepped.notes = (
        *stepped.notes,
        f"vanishing at init only ({outcome.message.split(':')[0]}): weights after the earliest "
        f"layers are tiny by design ({names}, e.g. LayerScale), and one SGD step lifts the "
        f"flow ratio to {fmt(stepped.ratio)}; measured after that step",
    )
    stepped.revived = True
    return stepped
