"""Renderings of a :class:`~gradcheck_kit.report.sweeps.SweepReport`: rich (a verdict panel, a
terminal chart of log10 flow ratio against depth with the bounds drawn, a per-depth table) and
Markdown. The image plot lives in :mod:`gradcheck_kit.report.sweep_plot` (matplotlib, optional).
"""

from __future__ import annotations

import math

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from gradcheck_kit.report.gradient_console import Fit, TitledPanel
from gradcheck_kit.report.gradients import fmt
from gradcheck_kit.report.markdown import cell, code
from gradcheck_kit.report.sweeps import SweepCurve, SweepReport, summary_lines

__all__ = ["render_sweep_report", "sweep_chart", "sweep_markdown"]

CHART_HEIGHT = 15
MAX_CHART_WIDTH = 72
MIN_CHART_WIDTH = 24

# cell precedence: higher wins
_MEDIAN, _UNDER, _SPREAD, _FIT, _BOUND, _UNIT = 6, 5, 4, 3, 2, 1
_STYLE = {
    _MEDIAN: "bold",
    _UNDER: "bold magenta",
    _SPREAD: "yellow",
    _FIT: "cyan",
    _BOUND: "red",
    _UNIT: "dim",
}


def _y_range(curve: SweepCurve, lo_bound: float, hi_bound: float) -> tuple[float, float]:
    values = [lo_bound, hi_bound, 0.0]
    for p in curve.points:
        for r in (p.low, p.high):
            if r is not None and r > 0 and math.isfinite(r):
                values.append(math.log10(r))
    lo, hi = min(values), max(values)
    pad = 0.05 * (hi - lo)
    return lo - pad, hi + pad


def sweep_chart(curve: SweepCurve, report: SweepReport, width: int = 60) -> Text:
    """log10(flow ratio) against depth: medians (``●``), the spread over seeds (``┃``), the fit
    (``·``), the bounds (``─``, red) and ratio 1 (dim); ``▼`` marks a ratio below the dtype's
    range."""
    width = max(MIN_CHART_WIDTH, min(MAX_CHART_WIDTH, width))
    height = CHART_HEIGHT
    lo_b, hi_b = math.log10(report.bounds.vanish), math.log10(report.bounds.explode)
    y_lo, y_hi = _y_range(curve, lo_b, hi_b)
    depths = [p.depth for p in curve.points]
    d_lo, d_hi = min(depths), max(depths)
    span = max(d_hi - d_lo, 1)
    grid: list[list[tuple[str, int]]] = [[(" ", 0)] * width for _ in range(height)]

    def row_of(value: float) -> int:
        frac = (value - y_lo) / (y_hi - y_lo)
        return min(height - 1, max(0, round((1 - frac) * (height - 1))))

    def col_of(depth: float) -> int:
        return min(width - 1, max(0, round((depth - d_lo) / span * (width - 1))))

    def put(row: int, col: int, char: str, rank: int) -> None:
        if rank > grid[row][col][1]:
            grid[row][col] = (char, rank)

    for value, rank, char in ((0.0, _UNIT, "╌"), (lo_b, _BOUND, "─"), (hi_b, _BOUND, "─")):
        r = row_of(value)
        for c in range(width):
            put(r, c, char, rank)
    fit = curve.fit
    if fit.gain is not None and fit.shape != "insufficient":
        for c in range(width):
            fitted = fit.log10_at(d_lo + c / max(width - 1, 1) * span)
            if fitted is not None and y_lo <= fitted <= y_hi:
                put(row_of(fitted), c, "·", _FIT)
    for p in curve.points:
        c = col_of(p.depth)
        if p.low is not None and p.high is not None and p.low > 0:
            top, bottom = row_of(math.log10(p.high)), row_of(math.log10(p.low))
            for r in range(top, bottom + 1):
                put(r, c, "┃", _SPREAD)  # not the axis's │
        median = p.log10_median
        if median is None:
            continue
        if math.isfinite(median):
            put(row_of(median), c, "●", _MEDIAN)
        else:
            put(height - 1, c, "▼", _UNDER)

    label_rows = {0, height - 1, row_of(lo_b), row_of(hi_b), row_of(0.0)}
    text = Text()
    text.append("log10 ratio\n", style="dim")
    for r in range(height):
        value = y_hi - r / (height - 1) * (y_hi - y_lo)
        if r == row_of(lo_b):
            value = lo_b
        elif r == row_of(hi_b):
            value = hi_b
        elif r == row_of(0.0):
            value = 0.0
        label = f"{value:7.1f} ┤" if r in label_rows else "        │"
        text.append(label, style="dim")
        for char, rank in grid[r]:
            text.append(char, style=_STYLE.get(rank, ""))
        if r == row_of(lo_b):
            text.append(" vanish", style="red")
        elif r == row_of(hi_b):
            text.append(" explode", style="red")
        text.append("\n")
    text.append("        └" + "─" * width + "\n", style="dim")
    ticks = [" "] * (width + 12)
    for depth in _tick_depths(d_lo, d_hi):
        label = str(depth)
        start = 9 + col_of(depth) - len(label) // 2
        for i, ch in enumerate(label):
            if 0 <= start + i < len(ticks):
                ticks[start + i] = ch
    text.append("".join(ticks).rstrip() + "  depth\n", style="dim")
    gain = f" (gain {fit.gain:.3g})" if fit.gain is not None else ""
    legend = [
        ("● median", "bold"),
        (f"┃ min..max of {report.seeds} seeds", "yellow"),
        (f"· {fit.shape} fit{gain}", "cyan"),
        ("─ bounds", "red"),
    ]
    if any(p.log10_median == -math.inf for p in curve.points):
        legend.append(("▼ below the dtype's range", "magenta"))
    one_line = sum(len(item) + 2 for item, _ in legend) <= width + 17
    for i, (item, style) in enumerate(legend):
        if i:
            text.append("  " if one_line else "\n")
        text.append(item, style=style)
    return text


