"""check_gradients(): the property "gradients stay within bounds", searched by Hypothesis.

Each example (depth, input, init seed, device, dtype) is built, run forward and backward under
the probe (:mod:`gradcheck_kit.runtime.probe`) and judged by
:mod:`gradcheck_kit.runtime.verdict`, the one place that defines the flow ratio and decides
vanishing / exploding / nonfinite / dead / error. Two verdicts are confirmed by a second run of
the same example before they stand:

* a crossed flow bound is re-measured with the earliest activation scaled x10 (or /10): if the
  ratio follows that scale, a normalization is measuring the input's scale, and the scale-free
  ratio decides;
* a model with weights that are exactly zero at init (zero_init_residual, a zero head,
  LayerScale at 0) is measured after one SGD step on them: zeros left after it are dead.

Dropout and DropPath-style modules run in eval mode (:func:`harness.stochastic_modules_off`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import inspect
import math
import os
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import target as hypothesis_target
from hypothesis.errors import Flaky
from torch import nn

from gradcheck_kit._io import ignore_in_git
from gradcheck_kit.report.gradients import (
    Bounds,
    DeviceResult,
    Failure,
    FailureKind,
    GradientFlowError,
    GradientReport,
    Parity,
)
from gradcheck_kit.report.progress import SearchProgress, progress_wanted
from gradcheck_kit.runtime.devices import dtype_name, resolve_input_dtype, resolve_targets, seed_for
from gradcheck_kit.runtime.harness import (
    ExampleTimeout,
    UserError,
    effective_seed,
    format_exception,
    free_memory,
    is_oom,
    preserving_state,
    stochastic_modules_off,
    target_name,
    time_limit,
)
from gradcheck_kit.runtime.probe import Probe, floating_tensors, tensor_norm
from gradcheck_kit.runtime.strategies import (
    Example,
    depth_strategy,
    example_strategy,
    infer_input,
    input_strategy,
)
from gradcheck_kit.runtime.verdict import (
    TINY_WEIGHT,
    Measurement,
    Outcome,
    judge,
    nonfinite,
    rejudge_revived,
    rejudge_scaled,
    rejudge_stepped,
    scale_test_factor,
    small_weights,
    stepped_note,
)

__all__ = ["Outcome", "check_gradients", "run_example"]

LOW_PRECISION = (torch.float16, torch.bfloat16)
SHRINK_RUNS = 40  # at least this many shrinking runs after the first failure
DEFAULT_TIMEOUT = 600.0  # seconds per example: generous, but a hung model never hangs the tool
#: Where failures are saved and replayed first next time (as Hypothesis' ``.hypothesis/``);
#: ``GRADCHECK_KIT_DATABASE`` overrides it (a directory, or ``none``).
DATABASE_DIR = os.path.join(".gradcheck_cache", "hypothesis")
DATABASE_ENV = "GRADCHECK_KIT_DATABASE"


def default_database() -> str | None:
    """The example database directory a check uses by default: ``GRADCHECK_KIT_DATABASE`` when
    set (``none`` turns it off), none in CI (a clean checkout has nothing to replay, and a CI
    run must not depend on leftovers), else ``.gradcheck_cache/hypothesis`` in the working
    directory (git-ignored, like the lint cache)."""
    value = os.environ.get(DATABASE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "none", "off", "0", "false") else value
    if os.environ.get("CI"):
        return None
    return DATABASE_DIR


def _open_database(database: Any) -> Any:
    """``"auto"``, a directory or a Hypothesis database -> a database or None."""
    if isinstance(database, str) and database == "auto":
        database = default_database()
    if database is None or not isinstance(database, (str, os.PathLike)):
        return database
    from hypothesis.database import DirectoryBasedExampleDatabase

    directory = os.fspath(database)
    try:
        if os.path.basename(os.path.dirname(os.path.normpath(directory))) == ".gradcheck_cache":
            ignore_in_git(os.path.dirname(os.path.normpath(directory)))
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return None  # a read-only tree: check without replaying, never fail for it
    return DirectoryBasedExampleDatabase(directory)


#: The step that tells a zero-by-design weight from a dead unit: each parameter moves by this
#: much RMS along its normalized gradient (a first optimizer step of ordinary size).
REVIVE_STEP = 1e-2


class _Falsified(Exception):
    """Raised inside the property so Hypothesis shrinks; always from the same line, so every
    failure kind counts as one bug and shrinking may move between kinds."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(outcome.kind)
        self.outcome = outcome


