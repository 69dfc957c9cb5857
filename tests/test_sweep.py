"""gradcheck_kit.sweep and SweepReport: the fit on synthetic curves, real sweeps of the runtime
test models, broken models, renderings (rich chart, Markdown, the optional matplotlib plot)."""

from __future__ import annotations

import io
import json
import math
import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

import runtime_models as models  # noqa: E402
from rich.console import Console  # noqa: E402

from gradcheck_kit import Bounds, SweepReport, sweep  # noqa: E402
from gradcheck_kit.report import sweep_plot  # noqa: E402
from gradcheck_kit.report.sweeps import SweepPoint, _t_quantile, fit_curve, safe_depth  # noqa: E402
from gradcheck_kit.strategies import float_inputs  # noqa: E402

FAST = {"input_shape": (8, models.IN), "seed": 0}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# --------------------------------------------------------------------------- the fit


def _points(fn, depths, seeds=3, noise=0.0, rng_seed=0):
    rng = random.Random(rng_seed)
    return [
        SweepPoint(
            d, tuple(math.exp(fn(d) + rng.gauss(0, noise * math.sqrt(d))) for _ in range(seeds))
        )
        for d in depths
    ]


def test_exact_line_gives_the_gain():
    points = _points(lambda d: 0.3 + d * math.log(0.5), range(2, 21, 2))
    fit = fit_curve(points)
    assert fit.shape == "log-linear"
    assert fit.gain == pytest.approx(0.5, rel=1e-9)
    assert fit.intercept == pytest.approx(0.3, abs=1e-9)
    assert fit.r2 == pytest.approx(1.0)
    low, high = fit.gain_ci
    assert low == pytest.approx(0.5, rel=1e-6) and high == pytest.approx(0.5, rel=1e-6)


def test_noisy_line_ci_covers_the_truth():
    covered = 0
    for trial in range(20):
        fit = fit_curve(_points(lambda d: d * math.log(0.8), range(2, 33, 2), 5, 0.05, trial))
        low, high = fit.gain_ci
        covered += low <= 0.8 <= high
    assert covered >= 16  # 95% nominal


def test_sqrt_growth_is_curved_not_forced():
    fit = fit_curve(_points(lambda d: 1.5 * math.sqrt(d), range(2, 65, 2), 3, 0.01))
    assert fit.shape == "curved"
    assert "not log-linear" in fit.note


def test_noise_around_one_is_flat():
    fit = fit_curve(_points(lambda d: 0.0, range(2, 65, 2), 5, 0.02))
    assert fit.shape == "flat"


def test_too_few_depths():
    fit = fit_curve(_points(lambda d: -d, [4, 8]))
    assert fit.shape == "insufficient" and fit.gain is None
    assert "at least 3" in fit.note


def test_unusable_ratios_are_not_fitted():
    points = _points(lambda d: d * math.log(0.5), range(2, 13, 2))
    points.append(SweepPoint(14, (0.0, math.nan, None), ("underflow", "nonfinite", "error")))
    fit = fit_curve(points)
    assert fit.gain == pytest.approx(0.5)
    assert fit.n == 18


def test_safe_depth_of_a_line():
    bounds = Bounds(vanish=1e-3)
    points = _points(lambda d: d * math.log(0.5), range(2, 21, 2))
    depth, extrapolated, crossed = safe_depth(fit_curve(points), points, bounds)
    assert depth == math.floor(math.log(1e-3) / math.log(0.5)) == 9
    assert not extrapolated and crossed == "vanish"
    # beyond the range: extrapolated; growth crosses the explode bound
    points = _points(lambda d: d * math.log(1.1), range(2, 21, 2))
    depth, extrapolated, crossed = safe_depth(fit_curve(points), points, bounds)
    assert depth == math.floor(math.log(1e3) / math.log(1.1)) and extrapolated
    assert crossed == "explode"


def test_safe_depth_of_a_curve_uses_the_medians_only():
    bounds = Bounds(explode=10.0)
    points = _points(lambda d: 1.5 * math.sqrt(d), range(2, 65, 2))
    fit = fit_curve(points)
    assert fit.shape == "curved"
    depth, extrapolated, crossed = safe_depth(fit, points, bounds)
    # 1.5 sqrt(d) = ln 10 at d = 2.36: the median at 2 is inside, at 4 outside
    assert depth in (2, 3) and not extrapolated and crossed == "explode"
    assert safe_depth(fit, points, Bounds(explode=1e6))[0] is None


