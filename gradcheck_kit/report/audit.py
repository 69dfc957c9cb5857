"""The audit report as data and its renderings: the terminal view (a rich renderable), JSON,
a Markdown pull-request comment, and ``--report`` files (``.html`` is a page for a reviewer,
:mod:`gradcheck_kit.report.html`; ``.svg`` looks like the terminal, ``.md`` is the PR comment,
``.json`` is data).

A lint finding and the runtime check of the same model are shown together ("flagged
statically, confirmed at runtime"); :func:`agreement` says how they relate. In the Markdown, a
finding's fix follows the findings table as a GitHub suggestion
(:func:`gradcheck_kit.report.markdown.fix_lines`).
"""

from __future__ import annotations

import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradcheck_kit._io import write_atomic
from gradcheck_kit._version import __version__
from gradcheck_kit.report import console as views
from gradcheck_kit.report.checks import CheckOutcome
from gradcheck_kit.report.findings import Finding, LintResult
from gradcheck_kit.report.formats import lint_to_dict
from gradcheck_kit.report.gradient_console import plural
from gradcheck_kit.report.gradients import fmt
from gradcheck_kit.report.markdown import fix_lines, gradient_details, source_reader

__all__ = [
    "AUDIT_REPORT_SUFFIXES",
    "AuditReport",
    "agreement",
    "audit_full",
    "audit_text",
    "to_markdown",
    "write_audit_report",
]


@dataclass
class AuditReport:
    lint: LintResult
    checks: list[CheckOutcome] = field(default_factory=list)
    runtime_note: str | None = None  # why no checks ran, when none did

    @property
    def passed(self) -> bool:
        return (
            not self.failing_findings()
            and not self.lint.errors
            and all(c.status in ("passed", "skipped") for c in self.checks)
        )

    @property
    def empty(self) -> bool:
        """Nothing was checked: no file linted (none found, or every one excluded) and no
        runtime check run. Not a PASS."""
        return (
            self.lint.files_checked == 0
            and not self.lint.errors
            and not any(c.status != "skipped" for c in self.checks)
        )

    @property
    def title(self) -> str:
        """``PASS``, ``FAIL``, or ``NOTHING CHECKED`` for an empty run."""
        if not self.passed:
            return "FAIL"
        return "NOTHING CHECKED" if self.empty else "PASS"

    def failing_findings(self) -> list[Finding]:
        """Findings that fail the audit: all but those a runtime check refuted at the code's own
        depth (the measurement outranks the prediction)."""
        return [f for f in self.lint.findings if agreement(f, self.confirmation(f))[0] != "refuted"]

    def confirmation(self, finding: Finding) -> CheckOutcome | None:
        """The runtime check of the class (or builder function) a finding is about, whatever
        the route to it: a factory in another file, a builder function, a wrapper class, a
        functools.partial, a subclass, a model inside a container."""
        if finding.symbol is None:
            return None
        try:
            path = str(Path(finding.path).resolve())
        except OSError:
            return None
        for check in self.checks:
            if (path, finding.symbol) in check.covers:
                return check
        return None

    def verdict_text(self) -> str:
        n_findings = len(self.lint.findings)
        ran = [c for c in self.checks if c.status != "skipped"]
        ok = sum(c.status == "passed" for c in ran)
        parts = [
            f"{plural(n_findings, 'finding')} in {plural(self.lint.files_checked, 'file')}",
        ]
        refuted = n_findings - len(self.failing_findings())
        if refuted:
            parts.append(f"{refuted} of them refuted at runtime (not failing the audit)")
        if self.lint.errors:
            parts.append(f"{plural(len(self.lint.errors), 'file')} could not be linted")
        if self.checks:
            parts.append(f"{ok}/{len(ran)} runtime checks passed")
            skipped = len(self.checks) - len(ran)
            if skipped:
                parts.append(f"{skipped} skipped")
        elif self.runtime_note:
            parts.append(self.runtime_note)
        if self.empty:
            parts.append("nothing was checked")
        return ", ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "passed": self.passed,
            "empty": self.empty,
            "verdict": self.verdict_text(),
            "lint": lint_to_dict(self.lint),
            "confirmations": [
                {
                    "finding": f"{f.path}:{f.line}:{f.column}",
                    "code": f.code,
                    "check": c.target,
                    "runtime": c.verdict,
                    "agreement": agreement(f, c)[0],
                    "explanation": agreement(f, c)[1],
                }
                for f in self.lint.findings
                if (c := self.confirmation(f)) is not None
            ],
            "checks": [c.to_dict() for c in self.checks],
            "runtime_note": self.runtime_note,
        }

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.lint.findings or self.lint.errors:
            yield Text("Static analysis", style="bold underline")
            for finding in self.lint.findings:
                yield views.FindingView(finding)
                check = self.confirmation(finding)
                if check is not None:
                    yield _confirmation_text(finding, check)
            yield from views.error_lines(self.lint)
            yield Text("")
        yield Text("Gradient flow", style="bold underline")
        if self.checks:
            yield _checks_table(self.checks)
            for check in self.checks:
                if check.report is not None and not check.report.passed:
                    yield check.report
        else:
            yield Text(self.runtime_note or "no runtime checks declared", style="dim")
        style = ("yellow" if self.empty else "green") if self.passed else "red"
        title = self.title
        yield Panel(Text(self.verdict_text()), title=f"[bold {style}]{title}", border_style=style)