# --------------------------------------------------------------------------- one run


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


class RaisedIn(Exception):
    """The user's code raised in one phase of an example: the factory, the forward pass, the
    loss or the backward pass (the error names which)."""

    def __init__(self, phase: str, original: BaseException) -> None:
        super().__init__(f"{phase}: {original}")
        self.phase = phase
        self.original = original


@contextlib.contextmanager
def _phase(name: str) -> Iterator[None]:
    try:
        yield
    except (UserError, RaisedIn):
        raise
    except Exception as exc:
        raise RaisedIn(name, exc) from exc


def _build(factory: Callable[[int], Any], example: Example) -> nn.Module:
    seed_for(example.init_seed, example.device)
    with _phase("the factory"):
        model = factory(example.depth)
    if not isinstance(model, nn.Module):
        raise UserError(
            f"the factory returned {type(model).__name__}, not a torch.nn.Module "
            f"(factory(depth) must build the model)"
        )
    if not any(True for _ in model.parameters()):
        raise UserError("the model has no parameters: there is no gradient to check")
    first = next(model.parameters())
    if first.is_complex() or any(p.is_complex() for p in model.parameters()):
        # complex parameters keep their dtype (casting them to a real one drops the
        # imaginary part); norms are taken of their magnitudes
        if first.device != torch.device(example.device):
            model.to(device=example.device)
    elif first.device != torch.device(example.device) or first.dtype != example.dtype:
        model.to(device=example.device, dtype=example.dtype)  # a no-op .to still walks the tree
    return model


def _loss(
    output: Any, loss: Callable[[Any], torch.Tensor] | None, seed: int
) -> tuple[torch.Tensor, str | None]:
    outputs = list(floating_tensors(output))
    if not outputs:
        raise UserError(
            "the model returned no floating-point tensor (integer outputs, e.g. argmax, "
            "carry no gradient): return the logits, or pass loss="
        )
    out_norms = [torch.linalg.vector_norm(o.detach().float()) for o in outputs]
    output_bad = nonfinite(float(torch.stack(out_norms).sum()))
    value = loss(output) if loss is not None else probe_loss(outputs, seed)
    if not isinstance(value, torch.Tensor) or value.numel() != 1:
        raise UserError("loss(output) must return a scalar tensor")
    if not value.requires_grad:
        raise UserError(
            "the loss does not depend on any parameter (are all parameters frozen, or the "
            "forward run under torch.no_grad()?)"
        )
    return value, output_bad


def _sgd_step(model: nn.Module, grads: dict[nn.Parameter, torch.Tensor]) -> Callable[[], None]:
    """One plain step on the check's own loss: each parameter with a gradient moves by
    REVIVE_STEP (RMS) against it. Returns what takes the step back."""
    moves: list[tuple[nn.Parameter, torch.Tensor]] = []
    with torch.no_grad():
        for p in model.parameters():
            g = grads.get(p, p.grad)
            if g is None:
                continue
            size = tensor_norm(g) / math.sqrt(g.numel())
            if size > 0 and torch.isfinite(size):
                move = (g / size).to(p.dtype) * REVIVE_STEP
                p.sub_(move)
                moves.append((p, move))

    def undo() -> None:
        with torch.no_grad():
            for p, move in moves:
                p.add_(move)

    return undo


