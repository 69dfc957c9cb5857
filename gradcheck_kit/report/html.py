"""The HTML report: one self-contained page a reviewer opens (no script, no network, no external
file). It reads the report data, not the terminal rendering.

Order: the ``<title>``, the verdict (passed or failed, with the counts), a legend of every
colour the page uses, then the gradient checks (a summary table; per check its verdict, details,
the per-layer profile as an inline SVG chart - log10 of the gradient RMS at each layer's output,
with the vanish and explode limits drawn - and the numbers in a table), the depth sweeps (flow
ratio against depth, with the fit and the bounds; the per-depth table) and the lint findings with
their source excerpt. One stylesheet: light, or dark where the reader's system prefers it.

Every string that comes from user code (paths, names, messages, test ids) goes through
:func:`esc`: nothing in it can open a tag or an attribute.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gradcheck_kit._version import __version__
from gradcheck_kit.report.findings import Finding, LintResult
from gradcheck_kit.report.formats import error_location
from gradcheck_kit.report.gradient_console import SATURATED, Entry, depths_text, plural
from gradcheck_kit.report.gradients import GradientReport, LayerStat, SequenceStat, fmt
from gradcheck_kit.report.source import python_lines, read_source
from gradcheck_kit.report.sweeps import SweepCurve, SweepReport

if TYPE_CHECKING:  # pragma: no cover
    from gradcheck_kit.report.audit import AuditReport
    from gradcheck_kit.report.checks import CheckOutcome

__all__ = ["audit_html", "esc", "layer_chart", "report_html", "sweep_chart"]

_CONTEXT = 2  # source lines shown around a finding
_MAX_FLAGGED = 12  # a long flagged span shows where it starts


def esc(text: object) -> str:
    """``text`` as HTML text or a quoted attribute value: ``<``, ``>``, ``&`` and quotes
    escaped."""
    return html.escape(str(text), quote=True)


# -- the page ----------------------------------------------------------------------------------

_STYLE = """
:root {
  color-scheme: light dark;
  --bg: #ffffff; --fg: #1b1f24; --muted: #57606a; --border: #d0d7de; --panel: #f6f8fa;
  --ok: #1a7f37; --ok-bg: #dafbe1; --bad: #cf222e; --bad-bg: #ffebe9;
  --warn: #9a6700; --warn-bg: #fff8c5; --skip: #57606a; --skip-bg: #eaeef2;
  --bar: #0969da; --line-vanish: #cf222e; --line-explode: #bc4c00; --ref: #57606a;
  --fit: #8250df; --hl: #fff8c5; --link: #0969da;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --border: #3d444d; --panel: #161b22;
    --ok: #3fb950; --ok-bg: #12361f; --bad: #ff7b72; --bad-bg: #4c1418;
    --warn: #d29922; --warn-bg: #3b2e0a; --skip: #9198a1; --skip-bg: #262c36;
    --bar: #4493f8; --line-vanish: #ff7b72; --line-explode: #f0883e; --ref: #9198a1;
    --fit: #ab7df8; --hl: #3b2e0a; --link: #4493f8;
  }
}
* { box-sizing: border-box; }
body { margin: 0; padding: 1.5rem 2rem 3rem; background: var(--bg); color: var(--fg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  sans-serif; max-width: 1200px; }
h1 { font-size: 1.5rem; margin: 0 0 .5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.25rem; margin: 2rem 0 .75rem; padding-bottom: .3rem;
  border-bottom: 1px solid var(--border); }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .5rem; overflow-wrap: anywhere; }
a { color: var(--link); }
code, pre, .num { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas,
  "DejaVu Sans Mono", monospace; font-size: 13px; }
.num { white-space: nowrap; text-align: right; }
.muted { color: var(--muted); }
.verdict { border: 2px solid; border-radius: 8px; padding: .75rem 1rem; margin: .5rem 0 1rem; }
.verdict.ok { border-color: var(--ok); background: var(--ok-bg); }
.verdict.bad { border-color: var(--bad); background: var(--bad-bg); }
.verdict.warn { border-color: var(--warn); background: var(--warn-bg); }
.verdict strong { font-size: 1.25rem; margin-right: .5rem; }
.verdict ul { margin: .4rem 0 0; padding-left: 1.2rem; }
.badge { display: inline-block; padding: 0 .45em; border-radius: 4px; font-weight: 600;
  font-size: .85em; border: 1px solid; white-space: nowrap; }
.ok { color: var(--ok); } .bad { color: var(--bad); } .warn { color: var(--warn); }
.skip { color: var(--skip); }
.badge.ok { background: var(--ok-bg); } .badge.bad { background: var(--bad-bg); }
.badge.warn { background: var(--warn-bg); } .badge.skip { background: var(--skip-bg); }
.verdict.ok, .verdict.bad, .verdict.warn { color: var(--fg); }
.verdict.ok strong { color: var(--ok); } .verdict.bad strong { color: var(--bad); }
.verdict.warn strong { color: var(--warn); }
table { border-collapse: collapse; margin: .5rem 0 1rem; }
th, td { border: 1px solid var(--border); padding: .25rem .6rem; vertical-align: top; }
th { background: var(--panel); text-align: left; }
td.name { overflow-wrap: anywhere; min-width: 8rem; }
caption { text-align: left; color: var(--muted); padding: .25rem 0; caption-side: top; }
.check, .finding, .sweep { border: 1px solid var(--border); border-radius: 8px;
  padding: .25rem 1rem 1rem; margin: 1rem 0; }
.check.bad, .sweep.bad { border-left: 6px solid var(--bad); }
.check.ok, .sweep.ok { border-left: 6px solid var(--ok); }
.finding { border-left: 6px solid var(--warn); }
.finding.error { border-left-color: var(--bad); }
.check, .sweep, .finding { color: var(--fg); }
dl { display: grid; grid-template-columns: max-content 1fr; gap: .15rem 1rem; margin: .5rem 0; }
dt { color: var(--muted); } dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--panel); border: 1px solid var(--border); border-radius: 6px;
  padding: .5rem .75rem; overflow-x: auto; margin: .5rem 0; }
