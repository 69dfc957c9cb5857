"""rich renderables for a :class:`~gradcheck_kit.report.gradients.GradientReport`: a verdict
panel, the per-layer gradient profile with log-scale bars, per-device results, the reproduce line;
and the one-row-per-check "gradient flow" table of a whole run (pytest summary, report files).

The bars are the point: a vanishing profile is a staircase of bars shrinking towards the input,
visible before any number is read. Their length is log10 of the gradient RMS, on one scale per
table, so equal steps in length are equal factors of attenuation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rich import box
from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradcheck_kit.report.gradients import GradientReport, LayerStat, SequenceStat, fmt

BAR_WIDTH = 24
MAX_ROWS = 40  # longer profiles show their two ends
SATURATED = 0.5  # a saturation fraction at or above this is highlighted

#: (test id or None, report): one row of the summary table.
Entry = tuple[str | None, GradientReport]


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


def saturation_text(layer: LayerStat) -> Text:
    if layer.saturation is None:
        return Text("")
    style = "bold yellow" if layer.saturation >= SATURATED else ""
    label = f"{layer.saturation:.0%} {layer.activation or ''}".strip()
    return Text(label, style=style)


def shown_rows(layers: Sequence[LayerStat]) -> list[LayerStat | None]:
    """The rows to show: all, or the two ends with ``None`` where the middle was left out."""
    rows: list[LayerStat | None] = list(layers)
    if len(rows) > MAX_ROWS:
        half = MAX_ROWS // 2
        rows = [*rows[:half], None, *rows[-half:]]
    return rows


def layer_table(layers: Sequence[LayerStat], title: str = "per-layer gradient") -> Table:
    lo, hi = bar_scale(layers)
    table = Table(
        title=f"{title} (bars: log10 RMS, {lo:.1f} .. {hi:.1f}; input side first)",
        title_justify="left",
    )
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("type")
    table.add_column("width", justify="right")
    table.add_column("grad RMS", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("param grad", justify="right")
    table.add_column("saturated", justify="right")
    for layer in shown_rows(layers):
        if layer is None:
            left_out = len(layers) - 2 * (MAX_ROWS // 2)
            table.add_row("…", f"{left_out} more", "", "", "", "", "", "")
            continue
        grad = fmt(layer.grad_rms) + (" (uf)" if layer.underflow else "")
        table.add_row(
            str(layer.index),
            layer.name,
            layer.type,
            str(layer.width or ""),
            grad,
            gradient_bar(layer.grad_rms, lo, hi),
            fmt(layer.param_grad_rms),
            saturation_text(layer),
        )
    return table


STEP_ROWS = 16  # a longer sequence is shown in this many buckets of consecutive steps


def sequence_table(seq: SequenceStat) -> Table:
    """The gradient at each input step of a fused recurrent module, bucketed when long (each
    bucket's geometric mean), with the same log bars as the per-layer table."""
    buckets = seq.buckets(STEP_ROWS)
    logs = [v for v in (_log(value) for *_, value in buckets) if v is not None]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 1.0)
    if hi - lo < 1:
        lo = hi - 1
    ratio = f"; smallest/largest {fmt(seq.ratio)}" if seq.ratio is not None else ""
    table = Table(
        title=(
            f"through time: {seq.type} {seq.name!r}, {len(seq.steps)} input steps{ratio} "
            f"(bars: log10 RMS, {lo:.1f} .. {hi:.1f}; first step first)"
        ),
        title_justify="left",
    )
    table.add_column("steps", justify="right", no_wrap=True)
    table.add_column("grad RMS", justify="right", no_wrap=True)
    table.add_column("log10 RMS", no_wrap=True)
    for first, last, value in buckets:
        steps = str(first) if first == last else f"{first}-{last}"
        table.add_row(steps, fmt(value), gradient_bar(value, lo, hi))
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


def _panel(report: GradientReport) -> Panel:
    failure = report.failure
    lines: list[str]
    if failure is None:
        title = Text(f"PASSED  {report.target}", style="bold green")
        limits = (
            f" (limits {fmt(report.limits[0])} .. {fmt(report.limits[1])})" if report.limits else ""
        )
        lines = [f"worst flow ratio {fmt(report.ratio)}{limits}"]
        style = "green"
    else:
        title = Text(f"FAILED  {report.target}: {failure.kind}", style="bold red")
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
    return Panel(
        Text("\n".join(lines)), title=title, border_style=style, title_align="left", expand=False
    )


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
) -> Table:
    """One row per check: test, model, depths tried, worst ratio, verdict (and, unless
    ``compact``, the example count and the limits)."""
    with_tests = any(test for test, _ in entries)
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD if compact else box.HEAVY_HEAD,
        show_edge=not compact,
        pad_edge=not compact,
    )
    if with_tests:
        table.add_column("test", overflow="fold")
    table.add_column("model", overflow="fold")
    table.add_column("depths" if compact else "depths tried", overflow="fold")
    if not compact:
        table.add_column("examples", justify="right", no_wrap=True)
    table.add_column("worst ratio", justify="right", no_wrap=True)
    if not compact:
        table.add_column("limits", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    for test, report in entries:
        ratio = report.failure.ratio if report.failure else report.ratio
        limits = f"{fmt(report.limits[0])} .. {fmt(report.limits[1])}" if report.limits else "-"
        failed = report.failure is not None
        mark = Text(verdict(report), style="bold red" if failed else "green")
        if failed and report.failure and report.failure.depth is not None:
            mark.append(f" at depth {report.failure.depth}", style="red")
        row: list[RenderableType] = []
        if with_tests:
            row.append(test or "")
        row += [report.target, depths_text(report)]
        if not compact:
            row.append(str(report.examples_run))
        row.append(fmt(ratio))
        if not compact:
            row.append(limits)
        row.append(mark)
        table.add_row(*row)
    return table