def _gradients(
    model: nn.Module,
    example: Example,
    loss: Callable[[Any], torch.Tensor] | None,
    names: tuple[str, ...],
) -> dict[nn.Parameter, torch.Tensor]:
    """The check's loss gradient with respect to the named parameters only (the backward pass
    stops where nothing before it needs a gradient)."""
    wanted = [p for name, p in model.named_parameters() if name in names and p.requires_grad]
    if not wanted:
        return {}
    args, kwargs = example.materialized()
    with _phase("the forward pass"):
        output = model(*args, **kwargs)
    with _phase("the loss"):
        value, _ = _loss(output, loss, example.init_seed)
    with _phase("the backward pass"):
        grads = torch.autograd.grad(value, wanted, allow_unused=True)
    return {p: g for p, g in zip(wanted, grads, strict=True) if g is not None}


def _measure(
    model: nn.Module,
    example: Example,
    loss: Callable[[Any], torch.Tensor] | None,
    *,
    saturation: bool,
    scale_output: tuple[int, float] | None = None,
    params: bool = False,
) -> tuple[Measurement, dict[nn.Parameter, torch.Tensor]]:
    """One forward + backward of ``model`` under the probe; also the parameters' gradients
    where asked (or in the detailed mode)."""
    args, kwargs = example.materialized()
    with Probe(
        model, saturation=saturation, scale_output=scale_output, params=params or saturation
    ) as probe:
        with _phase("the forward pass"):
            output = model(*args, **kwargs)
        probe.stop_forward()
        probe.watch_last_input()
        with _phase("the loss"):
            value, output_bad = _loss(output, loss, example.init_seed)
        loss_bad = nonfinite(float(value.detach()))
        with _phase("the backward pass"):
            probe.backward(value)
        layers = probe.collect()
        return Measurement(layers, probe.sequences, output_bad, loss_bad), probe.param_grads


def _run(
    factory: Callable[[int], Any],
    example: Example,
    loss: Callable[[Any], torch.Tensor] | None,
    bounds: Bounds,
    *,
    saturation: bool,
) -> Outcome:
    """Measure and judge one example, with the second runs a verdict needs (module
    docstring), all on the one model the factory built."""
    model = _build(factory, example)
    with stochastic_modules_off(model):
        # Only a weight that is exactly zero can hold a gradient at exactly zero by design
        # (zero_init_residual, a zero head). Such weights take one SGD step first, so the
        # measured model is the one the first optimizer step leaves; zeros after that are dead.
        zero_at_init = small_weights(model)
        if zero_at_init:
            _sgd_step(model, _gradients(model, example, loss, zero_at_init))
        run, grads = _measure(model, example, loss, saturation=saturation)
        reference = None
        if example.dtype in LOW_PRECISION and any(r.grad_rms == 0.0 for r in run.layers):
            reference = _reference(factory, example, loss)
        outcome = judge(example, run, bounds, reference)
        if outcome.zeros:  # dead: say why the zeros are there
            outcome = rejudge_revived(outcome, zero_at_init, small_weights(model))
        elif zero_at_init:
            outcome = stepped_note(outcome, zero_at_init)
        if outcome.kind is FailureKind.VANISHING and not outcome.revived:
            tiny = small_weights(model, TINY_WEIGHT)
            if tiny:  # LayerScale-style weights: is the flow small only until the first step?
                if not grads:
                    grads = _measure(model, example, loss, saturation=False, params=True)[1]
                undo = _sgd_step(model, grads)
                stepped, _ = _measure(model, example, loss, saturation=saturation)
                outcome = rejudge_stepped(outcome, judge(example, stepped, bounds), tiny)
                if not outcome.revived:
                    undo()  # the scale test measures the model the verdict is about
        factor = scale_test_factor(outcome)
        if factor is not None and outcome.start is not None:
            scaled, _ = _measure(
                model, example, loss, saturation=False, scale_output=(outcome.start, factor)
            )
            outcome = rejudge_scaled(outcome, judge(example, scaled, bounds), factor)
    return outcome


