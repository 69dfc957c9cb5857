"""``gradcheck-kit audit``: lint the code, run the declared runtime checks, one report.

The command a reviewer runs on a pull request. It lints PATHs (as ``lint``: the same config
lookup, :func:`~gradcheck_kit.commands.lint.load_lint_config`, and engine), then runs every
``[[tool.gradcheck-kit.check]]`` table of the nearest pyproject.toml (or of ``--checks FILE``)
through the same target loading as ``check`` (:mod:`gradcheck_kit.runtime.targets`), and
prints findings, a per-target gradient-flow summary and a verdict
(:mod:`gradcheck_kit.report.audit`). A lint finding and a runtime check on the same class are
shown together ("flagged statically, confirmed at runtime").

Exit codes as ``lint``: 0 clean, 1 findings or failed checks, 2 usage or internal error.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcheck_kit.commands import EXIT_ERROR, EXIT_FAILED, EXIT_OK, INSTALL_HINT
from gradcheck_kit.commands.lint import lint_changed, load_lint_config, validate
from gradcheck_kit.config import (
    CHECK_KEYS,
    Config,
    ConfigError,
    isolate_checks,
    read_toml,
    validate_check_table,
)
from gradcheck_kit.report.audit import AuditReport
from gradcheck_kit.report.checks import CheckOutcome
from gradcheck_kit.report.findings import LintResult
from gradcheck_kit.report.registry import render, report_files

__all__ = ["AuditOptions", "build_audit", "run_audit", "run_one"]


@dataclass(frozen=True)
class AuditOptions:
    """What ``gradcheck-kit audit`` was asked to do."""

    paths: tuple[str, ...] = ()
    checks: str | None = None
    format: str = "full"
    report: str | None = None
    exit_zero: bool = False
    max_examples: int | None = None
    seed: int | None = None
    no_runtime: bool = False
    config: str | None = None
    quiet: bool = False
    verbose: bool = False
    isolate: bool | None = None  # None: the config's, else only in CI
    # the linting half, as ``lint`` takes them
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    diff: str | None = None
    jobs: int | None = None
    cache_dir: str | None = None
    no_cache: bool = False


def _warn(message: str) -> None:
    print(f"gradcheck-kit audit: warning: {message}", file=sys.stderr)


def _load_tables(options: AuditOptions, config: Config) -> tuple[list[Mapping[str, Any]], Path]:
    if not options.checks:
        return list(config.checks), config.root
    path = Path(options.checks)
    try:
        data = read_toml(path)
    except (OSError, ValueError) as exc:  # TOMLDecodeError is a ValueError
        raise ConfigError(f"{path}: cannot read checks: {exc}") from exc
    tables = data.get("check") or data.get("tool", {}).get("gradcheck-kit", {}).get("check", [])
    if isinstance(tables, dict):
        tables = [tables]
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: expected [[check]] or [[tool.gradcheck-kit.check]] tables")
    for i, table in enumerate(tables):
        validate_check_table(table, f"{path}: check #{i + 1}")
    return tables, path.resolve().parent


def run_one(table: Mapping[str, Any], root: Path, options: AuditOptions) -> CheckOutcome:
    """Run one declared check; every problem becomes part of the outcome, never an exception."""
    import torch

    from gradcheck_kit.runtime.check import DEFAULT_TIMEOUT, check_gradients
    from gradcheck_kit.runtime.harness import ExampleTimeout, time_limit
    from gradcheck_kit.runtime.targets import (
        load_declared,
        missing_dependency,
        model_covers,
        skip_reason,
    )

    target = str(table.get("target", ""))
    outcome = CheckOutcome(target)
    unknown = sorted(set(table) - set(CHECK_KEYS))
    if unknown:
        outcome.error = f"unknown key(s) {', '.join(unknown)} (known: {', '.join(CHECK_KEYS)})"
        outcome.usage_error = True
        return outcome
    spec = {CHECK_KEYS[k]: v for k, v in table.items()}
    for attr in ("max_examples", "seed"):
        if getattr(options, attr) is not None:
            spec[attr] = getattr(options, attr)
    loaded = load_declared(spec, root, target, outcome)
    if loaded is None:
        return outcome
    factory, kwargs = loaded
    depth = kwargs.get("depths", (2, 32))[0]
    try:
        with torch.random.fork_rng(devices=[]), time_limit(kwargs.get("timeout", DEFAULT_TIMEOUT)):
            torch.manual_seed(0)
            model = factory(depth)
        cls = type(model)
        outcome.model = cls.__qualname__
        outcome.model_file = inspect.getsourcefile(cls)
        outcome.covers = model_covers(factory, model)
    except ImportError as exc:
        missing = missing_dependency(exc, root) or getattr(exc, "name", None) or str(exc)
        outcome.skipped = skip_reason(missing)
        return outcome
    except (Exception, ExampleTimeout):
        pass  # the check below reports it
    try:
        outcome.report = check_gradients(factory, raise_on_failure=False, name=target, **kwargs)
    except Exception as exc:
        outcome.error = f"{type(exc).__name__}: {exc}"
    return outcome


def _lint(paths: list[str], config: Config, options: AuditOptions) -> LintResult:
    """The linting half, with lint's options (``--select``, ``--diff``, ``--jobs``...)."""
    config = config.with_overrides(
        select=tuple(options.select) if options.select else None,
        ignore=(config.ignore + tuple(options.ignore)) if options.ignore else None,
    )
    validate(config, options.jobs)
    return lint_changed(
        paths,
        config,
        diff=options.diff,
        jobs=options.jobs,
        cache_dir=options.cache_dir,
        no_cache=options.no_cache,
    )


