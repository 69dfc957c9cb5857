"""gradcheck_kit.theory: the numerical Gaussian expectation, the mean-field fixed point, and the
predicted gain against closed forms (no model is run here; see test_sweep_theory.py for that)."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from gradcheck_kit import theory
from gradcheck_kit.theory import gaussian_expectation, mean_field, predicted_gain

N = 512
DEFAULT_BIAS = 1 / (3 * N)


@pytest.mark.parametrize("variance", [0.01, 1.0, 7.5])
def test_gaussian_moments(variance):
    assert gaussian_expectation(lambda h: 1.0, variance) == pytest.approx(1.0, abs=1e-12)
    assert gaussian_expectation(lambda h: h * h, variance) == pytest.approx(variance, rel=1e-9)
    assert gaussian_expectation(lambda h: h**4, variance) == pytest.approx(
        3 * variance**2, rel=1e-9
    )
    # a kink at 0 costs nothing: E[relu(h)] = sqrt(var / (2 pi))
    assert gaussian_expectation(lambda h: max(h, 0.0), variance) == pytest.approx(
        math.sqrt(variance / (2 * math.pi)), rel=1e-6
    )


@pytest.mark.parametrize(
    ("activation", "weight_var", "bias_var", "expected"),
    [
        ("relu", 2.0, 0.0, 1.0),  # He
        ("relu", 1.0, 0.0, math.sqrt(0.5)),  # Xavier
        ("relu", 1 / 3, DEFAULT_BIAS, math.sqrt(1 / 6)),  # PyTorch default
        ("identity", 4.0, 0.0, 2.0),
        ("linear", 0.25, 0.3, 0.5),
        ("leaky_relu", 2.0, 0.0, math.sqrt(1 + 0.01**2)),
        ("tanh", 1.0, 0.0, 1.0),  # critical: q* = 0, tanh'(0) = 1
        ("gelu", 2.0, 0.0, math.sqrt(0.5)),  # q* = 0, gelu'(0) = 1/2
    ],
)
def test_closed_forms(activation, weight_var, bias_var, expected):
    assert predicted_gain(activation, weight_var, bias_var) == pytest.approx(expected, rel=2e-3)


@pytest.mark.parametrize(
    ("activation", "weight_var", "bias_var", "expected"),
    [  # the planning measurements of issue 3 (predicted column)
        ("tanh", 1 / 3, DEFAULT_BIAS, 0.576),
        ("sigmoid", 1 / 3, DEFAULT_BIAS, 0.141),
        ("sigmoid", 1.0, 0.0, 0.236),
        ("relu", 1 / 3, DEFAULT_BIAS, 0.408),
        ("relu", 1.0, 0.0, 0.707),
        ("relu", 2.0, 0.0, 1.000),
        ("tanh", 4.0, 0.0, 1.167),
    ],
)
def test_issue_reference_values(activation, weight_var, bias_var, expected):
    assert predicted_gain(activation, weight_var, bias_var) == pytest.approx(expected, abs=1.5e-3)


def test_fixed_point_is_a_fixed_point():
    field = mean_field("tanh", 4.0, 0.05)
    q = field.q_star
    again = 4.0 * gaussian_expectation(lambda h: math.tanh(h) ** 2, q) + 0.05
    assert again == pytest.approx(q, rel=1e-6)
    assert field.chi == pytest.approx(
        4.0 * gaussian_expectation(lambda h: (1 - math.tanh(h) ** 2) ** 2, q), rel=1e-6
    )
    assert field.gain == pytest.approx(math.sqrt(field.chi))
    assert field.depth_scale == pytest.approx(1 / math.log(field.gain))


def test_unbounded_growth_is_reported_and_chi_still_finite():
    field = mean_field("relu", 2.5, 0.0)
    assert field.q_star == math.inf
    assert field.gain == pytest.approx(math.sqrt(1.25), rel=1e-6)
    assert field.to_dict()["q_star"] == "inf"


@pytest.mark.parametrize(
    "name", ["tanh", "Tanh", "nn.Tanh", "torch.tanh", "torch.nn.functional.tanh", "tanh_"]
)
def test_names_are_normalised(name):
    assert predicted_gain(name, 4.0) == pytest.approx(predicted_gain("tanh", 4.0))


def test_aliases():
    assert predicted_gain("logistic", 1.0) == pytest.approx(predicted_gain("sigmoid", 1.0))
    assert predicted_gain("swish", 2.0) == pytest.approx(predicted_gain("silu", 2.0))
    assert predicted_gain("LeakyReLU", 2.0) == pytest.approx(predicted_gain("leaky_relu", 2.0))


def test_unknown_name_says_what_is_known():
    with pytest.raises(ValueError, match=r"known: .*relu"):
        predicted_gain("swishy", 1.0)


@pytest.mark.parametrize(("weight_var", "bias_var"), [(0.0, 0.0), (-1.0, 0.0), (1.0, -0.1)])
def test_bad_variances(weight_var, bias_var):
    with pytest.raises(ValueError):
        predicted_gain("tanh", weight_var, bias_var)


def test_python_callable_matches_the_closed_form():
    assert predicted_gain(lambda x: math.tanh(x), 4.0) == pytest.approx(
        predicted_gain("tanh", 4.0), rel=1e-6
    )
    assert predicted_gain(lambda x: max(x, 0.0), 1.0) == pytest.approx(math.sqrt(0.5), rel=1e-6)
    # an explicit derivative is used as given
    assert predicted_gain(lambda x: 0.5 * x, 1.0, derivative=lambda x: 0.5) == pytest.approx(0.5)


def test_torch_callables():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    ref = predicted_gain("tanh", 4.0)
    for act in (torch.tanh, nn.Tanh, nn.Tanh(), nn.functional.tanh):
        assert predicted_gain(act, 4.0) == pytest.approx(ref, rel=1e-6)
    # parameterised modules go through the numerical path on a float64 tensor
    assert predicted_gain(nn.LeakyReLU(0.2), 2.0) == pytest.approx(math.sqrt(1.04), rel=1e-5)
    assert predicted_gain(nn.Hardtanh(-2.0, 2.0), 1.0, 0.1) > predicted_gain("hardtanh", 1.0, 0.1)
    assert predicted_gain(nn.GELU(), 2.0) == pytest.approx(predicted_gain("gelu", 2.0), rel=1e-4)


def test_named_inits():
    assert theory.weight_var_for("default") == pytest.approx(1 / 3)
    assert theory.weight_var_for("xavier") == 1.0
    assert theory.weight_var_for("he", "relu") == 2.0
    assert theory.bias_var_for("default", 512) == pytest.approx(1 / 1536)
    assert theory.bias_var_for("he", 512) == 0.0
    with pytest.raises(ValueError, match="unknown init"):
        theory.weight_var_for("orthogonal")


def test_linter_typical_gains_agree_with_theory():
    """GCK001's message quotes a typical per-layer gain at PyTorch's default init: the same
    numbers the theory gives."""
    from gradcheck_kit.lint.rules import TYPICAL_GAIN

    for name, gain in TYPICAL_GAIN.items():
        assert predicted_gain(name, 1 / 3, DEFAULT_BIAS) == pytest.approx(gain, rel=0.01)


def test_importing_theory_does_not_import_torch():
    code = (
        "import sys, gradcheck_kit; g = gradcheck_kit.predicted_gain('tanh', 1.0); "
        "import gradcheck_kit.theory; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