def agreement(finding: Finding, check: CheckOutcome | None) -> tuple[str, str]:
    """(``confirmed`` | ``refuted`` | ``unconfirmed`` | ``unchecked``, one sentence): what the
    runtime check of the same model says about a static finding, and why they differ."""
    if check is None:
        return "unchecked", ""
    if check.status == "failed":
        return "confirmed", f"flagged statically, confirmed at runtime: {check.verdict}"
    report = check.report
    if check.status != "passed" or report is None:
        return "unchecked", f"runtime check {check.target}: {check.verdict}"
    tried = report.depths_tried or ((report.depths[0],) if report.depths else ())
    if finding.depth is not None and finding.depth in tried:
        return "refuted", (
            f"flagged statically, but the runtime check {check.target} measured depth "
            f"{finding.depth} (the code's own) and passed (worst flow ratio "
            f"{fmt(report.ratio)}): the measurement outranks the prediction, so this finding "
            "does not fail the audit; they differ by the init, the input's scale, or a shape "
            "the linter does not model"
        )
    if finding.depth is not None and tried and finding.depth > max(tried):
        return "unconfirmed", (
            f"flagged statically at depth {finding.depth}; the runtime check {check.target} "
            f"passed but only tried depths up to {max(tried)}: raise its depths to include "
            f"{finding.depth}"
        )
    return "unconfirmed", (
        f"flagged statically; the runtime check {check.target} passed at the depths it tried "
        f"({', '.join(str(d) for d in tried) or '-'})"
    )


_AGREEMENT_STYLE = {"confirmed": "red", "refuted": "green", "unconfirmed": "yellow"}


def _confirmation_text(finding: Finding, check: CheckOutcome) -> Text:
    kind, text = agreement(finding, check)
    return Text(f"  {text}", style=_AGREEMENT_STYLE.get(kind, "dim"))


def _checks_table(checks: list[CheckOutcome]) -> Any:
    """Numbers and verdicts are never cut; targets and models fold; narrower, the vertical rules
    go, then model and target share a column; narrower still, one record per check: its target
    and model on lines of their own, then its numbers and verdict."""
    from rich import box

    from gradcheck_kit.report.gradient_console import Fit

    def build(compact: bool, merged: bool) -> Table:
        table = Table(show_lines=False, header_style="bold")
        if compact:
            table.box, table.show_edge, table.pad_edge = box.SIMPLE_HEAD, False, False
        table.add_column("target / model" if merged else "target", overflow="fold")
        if not merged:
            table.add_column("model", overflow="fold")
        table.add_column("depths", no_wrap=True)
        table.add_column("ex." if merged else "examples", justify="right", no_wrap=True)
        table.add_column("flow ratio", justify="right", no_wrap=True)
        short = all(len(c.verdict) <= 40 for c in checks)  # a headline, not an error message
        table.add_column("verdict", no_wrap=short, overflow="fold")
        for check in checks:
            report = check.report
            depths = report.depth_span if report is not None else "-"
            ratio = "-"
            if report is not None:
                value = report.shown_ratio
                ratio = f"{value:.2e}" if isinstance(value, (int, float)) else "-"
            style = {"passed": "green", "failed": "red", "error": "red", "skipped": "dim"}
            names = (
                [f"{check.target}\n{check.model or '-'}"]
                if merged
                else [
                    check.target,
                    check.model or "-",
                ]
            )
            table.add_row(
                *names,
                depths,
                str(report.examples_run) if report is not None else "-",
                ratio,
                Text(check.verdict, style=style[check.status]),
            )
        return table

    def records() -> Group:
        style = {"passed": "green", "failed": "red", "error": "red", "skipped": "dim"}
        lines: list[Text] = []
        for check in checks:
            report = check.report
            lines.append(Text(check.target, style="bold", overflow="fold"))
            if check.model:
                lines.append(Text(f"  model {check.model}", overflow="fold"))
            if report is not None:
                value = report.shown_ratio
                ratio = f"{value:.2e}" if isinstance(value, (int, float)) else "-"
                depths = report.depth_span
                lines.append(
                    Text(
                        f"  depths {depths}, {report.examples_run} examples, flow ratio {ratio}",
                        overflow="fold",
                    )
                )
            lines.append(Text("  " + check.verdict, style=style[check.status], overflow="fold"))
        return Group(*lines)

    return Fit(
        lambda: build(False, False),
        lambda: build(True, False),
        lambda: build(True, True),
        records,
    )


