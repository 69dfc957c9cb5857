"""The pytest plugin, run for real with ``pytester``: fixture, marker, options, skips, summary,
report files, lint items, pytest-xdist. Models are real (tiny) torch models; examples are few."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

# In-process pytester runs drop the modules first imported inside them from sys.modules; import
# everything the plugin uses up front so every test sees one GradientFlowError class.
import torch

from gradcheck_kit import lint_paths
from gradcheck_kit.report import console, export, gradient_console, gradients, markdown
from gradcheck_kit.runtime import check

pytest_plugins = ["pytester"]
_PRELOADED = (console, export, gradient_console, gradients, markdown, check)

MODELS = """
import torch
from torch import nn


def sigmoid_mlp(depth):
    layers = [nn.Linear(16, 32), nn.Sigmoid()]
    for _ in range(depth - 1):
        layers += [nn.Linear(32, 32), nn.Sigmoid()]
    layers.append(nn.Linear(32, 4))
    return nn.Sequential(*layers)


class Residual(nn.Module):
    def __init__(self, depth):
        super().__init__()
        self.inp = nn.Linear(16, 32)
        self.blocks = nn.ModuleList(nn.Linear(32, 32) for _ in range(depth))
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        h = self.inp(x)
        for block in self.blocks:
            h = h + torch.tanh(block(h))
        return self.head(h)
"""

CHECKS = """
from models import Residual, sigmoid_mlp

FAST = dict(input_shape=(8, 16), max_examples=4)


def test_deep_sigmoid(gradcheck):
    gradcheck(sigmoid_mlp, depths=(2, 16), **FAST)


def test_residual(gradcheck):
    report = gradcheck(Residual, depths=(2, 8), **FAST)
    assert report.passed
"""

# a model file the linter flags (GCK001: eight sigmoids in a row) and one it does not
BAD_MODEL = """
from torch import nn


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
GOOD_MODEL = """
from torch import nn


def block(width: int) -> nn.Module:
    return nn.Sequential(nn.Linear(width, width), nn.LayerNorm(width), nn.Tanh())
"""

needs_no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(models=MODELS, test_checks=CHECKS)
    return pytester


# --------------------------------------------------------------------------- loading