@pytest.mark.parametrize(("df", "expected"), [(1, 12.706), (2, 4.303), (5, 2.571), (30, 2.042)])
def test_t_quantile(df, expected):
    assert _t_quantile(0.975, df) == pytest.approx(expected, abs=2e-3)


# --------------------------------------------------------------------------- real sweeps


def test_sweep_of_a_vanishing_net():
    report = sweep(models.tanh_mlp, range(2, 17, 2), 3, **FAST)
    assert isinstance(report, SweepReport)
    assert report.fit.shape == "log-linear"
    assert 0.45 < report.gain < 0.7
    low, high = report.gain_ci
    assert low < report.gain < high
    assert [p.depth for p in report.points] == list(range(2, 17, 2))
    assert all(len(p.ratios) == 3 for p in report.points)
    assert report.points[0].layers == 3  # depth 2: two hidden Linear + the head
    # ratio 1e-3 at 0.56^d: between depths 11 and 13
    assert report.max_safe_depth is not None and 9 <= report.max_safe_depth <= 14
    assert not report.passed
    assert report.theory is not None and report.theory.activation == "Tanh"
    assert report.primary.layers_per_depth == pytest.approx(1.0)


def test_max_safe_depth_agrees_with_check_gradients():
    from gradcheck_kit import check_gradients

    report = sweep(models.sigmoid_mlp, range(2, 11), 3, **FAST)
    safe = report.max_safe_depth
    assert safe is not None and safe < 10
    bounds = Bounds(noise_allowance=0.0)
    ok = check_gradients(
        models.sigmoid_mlp,
        depths=(max(safe - 1, 1), max(safe - 1, 1)),
        max_examples=3,
        input_shape=(8, models.IN),
        seed=1,
        raise_on_failure=False,
        bounds=bounds,
    )
    bad = check_gradients(
        models.sigmoid_mlp,
        depths=(safe + 2, safe + 2),
        max_examples=3,
        input_shape=(8, models.IN),
        seed=1,
        raise_on_failure=False,
        bounds=bounds,
    )
    assert ok.passed and not bad.passed


def test_residual_net_is_reported_as_curved():
    report = sweep(models.residual_tanh, range(2, 65, 4), 3, **FAST)
    assert report.fit.shape == "curved"
    assert report.passed and report.max_safe_depth is None
    assert report.theory is None  # not a plain MLP: no prediction


def test_healthy_he_relu_is_flat_and_passes():
    report = sweep(models.he_relu, range(2, 33, 6), 3, **FAST)
    assert report.passed
    assert report.fit.shape in ("flat", "log-linear")
    assert 0.9 < report.gain < 1.1


def test_broken_points_fail_the_sweep():
    report = sweep(models.LogOfNegatives, [2, 3, 4], 2, **FAST)
    assert not report.passed
    assert all(k == "nonfinite" for p in report.points for k in p.kinds)
    assert report.fit.shape == "insufficient"
    assert "NaN" in report.summary() or "nan" in report.summary().lower()


def test_factory_errors_are_points_not_crashes():
    def flaky(depth):
        if depth == 6:
            raise RuntimeError("no depth 6 today")
        return models.he_relu(depth)

    report = sweep(flaky, [2, 4, 6, 8], 2, **FAST)
    bad = report.points[2]
    assert bad.kinds == ("error", "error") and bad.ratios == (None, None)
    assert "no depth 6 today" in bad.messages[0]
    assert not report.passed


def test_underflow_is_marked_and_skipped_by_the_fit():
    report = sweep(models.sigmoid_mlp, [6, 12, 18, 60], 2, **FAST)
    deep = report.points[-1]
    assert set(deep.kinds) == {"underflow"} and deep.median == 0.0
    assert deep.log10_median == -math.inf
    assert report.fit.gain == pytest.approx(0.14, rel=0.15)  # from the three finite depths


def test_several_dtypes_give_several_curves():
    report = sweep(models.tanh_mlp, [2, 4, 6], 2, dtypes="float32,float64", **FAST)
    assert [(c.device, c.dtype) for c in report.curves] == [
        ("cpu", "float32"),
        ("cpu", "float64"),
    ]
    assert report.curves[0].fit.gain == pytest.approx(report.curves[1].fit.gain, rel=1e-3)
    assert report.max_safe_depth == min(
        c.max_safe_depth for c in report.curves if c.max_safe_depth is not None
    )


