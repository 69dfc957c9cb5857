"""``gradcheck-kit rule [CODE]``: explain a rule (its page), or list every rule.

Its formats (``full``, ``markdown``, ``json``) describe the rule registry of the linter, not a
report, so they are chosen here rather than in :mod:`gradcheck_kit.report.registry`.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

from gradcheck_kit.commands import EXIT_ERROR, EXIT_OK
from gradcheck_kit.lint.rules import RULES

__all__ = ["RuleOptions", "run_rule"]


@dataclass(frozen=True)
class RuleOptions:
    """What ``gradcheck-kit rule`` was asked to do."""

    code: str | None = None
    format: str = "full"


def _fail(message: str) -> int:
    print(f"gradcheck-kit: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def run_rule(options: RuleOptions) -> int:
    """``gradcheck-kit rule [CODE]``: the exit code."""
    from rich.console import Console

    from gradcheck_kit.report import console as views

    console = Console(highlight=False)
    if not options.code:
        if options.format == "json":
            print(json.dumps([_rule_meta(code) for code in RULES], indent=2))
            return EXIT_OK
        for rule in RULES.values():
            state = "" if rule.default else " (off by default)"
            console.print(f"[bold]{rule.code}[/bold] {rule.name}: {rule.summary}{state}")
        return EXIT_OK
    code = options.code.upper()
    if code not in RULES:
        return _fail(f"unknown rule {options.code!r}; known rules: {', '.join(RULES)}")
    from gradcheck_kit.lint.docs import rule_page

    page = rule_page(code)
    if options.format == "json":
        print(json.dumps({**_rule_meta(code), "page": page}, indent=2))
    elif page is None:
        console.print(f"{code} {RULES[code].name}: {RULES[code].summary}")
    elif options.format == "markdown":
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
