"""The sweep as an image (SVG or PNG) for HTML reports, drawn with matplotlib - the optional
``plot`` extra (``pip install matplotlib``). Without matplotlib there is no image:
:func:`render_plot` returns None, never raises for that.

Drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot, no global state,
no display needed); SVG output is deterministic (fixed hash salt, no date metadata).
"""

from __future__ import annotations

import importlib.util
import io
import math
from typing import Any

from gradcheck_kit.report.sweeps import SweepReport

__all__ = ["FORMATS", "available", "render_plot"]

FORMATS = ("svg", "png")


def available() -> bool:
    """Whether matplotlib is installed (the ``plot`` extra)."""
    return importlib.util.find_spec("matplotlib") is not None


def render_plot(report: SweepReport, format: str = "svg", dpi: int = 110) -> bytes | None:
    """log10 flow ratio against depth: each seed, the median, the fit (extended to the max safe
    depth when that lies a little beyond the range), the bounds. None without matplotlib."""
    fmt_name = format.lower().lstrip(".")
    if fmt_name not in FORMATS:
        raise ValueError(f"plot format must be one of {', '.join(FORMATS)}, got {format!r}")
    if not available():
        return None
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with matplotlib.rc_context({"svg.hashsalt": "gradcheck-kit", "svg.fonttype": "none"}):
        fig = Figure(figsize=(6.4, 4.0), dpi=dpi)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        _draw(ax, report)
        fig.tight_layout()
        buffer = io.BytesIO()
        metadata: dict[str, Any] = {"Date": None} if fmt_name == "svg" else {}
        fig.savefig(buffer, format=fmt_name, metadata=metadata)
    return buffer.getvalue()


def _draw(ax: Any, report: SweepReport) -> None:
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:purple"]
    deepest = max(report.depths) if report.depths else 1
    x_hi = float(deepest)
    safe = report.max_safe_depth
    if safe is not None and report.max_safe_depth_extrapolated and safe <= 2 * deepest:
        x_hi = float(safe) * 1.05
    for i, curve in enumerate(report.curves):
        color = colors[i % len(colors)]
        label = f"{curve.device}/{curve.dtype}" if len(report.curves) > 1 else "median"
        xs, ys = [], []
        for p in curve.points:
            seeds = [math.log10(r) for r in p.usable]
            ax.scatter([p.depth] * len(seeds), seeds, s=8, color=color, alpha=0.3, linewidths=0)
            if p.median is not None and p.median > 0:
                xs.append(p.depth)
                ys.append(math.log10(p.median))
        ax.plot(xs, ys, marker="o", markersize=3, color=color, label=label)
        fit = curve.fit
        if fit.gain is not None and fit.shape != "insufficient":
            lo = min(p.depth for p in curve.points)
            grid = [lo + (x_hi - lo) * k / 100 for k in range(101)]
            ax.plot(
                grid,
                [fit.log10_at(x) for x in grid],
                linestyle="--",
                color=color,
                alpha=0.8,
                label=(
                    f"{fit.shape} fit: gain {fit.gain:.3g}"
                    if fit.shape != "curved"
                    else f"best line (curve not log-linear), mean gain {fit.gain:.3g}"
                ),
            )
            theory = report.theory
            if i == 0 and theory is not None and theory.predicted > 0:
                slope = math.log(theory.predicted)
                at = fit.intercept + fit.slope * lo  # anchored at the first depth's fit
                ax.plot(
                    grid,
                    [(at + slope * (x - lo)) / math.log(10) for x in grid],
                    linestyle=":",
                    color="black",
                    linewidth=1,
                    label=f"mean-field prediction: gain {theory.predicted:.3g}",
                )
    lo_b, hi_b = math.log10(report.bounds.vanish), math.log10(report.bounds.explode)
    ax.axhline(lo_b, color="tab:red", linewidth=1, label="bounds")
    ax.axhline(hi_b, color="tab:red", linewidth=1)
    ax.axhline(0.0, color="grey", linewidth=0.6, linestyle=":")
    if safe is not None and safe <= x_hi:
        ax.axvline(safe, color="tab:red", linestyle=":", linewidth=1)
        ax.annotate(
            f"max safe depth {safe}",
            xy=(safe, lo_b if report.fit.slope < 0 else hi_b),
            xytext=(4, 6),
            textcoords="offset points",
            color="tab:red",
            fontsize=8,
        )
    ax.set_xlabel("depth")
    ax.set_ylabel("log10 flow ratio (first layer / last)")
    ax.set_title(f"depth sweep: {report.target}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
