"""Markdown for a pull-request comment: GitHub-flavoured tables, collapsible details, no ANSI.

Everything that comes from the user (paths, model and layer names, messages) is escaped: in table
cells and HTML tags ``& < > |`` become entities, so a name cannot open a tag or split a cell; code
frames go in fences longer than any run of backticks they contain.

A finding with a fix shows it as GitHub's ```` ```suggestion ```` block: the whole lines its edits
touch, as they read once the fix is applied (a reviewer can paste it into a review comment on
those lines, and commit it with one click). The file is read again to build it; when it cannot
be read, or no longer matches the fix, only the fix's message is shown. A notebook's fix is
shown as a ``python`` block of the cell's lines (a suggestion would replace the notebook's JSON).
"""

from __future__ import annotations

import html
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from gradcheck_kit.report.findings import Edit, Finding, Fix, LintResult
from gradcheck_kit.report.formats import location
from gradcheck_kit.report.gradient_console import (
    BAR_WIDTH,
    Entry,
    bar_scale,
    depths_text,
    shown_rows,
    verdict,
)
from gradcheck_kit.report.gradients import GradientReport, LayerStat, fmt
from gradcheck_kit.report.source import LINE_BREAK, Offsets, python_lines, read_source

_CONTEXT = 2  # source lines around a finding


def cell(value: object) -> str:
    """Text safe inside a table cell or an HTML tag."""
    text = html.escape(str(value), quote=False).replace("|", "&#124;")
    # every character a renderer may break a line at (a lone \r, U+2028...) ends the cell's line
    return "<br>".join(text.splitlines())


def code(value: object) -> str:
    """Inline code that no user text can close: a ``<code>`` tag around an escaped cell (a
    backtick span would end at the first backtick of a name, and show entities literally)."""
    return f"<code>{cell(value)}</code>"


def _row(values: Sequence[object]) -> str:
    return "| " + " | ".join(cell(v) for v in values) + " |"


def table(header: Sequence[str], rows: Sequence[Sequence[object]], align: str = "") -> list[str]:
    """A GFM table; ``align`` has one letter per column, ``r`` right-aligns it."""
    rule = ["---:" if (align[i : i + 1] == "r") else "---" for i in range(len(header))]
    return [_row(header), "| " + " | ".join(rule) + " |", *(_row(r) for r in rows)]