def _reference(
    factory: Callable[[int], Any], example: Example, loss: Callable[[Any], torch.Tensor] | None
) -> Measurement:
    """The float32 run of a low-precision example: which zeros are underflow."""
    example32 = example.with_target(example.device, torch.float32)
    model = _build(factory, example32)
    with stochastic_modules_off(model):
        return _measure(model, example32, loss, saturation=False)[0]


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
        with time_limit(timeout), torch.enable_grad():
            return _run(factory, example, loss, bounds, saturation=saturation)
    except ExampleTimeout as exc:
        outcome = _error(example, f"depth {example.depth}: {exc}", None)
        outcome.extra["timeout"] = True
        return outcome
    except UserError as exc:
        return _error(example, str(exc), None)
    except Exception as exc:
        phase, original = (exc.phase, exc.original) if isinstance(exc, RaisedIn) else ("", exc)
        if is_oom(original):
            free_memory(example.device)
            return _error(
                example,
                f"out of memory on {example.device} at depth {example.depth}",
                format_exception(original),
            )
        where = phase or "the factory or the forward/backward pass"
        outcome = _error(
            example, f"{where} raised at depth {example.depth}", format_exception(original)
        )
        outcome.extra["traceback"] = user_traceback(original)
        return outcome


def _error(example: Example, message: str, exception: str | None) -> Outcome:
    return Outcome(
        example, kind=FailureKind.ERROR, message=message, exception=exception, score=math.inf
    )


_OURS = (f"{os.sep}gradcheck_kit{os.sep}", f"{os.sep}torch{os.sep}", f"{os.sep}hypothesis{os.sep}")


def user_traceback(exc: BaseException, frames: int = 12) -> str:
    """The traceback of the user's code: frames of gradcheck-kit, torch and Hypothesis left out
    (they are the same for every model), the last ``frames`` kept."""
    summary = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if not any(p in f.filename for p in _OURS)
    ]
    lines = traceback.format_list(summary[-frames:])
    lines += traceback.format_exception_only(type(exc), exc)
    return "".join(lines).rstrip("\n")


# --------------------------------------------------------------------------- the search


