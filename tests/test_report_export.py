"""Report exports (HTML, SVG, Markdown, JSON), the console renderers they share, the progress bar,
and the GradientReport round trip - on reports of real checks of real models."""

from __future__ import annotations

import io
import json
import math
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

import runtime_models as rm
from rich.console import Console

import gradcheck_kit as gk
from gradcheck_kit.report.export import render_report, report_format, write_report
from gradcheck_kit.report.gradient_console import (
    depths_text,
    gradient_bar,
    gradient_flow_table,
)
from gradcheck_kit.report.gradients import GradientReport, LayerStat
from gradcheck_kit.report.markdown import cell, fence
from gradcheck_kit.report.progress import SearchProgress, progress_wanted

BAD_MODEL = """from torch import nn


class DeepSigmoidMLP(nn.Module):
    def __init__(self, width: int = 32, depth: int = 8):
        super().__init__()
        layers = [nn.Linear(width, width), nn.Sigmoid()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), nn.Sigmoid()]
        self.body = nn.Sequential(*layers)

    def forward(self, x):
        return self.body(x)
"""


@pytest.fixture(scope="module")
def failing() -> GradientReport:
    return gk.check_gradients(
        rm.sigmoid_mlp,
        depths=(2, 16),
        input_shape=(8, rm.IN),
        seed=3,
        max_examples=5,
        raise_on_failure=False,
        name="deep <b>sigmoid</b> | mlp",
    )


@pytest.fixture(scope="module")
def passing() -> GradientReport:
    return gk.check_gradients(
        rm.residual_tanh, depths=(2, 8), input_shape=(8, rm.IN), seed=3, max_examples=3
    )


@pytest.fixture
def lint_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> gk.LintResult:
    monkeypatch.chdir(tmp_path)
    Path("bad_model.py").write_text(BAD_MODEL)
    return gk.lint_paths(["bad_model.py"])


def test_the_checks_behind_these_tests(failing: GradientReport, passing: GradientReport) -> None:
    assert failing.failure is not None and failing.failure.kind == "vanishing"
    assert passing.passed
    assert failing.depths_tried and set(failing.depths_tried) <= set(range(2, 17))
    assert failing.failure.depth in failing.depths_tried


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("r.html", "html"),
        ("r.HTM", "html"),
        ("r.svg", "svg"),
        ("r.md", "markdown"),
        ("r.json", "json"),
    ],
)
def test_format_by_suffix(name: str, fmt: str) -> None:
    assert report_format(name) == fmt


def test_unknown_suffix_is_an_error_and_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.html, \.svg, \.md or \.json"):
        write_report(tmp_path / "r.txt", gradients=[])
    assert list(tmp_path.iterdir()) == []


def test_html_is_a_page_and_escapes_user_text(
    tmp_path: Path, failing: GradientReport, passing: GradientReport, lint_result: gk.LintResult
) -> None:
    path = tmp_path / "out" / "report.html"
    assert write_report(path, lint=lint_result, gradients=[("t.py::a<x>", failing), passing]) == (
        "html"
    )
    text = path.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "<title>gradcheck-kit: 1 of 2 gradient checks failed, 1 lint finding</title>" in text
    assert "<b>sigmoid</b>" not in text and "&lt;b&gt;sigmoid&lt;/b&gt;" in text
    assert "t.py::a&lt;x&gt;" in text
    for words in ("vanishing", "PASSED", "Per-layer gradient", "GCK001", "reproduce", "<svg"):
        assert words in text
    assert "\x1b[" not in text  # more in tests/test_html_report.py
    assert [p.name for p in path.parent.iterdir()] == ["report.html"]  # no temp file left


def test_title_with_braces_and_markup_is_safe(tmp_path: Path, passing: GradientReport) -> None:
    path = tmp_path / "r.html"
    write_report(path, gradients=[passing], title="{code} <i>x</i>")
    assert "<title>{code} &lt;i&gt;x&lt;/i&gt;</title>" in path.read_text()


def test_svg_is_well_formed(tmp_path: Path, failing: GradientReport) -> None:
    path = tmp_path / "r.svg"
    write_report(path, gradients=[failing])
    root = ET.fromstring(path.read_text(encoding="utf-8"))
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    text = "".join(root.itertext()).replace("\xa0", " ")
    assert "vanishing" in text and "deep <b>sigmoid</b>" in text  # escaped in the XML source


