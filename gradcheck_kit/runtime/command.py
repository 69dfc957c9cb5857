"""``gradcheck-kit check``: run gradient checks from the command line or from pyproject.toml.

Exit codes: 0 every check passed, 1 a check failed, 2 usage error, target not importable, or the
runtime extra missing.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import io
import json
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

EXIT_OK, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
INSTALL_HINT = "pip install 'gradcheck-kit[runtime]'"

#: [[tool.gradcheck-kit.check]] keys (the CLI flags, plus target) -> argparse attribute.
CHECK_KEYS: dict[str, str] = {
    "target": "target",
    "depths": "depths",
    "input-shape": "input_shape",
    "input-dtype": "input_dtype",
    "vocab-size": "vocab_size",
    "device": "device",
    "dtype": "dtype",
    "max-examples": "max_examples",
    "seed": "seed",
    "vanish": "vanish",
    "explode": "explode",
    "timeout": "timeout",
}


class UsageError(Exception):
    """Bad flags, config or target: exit 2 with this message."""


def _err(message: str) -> None:
    print(f"gradcheck-kit check: {message}", file=sys.stderr)


def parse_depths(value: Any) -> tuple[int, int]:
    """``"2:32"``, ``"16"``, ``[2, 32]`` or an int -> (lo, hi)."""
    try:
        if isinstance(value, int) and not isinstance(value, bool):
            return value, value
        if isinstance(value, (list, tuple)) and len(value) == 2:
            lo, hi = int(value[0]), int(value[1])
        else:
            text = str(value).strip()
            lo_s, _, hi_s = text.partition(":")
            lo, hi = int(lo_s), int(hi_s or lo_s)
    except (TypeError, ValueError):
        raise UsageError(f"depths: expected LO:HI (e.g. 2:32), got {value!r}") from None
    if lo < 1 or hi < lo:
        raise UsageError(f"depths: need 1 <= LO <= HI, got {lo}:{hi}")
    return lo, hi


def parse_shape(value: Any) -> tuple[int, ...]:
    try:
        if isinstance(value, (list, tuple)):
            shape = tuple(int(v) for v in value)
        else:
            shape = tuple(int(v) for v in str(value).replace("x", ",").split(",") if v.strip())
    except (TypeError, ValueError):
        raise UsageError(f"input shape: expected sizes like 16,64, got {value!r}") from None
    if not shape or any(s < 1 for s in shape):
        raise UsageError(f"input shape: expected positive sizes like 16,64, got {value!r}")
    return shape


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
    tables = []
    for i, table in enumerate(config.checks):
        unknown = sorted(set(table) - set(CHECK_KEYS))
        if unknown:
            raise UsageError(
                f"[[tool.gradcheck-kit.check]] #{i + 1}: unknown key(s) {', '.join(unknown)} "
                f"(known: {', '.join(CHECK_KEYS)})"
            )
        tables.append({CHECK_KEYS[k]: v for k, v in table.items()})
    return tables, root


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
    from gradcheck_kit.report.gradients import GradientReport
    from gradcheck_kit.runtime.check import check_gradients
    from gradcheck_kit.runtime.devices import DeviceUnavailableError

    reports: list[GradientReport] = []
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
            factory = load_factory(target, root)
            kwargs = _check_kwargs(spec)
            try:
                reports.append(
                    check_gradients(factory, raise_on_failure=False, name=target, **kwargs)
                )
            except (ValueError, TypeError, DeviceUnavailableError) as exc:
                raise UsageError(f"{target}: {exc}") from exc
    except UsageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    _emit(reports, args)
    if getattr(args, "report", None):
        from gradcheck_kit.report.export import write_report

        write_report(args.report, gradients=reports)
    return EXIT_OK if all(r.passed for r in reports) else EXIT_FAILED


def _emit(reports: list[Any], args: argparse.Namespace) -> None:
    from gradcheck_kit._io import write_atomic

    if args.format == "json":
        text = json.dumps([r.to_dict() for r in reports], indent=2) + "\n"
    else:
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(
            file=buffer if args.output_file else sys.stdout,
            record=False,
            width=110 if args.output_file or not sys.stdout.isatty() else None,
            no_color=bool(args.output_file),
        )
        for report in reports:
            if args.quiet and report.passed:
                continue
            console.print(report)
        if not args.output_file:
            return
        text = buffer.getvalue()
    if args.output_file:
        write_atomic(args.output_file, text)
    else:
        sys.stdout.write(text)
