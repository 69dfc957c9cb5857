"""Gradient-check targets: what ``check``, ``sweep`` and ``audit`` share about them.

A target is ``package.module:factory`` or ``path/to/file.py:factory``; :func:`load_factory`
imports it (with an error that names it), :func:`check_arity` makes sure it can be called as
``factory(depth)``, :func:`check_kwargs` turns a [[check]] table into
:func:`~gradcheck_kit.runtime.check.check_gradients` arguments, and :func:`load_declared` /
:func:`run_declared` run a declared check into a :class:`~gradcheck_kit.report.checks.CheckOutcome`
without ever raising: a missing optional package of the model is a skip
(:func:`missing_dependency`, :func:`skip_reason`), a target that cannot be loaded an error.
:func:`model_covers` names the user classes and functions a check exercises (for ``audit``).

Importing this module does not import torch; running a check does.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from gradcheck_kit.config import parse_depths_value, parse_input_shapes, parse_shape_value
from gradcheck_kit.report.checks import CheckOutcome

__all__ = [
    "UsageError",
    "check_arity",
    "check_kwargs",
    "load_declared",
    "load_factory",
    "load_timed",
    "missing_dependency",
    "model_covers",
    "parse_depths",
    "parse_shape",
    "run_declared",
    "run_guarded",
    "run_isolated_checks",
    "run_target",
    "run_target_job",
    "skip_reason",
    "target_job",
]


class UsageError(Exception):
    """Bad flags, config or target: exit 2 with this message."""


def parse_depths(value: Any) -> tuple[int, int]:
    """``"2:32"``, ``"16"``, ``[2, 32]`` or an int -> (lo, hi)."""
    try:
        return parse_depths_value(value)
    except ValueError as exc:
        raise UsageError(f"depths: {exc}") from None


def parse_shape(value: Any, what: str = "input shape") -> tuple[int, ...]:
    """``[16, 64]``, ``"16,64"`` or ``"16x64"``: every size a positive integer (``16,x`` is an
    error, not ``(16,)``)."""
    try:
        return parse_shape_value(value)
    except ValueError as exc:
        raise UsageError(f"{what}: {exc}") from None


def check_arity(factory: Callable[..., Any], target: str) -> None:
    """A usage error, naming the target, when ``factory(depth)`` cannot be called."""
    try:
        signature = inspect.signature(factory)
    except (TypeError, ValueError):  # a builtin or C callable: nothing to tell in advance
        return
    try:
        signature.bind(2)
    except TypeError as exc:
        raise UsageError(
            f"target {target!r}: the factory is called as factory(depth) with one argument, "
            f"but its signature is {getattr(factory, '__name__', 'factory')}{signature} ({exc})"
        ) from None


def load_factory(target: str, root: Path) -> Callable[[int], Any]:
    """``package.module:factory`` or ``path/to/file.py:factory`` (relative to ``root``)."""
    module_part, sep, attr = target.rpartition(":")
    if not sep or not module_part or not attr:
        raise UsageError(
            f"target {target!r}: expected package.module:factory or path/to/file.py:factory"
        )
    try:
        if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
            path = Path(module_part)
            if not path.is_absolute():
                path = root / path
            if not path.is_file():
                raise UsageError(f"target {target!r}: no such file {path}")
            name = "_gradcheck_target_" + "".join(c if c.isalnum() else "_" for c in str(path))
            spec = importlib.util.spec_from_file_location(name, path)
            if spec is None or spec.loader is None:
                raise UsageError(f"target {target!r}: cannot import {path}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            if str(path.parent) not in sys.path:
                sys.path.insert(0, str(path.parent))  # so the file's sibling imports work
            spec.loader.exec_module(module)
        else:
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            module = importlib.import_module(module_part)
    except UsageError:
        raise
    except Exception as exc:
        raise UsageError(
            f"target {target!r}: importing it raised {type(exc).__name__}: {exc}"
        ) from exc
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            raise UsageError(f"target {target!r}: {module_part} has no attribute {attr!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise UsageError(f"target {target!r}: {attr} is not callable")
    return obj  # type: ignore[no-any-return]


def check_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`check_gradients` keyword arguments from a check's spec (a [[check]] table with
    its keys as attribute names, flags merged in): a bad value is a :class:`UsageError`."""
    from gradcheck_kit.report.gradients import Bounds

    kwargs: dict[str, Any] = {}
    if spec.get("depths") is not None:
        kwargs["depths"] = parse_depths(spec["depths"])
    if spec.get("input_shape") is not None:
        try:
            kwargs["input_shape"] = parse_input_shapes(spec["input_shape"])
        except ValueError as exc:
            raise UsageError(f"input shape: {exc}") from None
    if spec.get("input_dtype") is not None:
        kwargs["input_dtype"] = str(spec["input_dtype"])
    if spec.get("vocab_size") is not None:
        kwargs["vocab_size"] = int(spec["vocab_size"])
    if spec.get("device") is not None:
        kwargs["devices"] = spec["device"]
    if spec.get("dtype") is not None:
        kwargs["dtypes"] = spec["dtype"]
    if spec.get("max_examples") is not None:
        kwargs["max_examples"] = int(spec["max_examples"])
    if spec.get("seed") is not None:
        kwargs["seed"] = int(spec["seed"])
    if spec.get("timeout") is not None:
        kwargs["timeout"] = float(spec["timeout"])
    bounds: dict[str, float] = {}
    for key in ("vanish", "explode"):
        if spec.get(key) is not None:
            bounds[key] = float(spec[key])
    if bounds:
        try:
            kwargs["bounds"] = Bounds(**bounds)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return kwargs


