"""sweep(): the flow ratio against depth, a per-layer gain, the depth where it gets unsafe.

Where :func:`gradcheck_kit.check_gradients` asks "is this within bounds at the depths Hypothesis
picks?", a sweep measures the whole curve: ``factory(depth)`` at every depth asked for, ``seeds``
times each (seed ``s`` seeds both ``torch.manual_seed`` before the factory and the input, and is
the same at every depth, so neighbouring depths share their first layers' weights and the curve
is smooth), the same flow ratio and probe loss as the check, then the fit of
:mod:`gradcheck_kit.report.sweeps`. No Hypothesis search runs: every point is a plain seeded
forward + backward, so a sweep replays exactly.

When the model is a plain MLP (an ``nn.Sequential`` of ``Linear`` layers and one kind of
activation module, square hidden layers), the report also carries the mean-field prediction of
its gain (:func:`gradcheck_kit.theory.predicted_gain`) from the weight and bias variances of the
model as built.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import nn

from gradcheck_kit import theory
from gradcheck_kit.report.gradients import Bounds
from gradcheck_kit.report.sweeps import (
    SweepCurve,
    SweepPoint,
    SweepReport,
    TheoryCheck,
    fit_curve,
    safe_depth,
)
from gradcheck_kit.runtime.check import run_example
from gradcheck_kit.runtime.devices import dtype_name, resolve_input_dtype, resolve_targets
from gradcheck_kit.runtime.harness import (
    effective_seed,
    preserving_state,
    target_name,
)
from gradcheck_kit.runtime.strategies import Example, InputSpec, infer_input
from gradcheck_kit.runtime.verdict import Outcome

__all__ = ["DEFAULT_DEPTHS", "plain_mlp_theory", "sweep"]

DEFAULT_DEPTHS = range(2, 65, 2)
THEORY_TOLERANCE = 0.10


def _depth_list(depths: Any) -> list[int]:
    if isinstance(depths, int) and not isinstance(depths, bool):
        depths = [depths]
    try:
        values = sorted({int(d) for d in depths})
    except (TypeError, ValueError):
        raise ValueError(
            f"depths must be an iterable of ints (e.g. range(2, 65, 2)), got {depths!r}"
        ) from None
    if not values or values[0] < 1:
        raise ValueError(f"depths must be positive ints, got {depths!r}")
    return values


def _inputs(
    factory: Callable[[int], Any],
    depth: int,
    seeds: int,
    base_seed: int,
    inputs: Any,
    input_shape: Any,
    input_dtype: torch.dtype | None,
    vocab_size: int | None,
) -> list[Any]:
    """One forward input per seed: an :class:`InputSpec` (unit-scale normal floats or token
    ids, seeded), or ``seeds`` draws from the user's Hypothesis strategy."""
    if inputs is not None:
        return _draw(inputs, seeds, base_seed)
    if input_shape is None:
        torch.manual_seed(base_seed)
        try:
            model = factory(depth)
        except Exception as exc:
            raise ValueError(
                f"cannot infer the input: factory({depth}) raised {type(exc).__name__}: {exc}; "
                "pass input_shape="
            ) from exc
        if not isinstance(model, nn.Module):
            raise ValueError(f"factory({depth}) returned {type(model).__name__}, not an nn.Module")
        input_shape, inferred = infer_input(model)
        vocab_size = vocab_size or inferred
    shape = tuple(int(s) for s in input_shape)
    tokens = vocab_size is not None or (
        input_dtype is not None and not input_dtype.is_floating_point
    )
    if tokens and vocab_size is None:
        raise ValueError(
            f"input_dtype={input_dtype} means token ids: pass vocab_size (CLI: --vocab-size N)"
        )
    return [
        InputSpec(
            shape, seed=base_seed + s, vocab_size=vocab_size, dtype=input_dtype if tokens else None
        )
        for s in range(seeds)
    ]


