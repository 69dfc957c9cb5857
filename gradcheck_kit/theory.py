"""Mean-field prediction of the per-layer gradient gain of a plain MLP (no torch needed).

For a fully connected net of width n with activation phi, weights drawn with variance
``weight_var / n`` (= s_w^2 / n) and biases with variance ``bias_var`` (= s_b^2), the
pre-activations of a wide net are Gaussian with a variance q that follows the forward map

    q_{l+1} = s_w^2 * E[phi(h)^2] + s_b^2,    h ~ N(0, q_l)

to a fixed point q*. There, one layer multiplies the squared norm of the backward signal by

    chi = s_w^2 * E[phi'(h)^2],               h ~ N(0, q*)

(Poole et al. 2016, "Exponential expressivity in deep neural networks through transient chaos";
Schoenholz et al. 2017, "Deep information propagation"). :func:`predicted_gain` returns
``sqrt(chi)``, the multiplier of the gradient *norm* that :func:`gradcheck_kit.sweep` measures.

Expectations are computed numerically: composite Simpson on a fixed grid of the standard normal
(z in [-8, 8], step 0.01; the grid puts z = 0 on a panel boundary, so the kink of ReLU-like
activations costs no accuracy), in pure Python. A callable activation is evaluated on the grid
(Python floats, or a float64 torch tensor if it only takes tensors) and differentiated by
central differences.

Common initialisations as ``weight_var`` (square layers, fan_in = fan_out = n):

========================================  =========  =================================
init                                       s_w^2      ``weight_var_for(...)`` name
========================================  =========  =================================
PyTorch ``nn.Linear`` default (U(+-1/sqrt n))  1/3    ``"default"`` (biases: var 1/(3n))
Xavier/Glorot (uniform or normal)          1          ``"xavier"``
He/Kaiming for ReLU (fan_in)               2          ``"he"``
========================================  =========  =================================

Every ``torch.nn.init`` function is in :data:`gradcheck_kit.catalog.INIT_WEIGHT_VAR`;
:func:`layer_gain` reads it.

The measured quantity (one definition for both halves)
------------------------------------------------------

The runtime checker's **flow ratio** is RMS(gradient at the output of the earliest affine layer)
/ RMS(gradient at the input of the head) (:mod:`gradcheck_kit.runtime.verdict`). For a chain of
``n`` saturating layers ``Linear -> phi`` followed by a head, that path crosses ``n``
activation derivatives and ``n - 1`` weight matrices (the first layer's weights lie before it,
the head's after it): ``n - 1`` full hops of ``gain`` plus one bare derivative,
``sqrt(E[phi'(h)^2]) = gain / s_w``. So the linter predicts

    flow ratio(n) = gain^(n - 1) * gain / s_w = gain^n / sqrt(weight_var)

(:func:`predicted_flow_ratio`), and a chain crosses the runtime's vanish bound (1e-3) at the
smallest ``n`` where this falls below it (:func:`crossing_depth`). Measured with
``run_example`` on ``nn.Sequential`` MLPs (width 64, 3 seeds, depth 2..12): the fitted
per-layer gain is within 3% of :func:`predicted_gain` wherever it is below ~0.6 (tanh at
PyTorch's default init 0.557 measured vs 0.573 predicted, sigmoid 0.138 vs 0.141, softsign
0.493 vs 0.512, sigmoid with Xavier 0.231 vs 0.236) and the fitted offset matches ``1 / s_w``;
near criticality (Xavier tanh) finite depth keeps the gain a little below the fixed point's 1.

**An output activation with no head after it** does not count: the ratio ends at the input of
the latest layer that owns parameters, here the chain's own last ``Linear``, so the last
activation's derivative lies after the end. ``n`` saturating layers with nothing after them
are ``n - 1`` hops: ``flow ratio = gain^(n - 1) / s_w`` (``head=False``). Measured with
``run_example`` (width 64, median of 3 seeds): sigmoid at PyTorch's default init, depth 4 and 8,
with a ``Linear`` head 5.5e-4 and 3.0e-7 (predicted 6.9e-4, 2.8e-7), ending with the sigmoid
4.8e-3 and 1.8e-6 (predicted with ``n - 1`` hops 4.9e-3, 2.0e-6). The same holds for GCK006's
stacks of affine layers: the hops are the stack's depth when a layer with parameters follows its
last member, one fewer when the stack ends the model.
"""

