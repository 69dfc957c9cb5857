"""rich renderables for a :class:`~gradcheck_kit.report.gradients.GradientReport`: a verdict
panel, the per-layer gradient profile with log-scale bars, per-device results, the reproduce line;
and the one-row-per-check "gradient flow" table of a whole run (pytest summary, report files).

The bars are the point: a vanishing profile is a staircase of bars shrinking towards the input,
visible before any number is read. Their length is log10 of the gradient RMS, on one scale per
table, so equal steps in length are equal factors of attenuation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence

from rich import box
from rich.console import Console, ConsoleOptions, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradcheck_kit.report.gradients import GradientReport, LayerStat, SequenceStat, fmt

BAR_WIDTH = 24
MAX_ROWS = 40  # longer profiles show their two ends
SATURATED = 0.5  # a saturation fraction at or above this is highlighted

FOLD_MIN = 12  # a folded column (a name) keeps at least this many characters per line

#: (test id or None, report): one row of the summary table.
Entry = tuple[str | None, GradientReport]


def min_table_width(
    table: Table, console: Console, options: ConsoleOptions, fold_min: int = FOLD_MIN
) -> int:
    """The narrowest ``table`` renders without cutting a cell: every ``no_wrap`` column (numbers,
    verdicts) at its widest cell, every other column (names, which fold) at ``fold_min``."""
    try:  # rich's own measurement (private: a rich that renames it gets the first layout)
        total = table._extra_width
        for column in table.columns:
            widest = table._measure_column(console, options, column).maximum
            if not column.no_wrap:
                padding = table._get_padding_width(column._index)
                widest = min(widest, fold_min + padding)
            total += widest
    except (AttributeError, TypeError):
        return 0
    return total


class Fit:
    """The first of several renderings, most detailed first, that fits the width it is given
    without cutting a number or a verdict (names fold); the last one when none fits. Each
    choice is built at render time, when the width is known (a pipe, a CI log, a terminal)."""

    def __init__(self, *choices: Callable[[], RenderableType]) -> None:
        self.choices = choices

    def pick(self, console: Console, options: ConsoleOptions) -> RenderableType:
        chosen: RenderableType = ""
        for build in self.choices:
            chosen = build()
            if not isinstance(chosen, Table):
                return chosen
            if min_table_width(chosen, console, options) <= options.max_width:
                return chosen
        return chosen

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        yield self.pick(console, options)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``1 file``, ``2 files``."""
    return f"{count} {word if count == 1 else (words or word + 's')}"


def _log(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return math.log10(value)


def gradient_bar(value: float | None, lo: float, hi: float, width: int = BAR_WIDTH) -> Text:
    """A bar whose length is log10(value) placed between lo and hi (both log10)."""
    if value is not None and not math.isfinite(value):
        return Text("non-finite", style="bold red")
    if value == 0.0:
        return Text("zero", style="bold red")
    logv = _log(value)
    if logv is None:
        return Text("")
    span = max(hi - lo, 1e-9)
    filled = min(width, max(1, round((logv - lo) / span * width)))
    style = "red" if logv < lo + 0.2 * span and hi - lo > 2 else "green"
    return Text("█" * filled + "·" * (width - filled), style=style)


def bar_scale(layers: Sequence[LayerStat]) -> tuple[float, float]:
    """(lo, hi) in log10 units for the bars of these layers: at least one decade wide."""
    logs = [v for v in (_log(layer.grad_rms) for layer in layers) if v is not None]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 1.0)
    if hi - lo < 1:
        lo = hi - 1
    return lo, hi


def saturation_text(layer: LayerStat, activation: bool = True) -> Text:
    if layer.saturation is None:
        return Text("")
    style = "bold yellow" if layer.saturation >= SATURATED else ""
    name = layer.activation if activation else None
    label = f"{layer.saturation:.0%} {name or ''}".strip()
    return Text(label, style=style)


def shown_rows(layers: Sequence[LayerStat]) -> list[LayerStat | None]:
    """The rows to show: all, or the two ends with ``None`` where the middle was left out."""
    rows: list[LayerStat | None] = list(layers)
    if len(rows) > MAX_ROWS:
        half = MAX_ROWS // 2
        rows = [*rows[:half], None, *rows[-half:]]
    return rows