def missing_dependency(exc: BaseException | None, root: Path) -> str | None:
    """The name of a missing third-party package behind ``exc``, if that is what it is."""
    while exc is not None:
        if isinstance(exc, ModuleNotFoundError) and exc.name:
            top = exc.name.split(".")[0]
            if not (root / top).exists() and not (root / f"{top}.py").exists():
                return top
        exc = exc.__cause__ or exc.__context__
    return None


def skip_reason(package: str) -> str:
    """Why a check whose model needs a missing optional ``package`` is skipped."""
    return f"needs {package!r}, which is not installed (pip install {package})"


def load_timed(target: str, root: Path, timeout: float | None) -> Callable[[int], Any]:
    """:func:`load_factory` under the example time limit: a target that hangs at import is a
    usage error naming it, not a hung run (Python-level hangs; a hang in C needs ``--isolate``)."""
    from gradcheck_kit.runtime.check import DEFAULT_TIMEOUT
    from gradcheck_kit.runtime.harness import ExampleTimeout, time_limit

    limit = DEFAULT_TIMEOUT if timeout is None else timeout
    try:
        with time_limit(limit):
            return load_factory(target, root)
    except ExampleTimeout:
        raise UsageError(
            f"target {target!r}: importing it took longer than the {limit:g} s time limit"
        ) from None


def load_declared(
    spec: Mapping[str, Any], root: Path, target: str, outcome: CheckOutcome
) -> tuple[Callable[[int], Any], dict[str, Any]] | None:
    """A declared check's factory and check_gradients keyword arguments; None when it cannot
    run, with why on ``outcome`` (a ``CheckOutcome``): a missing optional package of the model
    is a skip, a target that cannot be loaded an error, a bad value or a factory that cannot be
    called as ``factory(depth)`` a usage error. Shared by ``check`` and ``audit``."""
    try:
        kwargs = check_kwargs(spec)
    except UsageError as exc:
        outcome.error, outcome.usage_error = str(exc), True
        return None
    try:
        factory = load_timed(target, root, kwargs.get("timeout"))
    except UsageError as exc:
        missing = missing_dependency(exc, root)
        if missing:
            outcome.skipped = skip_reason(missing)
        else:
            outcome.error = str(exc)
        return None
    try:
        check_arity(factory, target)
    except UsageError as exc:
        outcome.error, outcome.usage_error = str(exc), True
        return None
    return factory, kwargs


def run_declared(spec: Mapping[str, Any], root: Path, target: str) -> CheckOutcome:
    """One [[check]] table -> a CheckOutcome: a target whose optional package is missing is
    skipped (as ``audit`` does), one that cannot be loaded or run is an error with its cause,
    a usage problem (the factory's arity, an input that cannot be inferred) an error that
    makes the run exit 2 - none of them loses the other targets' results."""
    from gradcheck_kit.runtime.check import check_gradients
    from gradcheck_kit.runtime.devices import DeviceUnavailableError

    outcome = CheckOutcome(target)
    loaded = load_declared(spec, root, target, outcome)
    if loaded is None:
        return outcome
    factory, kwargs = loaded
    try:
        outcome.report = check_gradients(factory, raise_on_failure=False, name=target, **kwargs)
    except Exception as exc:
        missing = missing_dependency(exc, root)
        if missing:
            outcome.skipped = skip_reason(missing)
        else:
            outcome.error = f"{type(exc).__name__}: {exc}"
            outcome.usage_error = isinstance(exc, (ValueError, TypeError, DeviceUnavailableError))
    return outcome


