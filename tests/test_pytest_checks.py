"""``--gradcheck-checks``: each [[tool.gradcheck-kit.check]] table runs as a pytest item, as
``--gradcheck-lint`` does for lint (issue 22, item 10), run for real with pytester."""

from __future__ import annotations

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

pytest_plugins = ["pytester"]

MODELS = """
from torch import nn


def relu(depth):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(16, 16), nn.ReLU()]
    nn.init.kaiming_normal_(layers[0].weight)
    return nn.Sequential(*layers)


def sigmoid(depth):
    layers = []
    for _ in range(depth):
        layers += [nn.Linear(16, 16), nn.Sigmoid()]
    return nn.Sequential(*layers)
"""

EXTRA = """
import not_installed_pkg_xyz  # an optional package of this model, not installed here


def model(depth):
    return not_installed_pkg_xyz.Model(depth)
"""

PYPROJECT = """
[tool.gradcheck-kit]

[[tool.gradcheck-kit.check]]
target = "models.py:relu"
depths = [2, 3]
input-shape = [4, 16]
max-examples = 3
seed = 0

[[tool.gradcheck-kit.check]]
target = "models.py:sigmoid"
depths = [2, 16]
input-shape = [4, 16]
max-examples = 4
seed = 0

[[tool.gradcheck-kit.check]]
target = "extra.py:model"
input-shape = [4, 16]
"""


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS, extra=EXTRA)
    pytester.makefile(".toml", pyproject=PYPROJECT)
    return pytester


def test_each_table_is_an_item(project: pytest.Pytester) -> None:
    result = project.runpytest_subprocess("--gradcheck-checks", "-p", "no:cacheprovider", "-rA")
    result.assert_outcomes(passed=1, failed=1, skipped=1)
    result.stdout.re_match_lines(
        [
            r"PASSED pyproject.toml::check\[models.py:relu\]",
            r"FAILED pyproject.toml::check\[models.py:sigmoid\] - vanishes from depth \d+",
        ],
        consecutive=False,
    )
    assert "needs 'not_installed_pkg_xyz'" in result.stdout.str()


def test_items_can_be_selected_and_are_off_by_default(project: pytest.Pytester) -> None:
    selected = project.runpytest_subprocess(
        "--gradcheck-checks", "-p", "no:cacheprovider", "-k", "relu"
    )
    selected.assert_outcomes(passed=1, deselected=2)
    off = project.runpytest_subprocess("-p", "no:cacheprovider")
    assert off.ret == pytest.ExitCode.NO_TESTS_COLLECTED