def _compact(table: Table) -> Table:
    """No vertical rules and no outer padding: the same cells in fewer columns."""
    table.box = box.SIMPLE_HEAD
    table.show_edge = False
    table.pad_edge = False
    return table


def layer_table(layers: Sequence[LayerStat], title: str = "per-layer gradient") -> Fit:
    """The per-layer profile at whatever width it is printed: narrower, it shortens the bars,
    then shows the saturation without the activation's name, then drops the bars, then the
    saturation column, then the vertical rules; the numbers are never cut, names fold."""
    has_saturation = any(layer.saturation is not None for layer in layers)
    choices: list[tuple[int, str, bool]] = [
        (BAR_WIDTH, "full", False),
        (12, "full", False),
        (12, "percent", False),
        (0, "percent", False),
        (0, "none", False),
        (0, "none", True),
    ]
    return Fit(
        *(
            (lambda b=bar, s=sat, c=compact: _layer_table(layers, title, b, s, c))
            for bar, sat, compact in choices
            if has_saturation or sat != "percent"
        )
    )


def _layer_table(
    layers: Sequence[LayerStat], title: str, bar: int, saturation: str, compact: bool
) -> Table:
    lo, hi = bar_scale(layers)
    scale = f"bars: log10 RMS, {lo:.1f} .. {hi:.1f}; " if bar else ""
    table = Table(title=f"{title} ({scale}input side first)", title_justify="left")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("layer", overflow="fold")
    short_types = max((len(layer.type) for layer in layers), default=0) <= 14
    table.add_column("type", overflow="fold", no_wrap=short_types)
    table.add_column("width", justify="right", no_wrap=True)
    table.add_column("grad RMS", justify="right", no_wrap=True)
    if bar:
        table.add_column("log10 RMS", no_wrap=True)
    table.add_column("param grad", justify="right", no_wrap=True)
    with_saturation = saturation != "none" and any(layer.saturation is not None for layer in layers)
    if with_saturation:
        header = "saturated" if saturation == "full" else "sat."
        table.add_column(header, justify="right", no_wrap=True)
    for layer in shown_rows(layers):
        if layer is None:
            left_out = len(layers) - 2 * (MAX_ROWS // 2)
            table.add_row("…", f"{left_out} more", *[""] * (len(table.columns) - 2))
            continue
        grad = fmt(layer.grad_rms) + (" (uf)" if layer.underflow else "")
        row: list[RenderableType] = [
            str(layer.index),
            layer.name,
            layer.type,
            str(layer.width or ""),
            grad,
        ]
        if bar:
            row.append(gradient_bar(layer.grad_rms, lo, hi, width=bar))
        row.append(fmt(layer.param_grad_rms))
        if with_saturation:
            row.append(saturation_text(layer, activation=saturation == "full"))
        table.add_row(*row)
    return _compact(table) if compact else table


STEP_ROWS = 16  # a longer sequence is shown in this many buckets of consecutive steps


def sequence_table(seq: SequenceStat) -> Fit:
    """The gradient at each input step of a fused recurrent module, bucketed when long (each
    bucket's geometric mean), with the same log bars as the per-layer table (shorter, or none,
    when narrow)."""
    return Fit(*((lambda b=bar: _sequence_table(seq, b)) for bar in (BAR_WIDTH, 12, 0)))


def _sequence_table(seq: SequenceStat, bar: int) -> Table:
    buckets = seq.buckets(STEP_ROWS)
    logs = [v for v in (_log(value) for *_, value in buckets) if v is not None]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 1.0)
    if hi - lo < 1:
        lo = hi - 1
    ratio = f"; smallest/largest {fmt(seq.ratio)}" if seq.ratio is not None else ""
    scale = f" (bars: log10 RMS, {lo:.1f} .. {hi:.1f}; first step first)" if bar else ""
    table = Table(
        title=f"through time: {seq.type} {seq.name!r}, {len(seq.steps)} input steps{ratio}{scale}",
        title_justify="left",
    )
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("grad RMS", justify="right", no_wrap=True)
    if bar:
        table.add_column("log10 RMS", no_wrap=True)
    for first, last, value in buckets:
        steps = str(first) if first == last else f"{first}-{last}"
        row: list[RenderableType] = [steps, fmt(value)]
        if bar:
            row.append(gradient_bar(value, lo, hi, width=bar))
        table.add_row(*row)
    return table