def _where(obj: Any) -> tuple[str, str] | None:
    """(resolved source file, qualified name) of a user class or function; None for torch's
    own and for what has no source file."""
    module = getattr(obj, "__module__", "") or ""
    if module == "torch" or module.startswith(("torch.", "builtins")):
        return None
    try:
        source = inspect.getsourcefile(obj)
    except TypeError:
        return None
    name = getattr(obj, "__qualname__", None)
    if source is None or not name:
        return None
    return str(Path(source).resolve()), name


def model_covers(factory: Any, model: Any) -> frozenset[tuple[str, str]]:
    """Every (file, name) a finding about this check's model may name: the factory (through
    functools.partial and decorators), each user class of each module in the model (and its
    user base classes). A nested name is also covered by its last part, as the linter names
    a class defined inside a function."""
    import functools

    objects: list[Any] = []
    target = factory
    while isinstance(target, functools.partial):
        target = target.func
    objects.append(inspect.unwrap(target))
    modules = model.modules() if hasattr(model, "modules") else [model]
    for module in modules:
        objects += [c for c in type(module).__mro__ if c.__module__ != "builtins"]
    found: set[tuple[str, str]] = set()
    for obj in objects:
        where = _where(obj)
        if where is not None:
            found.add(where)
            found.add((where[0], where[1].rpartition(".")[2]))
    return frozenset(found)


def run_target(spec: Mapping[str, Any], root: Path, target: str, *, strict: bool) -> CheckOutcome:
    """``check``'s unit of work: one target into an outcome. ``strict``: a TARGET named on the
    command line, whose load problems are usage errors (exit 2); else a declared table
    (:func:`run_declared`)."""
    if not strict:
        return run_declared(spec, root, target)
    from gradcheck_kit.runtime.check import check_gradients
    from gradcheck_kit.runtime.devices import DeviceUnavailableError

    outcome = CheckOutcome(target)
    try:
        kwargs = check_kwargs(spec)
        factory = load_timed(target, root, kwargs.get("timeout"))
        check_arity(factory, target)
    except UsageError as exc:
        outcome.error, outcome.usage_error = str(exc), True
        return outcome
    try:
        outcome.report = check_gradients(factory, raise_on_failure=False, name=target, **kwargs)
    except (ValueError, TypeError, DeviceUnavailableError) as exc:
        outcome.error, outcome.usage_error = f"{target}: {exc}", True
    return outcome


def run_guarded(target: str, work: Callable[[], CheckOutcome]) -> CheckOutcome:
    """``work()`` in this process, failing closed: user code that calls ``sys.exit`` or
    ``os._exit`` makes this target an error instead of ending the run with its exit code (what
    no Python code can stop - a segfault, a hang in C - needs ``--isolate``)."""
    from gradcheck_kit.runtime.harness import TargetExit, exits_contained

    try:
        with exits_contained():
            return work()
    except TargetExit as exc:
        return CheckOutcome(target, error=str(exc))


def target_job(function: str, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Run in an isolated child: ``function`` (``module:name``) returns a CheckOutcome, sent
    back as data."""
    module_name, _, name = function.partition(":")
    work = getattr(importlib.import_module(module_name), name)
    outcome: CheckOutcome = work(**kwargs)
    return outcome.to_wire()


def run_isolated_checks(
    jobs: Sequence[tuple[str, str, Mapping[str, Any], float | None]], cwd: Path
) -> list[CheckOutcome]:
    """(target, ``module:name`` returning a CheckOutcome, its JSON keyword arguments, the
    example time limit) each -> its outcome, all in one child process that is replaced after
    any target that ends, hangs or crashes it (:mod:`gradcheck_kit.runtime.isolation`)."""
    from gradcheck_kit.runtime.isolation import IsolatedWorker

    outcomes = []
    with IsolatedWorker(cwd) as worker:
        for target, function, kwargs, timeout in jobs:
            # a heartbeat per example: a stall is an example far past its own time limit
            stall = None if timeout is None else timeout * 1.5 + 5.0
            result = worker.run(
                "gradcheck_kit.runtime.targets:target_job",
                {"function": function, "kwargs": dict(kwargs)},
                stall=stall,
            )
            if result.error is not None:
                outcomes.append(CheckOutcome(target, error=result.error))
            else:
                outcomes.append(CheckOutcome.from_wire(result.value))
    return outcomes


def run_target_job(spec: dict[str, Any], root: str, target: str, strict: bool) -> CheckOutcome:
    """:func:`run_target` with JSON arguments (for :func:`run_isolated_checks`)."""
    return run_target(spec, Path(root), target, strict=strict)
