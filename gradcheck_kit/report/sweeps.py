"""Depth-sweep results as plain data, and the fit that reads them (no torch import here).

:class:`SweepReport` is what :func:`gradcheck_kit.sweep` returns: per depth, the flow ratio of
every seed (the same ratio :func:`gradcheck_kit.check_gradients` judges: the gradient RMS at the
earliest layer over that at the latest layer's input); a weighted least-squares fit
``ln(ratio) = a + depth * ln(gain)``; the depth where that curve crosses the bound; and, for a
plain MLP, the mean-field prediction of the gain (:mod:`gradcheck_kit.theory`).

The fit
-------
* Points: every seed at every depth whose ratio is finite and > 0 (a ratio that underflowed to 0
  or is NaN/inf is kept in ``points`` but not fitted). Weights ``1/depth``: the log-ratio of a
  random net has a variance that grows linearly with depth (Hanin 2018), so deep points count
  less.
* ``gain = exp(slope)``: the multiplier of the gradient norm per unit of ``depth`` (per layer
  when ``factory(depth)`` adds one layer per unit), with a confidence interval from the slope's
  standard error and Student's t. A seed builds every depth from the same first weights, so its
  points are correlated; the seeds are the independent units: the standard error is
  cluster-robust with seeds as clusters (t with seeds - 1 degrees of freedom; with one seed,
  the classical one). Two seeds give an honest but wide interval.
* ``shape``: ``"curved"`` when a quadratic term is both significant (|t| >= :data:`CURVED_T`)
  and large (the two fits part by at least :data:`CURVED_DECADES` decades somewhere in the swept
  range) - a residual net whose gradient grows ever more slowly is *curved*, and its gain is an
  average, not a per-layer law. Otherwise ``"flat"`` or ``"log-linear"``, read from the slope's
  confidence interval ``slope_ci`` (the same interval as ``gain_ci``, in ln units) and the change
  over the swept range it implies, ``change_decades_ci = slope_ci * (deepest - shallowest) /
  ln 10``:

  - ``"flat"`` only when the interval contains 0 (no trend detected) **and** both of its bounds
    imply a change over the range within +-:data:`FLAT_DECADES` decades (a trend that large is
    ruled out at the interval's confidence). Both are needed: "contains 0" alone only says that
    the seeds are too few or too noisy to see a trend - a real decline of a decade measured on 2
    or 3 seeds (t = 12.7 or 4.3) easily has an interval reaching past 0 (issue 15) - and "small"
    alone, on a point estimate, calls any noisy curve flat. This is an equivalence test: flat is
    a claim the data must support, so too little data never produces it. It is a claim about the
    swept range only (a flat curve is never extrapolated). A fitted change of 0.25 decades (half
    the margin) or more over the range is never flat: an interval around it that reaches 0
    reaches at least 0.5 decades the other way.
  - ``"log-linear"`` otherwise: a straight line is the best description left, in one of two
    ways. The interval excludes 0 (``SweepFit.significant``): a trend, however small - a
    per-layer law, which ``max_safe_depth`` may extrapolate. Or it contains 0 but is too wide to
    call the curve flat: the note says the trend is *not significant* and how far the interval
    reaches (more seeds narrow it); the point estimate and interval are reported, but nothing is
    extrapolated from them. The price of an honest interval on few seeds: simulated flat
    sweeps (depths 2..32, 0.1 decades of scatter a point) come out flat 88% of the time on 3
    seeds and 95% on 5, the rest log-linear and not significant: the misses fall on the side
    of caution.
  - ``"insufficient"`` with fewer than 3 distinct depths to fit (or no finite interval).

  Why this interval: the flat test uses the fit's own interval (the one reported), weighted
  (1/depth) and cluster-robust with the seeds as clusters, rather than an ordinary least-squares
  interval from the pooled residual variance: that one would treat a seed's correlated points as
  independent and come out falsely narrow - the dangerous direction for a claim of flatness. The
  t quantile (:func:`_t_quantile`: exact for 1 and 2 degrees of freedom, a Cornish-Fisher
  expansion above) needs no scipy. The note states the interval in decades per unit of depth,
  e.g. ``flat over depths 2..32: fitted slope -0.0010 ± 0.0040 decades per unit of depth (95% CI
  includes 0), so the change over the range lies within -0.15 .. +0.09 decades, inside ±0.5``.
* ``max_safe_depth``: the largest depth at which the curve is still within ``bounds.vanish`` ..
  ``bounds.explode`` (the plain bounds: the fitted curve is a median, with no finite-width noise
  left to allow for). For a log-linear fit whose slope is significant (its interval excludes 0)
  it is where the fitted line crosses, and may lie beyond the swept range
  (``max_safe_depth_extrapolated``); for a curved or flat one, or a log-linear one whose slope is
  not significant (a line of either sign fits the data: nothing to extrapolate), only the
  measured medians count, interpolated between swept depths, never extrapolated. ``None``: no
  crossing found.
* ``passed``: no seed at any depth broke (NaN/inf, a dead layer, an exception), and the bound is
  not crossed within the swept range (``max_safe_depth`` is None or at least the deepest depth
  swept). The CLI exits 1 when it is False.

``SweepReport.to_dict()`` (a stable format) ::

    {
      "version": 1, "kind": "sweep",
      "target": str, "passed": bool, "seed": int,
      "depths": [int, ...], "seeds": int,
      "bounds": {"vanish", "explode", "noise_allowance", "parity_rtol"},
      "gain": float | null, "gain_ci": [low, high] | null, "confidence": 0.95,
      "max_safe_depth": int | null, "max_safe_depth_extrapolated": bool,
      "fit": SweepFit, "points": [SweepPoint, ...],        # of the first device/dtype
      "curves": [{"device", "dtype", "passed", "max_safe_depth",
                  "max_safe_depth_extrapolated", "crossed": "vanish"|"explode"|null,
                  "layers_per_depth": float | null, "fit": SweepFit, "points": [...]}],
      "theory": null | TheoryCheck,
      "problems": [str, ...], "notes": [str, ...], "elapsed_s": float
    }

``SweepPoint``: ``{"depth", "ratios": [float|"nan"|"inf"|null per seed], "kinds": [null |
"underflow" | "nonfinite" | "dead" | "error" per seed], "median", "low", "high",
"log10_median", "layers", "messages"}``. ``SweepFit``: ``{"shape", "gain", "gain_ci",
"intercept", "slope", "slope_se", "slope_ci", "change_decades", "change_decades_ci",
"significant", "flat_decades", "r2", "curvature_decades", "curvature_t", "n", "depth_range",
"note"}`` (``intercept``, ``slope``, ``slope_se`` and ``slope_ci`` in ln units per unit of
depth; ``slope_ci``: ``[low, high] | null`` at ``confidence``; ``change_decades``: the fitted
log10 change from the shallowest to the deepest depth fitted, ``change_decades_ci`` the same at
the bounds of ``slope_ci``, ``[low, high] | null``; ``significant``: ``slope_ci`` excludes 0,
``null`` without an interval; ``flat_decades``: the margin of the flat test). ``TheoryCheck``:
``{"activation", "weight_var", "bias_var", "q_star",
"predicted_gain", "layers_per_depth", "predicted", "measured", "rel_diff", "agrees",
"tolerance", "note"}``.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gradcheck_kit.report.gradients import Bounds, fmt, json_number

__all__ = [
    "CURVED_DECADES",
    "CURVED_T",
    "FLAT_DECADES",
    "SweepCurve",
    "SweepFit",
    "SweepPoint",
    "SweepReport",
    "TheoryCheck",
    "fit_curve",
    "safe_depth",
]

LN10 = math.log(10.0)
CURVED_T = 4.0  # |t| of the quadratic coefficient
CURVED_DECADES = 0.15  # and the quadratic and linear fits differ this much somewhere
FLAT_DECADES = 0.5  # flat: the slope's interval contains 0 and implies a change over the
# swept range within +-this many decades (see the module docstring)
BROKEN_KINDS = ("nonfinite", "dead", "error")
_ROUNDING = 1e-12  # a slope this small (ln per unit of depth) is 0 up to rounding


def _contains_zero(low: float, high: float) -> bool:
    """The slope interval [low, high] contains 0 (up to rounding: an exactly flat series fits a
    slope of +-1e-17 with a zero-width interval)."""
    return low <= _ROUNDING and high >= -_ROUNDING


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SweepPoint:
    """One depth: the flow ratio of each seed (None where the run raised)."""

    depth: int
    ratios: tuple[float | None, ...]
    kinds: tuple[str | None, ...] = ()  # per seed: None, "underflow", "nonfinite", "dead", "error"
    layers: int | None = None  # layers the probe saw at this depth (first seed)
    messages: tuple[str, ...] = ()  # distinct problems, for the report

    @property
    def finite(self) -> list[float]:
        return [r for r in self.ratios if r is not None and math.isfinite(r)]

    @property
    def usable(self) -> list[float]:
        """Ratios the fit can take a log of."""
        return [r for r in self.finite if r > 0]

    @property
    def median(self) -> float | None:
        values = self.finite
        return statistics.median(values) if values else None

    @property
    def low(self) -> float | None:
        return min(self.finite, default=None)

    @property
    def high(self) -> float | None:
        return max(self.finite, default=None)

    @property
    def log10_median(self) -> float | None:
        m = self.median
        if m is None:
            return None
        return math.log10(m) if m > 0 else -math.inf

    @property
    def broken(self) -> int:
        return sum(1 for k in self.kinds if k in BROKEN_KINDS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "depth": self.depth,
            "ratios": [json_number(r) for r in self.ratios],
            "kinds": list(self.kinds),
            "median": json_number(self.median),
            "low": json_number(self.low),
            "high": json_number(self.high),
            "log10_median": json_number(self.log10_median),
            "layers": self.layers,
            "messages": list(self.messages),
        }


@dataclass(frozen=True)
class SweepFit:
    """``ln(ratio) = intercept + slope * depth`` (see the module docstring)."""

    shape: str  # "log-linear" | "curved" | "flat" | "insufficient"
    intercept: float = math.nan
    slope: float = math.nan
    slope_se: float = math.nan
    r2: float = math.nan
    curvature_decades: float = 0.0
    curvature_t: float = 0.0
    n: int = 0
    depth_range: tuple[int, int] = (0, 0)
    confidence: float = 0.95
    t_value: float = math.nan
    note: str = ""

    @property
    def gain(self) -> float | None:
        return math.exp(self.slope) if math.isfinite(self.slope) else None

    @property
    def slope_ci(self) -> tuple[float, float] | None:
        """The slope's confidence interval at ``confidence`` (ln units per unit of depth)."""
        if not (math.isfinite(self.slope) and math.isfinite(self.slope_se)):
            return None
        half = self.t_value * self.slope_se
        if not math.isfinite(half):
            return None
        return self.slope - half, self.slope + half

    @property
    def significant(self) -> bool:
        """The slope's interval excludes 0: depth changes the ratio beyond the noise."""
        ci = self.slope_ci
        return ci is not None and not _contains_zero(*ci)

    @property
    def gain_ci(self) -> tuple[float, float] | None:
        ci = self.slope_ci
        return (math.exp(ci[0]), math.exp(ci[1])) if ci else None

    @property
    def change_decades(self) -> float | None:
        """The fitted log10 change from the shallowest to the deepest depth fitted."""
        if not math.isfinite(self.slope):
            return None
        return self.slope * (self.depth_range[1] - self.depth_range[0]) / LN10

    @property
    def change_decades_ci(self) -> tuple[float, float] | None:
        """``change_decades`` at the bounds of :attr:`slope_ci`."""
        ci = self.slope_ci
        if ci is None:
            return None
        span = (self.depth_range[1] - self.depth_range[0]) / LN10
        return ci[0] * span, ci[1] * span

    def predict(self, depth: float) -> float | None:
        """The fitted ratio at ``depth``."""
        if not math.isfinite(self.slope):
            return None
        return math.exp(self.intercept + self.slope * depth)

    def log10_at(self, depth: float) -> float | None:
        if not math.isfinite(self.slope):
            return None
        return (self.intercept + self.slope * depth) / LN10

    def to_dict(self) -> dict[str, Any]:
        ci = self.gain_ci
        slope_ci = self.slope_ci
        change_ci = self.change_decades_ci
        return {
            "shape": self.shape,
            "gain": json_number(self.gain),
            "gain_ci": [json_number(ci[0]), json_number(ci[1])] if ci else None,
            "intercept": json_number(self.intercept),
            "slope": json_number(self.slope),
            "slope_se": json_number(self.slope_se),
            "slope_ci": [json_number(slope_ci[0]), json_number(slope_ci[1])] if slope_ci else None,
            "change_decades": json_number(self.change_decades),
            "change_decades_ci": [json_number(change_ci[0]), json_number(change_ci[1])]
            if change_ci
            else None,
            "significant": self.significant if self.slope_ci is not None else None,
            "flat_decades": FLAT_DECADES,
            "r2": json_number(self.r2),
            "curvature_decades": json_number(self.curvature_decades),
            "curvature_t": json_number(self.curvature_t),
            "n": self.n,
            "depth_range": list(self.depth_range),
            "note": self.note,
        }