def depths_text(report: GradientReport) -> str:
    """The depths an example was built at, compactly: ``2-6, 9, 32`` (or the range)."""
    tried = sorted(set(report.depths_tried))
    if not tried:
        if report.depths:
            lo, hi = report.depths
            return str(lo) if lo == hi else f"{lo}..{hi}"
        return "-"
    parts: list[str] = []
    start = prev = tried[0]
    for depth in [*tried[1:], None]:
        if depth is not None and depth == prev + 1:
            prev = depth
            continue
        parts.append(str(start) if start == prev else f"{start}-{prev}")
        if depth is not None:
            start = prev = depth
    return ", ".join(parts)


def verdict(report: GradientReport) -> str:
    """``pass``, or the failure kind."""
    return "pass" if report.failure is None else report.failure.kind


class TitledPanel:
    """A verdict panel whose title names a model: where the title would be cut (a narrow
    terminal), the panel takes the ``short`` title and the name becomes its first line, folded
    if it must be, never cut."""

    def __init__(
        self, title: Text, short: Text, name: str, body: str, style: str, expand: bool = False
    ) -> None:
        self.title, self.short, self.name, self.body = title, short, name, body
        self.style, self.expand = style, expand

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        if self.title.cell_len + 6 <= options.max_width:
            title, body = self.title, Text(self.body)
        else:
            title = self.short
            body = Text(self.name, style="bold", overflow="fold")
            body.append("\n" + self.body)
        yield Panel(
            body, title=title, border_style=self.style, title_align="left", expand=self.expand
        )


def _panel(report: GradientReport) -> TitledPanel:
    failure = report.failure
    lines: list[str]
    if failure is None:
        title = Text(f"PASSED  {report.target}", style="bold green")
        short = Text("PASSED", style="bold green")
        limits = (
            f" (limits {fmt(report.limits[0])} .. {fmt(report.limits[1])})" if report.limits else ""
        )
        lines = [f"worst flow ratio {fmt(report.ratio)}{limits}"]
        style = "green"
    else:
        title = Text(f"FAILED  {report.target}: {failure.kind}", style="bold red")
        short = Text(f"FAILED: {failure.kind}", style="bold red")
        depth = f"depth {failure.depth}" if failure.depth is not None else "the first example"
        lines = [
            f"smallest failing example: {depth} on {failure.device}/{failure.dtype}",
            failure.message,
            f"input: {failure.input_desc}",
        ]
        if failure.exception:
            lines.append(f"exception: {failure.exception}")
        style = "red"
    seed = f", seed {report.seed}" if report.seed is not None else ""
    lines.append(
        f"{report.examples_run} examples at depths {depths_text(report)}{seed}, "
        f"{report.elapsed_s:.1f} s"
    )
    return TitledPanel(title, short, report.target, "\n".join(lines), style)


def render_gradient_report(report: GradientReport) -> RenderableType:
    parts: list[RenderableType] = [_panel(report)]
    failure = report.failure
    layers = failure.layers if failure and failure.layers else report.layers
    if layers:
        parts.append(layer_table(layers))
    parts += [sequence_table(seq) for seq in report.sequences]
    parts += [Text(f"note: {note}", style="dim") for note in report.notes]
    if len(report.devices) > 1 or report.parity:
        table = Table(title="devices (the reported example, replayed)", title_justify="left")
        for col in ("device", "dtype", "flow ratio", "verdict"):
            table.add_column(col)
        for result in report.devices:
            mark = (
                Text("pass", style="green")
                if result.passed
                else Text(str(result.kind), style="red")
            )
            table.add_row(result.device, result.dtype, fmt(result.ratio), mark)
        parts.append(table)
        for parity in report.parity:
            mark = Text("agree", style="green") if parity.agree else Text("DISAGREE", style="red")
            parts.append(
                Text.assemble(
                    f"parity {parity.devices[0]} vs {parity.devices[1]} ({parity.dtype}): ",
                    f"{fmt(parity.ratios[0])} vs {fmt(parity.ratios[1])}, ",
                    f"rel. diff {fmt(parity.rel_diff)} (tolerance {report.bounds.parity_rtol:g}) ",
                    mark,
                )
            )
    if report.reproduce and failure is not None:
        parts.append(Text(f"reproduce: {report.reproduce}", style="dim"))
    return Group(*parts)


