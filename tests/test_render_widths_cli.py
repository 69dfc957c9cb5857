"""Every command's terminal output piped (a real subprocess, stdout a pipe, as in a CI log) at
COLUMNS 60, 80 and 120: no line wider than that, no ellipsis, every number in full (with its
exponent) and every name whole or folded, never cut (issue 22 item 4). The numbers are read from
the same command's JSON output: real models, real runs, nothing mocked.

Renderings in-process at these widths: tests/test_render_widths.py."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from test_render_widths import folded_in

from gradcheck_kit.lint.docs import rule_page
from gradcheck_kit.report.gradients import fmt

ROOT = Path(__file__).resolve().parents[1]
#: 80 in the default run; 60 and 120 (a subprocess each, most importing torch) under ``-m slow``,
#: which CI runs for this file (``.ci/run``). In-process renderings cover all three by default.
WIDTHS = (
    pytest.param(60, marks=pytest.mark.slow),
    80,
    pytest.param(120, marks=pytest.mark.slow),
)

FACTORY = "make_deep_sigmoid_network_with_a_long_factory_name"
MODEL = "DeepSigmoidNetworkWithAVeryLongDescriptiveClassName"
TARGET = f"models_with_long_names.py:{FACTORY}"

MODELS = f"""
import torch.nn as nn


class {MODEL}(nn.Module):
    def __init__(self, depth=6):
        super().__init__()
        self.sequential_body_of_saturating_layers = nn.Sequential(
            *[m for _ in range(depth) for m in (nn.Linear(16, 16), nn.Sigmoid())]
        )

    def forward(self, x):
        return self.sequential_body_of_saturating_layers(x)


def {FACTORY}(depth):
    return {MODEL}(depth)


def make_relu(depth):
    return nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
"""

PYPROJECT = f"""
[tool.gradcheck-kit]

[[tool.gradcheck-kit.check]]
target = "{TARGET}"
depths = "2:8"
max-examples = 3
seed = 0
input-shape = "4,16"

[[tool.gradcheck-kit.check]]
target = "models_with_long_names.py:make_relu"
depths = "2:3"
max-examples = 2
seed = 0
input-shape = "4,16"
"""

TESTS = f"""
import pytest
from models_with_long_names import {FACTORY}


@pytest.mark.parametrize("configuration", ["sigmoid-sixteen-wide-float32-on-the-cpu"])
def test_a_deep_sigmoid_network_with_a_long_name_vanishes_quickly(gradcheck, configuration):
    gradcheck({FACTORY}, depths=(2, 8), input_shape=(4, 16), max_examples=3)
