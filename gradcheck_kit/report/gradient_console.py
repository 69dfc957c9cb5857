"""rich renderables for a :class:`~gradcheck_kit.report.gradients.GradientReport`: a verdict
panel, the per-layer gradient profile with log-scale bars, per-device results, the reproduce line.
"""

from __future__ import annotations

import math

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from gradcheck_kit.report.gradients import GradientReport, LayerStat, fmt

BAR_WIDTH = 24
MAX_ROWS = 40  # longer profiles show their two ends


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
    filled = max(1, round((logv - lo) / span * width))
    style = "red" if logv < lo + 0.2 * span and hi - lo > 2 else "green"
    return Text("█" * filled + "·" * (width - filled), style=style)


def layer_table(layers: tuple[LayerStat, ...], title: str = "per-layer gradient") -> Table:
    logs = [v for v in (_log(layer.grad_rms) for layer in layers) if v is not None]
    lo, hi = (min(logs), max(logs)) if logs else (0.0, 1.0)
    if hi - lo < 1:
        lo = hi - 1
    table = Table(title=f"{title} (bars: log10 RMS, {lo:.1f} .. {hi:.1f})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("layer")
    table.add_column("type")
    table.add_column("width", justify="right")
    table.add_column("grad RMS", justify="right")
    table.add_column("", no_wrap=True)
    table.add_column("param grad", justify="right")
    table.add_column("saturated", justify="right")
    rows = list(layers)
    if len(rows) > MAX_ROWS:
        half = MAX_ROWS // 2
        rows = [*rows[:half], None, *rows[-half:]]  # type: ignore[list-item]
    for layer in rows:
        if layer is None:
            table.add_row("…", f"{len(layers) - 2 * (MAX_ROWS // 2)} more", "", "", "", "", "", "")
            continue
        sat = "" if layer.saturation is None else f"{layer.saturation:.0%} {layer.activation or ''}"
        grad = fmt(layer.grad_rms) + (" (uf)" if layer.underflow else "")
        table.add_row(
            str(layer.index),
            layer.name,
            layer.type,
            str(layer.width or ""),
            grad,
            gradient_bar(layer.grad_rms, lo, hi),
            fmt(layer.param_grad_rms),
            sat.strip(),
        )
    return table


def render_gradient_report(report: GradientReport) -> RenderableType:
    parts: list[RenderableType] = []
    failure = report.failure
    if failure is None:
        title = Text(f"PASSED  {report.target}", style="bold green")
        body = f"{report.examples_run} examples; worst flow ratio {fmt(report.ratio)}" + (
            f" (limits {fmt(report.limits[0])} .. {fmt(report.limits[1])})" if report.limits else ""
        )
        style = "green"
    else:
        title = Text(f"FAILED  {report.target}: {failure.kind}", style="bold red")
        depth = f"depth {failure.depth}" if failure.depth is not None else "first example"
        body = (
            f"smallest failing example: {depth} on {failure.device}/{failure.dtype} after "
            f"{report.examples_run} examples\n{failure.message}\ninput: {failure.input_desc}"
        )
        if failure.exception:
            body += f"\nexception: {failure.exception}"
        style = "red"
    parts.append(Panel(body, title=title, border_style=style, title_align="left"))
    layers = failure.layers if failure and failure.layers else report.layers
    if layers:
        parts.append(layer_table(layers))
    if len(report.devices) > 1 or report.parity:
        table = Table(title="devices (the reported example, replayed)", title_justify="left")
        for col in ("device", "dtype", "flow ratio", "verdict"):
            table.add_column(col)
        for result in report.devices:
            verdict = (
                Text("pass", style="green")
                if result.passed
                else Text(str(result.kind), style="red")
            )
            table.add_row(result.device, result.dtype, fmt(result.ratio), verdict)
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