@preserving_state
def check_gradients(
    factory: Callable[[int], Any] | str,
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
    database: Any = "auto",
    progress: bool | None = None,
) -> GradientReport:
    """Build ``factory(depth)`` at depths and inputs Hypothesis draws, run forward + backward and
    check the flow ratio stays within ``bounds`` (see the module docstring for the definitions).

    ``timeout`` limits each example (seconds, default 600; ``None``: no limit); ``name`` labels
    the report; ``database`` is where failures are saved and replayed first the next time (a
    Hypothesis example database or a directory; ``"auto"``: :func:`default_database`; ``None``:
    none), keyed by the target, its depths and its input.
    ``progress`` shows a progress bar on stderr once the check has run for a second; by default
    only when stderr is a terminal and not under pytest.
    Raises :class:`GradientFlowError` on failure unless ``raise_on_failure=False``, and
    :class:`DeviceUnavailableError` for a device that is not there (a skip under pytest).
    """
    started = time.perf_counter()
    spec = factory if isinstance(factory, str) else None
    given_shape = input_shape is not None
    if isinstance(factory, str):  # "package.module:factory" or "path/to/file.py:factory"
        from gradcheck_kit.runtime.targets import UsageError, load_factory

        try:
            factory = load_factory(factory, Path.cwd())
        except UsageError as exc:
            raise ValueError(str(exc)) from exc
    if max_examples < 1:
        raise ValueError(f"max_examples must be >= 1, got {max_examples}")
    if not callable(factory):
        raise TypeError("factory must be callable: factory(depth) -> torch.nn.Module")
    target = name or target_name(factory)
    device_list, dtype_list = resolve_targets(devices, dtypes)
    in_dtype = resolve_input_dtype(input_dtype)
    depth_st, depth_range = depth_strategy(depths)
    run_seed = effective_seed(seed)

    notes: list[str] = []
    inferred = ""
    min_batch = None
    if inputs is None:
        if input_shape is None:
            probe = _probe_model(factory, depth_range, run_seed, timeout=timeout)
            several = _forward_inputs(probe)
            if len(several) > 1:  # forward(x, t): a PINN, an encoder-decoder...
                input_shape = _infer_several(probe, several)
                inferred = (
                    f"forward takes {len(several)} inputs ({', '.join(several)}); each was "
                    f"inferred as {input_shape[0][0]}x1 (the first layer takes "
                    f"{len(several)} features: one per input, concatenated): pass "
                    "input_shape= (CLI: --input-shape 16,1;16,1) if they are otherwise"
                )
            else:
                input_shape, inferred_vocab = infer_input(probe)
                vocab_size = vocab_size or inferred_vocab
                inferred = (
                    f"the input shape {'x'.join(str(s) for s in input_shape)}"
                    + (" (token ids)" if vocab_size else "")
                    + " was inferred from the model's first layer (batch-first, batches up to "
                    f"{input_shape[0]} drawn): pass input_shape= (CLI: --input-shape) if it "
                    "expects another"
                )
            notes.append(inferred)
            if _uses_batch_statistics(probe):
                # BatchNorm on a batch of 2 maps every feature to +-1: a degenerate regime
                # no one trains in, whose gradients say nothing about real training.
                min_batch = min(MIN_NORM_BATCH, _batch_of(input_shape))
        else:
            min_batch = _batch_of(input_shape)  # the user's batch, exactly
    input_st = input_strategy(inputs, input_shape, in_dtype, vocab_size, min_batch)
    strategy = example_strategy(depth_st, input_st, device_list, dtype_list)
    database = _open_database(database)
    what = (target, depth_range, input_shape, vocab_size, in_dtype, device_list, dtype_list)
    database_key = hashlib.sha256(repr(what).encode()).digest() if database is not None else None
    tried: set[int] = set()
    shrinks: list[int] = []
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
            database_key=database_key,
            tried=tried,
            progress=bar,
            shrinks=shrinks,
        )
    reported = outcome or worst
    devices_run: list[DeviceResult] = []
    parity: list[Parity] = []
    replays: list[Outcome] = []
    if reported is not None and reported.kind is not FailureKind.ERROR:
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
    if failure is not None and failure.kind is FailureKind.ERROR and inferred:
        failure = dataclasses.replace(failure, message=f"{failure.message} ({inferred})")
    example = reported.example if reported else None
    if reported is not None:
        notes += [n for n in reported.notes if n not in notes]
    if count > max_examples:  # say why "max_examples=12" ran 22
        shrunk = shrinks[0] if shrinks else 0
        parts = [f"{count - shrunk - len(devices_run)} drawn"]
        if shrunk:
            parts.append(f"{shrunk} while shrinking the failure to its smallest example")
        if devices_run:
            n = len(devices_run)
            parts.append(f"{n} replay{'s' if n != 1 else ''} of it on each device and dtype")
        notes.append(f"{count} examples run (max_examples={max_examples}): " + ", ".join(parts))
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
        reproduce=_reproduce(
            spec or _loadable(name) or _loadable(target_name(factory)) or target,
            {
                "depths": depth_range,
                "input_shape": _as_literal(input_shape) if given_shape else None,
                "input_dtype": dtype_name(in_dtype) if in_dtype is not None else None,
                "vocab_size": vocab_size,
                "devices": list(device_list) if devices != "cpu" else None,
                "dtypes": [dtype_name(d) for d in dtype_list] if len(dtype_list) > 1 else None,
                "max_examples": max_examples,
                "bounds": bounds if bounds != Bounds() else None,
                "seed": run_seed,
            },
            custom=inputs is not None or loss is not None,
        ),
        depths_tried=tuple(sorted(tried)),
        scale_free_ratio=reported.scale_free_ratio if reported else None,
        sequences=reported.sequences if reported else (),
        notes=tuple(notes),
    )
    if failure is not None and raise_on_failure:
        raise GradientFlowError(report)
    return report


MIN_NORM_BATCH = 16


def _batch_of(input_shape: Any) -> int:
    """The batch size of one shape, of several (the first), or of named ones."""
    first = next(iter(input_shape.values())) if isinstance(input_shape, dict) else input_shape
    if first and isinstance(next(iter(first)), (list, tuple)):
        first = next(iter(first))
    return int(next(iter(first)))


def _forward_inputs(model: nn.Module) -> list[str]:
    """The names of the inputs ``model.forward`` requires (no default, not ``*args``)."""
    try:
        signature = inspect.signature(model.forward)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return [
        p.name
        for p in signature.parameters.values()
        if p.kind in kinds and p.default is inspect.Parameter.empty
    ]


