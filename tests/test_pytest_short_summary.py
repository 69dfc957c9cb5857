"""pytest's short summary (``-ra``) of a failed gradient check names the verdict, not a cut-off
exception class name - in a plain run and under pytest-xdist."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

pytest_plugins = ["pytester"]

TESTS = """
import torch.nn as nn


def sigmoid_stack(depth):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    return nn.Sequential(*layers)


def test_sigmoid(gradcheck):
    gradcheck(sigmoid_stack, depths=(2, 16), input_shape=(4, 16), max_examples=5, seed=0)


def test_raises(gradcheck):
    def broken(depth):
        raise ValueError("no such layer")

    gradcheck(broken, depths=(2, 4), input_shape=(4, 16), max_examples=2, seed=0)
"""


@pytest.mark.parametrize("xdist", [False, True])
def test_short_summary_says_the_verdict(pytester: pytest.Pytester, xdist: bool) -> None:
    if xdist:
        pytest.importorskip("xdist")
    pytester.makepyfile(test_models=TESTS)
    args = ["-ra", "-p", "no:cacheprovider", *(["-n", "2"] if xdist else [])]
    result = pytester.runpytest_subprocess(*args)
    result.assert_outcomes(failed=2)
    result.stdout.re_match_lines(
        [r"FAILED test_models.py::test_sigmoid - vanishes from depth \d+ \(flow ratio \S+\)"],
        consecutive=False,
    )
    result.stdout.re_match_lines(
        [r"FAILED test_models.py::test_raises - error at .*: .*no such layer"], consecutive=False
    )
    assert "GradientFlowE..." not in result.stdout.str()