def build_audit(options: AuditOptions) -> AuditReport:
    """Lint the paths, then run the declared checks (unless ``no_runtime``): the report."""
    paths = list(options.paths) or ["."]
    config = load_lint_config(options.config, paths)
    tables, root = _load_tables(options, config)
    report = AuditReport(_lint(paths, config, options))
    if options.no_runtime:
        report.runtime_note = "runtime checks not run (--no-runtime)"
        return report
    if not tables:
        report.runtime_note = (
            "no runtime checks declared ([[tool.gradcheck-kit.check]] in pyproject.toml)"
        )
        return report
    try:
        import hypothesis  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        # fail closed: a CI set up without the runtime extra must not go green unchecked
        raise ConfigError(
            f"{len(tables)} runtime check(s) declared, but the runtime checker needs torch and "
            f"hypothesis ({exc.name} is missing): {INSTALL_HINT}, "
            "or pass --no-runtime to lint only"
        ) from exc
    from gradcheck_kit.runtime.check import DEFAULT_TIMEOUT
    from gradcheck_kit.runtime.targets import run_guarded, run_isolated_checks

    if isolate_checks(options.isolate, config):
        jobs = [
            (
                str(table.get("target", "")),
                "gradcheck_kit.commands.audit:run_one_job",
                {"table": dict(table), "root": str(root)}
                | {"max_examples": options.max_examples, "seed": options.seed},
                float(table.get("timeout") or DEFAULT_TIMEOUT),
            )
            for table in tables
        ]
        report.checks = run_isolated_checks(jobs, Path.cwd())
        return report
    report.checks = [
        run_guarded(str(table.get("target", "")), functools.partial(run_one, table, root, options))
        for table in tables
    ]
    return report


def run_one_job(
    table: dict[str, Any], root: str, max_examples: int | None, seed: int | None
) -> CheckOutcome:
    """:func:`run_one` with JSON arguments, for an isolated child (``--isolate``)."""
    return run_one(table, Path(root), AuditOptions(max_examples=max_examples, seed=seed))


def run_audit(options: AuditOptions) -> int:
    """``gradcheck-kit audit``: the exit code."""
    try:
        if options.report:
            try:
                report_files("audit").check(options.report)
            except ValueError as exc:
                raise ConfigError(f"--report {options.report}: {exc}") from exc
        report = build_audit(options)
    except ConfigError as exc:
        print(f"gradcheck-kit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if report.empty:
        print(
            "gradcheck-kit audit: warning: nothing was checked (no Python files found or every "
            "path excluded, and no runtime checks declared)",
            file=sys.stderr,
        )
    sys.stdout.write(render("audit", options.format, report))
    if options.report:
        report_files("audit").write(options.report, report, _warn)
    if any(c.usage_error for c in report.checks):
        return EXIT_ERROR  # a usage error (the factory's arity, ...) whatever --exit-zero says
    if report.passed or options.exit_zero:
        return EXIT_OK
    return EXIT_FAILED