def _tick_depths(lo: int, hi: int, count: int = 6) -> list[int]:
    if hi <= lo:
        return [lo]
    raw = (hi - lo) / (count - 1)
    step = next(s for s in (1, 2, 4, 5, 8, 10, 16, 20, 25, 32, 50, 64, 100, 10**9) if s >= raw)
    first = math.ceil(lo / step) * step
    ticks = list(range(first, hi + 1, step))
    if lo not in ticks and (not ticks or ticks[0] - lo >= step / 2):
        ticks.insert(0, lo)
    return ticks


def _points_table(curve: SweepCurve, seeds: int) -> Fit:
    return Fit(lambda: _points(curve, seeds, False), lambda: _points(curve, seeds, True))


def _points(curve: SweepCurve, seeds: int, compact: bool) -> Table:
    title = f"flow ratio by depth ({curve.device}/{curve.dtype}, {seeds} seeds)"
    table = Table(title=title, title_justify="left")
    if compact:
        table.box, table.show_edge, table.pad_edge = box.SIMPLE_HEAD, False, False
    notes = any(p.messages for p in curve.points)  # no empty column
    for col in ("depth", "median", "min", "max", "fit", "layers"):
        table.add_column(col, justify="right", no_wrap=True)
    if notes:
        table.add_column("notes", overflow="fold")
    for p in curve.points:
        fitted = curve.fit.predict(p.depth) if curve.fit.shape != "insufficient" else None
        row: list[RenderableType] = [
            str(p.depth),
            fmt(p.median),
            fmt(p.low),
            fmt(p.high),
            fmt(fitted),
            str(p.layers or ""),
        ]
        if notes:
            row.append(Text("; ".join(p.messages), style="red" if p.broken else "magenta"))
        table.add_row(*row)
    return table


def render_sweep_report(report: SweepReport, width: int | None = None) -> RenderableType:
    lines = summary_lines(report)
    ok = report.passed
    title = Text(
        f"{'PASSED' if ok else 'FAILED'}  depth sweep {report.target}",
        style="bold green" if ok else "bold red",
    )
    body = "\n".join(line.strip() for line in lines[1:]) or lines[0]
    body = f"{report.fit.note}\n{body}" if lines[1:] else body
    short = Text(f"{'PASSED' if ok else 'FAILED'}  depth sweep", style=title.style)
    parts: list[RenderableType] = [
        TitledPanel(title, short, report.target, body, "green" if ok else "red", expand=True)
    ]
    chart_width = (width or 80) - 22
    for curve in report.curves:
        if len(report.curves) > 1:
            parts.append(Text(f"{curve.device}/{curve.dtype}: {curve.fit.note}", style="bold"))
        parts.append(sweep_chart(curve, report, width=chart_width))
        parts.append(_points_table(curve, report.seeds))
    if report.theory is not None:
        parts.append(_theory_table(report))
    return Group(*parts)