def gradient_flow_table(
    entries: Sequence[Entry], title: str | None = None, *, compact: bool = False
) -> Fit:
    """One row per check: test, model, depths tried, worst ratio, verdict (and, unless
    ``compact``, the example count and the limits). Test ids are never folded: when they do not
    fit in a column, each one gets a line of its own above its row."""
    with_tests = any(test for test, _ in entries)
    if not with_tests:
        return Fit(lambda: _flow_table(entries, title, compact, tests=False))
    return Fit(
        lambda: _flow_table(entries, title, compact, tests=True),
        lambda: _Stacked(entries, title, compact),
    )


def _flow_table(
    entries: Sequence[Entry], title: str | None, compact: bool, *, tests: bool
) -> Table:
    with_tests = tests and any(test for test, _ in entries)
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
        show_edge=not compact,
        pad_edge=not compact,
    )
    if with_tests:
        table.add_column("test", no_wrap=True)
    table.add_column("model", overflow="fold")
    table.add_column("depths" if compact else "depths tried", no_wrap=True)
    if not compact:
        table.add_column("examples", justify="right", no_wrap=True)
    table.add_column("worst ratio", justify="right", no_wrap=True)
    if not compact:
        table.add_column("limits", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for test, report in entries:
        row: list[RenderableType] = [test or ""] if with_tests else []
        table.add_row(*row, *_flow_cells(report, compact))
    return table


def _flow_cells(report: GradientReport, compact: bool) -> list[RenderableType]:
    ratio = report.shown_ratio
    limits = report.limits_text
    failed = report.failure is not None
    mark = Text(verdict(report), style="bold red" if failed else "green")
    if failed and report.failure and report.failure.depth is not None:
        mark.append(f" at depth {report.failure.depth}", style="red")
    cells: list[RenderableType] = [report.target, depths_text(report)]
    if not compact:
        cells.append(str(report.examples_run))
    cells.append(fmt(ratio))
    if not compact:
        cells.append(limits)
    cells.append(mark)
    return cells


class _Stacked:
    """The flow table with each test id on a line of its own above its row (ids longer than
    the width fold there, at the full width, never in a narrow column)."""

    def __init__(self, entries: Sequence[Entry], title: str | None, compact: bool) -> None:
        self.entries, self.title, self.compact = entries, title, compact

    def __rich_console__(
        self, console: Console, options: ConsoleOptions
    ) -> Iterator[RenderableType]:
        try:
            yield from self._stacked(console, options)
        except (AttributeError, TypeError):  # rich's private measurement API changed
            yield _flow_table(self.entries, self.title, self.compact, tests=True)

    def _stacked(self, console: Console, options: ConsoleOptions) -> Iterator[RenderableType]:
        compact = self.compact
        while True:  # the examples and limits columns go when even that does not fit
            whole = _flow_table(self.entries, self.title, compact, tests=False)
            widths = [
                whole._measure_column(console, options, column).maximum for column in whole.columns
            ]
            # the no_wrap columns as they are, the model column gets the rest
            room = options.max_width - len(whole.columns) + 1 - sum(widths[1:])
            if room >= FOLD_MIN or compact:
                break
            compact = True
        widths[0] = max(min(widths[0], room), FOLD_MIN)
        rows = [_flow_table([], self.title, compact, tests=False)]  # the header
        rows += [_flow_table([(None, r)], None, compact, tests=False) for _, r in self.entries]
        for row in rows:
            _compact(row)
            for column, width in zip(row.columns, widths, strict=True):
                column.width = width - row._get_padding_width(column._index)
        yield rows[0]
        for (test, _), row in zip(self.entries, rows[1:], strict=True):
            row.show_header = False
            if test:
                yield Text(test, style="bold", overflow="fold")
            yield row