pre.wrap { white-space: pre-wrap; overflow-wrap: anywhere; }
pre.source { padding: .5rem 0; line-height: 1.45; }
pre.source span { display: block; padding: 0 .75rem; }
pre.source span.hl { background: var(--hl); box-shadow: inset 4px 0 0 var(--warn); }
pre.source b { display: inline-block; min-width: 3.5em; color: var(--muted); font-weight: normal;
  user-select: none; }
.legend ul { list-style: none; padding: 0; margin: .25rem 0;
  display: flex; flex-wrap: wrap; gap: .4rem 1.5rem; }
.legend h3 { margin: .75rem 0 .25rem; font-size: .95rem; }
.swatch { display: inline-block; width: 1.6em; height: .9em; vertical-align: middle;
  margin-right: .35em; border-radius: 2px; }
svg.chart { width: 100%; max-width: 960px; height: auto; display: block; margin: .5rem 0; }
svg.chart text { fill: var(--fg); font: 12px system-ui, sans-serif; }
svg.chart .axis { stroke: var(--muted); stroke-width: 1; }
svg.chart .grid { stroke: var(--border); stroke-width: 1; }
svg.chart .bar { fill: var(--bar); }
svg.chart .bar.bad { fill: var(--line-vanish); }
svg.chart .bar.high { fill: var(--line-explode); }
svg.chart .mark { fill: var(--bad); }
svg.chart .mark.none { fill: none; stroke: var(--muted); stroke-width: 1.5; }
svg.chart .vanish { stroke: var(--line-vanish); stroke-width: 2; stroke-dasharray: 6 4; }
svg.chart .explode { stroke: var(--line-explode); stroke-width: 2; stroke-dasharray: 6 4; }
svg.chart .ref { stroke: var(--ref); stroke-width: 1.5; stroke-dasharray: 2 3; }
svg.chart .fit { stroke: var(--fit); stroke-width: 2; fill: none; }
svg.chart .spread { stroke: var(--warn); stroke-width: 3; }
svg.chart .median { fill: var(--fg); }
svg.chart text.vanish, svg.chart text.explode { stroke: none; }
svg.chart text.vanish { fill: var(--line-vanish); } svg.chart text.explode { fill: var(--line-explode); }
svg.chart text.ref { fill: var(--ref); stroke: none; }
details > summary { cursor: pointer; color: var(--muted); margin: .5rem 0; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; }
"""


def _page(title: str, body: Iterable[str]) -> str:
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="UTF-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f'<meta name="generator" content="gradcheck-kit {esc(__version__)}">',
            f"<title>{esc(title)}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            *body,
            f"<footer>Written by gradcheck-kit {esc(__version__)}. A self-contained file: no "
            "script, nothing loaded from the network.</footer>",
            "</body>",
            "</html>",
            "",
        ]
    )


def _badge(text: str, tone: str) -> str:
    return f'<span class="badge {tone}">{esc(text)}</span>'


def _verdict(title: str, passed: bool, lines: Sequence[str], tone: str | None = None) -> str:
    """The verdict box: ``title`` in bold, then a list of count lines (already HTML)."""
    tone = tone or ("ok" if passed else "bad")
    items = "".join(f"<li>{line}</li>" for line in lines)
    return (
        f'<section id="verdict" class="verdict {tone}" aria-label="verdict">'
        f"<strong>{esc(title)}</strong>"
        f"{'<ul>' + items + '</ul>' if items else ''}</section>"
    )


# -- the legend --------------------------------------------------------------------------------

_LEGEND_BADGES = [
    ("ok", "passed, or within the limits"),
    ("bad", "failed: a limit crossed, a NaN, a dead layer, an error"),
    ("warn", "a lint finding, a saturated layer, a prediction not yet confirmed"),
    ("skip", "skipped (an optional dependency is missing)"),
]
_LEGEND_LAYER_CHART = [
    ("var(--bar)", "bar: gradient RMS at a layer's output (log scale), within the limits"),
    ("var(--line-vanish)", "red bar: below the vanish limit"),
    ("var(--line-explode)", "orange bar: above the explode limit"),
    ("dash:var(--line-vanish)", "dashed red line: the vanish limit"),
    ("dash:var(--line-explode)", "dashed orange line: the explode limit"),
    ("dot:var(--ref)", "dotted grey line: the gradient where the flow ratio ends (ratio 1)"),
    ("mark:var(--bad)", "red triangle: a zero (bottom) or non-finite (top) gradient"),
    ("ring:var(--muted)", "grey ring: no gradient reached the layer"),
]
_LEGEND_SWEEP_CHART = [
    ("dot-fill:var(--fg)", "dot: median flow ratio over the seeds"),
    ("var(--warn)", "vertical bar: min..max over the seeds"),
    ("var(--fit)", "line: the fitted curve"),
    ("dash:var(--line-vanish)", "dashed red line: the vanish bound"),
    ("dash:var(--line-explode)", "dashed orange line: the explode bound"),
    ("dot:var(--ref)", "dotted grey line: ratio 1"),
    ("mark:var(--bad)", "red triangle: a median ratio of zero or non-finite"),
]


def _swatch(kind: str) -> str:
    if kind.startswith("dash:"):
        colour = kind[5:]
        return f'<span class="swatch" style="border-top: 3px dashed {colour}; height: 0"></span>'
    if kind.startswith("dot:"):
        colour = kind[4:]
        return f'<span class="swatch" style="border-top: 3px dotted {colour}; height: 0"></span>'
    if kind.startswith("mark:"):
        colour = kind[5:]
        return (
            '<svg class="swatch" viewBox="0 0 16 10" aria-hidden="true">'
            f'<polygon points="3,9 13,9 8,1" style="fill: {colour}"/></svg>'
        )
    if kind.startswith("ring:"):
        colour = kind[5:]
        return (
            '<svg class="swatch" viewBox="0 0 16 10" aria-hidden="true">'
            f'<circle cx="8" cy="5" r="3.5" style="fill: none; stroke: {colour}; '
            'stroke-width: 1.5"/></svg>'
        )
    if kind.startswith("dot-fill:"):
        colour = kind[9:]
        return (
            '<svg class="swatch" viewBox="0 0 16 10" aria-hidden="true">'
            f'<circle cx="8" cy="5" r="4" style="fill: {colour}"/></svg>'
        )
    return f'<span class="swatch" style="background: {kind}"></span>'


def _legend(*, layer_chart: bool, sweep_chart: bool, source: bool, agreement: bool = False) -> str:
    out = ['<section id="legend" class="legend" aria-label="legend">', "<h2>Legend</h2>"]
    out.append("<h3>Verdicts and marks</h3><ul>")
    out += [f"<li>{_badge(tone, tone)} {esc(text)}</li>" for tone, text in _LEGEND_BADGES]
    out.append("</ul>")
    if agreement:
        out.append("<h3>Static finding against the runtime check of the same model</h3><ul>")
        out += [
            f"<li>{_badge('confirmed', 'bad')} the runtime check failed too</li>",
            f"<li>{_badge('refuted', 'ok')} the runtime check passed at the code's own depth "
            "(the finding does not fail the audit)</li>",
            f"<li>{_badge('unconfirmed', 'warn')} the runtime check passed, but not at that "
            "depth</li>",
        ]
        out.append("</ul>")
    if layer_chart:
        out.append("<h3>Per-layer charts</h3><ul>")
        out += [f"<li>{_swatch(k)}{esc(t)}</li>" for k, t in _LEGEND_LAYER_CHART]
        out.append("</ul>")
    if sweep_chart:
        out.append("<h3>Depth-sweep charts</h3><ul>")
        out += [f"<li>{_swatch(k)}{esc(t)}</li>" for k, t in _LEGEND_SWEEP_CHART]
        out.append("</ul>")
    if source:
        out.append("<h3>Source excerpts</h3><ul>")
        out.append(
            f"<li>{_swatch('var(--hl)')}highlighted lines: the code the finding is about</li>"
        )
        out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


# -- SVG charts --------------------------------------------------------------------------------

_W, _H = 900, 330  # the viewBox
_LEFT, _RIGHT, _TOP, _BOTTOM = 78, 110, 16, 58


@dataclass(frozen=True)
class _Line:
    value: float  # in data units (positive)
    css: str  # vanish | explode | ref
    label: str  # short: the right margin
    detail: str  # the tooltip


def _log10(value: float | None) -> float | None:
    if value is None or not math.isfinite(value) or value <= 0:
        return None
    return math.log10(value)


def _decades(values: Iterable[float]) -> tuple[float, float]:
    logs = list(values)
    if not logs:
        return -1.0, 1.0
    lo, hi = math.floor(min(logs) - 0.3), math.ceil(max(logs) + 0.1)  # the least bar shows
    if hi - lo < 1:
        hi = lo + 1
    return float(lo), float(hi)


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


def _power_label(exponent: float) -> str:
    e = round(exponent)
    return "1" if e == 0 else f"1e{e}"


def _y_axis(lo: float, hi: float, y_of: Any, title: str) -> list[str]:
    span = hi - lo
    step = 1 if span <= 10 else 2 if span <= 20 else 5 if span <= 50 else 10
    out: list[str] = []
    e = math.ceil(lo)
    while e <= hi:
        y = y_of(e)
        out.append(
            f'<line class="grid" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_num(y)}" y2="{_num(y)}"/>'
        )
        out.append(
            f'<text x="{_LEFT - 8}" y="{_num(y + 4)}" text-anchor="end">{_power_label(e)}</text>'
        )
        e += step
    mid = (_TOP + _H - _BOTTOM) / 2
    out.append(
        f'<text x="16" y="{_num(mid)}" text-anchor="middle" '
        f'transform="rotate(-90 16 {_num(mid)})">{esc(title)}</text>'
    )
    out.append(f'<line class="axis" x1="{_LEFT}" x2="{_LEFT}" y1="{_TOP}" y2="{_H - _BOTTOM}"/>')
    out.append(
        f'<line class="axis" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_H - _BOTTOM}" '
        f'y2="{_H - _BOTTOM}"/>'
    )
    return out


def _svg(label: str, body: Sequence[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" '
        f'xmlns="http://www.w3.org/2000/svg" aria-label="{esc(label)}">'
        f"<title>{esc(label)}</title>" + "".join(body) + "</svg>"
    )


def _line_labels(lines: Sequence[_Line], y_of: Any) -> list[str]:
    """Horizontal lines across the plot, labelled in the right margin (labels kept apart)."""
    out: list[str] = []
    placed: list[float] = []
    for line in sorted(lines, key=lambda li: -li.value):
        logv = _log10(line.value)
        if logv is None:
            continue
        y = y_of(logv)
        out.append(
            f'<line class="{line.css}" x1="{_LEFT}" x2="{_W - _RIGHT}" y1="{_num(y)}" '
            f'y2="{_num(y)}"><title>{esc(line.label)}: {esc(line.detail)}</title></line>'
        )
        ty = y + 4
        while any(abs(ty - p) < 14 for p in placed):
            ty += 14
        placed.append(ty)
        out.append(
            f'<text class="{line.css}" x="{_W - _RIGHT + 6}" y="{_num(ty)}">{esc(line.label)}</text>'
        )
    return out


def _bar_chart(
    label: str,
    bars: Sequence[tuple[str, float | None, str]],
    lines: Sequence[_Line],
    x_title: str,
    y_title: str,
) -> str:
    """Bars ``(x label, value, tooltip)`` on a log10 axis, from the bottom of the plot, with
    horizontal ``lines``; a bar below the lowest ``vanish`` line is red, above an ``explode``
    line orange."""
    logs = [v for v in (_log10(value) for _, value, _ in bars) if v is not None]
    logs += [v for v in (_log10(line.value) for line in lines) if v is not None]
    lo, hi = _decades(logs)
    plot_h = _H - _TOP - _BOTTOM
    plot_w = _W - _LEFT - _RIGHT

    def y_of(logv: float) -> float:
        return _TOP + (hi - logv) / (hi - lo) * plot_h

    vanish = [_log10(li.value) for li in lines if li.css == "vanish"]
    explode = [_log10(li.value) for li in lines if li.css == "explode"]
    v_line = next((v for v in vanish if v is not None), None)
    e_line = next((v for v in explode if v is not None), None)
    body = _y_axis(lo, hi, y_of, y_title)
    n = max(len(bars), 1)
    slot = plot_w / n
    width = max(1.0, min(slot * 0.72, 40.0))
    widest = max((len(xlabel) for xlabel, _, _ in bars), default=1) * 7 + 10  # px per label
    every = max(1, math.ceil(n * widest / plot_w))
    base = _H - _BOTTOM
    for i, (xlabel, value, tip) in enumerate(bars):
        cx = _LEFT + slot * (i + 0.5)
        logv = _log10(value)
        if logv is not None:
            css = "bar"
            if v_line is not None and logv < v_line:
                css = "bar bad"
            elif e_line is not None and logv > e_line:
                css = "bar high"
            y = y_of(logv)
            body.append(
                f'<rect class="{css}" x="{_num(cx - width / 2)}" y="{_num(y)}" '
                f'width="{_num(width)}" height="{_num(max(base - y, 1.0))}">'
                f"<title>{esc(tip)}</title></rect>"
            )
        elif value is None:
            body.append(
                f'<circle class="mark none" cx="{_num(cx)}" cy="{_num(base - 7)}" r="5">'
                f"<title>{esc(tip)}</title></circle>"
            )
        else:  # zero (bottom) or non-finite (top)
            top = not math.isfinite(value)
            y0 = _TOP + 2 if top else base - 2
            tip_y = y0 + 10 if top else y0 - 10
            body.append(
                f'<polygon class="mark" points="{_num(cx - 6)},{_num(y0)} {_num(cx + 6)},'
                f'{_num(y0)} {_num(cx)},{_num(tip_y)}"><title>{esc(tip)}</title></polygon>'
            )
        if i % every == 0 or (i == n - 1 and 2 * (i % every) >= every + 1):
            body.append(
                f'<text x="{_num(cx)}" y="{base + 16}" text-anchor="middle">{esc(xlabel)}</text>'
            )
    body += _line_labels(lines, y_of)
    body.append(
        f'<text x="{_num(_LEFT + plot_w / 2)}" y="{_H - 14}" text-anchor="middle">'
        f"{esc(x_title)}</text>"
    )
    return _svg(label, body)


def _flow_end(layers: Sequence[LayerStat]) -> float | None:
    """The gradient the flow ratio divides by: the last reached layer's input gradient, or its
    output gradient (as :mod:`gradcheck_kit.runtime.verdict` computes it)."""
    reached = [layer for layer in layers if layer.grad_rms is not None]
    if not reached:
        return None
    last = reached[-1]
    if last.input_grad_rms not in (None, 0.0):
        return last.input_grad_rms
    return last.grad_rms


def _profile(report: GradientReport) -> tuple[LayerStat, ...]:
    failure = report.failure
    return failure.layers if failure and failure.layers else report.layers


def layer_chart(report: GradientReport) -> str:
    """The per-layer profile of ``report`` as an inline SVG bar chart ("" without layers)."""
    layers = _profile(report)
    if not layers:
        return ""
    end = _flow_end(layers)
    lines: list[_Line] = []
    if end is not None and math.isfinite(end) and end > 0:
        lo, hi = report.limits or (report.bounds.vanish, report.bounds.explode)
        lines = [
            _Line(end * lo, "vanish", "vanish limit", f"{fmt(end * lo)}: ratio {fmt(lo)}"),
            _Line(end, "ref", "ratio 1", f"{fmt(end)}: where the flow ratio ends"),
            _Line(end * hi, "explode", "explode limit", f"{fmt(end * hi)}: ratio {fmt(hi)}"),
        ]
    bars = []
    for layer in layers:
        value = layer.grad_rms
        what = (
            "no gradient reached it"
            if value is None
            else f"gradient RMS {fmt(value)}" + (" (underflow)" if layer.underflow else "")
        )
        bars.append(
            (str(layer.index), value, f"#{layer.index} {layer.name} ({layer.type}): {what}")
        )
    return _bar_chart(
        f"per-layer gradient RMS of {report.target}",
        bars,
        lines,
        "layer # (forward order: input side left, loss side right)",
        "gradient RMS (log scale)",
    )


def sequence_chart(seq: SequenceStat) -> str:
    lines: list[_Line] = []
    if seq.limits and seq.steps:
        top = max((v for v in seq.steps if math.isfinite(v)), default=0.0)
        if top > 0:
            lines = [
                _Line(
                    top * seq.limits[0],
                    "vanish",
                    "vanish limit",
                    f"{fmt(top * seq.limits[0])}: {fmt(seq.limits[0])} x the largest step",
                ),
                _Line(top, "ref", "largest step", fmt(top)),
            ]
    bars = [
        (
            str(a) if a == b else f"{a}-{b}",
            value,
            f"steps {a}-{b}: gradient RMS {fmt(value)}",
        )
        for a, b, value in seq.buckets(48)
    ]
    return _bar_chart(
        f"input gradient through time of {seq.type} {seq.name}",
        bars,
        lines,
        "input step (first step left)",
        "gradient RMS (log scale)",
    )


def sweep_chart(curve: SweepCurve, report: SweepReport) -> str:
    """Flow ratio against depth: median per depth, min..max over the seeds, the fit, the
    bounds (log10 y axis, linear depth axis)."""
    logs: list[float] = [math.log10(report.bounds.vanish), math.log10(report.bounds.explode), 0.0]
    for p in curve.points:
        logs += [v for v in (_log10(p.low), _log10(p.high)) if v is not None]
    lo, hi = _decades(logs)
    plot_h = _H - _TOP - _BOTTOM
    plot_w = _W - _LEFT - _RIGHT
    depths = [p.depth for p in curve.points] or [0]
    d_lo, d_hi = min(depths), max(depths)
    span = max(d_hi - d_lo, 1)
    pad = 0.04 * plot_w

    def y_of(logv: float) -> float:
        return _TOP + (hi - logv) / (hi - lo) * plot_h

    def x_of(depth: float) -> float:
        return _LEFT + pad + (depth - d_lo) / span * (plot_w - 2 * pad)

    body = _y_axis(lo, hi, y_of, "flow ratio (log scale)")
    lines = [
        _Line(report.bounds.vanish, "vanish", "vanish bound", fmt(report.bounds.vanish)),
        _Line(1.0, "ref", "ratio 1", "1"),
        _Line(report.bounds.explode, "explode", "explode bound", fmt(report.bounds.explode)),
    ]
    body += _line_labels(lines, y_of)
    fit = curve.fit
    if fit.gain is not None and fit.shape != "insufficient":
        pts = []
        for k in range(61):
            d = d_lo + k / 60 * span
            v = fit.log10_at(d)
            if v is not None and lo <= v <= hi:
                pts.append(f"{_num(x_of(d))},{_num(y_of(v))}")
        if len(pts) > 1:
            body.append(
                f'<polyline class="fit" points="{" ".join(pts)}"><title>'
                f"{esc(fit.shape)} fit</title></polyline>"
            )
    base = _H - _BOTTOM
    for p in curve.points:
        x = x_of(p.depth)
        tip = f"depth {p.depth}: median {fmt(p.median)}, min {fmt(p.low)}, max {fmt(p.high)}" + (
            f"; {'; '.join(p.messages)}" if p.messages else ""
        )
        low, high = _log10(p.low), _log10(p.high)
        if low is not None and high is not None:
            body.append(
                f'<line class="spread" x1="{_num(x)}" x2="{_num(x)}" y1="{_num(y_of(high))}" '
                f'y2="{_num(y_of(low))}"><title>{esc(tip)}</title></line>'
            )
        median = _log10(p.median)
        if median is not None:
            body.append(
                f'<circle class="median" cx="{_num(x)}" cy="{_num(y_of(median))}" r="5">'
                f"<title>{esc(tip)}</title></circle>"
            )
        elif p.median is not None:  # zero or non-finite
            body.append(
                f'<polygon class="mark" points="{_num(x - 6)},{base - 2} {_num(x + 6)},'
                f'{base - 2} {_num(x)},{base - 12}"><title>{esc(tip)}</title></polygon>'
            )
        body.append(f'<text x="{_num(x)}" y="{base + 16}" text-anchor="middle">{p.depth}</text>')
    body.append(
        f'<text x="{_num(_LEFT + plot_w / 2)}" y="{_H - 14}" text-anchor="middle">depth</text>'
    )
    return _svg(f"flow ratio against depth of {report.target} ({curve.device}/{curve.dtype})", body)


# -- tables ------------------------------------------------------------------------------------


def _table(
    headers: Sequence[str],
    rows: Iterable[Sequence[str]],
    *,
    numeric: Sequence[bool] = (),
    caption: str = "",
    names: Sequence[bool] = (),
) -> str:
    """A table; cells are HTML already (escape them first); ``numeric`` columns right-aligned
    and never wrapped, ``names`` columns wrap anywhere."""
    out = ["<table>"]
    if caption:
        out.append(f"<caption>{caption}</caption>")
    out.append("<thead><tr>" + "".join(f'<th scope="col">{h}</th>' for h in headers) + "</tr>")
    out.append("</thead><tbody>")
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            css = (
                ' class="num"'
                if i < len(numeric) and numeric[i]
                else ' class="name"'
                if i < len(names) and names[i]
                else ""
            )
            cells.append(f"<td{css}>{value}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _status_badge(report: GradientReport) -> str:
    failure = report.failure
    if failure is None:
        return _badge("PASSED", "ok")
    return _badge("FAILED: " + failure.headline(), "bad")


def _flow_summary(entries: Sequence[Entry]) -> str:
    with_tests = any(test for test, _ in entries)
    headers = (["test"] if with_tests else []) + [
        "model",
        "depths tried",
        "examples",
        "worst flow ratio",
        "limits",
        "verdict",
    ]
    rows = []
    for i, (test, report) in enumerate(entries):
        ratio = report.shown_ratio
        limits = report.limits_text
        link = f'<a href="#check-{i}">{esc(report.target)}</a>'
        rows.append(
            ([esc(test or "")] if with_tests else [])
            + [
                link,
                esc(depths_text(report)),
                str(report.examples_run),
                fmt(ratio),
                limits,
                _status_badge(report),
            ]
        )
    numeric = ([False] if with_tests else []) + [False, False, True, True, True, False]
    names = ([True] if with_tests else []) + [True]
    return _table(headers, rows, numeric=numeric, names=names)


def _layer_table(layers: Sequence[LayerStat]) -> str:
    rows = []
    for layer in layers:
        sat = ""
        if layer.saturation is not None:
            text = f"{layer.saturation:.0%} {layer.activation or ''}".strip()
            tone = "warn" if layer.saturation >= SATURATED else ""
            sat = _badge(text, "warn") if tone else esc(text)
        grad = fmt(layer.grad_rms) + (" (underflow)" if layer.underflow else "")
        if layer.grad_rms is None:
            grad = "- (no gradient)"
        elif layer.grad_rms == 0 or not math.isfinite(layer.grad_rms):
            grad = f'<span class="bad">{esc(grad)}</span>'
        rows.append(
            [
                str(layer.index),
                esc(layer.name),
                esc(layer.type),
                str(layer.width or ""),
                grad,
                fmt(layer.param_grad_rms),
                fmt(layer.activation_rms),
                sat,
            ]
        )
    return _table(
        [
            "#",
            "layer",
            "type",
            "width",
            "grad RMS (output)",
            "param grad RMS",
            "activation RMS",
            "saturated",
        ],
        rows,
        numeric=[True, False, False, True, True, True, True, True],
        names=[False, True, True],
    )


def _check_article(
    test: str | None, report: GradientReport, anchor: str, check: str | None = None
) -> str:
    failure = report.failure
    tone = "ok" if failure is None else "bad"
    out = [f'<article class="check {tone}" id="{anchor}">']
    out.append(f"<h3>{_status_badge(report)} {esc(report.target)}</h3>")
    items: list[tuple[str, str]] = []
    if test:
        items.append(("test", f"<code>{esc(test)}</code>"))
    if check and check != report.target:
        items.append(("declared check", f"<code>{esc(check)}</code>"))
    if failure is not None:
        depth = f"depth {failure.depth}" if failure.depth is not None else "the first example"
        items += [
            ("failure", esc(failure.kind)),
            ("smallest failing example", esc(f"{depth} on {failure.device}/{failure.dtype}")),
            ("what happened", esc(failure.message)),
            ("input", esc(failure.input_desc)),
        ]
        if failure.exception:
            items.append(("exception", f"<code>{esc(failure.exception)}</code>"))
        ratio = failure.ratio
    else:
        ratio = report.ratio
    limits = (
        f" (limits {fmt(report.limits[0])} .. {fmt(report.limits[1])})" if report.limits else ""
    )
    items.append(("flow ratio", f'<span class="num">{fmt(ratio)}</span>{limits}'))
    seed = f", seed {report.seed}" if report.seed is not None else ""
    items.append(
        (
            "run",
            esc(
                f"{report.examples_run} examples at depths {depths_text(report)}{seed}, "
                f"{report.elapsed_s:.1f} s"
            ),
        )
    )
    out.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items) + "</dl>")
    layers = _profile(report)
    if layers:
        out.append(
            "<h4>Per-layer gradient"
            + (" of the smallest failing example" if failure is not None else "")
            + "</h4>"
        )
        out.append(layer_chart(report))
        state = " open" if failure is not None and len(layers) <= 40 else ""
        out.append(f"<details{state}><summary>the numbers, layer by layer</summary>")
        out.append(_layer_table(layers))
        out.append("</details>")
    for seq in report.sequences:
        out.append(
            f"<h4>Through time: {esc(seq.type)} {esc(seq.name)}, {len(seq.steps)} input steps"
            + (f"; smallest/largest {fmt(seq.ratio)}" if seq.ratio is not None else "")
            + "</h4>"
        )
        out.append(sequence_chart(seq))
    if len(report.devices) > 1 or report.parity:
        rows = [
            [
                esc(d.device),
                esc(d.dtype),
                fmt(d.ratio),
                _badge("pass", "ok") if d.passed else _badge(str(d.kind), "bad"),
            ]
            for d in report.devices
        ]
        out.append(
            _table(
                ["device", "dtype", "flow ratio", "verdict"],
                rows,
                numeric=[False, False, True],
                caption="the reported example, replayed on each device",
            )
        )
        for p in report.parity:
            mark = _badge("agree", "ok") if p.agree else _badge("DISAGREE", "bad")
            out.append(
                f"<p>parity {esc(p.devices[0])} vs {esc(p.devices[1])} ({esc(p.dtype)}): "
                f"{fmt(p.ratios[0])} vs {fmt(p.ratios[1])}, rel. diff {fmt(p.rel_diff)} "
                f"(tolerance {report.bounds.parity_rtol:g}) {mark}</p>"
            )
    if report.notes:
        out.append("<ul>" + "".join(f"<li>note: {esc(n)}</li>" for n in report.notes) + "</ul>")
    if report.reproduce and failure is not None:
        out.append("<p>reproduce:</p>")
        out.append(f'<pre class="wrap"><code>{esc(report.reproduce)}</code></pre>')
    if failure is not None and failure.traceback:
        out.append("<details><summary>traceback</summary>")
        out.append(f"<pre><code>{esc(failure.traceback)}</code></pre></details>")
    out.append("</article>")
    return "\n".join(out)


def _gradients_section(entries: Sequence[Entry]) -> str:
    out = ['<section id="gradients">', "<h2>Gradient checks</h2>", _flow_summary(entries)]
    order = [i for i, (_, r) in enumerate(entries) if not r.passed]
    order += [i for i, (_, r) in enumerate(entries) if r.passed]
    for i in order:
        test, report = entries[i]
        out.append(_check_article(test, report, f"check-{i}"))
    out.append("</section>")
    return "\n".join(out)


# -- sweeps ------------------------------------------------------------------------------------


def _sweep_article(sweep: Any, index: int) -> str:
    if not isinstance(sweep, SweepReport):  # the protocol: to_dict, maybe rich
        rich = getattr(sweep, "__rich__", None)
        text = str(rich()) if callable(rich) else json.dumps(sweep.to_dict(), indent=2)
        return (
            f'<article class="sweep" id="sweep-{index}"><h3>depth sweep</h3>'
            f'<pre class="wrap">{esc(text)}</pre></article>'
        )
    from gradcheck_kit.report.sweeps import summary_lines

    tone = "ok" if sweep.passed else "bad"
    badge = _badge("PASSED" if sweep.passed else "FAILED", tone)
    out = [f'<article class="sweep {tone}" id="sweep-{index}">']
    out.append(f"<h3>{badge} depth sweep {esc(sweep.target)}</h3>")
    out.append(
        "<ul>" + "".join(f"<li>{esc(s.strip())}</li>" for s in summary_lines(sweep)) + "</ul>"
    )
    for curve in sweep.curves:
        out.append(f"<h4>{esc(curve.device)}/{esc(curve.dtype)}: {esc(curve.fit.note)}</h4>")
        out.append(sweep_chart(curve, sweep))
        rows = []
        with_notes = any(p.messages for p in curve.points)  # no empty column
        for p in curve.points:
            fitted = curve.fit.predict(p.depth) if curve.fit.shape != "insufficient" else None
            notes = esc("; ".join(p.messages))
            if p.messages:
                notes = f'<span class="{"bad" if p.broken else "warn"}">{notes}</span>'
            rows.append(
                [
                    str(p.depth),
                    fmt(p.median),
                    fmt(p.low),
                    fmt(p.high),
                    fmt(fitted),
                    str(p.layers or ""),
                    notes,
                ][: 7 if with_notes else 6]
            )
        headers = ["depth", "median ratio", "min", "max", "fitted", "layers", "notes"]
        out.append(
            _table(
                headers[: 7 if with_notes else 6],
                rows,
                numeric=[True] * 6,
                caption=esc(
                    f"flow ratio by depth ({curve.device}/{curve.dtype}, {sweep.seeds} seeds)"
                ),
            )
        )
    t = sweep.theory
    if t is not None:
        agrees = (
            ""
            if t.agrees is None
            else _badge(f"within {t.tolerance:.0%}", "ok")
            if t.agrees
            else _badge(f"off by more than {t.tolerance:.0%}", "warn")
        )
        rel = t.rel_diff
        out.append(
            _table(
                ["activation", "s_w^2", "s_b^2", "q*", "predicted", "measured", "apart", ""],
                [
                    [
                        esc(t.activation),
                        f"{t.weight_var:.4g}",
                        f"{t.bias_var:.3g}",
                        f"{t.q_star:.3g}",
                        f"{t.predicted:.4g}",
                        f"{t.measured:.4g}" if t.measured is not None else "-",
                        f"{rel:.1%}" if rel is not None else "-",
                        agrees,
                    ]
                ],
                numeric=[False] + [True] * 6,
                caption="mean-field cross-check (gradcheck_kit.theory.predicted_gain): "
                + esc(t.note),
            )
        )
    out.append("</article>")
    return "\n".join(out)


def _sweeps_section(sweeps: Sequence[Any]) -> str:
    out = ['<section id="sweeps">', "<h2>Depth sweeps</h2>"]
    out += [_sweep_article(s, i) for i, s in enumerate(sweeps)]
    out.append("</section>")
    return "\n".join(out)


# -- lint --------------------------------------------------------------------------------------


def source_excerpt(finding: Finding, source: str | None = None) -> str:
    """The finding's lines with two lines of context, numbered, the flagged ones highlighted
    ("" when the file cannot be read)."""
    if source is None:
        source = read_source(finding.path, finding.cell)
    if source is None:
        return ""
    lines = python_lines(source)
    last = min(finding.end_line, finding.line + _MAX_FLAGGED)
    first_shown = max(1, finding.line - _CONTEXT)
    last_shown = min(len(lines), last + _CONTEXT)
    out = []
    for number in range(first_shown, last_shown + 1):
        flagged = finding.line <= number <= last
        css = ' class="hl"' if flagged else ""
        out.append(f"<span{css}><b>{number}</b>{esc(lines[number - 1])}</span>")
    if not out:
        return ""
    return '<pre class="source"><code>' + "".join(out) + "</code></pre>"


def _finding_article(finding: Finding, extra: str = "") -> str:
    f = finding
    tone = "bad" if f.severity == "error" else "warn"
    cell = f":cell {f.cell}" if f.cell is not None else ""
    where = f"{f.path}{cell}:{f.line}:{f.column}"
    css = "finding error" if f.severity == "error" else "finding"
    out = [f'<article class="{css}">']
    out.append(
        f"<h3>{_badge(f.code, tone)} <code>{esc(where)}</code> "
        f'<span class="muted">[{esc(f.name)}]</span></h3>'
    )
    out.append(f"<p>{esc(f.message)}</p>")
    out.append(source_excerpt(f))
    facts = []
    if f.symbol:
        facts.append(("in", f"<code>{esc(f.symbol)}</code>"))
    if f.depth is not None:
        facts.append(
            ("depth", esc(f"{f.depth}" + (f" ({f.depth_source})" if f.depth_source else "")))
        )
    if f.fix is not None:
        facts.append(("fix", esc(f"{f.fix.message} ({f.fix.applicability})")))
    for r in f.related:
        where = f"{r.path}:" if r.path else "line "
        cell = f"cell {r.cell}, " if r.cell is not None else ""
        facts.append(("related", esc(f"{where}{cell}{r.line}:{r.column}: {r.message}")))
    if facts:
        out.append("<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts) + "</dl>")
    if extra:
        out.append(extra)
    out.append("</article>")
    return "\n".join(out)


def _lint_errors(result: LintResult) -> str:
    if not result.errors:
        return ""
    items = []
    for error in result.errors:
        where, what = error_location(error)
        items.append(f"<li><code>{esc(where)}</code>: {_badge('error', 'bad')} {esc(what)}</li>")
    return "<h3>Files that could not be linted</h3><ul>" + "".join(items) + "</ul>"


def _lint_counts(result: LintResult) -> str:
    n = len(result.findings)
    text = f"{plural(n, 'lint finding')} in {plural(result.files_checked, 'file')} checked"
    if result.errors:
        text += f", {plural(len(result.errors), 'file')} could not be linted"
    return text


def _lint_section(result: LintResult) -> str:
    out = ['<section id="lint">', "<h2>Lint findings</h2>"]
    if not result.findings and not result.errors:
        out.append(f"<p>{_badge('no findings', 'ok')} {esc(_lint_counts(result))}.</p>")
    out += [_finding_article(f) for f in result.findings]
    out.append(_lint_errors(result))
    out.append("</section>")
    return "\n".join(out)


# -- the two pages -----------------------------------------------------------------------------


def report_html(
    *,
    title: str,
    lint: LintResult | None,
    entries: Sequence[Entry],
    sweeps: Sequence[Any],
    errors: Sequence[tuple[str, str]] = (),
) -> str:
    """The report page of ``lint``, ``check``, ``sweep`` and the pytest plugin (``errors``: the
    checks that could not run, each (target, why))."""
    failed = [r for _, r in entries if not r.passed]
    sweeps_failed = [s for s in sweeps if getattr(s, "passed", True) is False]
    lint_bad = lint is not None and bool(lint.findings or lint.errors)
    passed = not failed and not sweeps_failed and not lint_bad and not errors
    counts: list[str] = []
    if errors:
        counts.append(_badge(f"{plural(len(errors), 'check')} could not run", "bad"))
    if entries:
        counts.append(
            f"{plural(len(entries), 'gradient check')}: "
            f"{_badge(f'{len(failed)} failed', 'bad') if failed else '0 failed'}, "
            f"{len(entries) - len(failed)} passed"
        )
    if sweeps:
        counts.append(
            f"{plural(len(sweeps), 'depth sweep')}: "
            f"{_badge(f'{len(sweeps_failed)} failed', 'bad') if sweeps_failed else '0 failed'}, "
            f"{len(sweeps) - len(sweeps_failed)} passed"
        )
    if lint is not None:
        counts.append(esc(_lint_counts(lint)))
    if not counts:
        counts.append("nothing to report")
    body = [
        f"<h1>{esc(title)}</h1>",
        _verdict("PASSED" if passed else "FAILED", passed, counts),
        _legend(
            layer_chart=any(_profile(r) or r.sequences for _, r in entries),
            sweep_chart=any(isinstance(s, SweepReport) for s in sweeps),
            source=lint is not None and bool(lint.findings),
        ),
    ]
    if errors:
        body.append(_errors_section(errors))
    if entries:
        body.append(_gradients_section(entries))
    if sweeps:
        body.append(_sweeps_section(sweeps))
    if lint is not None:
        body.append(_lint_section(lint))
    return _page(title, body)


def _errors_section(errors: Sequence[tuple[str, str]]) -> str:
    """The checks that could not run: each target and why (its factory raised, it does not
    import), so a report never reads as if they had passed."""
    items = "".join(
        f"<li><code>{esc(target)}</code>: {esc(message)}</li>" for target, message in errors
    )
    return (
        '<section id="errors" aria-label="checks that could not run">'
        f"<h2>Checks that could not run</h2><ul>{items}</ul></section>"
    )


_AGREEMENT_TONE = {"confirmed": "bad", "refuted": "ok", "unconfirmed": "warn"}


def _audit_checks_table(checks: Sequence[CheckOutcome]) -> str:
    tone = {"passed": "ok", "failed": "bad", "error": "bad", "skipped": "skip"}
    rows = []
    for i, check in enumerate(checks):
        report = check.report
        depths = report.depth_span if report is not None else "-"
        ratio = "-"
        if report is not None:
            value = report.shown_ratio
            ratio = fmt(value) if isinstance(value, (int, float)) else "-"
        target = esc(check.target)
        if report is not None:
            target = f'<a href="#check-{i}">{target}</a>'
        rows.append(
            [
                target,
                esc(check.model or "-"),
                depths,
                str(report.examples_run) if report is not None else "-",
                ratio,
                _badge(check.verdict, tone[check.status]),
            ]
        )
    return _table(
        ["target", "model", "depths", "examples", "flow ratio", "verdict"],
        rows,
        numeric=[False, False, True, True, True],
        names=[True, True],
    )


def audit_html(report: AuditReport) -> str:
    """The page of ``gradcheck-kit audit --report FILE.html``."""
    from gradcheck_kit.report.audit import agreement

    title = f"gradcheck-kit audit: {report.title}"
    tone = ("warn" if report.empty else "ok") if report.passed else "bad"
    lines = [esc(part) for part in report.verdict_text().split(", ")]
    checks = report.checks
    body = [
        f"<h1>{esc(title)}</h1>",
        _verdict(report.title, report.passed, lines, tone),
        _legend(
            layer_chart=any(c.report is not None and _profile(c.report) for c in checks),
            sweep_chart=False,
            source=bool(report.lint.findings),
            agreement=any(report.confirmation(f) is not None for f in report.lint.findings),
        ),
        '<section id="lint">',
        "<h2>Static analysis</h2>",
    ]
    if not report.lint.findings and not report.lint.errors:
        body.append(f"<p>{_badge('no findings', 'ok')} {esc(_lint_counts(report.lint))}.</p>")
    for finding in report.lint.findings:
        extra = ""
        check = report.confirmation(finding)
        if check is not None:
            kind, text = agreement(finding, check)
            extra = f"<p>{_badge(kind, _AGREEMENT_TONE.get(kind, 'skip'))} {esc(text)}</p>"
        body.append(_finding_article(finding, extra))
    body.append(_lint_errors(report.lint))
    body.append("</section>")
    body += ['<section id="gradients">', "<h2>Gradient flow</h2>"]
    if checks:
        body.append(_audit_checks_table(checks))
        order = [i for i, c in enumerate(checks) if c.status != "passed"]
        order += [i for i, c in enumerate(checks) if c.status == "passed"]
        for i in order:
            check = checks[i]
            if check.report is not None:
                body.append(_check_article(None, check.report, f"check-{i}", check.target))
    else:
        body.append(
            f'<p class="muted">{esc(report.runtime_note or "no runtime checks declared")}</p>'
        )
    body.append("</section>")
    return _page(title, body)