def test_inputs_strategy_and_token_models():
    report = sweep(models.he_relu, [2, 4, 6], 2, inputs=float_inputs((4, models.IN)), seed=1)
    assert all(p.usable for p in report.points)
    tokens = sweep(models.token_model, [1, 2, 3], 2, seed=0)  # input inferred: token ids
    assert all(p.usable for p in tokens.points)


def test_seeded_sweeps_replay_exactly_and_leave_torch_alone():
    state = torch.get_rng_state()
    a = sweep(models.tanh_mlp, [2, 4, 6], 2, **FAST).to_dict()
    b = sweep(models.tanh_mlp, [2, 4, 6], 2, **FAST).to_dict()
    assert torch.equal(state, torch.get_rng_state())
    a.pop("elapsed_s"), b.pop("elapsed_s")
    assert a == b


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"depths": []}, "positive"),
        ({"depths": [0, 2]}, "positive"),
        ({"depths": "abc"}, "iterable of ints"),
        ({"seeds": 0}, "seeds"),
        ({"confidence": 1.5}, "confidence"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sweep(models.he_relu, **{"input_shape": (4, models.IN), **kwargs})


def test_unavailable_device_skips_under_pytest():
    if torch.cuda.is_available():
        pytest.skip("a CUDA device is here")
    with pytest.raises(pytest.skip.Exception):
        sweep(models.he_relu, [2], 1, devices="cuda", **FAST)


# --------------------------------------------------------------------------- output


@pytest.fixture(scope="module")
def report():
    torch.set_num_threads(1)
    return sweep(models.tanh_mlp, range(2, 21, 2), 3, **FAST)


def test_to_dict_is_json(report):
    data = json.loads(json.dumps(report.to_dict(), allow_nan=False))
    assert data["kind"] == "sweep" and data["version"] == 1
    assert data["gain"] == pytest.approx(report.gain)
    assert data["gain_ci"] == pytest.approx(list(report.gain_ci))
    assert data["max_safe_depth"] == report.max_safe_depth
    assert data["fit"]["shape"] == "log-linear"
    assert len(data["points"]) == 10 and len(data["points"][0]["ratios"]) == 3
    assert data["curves"][0]["dtype"] == "float32"
    assert data["theory"]["activation"] == "Tanh"
    assert data["theory"]["agrees"] is True


def test_rich_rendering_draws_the_chart_and_the_bounds(report):
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(report)
    out = console.file.getvalue()
    assert "FAILED" in out and "depth sweep" in out
    assert "vanish" in out and "explode" in out  # the bounds, labelled
    assert "●" in out and "·" in out
    assert "max safe depth" in out
    assert "mean-field" in out
    # every row of the chart has the same width
    rows = [line for line in out.splitlines() if "┤" in line or line.startswith("        │")]
    assert len(rows) >= 10


def test_summary_is_plain_text(report):
    text = str(report)
    assert text.startswith("depth sweep FAILED")
    assert "gain per unit of depth" in text and "max safe depth" in text


def test_markdown(report):
    md = report.to_markdown(image="sweep.svg")
    assert md.startswith("<code>runtime_models:tanh_mlp</code>: **failed**")
    assert "![flow ratio against depth](sweep.svg)" in md
    assert "| depth (cpu/float32) |" in md
    assert md.count("\n| ") >= 12
    assert "![" not in report.to_markdown()


def test_plot_without_matplotlib_is_none(report, monkeypatch):
    monkeypatch.setattr(sweep_plot, "available", lambda: False)
    assert report.plot("svg") is None
    assert report.plot("png") is None


def test_plot_rejects_unknown_formats(report):
    with pytest.raises(ValueError, match="svg, png"):
        report.plot("gif")


def test_plot_with_matplotlib(report):
    pytest.importorskip("matplotlib")
    svg = report.plot("svg")
    assert svg is not None and b"<svg" in svg
    assert svg == report.plot("svg")  # deterministic
    png = report.plot("png")
    assert png is not None and png.startswith(b"\x89PNG")


def test_gain_per_unit_of_depth_is_related_to_the_per_layer_figure():
    """Two Linear+tanh pairs per unit of depth: the sweep's gain is the square of the per-layer
    figure that ``check`` prints, and the summary says so."""
    from torch import nn

    def make(depth):
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh()]
        return nn.Sequential(*layers)

    report = sweep(make, depths=range(2, 7, 2), seeds=1, input_shape=(8, 16))
    assert report.primary.layers_per_depth == 2.0
    assert report.gain_per_layer == pytest.approx(report.gain**0.5)
    assert f"x{report.gain_per_layer:.3g} per layer over 2 measured layers" in str(report)
