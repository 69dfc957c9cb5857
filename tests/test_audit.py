"""``gradcheck-kit audit``: lint + declared runtime checks, one report (real models, real CLI)."""

from __future__ import annotations

import json
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit.cli import main

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

MODELS = """
import torch.nn as nn


class DeepTanh(nn.Module):
    def __init__(self, depth=6):
        super().__init__()
        self.net = nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(16, 16), nn.Sigmoid())])

    def forward(self, x):
        return self.net(x)


def make_deep(depth):
    return DeepTanh(depth)


def make_relu(depth):
    return nn.Sequential(nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 4))
"""


def project(tmp_path: Path, checks: str) -> Path:
    (tmp_path / "models.py").write_text(MODELS)
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck-kit]\n" + textwrap.dedent(checks))
    return tmp_path


def audit_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    code = main(["audit", "--format", "json", *argv])
    return code, json.loads(capsys.readouterr().out)


def test_examples_audit(capsys: pytest.CaptureFixture[str]) -> None:
    # the tables' own max-examples are for people; a few examples find the same verdicts
    code, data = audit_json(capsys, "--max-examples", "6", str(EXAMPLES))
    assert code == 1  # the bad examples are bad
    status = {c["target"]: c["status"] for c in data["checks"]}
    assert status["deep_sigmoid_mlp.py:make_model"] == "failed"
    for good in ("make_batchnorm", "make_layernorm", "make_residual"):
        assert status[f"normalized_mlp.py:{good}"] == "passed"
    assert status["recurrent.py:make_rnn"] == "failed"
    assert status["recurrent.py:make_lstm"] == "passed"
    assert status["relu_init.py:make_default_init"] == "failed"
    assert status["relu_init.py:make_he_init"] == "passed"
    assert status["yolo_backbone.py:make_backbone"] == "passed"
    assert status["transformer.py:make_encoder"] == "passed"
    assert status["ultralytics_yolo26.py:make_yolo26"] in ("skipped", "passed")
    assert status["hf_encoder.py:make_bert_encoder"] in ("skipped", "passed")
    confirmed = {c["code"]: c for c in data["confirmations"]}
    assert set(confirmed) == {"GCK001", "GCK003"}  # the sigmoid MLP, the tanh RNN
    assert confirmed["GCK001"]["check"] == "deep_sigmoid_mlp.py:make_model"
    assert confirmed["GCK003"]["check"] == "recurrent.py:make_rnn"
    for item in confirmed.values():
        assert item["runtime"].startswith("vanishes from depth")


def test_finding_and_check_on_the_same_class_are_shown_together(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(
        tmp_path,
        """
        [[tool.gradcheck-kit.check]]
        target = "models.py:make_deep"
        depths = "2:16"
        max-examples = 8
        seed = 0
        """,
    )
    assert main(["audit", str(root)]) == 1
    out = capsys.readouterr().out
    assert "GCK001" in out
    assert "flagged statically, confirmed at runtime: vanishes from depth" in out
    assert "FAIL" in out


def test_clean_project_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(
        tmp_path,
        """
        [[tool.gradcheck-kit.check]]
        target = "models.py:make_relu"
        depths = "2:4"
        max-examples = 3
        """,
    )
    (root / "models.py").write_text(MODELS.replace("nn.Sigmoid()", "nn.ReLU()"))
    code, data = audit_json(capsys, str(root))
    assert code == 0
    assert data["passed"] is True
    assert [c["status"] for c in data["checks"]] == ["passed"]


def test_missing_dependency_is_skipped_and_broken_target_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = project(
        tmp_path,
        """
        [[tool.gradcheck-kit.check]]
        target = "needs_pkg.py:make"

        [[tool.gradcheck-kit.check]]
        target = "models.py:no_such_factory"
        """,
    )
    (root / "needs_pkg.py").write_text(
        "import not_a_real_package_xyz\n\ndef make(depth):\n    pass\n"
    )
    code, data = audit_json(capsys, str(root / "needs_pkg.py"))
    assert code == 1
    skipped, broken = data["checks"]
    assert skipped["status"] == "skipped"
    assert "not_a_real_package_xyz" in skipped["verdict"]
    assert broken["status"] == "error"
    assert "no_such_factory" in broken["verdict"]


def test_markdown_and_report_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(
        tmp_path,
        """
        [[tool.gradcheck-kit.check]]
        target = "models.py:make_deep"
        depths = "2:8"
        max-examples = 5
        seed = 0
        """,
    )
    assert main(["audit", "--format", "markdown", str(root)]) == 1
    md = capsys.readouterr().out
    assert md.startswith("## gradcheck-kit audit")
    assert "| `models.py:make_deep` |" in md
    assert "\x1b[" not in md
    for suffix in (".md", ".json", ".html", ".svg"):
        out = tmp_path / f"report{suffix}"
        assert main(["audit", "--no-runtime", "--exit-zero", "--report", str(out), str(root)]) == 0
        capsys.readouterr()
        text = out.read_text()
        assert "GCK001" in text
    ET.fromstring((tmp_path / "report.svg").read_text())  # well-formed
    assert json.loads((tmp_path / "report.json").read_text())["lint"]["findings"]
    assert main(["audit", "--report", str(tmp_path / "r.txt"), str(root)]) == 2


def test_checks_file_and_no_runtime(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = project(tmp_path, "")
    checks = tmp_path / "checks.toml"
    checks.write_text(
        '[[check]]\ntarget = "models.py:make_relu"\ndepths = "2:3"\nmax-examples = 2\n'
    )
    code, data = audit_json(capsys, "--checks", str(checks), str(root / "models.py"))
    assert [c["status"] for c in data["checks"]] == ["passed"]
    assert code == 1  # the lint finding in models.py
    code, data = audit_json(capsys, "--no-runtime", str(root))
    assert data["checks"] == [] and "--no-runtime" in data["runtime_note"]
    checks.write_text("[[check]]\ndepths = 3\n")
    assert main(["audit", "--checks", str(checks), str(root)]) == 2


def test_examples_test_file_runs_under_the_plugin(tmp_path: Path) -> None:
    """examples/test_examples.py (the fixture shown to users) stays true: a good example passes,
    a bad one is the strict xfail it says it is."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-m", "pytest", str(EXAMPLES / "test_examples.py"), "-q",
         "-p", "no:cacheprovider", "-k", "he_init or deep_sigmoid", "--rootdir", str(EXAMPLES)],
        capture_output=True, text=True, cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 passed" in proc.stdout and "1 xfailed" in proc.stdout