def _infer_several(
    model: nn.Module, names: list[str], batch: int = 16
) -> tuple[tuple[int, ...], ...]:
    """Several inputs from the first layer, where that can be told: a first ``nn.Linear``
    taking as many features as there are inputs (``cat([x, t], 1)`` of scalars, every PINN)."""
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
    if first is not None and first.in_features == len(names):
        return tuple((batch, 1) for _ in names)
    named = "; ".join(f"{n}=16,..." for n in names)
    raise ValueError(  # a usage problem, as any input that cannot be inferred
        f"forward takes {len(names)} inputs ({', '.join(names)}) and their shapes cannot be "
        "told from the first layer: pass input_shape= one shape per input, sharing the batch "
        f"size (a list, or a dict by name; CLI: --input-shape {named}; [[check]]: "
        "input-shape = [[16, ...], [16, ...]]), or inputs= a strategy"
    )


def _probe_model(
    factory: Callable[[int], Any],
    depth_range: tuple[int, int] | None,
    seed: int,
    timeout: float | None = None,
) -> nn.Module:
    """One model at the smallest depth, to infer the input nobody described."""
    depth = depth_range[0] if depth_range else 2
    torch.manual_seed(seed)
    try:
        with time_limit(timeout):
            model = factory(depth)
    except (Exception, ExampleTimeout) as exc:
        raise ValueError(
            f"cannot infer the input: factory({depth}) raised {format_exception(exc)}; "
            "pass input_shape="
        ) from exc
    if not isinstance(model, nn.Module):
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
    database_key: bytes | None = None,
    tried: set[int] | None = None,
    progress: SearchProgress | None = None,
    shrinks: list[int] | None = None,
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

    database = _open_database(database)
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
    # Hypothesis keys its database by a digest of the test's source (getsource + tokenize, ~1 ms
    # a check), which is this one ``prop`` for every target: the key names the target instead.
    # A Hypothesis that no longer reads this attribute just computes the digest.
    test._hypothesis_internal_database_key = database_key if database is not None else None
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
    if shrinks is not None:
        shrinks.append(state["shrinks"])  # runs spent shrinking the failure (out-parameter)
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
        kind=outcome.kind or FailureKind.ERROR,
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
        traceback=outcome.extra.get("traceback"),
    )


def _as_literal(shapes: Any) -> Any:
    """A shape, several or named ones as plain tuples and dicts (for the reproduce line)."""
    if isinstance(shapes, dict):
        return {k: tuple(v) for k, v in shapes.items()}
    if shapes and isinstance(next(iter(shapes)), (list, tuple)):
        return tuple(tuple(v) for v in shapes)
    return tuple(shapes)


def _loadable(target: str | None) -> str | None:
    """``target`` when ``check_gradients("...")`` can load it again: ``module:name`` of an
    importable module, or ``file.py:name`` (not ``__main__``, not a nested function)."""
    if not target or ":" not in target:
        return None
    module, _, name = target.rpartition(":")
    if module in ("", "__main__") or "<" in name or not name.replace(".", "").isidentifier():
        return None
    return target


def _reproduce(target: str, call: dict[str, Any], *, custom: bool) -> str:
    """A line of Python that replays this run: copy, paste, run (``database=None``: no
    replayed failures from earlier runs change the draw)."""
    loadable = _loadable(target)
    first = repr(loadable) if loadable else target.rpartition(":")[2] or "factory"
    args = [first]
    for key, value in call.items():
        if value is None or (key == "max_examples" and value == 30):
            continue
        if key == "bounds":
            args.append(
                f"bounds=gradcheck_kit.Bounds(vanish={value.vanish!r}, explode={value.explode!r})"
            )
        else:
            args.append(f"{key}={value!r}")
    args.append("database=None")
    line = f"import gradcheck_kit; gradcheck_kit.check_gradients({', '.join(args)})"
    if custom:
        line += "  # plus the inputs= / loss= this check was given"
    return line