def test_markdown_is_a_pull_request_comment(
    failing: GradientReport, passing: GradientReport, lint_result: gk.LintResult
) -> None:
    text = render_report("markdown", lint=lint_result, gradients=[failing, passing])
    assert "\x1b" not in text
    assert text.startswith("## gradcheck-kit: 1 of 2 gradient checks failed, 1 lint finding")
    assert "| model | depths tried | examples | worst ratio | limits | verdict |" in text
    # user text cannot split a table cell or open a tag
    assert "deep &lt;b&gt;sigmoid&lt;/b&gt; &#124; mlp" in text
    outside_fences = "".join(text.split("```")[::2])
    assert "<b>" not in outside_fences
    assert "<details open><summary>❌" in text and "<details><summary>✅" in text
    assert "| # | layer | type | grad RMS |" in text
    assert "█" in text
    # lint: a table and a code frame marking the flagged lines
    assert "| bad_model.py:7:" in text and "GCK001" in text
    assert ">  7 |         layers = [nn.Linear(width, width), nn.Sigmoid()]" in text
    # every table row has as many cells as its header
    for block in text.split("\n\n"):
        rows = [r for r in block.splitlines() if r.startswith("| ")]
        if rows:
            assert len({r.count(" | ") for r in rows}) == 1, block


def test_markdown_fences_outlast_backticks_in_the_content() -> None:
    lines = fence("a ```` b")
    assert lines[0] == "`````" and lines[-1] == "`````"
    assert cell("a|b\n<c>&") == "a&#124;b<br>&lt;c&gt;&amp;"


def test_json_is_stable_and_round_trips(
    failing: GradientReport, passing: GradientReport, lint_result: gk.LintResult
) -> None:
    data = json.loads(render_report("json", lint=lint_result, gradients=[("t::a", failing)]))
    assert set(data) == {
        "version",
        "tool",
        "tool_version",
        "title",
        "passed",
        "gradients",
        "sweeps",
        "errors",
        "lint",
    }
    assert data["passed"] is False and data["version"] == 1 and data["errors"] == []
    (entry,) = data["gradients"]
    assert entry["test"] == "t::a" and entry["failure"]["kind"] == "vanishing"
    assert data["lint"]["findings"][0]["code"] == "GCK001"
    for report in (failing, passing):
        data = json.loads(json.dumps(report.to_dict()))
        again = GradientReport.from_dict(data)
        assert again.to_dict() == data
        assert again.failure == report.failure and again.layers == report.layers
    passed = json.loads(render_report("json", gradients=[passing]))
    assert passed["passed"] is True and passed["lint"] is None


def test_non_finite_values_round_trip() -> None:
    layer = LayerStat(0, "fc", "Linear", 8, grad_rms=math.inf, param_grad_rms=math.nan)
    again = LayerStat.from_dict(json.loads(json.dumps(layer.to_dict())))
    assert again.grad_rms == math.inf and again.param_grad_rms is not None
    assert math.isnan(again.param_grad_rms)


class FakeSweep:
    """The protocol write_report needs of a sweep: to_dict, and optionally rich / markdown."""

    def to_dict(self) -> dict[str, object]:
        return {"target": "m:f", "max_depth": 12}

    def to_markdown(self) -> str:
        return "max trainable depth: **12**"

    def __rich__(self) -> str:
        return "sweep of m:f: max depth 12"


def test_sweeps_are_written_by_their_own_renderers(tmp_path: Path) -> None:
    for suffix in ("md", "json", "html"):
        write_report(tmp_path / f"s.{suffix}", sweeps=[FakeSweep()])
    assert "max trainable depth: **12**" in (tmp_path / "s.md").read_text()
    assert json.loads((tmp_path / "s.json").read_text())["sweeps"] == [FakeSweep().to_dict()]
    assert "sweep of m:f: max depth 12" in (tmp_path / "s.html").read_text().replace("&#160;", " ")


def test_console_report_shows_verdict_profile_and_reproduce(failing: GradientReport) -> None:
    console = Console(record=True, width=120, file=io.StringIO())
    console.print(failing)
    text = console.export_text()
    assert "FAILED  deep <b>sigmoid</b> | mlp: vanishing" in text
    assert "smallest failing example: depth" in text
    assert f"seed {failing.seed}" in text
    assert "log10 RMS" in text and "saturated" in text
    assert "reproduce: import gradcheck_kit; gradcheck_kit.check_gradients(" in text