@dataclass(frozen=True)
class TheoryCheck:
    """The swept model read as a plain MLP, and what mean-field theory predicts for it."""

    activation: str
    weight_var: float  # s_w^2, estimated from the built model's square Linear layers
    bias_var: float  # s_b^2
    q_star: float
    predicted_gain: float  # per layer (one Linear + activation)
    layers_per_depth: float  # Linear layers added per unit of depth
    measured: float | None  # the fitted gain (per unit of depth)
    tolerance: float = 0.10
    note: str = ""

    @property
    def predicted(self) -> float:
        """Per unit of depth, comparable with ``measured``."""
        return float(self.predicted_gain**self.layers_per_depth)

    @property
    def rel_diff(self) -> float | None:
        if self.measured is None or self.predicted == 0:
            return None
        return abs(self.measured - self.predicted) / self.predicted

    @property
    def agrees(self) -> bool | None:
        rel = self.rel_diff
        return None if rel is None else rel <= self.tolerance

    def to_dict(self) -> dict[str, Any]:
        return {
            "activation": self.activation,
            "weight_var": self.weight_var,
            "bias_var": self.bias_var,
            "q_star": json_number(self.q_star),
            "predicted_gain": self.predicted_gain,
            "layers_per_depth": self.layers_per_depth,
            "predicted": self.predicted,
            "measured": json_number(self.measured),
            "rel_diff": json_number(self.rel_diff),
            "agrees": self.agrees,
            "tolerance": self.tolerance,
            "note": self.note,
        }