from __future__ import annotations

import functools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ACTIVATIONS",
    "EXPLODE_BOUND",
    "VANISH_BOUND",
    "LayerGain",
    "MeanField",
    "bias_var_for",
    "crossing_depth",
    "gaussian_expectation",
    "layer_gain",
    "mean_field",
    "predicted_flow_ratio",
    "predicted_gain",
    "weight_var_for",
]

Scalar = Callable[[float], float]
Vector = Callable[[Sequence[float]], list[float]]

Z_MAX = 8.0  # P(|z| > 8) ~ 1e-15: beyond double precision of the result
STEPS = 1600  # Simpson intervals on [-Z_MAX, Z_MAX] (even; z = 0 is a panel boundary)
Q_FLOOR = 1e-8  # q below this is evaluated here: the limit q -> 0 of ReLU-like derivatives
ZERO_SIDE = 1e-3  # the one-sided limits at z = 0 are taken at z = +-1e-3 (see _expect_sq)
Q_DIVERGED = 1e12  # the forward variance grows without bound (unbounded activation, chi > 1)


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _dsigmoid(x: float) -> float:
    s = _sigmoid(x)
    return s * (1.0 - s)


def _softplus(x: float) -> float:
    return x + math.log1p(math.exp(-x)) if x > 0 else math.log1p(math.exp(x))


_SQRT2 = math.sqrt(2.0)
_SQRT2PI = math.sqrt(2.0 * math.pi)


def _gelu(x: float) -> float:
    return 0.5 * x * (1.0 + math.erf(x / _SQRT2))


def _dgelu(x: float) -> float:
    cdf = 0.5 * (1.0 + math.erf(x / _SQRT2))
    return cdf + x * math.exp(-0.5 * x * x) / _SQRT2PI


def _silu(x: float) -> float:
    return x * _sigmoid(x)


def _dsilu(x: float) -> float:
    s = _sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805

