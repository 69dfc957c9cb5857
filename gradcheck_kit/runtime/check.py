"""check_gradients(): the property "gradients stay within bounds", searched by Hypothesis.

The flow ratio
--------------
``ratio = RMS(dLoss/d output of the earliest layer) / RMS(dLoss/d input of the latest layer)``.

Both ends are gradients with respect to *hidden* activations: the earliest layer's output (the
first layer after the input embeddings, whose output scale is an init convention; the first
projection's output, not the raw input) and
the latest layer's input (the features the output head reads, not the head's own output). So a
width-changing head or input projection, whose backward factor is a one-off constant, does not
enter the ratio; what is left is the product of the per-layer multipliers of the body, which is
what vanishes or explodes with depth. Measured numbers are in the README ("What is measured").

Verdicts, in this order: ``error`` (the factory or the run raised), ``nonfinite`` (NaN/inf in the
forward output or activations, then in any gradient), ``dead`` (a layer whose output gradient is
exactly zero while the layer after it still gets one; in float16/bfloat16 also a zero that the
float32 run of the same example does not have: underflow), ``vanishing`` (ratio below the limit),
``exploding`` (ratio times forward growth above the limit).
"""

from __future__ import annotations

import contextlib
import math
import os
import random
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import target as hypothesis_target
from hypothesis.errors import Flaky
from torch import nn

from gradcheck_kit.report.gradients import (
    Bounds,
    DeviceResult,
    Failure,
    GradientFlowError,
    GradientReport,
    LayerStat,
    Parity,
    fmt,
)
from gradcheck_kit.report.progress import SearchProgress, progress_wanted
from gradcheck_kit.runtime.devices import dtype_name, resolve_input_dtype, resolve_targets, seed_for
from gradcheck_kit.runtime.probe import Probe, RawLayer, floating_tensors
from gradcheck_kit.runtime.strategies import (
    Example,
    depth_strategy,
    example_strategy,
    infer_input,
    input_strategy,
    inverse_width_sum,
    materialize,
)

__all__ = ["check_gradients", "run_example"]

LOW_PRECISION = (torch.float16, torch.bfloat16)
_EMBEDDINGS = frozenset({"Embedding", "EmbeddingBag"})
SHRINK_RUNS = 40  # at least this many shrinking runs after the first failure
DEFAULT_TIMEOUT = 600.0  # seconds per example: generous, but a hung model never hangs the tool


class ExampleTimeout(BaseException):
    """Raised by the alarm inside the factory or the model; a BaseException, so user code's own
    ``except Exception`` cannot swallow it and keep running."""


@dataclass
class Outcome:
    """One example, judged."""

    example: Example
    layers: tuple[LayerStat, ...] = ()
    ratio: float | None = None
    amplification: float | None = None
    limits: tuple[float, float] | None = None
    kind: str | None = None
    message: str = ""
    exception: str | None = None
    score: float = -math.inf  # >= 0 fails; the largest passing one is the "worst" example
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.kind is not None