@dataclass(frozen=True)
class SweepCurve:
    """The sweep on one device and dtype."""

    device: str
    dtype: str
    points: tuple[SweepPoint, ...]
    fit: SweepFit
    max_safe_depth: int | None
    max_safe_depth_extrapolated: bool = False
    crossed: str | None = None  # which bound the curve crosses: "vanish" | "explode"
    layers_per_depth: float | None = None

    @property
    def broken(self) -> list[SweepPoint]:
        return [p for p in self.points if p.broken]

    @property
    def passed(self) -> bool:
        if self.broken:
            return False
        deepest = max((p.depth for p in self.points), default=0)
        return self.max_safe_depth is None or self.max_safe_depth >= deepest

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "dtype": self.dtype,
            "passed": self.passed,
            "max_safe_depth": self.max_safe_depth,
            "max_safe_depth_extrapolated": self.max_safe_depth_extrapolated,
            "crossed": self.crossed,
            "layers_per_depth": self.layers_per_depth,
            "fit": self.fit.to_dict(),
            "points": [p.to_dict() for p in self.points],
        }


@dataclass(frozen=True)
class SweepReport:
    """The result of one :func:`gradcheck_kit.sweep` run. The headline attributes (``gain``,
    ``gain_ci``, ``fit``, ``points``) describe the first device/dtype swept; ``max_safe_depth``
    is the smallest over all of them, ``passed`` needs all of them."""

    target: str
    curves: tuple[SweepCurve, ...]
    bounds: Bounds = field(default_factory=Bounds)
    depths: tuple[int, ...] = ()
    seeds: int = 0
    seed: int = 0
    theory: TheoryCheck | None = None
    problems: tuple[str, ...] = ()  # what failed the sweep besides its curves
    notes: tuple[str, ...] = ()  # for information only
    elapsed_s: float = 0.0

    @property
    def name(self) -> str:
        return self.target

    @property
    def primary(self) -> SweepCurve:
        return self.curves[0]

    @property
    def fit(self) -> SweepFit:
        return self.primary.fit

    @property
    def gain(self) -> float | None:
        """Fitted multiplier of the gradient norm per unit of depth (None: nothing to fit)."""
        return self.fit.gain

    @property
    def gain_ci(self) -> tuple[float, float] | None:
        return self.fit.gain_ci

    @property
    def gain_per_layer(self) -> float | None:
        """The gain per measured layer - ``check``'s "x0.57 per layer" - when a unit of depth
        adds a known number of layers: gain ** (1 / layers per unit of depth)."""
        per_depth = self.primary.layers_per_depth
        if self.gain is None or not per_depth or per_depth <= 0 or self.gain <= 0:
            return None
        return float(self.gain ** (1.0 / per_depth))

    def gain_words(self) -> str:
        """How the sweep's gain relates to the check's per-layer figure, for the reader."""
        per_layer = self.gain_per_layer
        per_depth = self.primary.layers_per_depth
        if per_layer is None or per_depth is None or abs(per_depth - 1.0) < 1e-9:
            return ""
        return (
            f" = x{per_layer:.3g} per layer over {per_depth:g} measured layers per unit of depth"
            " (the per-layer figure `check` prints)"
        )

    @property
    def points(self) -> tuple[SweepPoint, ...]:
        return self.primary.points

    @property
    def max_safe_depth(self) -> int | None:
        found = [c.max_safe_depth for c in self.curves if c.max_safe_depth is not None]
        return min(found) if found else None

    @property
    def max_safe_depth_extrapolated(self) -> bool:
        safe = self.max_safe_depth
        return any(c.max_safe_depth == safe and c.max_safe_depth_extrapolated for c in self.curves)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.curves) and not self.problems

    def to_dict(self) -> dict[str, Any]:
        ci = self.gain_ci
        return {
            "version": 1,
            "kind": "sweep",
            "target": self.target,
            "passed": self.passed,
            "seed": self.seed,
            "depths": list(self.depths),
            "seeds": self.seeds,
            "bounds": self.bounds.to_dict(),
            "gain": json_number(self.gain),
            "gain_ci": [json_number(ci[0]), json_number(ci[1])] if ci else None,
            "confidence": self.fit.confidence,
            "max_safe_depth": self.max_safe_depth,
            "max_safe_depth_extrapolated": self.max_safe_depth_extrapolated,
            "fit": self.fit.to_dict(),
            "points": [p.to_dict() for p in self.points],
            "curves": [c.to_dict() for c in self.curves],
            "theory": self.theory.to_dict() if self.theory else None,
            "problems": list(self.problems),
            "notes": list(self.notes),
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def summary(self) -> str:
        """Plain text, a few lines: the verdict, the gain, the safe depth, the theory."""
        return "\n".join(summary_lines(self))

    def __str__(self) -> str:
        return self.summary()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from gradcheck_kit.report.sweep_console import render_sweep_report

        yield render_sweep_report(self, width=options.max_width)

    def to_markdown(self, image: str | None = None) -> str:
        """Markdown (verdict, summary, per-depth table; no heading - the enclosing document
        gives one); ``image`` is a path or URL of the plot to embed (see :meth:`plot`)."""
        from gradcheck_kit.report.sweep_console import sweep_markdown

        return sweep_markdown(self, image=image)

    def plot(self, format: str = "svg") -> bytes | None:
        """The plot (log10 flow ratio against depth, fit and bounds) as SVG or PNG bytes, or
        None when matplotlib (the ``plot`` extra) is not installed."""
        from gradcheck_kit.report.sweep_plot import render_plot

        return render_plot(self, format=format)


# --------------------------------------------------------------------------- the fit


def _t_quantile(p: float, df: int) -> float:
    """Student's t quantile (two-sided level -> upper quantile p): exact for df 1 and 2, a
    Cornish-Fisher expansion above (error < 1e-3 for df >= 3)."""
    if df <= 0:
        return math.inf
    if df == 1:
        return math.tan(math.pi * (p - 0.5))
    if df == 2:
        a = 4 * p * (1 - p)
        return (2 * p - 1) * math.sqrt(2 / a)
    z = statistics.NormalDist().inv_cdf(p)
    v = float(df)
    return (
        z
        + (z**3 + z) / (4 * v)
        + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
        + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3)
        + (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / (92160 * v**4)
    )


def _plus_minus(value: float, half: float) -> str:
    """``value ± half``, both to the decimals that give ``half`` two significant digits."""
    if not (math.isfinite(half) and half > 0):
        return f"{value:.3g} ± 0"
    decimals = min(10, max(0, 1 - math.floor(math.log10(half))))
    if round(value, decimals) == 0:
        value = 0.0  # no "-0.000"
    return f"{value:.{decimals}f} ± {half:.{decimals}f}"


def _solve(matrix: list[list[float]], rhs: list[float]) -> list[float] | None:
    """Gaussian elimination with partial pivoting (tiny systems)."""
    n = len(rhs)
    a = [[*row, r] for row, r in zip(matrix, rhs, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        if abs(a[pivot][col]) < 1e-300:
            return None
        a[col], a[pivot] = a[pivot], a[col]
        for r in range(col + 1, n):
            f = a[r][col] / a[col][col]
            for c in range(col, n + 1):
                a[r][c] -= f * a[col][c]
    x = [0.0] * n
    for r in range(n - 1, -1, -1):
        x[r] = (a[r][n] - sum(a[r][c] * x[c] for c in range(r + 1, n))) / a[r][r]
    return x


def _inverse(matrix: list[list[float]]) -> list[list[float]] | None:
    n = len(matrix)
    cols = []
    for i in range(n):
        col = _solve(matrix, [1.0 if j == i else 0.0 for j in range(n)])
        if col is None:
            return None
        cols.append(col)
    return [[cols[j][i] for j in range(n)] for i in range(n)]


@dataclass
class _WLS:
    coef: list[float]
    cov: list[list[float]]  # classical: sigma^2 (X'WX)^-1
    inv: list[list[float]]  # (X'WX)^-1
    rss: float
    dof: int

    def residuals(self, xs: list[float], ys: list[float]) -> list[float]:
        return [
            y - sum(c * x**i for i, c in enumerate(self.coef)) for x, y in zip(xs, ys, strict=True)
        ]


def _wls(xs: list[float], ys: list[float], ws: list[float], degree: int) -> _WLS | None:
    """Weighted polynomial least squares; x is centred and scaled for conditioning by the
    caller."""
    k = degree + 1
    if len(xs) <= k:
        return None
    xtwx = [[0.0] * k for _ in range(k)]
    xtwy = [0.0] * k
    for x, y, w in zip(xs, ys, ws, strict=True):
        powers = [x**i for i in range(k)]
        for i in range(k):
            xtwy[i] += w * powers[i] * y
            for j in range(k):
                xtwx[i][j] += w * powers[i] * powers[j]
    inv = _inverse(xtwx)
    if inv is None:
        return None
    coef = [sum(inv[i][j] * xtwy[j] for j in range(k)) for i in range(k)]
    rss = math.fsum(
        w * (y - sum(c * x**i for i, c in enumerate(coef))) ** 2
        for x, y, w in zip(xs, ys, ws, strict=True)
    )
    dof = len(xs) - k
    sigma2 = rss / dof
    cov = [[sigma2 * inv[i][j] for j in range(k)] for i in range(k)]
    return _WLS(coef, cov, inv, rss, dof)


def fit_curve(points: Sequence[SweepPoint], confidence: float = 0.95) -> SweepFit:
    """Fit ``ln(ratio) = a + slope * depth`` to every usable seed (see the module docstring)."""
    data = [
        (p.depth, math.log(r), seed)
        for p in points
        for seed, r in enumerate(p.ratios)
        if r is not None and math.isfinite(r) and r > 0
    ]
    distinct = sorted({d for d, _, _ in data})
    if len(distinct) < 3:
        return SweepFit(
            "insufficient",
            n=len(data),
            depth_range=(distinct[0], distinct[-1]) if distinct else (0, 0),
            confidence=confidence,
            note=f"{len(distinct)} depth(s) with a measurable ratio: at least 3 are needed",
        )
    lo, hi = distinct[0], distinct[-1]
    centre, half = (lo + hi) / 2, max((hi - lo) / 2, 1e-9)
    xs = [(d - centre) / half for d, _, _ in data]
    ys = [y for _, y, _ in data]
    ws = [1.0 / max(d, 1) for d, _, _ in data]
    lin = _wls(xs, ys, ws, 1)
    if lin is None:
        return SweepFit("insufficient", n=len(data), depth_range=(lo, hi), confidence=confidence)
    slope = lin.coef[1] / half
    intercept = lin.coef[0] - lin.coef[1] * centre / half
    clusters = sorted({seed for _, _, seed in data})
    if len(clusters) >= 2:
        # Seed s builds every depth from the same weights, so one seed's points share their
        # early layers: its residuals are correlated. Seeds are the independent units -
        # cluster-robust (sandwich) variance with seeds as clusters, t with seeds - 1 dof.
        residuals = lin.residuals(xs, ys)
        meat = [[0.0, 0.0], [0.0, 0.0]]
        for cluster in clusters:
            u = [0.0, 0.0]
            for (_, _, seed), x, w, e in zip(data, xs, ws, residuals, strict=True):
                if seed == cluster:
                    u[0] += w * e
                    u[1] += w * e * x
            for i in range(2):
                for j in range(2):
                    meat[i][j] += u[i] * u[j]
        g = len(clusters)
        b = lin.inv
        var_slope = sum(b[1][i] * meat[i][j] * b[j][1] for i in range(2) for j in range(2))
        slope_se = math.sqrt(max(var_slope * g / (g - 1), 0.0)) / half
        t_value = _t_quantile(0.5 + confidence / 2, g - 1)
    else:
        slope_se = math.sqrt(max(lin.cov[1][1], 0.0)) / half
        t_value = _t_quantile(0.5 + confidence / 2, lin.dof)
    wmean = math.fsum(w * y for w, y in zip(ws, ys, strict=True)) / math.fsum(ws)
    tss = math.fsum(w * (y - wmean) ** 2 for w, y in zip(ws, ys, strict=True))
    r2 = 1 - lin.rss / tss if tss > 0 else 1.0

    curvature_decades, curvature_t = 0.0, 0.0
    quad = _wls(xs, ys, ws, 2) if len(distinct) >= 4 else None
    if quad is not None:
        c_se = math.sqrt(max(quad.cov[2][2], 0.0))
        curvature_t = quad.coef[2] / c_se if c_se > 0 else math.inf * (quad.coef[2] or 1)
        grid = [-1 + 2 * i / 50 for i in range(51)]
        gap = max(
            abs(
                sum(c * x**i for i, c in enumerate(quad.coef))
                - sum(c * x**i for i, c in enumerate(lin.coef))
            )
            for x in grid
        )
        curvature_decades = gap / LN10

    half_ci = t_value * slope_se
    if not math.isfinite(half_ci):
        return SweepFit(
            "insufficient",
            n=len(data),
            depth_range=(lo, hi),
            confidence=confidence,
            note=f"no finite confidence interval for the slope over depths {lo}..{hi}",
        )
    slope_lo, slope_hi = slope - half_ci, slope + half_ci
    span = (hi - lo) / LN10
    change, change_lo, change_hi = slope * span, slope_lo * span, slope_hi * span
    includes_zero = _contains_zero(slope_lo, slope_hi)
    slope_text = (
        f"fitted slope {_plus_minus(slope / LN10, half_ci / LN10)} decades per unit of depth "
        f"({confidence:.0%} CI {'includes' if includes_zero else 'excludes'} 0)"
    )
    reach = f"{change_lo:+.2f} .. {change_hi:+.2f} decades"
    if abs(curvature_t) >= CURVED_T and curvature_decades >= CURVED_DECADES:
        shape = "curved"
        bend = "flattening" if (quad.coef[2] if quad else 0) * (slope or 1) < 0 else "steepening"
        note = (
            f"not log-linear: the log-ratio bends ({bend}; a quadratic departs from the line by "
            f"{curvature_decades:.2f} decades, t = {curvature_t:.1f}) - the gain is an average "
            "over the range, not a per-layer law; no extrapolation"
        )
    elif includes_zero and max(abs(change_lo), abs(change_hi)) <= FLAT_DECADES:
        shape = "flat"
        note = (
            f"flat over depths {lo}..{hi}: {slope_text}, so the change over the range lies "
            f"within {reach}, inside ±{FLAT_DECADES:g}"
        )
    elif includes_zero:
        shape = "log-linear"
        note = (
            f"log-linear over depths {lo}..{hi} ({change:+.2f} decades), not significant: "
            f"{slope_text}, but the change over the range may be anywhere in {reach}, beyond "
            f"±{FLAT_DECADES:g}: not flat (more seeds narrow the interval); "
            f"weighted R^2 = {r2:.3f}"
        )
    else:
        shape = "log-linear"
        note = (
            f"log-linear over depths {lo}..{hi} ({change:+.2f} decades): {slope_text}; "
            f"weighted R^2 = {r2:.3f}"
        )
    return SweepFit(
        shape,
        intercept=intercept,
        slope=slope,
        slope_se=slope_se,
        r2=r2,
        curvature_decades=curvature_decades,
        curvature_t=curvature_t,
        n=len(data),
        depth_range=(lo, hi),
        confidence=confidence,
        t_value=t_value,
        note=note,
    )


def _interpolated_crossing(
    points: Sequence[SweepPoint], bounds: Bounds
) -> tuple[int | None, str | None]:
    """The last depth whose median is within bounds before the first one that is not (log
    interpolation between swept depths); (None, None) when no median crosses."""
    lo_b, hi_b = math.log10(bounds.vanish), math.log10(bounds.explode)
    ordered = sorted((p for p in points if p.log10_median is not None), key=lambda p: p.depth)
    previous: SweepPoint | None = None
    for p in ordered:
        value = p.log10_median
        assert value is not None
        crossed = "vanish" if value < lo_b else ("explode" if value > hi_b else None)
        if crossed is not None:
            if previous is None or previous.log10_median is None:
                return max(p.depth - 1, 0), crossed
            limit = lo_b if crossed == "vanish" else hi_b
            prev = previous.log10_median
            if math.isfinite(value) and value != prev:
                frac = (limit - prev) / (value - prev)
                return math.floor(previous.depth + frac * (p.depth - previous.depth)), crossed
            return previous.depth, crossed
        previous = p
    return None, None


def safe_depth(
    fit: SweepFit, points: Sequence[SweepPoint], bounds: Bounds
) -> tuple[int | None, bool, str | None]:
    """(max safe depth, extrapolated?, crossed bound) - see the module docstring."""
    if fit.shape != "log-linear" or not fit.significant:
        depth, crossed = _interpolated_crossing(points, bounds)
        return depth, False, crossed
    limit = bounds.vanish if fit.slope < 0 else bounds.explode
    crossed = "vanish" if fit.slope < 0 else "explode"
    at = (math.log(limit) - fit.intercept) / fit.slope
    deepest = max(p.depth for p in points)
    if at < 0:  # already outside the bounds at depth 0
        return 0, False, crossed
    if at > 1e9:
        return None, False, None
    depth = math.floor(at)
    return depth, depth > deepest, crossed


def summary_lines(report: SweepReport) -> list[str]:
    verdict = "passed" if report.passed else "FAILED"
    fit = report.fit
    lines = [f"depth sweep {verdict} for {report.target}: {fit.note}"]
    ci = report.gain_ci
    if report.gain is not None:
        ci_text = f" ({fit.confidence:.0%} CI {ci[0]:.4g} .. {ci[1]:.4g})" if ci else ""
        lines.append(f"  gain per unit of depth: {report.gain:.4g}{ci_text}{report.gain_words()}")
    safe = report.max_safe_depth
    if safe is None:
        lines.append(
            f"  max safe depth: no crossing of the bounds "
            f"({fmt(report.bounds.vanish)} .. {fmt(report.bounds.explode)})"
        )
    else:
        extra = (
            " (extrapolated beyond the swept range)" if report.max_safe_depth_extrapolated else ""
        )
        lines.append(f"  max safe depth: {safe}{extra}")
    if report.theory is not None:
        t = report.theory
        rel = t.rel_diff
        lines.append(
            f"  mean-field prediction ({t.activation}, s_w^2 = {t.weight_var:.3g}, "
            f"s_b^2 = {t.bias_var:.3g}): {t.predicted:.4g}"
            + (
                f", measured {t.measured:.4g} ({rel:.1%} apart)"
                if rel is not None and t.measured
                else ""
            )
        )
    for curve in report.curves:
        for p in curve.broken:
            lines.append(f"  {curve.device}/{curve.dtype} depth {p.depth}: {'; '.join(p.messages)}")
    lines += [f"  {problem}" for problem in report.problems]
    lines += [f"  note: {note}" for note in report.notes]
    return lines