def _draw(strategy: Any, count: int, base_seed: int) -> list[Any]:
    """``count`` values from a Hypothesis strategy, reproducibly (seeded, no database)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hypothesis_seed
    from hypothesis import strategies as st

    if not isinstance(strategy, st.SearchStrategy):
        raise ValueError("inputs must be a Hypothesis strategy (see gradcheck_kit.strategies)")
    drawn: list[Any] = []

    @settings(
        max_examples=max(count * 4, 10),
        database=None,
        deadline=None,
        phases=(Phase.generate,),
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(base_seed)
    @given(strategy)
    def collect(value: Any) -> None:
        if len(drawn) < count:
            drawn.append(value)

    collect()
    if not drawn:
        raise ValueError("the inputs strategy produced no value")
    while len(drawn) < count:  # a strategy with fewer distinct values than seeds
        drawn.append(drawn[len(drawn) % max(1, len(drawn))])
    return drawn


def _point(depth: int, outcomes: list[Outcome]) -> SweepPoint:
    ratios: list[float | None] = []
    kinds: list[str | None] = []
    messages: list[str] = []
    for outcome in outcomes:
        kind = outcome.kind.value if outcome.kind and not outcome.kind.is_flow else None
        ratio = outcome.ratio if kind != "error" else None
        if kind is None and ratio == 0.0:
            kind = "underflow"
        ratios.append(ratio)
        kinds.append(kind)
        if kind is not None:
            text = (
                outcome.message
                if kind != "underflow"
                else (
                    "the earliest layer's gradient measured exactly 0 in "
                    f"{dtype_name(outcome.example.dtype)} (a gradient this small underflows): "
                    "not fitted"
                )
            )
            if outcome.exception:
                text += f" ({outcome.exception})"
            if text not in messages:
                messages.append(text)
    layers = next((len(o.layers) for o in outcomes if o.layers), None)
    return SweepPoint(depth, tuple(ratios), tuple(kinds), layers, tuple(messages))


def _layers_per_depth(points: list[SweepPoint]) -> float | None:
    pairs = [(p.depth, p.layers) for p in points if p.layers]
    if len({d for d, _ in pairs}) < 2:
        return None
    n = len(pairs)
    mx = sum(d for d, _ in pairs) / n
    my = sum(layers for _, layers in pairs) / n
    sxx = sum((d - mx) ** 2 for d, _ in pairs)
    sxy = sum((d - mx) * (layers - my) for d, layers in pairs)
    return round(sxy / sxx, 3) if sxx else None


@preserving_state
def sweep(
    factory: Callable[[int], Any],
    depths: Iterable[int] | int = DEFAULT_DEPTHS,
    seeds: int = 5,
    *,
    input_shape: Any = None,
    inputs: Any = None,
    input_dtype: Any = None,
    vocab_size: int | None = None,
    loss: Callable[[Any], torch.Tensor] | None = None,
    bounds: Bounds = Bounds(),  # noqa: B008 - frozen, safe to share
    devices: Any = "cpu",
    dtypes: Any = (torch.float32,),
    seed: int | None = 0,
    timeout: float | None = None,
    name: str | None = None,
    confidence: float = 0.95,
    theory_check: bool = True,
) -> SweepReport:
    """Measure the flow ratio of ``factory(depth)`` at every depth in ``depths``, ``seeds`` times
    each, fit ``ln(ratio) = a + depth * ln(gain)`` and find the depth where the curve crosses
    ``bounds`` (definitions: :mod:`gradcheck_kit.report.sweeps`).

    Input, loss, device and dtype options are those of :func:`gradcheck_kit.check_gradients`;
    with several devices or dtypes each gets its own curve. ``seed`` offsets the per-point seeds
    (``None``: random, or 0 under ``CI``). ``theory_check=False`` skips the mean-field
    prediction. Never raises for a model that breaks: those points are marked in the report.
    """
    started = time.perf_counter()
    if not callable(factory):
        raise TypeError("factory must be callable: factory(depth) -> torch.nn.Module")
    if seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    depth_list = _depth_list(depths)
    target = name or target_name(factory)
    device_list, dtype_list = resolve_targets(devices, dtypes)
    in_dtype = resolve_input_dtype(input_dtype)
    base_seed = effective_seed(seed)

    curves: list[SweepCurve] = []
    problems: list[str] = []
    notes: list[str] = []
    check: TheoryCheck | None = None
    specs = _inputs(
        factory, depth_list[0], seeds, base_seed, inputs, input_shape, in_dtype, vocab_size
    )
    for device in device_list:
        for dtype in dtype_list:
            points = []
            for depth in depth_list:
                outcomes = [
                    run_example(
                        factory,
                        Example(depth, specs[s], base_seed + s, device, dtype),
                        loss=loss,
                        bounds=bounds,
                        timeout=timeout,
                    )
                    for s in range(seeds)
                ]
                points.append(_point(depth, outcomes))
            fit = fit_curve(points, confidence)
            safe, extrapolated, crossed = safe_depth(fit, points, bounds)
            curves.append(
                SweepCurve(
                    device,
                    dtype_name(dtype),
                    tuple(points),
                    fit,
                    safe,
                    extrapolated,
                    crossed,
                    _layers_per_depth(points),
                )
            )
    if theory_check:
        try:
            check = plain_mlp_theory(
                factory, depth_list[len(depth_list) // 2], base_seed, curves[0]
            )
        except Exception as exc:  # the prediction is an extra: never fail the sweep on it
            notes.append(f"theory cross-check skipped: {type(exc).__name__}: {exc}")
    return SweepReport(
        target=target,
        curves=tuple(curves),
        bounds=bounds,
        depths=tuple(depth_list),
        seeds=seeds,
        seed=base_seed,
        theory=check,
        problems=tuple(problems),
        notes=tuple(notes),
        elapsed_s=time.perf_counter() - started,
    )


# --------------------------------------------------------------------------- theory


def _flatten(module: nn.Module) -> list[nn.Module] | None:
    """The leaf modules of nested ``nn.Sequential``s, in forward order; None if anything else
    holds children (its forward is code we cannot read)."""
    out: list[nn.Module] = []
    for child in module.children():
        if isinstance(child, nn.Sequential):
            inner = _flatten(child)
            if inner is None:
                return None
            out += inner
        elif any(True for _ in child.children()):
            return None
        else:
            out.append(child)
    return out


def _plain_stack(model: nn.Module) -> tuple[list[nn.Linear], nn.Module, str] | None:
    """(square hidden Linear layers, the activation module, where) of a plain MLP, or None."""
    candidates: list[tuple[str, nn.Module]] = (
        [("the model", model)] if isinstance(model, nn.Sequential) else []
    )
    if not candidates:  # a wrapper whose one Sequential child holds the whole body
        seqs = [(n, m) for n, m in model.named_children() if isinstance(m, nn.Sequential)]
        if len(seqs) == 1:
            candidates.append((f"its submodule {seqs[0][0]!r}", seqs[0][1]))
    for where, seq in candidates:
        leaves = _flatten(seq)
        if not leaves:
            continue
        acts = [m for m in leaves if not isinstance(m, nn.Linear)]
        if any(any(True for _ in m.parameters()) for m in acts):
            continue  # a normalization or another layer with parameters: not plain
        kinds = {type(m) for m in acts}
        if len(kinds) != 1 or next(iter(kinds)) in (nn.Dropout, nn.Identity):
            continue
        hidden = [
            m
            for i, m in enumerate(leaves)
            if isinstance(m, nn.Linear)
            and m.in_features == m.out_features
            and i + 1 < len(leaves)
            and not isinstance(leaves[i + 1], nn.Linear)
            and i > 0
            and not isinstance(leaves[i - 1], nn.Linear)
        ]
        if len(hidden) >= 2:
            return hidden, acts[0], where
    return None


def plain_mlp_theory(
    factory: Callable[[int], Any], depth: int, seed: int, curve: SweepCurve | None = None
) -> TheoryCheck | None:
    """Build ``factory(depth)``; if it is a plain MLP, the mean-field prediction of its gain from
    the variances of the weights and biases as built (s_w^2 = fan_in * mean(W^2),
    s_b^2 = mean(b^2), over the square hidden layers). None for any other model."""
    torch.manual_seed(seed)
    model = factory(depth)
    if not isinstance(model, nn.Module):
        return None
    found = _plain_stack(model)
    if found is None:
        return None
    hidden, act, where = found
    with torch.no_grad():
        wv = [float(m.weight.double().pow(2).mean()) * m.in_features for m in hidden]
        bv = [float(m.bias.double().pow(2).mean()) if m.bias is not None else 0.0 for m in hidden]
    weight_var, bias_var = sum(wv) / len(wv), sum(bv) / len(bv)
    field = theory.mean_field(act, weight_var, bias_var)
    measured = curve.fit.gain if curve is not None else None
    per_depth = curve.layers_per_depth if curve is not None and curve.layers_per_depth else 1.0
    note = f"read {where} as a plain MLP: {len(hidden)} square {hidden[0].in_features}-wide layers"
    if curve is not None and curve.fit.shape != "log-linear":
        note += f"; the measured curve is {curve.fit.shape}, so the comparison is loose"
    if not math.isfinite(field.q_star):
        note += "; the forward variance grows without bound (chi taken at large q)"
    return TheoryCheck(
        activation=type(act).__name__,
        weight_var=weight_var,
        bias_var=bias_var,
        q_star=field.q_star,
        predicted_gain=field.gain,
        layers_per_depth=per_depth,
        measured=measured,
        tolerance=THEORY_TOLERANCE,
        note=note,
    )