"""


def run(cwd: Path, columns: int | None, *args: str, module: str = "gradcheck_kit") -> str:
    """Run ``python -m module args`` with stdout a pipe; its stdout."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "FORCE_COLOR")}
    env.update(PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", NO_COLOR="1", TERM="dumb")
    if columns is not None:
        env["COLUMNS"] = str(columns)
    proc = subprocess.run(
        [sys.executable, "-m", module, *args],
        cwd=cwd,
        env=env,
        capture_output=True,  # stdout a pipe, as in a CI log
        text=True,
        timeout=600,
    )
    assert proc.returncode in (0, 1), proc.stderr[-3000:]
    return proc.stdout


def check_lines(text: str, width: int) -> None:
    assert text.strip()
    long = [line for line in text.splitlines() if len(line) > width]
    assert not long, long[:3]
    assert "…" not in text  # nothing cut


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("widths")
    (root / "models_with_long_names.py").write_text(MODELS)
    (root / "pyproject.toml").write_text(textwrap.dedent(PYPROJECT))
    return root


@pytest.fixture(scope="module")
def checks(project: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(run(project, None, "check", "--format", "json"))
    assert [c["status"] for c in data] == ["failed", "passed"]
    return data


def profile(report: dict[str, Any]) -> list[dict[str, Any]]:
    failure = report.get("failure")
    layers: list[dict[str, Any]] = (failure or {}).get("layers") or report["layers"]
    return layers


def assert_report(report: dict[str, Any], text: str) -> None:
    """A check's report in ``text``: its target, ratio and every layer's name and numbers."""
    assert folded_in(report["target"], text), report["target"]
    failure = report.get("failure")
    ratio = failure["ratio"] if failure else report["ratio"]
    assert fmt(ratio) in text
    for layer in profile(report):
        assert folded_in(layer["name"], text), layer["name"]
        assert fmt(layer["grad_rms"]) in text
        assert fmt(layer["param_grad_rms"]) in text


@pytest.mark.parametrize("width", WIDTHS)
def test_check(project: Path, checks: list[dict[str, Any]], width: int) -> None:
    text = run(project, width, "check")
    check_lines(text, width)
    for report in checks:
        assert_report(report, text)
    assert "vanishing" in text
    assert "2 checks: 1 passed, 1 failed, 0 errors" in text


@pytest.fixture(scope="module")
def audit(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run(project, None, "audit", "--format", "json", "."))
    return data


@pytest.mark.parametrize("width", WIDTHS)
def test_audit(
    project: Path, checks: list[dict[str, Any]], audit: dict[str, Any], width: int
) -> None:
    text = run(project, width, "audit", ".")
    check_lines(text, width)
    assert folded_in(MODEL, text)
    data = audit
    for check in data["checks"]:
        assert folded_in(check["target"], text)
        assert check["verdict"] in text.replace("\n", " ") or check["verdict"] in text
        report = check["report"]
        value = report["failure"]["ratio"] if report["failure"] else report["ratio"]
        assert f"{value:.2e}" in text
    assert_report(checks[0], text)  # the failing check's profile
    (finding,) = data["lint"]["findings"]
    assert folded_in(f"{finding['path']}:{finding['line']}:{finding['column']}:", text)


SWEEP = ("sweep", TARGET, "--depths", "2:6:2", "--seeds", "2", "--input-shape", "4,16")


@pytest.fixture(scope="module")
def swept(project: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(run(project, None, *SWEEP, "--format", "json"))
    return data


@pytest.mark.parametrize("width", WIDTHS)
def test_sweep(project: Path, swept: dict[str, Any], width: int) -> None:
    text = run(project, width, *SWEEP)
    check_lines(text, width)
    data = swept
    assert folded_in(TARGET, text)
    for point in data["points"]:
        for key in ("median", "low", "high"):
            assert fmt(point[key]) in text
    assert "min..max of 2 seeds" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_lint_full_and_concise(project: Path, width: int) -> None:
    text = run(project, width, "lint", "models_with_long_names.py")
    check_lines(text, width)
    findings = json.loads(run(project, None, "lint", "--format", "json", "."))["findings"]
    assert findings
    for f in findings:
        assert folded_in(f["path"], text) and f["code"] in text and f["name"] in text
        for word in f["message"].split():  # the message wraps at spaces, whole
            assert word in text
        assert folded_in(f["symbol"], text)
    # the flagged line, long as it is, is wrapped, not cut
    flagged = MODELS.strip("\n").splitlines()[findings[0]["line"] - 2]
    for word in flagged.split():
        assert folded_in(word, text), word
    concise = run(project, width, "lint", "--format", "concise", ".")
    for f in findings:  # one line per finding, never wrapped or cut (editors parse it)
        assert f"{f['path']}:{f['line']}:{f['column']}: {f['code']} {f['message']}" in concise
    assert "Found 1 finding." in concise


@pytest.mark.parametrize("width", WIDTHS)
def test_rule_page(project: Path, width: int) -> None:
    text = run(project, width, "rule", "GCK001")
    check_lines(text, width)
    page = rule_page("GCK001")
    assert page is not None
    cells = [
        cell.strip().strip("`")
        for line in page.splitlines()
        if line.startswith("|") and not set(line) <= set("|-: ")
        for cell in line.strip("|").split("|")
    ]
    assert cells
    for cell in cells:
        for word in cell.split():
            assert folded_in(word.strip("`"), text), word


@pytest.mark.parametrize("width", WIDTHS)
def test_pytest_gradient_flow_summary(project: Path, tmp_path: Path, width: int) -> None:
    tests = tmp_path  # outside the project: the rootdir, so test ids start at the file
    (tests / "test_long_names.py").write_text(TESTS)
    (tests / "conftest.py").write_text(f"import sys\nsys.path.insert(0, {str(project)!r})\n")
    text = run(
        tests,
        width,
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "--gradcheck-seed=0",
        module="pytest",
    )
    summary = text[text.index("gradient flow") :]
    summary = (
        summary[: summary.index("short test summary")]
        if "short test summary" in summary
        else summary
    )
    check_lines(summary.split("\n", 1)[1], width)
    test_id = (
        "test_long_names.py::test_a_deep_sigmoid_network_with_a_long_name_vanishes_quickly"
        "[sigmoid-sixteen-wide-float32-on-the-cpu]"
    )
    assert folded_in(test_id, summary)
    assert folded_in(f"models_with_long_names:{FACTORY}", summary)
    assert re.search(r"vanishing at depth \d+", summary)
    assert re.search(r"\d\.\d\de[-+]\d\d", summary)  # the worst ratio, with its exponent
