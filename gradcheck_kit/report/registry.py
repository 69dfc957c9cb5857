"""One registry of output formats: for each subject a command reports on (``lint``, its
``statistics``, ``check``, ``sweep``, ``audit``), the ``--format`` names it offers, in the order
the CLI lists them, and the renderer of each; and the ``--report FILE`` suffixes it accepts and
the writer of that file. Every command picks its renderer here instead of its own if-chain.

Renderers are imported when used, not by this module: ``lint --format json`` never imports rich,
and nothing here imports torch.

A renderer returns the text to write (to ``--output-file`` or stdout); a terminal view prints
itself, with colour, and returns ``""`` unless :attr:`RenderOptions.to_file` asks for the text.
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from gradcheck_kit.report.audit import AuditReport
    from gradcheck_kit.report.checks import CheckOutcome
    from gradcheck_kit.report.findings import LintResult
    from gradcheck_kit.report.sarif import RuleInfo

__all__ = [
    "SUFFIX_FORMATS",
    "OutputFormat",
    "RenderOptions",
    "ReportFiles",
    "output_format",
    "output_formats",
    "render",
    "report_files",
]

#: The report format each file suffix names (``--report FILE``); a subject accepts some of them
#: (:attr:`ReportFiles.suffixes`).
SUFFIX_FORMATS: dict[str, str] = {
    ".html": "html",
    ".htm": "html",
    ".svg": "svg",
    ".md": "markdown",
    ".markdown": "markdown",
    ".json": "json",
    ".png": "png",
}


@dataclass(frozen=True)
class RenderOptions:
    """How to render: ``quiet`` leaves out what passed and the summary; ``to_file`` returns the
    text (no colour, a fixed width) instead of printing it; ``summary`` closes a check list with
    its counts; ``rules`` gives SARIF its rule descriptions (called only for SARIF)."""

    quiet: bool = False
    to_file: bool = False
    summary: bool = True
    rules: Callable[[], Sequence[RuleInfo]] | None = None


@dataclass(frozen=True)
class OutputFormat:
    """A ``--format`` choice: its renderer, and whether its text names the files that could not
    be read (when it does not, the command lists them on stderr)."""

    render: Callable[[Any, RenderOptions], str]
    shows_errors: bool = True


@dataclass(frozen=True)
class ReportFiles:
    """What ``--report FILE`` accepts for a subject: its suffixes, the message for any other
    suffix, and the writer (``write(path, data, warn)``)."""

    suffixes: tuple[str, ...]
    unknown: Callable[[str], str]
    write: Callable[[str, Any, Callable[[str], None]], None]

    def check(self, path: str | os.PathLike[str]) -> str:
        """The format ``path``'s suffix names; ValueError (:attr:`unknown`) if not accepted."""
        suffix = Path(path).suffix.lower()
        if suffix not in self.suffixes:
            raise ValueError(self.unknown(os.fspath(path)))
        return SUFFIX_FORMATS[suffix]


# -- lint ----------------------------------------------------------------------------------------


def _lint_full(result: LintResult, options: RenderOptions) -> str:
    if _plain_clean(result, options):  # what rich prints to a pipe, without importing it
        from gradcheck_kit.report.formats import all_passed

        if not options.quiet:
            print(all_passed(result.files_checked))
        return ""
    from rich.console import Console  # only the full format needs rich: json starts faster

    from gradcheck_kit.report.console import lint_renderable

    if options.to_file:
        recorder = Console(record=True, width=100, file=io.StringIO())
        recorder.print(lint_renderable(result, options.quiet))
        return recorder.export_text()
    Console(highlight=False).print(lint_renderable(result, options.quiet))
    return ""