def test_bars_grow_with_the_gradient() -> None:
    small, big = gradient_bar(1e-4, -4, 0).plain, gradient_bar(1.0, -4, 0).plain
    assert small.count("█") < big.count("█") == len(big)
    assert gradient_bar(0.0, -4, 0).plain == "zero"
    assert gradient_bar(math.nan, -4, 0).plain == "non-finite"


def test_summary_table_rows(failing: GradientReport, passing: GradientReport) -> None:
    console = Console(record=True, width=160, file=io.StringIO())
    console.print(gradient_flow_table([("t::fail", failing), ("t::pass", passing)]))
    text = console.export_text()
    assert "t::fail" in text and f"vanishing at depth {failing.failure.depth}" in text
    assert "pass" in text and "depths tried" in text


def test_depths_text_compacts_runs() -> None:
    report = GradientReport("m:f", True, None, 5, depths=(2, 32), depths_tried=(2, 3, 4, 9, 32))
    assert depths_text(report) == "2-4, 9, 32"
    assert depths_text(GradientReport("m:f", True, None, 0, depths=(4, 4))) == "4"


def test_progress_bar_draws_on_a_terminal_only() -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=100)
    with SearchProgress("m:f", 5, enabled=True, console=console, show_after_s=0) as bar:
        bar.example(3)
        bar.example(7, shrinking=True)
    text = out.getvalue()
    assert "gradcheck m:f" in text and "shrinking, depth 7" in text and "2/5" in text
    silent = io.StringIO()
    quiet_console = Console(file=silent, force_terminal=True)
    with SearchProgress("m:f", 5, enabled=False, console=quiet_console, show_after_s=0) as bar:
        bar.example(3)
    assert silent.getvalue() == "" and bar.done == 1
    assert progress_wanted(io.StringIO()) is False  # not a terminal
    assert progress_wanted() is False  # under pytest


class FailedSweep(FakeSweep):
    passed = False


def test_every_format_states_one_verdict_counting_sweeps_and_errors(
    tmp_path: Path, passing: GradientReport
) -> None:
    """A failed sweep or a check that could not run fails the report in every format: JSON's
    ``passed`` says what the HTML verdict says, and the errored target is named everywhere."""
    swept = json.loads(render_report("json", gradients=[passing], sweeps=[FailedSweep()]))
    assert swept["passed"] is False
    assert json.loads(render_report("json", sweeps=[FakeSweep()]))["passed"] is True
    errors = [("models:<missing>", "models has no attribute 'missing'")]
    data = json.loads(render_report("json", gradients=[passing], errors=errors))
    assert data["passed"] is False
    assert data["errors"] == [{"target": "models:<missing>", "message": errors[0][1]}]
    assert "1 check could not run" in data["title"]
    page = render_report("html", gradients=[passing], errors=errors)
    assert 'class="verdict bad"' in page and "could not run" in page
    assert "models:&lt;missing&gt;" in page and "<missing>" not in page
    markdown = render_report("markdown", gradients=[passing], errors=errors)
    assert "### Checks that could not run" in markdown
    assert "<code>models:&lt;missing&gt;</code>" in markdown
    svg = render_report("svg", gradients=[passing], errors=errors)
    assert "could&#160;not&#160;run" in svg or "could not run" in svg
    ET.fromstring(svg)  # still well-formed


def test_check_report_names_a_target_that_could_not_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``check --report`` used to leave an errored target out: the file said "passed"."""
    from gradcheck_kit.cli import main

    (tmp_path / "report_target_models.py").write_text(
        "import torch.nn as nn\n\n\ndef good(depth):\n"  # linear: no unit can die at any init
        "    return nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 1))\n"
    )
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.gradcheck-kit.check]]\ntarget = "report_target_models:good"\ninput-shape = [4]\n'
        "max-examples = 3\n"
        '[[tool.gradcheck-kit.check]]\ntarget = "report_target_models:missing"\ninput-shape = [4]\n'
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert main(["check", "--report", "r.json"]) == 1
    finally:  # the next test may import another ``report_target_models``
        sys.modules.pop("report_target_models", None)
    data = json.loads((tmp_path / "r.json").read_text())
    assert data["passed"] is False
    assert [e["target"] for e in data["errors"]] == ["report_target_models:missing"]
    assert "missing" in data["errors"][0]["message"]
    assert len(data["gradients"]) == 1 and data["gradients"][0]["passed"] is True
