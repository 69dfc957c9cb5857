"""Rich renderings of lint results: code frames like ruff's ``full`` output, and a summary."""

from __future__ import annotations

from collections.abc import Iterator

from rich.console import Console, ConsoleOptions, Group, RenderResult
from rich.markdown import Markdown, TableElement
from rich.syntax import Syntax
from rich.table import Table
from rich.text import Text

from gradcheck_kit.report.findings import Finding, LintResult
from gradcheck_kit.report.formats import all_passed, error_location, fix_hints, statistics
from gradcheck_kit.report.gradient_console import plural
from gradcheck_kit.report.source import python_lines, read_source

_CONTEXT = 2  # lines shown around a finding


class FindingView:
    """One finding with a code frame of its source (read lazily, at render time)."""

    def __init__(self, finding: Finding, source: str | None = None, fixable: bool = False) -> None:
        self.finding = finding
        self.source = source
        self.fixable = fixable  # ``--fix`` would fix it: ``[*]`` after the code, as ruff marks it

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        f = self.finding
        header = Text()
        header.append(f.path, style="bold")
        cell = f":cell {f.cell}" if f.cell is not None else ""
        header.append(f"{cell}:{f.line}:{f.column}: ", style="dim")
        header.append(f.code, style="bold red" if f.severity == "error" else "bold yellow")
        if self.fixable:
            header.append(" [*]", style="bold cyan")
        header.append(f" [{f.name}] ", style="dim")
        header.append(f.message)
        yield header
        source = self.source
        if source is None:
            source = read_source(f.path, f.cell)
        if source is not None:
            source = "\n".join(python_lines(source))
            last = min(f.end_line, f.line + 12)  # long stacks: show where they start
            yield Syntax(
                source,
                "python",
                line_numbers=True,
                line_range=(max(1, f.line - _CONTEXT), last + _CONTEXT),
                highlight_lines=set(range(f.line, last + 1)),
                word_wrap=True,  # a narrow terminal wraps a long line, never cuts it
                theme="ansi_dark",
            )
        if f.symbol:
            yield Text(f"  in {f.symbol}", style="dim")
        yield Text("")


class LintSummary:
    def __init__(self, result: LintResult) -> None:
        self.result = result

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        r = self.result
        n = len(r.findings)
        if r.fixed:
            style = "bold yellow" if n or r.errors else "bold green"
            files = plural(r.files_checked, "file")
            total = plural(n + len(r.fixed), "finding")
            text = f"Found {total} in {files} checked ({len(r.fixed)} fixed, {n} remaining)."
        elif n or r.errors:
            style = "bold yellow"
            files = plural(r.files_checked, "file")
            text = f"Found {plural(n, 'finding')} in {files} checked."
        else:
            style = "bold green"
            text = all_passed(r.files_checked)
        yield Text(text, style=style)
        if r.errors:
            yield Text(
                f"{len(r.errors)} file{'s' if len(r.errors) != 1 else ''} could not be linted.",
                style="bold red",
            )
        for hint in fix_hints(r):
            yield Text(hint, style="bold" if hint.startswith("[*]") else "dim")


def error_lines(result: LintResult) -> Iterator[Text]:
    for error in result.errors:
        where, what = error_location(error)
        line = Text()
        line.append(where, style="bold")
        line.append(": error: ", style="bold red")
        line.append(what)
        yield line


def lint_renderable(result: LintResult, quiet: bool = False) -> Group:
    parts: list[object] = [FindingView(f, fixable=result.can_fix(f)) for f in result.findings]
    parts.extend(error_lines(result))
    if not quiet:
        parts.append(LintSummary(result))
    return Group(*parts)  # type: ignore[arg-type]


def statistics_table(result: LintResult) -> Table:
    table = Table(box=None, show_header=False)
    table.add_column(justify="right")
    table.add_column()
    table.add_column(style="dim")
    for code, name, count in statistics(result):
        table.add_row(str(count), code, name)
    return table


class _FoldingTable(TableElement):
    """A Markdown table whose cells fold at a narrow width instead of ending in an ellipsis."""

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        for part in super().__rich_console__(console, options):
            if isinstance(part, Table):
                for column in part.columns:
                    column.overflow = "fold"
            yield part


class _RulePage(Markdown):
    elements = {**Markdown.elements, "table_open": _FoldingTable}


def rule_page(markdown: str) -> Markdown:
    """A rule's page for the terminal: nothing cut at any width (tables fold)."""
    return _RulePage(markdown)