def _plain_clean(result: LintResult, options: RenderOptions) -> bool:
    """A clean run (no finding, error or fix) printed to a pipe with no colour forced: one plain
    line, and ~0.1 s of a pre-commit run saved on importing rich."""
    return (
        not (result.findings or result.errors or result.fixed)
        and not options.to_file
        and not sys.stdout.isatty()
        and not any(os.environ.get(v) for v in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"))
    )


def _lint_concise(result: LintResult, options: RenderOptions) -> str:
    from gradcheck_kit.report.formats import lint_to_concise

    return lint_to_concise(result, quiet=options.quiet)


def _lint_json(result: LintResult, options: RenderOptions) -> str:
    from gradcheck_kit.report.formats import lint_to_json

    return lint_to_json(result)


def _lint_sarif(result: LintResult, options: RenderOptions) -> str:
    from gradcheck_kit.report.sarif import lint_to_sarif

    return lint_to_sarif(result, options.rules() if options.rules is not None else ())


def _lint_github(result: LintResult, options: RenderOptions) -> str:
    from gradcheck_kit.report.formats import lint_to_github

    return lint_to_github(result)


def _statistics_text(result: LintResult, options: RenderOptions) -> str:
    from gradcheck_kit.report.formats import statistics_text

    return statistics_text(result, options.quiet)


def _statistics_json(result: LintResult, options: RenderOptions) -> str:
    from gradcheck_kit.report.formats import statistics_json

    return statistics_json(result)


def _export_unknown(path: str) -> str:
    from gradcheck_kit.report.export import report_format

    try:
        report_format(path)
    except ValueError as exc:
        return str(exc)
    raise AssertionError(f"{path} names a report format")  # pragma: no cover


def _write_lint(path: str, result: LintResult, warn: Callable[[str], None]) -> None:
    from gradcheck_kit.report.export import write_report

    write_report(path, lint=result)


# -- check -------------------------------------------------------------------------------------


def _checks_full(outcomes: Sequence[CheckOutcome], options: RenderOptions) -> str:
    from gradcheck_kit.report.checks import checks_full

    return checks_full(
        outcomes, quiet=options.quiet, summary=options.summary, to_file=options.to_file
    )


def _checks_json(outcomes: Sequence[CheckOutcome], options: RenderOptions) -> str:
    from gradcheck_kit.report.checks import checks_json

    return checks_json(outcomes)


def _write_checks(path: str, outcomes: Sequence[CheckOutcome], warn: Callable[[str], None]) -> None:
    from gradcheck_kit.report.export import write_report

    write_report(
        path,
        gradients=[o.report for o in outcomes if o.report is not None],
        errors=[
            (o.target, o.verdict) for o in outcomes if o.status == "error" and o.report is None
        ],
    )


# -- sweep -------------------------------------------------------------------------------------


def _sweep_full(report: Any, options: RenderOptions) -> str:
    from rich.console import Console

    if options.quiet:
        return "" if report.passed else report.summary() + "\n"
    if options.to_file:
        buffer = io.StringIO()
        Console(file=buffer, width=110, no_color=True).print(report)
        return buffer.getvalue()
    width = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 110  # piped: 110
    Console(file=sys.stdout, width=width, no_color=False).print(report)
    return ""


def _sweep_json(report: Any, options: RenderOptions) -> str:
    return json.dumps(report.to_dict(), indent=2) + "\n"


def _write_sweep(path: str, report: Any, warn: Callable[[str], None]) -> None:
    from gradcheck_kit.report.export import write_sweep_report

    write_sweep_report(Path(path), report, warn)


# -- audit -------------------------------------------------------------------------------------


def _audit_full(report: AuditReport, options: RenderOptions) -> str:
    from gradcheck_kit.report.audit import audit_full

    return audit_full(report)


def _audit_json(report: AuditReport, options: RenderOptions) -> str:
    from gradcheck_kit.report.audit import audit_text

    return audit_text(report, "json")


def _audit_markdown(report: AuditReport, options: RenderOptions) -> str:
    from gradcheck_kit.report.audit import to_markdown

    return to_markdown(report)


def _write_audit(path: str, report: AuditReport, warn: Callable[[str], None]) -> None:
    from gradcheck_kit.report.audit import write_audit_report

    write_audit_report(report, path)


# -- the registry ------------------------------------------------------------------------------

_STATISTICS_TEXT = OutputFormat(_statistics_text, shows_errors=False)

_OUTPUT: dict[str, dict[str, OutputFormat]] = {
    "lint": {
        "full": OutputFormat(_lint_full),
        "concise": OutputFormat(_lint_concise),
        "json": OutputFormat(_lint_json, shows_errors=False),
        "sarif": OutputFormat(_lint_sarif, shows_errors=False),
        "github": OutputFormat(_lint_github),
    },
    # ``lint --statistics``: the counts replace the findings, as ruff does; JSON stays JSON
    "statistics": {
        "full": _STATISTICS_TEXT,
        "concise": _STATISTICS_TEXT,
        "json": OutputFormat(_statistics_json, shows_errors=False),
        "sarif": _STATISTICS_TEXT,
        "github": _STATISTICS_TEXT,
    },
    "check": {"full": OutputFormat(_checks_full), "json": OutputFormat(_checks_json)},
    "sweep": {"full": OutputFormat(_sweep_full), "json": OutputFormat(_sweep_json)},
    "audit": {
        "full": OutputFormat(_audit_full),
        "json": OutputFormat(_audit_json),
        "markdown": OutputFormat(_audit_markdown),
    },
}

_EXPORT_SUFFIXES = tuple(s for s, f in SUFFIX_FORMATS.items() if f != "png")  # report.export
_SWEEP_SUFFIXES = (".json", ".md", ".svg", ".png", ".html")
_AUDIT_SUFFIXES = (".html", ".htm", ".svg", ".md", ".json")

_REPORT_FILES: dict[str, ReportFiles] = {
    "lint": ReportFiles(_EXPORT_SUFFIXES, _export_unknown, _write_lint),
    "check": ReportFiles(_EXPORT_SUFFIXES, _export_unknown, _write_checks),
    "sweep": ReportFiles(
        _SWEEP_SUFFIXES,
        lambda path: f"unknown suffix (use {', '.join(_SWEEP_SUFFIXES)})",
        _write_sweep,
    ),
    "audit": ReportFiles(
        _AUDIT_SUFFIXES, lambda path: "unknown suffix (use .html, .svg, .md or .json)", _write_audit
    ),
}


def output_formats(subject: str) -> list[str]:
    """The ``--format`` names of ``subject``, in the order the CLI lists them."""
    return list(_OUTPUT[subject])


def output_format(subject: str, name: str) -> OutputFormat:
    """The format ``name`` of ``subject``; KeyError for one it does not offer."""
    return _OUTPUT[subject][name]


def render(subject: str, name: str, data: Any, options: RenderOptions | None = None) -> str:
    """``data`` rendered in format ``name`` (see :class:`OutputFormat`)."""
    return output_format(subject, name).render(data, options or RenderOptions())


def report_files(subject: str) -> ReportFiles:
    """What ``--report FILE`` accepts for ``subject`` and how it is written."""
    return _REPORT_FILES[subject]
