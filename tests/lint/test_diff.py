"""``--diff REV``: only findings whose span overlaps lines changed since REV (real git)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.lint.diff import parse_diff

# a head after the stack: the last sigmoid counts (runtime's flow ratio ends at the head's input)
STACK = (
    "net{i} = nn.Sequential(\n"
    + "    nn.Linear(4, 4), nn.Sigmoid(),\n" * 4
    + "    nn.Linear(4, 1))\n"
)
MODEL = "import torch.nn as nn\n\n" + "\n".join(STACK.format(i=i) for i in range(3))
# findings span the activation lines: net0 4-7, net1 11-14, net2 18-21


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    git(tmp_path, "init", "-q", "-b", "main")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "other.py").write_text(STACK.format(i=9).join(["import torch.nn as nn\n", ""]))
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "base")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def lines_of(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[int]]:
    code = main(["lint", "--no-cache", "--format", "json", *args])
    data = json.loads(capsys.readouterr().out)
    return code, [f["line"] for f in data["findings"]]


def test_only_findings_on_changed_lines(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lines_of(["."], capsys) == (1, [4, 11, 18, 3])
    assert lines_of(["--diff", "HEAD", "."], capsys) == (0, [])
    lines = MODEL.splitlines(keepends=True)
    lines[9] = lines[9].replace("net1", "net_one")  # the `net1 = ` line: outside every span
    (repo / "model.py").write_text("".join(lines))
    assert lines_of(["--diff", "HEAD", "."], capsys) == (0, [])
    lines[12] = lines[12].replace("(4, 4)", "(4, 4 )")  # inside net1's span
    (repo / "model.py").write_text("".join(lines))
    assert lines_of(["--diff", "HEAD", "."], capsys) == (1, [11])
    git(repo, "commit", "-q", "-am", "edit")
    assert lines_of(["--diff", "HEAD", "."], capsys) == (0, [])
    assert lines_of(["--diff", "HEAD~1", "."], capsys) == (1, [11])
    assert lines_of(["--diff", "HEAD~1", "model.py", "other.py"], capsys) == (1, [11])


def test_a_deleted_line_inside_a_span_counts(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    normed = STACK.format(i=5).replace(
        "nn.Sigmoid(),\n    nn.Linear", "nn.Sigmoid(),\n    nn.LayerNorm(4),\n    nn.Linear", 1
    )
    (repo / "normed.py").write_text("import torch.nn as nn\n" + normed)
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "normed")
    assert lines_of(["normed.py"], capsys) == (0, [])
    (repo / "normed.py").write_text("import torch.nn as nn\n" + STACK.format(i=5))
    assert lines_of(["--diff", "HEAD", "normed.py"], capsys) == (1, [3])


def test_untracked_and_staged_files_are_changed(
    repo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (repo / "new.py").write_text(MODEL)
    code, lines = lines_of(["--diff", "HEAD", "."], capsys)
    assert (code, lines) == (1, [4, 11, 18])
    git(repo, "add", "new.py")
    assert lines_of(["--diff", "HEAD", "."], capsys) == (1, [4, 11, 18])


def test_outside_a_git_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.py").write_text(MODEL)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path.parent))
    assert main(["lint", "--diff", "HEAD", "."]) == 2
    err = capsys.readouterr().err
    assert "--diff needs a git repository" in err and str(tmp_path) in err


def test_unknown_revision(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--diff", "no-such-branch", "."]) == 2
    assert "unknown git revision 'no-such-branch'" in capsys.readouterr().err


def test_parse_diff(tmp_path: Path) -> None:
    text = (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n"
        "@@ -3,0 +4,2 @@\n+x\n+y\n@@ -10 +12 @@\n-a\n+b\n@@ -20,3 +21,0 @@\n-p\n-q\n-r\n"
        "diff --git a/gone.py b/gone.py\n--- a/gone.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-z\n"
        'diff --git "a/we\\"ird.py" "b/we\\"ird.py"\n--- "a/we\\"ird.py"\n+++ "b/we\\"ird.py"\n'
        "@@ -1 +1 @@\n-a\n+b\n"
        "diff --git a/n.ipynb b/n.ipynb\n--- a/n.ipynb\n+++ b/n.ipynb\n@@ -5 +5 @@\n-a\n+b\n"
    )
    changed = parse_diff(text, tmp_path)
    root = tmp_path.resolve()
    assert changed.lines[root / "a.py"] == {4, 5, 12, 21, 22}
    assert changed.lines[root / 'we"ird.py'] == {1}
    assert root / "gone.py" not in changed.lines
    assert changed.whole == {root / "n.ipynb"}