def test_plugin_loads_without_importing_torch_or_hypothesis(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_modules="""
        import sys

        def test_nothing_heavy_is_imported():
            assert "gradcheck_kit.pytest_plugin" in sys.modules  # the entry point loaded it
            heavy = [m for m in sys.modules if m.split(".")[0] in ("torch", "hypothesis")]
            assert heavy == []
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--gradcheck-seed=1")
    result.assert_outcomes(passed=1)
    help_text = pytester.runpytest_subprocess("--help").stdout.str()
    for option in ("--gradcheck-devices", "--gradcheck-profile", "--gradcheck-report"):
        assert option in help_text
    assert "gradcheck_max_examples" in help_text  # the ini mirror


# --------------------------------------------------------------------------- the fixture


def test_failing_check_fails_the_test_with_a_readable_message(project: pytest.Pytester) -> None:
    result = project.runpytest("--gradcheck-seed=3")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "*gradient check failed for models:sigmoid_mlp: vanishing*",
            "*smallest failing example: depth *",
            "*flow ratio * < vanish limit *",
            "*worst layers*",
            "*reproduce: import gradcheck_kit; gradcheck_kit.check_gradients('models:sigmoid_mlp',"
            " depths=(2, 16), *seed=3, database=None)*",
        ]
    )
    # the per-layer profile with its log-scale bars, and how to rerun
    assert "- gradient profile -" in out.replace("-" * 10, "")
    assert "█" in out and "log10 RMS" in out
    assert "rerun this check: pytest 'test_checks.py::test_deep_sigmoid' --gradcheck-seed=3" in out
    # nothing of the check's internals in the traceback: it ends at the test's own line
    assert "check.py" not in out


def test_summary_table_after_the_usual_summary(
    project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "160")
    result = project.runpytest("--gradcheck-seed=3", "-rA")
    lines = result.stdout.lines
    summary = next(i for i, line in enumerate(lines) if "short test summary info" in line)
    flow = next(i for i, line in enumerate(lines) if "= gradient flow =" in line)
    assert flow > summary
    rows = [line.split() for line in lines[flow + 1 :]]
    assert rows[0] == ["test", "model", "depths", "worst", "ratio", "verdict"]
    assert rows[2][:2] == ["test_checks.py::test_deep_sigmoid", "models:sigmoid_mlp"]
    assert rows[2][-4:-1] == ["vanishing", "at", "depth"]
    assert rows[3][:2] == ["test_checks.py::test_residual", "models:Residual"]
    assert rows[3][-1] == "pass"
    assert "passed" in lines[-1] and "failed" in lines[-1]  # then pytest's final line


def test_summary_is_quiet_under_q(project: pytest.Pytester) -> None:
    result = project.runpytest("--gradcheck-seed=3", "-q")
    result.assert_outcomes(passed=1, failed=1)
    assert "gradient flow" not in result.stdout.str()


def test_no_summary_without_checks(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    assert "gradient flow" not in pytester.runpytest().stdout.str()


def test_raise_on_failure_false_returns_the_report(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_checks="""
        from models import sigmoid_mlp

        def test_inspect(gradcheck):
            report = gradcheck(sigmoid_mlp, depths=(8, 8), input_shape=(8, 16),
                               max_examples=2, raise_on_failure=False)
            assert report.failure.kind == "vanishing"
        """
    )
    project.runpytest().assert_outcomes(passed=1)


def test_fixture_has_the_signature_of_check_gradients(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import inspect
        from gradcheck_kit import check_gradients

        def test_signature(gradcheck):
            assert inspect.signature(gradcheck) == inspect.signature(check_gradients)
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


# --------------------------------------------------------------------------- options, marker

SEED_PROBE = """
import pytest
from models import Residual

def run(gradcheck, **kw):
    return gradcheck(Residual, depths=(2, 4), input_shape=(8, 16), max_examples=2, **kw)

def test_seed(gradcheck):
    assert run(gradcheck).seed == {expected}
"""


@pytest.mark.parametrize(
    ("args", "ini", "expected"),
    [
        (["--gradcheck-seed=5"], "", 5),
        ([], "gradcheck_seed = 7", 7),
        (["--gradcheck-seed=5"], "gradcheck_seed = 7", 5),  # the command line wins
        (["--gradcheck-profile=ci"], "", 0),  # ci is derandomized
        ([], "gradcheck_profile = ci", 0),
    ],
)
def test_seed_option_ini_and_profile(
    pytester: pytest.Pytester, args: list[str], ini: str, expected: int
) -> None:
    pytester.makepyfile(models=MODELS, test_seed=SEED_PROBE.format(expected=expected))
    if ini:
        pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.runpytest(*args).assert_outcomes(passed=1)


def test_max_examples_option_and_profile(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        models=MODELS,
        test_count="""
        from models import Residual

        def test_count(gradcheck):
            report = gradcheck(Residual, depths=(2, 4), input_shape=(8, 16))
            # the passing search runs max_examples, then replays the worst one once
            assert report.examples_run <= 3 + 1
        """,
    )
    pytester.runpytest("--gradcheck-max-examples=3").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\ngradcheck_max_examples = 3\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_conftest_may_redefine_a_profile(pytester: pytest.Pytester) -> None:
    pytester.makeconftest(
        """
        from hypothesis import settings
        settings.register_profile("gradcheck-quick", max_examples=2)
        """
    )
    pytester.makepyfile(
        models=MODELS,
        test_profile="""
        from models import Residual

        def test_count(gradcheck):
            report = gradcheck(Residual, depths=(2, 4), input_shape=(8, 16))
            assert report.examples_run <= 2 + 1
        """,
    )
    pytester.runpytest("--gradcheck-profile=quick").assert_outcomes(passed=1)


def test_marker_sets_defaults_and_the_call_wins(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        models=MODELS,
        test_marker="""
        import pytest
        from models import Residual

        pytestmark = pytest.mark.gradcheck(seed=21, input_shape=(8, 16), max_examples=2)

        @pytest.mark.gradcheck(seed=11)
        def test_closest_marker_wins(gradcheck):
            assert gradcheck(Residual, depths=(2, 4)).seed == 11

        def test_module_marker(gradcheck):
            assert gradcheck(Residual, depths=(2, 4)).seed == 21

        @pytest.mark.gradcheck(seed=11)
        def test_call_wins(gradcheck):
            assert gradcheck(Residual, depths=(2, 4), seed=12).seed == 12

        @pytest.mark.gradcheck(3)
        def test_positional_is_an_error(gradcheck):
            pass
        """,
    )
    result = pytester.runpytest("--strict-markers", "--gradcheck-seed=99")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*takes keyword arguments only*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--gradcheck-profile=nope"], "*unknown profile 'nope'*quick, ci, thorough*"),
        (["--gradcheck-max-examples=0"], "*--gradcheck-max-examples: must be at least 1*"),
        (["--gradcheck-seed=x"], "*--gradcheck-seed: expected an integer*"),
        (["--gradcheck-report=out.txt"], "*name the file .html, .svg, .md or .json*"),
    ],
)
def test_bad_options_are_usage_errors(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile("def test_plain():\n    pass\n")
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


# --------------------------------------------------------------------------- devices


@needs_no_cuda
def test_unavailable_device_skips_with_the_reason(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_cuda="""
        from models import Residual

        def test_on_cuda(gradcheck):
            gradcheck(Residual, depths=(2, 4), input_shape=(8, 16), max_examples=2,
                      devices="cuda")
        """
    )
    result = project.runpytest("-rs", "test_cuda.py")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED * test_cuda.py:4: device 'cuda' was asked for*"])


@needs_no_cuda
def test_unavailable_device_from_the_ini_file_skips(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ngradcheck_devices = cuda\n")
    project.runpytest("-k", "residual").assert_outcomes(skipped=1)


@needs_no_cuda
def test_device_named_on_the_command_line_fails(project: pytest.Pytester) -> None:
    result = project.runpytest("--gradcheck-devices=cpu,cuda", "-k", "residual")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*--gradcheck-devices asked for device 'cuda'*"])


def test_devices_auto_runs_on_what_is_there(project: pytest.Pytester) -> None:
    project.runpytest("--gradcheck-devices=auto", "-k", "residual").assert_outcomes(passed=1)


# --------------------------------------------------------------------------- report files


@pytest.mark.parametrize("suffix", ["html", "svg", "md", "json"])
def test_report_file_of_each_format(project: pytest.Pytester, suffix: str) -> None:
    project.makepyfile(
        test_escape="""
        from models import Residual

        def test_name_with_markup(gradcheck):
            gradcheck(Residual, depths=(2, 4), input_shape=(8, 16), max_examples=2,
                      name="<script>alert(1)</script>|x")
        """
    )
    result = project.runpytest("--gradcheck-seed=3", f"--gradcheck-report=out/report.{suffix}")
    result.assert_outcomes(passed=2, failed=1)
    path = project.path / "out" / f"report.{suffix}"
    result.stdout.fnmatch_lines([f"gradcheck report: {path}"])
    text = path.read_text(encoding="utf-8")
    assert "\x1b[" not in text
    if suffix == "json":
        data = json.loads(text)
        assert data["passed"] is False
        tests = [g["test"] for g in data["gradients"]]
        assert tests == sorted(tests) and len(tests) == 3
        failed = next(g for g in data["gradients"] if not g["passed"])
        assert failed["failure"]["kind"] == "vanishing"
        assert failed["test"] == "test_checks.py::test_deep_sigmoid"
        assert data["lint"] is None
        return
    assert "<script>alert" not in text  # escaped everywhere a browser would look
    assert "vanishing" in text and "models:Residual" in text
    if suffix == "html":
        assert text.startswith("<!DOCTYPE html>")
        assert "&lt;script&gt;" in text
        assert '<svg class="chart"' in text  # the per-layer charts
    elif suffix == "svg":
        root = ET.fromstring(text)  # well-formed XML
        assert root.tag.endswith("svg")
    else:
        assert "| test | model | depths tried |" in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#124;x" in text


def test_report_path_from_the_ini_file_is_relative_to_rootdir(project: pytest.Pytester) -> None:
    project.makeini("[pytest]\ngradcheck_report = reports/flow.md\n")
    project.runpytest("--gradcheck-seed=3", "-k", "residual")
    assert (project.path / "reports" / "flow.md").is_file()


# --------------------------------------------------------------------------- lint items


def test_lint_items_fail_with_their_findings(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(bad_model=BAD_MODEL, good_model=GOOD_MODEL)
    pytester.makepyfile(test_plain="def test_plain():\n    pass\n")
    result = pytester.runpytest("--gradcheck-lint", "-v")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*bad_model.py::gradcheck-lint FAILED*",
            "*good_model.py::gradcheck-lint PASSED*",
            "*test_plain.py::gradcheck-lint PASSED*",
        ]
    )
    out = result.stdout.str()
    assert "bad_model.py:7:" in out and "GCK001" in out and "saturating-stack" in out
    assert "❱" in out  # the code frame marks the flagged lines
    # without the option: no lint items
    pytester.runpytest().assert_outcomes(passed=1)
    # the marker selects them; the ini key turns them on
    pytester.makeini("[pytest]\ngradcheck_lint = true\n")
    pytester.runpytest("-m", "gradcheck_lint").assert_outcomes(passed=2, failed=1)


def test_lint_items_agree_with_the_lint_command(pytester: pytest.Pytester) -> None:
    bad = pytester.makepyfile(bad_model=BAD_MODEL)
    finding = lint_paths([bad]).findings[0]
    result = pytester.runpytest("--gradcheck-lint", "--gradcheck-report=lint.json")
    result.assert_outcomes(failed=1)
    data = json.loads((pytester.path / "lint.json").read_text())
    assert data["lint"]["files_checked"] == 1
    (reported,) = data["lint"]["findings"]
    assert (reported["code"], reported["line"], reported["column"], reported["message"]) == (
        finding.code,
        finding.line,
        finding.column,
        finding.message,
    )


def test_lint_items_respect_the_project_exclude(pytester: pytest.Pytester) -> None:
    pytester.makepyprojecttoml('[tool.gradcheck-kit]\nextend-exclude = ["legacy/*"]\n')
    pytester.mkdir("legacy")
    (pytester.path / "legacy" / "old.py").write_text(BAD_MODEL)
    pytester.makepyfile(good_model=GOOD_MODEL)
    pytester.runpytest("--gradcheck-lint").assert_outcomes(passed=1)


def test_syntax_error_is_a_failing_lint_item(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(broken="def f(:\n    pass\n")
    result = pytester.runpytest("--gradcheck-lint", "-p", "no:python")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*broken.py: error: syntax error*"])


# --------------------------------------------------------------------------- xdist


def test_xdist_workers_merge_into_one_summary_and_one_report(project: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    project.makepyfile(bad_model=BAD_MODEL)
    result = project.runpytest_subprocess(
        "-n",
        "2",
        "-p",
        "no:cacheprovider",
        "--gradcheck-seed=3",
        "--gradcheck-lint",
        "--gradcheck-report=merged.json",
    )
    # two checks; three lint items: bad_model.py and models.py (GCK002, its depth is a
    # parameter) are flagged, test_checks.py is clean
    result.assert_outcomes(passed=2, failed=3)
    out = result.stdout.str()
    assert out.count("= gradient flow =") == 1
    assert "2 workers" in out or "created: 2/2 workers" in out
    data = json.loads((project.path / "merged.json").read_text())
    assert [g["test"] for g in data["gradients"]] == [
        "test_checks.py::test_deep_sigmoid",
        "test_checks.py::test_residual",
    ]
    assert data["lint"]["files_checked"] == 3
    assert [f["path"] for f in data["lint"]["findings"]] == ["bad_model.py", "models.py"]
