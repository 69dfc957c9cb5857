"""``gradcheck-kit check``: run gradient checks from the command line or from pyproject.toml.

Exit codes: 0 every check passed, 1 a check failed, 2 usage error, target not importable, or the
runtime extra missing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import inspect
import io
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from gradcheck_kit.config import CHECK_KEYS as CHECK_KEYS
from gradcheck_kit.config import parse_depths_value, parse_shape_value

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
INSTALL_HINT = "pip install 'gradcheck-kit[runtime]'"


class UsageError(Exception):
    """Bad flags, config or target: exit 2 with this message."""


def _err(message: str) -> None:
    print(f"gradcheck-kit check: {message}", file=sys.stderr)


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


def _checks_from_config(args: argparse.Namespace) -> tuple[list[dict[str, Any]], Path]:
    from gradcheck_kit.config import ConfigError, discover_config, load_config

    try:
        config = load_config(Path(args.config)) if args.config else discover_config()
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    root = config.root
    if args.target:
        return [{}], Path.cwd()
    if not config.checks:
        raise UsageError(
            "no TARGET given and no [[tool.gradcheck-kit.check]] tables in "
            f"{config.source or 'pyproject.toml'} (e.g. gradcheck-kit check models.py:make_model)"
        )
    # every key and value was validated when the config was read (a ConfigError above)
    return [{CHECK_KEYS[k]: v for k, v in table.items()} for table in config.checks], root


def _merged(table: Mapping[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Flags override the table."""
    merged = dict(table)
    for attr in CHECK_KEYS.values():
        value = getattr(args, attr, None)
        if value is not None:
            merged[attr] = value
    return merged


def _check_kwargs(spec: Mapping[str, Any]) -> dict[str, Any]:
    from gradcheck_kit.report.gradients import Bounds

    kwargs: dict[str, Any] = {}
    if spec.get("depths") is not None:
        kwargs["depths"] = parse_depths(spec["depths"])
    if spec.get("input_shape") is not None:
        kwargs["input_shape"] = parse_shape(spec["input_shape"])
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


def run_check(args: argparse.Namespace) -> int:
    try:
        import hypothesis  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        _err(
            f"the runtime checker needs torch and hypothesis ({exc.name} is missing): {INSTALL_HINT}"
        )
        return EXIT_ERROR
    from gradcheck_kit.audit import CheckOutcome
    from gradcheck_kit.runtime.check import check_gradients
    from gradcheck_kit.runtime.devices import DeviceUnavailableError

    outcomes: list[CheckOutcome] = []
    try:
        if getattr(args, "report", None):
            from gradcheck_kit.report.export import report_format

            try:
                report_format(args.report)
            except ValueError as exc:
                raise UsageError(f"--report: {exc}") from exc
        tables, root = _checks_from_config(args)
        for table in tables:
            spec = _merged(table, args)
            target = str(spec.get("target") or "")
            if not args.target:  # from pyproject.toml: one bad target does not sink the others
                outcomes.append(_run_declared(spec, root, target))
                continue
            factory = load_factory(target, root)
            check_arity(factory, target)
            kwargs = _check_kwargs(spec)
            try:
                report = check_gradients(factory, raise_on_failure=False, name=target, **kwargs)
            except (ValueError, TypeError, DeviceUnavailableError) as exc:
                raise UsageError(f"{target}: {exc}") from exc
            outcomes.append(CheckOutcome(target, report=report))
    except UsageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    for outcome in outcomes:
        if outcome.status == "error":
            _err(f"{outcome.target}: {outcome.verdict}")
    _emit(outcomes, args)
    if getattr(args, "report", None):
        from gradcheck_kit.report.export import write_report

        write_report(args.report, gradients=[o.report for o in outcomes if o.report is not None])
    if any(o.usage_error for o in outcomes):
        return EXIT_ERROR
    return EXIT_OK if all(o.status in ("passed", "skipped") for o in outcomes) else EXIT_FAILED


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
    return f"needs {package!r}, which is not installed (pip install {package})"


def load_declared(
    spec: Mapping[str, Any], root: Path, target: str, outcome: Any
) -> tuple[Callable[[int], Any], dict[str, Any]] | None:
    """A declared check's factory and check_gradients keyword arguments; None when it cannot
    run, with why on ``outcome`` (a ``CheckOutcome``): a missing optional package of the model
    is a skip, a target that cannot be loaded an error, a bad value or a factory that cannot be
    called as ``factory(depth)`` a usage error. Shared by ``check`` and ``audit``."""
    try:
        kwargs = _check_kwargs(spec)
    except UsageError as exc:
        outcome.error, outcome.usage_error = str(exc), True
        return None
    try:
        factory = load_factory(target, root)
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


def _run_declared(spec: Mapping[str, Any], root: Path, target: str) -> Any:
    """One [[check]] table -> a CheckOutcome: a target whose optional package is missing is
    skipped (as ``audit`` does), one that cannot be loaded or run is an error with its cause,
    a usage problem (the factory's arity, an input that cannot be inferred) an error that
    makes the run exit 2 - none of them loses the other targets' results."""
    from gradcheck_kit.audit import CheckOutcome
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


def _outcome_dict(outcome: Any) -> dict[str, Any]:
    """A report's own dict; for a target without a report, what happened to it."""
    status = outcome.status
    if outcome.report is not None:
        return {**outcome.report.to_dict(), "status": status}
    return {
        "target": outcome.target,
        "status": status,
        "passed": None if status == "skipped" else False,
        "error": outcome.error,
        "skipped": outcome.skipped,
    }


def _summary(outcomes: list[Any]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "error")}
    text = f"{len(outcomes)} checks: " + ", ".join(f"{n} {s}" for s, n in counts.items())
    skipped = sum(o.status == "skipped" for o in outcomes)
    return text + (f", {skipped} skipped" if skipped else "")


def _emit(outcomes: list[Any], args: argparse.Namespace) -> None:
    from gradcheck_kit._io import write_atomic

    if args.format == "json":
        text = json.dumps([_outcome_dict(o) for o in outcomes], indent=2) + "\n"
    else:
        from rich.console import Console
        from rich.text import Text

        buffer = io.StringIO()
        console = Console(
            file=buffer if args.output_file else sys.stdout,
            record=False,
            width=110 if args.output_file or not sys.stdout.isatty() else None,
            no_color=bool(args.output_file),
        )
        for outcome in outcomes:
            if args.quiet and outcome.status == "passed":
                continue
            if outcome.report is not None:
                console.print(outcome.report)
            else:
                style = "dim" if outcome.status == "skipped" else "red"
                console.print(Text(f"{outcome.target}: {outcome.verdict}", style=style))
        if not args.target and not args.quiet:
            console.print(Text(_summary(outcomes)))
        if not args.output_file:
            return
        text = buffer.getvalue()
    if args.output_file:
        write_atomic(args.output_file, text)
    else:
        sys.stdout.write(text)