# -- markdown (a pull-request comment) ---------------------------------------------------------


def _md_escape(text: str) -> str:
    """User-controlled text (paths, class names, messages) in a table cell or a line: no HTML
    gets through and a ``|`` does not split the cell."""
    return html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")


def _md_code(text: str, in_table: bool = True) -> str:
    """A code span; inside a table a ``|`` still needs its backslash (GFM splits cells first)."""
    text = text.replace("\n", " ")
    if "`" in text:
        return _md_escape(text)
    if in_table:
        text = text.replace("|", "\\|")
    return f"`{text}`"


def to_markdown(report: AuditReport) -> str:
    lines = [
        "## gradcheck-kit audit",
        "",
        f"**{report.title}**: {report.verdict_text()}",
        "",
    ]
    if report.lint.findings:
        lines += [
            "### Static analysis",
            "",
            "| location | rule | depth | finding | at runtime |",
            "| --- | --- | --- | --- | --- |",
        ]
        for f in report.lint.findings:
            runtime = _md_escape(agreement(f, report.confirmation(f))[1])
            depth = str(f.depth) if f.depth is not None else "?"
            lines.append(
                f"| {_md_code(f'{f.path}:{f.line}')} | {f.code} {f.name} | {depth} "
                f"| {_md_escape(f.message)} "
                f"| {runtime} |"
            )
        lines.append("")
        fixed = [f for f in report.lint.findings if f.fix is not None]
        if fixed:  # GitHub suggestions: a reviewer commits them with one click
            read = source_reader()
            lines += ["#### Fixes", ""]
            for f in fixed:
                lines += fix_lines(f, read)
    if report.lint.errors:
        lines += ["### Files that could not be linted", ""]
        lines += [
            f"- {_md_code(e.path, in_table=False)}: {_md_escape(e.message)}"
            for e in report.lint.errors
        ]
        lines.append("")
    lines += ["### Gradient flow", ""]
    if report.checks:
        lines += [
            "| target | model | depths | examples | flow ratio | verdict |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
        for check in report.checks:
            r = check.report
            depths = f"{r.depths[0]}..{r.depths[1]}" if r is not None and r.depths else "-"
            value = r.shown_ratio if r is not None else None
            ratio = f"{value:.2e}" if isinstance(value, (int, float)) else "-"
            examples = str(r.examples_run) if r is not None else "-"
            icon = {"passed": "✅", "failed": "❌", "error": "❌", "skipped": "⏭️"}[check.status]
            lines.append(
                f"| {_md_code(check.target)} | {_md_escape(check.model or '-')} | {depths} "
                f"| {examples} | {ratio} "
                f"| {icon} {_md_escape(check.verdict)} |"
            )
        lines.append("")
        for check in report.checks:
            if check.report is not None and not check.report.passed:
                # the same collapsible profile the pytest plugin's Markdown report shows
                lines += gradient_details(None, check.report)
    else:
        lines += [report.runtime_note or "No runtime checks declared.", ""]
    return "\n".join(lines)


def audit_text(report: AuditReport, fmt: str, width: int | None = None) -> str:
    if fmt == "json":
        return json.dumps(report.to_dict(), indent=2) + "\n"
    if fmt == "markdown":
        return to_markdown(report)
    buffer = io.StringIO()
    Console(file=buffer, width=width or 110, no_color=True).print(report)
    return buffer.getvalue()


def write_audit_report(report: AuditReport, path: str) -> None:
    """``.html`` is a page for a reviewer (:mod:`.html`); ``.svg`` looks like the terminal;
    ``.md`` is a PR comment; ``.json`` is data."""
    suffix = Path(path).suffix.lower()
    if suffix in (".html", ".htm"):
        from gradcheck_kit.report.html import audit_html

        text = audit_html(report)
    elif suffix == ".svg":
        console = Console(record=True, file=io.StringIO(), width=120, force_terminal=True)
        console.print(report)
        text = console.export_svg(title="gradcheck-kit audit")
    elif suffix == ".md":
        text = to_markdown(report)
    elif suffix == ".json":
        text = audit_text(report, "json")
    else:
        raise ValueError(f"--report {path}: unknown suffix (use .html, .svg, .md or .json)")
    write_atomic(path, text)


AUDIT_REPORT_SUFFIXES = (".html", ".htm", ".svg", ".md", ".json")


def audit_full(report: AuditReport) -> str:
    """``audit --format full``: printed to the terminal; returns ""."""
    Console(highlight=False).print(report)
    return ""