def _theory_table(report: SweepReport) -> Fit:
    return Fit(
        lambda: _theory(report, "wide"),
        lambda: _theory(report, "compact"),
        lambda: _theory(report, "tall"),
    )


def _theory(report: SweepReport, layout: str) -> Table:
    t = report.theory
    assert t is not None
    table = Table(
        title="mean-field cross-check (gradcheck_kit.theory.predicted_gain)", title_justify="left"
    )
    if layout != "wide":
        table.box, table.show_edge, table.pad_edge = box.SIMPLE_HEAD, False, False
    columns = ("activation", "s_w^2", "s_b^2", "q*", "predicted", "measured", "apart", "verdict")
    rel = t.rel_diff
    verdict = (
        Text("")
        if t.agrees is None
        else Text(f"within {t.tolerance:.0%}", style="green")
        if t.agrees
        else Text(f"off by more than {t.tolerance:.0%}", style="yellow")
    )
    cells: list[RenderableType] = [
        t.activation,
        f"{t.weight_var:.4g}",
        f"{t.bias_var:.3g}",
        f"{t.q_star:.3g}",
        f"{t.predicted:.4g}",
        f"{t.measured:.4g}" if t.measured is not None else "-",
        f"{rel:.1%}" if rel is not None else "-",
        verdict,
    ]
    if layout == "tall":  # one quantity per line: fits any width
        table.expand = True
        table.add_column("quantity", no_wrap=True)
        table.add_column("value", overflow="fold")
        for name, cell in zip(columns, cells, strict=True):
            table.add_row(name, cell)
    else:
        for col in columns:
            left = col in ("activation", "verdict")
            table.add_column(col, justify="left" if left else "right", no_wrap=not left)
        table.add_row(*cells)
    table.caption = t.note
    return table


def sweep_markdown(report: SweepReport, image: str | None = None) -> str:
    """Markdown for code review: verdict, summary, optional plot, per-depth table. No heading of
    its own: the caller's document supplies one (``### Depth sweep`` in report exports)."""
    mark = "passed" if report.passed else "**failed**"
    out = [f"{code(report.target)}: {mark}", ""]
    fit = report.fit
    ci = report.gain_ci
    if report.gain is not None:
        ci_text = f" ({fit.confidence:.0%} CI {ci[0]:.4g} - {ci[1]:.4g})" if ci else ""
        out.append(
            f"- gain per unit of depth: **{report.gain:.4g}**{ci_text}{cell(report.gain_words())}"
        )
    out.append(f"- fit: {cell(fit.note)}")
    safe = report.max_safe_depth
    if safe is None:
        out.append("- max safe depth: no crossing of the bounds")
    else:
        extra = (
            " (extrapolated beyond the swept range)" if report.max_safe_depth_extrapolated else ""
        )
        out.append(f"- max safe depth: **{safe}**{extra}")
    out.append(
        f"- bounds: {fmt(report.bounds.vanish)} .. {fmt(report.bounds.explode)}; depths "
        f"{report.depths[0] if report.depths else '-'}..{report.depths[-1] if report.depths else '-'}"
        f", {report.seeds} seeds"
    )
    if report.theory is not None:
        t = report.theory
        rel = t.rel_diff
        out.append(
            f"- mean-field prediction ({t.activation}, s_w^2 = {t.weight_var:.3g}, "
            f"s_b^2 = {t.bias_var:.3g}): {t.predicted:.4g}"
            + (f", {rel:.1%} from the measured gain" if rel is not None else "")
        )
    out += [f"- problem: {cell(p)}" for p in report.problems]
    if image:
        out += ["", f"![flow ratio against depth]({image})"]
    for curve in report.curves:
        out += [
            "",
            f"| depth ({curve.device}/{curve.dtype}) | median ratio | min | max | fitted | notes |",
            "| ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for p in curve.points:
            fitted = curve.fit.predict(p.depth) if curve.fit.shape != "insufficient" else None
            notes = cell("; ".join(p.messages))
            out.append(
                f"| {p.depth} | {fmt(p.median)} | {fmt(p.low)} | {fmt(p.high)} | "
                f"{fmt(fitted)} | {notes} |"
            )
    return "\n".join(out) + "\n"