#: name -> (phi, phi'), in the conventions of torch.nn (ReLU'(0) = 0, LeakyReLU slope 0.01).
ACTIVATIONS: dict[str, tuple[Scalar, Scalar]] = {
    "identity": (lambda x: x, lambda x: 1.0),
    "tanh": (math.tanh, lambda x: 1.0 - math.tanh(x) ** 2),
    "sigmoid": (_sigmoid, _dsigmoid),
    "relu": (lambda x: x if x > 0 else 0.0, lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "elu": (lambda x: x if x > 0 else math.expm1(x), lambda x: 1.0 if x > 0 else math.exp(x)),
    "selu": (
        lambda x: _SELU_SCALE * (x if x > 0 else _SELU_ALPHA * math.expm1(x)),
        lambda x: _SELU_SCALE * (1.0 if x > 0 else _SELU_ALPHA * math.exp(x)),
    ),
    "gelu": (_gelu, _dgelu),
    "silu": (_silu, _dsilu),
    "softplus": (_softplus, _sigmoid),
    "softsign": (lambda x: x / (1.0 + abs(x)), lambda x: 1.0 / (1.0 + abs(x)) ** 2),
    "hardtanh": (lambda x: max(-1.0, min(1.0, x)), lambda x: 1.0 if -1.0 < x < 1.0 else 0.0),
    "hardsigmoid": (
        lambda x: max(0.0, min(1.0, x / 6.0 + 0.5)),
        lambda x: 1.0 / 6.0 if -3.0 < x < 3.0 else 0.0,
    ),
    "erf": (math.erf, lambda x: 2.0 / math.sqrt(math.pi) * math.exp(-x * x)),
    "logsigmoid": (lambda x: -_softplus(-x), lambda x: _sigmoid(-x)),
}

_ALIASES = {
    "linear": "identity",
    "none": "identity",
    "logistic": "sigmoid",
    "expit": "sigmoid",
    "swish": "silu",
    "leakyrelu": "leaky_relu",
    "relu6": "relu",  # identical below 6: the clip is never reached by unit-scale signals
}

# torch module classes whose parameterless form matches the table (nn.LeakyReLU with another
# slope, nn.ELU with another alpha ... go through the numerical path instead)
_EXACT_CLASSES = {"Tanh", "Sigmoid", "ReLU", "Identity", "Softsign", "SiLU", "SELU", "Hardtanh"}


def _normalize(name: str) -> str:
    key = name.strip().lower()
    for prefix in ("torch.nn.functional.", "torch.nn.", "torch.special.", "torch.", "nn.", "f."):
        if key.startswith(prefix):
            key = key[len(prefix) :]
            break
    key = key.rstrip("_").replace("-", "_")
    return _ALIASES.get(key, _ALIASES.get(key.replace("_", ""), key))


def _exact(activation: Any) -> tuple[str, Scalar, Scalar] | None:
    """The closed form for a name, a torch function (``torch.tanh``) or a parameterless torch
    activation module (``nn.Tanh``, ``nn.Tanh()``)."""
    if isinstance(activation, str):
        key = _normalize(activation)
        if key not in ACTIVATIONS:
            known = ", ".join(sorted(ACTIVATIONS))
            raise ValueError(
                f"unknown activation {activation!r} (known: {known}); or pass a callable"
            )
        return (key, *ACTIVATIONS[key])
    cls = activation if isinstance(activation, type) else type(activation)
    if cls.__name__ in _EXACT_CLASSES and cls.__module__.startswith("torch.nn"):
        limits = (getattr(activation, "min_val", -1.0), getattr(activation, "max_val", 1.0))
        if limits != (-1.0, 1.0):  # nn.Hardtanh(-2, 2): the numerical path
            return None
        key = _normalize(cls.__name__)
        return (key, *ACTIVATIONS[key])
    name = getattr(activation, "__name__", None)
    module = getattr(activation, "__module__", None) or ""
    if isinstance(name, str) and (module.startswith("torch") or module == "math"):
        key = _normalize(name)
        if key in ACTIVATIONS:
            return (key, *ACTIVATIONS[key])
    return None


def _vectorized(fn: Callable[..., Any]) -> Vector:
    """``fn`` applied to a list of floats: element by element when it takes floats, else once
    on a float64 torch tensor (torch functions, ``nn`` modules)."""
    try:
        probe = fn(0.5)
        float(probe)
        takes_floats = not hasattr(probe, "shape")
    except Exception:
        takes_floats = False
    if takes_floats:
        return lambda xs: [float(fn(x)) for x in xs]

    def on_tensor(xs: Sequence[float]) -> list[float]:
        import torch

        with torch.no_grad():
            out = fn(torch.tensor(list(xs), dtype=torch.float64))
        return [float(v) for v in out.reshape(-1).tolist()]

    return on_tensor


@dataclass(frozen=True)
class _Activation:
    name: str
    phi: Vector
    dphi: Callable[[Sequence[float], float], list[float]]  # (points, scale) -> phi'(points)


def _resolve(activation: Any, derivative: Callable[..., Any] | None) -> _Activation:
    exact = _exact(activation)
    if exact is not None and derivative is None:
        name, phi, dphi = exact
        return _Activation(name, lambda xs: list(map(phi, xs)), lambda xs, _s: list(map(dphi, xs)))
    if not callable(activation):
        raise TypeError(f"activation must be a name or a callable, got {activation!r}")
    fn = activation() if isinstance(activation, type) else activation
    name = getattr(fn, "__name__", None) or type(fn).__name__
    phi_v = _vectorized(fn)
    if derivative is not None:
        d_v = _vectorized(derivative)
        return _Activation(str(name), phi_v, lambda xs, _s: d_v(xs))

    def central(xs: Sequence[float], scale: float) -> list[float]:
        # step relative to the spread of h, so tiny q keeps a meaningful difference
        eps = 1e-5 * scale  # well inside ZERO_SIDE * scale
        up = phi_v([x + eps for x in xs])
        down = phi_v([x - eps for x in xs])
        return [(u - d) / (2 * eps) for u, d in zip(up, down, strict=True)]

    return _Activation(str(name), phi_v, central)


_GRID: tuple[list[float], list[float]] | None = None


def _grid() -> tuple[list[float], list[float]]:
    """Standard-normal nodes and Simpson weights (normalised to sum to 1)."""
    global _GRID
    if _GRID is None:
        h = 2 * Z_MAX / STEPS
        nodes = [-Z_MAX + i * h for i in range(STEPS + 1)]
        simpson = [1.0 if i in (0, STEPS) else (4.0 if i % 2 else 2.0) for i in range(STEPS + 1)]
        weights = [s * math.exp(-0.5 * z * z) for s, z in zip(simpson, nodes, strict=True)]
        total = math.fsum(weights)
        _GRID = nodes, [w / total for w in weights]
    return _GRID


def gaussian_expectation(fn: Callable[[float], float], variance: float = 1.0) -> float:
    """``E[fn(h)]`` for ``h ~ N(0, variance)``, by composite Simpson on the standard normal."""
    if variance < 0:
        raise ValueError(f"variance must be >= 0, got {variance}")
    nodes, weights = _grid()
    sd = math.sqrt(variance)
    return math.fsum(w * fn(sd * z) for z, w in zip(nodes, weights, strict=True))


def _points(sd: float) -> list[float]:
    """The grid scaled to N(0, sd^2), plus two points just either side of 0 (see _expect_sq)."""
    nodes, _ = _grid()
    return [sd * z for z in nodes] + [ZERO_SIDE * sd, -ZERO_SIDE * sd]


def _expect_sq(values: list[float]) -> float:
    """E[f^2] from f on :func:`_points`. The node z = 0 is where halves meet, so it takes the
    mean of the one-sided limits of f^2: exact for the jump of ReLU'(h) at 0."""
    _, weights = _grid()
    squares = [v * v for v in values]
    right, left = squares.pop(-2), squares.pop(-1)
    squares[STEPS // 2] = 0.5 * (right + left)
    return math.fsum(map(operator.mul, weights, squares))


@dataclass(frozen=True)
class MeanField:
    """The mean-field picture of one activation and initialisation.

    ``q_star`` is the fixed point of the forward variance (``inf`` when it grows without bound,
    ``chi`` then being its limit for large q); ``chi`` the squared per-layer gradient gain;
    ``gain = sqrt(chi)``; ``depth_scale`` the number of layers over which the gradient norm falls
    (or grows) by a factor e, ``1 / |ln gain|`` (``inf`` at criticality, chi = 1).
    """

    activation: str
    weight_var: float
    bias_var: float
    q_star: float
    chi: float
    gain: float
    depth_scale: float
    iterations: int

    def to_dict(self) -> dict[str, Any]:
        def num(v: float) -> float | str:
            return v if math.isfinite(v) else "inf"

        return {
            "activation": self.activation,
            "weight_var": self.weight_var,
            "bias_var": self.bias_var,
            "q_star": num(self.q_star),
            "chi": self.chi,
            "gain": self.gain,
            "depth_scale": num(self.depth_scale),
        }


def mean_field(
    activation: Any,
    weight_var: float,
    bias_var: float = 0.0,
    *,
    derivative: Callable[..., Any] | None = None,
    q0: float | None = None,
) -> MeanField:
    """The fixed point q* of the forward variance map and chi at q* (see the module docstring).

    ``q0`` is where the forward iteration starts: by default ``weight_var + bias_var``, the
    first pre-activation variance for unit-variance inputs; it only matters when the map has
    more than one stable fixed point. ``derivative`` overrides the numerical derivative of a
    callable ``activation``.
    """
    if isinstance(activation, str) and derivative is None:
        return _named_mean_field(_normalize(activation), float(weight_var), float(bias_var), q0)
    return _mean_field(activation, weight_var, bias_var, derivative, q0)


@functools.lru_cache(maxsize=256)
def _named_mean_field(name: str, weight_var: float, bias_var: float, q0: float | None) -> MeanField:
    """Named activations are cached: the linter asks for the same few again and again."""
    return _mean_field(name, weight_var, bias_var, None, q0)


def _mean_field(
    activation: Any,
    weight_var: float,
    bias_var: float,
    derivative: Callable[..., Any] | None,
    q0: float | None,
) -> MeanField:
    if weight_var <= 0 or bias_var < 0:
        raise ValueError(
            f"need weight_var > 0 and bias_var >= 0, got weight_var={weight_var}, "
            f"bias_var={bias_var}"
        )
    act = _resolve(activation, derivative)

    def forward(q: float) -> float:
        sd = math.sqrt(max(q, Q_FLOOR))
        return weight_var * _expect_sq(act.phi(_points(sd))) + bias_var

    q = weight_var + bias_var if q0 is None else float(q0)
    iterations = 0
    diverged = False
    converged = False
    for iterations in range(1, 201):  # noqa: B007 - reported
        new = forward(q)
        if not math.isfinite(new) or new > Q_DIVERGED:
            diverged = True
            break
        if abs(new - q) <= 1e-12 + 1e-8 * q:
            q, converged = new, True
            break
        q = new
    if not diverged and not converged:
        q, diverged = _bisect_fixed_point(forward, q)
    if diverged:
        q_eval, q_star = Q_DIVERGED, math.inf
    else:
        q_eval, q_star = max(q, Q_FLOOR), q
    sd = math.sqrt(q_eval)
    chi = weight_var * _expect_sq(act.dphi(_points(sd), sd))
    gain = math.sqrt(chi)
    if gain == 0.0:
        depth_scale = 0.0
    elif abs(math.log(gain)) < 1e-9:
        depth_scale = math.inf
    else:
        depth_scale = 1.0 / abs(math.log(gain))
    return MeanField(act.name, weight_var, bias_var, q_star, chi, gain, depth_scale, iterations)


def _bisect_fixed_point(forward: Callable[[float], float], q: float) -> tuple[float, bool]:
    """The iterates of the forward map are monotone; near a marginal fixed point (q* = 0 at
    criticality) they creep. Find the fixed point they head for by bisection on F(q) - q."""
    step = forward(q)
    if step < q:  # heading down: a root in [0, q] (F(0) = s_b^2 + s_w^2 phi(0)^2 >= 0)
        lo, hi = 0.0, q
    else:  # heading up: bracket from above
        lo, hi = q, 2 * q + 1.0
        while forward(hi) > hi:
            if hi > Q_DIVERGED:
                return hi, True
            lo, hi = hi, 2 * hi
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if forward(mid) > mid:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-14 + 1e-12 * hi:
            break
    return 0.5 * (lo + hi), False


def predicted_gain(
    activation: Any,
    weight_var: float,
    bias_var: float = 0.0,
    *,
    derivative: Callable[..., Any] | None = None,
) -> float:
    """Predicted per-layer multiplier of the gradient norm, ``sqrt(s_w^2 E[phi'(h)^2])`` at the
    forward fixed point (see the module docstring).

    ``activation``: a name (``"tanh"``, ``"sigmoid"``, ``"relu"``, ``"gelu"`` ..., see
    :data:`ACTIVATIONS`) or a callable (a Python function of a float, a torch function or an
    ``nn`` activation module). ``weight_var`` is s_w^2 (weights of variance s_w^2 / fan_in:
    PyTorch's default ``nn.Linear`` init is 1/3, Xavier 1, He 2); ``bias_var`` is the variance of
    the biases themselves (PyTorch's default: 1 / (3 fan_in); 0 when they are zeroed).

    >>> round(predicted_gain("relu", 2.0), 3)
    1.0
    >>> round(predicted_gain("tanh", 1 / 3, 1 / (3 * 512)), 3)
    0.577
    """
    if isinstance(activation, str) and derivative is None:
        return _named_gain(activation, weight_var, bias_var)
    return mean_field(activation, weight_var, bias_var, derivative=derivative).gain


@functools.lru_cache(maxsize=1024)
def _named_gain(activation: str, weight_var: float, bias_var: float) -> float:
    """The quadrature costs ~1 ms; the linter asks for the same few (activation, init) pairs
    for every layer of every model in a file."""
    return mean_field(activation, weight_var, bias_var).gain


def weight_var_for(init: str, activation: str = "relu") -> float:
    """s_w^2 of a named initialisation for square layers: ``"default"`` (PyTorch's
    ``nn.Linear``: 1/3), ``"xavier"``/``"glorot"`` (1), ``"he"``/``"kaiming"`` (the fan_in gain
    of ``activation`` squared: 2 for ReLU, 1 for tanh's 5/3 ... see ``nn.init.calculate_gain``),
    ``"lecun"`` (1)."""
    key = init.strip().lower()
    if key in ("default", "pytorch", "torch"):
        return 1.0 / 3.0
    if key in ("xavier", "glorot", "lecun"):
        return 1.0
    if key in ("he", "kaiming"):
        gains = {"relu": 2.0, "leaky_relu": 2.0 / (1 + 0.01**2), "tanh": 25.0 / 9.0, "selu": 0.75}
        return gains.get(_normalize(activation), 1.0)
    raise ValueError(f"unknown init {init!r}: use default, xavier, he or lecun")


def bias_var_for(init: str, fan_in: int) -> float:
    """Bias variance of a named initialisation: PyTorch's default draws U(+-1/sqrt(fan_in)),
    variance 1 / (3 fan_in); the others usually zero the biases."""
    key = init.strip().lower()
    if key in ("default", "pytorch", "torch"):
        return 1.0 / (3.0 * fan_in)
    return 0.0


#: The runtime checker's default bounds on the flow ratio (``gradcheck_kit.Bounds``): the
#: linter's predicted mode uses the same numbers (config ``vanish-bound``/``explode-bound``).
VANISH_BOUND = 1e-3
EXPLODE_BOUND = 1e3


@dataclass(frozen=True)
class LayerGain:
    """The predicted per-layer gradient gain of ``activation`` after a layer with this init."""

    activation: str
    weight_var: float
    bias_var: float
    gain: float

    def flow_ratio(self, depth: int, *, head: bool = True) -> float:
        return predicted_flow_ratio(self.gain, self.weight_var, depth, head=head)

    def crossing(
        self, bound: float = VANISH_BOUND, limit: int = 10_000, *, head: bool = True
    ) -> int | None:
        return crossing_depth(self.gain, self.weight_var, bound, limit, head=head)


def layer_gain(
    activation: str,
    init: str = "default",
    *,
    fan_in: int | None = None,
    fan_out: int | None = None,
    bias: bool = True,
    bias_var: float | None = None,
    **params: object,
) -> LayerGain:
    """The per-layer gradient gain (``sqrt(chi)`` at the fixed point, :func:`predicted_gain`) of
    ``activation`` after an affine layer initialised with ``init``: ``"default"`` (PyTorch's
    nn.Linear/nn.ConvNd), or a ``torch.nn.init`` function name (``"xavier_normal_"``,
    ``"kaiming_uniform_"``, ``"normal_"``, ``"uniform_"``, ``"orthogonal_"``,
    ``"trunc_normal_"``...) with its keyword ``params`` (``gain=5/3``, ``std=0.02``,
    ``nonlinearity="relu"``...). ``fan_in`` is needed by the absolute-scale inits (``normal_``,
    ``uniform_``); ``fan_out`` by Xavier/Kaiming fan_out on non-square layers (else square).
    Biases: PyTorch's default (variance 1/(3 fan_in)) with the default init, zero with an
    explicit one (``bias_var`` overrides; ``bias=False``: none).

    >>> round(layer_gain("tanh", fan_in=64).gain, 2)
    0.57
    >>> round(layer_gain("tanh", "xavier_normal_", gain=5 / 3).gain, 2)
    1.1
    """
    from gradcheck_kit import catalog

    key = init.strip()
    if key in ("default", "pytorch", "torch"):
        weight_var = catalog.DEFAULT_WEIGHT_VAR
        default_bias = 1.0 / (3.0 * fan_in) if fan_in else 0.0
    else:
        found = catalog.init_weight_var(key, dict(params), fan_in, fan_out)
        if found is None:
            raise ValueError(f"cannot compute the weight variance of {init!r} with {params}")
        weight_var, default_bias = found, 0.0
    if bias_var is None:
        bias_var = default_bias
    if not bias:
        bias_var = 0.0
    name = _normalize(activation)
    return LayerGain(name, weight_var, bias_var, predicted_gain(name, weight_var, bias_var))


def predicted_flow_ratio(gain: float, weight_var: float, depth: int, *, head: bool = True) -> float:
    """The runtime's flow ratio predicted for ``depth`` saturating layers of per-layer ``gain``
    followed by a head: ``gain^depth / sqrt(weight_var)``; with nothing after the last
    activation (``head=False``) its derivative is past the ratio's end: ``depth - 1`` hops (see
    the module docstring)."""
    depth = depth if head else depth - 1
    if depth <= 0:
        return 1.0
    if gain <= 0.0:
        return 0.0
    log = depth * math.log(gain) - 0.5 * math.log(weight_var)
    return math.exp(max(min(log, 700.0), -700.0))


def crossing_depth(
    gain: float,
    weight_var: float,
    bound: float = VANISH_BOUND,
    limit: int = 10_000,
    *,
    head: bool = True,
) -> int | None:
    """The smallest depth whose predicted flow ratio is below ``bound`` (< 1) or above it
    (> 1); None when no depth up to ``limit`` crosses it. ``head=False``: the chain ends the
    model (one hop fewer, :func:`predicted_flow_ratio`), so it crosses one layer later."""
    if not head:
        hops = crossing_depth(gain, weight_var, bound, limit)
        return None if hops is None or hops + 1 > limit else hops + 1
    if gain <= 0.0:
        return 1
    if (bound < 1 and gain >= 1.0) or (bound > 1 and gain <= 1.0):
        return None
    # gain^n / s_w crosses bound at n = (log bound + log s_w) / log gain
    exact = (math.log(bound) + 0.5 * math.log(weight_var)) / math.log(gain)
    if exact > limit:
        return None
    depth = max(1, math.floor(exact) + 1 if exact == math.floor(exact) else math.ceil(exact))
    while depth > 1 and _beyond(predicted_flow_ratio(gain, weight_var, depth - 1), bound):
        depth -= 1
    while not _beyond(predicted_flow_ratio(gain, weight_var, depth), bound):
        depth += 1
    return depth if depth <= limit else None


def _beyond(ratio: float, bound: float) -> bool:
    return ratio < bound if bound < 1 else ratio > bound
