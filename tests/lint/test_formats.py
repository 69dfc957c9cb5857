"""``--format concise|github`` and ``--statistics``, against ruff's conventions and GitHub's
documented workflow-command syntax; and that no format imports torch or hypothesis."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.report.findings import Finding, LintError, LintResult
from gradcheck_kit.report.formats import github_command, lint_to_github

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"
UNBOUNDED = (
    "import torch.nn as nn\n\n\ndef make(n):\n"
    "    return nn.Sequential(*[nn.Tanh() for _ in range(n)])\n"
)

# https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
# ::{warning|error|notice} file={name},line={line},endLine={endLine},col={col},
#   endColumn={endColumn},title={title}::{message}
# Property values escape % \r \n : ,   the message escapes % \r \n.
WORKFLOW_COMMAND = re.compile(
    r"^::(?P<level>warning|error|notice) (?P<props>[^:]*)::(?P<message>[^\r\n]*)$"
)
PROPERTY = re.compile(r"^(file|line|endLine|col|endColumn|title)=([^,:\r\n]|%2C|%3A|%25)*$")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(BAD)
    (tmp_path / "pkg" / "more.py").write_text(BAD + BAD.splitlines()[1].replace("net", "n2") + "\n")
    (tmp_path / "pkg" / "unbounded.py").write_text(UNBOUNDED)
    (tmp_path / "pkg" / "good.py").write_text("x = 1\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = main(["lint", "--no-cache", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_concise_is_ruffs_format(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--format", "concise", "pkg"], capsys)
    assert code == 1
    lines = out.splitlines()
    assert len(lines) == 5
    for line in lines[:4]:
        assert re.match(r"^pkg/\w+\.py:\d+:\d+: GCK00[12] \S", line), line
    assert lines[0].startswith("pkg/bad.py:2:23: GCK001 5 saturating activations")
    assert lines[-1] == "Found 4 findings."
    _, quiet, _ = run(["--format", "concise", "-q", "pkg"], capsys)
    assert quiet.splitlines() == lines[:4]
    _, clean, _ = run(["--format", "concise", "pkg/good.py"], capsys)
    assert clean == "All checks passed!\n"


def test_concise_lists_unlintable_files_once(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pkg" / "broken.py").write_text("def f(:\n")
    _, out, err = run(["--format", "concise", "-q", "pkg"], capsys)
    assert "pkg/broken.py:1:7: error: syntax error" in out
    assert err == ""


def test_statistics_like_ruff(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--statistics", "pkg"], capsys)
    assert code == 1
    assert out.splitlines() == [
        "3\tGCK001\tsaturating-stack",
        "1\tGCK002\tunbounded-saturating-depth",
        "Found 4 findings.",
    ]
    _, same, _ = run(["--statistics", "--format", "concise", "pkg"], capsys)
    assert same == out
    _, data, _ = run(["--statistics", "--format", "json", "pkg"], capsys)
    assert json.loads(data) == [
        {"code": "GCK001", "name": "saturating-stack", "count": 3},
        {"code": "GCK002", "name": "unbounded-saturating-depth", "count": 1},
    ]


def test_statistics_pads_counts_and_codes() -> None:
    from gradcheck_kit.report.formats import statistics_text

    def finding(code: str, line: int) -> Finding:
        return Finding(code, code.lower(), "m", "a.py", line, 1, line, 2)

    result = LintResult(1, [finding("GCK001", i) for i in range(1, 12)] + [finding("GCK2", 1)])
    assert statistics_text(result, quiet=True).splitlines() == [
        "11\tGCK001\tgck001",
        " 1\tGCK2  \tgck2",
    ]


def test_github_workflow_commands(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "pkg" / "broken.py").write_text("def f(:\n")
    code, out, err = run(["--format", "github", "pkg"], capsys)
    assert code == 1 and err == ""
    lines = out.splitlines()
    assert len(lines) == 5
    for line in lines:
        match = WORKFLOW_COMMAND.match(line)
        assert match, line
        for prop in match.group("props").split(","):
            assert PROPERTY.match(prop), prop
    first = lines[0]
    assert first.startswith(
        "::warning file=pkg/bad.py,line=2,endLine=2,col=23,endColumn=35,title=GCK001::"
    )
    assert first.split("::", 2)[2].startswith(
        "pkg/bad.py:2:23: GCK001 [saturating-stack] 5 saturating activations"
    )
    assert lines[-1].startswith("::error file=pkg/broken.py,title=gradcheck-kit,line=1,col=7::")


def test_github_escaping() -> None:
    finding = Finding(
        "GCK001", "saturating-stack", "100% bad\nreally", "a,b:c.py", 3, 1, 5, 2, severity="error"
    )
    line = github_command(finding)
    assert line.startswith("::error file=a%2Cb%3Ac.py,line=3,endLine=5,col=1,endColumn=2,")
    assert line.endswith("::a,b:c.py:3:1: GCK001 [saturating-stack] 100%25 bad%0Areally")
    assert "\n" not in line
    assert lint_to_github(LintResult(0, [], [LintError("x.py", "50%")])).endswith("::x.py: 50%25\n")


@pytest.mark.parametrize("fmt", ["full", "concise", "json", "sarif", "github"])
def test_lint_never_imports_torch_or_hypothesis(project: Path, fmt: str) -> None:
    notebook = json.dumps({"cells": [{"cell_type": "code", "source": BAD}], "metadata": {}})
    (project / "pkg" / "nb.ipynb").write_text(notebook)
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcheck_kit", "lint", "--format", fmt, "pkg"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1, done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "gradcheck_kit.lint.interp.machine" in imported
    # libcst is imported only for the syntactic rule (GCK004), where a file can trigger it
    assert "libcst" not in imported
    assert not {m for m in imported if m.split(".")[0] in ("torch", "hypothesis", "numpy")}
