"""``gradcheck-kit lint`` and ``gradcheck-kit rule``: options -> config -> engine -> output."""

from __future__ import annotations

import argparse
import io
import json
import sys
import traceback
from pathlib import Path

from rich.console import Console

from gradcheck_kit._io import write_atomic
from gradcheck_kit.config import Config, ConfigError, discover_config, load_config
from gradcheck_kit.lint.docs import rule_page
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.lint.rules import RULES, unknown_codes
from gradcheck_kit.report import console as views
from gradcheck_kit.report.formats import lint_to_concise, lint_to_json, statistics

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def _fail(message: str) -> int:
    print(f"gradcheck-kit: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def resolve_config(args: argparse.Namespace, paths: list[str]) -> Config:
    """The config file (``--config`` or the nearest pyproject.toml) with CLI flags on top."""
    if getattr(args, "config", None):
        config = load_config(Path(args.config))
    else:
        config = discover_config([Path(p) for p in paths])
    return config.with_overrides(
        select=tuple(args.select) if getattr(args, "select", None) else None,
        ignore=(config.ignore + tuple(args.ignore)) if getattr(args, "ignore", None) else None,
        max_saturating_depth=getattr(args, "max_saturating_depth", None),
    )


def run_lint(args: argparse.Namespace) -> int:
    paths = args.paths or ["."]
    try:
        config = resolve_config(args, paths)
        bad = unknown_codes(config.select + config.ignore)
        if bad:
            raise ConfigError(f"unknown rule code(s): {', '.join(bad)} (see `gradcheck-kit rule`)")
        if config.max_saturating_depth < 1:
            raise ConfigError("--max-saturating-depth must be at least 1")
    except ConfigError as exc:
        return _fail(str(exc))
    try:
        result = lint_paths(paths, config)
    except Exception as exc:
        if args.verbose:
            traceback.print_exc()
        return _fail(f"internal error: {exc} (run with --verbose for the traceback; please report)")

    if args.format == "json":
        text = lint_to_json(result)
    elif args.format == "concise":
        text = lint_to_concise(result)
    else:
        text = ""
    if args.output_file:
        if args.format == "full":
            recorder = Console(record=True, width=100, file=io.StringIO())
            recorder.print(views.lint_renderable(result, args.quiet))
            text = recorder.export_text()
        write_atomic(args.output_file, text)
    elif args.format == "full":
        console = Console(highlight=False)
        console.print(views.lint_renderable(result, args.quiet))
        if args.statistics:
            console.print(views.statistics_table(result))
    else:
        sys.stdout.write(text)
        if args.statistics and args.format == "concise":
            for code, name, count in statistics(result):
                print(f"{count:5d}  {code}  {name}")

    if args.format != "full" or args.output_file:
        for error in result.errors:  # machine output stays parseable; errors go to stderr too
            print(f"gradcheck-kit: {error.path}: {error.message}", file=sys.stderr)
    if result.findings and not args.exit_zero:
        return EXIT_FINDINGS
    if result.errors and not args.exit_zero:
        return EXIT_FINDINGS
    return EXIT_OK


def run_rule(args: argparse.Namespace) -> int:
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
