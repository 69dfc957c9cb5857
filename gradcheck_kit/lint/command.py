"""``gradcheck-kit lint`` and ``gradcheck-kit rule``: options -> config -> engine -> output."""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import traceback
from pathlib import Path

from gradcheck_kit._io import write_atomic
from gradcheck_kit.config import Config, ConfigError, discover_config, load_config
from gradcheck_kit.lint.cache import default_cache_dir
from gradcheck_kit.lint.diff import DiffError, changed_lines, only_changed
from gradcheck_kit.lint.engine import INTERNAL_ERROR, internal_traceback, lint_paths
from gradcheck_kit.lint.rules import RULES, unknown_codes
from gradcheck_kit.report.findings import LintResult
from gradcheck_kit.report.formats import (
    lint_to_concise,
    lint_to_github,
    lint_to_json,
    statistics_json,
    statistics_text,
)
from gradcheck_kit.report.sarif import lint_to_sarif

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> int:
    print(f"gradcheck-kit: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _warn(message: str) -> None:
    print(f"gradcheck-kit: warning: {message}", file=sys.stderr)


def resolve_config(args: argparse.Namespace, paths: list[str]) -> Config:
    """The config file (``--config`` or the nearest pyproject.toml) with CLI flags on top."""
    if getattr(args, "config", None):
        config = load_config(Path(args.config))
    else:
        config = discover_config(config_starts(paths))
    return config.with_overrides(
        select=tuple(args.select) if getattr(args, "select", None) else None,
        ignore=(config.ignore + tuple(args.ignore)) if getattr(args, "ignore", None) else None,
        max_saturating_depth=getattr(args, "max_saturating_depth", None),
        vanish_bound=getattr(args, "vanish_bound", None),
        explode_bound=getattr(args, "explode_bound", None),
    )


def config_starts(paths: list[str]) -> list[Path]:
    """Where to look for pyproject.toml: each path, or the folder of one that cannot be
    resolved (a symlink loop) - that file is then reported as unreadable, not a crash."""
    starts = []
    for raw in paths:
        path = Path(raw)
        try:
            path.resolve()
        except (OSError, RuntimeError):
            path = Path(os.path.abspath(path)).parent
        starts.append(path)
    return starts


def run_lint(args: argparse.Namespace) -> int:
    paths = args.paths or ["."]
    try:
        config = resolve_config(args, paths)
        bad = unknown_codes(config.select + config.ignore)
        if bad:
            raise ConfigError(f"unknown rule code(s): {', '.join(bad)} (see `gradcheck-kit rule`)")
        if config.max_saturating_depth is not None and config.max_saturating_depth < 1:
            raise ConfigError("--max-saturating-depth must be at least 1")
        if not config.explode_bound > 1:
            raise ConfigError("--explode-bound must be above 1")
        if args.jobs is not None and args.jobs < 1:
            raise ConfigError("--jobs must be at least 1 (leave it out to use every core)")
        if getattr(args, "report", None):
            from gradcheck_kit.report.export import report_format

            try:
                report_format(args.report)
            except ValueError as exc:
                raise ConfigError(f"--report: {exc}") from exc
    except ConfigError as exc:
        return _fail(str(exc))
    changed = None
    if args.diff:
        try:
            changed = changed_lines(args.diff, Path(paths[0]))
        except DiffError as exc:
            return _fail(str(exc))
    cache_dir = None
    if not args.no_cache:
        cache_dir = Path(args.cache_dir) if args.cache_dir else default_cache_dir(config)
    try:
        result = lint_paths(
            paths,
            config,
            jobs=args.jobs,
            cache_dir=cache_dir,
            only=changed.touches if changed is not None else None,
            warn=_warn,
        )
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        return _fail(f"internal error: {exc} (run with --verbose for the traceback; please report)")
    if changed is not None:
        result.findings = only_changed(result.findings, changed)

    if getattr(args, "report", None):
        from gradcheck_kit.report.export import write_report

        try:
            write_report(args.report, lint=result)
        except (ValueError, OSError) as exc:
            return _fail(f"--report {args.report}: {exc}")
    text, errors_in_text = _render(result, args)
    if args.output_file:
        try:
            write_atomic(args.output_file, text)
        except OSError as exc:
            return _fail(f"cannot write --output-file {args.output_file}: {exc.strerror or exc}")
    elif text:
        sys.stdout.write(text)
    if not errors_in_text or args.output_file:
        for error in result.errors:  # machine output stays parseable; errors go to stderr
            print(f"gradcheck-kit: {error.path}: {error.message}", file=sys.stderr)
    internal = [e for e in result.errors if e.message.startswith(INTERNAL_ERROR)]
    if internal:  # a bug in gradcheck-kit, not in the user's files: exit 2, as ruff does
        for error in internal:
            trace = internal_traceback(Path(error.path), config) if args.verbose else None
            if trace:
                print(f"gradcheck-kit: traceback for {error.path}:\n{trace}", file=sys.stderr)
        if not args.verbose:
            print(
                "gradcheck-kit: internal error on "
                f"{', '.join(e.path for e in internal)}; run with --verbose for the traceback",
                file=sys.stderr,
            )
        return EXIT_ERROR
    if (result.findings or result.errors) and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def _render(result: LintResult, args: argparse.Namespace) -> tuple[str, bool]:
    """The report as text, and whether it already names the files that could not be linted."""
    if args.statistics:  # as ruff: the counts replace the findings
        if args.format == "json":
            return statistics_json(result), False
        return statistics_text(result, args.quiet), False
    if args.format == "json":
        return lint_to_json(result), False
    if args.format == "sarif":
        from gradcheck_kit.lint.docs import rule_infos

        return lint_to_sarif(result, rule_infos()), False
    if args.format == "github":
        return lint_to_github(result), True
    if args.format == "concise":
        return lint_to_concise(result, quiet=args.quiet), True
    from rich.console import Console  # only the full format needs rich: json starts faster

    from gradcheck_kit.report import console as views

    if args.output_file:
        recorder = Console(record=True, width=100, file=io.StringIO())
        recorder.print(views.lint_renderable(result, args.quiet))
        return recorder.export_text(), True
    Console(highlight=False).print(views.lint_renderable(result, args.quiet))
    return "", True


def run_rule(args: argparse.Namespace) -> int:
    from rich.console import Console

    from gradcheck_kit.report import console as views

    console = Console(highlight=False)
    if not args.code:
        if args.format == "json":
            print(json.dumps([_rule_meta(code) for code in RULES], indent=2))
            return EXIT_OK
        for rule in RULES.values():
            state = "" if rule.default else " (off by default)"
            console.print(f"[bold]{rule.code}[/bold] {rule.name}: {rule.summary}{state}")
        return EXIT_OK
    code = args.code.upper()
    if code not in RULES:
        return _fail(f"unknown rule {args.code!r}; known rules: {', '.join(RULES)}")
    from gradcheck_kit.lint.docs import rule_page

    page = rule_page(code)
    if args.format == "json":
        print(json.dumps({**_rule_meta(code), "page": page}, indent=2))
    elif page is None:
        console.print(f"{code} {RULES[code].name}: {RULES[code].summary}")
    elif args.format == "markdown":
        sys.stdout.write(page)
    else:
        console.print(views.rule_page(page))
    return EXIT_OK


def _rule_meta(code: str) -> dict[str, object]:
    rule = RULES[code]
    return {
        "code": rule.code,
        "name": rule.name,
        "summary": rule.summary,
        "severity": rule.severity,
        "default": rule.default,
    }