def fence(code: str, lang: str = "") -> list[str]:
    longest = max((len(m) for m in re.findall(r"`+", code)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{lang}", code.rstrip("\n"), ticks]


def text_bar(value: float | None, lo: float, hi: float, width: int = BAR_WIDTH) -> str:
    """The console's log-scale bar in plain characters."""
    if value is None:
        return ""
    if not math.isfinite(value):
        return "non-finite"
    if value == 0:
        return "zero"
    span = max(hi - lo, 1e-9)
    filled = min(width, max(1, round((math.log10(value) - lo) / span * width)))
    return "█" * filled + "·" * (width - filled)


# --------------------------------------------------------------------------- gradients


def gradient_summary(entries: Sequence[Entry]) -> list[str]:
    with_tests = any(test for test, _ in entries)
    header = ["model", "depths tried", "examples", "worst ratio", "limits", "verdict"]
    if with_tests:
        header.insert(0, "test")
    rows: list[list[object]] = []
    for test, report in entries:
        ratio = report.shown_ratio
        limits = report.limits_text
        mark = "✅ pass" if report.passed else f"❌ {verdict(report)}"
        if report.failure is not None and report.failure.depth is not None:
            mark += f" at depth {report.failure.depth}"
        row: list[object] = [
            report.target,
            depths_text(report),
            report.examples_run,
            fmt(ratio),
            limits,
            mark,
        ]
        if with_tests:
            row.insert(0, test or "")
        rows.append(row)
    return table(header, rows, align=("_" if with_tests else "") + "__rrr_")


def layer_rows(layers: Sequence[LayerStat]) -> list[str]:
    lo, hi = bar_scale(layers)
    rows: list[list[object]] = []
    for layer in shown_rows(layers):
        if layer is None:
            rows.append(["…", "", "", "", "", "", ""])
            continue
        saturated = (
            ""
            if layer.saturation is None
            else f"{layer.saturation:.0%} {layer.activation or ''}".strip()
        )
        rows.append(
            [
                layer.index,
                layer.name,
                layer.type,
                fmt(layer.grad_rms) + (" (underflow)" if layer.underflow else ""),
                text_bar(layer.grad_rms, lo, hi),
                fmt(layer.param_grad_rms),
                saturated,
            ]
        )
    header = ["#", "layer", "type", "grad RMS", f"log10 RMS {lo:.1f} .. {hi:.1f}"]
    return table([*header, "param grad", "saturated"], rows, align="r__r_rr")


def gradient_details(test: str | None, report: GradientReport) -> list[str]:
    failure = report.failure
    label = f"{test} · {report.target}" if test else report.target
    if failure is None:
        summary = f"✅ {label}: passed, worst flow ratio {fmt(report.ratio)}"
    else:
        depth = f" at depth {failure.depth}" if failure.depth is not None else ""
        summary = f"❌ {label}: {failure.kind}{depth}"
    out = [f"<details{' open' if failure else ''}><summary>{cell(summary)}</summary>", ""]
    if failure is not None:
        depth = f"depth {failure.depth}" if failure.depth is not None else "the first example"
        out += [
            f"- smallest failing example: {cell(depth)} on "
            f"{cell(failure.device)}/{cell(failure.dtype)}",
            f"- {cell(failure.message)}",
            f"- input: {cell(failure.input_desc)}",
        ]
        if failure.exception:
            out.append(f"- exception: {cell(failure.exception)}")
    seed = f", seed {report.seed}" if report.seed is not None else ""
    out.append(
        f"- {report.examples_run} examples at depths {cell(depths_text(report))}{seed}, "
        f"{report.elapsed_s:.1f} s"
    )
    out += [f"- note: {cell(note)}" for note in report.notes]
    layers = failure.layers if failure and failure.layers else report.layers
    if layers:
        out += ["", *layer_rows(layers)]
    for seq in report.sequences:
        out += [
            "",
            f"Through time: {cell(seq.type)} {code(seq.name)}, {len(seq.steps)} input steps, "
            f"smallest/largest {fmt(seq.ratio)}",
            "",
            *table(
                ["steps", "grad RMS"],
                [[str(a) if a == b else f"{a}-{b}", fmt(v)] for a, b, v in seq.buckets()],
                align="rr",
            ),
        ]
    if report.devices and (len(report.devices) > 1 or report.parity):
        out += [
            "",
            *table(
                ["device", "dtype", "flow ratio", "verdict"],
                [
                    [d.device, d.dtype, fmt(d.ratio), "pass" if d.passed else d.kind]
                    for d in report.devices
                ],
                align="__r_",
            ),
        ]
    if failure is not None and report.reproduce:
        out += ["", "Reproduce:", "", *fence(report.reproduce)]
    out += ["", "</details>", ""]
    return out


# --------------------------------------------------------------------------- lint


def _frame(finding: Finding, source: str | None) -> list[str]:
    if source is None:
        return []
    lines = python_lines(source)
    last = min(finding.end_line, finding.line + 12)
    start = max(1, finding.line - _CONTEXT)
    stop = min(len(lines), last + _CONTEXT)
    width = len(str(stop))
    body = [
        f"{'>' if finding.line <= n <= last else ' '} {n:>{width}} | {lines[n - 1]}"
        for n in range(start, stop + 1)
    ]
    return fence("\n".join(body), "text") if body else []


#: How each applicability reads next to a fix (ruff's words; the flags that apply it).
APPLICABILITY_TEXT = {
    "safe": "safe: applied by --fix",
    "unsafe": "unsafe: applied by --fix --unsafe-fixes, review it",
    "display-only": "display-only: a suggestion, never applied automatically",
}

Hunk = tuple[int, int, str]  # first line, last line (1-based, inclusive), their new text


def _touched_lines(edit: Edit) -> tuple[int, int]:
    """The lines an edit changes: an edit that ends at column 1 of a later line (a deleted line
    break) leaves that line as it was."""
    last = edit.end_line
    if edit.end_column == 1 and edit.end_line > edit.line:
        last -= 1
    return edit.line, last


def suggestion_hunks(source: str, edits: Sequence[Edit]) -> list[Hunk]:
    """Each run of adjacent lines that ``edits`` touch, as whole lines with the edits applied
    (what a GitHub suggestion on those lines replaces them with), line breaks as ``\\n``.
    ValueError when an edit falls outside ``source`` or two overlap: the fix was computed for
    other text."""
    text = LINE_BREAK.sub("\n", source)
    offset = Offsets(text)
    starts = offset.starts
    n_lines = len(starts) - 1 if text.endswith("\n") or not text else len(starts)

    spans = []
    for edit in edits:
        start, end = offset(edit.line, edit.column), offset(edit.end_line, edit.end_column)
        if start > end:
            raise ValueError("an edit ends before it starts")
        first, last = _touched_lines(edit)
        first = min(first, max(n_lines, 1))  # an insertion after the last line break
        spans.append((start, end, first, max(first, min(last, max(n_lines, 1))), edit.content))
    spans.sort(key=lambda span: (span[0], span[1], span[4]))  # as lint/fixes.py applies them
    groups: list[list[tuple[int, int, int, int, str]]] = []
    reach = 0  # where the edits so far end
    for span in spans:
        if span[0] < reach:
            raise ValueError("two edits overlap")
        reach = max(reach, span[1])
        if groups and span[2] <= max(s[3] for s in groups[-1]) + 1:
            groups[-1].append(span)
        else:
            groups.append([span])
    hunks: list[Hunk] = []
    for group in groups:
        first, last = group[0][2], max(s[3] for s in group)
        begin = starts[first - 1]
        stop = starts[last] if last < len(starts) else len(text)
        stop = max([stop, *(s[1] for s in group)])
        new = text[begin:stop]
        for start, end, _, _, content in reversed(group):
            new = new[: start - begin] + LINE_BREAK.sub("\n", content) + new[end - begin :]
        hunks.append((first, last, new))
    return hunks


def suggestion_fence(text: str, lang: str = "suggestion") -> list[str]:
    """A fence around ``text`` (the lines of a hunk) that none of its lines can close; an empty
    text is an empty block (a suggestion that deletes the lines)."""
    body = text.split("\n") if text else []
    if text.endswith("\n"):
        body.pop()
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return [f"{ticks}{lang}", *body, ticks]


def fix_lines(finding: Finding, read: Callable[[str, int | None], str | None]) -> list[str]:
    """A finding's fix for a pull-request comment: its message and applicability, then one
    ```` ```suggestion ```` block per run of lines it changes (``read(path, cell)`` gives the
    source, None when it cannot be read: then the message alone)."""
    fix = finding.fix
    if fix is None:
        return []
    kind = "Suggestion" if fix.applicability == "display-only" else "Fix"
    how = APPLICABILITY_TEXT.get(fix.applicability, fix.applicability)
    out = [
        f"**{kind}** for {code(location(finding))} {cell(finding.code)} ({cell(how)}): "
        f"{cell(fix.message)}",
        "",
    ]
    by_cell: dict[int | None, list[Edit]] = {}
    for edit in fix.edits:
        by_cell.setdefault(edit.cell if edit.cell is not None else finding.cell, []).append(edit)
    for where, edits in sorted(by_cell.items(), key=lambda item: item[0] or 0):
        source = read(finding.path, where)
        if source is None:
            out += ["(The file could not be read, so the fix is not shown.)", ""]
            continue
        try:
            hunks = suggestion_hunks(source, edits)
        except ValueError:
            out += ["(The file has changed since it was linted, so the fix is not shown.)", ""]
            continue
        for first, last, text in hunks:
            lines = f"line {first}" if first == last else f"lines {first}-{last}"
            label = f"Cell {where}, {lines}" if where is not None else lines.capitalize()
            lang = "python" if where is not None else "suggestion"
            out += [
                f"{label}, with the {kind.lower()} applied:",
                "",
                *suggestion_fence(text, lang),
                "",
            ]
    return out


def _fix_summary(fix: Fix | None) -> str:
    """`` · fix (safe)`` after a finding's location, or ''."""
    if fix is None:
        return ""
    return (
        " · suggestion" if fix.applicability == "display-only" else f" · fix ({fix.applicability})"
    )


def source_reader() -> Callable[[str, int | None], str | None]:
    """:func:`read_source`, each (path, cell) read once."""
    sources: dict[tuple[str, int | None], str | None] = {}

    def read(path: str, where: int | None) -> str | None:
        if (path, where) not in sources:
            sources[path, where] = read_source(path, where)
        return sources[path, where]

    return read


def lint_section(result: LintResult) -> list[str]:
    n = len(result.findings)
    out = [
        f"{n} finding{'s' if n != 1 else ''} in {result.files_checked} file"
        f"{'s' if result.files_checked != 1 else ''} checked"
        + (f", {len(result.errors)} could not be linted" if result.errors else "")
        + ".",
        "",
    ]
    if result.findings:
        out += table(
            ["location", "code", "rule", "message"],
            [[location(f), f.code, f.name, f.message] for f in result.findings],
        )
        out.append("")
        read = source_reader()
        for f in result.findings:
            frame = _frame(f, read(f.path, f.cell))
            if frame:
                out += [
                    f"<details><summary>{cell(f'{location(f)} {f.code}{_fix_summary(f.fix)}')}"
                    "</summary>",
                    "",
                    *frame,
                    "",
                    "</details>",
                    "",
                ]
            out += fix_lines(f, read)
    if result.errors:
        out += table(["file", "error"], [[e.path, e.message] for e in result.errors])
        out.append("")
    return out


# --------------------------------------------------------------------------- the document


def render_markdown(
    *,
    title: str,
    lint: LintResult | None,
    entries: Sequence[Entry],
    sweeps: Sequence[Any],
    errors: Sequence[tuple[str, str]] = (),
) -> str:
    out = [f"## {cell(title)}", ""]
    if errors:
        out += ["### Checks that could not run", ""]
        out += [f"- :x: {code(target)}: {cell(message)}" for target, message in errors]
        out.append("")
    if entries:
        failed = sum(1 for _, r in entries if not r.passed)
        out += [
            "### Gradient flow",
            "",
            f"{len(entries) - failed} of {len(entries)} gradient checks passed.",
            "",
            *gradient_summary(entries),
            "",
        ]
        for test, report in entries:
            if not report.passed:
                out += gradient_details(test, report)
        passed = [(t, r) for t, r in entries if r.passed]
        for test, report in passed:
            out += gradient_details(test, report)
    for sweep in sweeps:
        to_markdown = getattr(sweep, "to_markdown", None)
        out += ["### Depth sweep", ""]
        if callable(to_markdown):
            out += [str(to_markdown()).rstrip("\n"), ""]
        else:
            out += [*fence(json.dumps(sweep.to_dict(), indent=2), "json"), ""]
    if lint is not None:
        out += ["### Lint", "", *lint_section(lint)]
    return "\n".join(out).rstrip("\n") + "\n"
