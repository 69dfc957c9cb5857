"""Report files: one call writes lint results, gradient reports and depth sweeps as HTML, SVG,
Markdown or JSON, the format chosen by the file's suffix, atomically.

* ``.html``: a page for a reviewer (:mod:`gradcheck_kit.report.html`): the verdict first, a
  legend, per-layer charts (inline SVG), tables, source excerpts; self-contained, user text
  escaped.
* ``.svg``: the terminal rendering (rich console recording), so the file looks like what
  ``gradcheck-kit`` prints; every user-controlled string is escaped by rich.
* ``.md``: for a pull-request comment (:mod:`gradcheck_kit.report.markdown`): tables, collapsible
  details, no ANSI.
* ``.json``: stable, documented here::

    {
      "version": 1,
      "tool": "gradcheck-kit", "tool_version": str,
      "title": str,
      "passed": bool,                 # no failed check or sweep, no check that errored, no
                                      # lint finding or lint error
      "gradients": [{"test": str | null, ...GradientReport.to_dict()}],
      "sweeps": [sweep.to_dict(), ...],
      "errors": [{"target": str, "message": str}],   # checks that could not run
      "lint": null | {"version", "files_checked", "findings": [...], "errors": [...]}
    }

  (``lint`` is the ``gradcheck-kit lint --format json`` object; each gradient entry is
  :meth:`GradientReport.to_dict` plus the pytest test id that ran it, when there is one.)

A sweep is any object with ``to_dict()``; it is drawn in SVG when it is a rich renderable
and written as Markdown by its ``to_markdown()`` when it has one (else as a JSON block).
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.terminal_theme import MONOKAI
from rich.text import Text

from gradcheck_kit._io import write_atomic
from gradcheck_kit._version import __version__
from gradcheck_kit.report.findings import LintResult
from gradcheck_kit.report.gradient_console import Entry, gradient_flow_table
from gradcheck_kit.report.gradients import GradientReport
from gradcheck_kit.report.registry import SUFFIX_FORMATS

__all__ = [
    "FORMATS",
    "PLOT_HINT",
    "CheckError",
    "render_report",
    "report_format",
    "report_passed",
    "write_report",
    "write_sweep_report",
]

#: The suffixes this module writes (from the one suffix mapping, :mod:`.registry`).
FORMATS: dict[str, str] = {
    suffix: fmt
    for suffix, fmt in SUFFIX_FORMATS.items()
    if fmt in ("html", "svg", "markdown", "json")
}
WIDTH = 140  # columns of the recorded console: wide enough for the per-layer table


def report_format(path: str | os.PathLike[str]) -> str:
    """``html``, ``svg``, ``markdown`` or ``json``, from the suffix; a ValueError otherwise."""
    suffix = Path(path).suffix.lower()
    try:
        return FORMATS[suffix]
    except KeyError:
        raise ValueError(
            f"cannot tell the report format of {os.fspath(path)!r}: name it .html, .svg, .md "
            "or .json"
        ) from None


def _entries(gradients: Sequence[GradientReport | Entry]) -> list[Entry]:
    out: list[Entry] = []
    for item in gradients:
        if isinstance(item, GradientReport):
            out.append((None, item))
        else:
            test, report = item
            out.append((test, report))
    return out


#: A check that could not run (its factory raised, its target does not import): (target, why).
CheckError = tuple[str, str]


def report_passed(
    lint: LintResult | None,
    gradients: Sequence[GradientReport | Entry] = (),
    sweeps: Sequence[Any] = (),
    errors: Sequence[CheckError] = (),
) -> bool:
    """No lint finding or error, no failed gradient check or sweep, no check that errored: the
    one verdict every format of a report states."""
    lint_ok = lint is None or not (lint.findings or lint.errors)
    return (
        lint_ok
        and not errors
        and all(report.passed for _, report in _entries(gradients))
        and all(getattr(sweep, "passed", True) is not False for sweep in sweeps)
    )


def default_title(
    lint: LintResult | None,
    entries: Sequence[Entry],
    sweeps: Sequence[Any],
    errors: Sequence[CheckError] = (),
) -> str:
    parts: list[str] = []
    if entries:
        failed = sum(1 for _, r in entries if not r.passed)
        parts.append(
            f"{failed} of {len(entries)} gradient checks failed"
            if failed
            else f"{len(entries)} gradient check{'s' if len(entries) != 1 else ''} passed"
        )
    if sweeps:
        parts.append(f"{len(sweeps)} depth sweep{'s' if len(sweeps) != 1 else ''}")
    if errors:
        parts.append(f"{len(errors)} check{'s' if len(errors) != 1 else ''} could not run")
    if lint is not None:
        n = len(lint.findings)
        parts.append(f"{n} lint finding{'s' if n != 1 else ''}")
    return "gradcheck-kit: " + (", ".join(parts) if parts else "nothing to report")


def renderables(
    *,
    title: str,
    lint: LintResult | None,
    entries: Sequence[Entry],
    sweeps: Sequence[Any],
    errors: Sequence[CheckError] = (),
) -> list[RenderableType]:
    """What the SVG export draws, in order."""
    from gradcheck_kit.report.console import lint_renderable

    parts: list[RenderableType] = [Text(title, style="bold")]
    if errors:
        parts.append(Rule("checks that could not run", align="left"))
        for target, message in errors:
            parts.append(Text.assemble((target, "bold red"), ": ", message))
        parts.append(Text(""))
    if entries:
        parts += [Rule("gradient flow", align="left"), gradient_flow_table(entries), Text("")]
        ordered = [e for e in entries if not e[1].passed] + [e for e in entries if e[1].passed]
        for test, report in ordered:
            if test:
                parts.append(Text(test, style="bold"))
            parts += [report, Text("")]
    for sweep in sweeps:
        parts.append(Rule("depth sweep", align="left"))
        if hasattr(sweep, "__rich_console__") or hasattr(sweep, "__rich__"):
            parts.append(sweep)
        else:
            parts.append(Text(json.dumps(sweep.to_dict(), indent=2)))
        parts.append(Text(""))
    if lint is not None:
        parts += [Rule("lint", align="left"), lint_renderable(lint)]
    return parts


def _recording_console() -> Console:
    return Console(
        record=True,
        width=WIDTH,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
        legacy_windows=False,
        highlight=False,
        emoji=False,
    )


def render_report(
    fmt: str,
    *,
    lint: LintResult | None = None,
    gradients: Sequence[GradientReport | Entry] = (),
    sweeps: Sequence[Any] = (),
    title: str | None = None,
    errors: Sequence[CheckError] = (),
) -> str:
    """The report text in ``fmt`` (``html``, ``svg``, ``markdown`` or ``json``); ``errors``: the
    checks that could not run, each (target, why)."""
    entries = _entries(gradients)
    title = title or default_title(lint, entries, sweeps, errors)
    if fmt == "json":
        from gradcheck_kit.report.formats import lint_to_dict

        data = {
            "version": 1,
            "tool": "gradcheck-kit",
            "tool_version": __version__,
            "title": title,
            "passed": report_passed(lint, entries, sweeps, errors),
            "gradients": [{"test": test, **report.to_dict()} for test, report in entries],
            "sweeps": [sweep.to_dict() for sweep in sweeps],
            "errors": [{"target": target, "message": message} for target, message in errors],
            "lint": lint_to_dict(lint) if lint is not None else None,
        }
        return json.dumps(data, indent=2, allow_nan=False) + "\n"
    if fmt == "markdown":
        from gradcheck_kit.report.markdown import render_markdown

        return render_markdown(
            title=title, lint=lint, entries=entries, sweeps=sweeps, errors=errors
        )
    if fmt == "html":
        from gradcheck_kit.report.html import report_html

        return report_html(title=title, lint=lint, entries=entries, sweeps=sweeps, errors=errors)
    if fmt != "svg":
        raise ValueError(f"unknown report format {fmt!r}: use html, svg, markdown or json")
    console = _recording_console()
    for part in renderables(title=title, lint=lint, entries=entries, sweeps=sweeps, errors=errors):
        console.print(part)
    return console.export_svg(title=title, theme=MONOKAI)


def write_report(
    path: str | os.PathLike[str],
    *,
    lint: LintResult | None = None,
    gradients: Sequence[GradientReport | Entry] = (),
    sweeps: Sequence[Any] = (),
    title: str | None = None,
    errors: Sequence[CheckError] = (),
) -> str:
    """Write a report to ``path`` in the format its suffix names; returns that format.

    ``gradients`` holds :class:`GradientReport` objects or ``(test id, report)`` pairs.
    Raises ValueError for a suffix that names no format (before anything is written).
    """
    fmt = report_format(path)
    text = render_report(
        fmt, lint=lint, gradients=gradients, sweeps=sweeps, title=title, errors=errors
    )
    write_atomic(path, text)
    return fmt


PLOT_HINT = "pip install matplotlib (the plot extra)"


def write_sweep_report(
    path: str | os.PathLike[str], report: Any, warn: Callable[[str], None]
) -> None:
    """A depth sweep's report file: as :func:`write_report` by suffix, plus the matplotlib plot
    when matplotlib is installed, saved next to a ``.md`` as ``FILE.md.svg`` and linked (the
    ``.html`` page draws its own chart); ``.png`` is the plot alone (without matplotlib: ``warn`` and
    write nothing)."""
    from gradcheck_kit.report.sweep_plot import render_plot

    path = Path(path)
    if path.suffix.lower() == ".png":
        image = render_plot(report, "png")
        if image is None:
            warn(f"no image written to {path}: the plot needs matplotlib ({PLOT_HINT})")
            return
        write_atomic(path, image)
        return
    fmt = write_report(path, sweeps=[report])
    if fmt != "markdown":  # the HTML page draws its own chart (report.html.sweep_chart)
        return
    image = render_plot(report, "svg")
    if image is None:
        return
    text = path.read_text(encoding="utf-8")
    image_path = path.with_name(path.name + ".svg")
    write_atomic(image_path, image.decode("utf-8"))
    text = text.rstrip("\n") + f"\n\n![flow ratio against depth]({image_path.name})\n"
    write_atomic(path, text)