class _Falsified(Exception):
    """Raised inside the property so Hypothesis shrinks; always from the same line, so every
    failure kind counts as one bug and shrinking may move between kinds."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.kind)
        self.outcome = outcome


# --------------------------------------------------------------------------- one run


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """SIGALRM interrupts Python code between torch ops (main thread on POSIX only; elsewhere
    the limit is checked after the run)."""
    usable = (
        seconds is not None
        and seconds > 0
        and hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
    )
    if not usable:
        start = time.perf_counter()
        yield
        if seconds and time.perf_counter() - start > seconds:
            raise ExampleTimeout(f"took longer than the {seconds:g} s time limit")
        return

    def on_alarm(signum: int, frame: Any) -> None:
        raise ExampleTimeout(f"took longer than the {seconds:g} s time limit")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    start = time.monotonic()
    outer, _ = signal.setitimer(signal.ITIMER_REAL, float(seconds or 0))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer > 0:  # someone else's alarm (pytest-timeout, the user's own) keeps running
            left = outer - (time.monotonic() - start)
            signal.setitimer(signal.ITIMER_REAL, max(left, 1e-3))


def probe_loss(outputs: list[torch.Tensor], seed: int) -> torch.Tensor:
    """Each floating output projected on a fixed random direction (seeded, drawn on the CPU so
    every device sees the same one), summed; computed in float32 so float16 does not overflow.
    The gradient reaching the output is that direction: unit RMS, never degenerate."""
    gen = torch.Generator().manual_seed(seed)
    total: torch.Tensor | None = None
    for out in outputs:
        direction = torch.randn(out.shape, generator=gen).to(out.device)
        term = (out.float() * direction).sum()
        total = term if total is None else total + term
    assert total is not None
    return total


def _format_exception(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _is_oom(exc: BaseException) -> bool:
    oom_type = getattr(torch, "OutOfMemoryError", None) or getattr(
        torch.cuda, "OutOfMemoryError", None
    )
    if oom_type is not None and isinstance(exc, oom_type):
        return True
    text = str(exc).lower()
    return isinstance(exc, (RuntimeError, MemoryError)) and (
        "out of memory" in text or "can't allocate memory" in text or isinstance(exc, MemoryError)
    )


@dataclass
class _Run:
    layers: list[RawLayer]
    output_nonfinite: str | None  # "nan" | "inf" | None
    loss_nonfinite: str | None


def _nonfinite(value: float | None) -> str | None:
    if value is None or math.isfinite(value):
        return None
    return "NaN" if math.isnan(value) else "inf"


def _run(
    factory: Callable[[int], Any],
    example: Example,
    loss: Callable[[Any], torch.Tensor] | None,
    *,
    saturation: bool,
) -> _Run:
    seed_for(example.init_seed, example.device)
    model = factory(example.depth)
    if not isinstance(model, nn.Module):
        raise _UserError(
            f"the factory returned {type(model).__name__}, not a torch.nn.Module "
            f"(factory(depth) must build the model)"
        )
    if not any(True for _ in model.parameters()):
        raise _UserError("the model has no parameters: there is no gradient to check")
    first = next(model.parameters())
    if first.device != torch.device(example.device) or first.dtype != example.dtype:
        model.to(device=example.device, dtype=example.dtype)  # a no-op .to still walks the tree
    args, kwargs = materialize(example.inputs, example.device, example.dtype)
    with Probe(model, saturation=saturation) as probe:
        output = model(*args, **kwargs)
        probe.stop_forward()
        outputs = list(floating_tensors(output))
        if not outputs:
            raise _UserError(
                "the model returned no floating-point tensor (integer outputs, e.g. argmax, "
                "carry no gradient): return the logits, or pass loss="
            )
        out_norms = [torch.linalg.vector_norm(o.detach().float()) for o in outputs]
        output_nonfinite = _nonfinite(float(torch.stack(out_norms).sum()))
        probe.watch_last_input()
        value = loss(output) if loss is not None else probe_loss(outputs, example.init_seed)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            raise _UserError("loss(output) must return a scalar tensor")
        if not value.requires_grad:
            raise _UserError(
                "the loss does not depend on any parameter (are all parameters frozen, or the "
                "forward run under torch.no_grad()?)"
            )
        loss_nonfinite = _nonfinite(float(value.detach()))
        probe.backward(value)
        return _Run(probe.collect(), output_nonfinite, loss_nonfinite)


class _UserError(Exception):
    """The model or its factory does something the check cannot measure."""


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


def _judge(
    example: Example,
    run: _Run,
    bounds: Bounds,
    reference: _Run | None = None,
) -> Outcome:
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
    out = Outcome(example, layers)
    where = "layer {} ({} {!r})"

    def at(layer: LayerStat) -> str:
        return where.format(layer.index, layer.type, layer.name)

    # 1. non-finite values: forward first, then backward
    fwd_bad = [(layer, _nonfinite(layer.activation_rms)) for layer in layers]
    fwd_bad = [(layer, k) for layer, k in fwd_bad if k]
    if fwd_bad or run.output_nonfinite:
        if fwd_bad:
            layer, kind = fwd_bad[0]
            place = f"first at the output of {at(layer)}"
        else:
            kind = run.output_nonfinite
            place = "in the model output (after the last layer with parameters)"
        out.kind, out.message = "nonfinite", f"{kind} in the forward pass, {place}"
        out.score = math.inf
        return out
    if run.loss_nonfinite:
        out.kind, out.message = "nonfinite", f"the loss is {run.loss_nonfinite}"
        out.score = math.inf
        return out
    bwd_bad = []
    for layer in reversed(layers):  # the backward pass meets the latest layer first
        for value in (layer.input_grad_rms, layer.grad_rms, layer.param_grad_rms):
            kind = _nonfinite(value)
            if kind:
                bwd_bad.append((layer, kind))
                break
    if bwd_bad:
        layer, kind = bwd_bad[0]
        out.kind = "nonfinite"
        out.message = f"{kind} in the backward pass, first at {at(layer)} (forward was finite)"
        out.score = math.inf
        return out

    # 2. the flow ratio, from the earliest to the latest layer that got a gradient
    reached = [layer for layer in layers if layer.grad_rms is not None]
    if not reached:
        out.kind = "error"
        out.message = "no gradient reached any layer's output"
        out.score = math.inf
        return out
    # Input embeddings are skipped when anything follows them: their output scale is an init
    # convention (BERT's std 0.02 right before a LayerNorm gives a x50 gradient there, which the
    # norm undoes), not a property of the flow through the body.
    body = [layer for layer in reached if layer.type not in _EMBEDDINGS]
    if body and body[0] is not reached[0] and reached[0].type in _EMBEDDINGS:
        reached = reached[reached.index(body[0]) :]
    first, last = reached[0], reached[-1]
    end = last.input_grad_rms if last.input_grad_rms not in (None, 0.0) else last.grad_rms
    assert end is not None and first.grad_rms is not None
    path = reached[:-1] if last.input_grad_rms not in (None, 0.0) else reached
    lim_v, lim_e = bounds.limits(inverse_width_sum([layer.width for layer in path[:-1] or path]))
    out.limits = (lim_v, lim_e)
    ratio = first.grad_rms / end if end > 0 else (0.0 if first.grad_rms == 0 else math.inf)
    growth = 1.0
    raw_last = raws[last.index]
    if raw_last.input_activation_rms and first.activation_rms:
        growth = max(1.0, raw_last.input_activation_rms / first.activation_rms)
    out.ratio, out.amplification = ratio, ratio * growth

    # 3. exactly-zero gradients: underflow, a decay that reached zero, or a dead layer
    zeros = [layer for layer in reached if layer.grad_rms == 0.0]
    if zeros:
        low = [layer for layer in zeros if layer.underflow]
        if low:
            ref = ref_grads[low[0].index]
            out.kind = "dead"
            out.message = (
                f"{len(low)} layer(s) get exactly zero gradient in {dtype_name(example.dtype)} "
                f"but {fmt(ref)} in float32: underflow, first at {at(low[0])} (use float32 or "
                "bfloat16 for these layers, or a loss scale)"
            )
            out.score = math.inf
            return out
        z = zeros[-1]
        after = next((layer for layer in reached if layer.index > z.index and layer.grad_rms), None)
        decayed = after is not None and (after.grad_rms or 0.0) / end < lim_v
        if not decayed:
            out.kind = "dead"
            out.message = (
                f"the gradient is exactly zero at the output of {at(z)}"
                + (f" ({len(zeros)} layers in all)" if len(zeros) > 1 else "")
                + (
                    f", while the next layer still gets {fmt(after.grad_rms)}"
                    if after is not None
                    else ""
                )
                + ": every unit after it is inactive (dead ReLUs, a zero mask, a detached path)"
            )
            out.score = math.inf
            return out

    # 4. the bounds
    score_v = math.log(lim_v / ratio) if ratio > 0 else math.inf
    score_e = math.log(out.amplification / lim_e) if out.amplification > 0 else -math.inf
    out.score = max(score_v, score_e)
    n = max(1, len(path) - 1)
    if score_v >= 0:
        per_layer = ratio ** (1 / n) if ratio > 0 else 0.0
        out.kind = "vanishing"
        out.message = (
            f"flow ratio {fmt(ratio)} < vanish limit {fmt(lim_v)}: the earliest layer gets "
            f"{fmt(first.grad_rms)}, the latest {fmt(end)} (about x{per_layer:.3g} per layer "
            f"over {n} layers)"
        )
    elif score_e > 0:
        out.kind = "exploding"
        out.message = (
            f"flow ratio {fmt(ratio)} x forward growth {growth:.3g} = {fmt(out.amplification)} "
            f"> explode limit {fmt(lim_e)}: the earliest layer gets {fmt(first.grad_rms)}, "
            f"the latest {fmt(end)} (about x{ratio ** (1 / n):.3g} per layer over {n} layers)"
        )
    return out


def run_example(
    factory: Callable[[int], Any],
    example: Example,
    *,
    loss: Callable[[Any], torch.Tensor] | None = None,
    bounds: Bounds | None = None,
    saturation: bool = False,
    timeout: float | None = None,
) -> Outcome:
    """Build, run and judge one example; every problem becomes an Outcome, never an exception."""
    bounds = bounds or Bounds()
    try:
        with _time_limit(timeout), torch.enable_grad():
            run = _run(factory, example, loss, saturation=saturation)
            reference = None
            if example.dtype in LOW_PRECISION and any(r.grad_rms == 0.0 for r in run.layers):
                reference = _run(
                    factory,
                    example.with_target(example.device, torch.float32),
                    loss,
                    saturation=False,
                )
    except ExampleTimeout as exc:
        outcome = _error(example, f"depth {example.depth}: {exc}", None)
        outcome.extra["timeout"] = True
        return outcome
    except _UserError as exc:
        return _error(example, str(exc), None)
    except Exception as exc:
        if _is_oom(exc):
            _free_memory(example.device)
            return _error(
                example,
                f"out of memory on {example.device} at depth {example.depth}",
                _format_exception(exc),
            )
        return _error(
            example,
            f"the factory or the forward/backward pass raised at depth {example.depth}",
            _format_exception(exc),
        )
    return _judge(example, run, bounds, reference)


def _error(example: Example, message: str, exception: str | None) -> Outcome:
    return Outcome(example, kind="error", message=message, exception=exception, score=math.inf)


def _free_memory(device: str) -> None:
    if device.startswith("cuda"):
        with contextlib.suppress(Exception):
            torch.cuda.empty_cache()


# --------------------------------------------------------------------------- global state


@contextlib.contextmanager
def _preserved_torch_state() -> Iterator[None]:
    """A check leaves torch as it found it: RNG streams, grad mode, default dtype."""
    cpu_rng = torch.get_rng_state()
    cuda_rng = (
        torch.cuda.get_rng_state_all()
        if torch.cuda.is_available() and torch.cuda.is_initialized()  # type: ignore[no-untyped-call]
        else None
    )
    grad_mode = torch.is_grad_enabled()
    default_dtype = torch.get_default_dtype()
    try:
        yield
    finally:
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
        torch.set_grad_enabled(grad_mode)
        torch.set_default_dtype(default_dtype)


# --------------------------------------------------------------------------- the search


def _target_name(factory: Callable[..., Any]) -> str:
    module = getattr(factory, "__module__", None) or "?"
    qualname = getattr(factory, "__qualname__", None) or repr(factory)
    return f"{module}:{qualname}"


def _effective_seed(seed: int | None) -> int:
    if seed is not None:
        return int(seed)
    if os.environ.get("CI"):
        return 0  # derandomized in CI: the same run every time
    return random.SystemRandom().randrange(2**32)


def check_gradients(
    factory: Callable[[int], Any],
    *,
    depths: Any = (2, 32),
    input_shape: Any = None,
    inputs: Any = None,
    input_dtype: Any = None,
    vocab_size: int | None = None,
    loss: Callable[[Any], torch.Tensor] | None = None,
    bounds: Bounds = Bounds(),  # noqa: B008 - frozen, safe to share
    devices: Any = "cpu",
    dtypes: Any = (torch.float32,),
    max_examples: int = 30,
    seed: int | None = None,
    raise_on_failure: bool = True,
    timeout: float | None = DEFAULT_TIMEOUT,
    name: str | None = None,
    database: Any = None,
    progress: bool | None = None,
) -> GradientReport:
    """Build ``factory(depth)`` at depths and inputs Hypothesis draws, run forward + backward and
    check the flow ratio stays within ``bounds`` (see the module docstring for the definitions).

    ``timeout`` limits each example (seconds, default 600; ``None``: no limit); ``name`` labels
    the report; ``database`` is a Hypothesis example database (or a directory path) to save
    failures to - none by default.
    ``progress`` shows a progress bar on stderr once the check has run for a second; by default
    only when stderr is a terminal and not under pytest.
    Raises :class:`GradientFlowError` on failure unless ``raise_on_failure=False``, and
    :class:`DeviceUnavailableError` for a device that is not there (a skip under pytest).
    """
    started = time.perf_counter()
    if max_examples < 1:
        raise ValueError(f"max_examples must be >= 1, got {max_examples}")
    if not callable(factory):
        raise TypeError("factory must be callable: factory(depth) -> torch.nn.Module")
    target = name or _target_name(factory)
    device_list, dtype_list = resolve_targets(devices, dtypes)
    in_dtype = resolve_input_dtype(input_dtype)
    depth_st, depth_range = depth_strategy(depths)
    run_seed = _effective_seed(seed)

    with _preserved_torch_state():
        min_batch = None
        if inputs is None:
            probe = _probe_model(
                factory, depth_range, run_seed, required=input_shape is None, timeout=timeout
            )
            if input_shape is None:
                assert probe is not None
                input_shape, inferred_vocab = infer_input(probe)
                vocab_size = vocab_size or inferred_vocab
            if probe is not None and _uses_batch_statistics(probe):
                # BatchNorm on a batch of 2 maps every feature to +-1: a degenerate regime no
                # one trains in, whose gradients say nothing about real training.
                min_batch = min(MIN_NORM_BATCH, int(next(iter(input_shape))))
        input_st = input_strategy(inputs, input_shape, in_dtype, vocab_size, min_batch)
        strategy = example_strategy(depth_st, input_st, device_list, dtype_list)
        tried: set[int] = set()
        with SearchProgress(
            target,
            max_examples,
            enabled=progress_wanted() if progress is None else progress,
        ) as bar:
            outcome, worst, count = _search(
                factory,
                strategy,
                loss,
                bounds,
                max_examples,
                run_seed,
                timeout,
                database,
                tried=tried,
                progress=bar,
            )
        reported = outcome or worst
        devices_run: list[DeviceResult] = []
        parity: list[Parity] = []
        replays: list[Outcome] = []
        if reported is not None and reported.kind != "error":
            reported, devices_run, parity, replays = _replay(
                factory, reported, loss, bounds, device_list, dtype_list, timeout
            )
            count += len(devices_run)
            if outcome is not None:
                outcome = reported
            else:  # a device or dtype the search did not draw for this example failed
                outcome = next((o for o in replays if o.failed), None)
                reported = outcome or reported

    failure = _failure(outcome) if outcome is not None else None
    example = reported.example if reported else None
    report = GradientReport(
        target=target,
        passed=failure is None,
        failure=failure,
        examples_run=count,
        layers=reported.layers if reported else (),
        ratio=reported.ratio if reported else None,
        amplification=reported.amplification if reported else None,
        limits=reported.limits if reported else None,
        example=example.to_dict() if example else None,
        bounds=bounds,
        seed=run_seed,
        depths=depth_range,
        devices=tuple(devices_run),
        parity=tuple(parity),
        elapsed_s=time.perf_counter() - started,
        reproduce=_reproduce(target, depth_range, run_seed, example),
        depths_tried=tuple(sorted(tried)),
    )
    if failure is not None and raise_on_failure:
        raise GradientFlowError(report)
    return report


MIN_NORM_BATCH = 16


def _probe_model(
    factory: Callable[[int], Any],
    depth_range: tuple[int, int] | None,
    seed: int,
    required: bool,
    timeout: float | None = None,
) -> nn.Module | None:
    """One model at the smallest depth, to infer the input and see what it contains. A factory
    that fails here is reported properly by the first example, unless the input is needed."""
    depth = depth_range[0] if depth_range else 2
    torch.manual_seed(seed)
    try:
        with _time_limit(timeout):
            model = factory(depth)
    except (Exception, ExampleTimeout) as exc:
        if not required:
            return None  # the first example reports it (a timeout: once, with no shrinking)
        raise ValueError(
            f"cannot infer the input: factory({depth}) raised {_format_exception(exc)}; "
            "pass input_shape="
        ) from exc
    if not isinstance(model, nn.Module):
        if not required:
            return None
        raise ValueError(f"factory({depth}) returned {type(model).__name__}, not an nn.Module")
    return model


def _uses_batch_statistics(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def _search(
    factory: Callable[[int], Any],
    strategy: Any,
    loss: Callable[[Any], torch.Tensor] | None,
    bounds: Bounds,
    max_examples: int,
    run_seed: int,
    timeout: float | None,
    database: Any,
    *,
    tried: set[int] | None = None,
    progress: SearchProgress | None = None,
) -> tuple[Outcome | None, Outcome | None, int]:
    """Hypothesis drives; returns (smallest failure or None, worst passing example, runs)."""
    state: dict[str, Any] = {"count": 0, "worst": None, "last_failure": None, "shrinks": 0}
    seen: dict[str, Outcome] = {}
    # Shrinking stops after this many runs past the first failure: each run is a full forward +
    # backward, and the depth (what matters most) shrinks first. Counted in runs, not seconds,
    # so a seeded run stays identical.
    shrink_budget = max(SHRINK_RUNS, max_examples)

    def prop(example: Example) -> None:
        key = repr(example)
        outcome = seen.get(key)
        if outcome is None:
            last = state["last_failure"]
            if last is not None and (
                state["shrinks"] >= shrink_budget or last.extra.get("timeout")
            ):
                # budget spent (or each try may take the whole time limit): every new
                # candidate is rejected, so shrinking ends
                return
            state["count"] += 1
            if state["last_failure"] is not None:
                state["shrinks"] += 1
            if tried is not None:
                tried.add(example.depth)
            if progress is not None:
                progress.example(example.depth, shrinking=state["last_failure"] is not None)
            outcome = run_example(factory, example, loss=loss, bounds=bounds, timeout=timeout)
            seen[key] = outcome
        if outcome.failed:
            state["last_failure"] = outcome
            raise _Falsified(outcome)
        worst = state["worst"]
        if worst is None or outcome.score > worst.score:
            state["worst"] = outcome
        if math.isfinite(outcome.score):
            # steer the search towards the edge of the bounds
            hypothesis_target(outcome.score, label="closeness to the bounds")

    if isinstance(database, (str, os.PathLike)):
        from hypothesis.database import DirectoryBasedExampleDatabase

        database = DirectoryBasedExampleDatabase(os.fspath(database))
    test = settings(
        max_examples=max_examples,
        deadline=None,
        database=database,
        derandomize=False,  # hypothesis_seed below fixes the stream instead
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
        print_blob=False,
        report_multiple_bugs=False,
        # no "explain" phase: it traces every Python line of the model (10-50x slower runs)
        phases=(Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink),
    )(hypothesis_seed(run_seed)(given(strategy)(prop)))  # type: ignore[no-untyped-call]
    if database is None:
        # Hypothesis keys the example database by a digest of the test's source (getsource +
        # tokenize, ~1 ms a check); with no database the key is never used. A Hypothesis that
        # no longer reads this attribute just computes the digest.
        test._hypothesis_internal_database_key = None
    failure: Outcome | None = None
    try:
        test()
    except _Falsified as exc:
        failure = exc.outcome
    except Flaky:
        failure = state["last_failure"]
    except BaseException as exc:  # ExceptionGroup from Hypothesis, or a Falsified inside it
        found = _find_falsified(exc)
        if found is None:
            raise
        failure = found
    return failure, state["worst"], state["count"]


def _find_falsified(exc: BaseException) -> Outcome | None:
    if isinstance(exc, _Falsified):
        return exc.outcome
    for inner in getattr(exc, "exceptions", ()) or ():
        found = _find_falsified(inner)
        if found is not None:
            return found
    return None


def _replay(
    factory: Callable[[int], Any],
    reported: Outcome,
    loss: Callable[[Any], torch.Tensor] | None,
    bounds: Bounds,
    device_list: list[str],
    dtype_list: list[torch.dtype],
    timeout: float | None,
) -> tuple[Outcome, list[DeviceResult], list[Parity], list[Outcome]]:
    """Run the reported example once more with saturation measured, on every device and dtype:
    the per-device table and the CPU/accelerator parity."""
    base = reported.example
    targets = [(base.device, base.dtype)] + [
        (d, t) for d in device_list for t in dtype_list if (d, t) != (base.device, base.dtype)
    ]
    results: list[DeviceResult] = []
    outcomes: list[Outcome] = []
    ratios: dict[tuple[str, torch.dtype], float | None] = {}
    detailed = reported
    for device, dtype in targets:
        outcome = run_example(
            factory,
            base.with_target(device, dtype),
            loss=loss,
            bounds=bounds,
            saturation=True,
            timeout=timeout,
        )
        if (device, dtype) == (base.device, base.dtype):
            detailed = outcome if outcome.kind == reported.kind else reported
        ratios[(device, dtype)] = outcome.ratio
        outcomes.append(outcome)
        results.append(
            DeviceResult(
                device=device,
                dtype=dtype_name(dtype),
                ratio=outcome.ratio,
                amplification=outcome.amplification,
                passed=not outcome.failed,
                kind=outcome.kind,
                message=outcome.message,
            )
        )
    parity: list[Parity] = []
    for dtype in dtype_list:
        ran = [d for d in device_list if (d, dtype) in ratios]
        for other in ran[1:]:
            a, b = ratios[(ran[0], dtype)], ratios[(other, dtype)]
            rel = _rel_diff(a, b)
            parity.append(
                Parity(
                    dtype=dtype_name(dtype),
                    devices=(ran[0], other),
                    ratios=(a, b),
                    rel_diff=rel,
                    agree=rel is not None and rel <= bounds.parity_rtol,
                )
            )
    return detailed, results, parity, outcomes


def _rel_diff(a: float | None, b: float | None) -> float | None:
    if a is None or b is None:
        return None
    if a == b:
        return 0.0
    if not (math.isfinite(a) and math.isfinite(b)) or max(abs(a), abs(b)) == 0:
        return math.inf
    return abs(a - b) / max(abs(a), abs(b))


def _failure(outcome: Outcome) -> Failure:
    ex = outcome.example
    return Failure(
        kind=outcome.kind or "error",
        depth=ex.depth,
        ratio=outcome.ratio,
        amplification=outcome.amplification,
        device=ex.device,
        dtype=dtype_name(ex.dtype),
        input_desc=ex.describe_input(),
        layers=outcome.layers,
        message=outcome.message,
        exception=outcome.exception,
        example=ex.to_dict(),
    )


def _reproduce(
    target: str, depth_range: tuple[int, int] | None, seed: int, example: Example | None
) -> str:
    depths = f", depths={depth_range}" if depth_range else ""
    text = f"check_gradients({target}{depths}, seed={seed}) replays this run"
    if example is not None:
        text += (
            f"; the example alone: depth {example.depth}, init seed {example.init_seed} "
            "(torch.manual_seed before factory(depth)), "
            f"{example.device}/{dtype_name(example.dtype)}, input {example.describe_input()}"
        )
    return text
