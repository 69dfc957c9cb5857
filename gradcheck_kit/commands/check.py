"""``gradcheck-kit check``: run gradient checks from the command line or from pyproject.toml.

Exit codes: 0 every check passed, 1 a check failed, 2 usage error, target not importable, or the
runtime extra missing. A TARGET on the command line that cannot be loaded is a usage error; the
[[tool.gradcheck-kit.check]] tables run through :func:`~gradcheck_kit.runtime.targets.run_declared`,
so one bad target does not sink the others.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcheck_kit.commands import EXIT_ERROR, EXIT_FAILED, EXIT_OK, INSTALL_HINT, RuntimeOptions
from gradcheck_kit.config import CHECK_KEYS

__all__ = ["CheckOptions", "run_check"]


@dataclass(frozen=True, kw_only=True)
class CheckOptions(RuntimeOptions):
    """What ``gradcheck-kit check`` was asked to do. The fields named in
    :data:`~gradcheck_kit.config.CHECK_KEYS` override a [[check]] table's values."""

    target: str | None = None
    depths: str | None = None
    max_examples: int | None = None
    format: str = "full"
    report: str | None = None
    isolate: bool | None = None  # None: the config's, else only in CI


def _err(message: str) -> None:
    print(f"gradcheck-kit check: {message}", file=sys.stderr)


def _checks_from_config(options: CheckOptions) -> tuple[list[dict[str, Any]], Path, bool]:
    from gradcheck_kit.config import ConfigError, discover_config, isolate_checks, load_config
    from gradcheck_kit.runtime.targets import UsageError

    try:
        config = load_config(Path(options.config)) if options.config else discover_config()
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc
    root = config.root
    isolate = isolate_checks(options.isolate, config)
    if options.target:
        return [{}], Path.cwd(), isolate
    if not config.checks:
        raise UsageError(
            "no TARGET given and no [[tool.gradcheck-kit.check]] tables in "
            f"{config.source or 'pyproject.toml'} (e.g. gradcheck-kit check models.py:make_model)"
        )
    # every key and value was validated when the config was read (a ConfigError above)
    tables = [{CHECK_KEYS[k]: v for k, v in table.items()} for table in config.checks]
    return tables, root, isolate


def _merged(table: Mapping[str, Any], options: CheckOptions) -> dict[str, Any]:
    """Flags override the table."""
    merged = dict(table)
    for attr in CHECK_KEYS.values():
        value = getattr(options, attr, None)
        if value is not None:
            merged[attr] = value
    return merged


def _isolated_job(
    spec: dict[str, Any], root: Path, strict: bool, default_timeout: float
) -> tuple[str, str, dict[str, Any], float | None]:
    target = str(spec.get("target") or "")
    kwargs: dict[str, Any] = {"spec": spec, "root": str(root), "target": target, "strict": strict}
    timeout = float(spec.get("timeout") or default_timeout)
    return target, "gradcheck_kit.runtime.targets:run_target_job", kwargs, timeout


def run_check(options: CheckOptions) -> int:
    """``gradcheck-kit check``: the exit code."""
    try:
        import hypothesis  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        _err(
            f"the runtime checker needs torch and hypothesis ({exc.name} is missing): {INSTALL_HINT}"
        )
        return EXIT_ERROR
    from gradcheck_kit._io import write_atomic
    from gradcheck_kit.report.checks import CheckOutcome
    from gradcheck_kit.report.registry import RenderOptions, render, report_files
    from gradcheck_kit.runtime.check import DEFAULT_TIMEOUT
    from gradcheck_kit.runtime.targets import (
        UsageError,
        run_guarded,
        run_isolated_checks,
        run_target,
    )

    outcomes: list[CheckOutcome] = []
    try:
        if options.report:
            try:
                report_files("check").check(options.report)
            except ValueError as exc:
                raise UsageError(f"--report: {exc}") from exc
        tables, root, isolate = _checks_from_config(options)
        strict = bool(options.target)  # a TARGET named here: its load problems are usage errors
        specs = [_merged(table, options) for table in tables]
        if isolate:
            jobs = [_isolated_job(spec, root, strict, DEFAULT_TIMEOUT) for spec in specs]
            outcomes = run_isolated_checks(jobs, Path.cwd())
        else:
            for spec in specs:
                target = str(spec.get("target") or "")
                work = functools.partial(run_target, spec, root, target, strict=strict)
                outcomes.append(run_guarded(target, work))
        if strict and outcomes and outcomes[0].usage_error:
            raise UsageError(str(outcomes[0].error))
    except UsageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    for outcome in outcomes:
        if outcome.status == "error":
            _err(f"{outcome.target}: {outcome.verdict}")
    rendering = RenderOptions(
        quiet=options.quiet, to_file=bool(options.output_file), summary=not options.target
    )
    text = render("check", options.format, outcomes, rendering)
    if options.output_file:
        write_atomic(options.output_file, text)
    else:
        sys.stdout.write(text)
    if options.verbose:  # the user's own code, where it raised
        for outcome in outcomes:
            failure = outcome.report.failure if outcome.report is not None else None
            if failure is not None and failure.traceback:
                _err(f"{outcome.target}: traceback (your code):\n{failure.traceback}")
    if options.report:
        report_files("check").write(options.report, outcomes, _err)
    if any(o.usage_error for o in outcomes):
        return EXIT_ERROR
    return EXIT_OK if all(o.status in ("passed", "skipped") for o in outcomes) else EXIT_FAILED
