"""``gradcheck-kit lint`` with ruff's fix flags: --fix, --unsafe-fixes / --no-unsafe-fixes,
--show-fixes, --fix-only, --fix-diff (ruff's --diff), the config keys ``fix`` and
``unsafe-fixes``, the summary's counts, exit codes, stdin, the cache after a write, and libcst
imported only when a fix is applied."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.lint.rules import gck005_squashed_twice

ROOT = Path(__file__).resolve().parents[2]
HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
SAFE_LINE = "    return F.binary_cross_entropy_with_logits(torch.sigmoid(out), y)\n"
SAFE = HEADER + "def loss(out, y):\n" + SAFE_LINE
UNSAFE = HEADER + (
    "model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())\n\n\n"
    "def step(x, y):\n    return nn.BCEWithLogitsLoss()(model(x), y)\n"
)
SAFE_FIXED = SAFE.replace("torch.sigmoid(out)", "out")
UNSAFE_FIXED = UNSAFE.replace(", nn.Sigmoid())", ")")
CLEAN = HEADER + "x = 1\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck-kit]\n")
    (tmp_path / "safe.py").write_text(SAFE)
    (tmp_path / "unsafe.py").write_text(UNSAFE)
    (tmp_path / "clean.py").write_text(CLEAN)
    return tmp_path


def lint(tree: Path, *args: str) -> int:
    return main(["lint", "--no-cache", *args, str(tree)])


def test_plain_lint_counts_the_fixes(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for fmt in ("full", "concise"):
        assert lint(tree, "--format", fmt) == 1
        out = capsys.readouterr().out
        assert "[*] 1 fixable with --fix." in out
        assert "1 hidden fix can be enabled with --unsafe-fixes." in out
    assert lint(tree, "--format", "concise", "--unsafe-fixes") == 1  # counts, writes nothing
    out = capsys.readouterr().out
    assert "[*] 2 fixable with --fix." in out and "hidden" not in out
    assert (tree / "safe.py").read_text() == SAFE


def test_fix_applies_safe_fixes_and_exits_1_while_findings_remain(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lint(tree, "--fix", "--format", "concise") == 1
    out = capsys.readouterr().out
    assert (tree / "safe.py").read_text() == SAFE_FIXED
    assert (tree / "unsafe.py").read_text() == UNSAFE  # unsafe: not without --unsafe-fixes
    assert "Found 2 findings (1 fixed, 1 remaining)." in out
    assert "1 hidden fix can be enabled with --unsafe-fixes." in out
    assert "safe.py:" not in out.replace("unsafe.py:", "")  # the fixed finding is not listed
    # again: idempotent
    assert lint(tree, "--fix", "--format", "concise") == 1
    assert (tree / "safe.py").read_text() == SAFE_FIXED


def test_unsafe_fixes_and_exit_0_when_nothing_remains(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lint(tree, "--fix", "--unsafe-fixes") == 0
    assert "(2 fixed, 0 remaining)" in capsys.readouterr().out
    assert (tree / "safe.py").read_text() == SAFE_FIXED
    assert (tree / "unsafe.py").read_text() == UNSAFE_FIXED
    assert (tree / "clean.py").read_text() == CLEAN
    before = {p.name: p.stat().st_mtime_ns for p in tree.glob("*.py")}
    assert lint(tree, "--fix", "--unsafe-fixes") == 0  # a second run changes nothing
    assert "All checks passed" in capsys.readouterr().out
    assert {p.name: p.stat().st_mtime_ns for p in tree.glob("*.py")} == before


def test_config_keys_and_the_flags_that_override_them(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "pyproject.toml").write_text("[tool.gradcheck-kit]\nfix = true\nunsafe-fixes = true\n")
    assert lint(tree, "--no-fix") == 1
    assert (tree / "safe.py").read_text() == SAFE
    assert lint(tree, "--no-unsafe-fixes") == 1
    assert (tree / "safe.py").read_text() == SAFE_FIXED
    assert (tree / "unsafe.py").read_text() == UNSAFE
    assert lint(tree) == 0
    assert (tree / "unsafe.py").read_text() == UNSAFE_FIXED
    capsys.readouterr()
    (tree / "pyproject.toml").write_text("[tool.gradcheck-kit]\nunsafe-fix = true\n")
    assert lint(tree) == 2
    assert "did you mean 'unsafe-fixes'" in capsys.readouterr().err
    (tree / "pyproject.toml").write_text('[tool.gradcheck-kit]\nfix = "yes"\n')
    assert lint(tree) == 2
    assert "fix: expected true or false" in capsys.readouterr().err


def test_show_fixes(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(tree, "--show-fixes", "--format", "concise") == 1
    out = capsys.readouterr().out
    assert "2 fixes available:" in out
    assert "GCK005 [*] Pass `out` to the loss, not `torch.sigmoid(out)` (safe fix)" in out
    assert "(unsafe fix)" in out and "-model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())" in out
    assert (tree / "safe.py").read_text() == SAFE
    assert lint(tree, "--fix", "--unsafe-fixes", "--show-fixes") == 0
    out = capsys.readouterr().out
    assert "Fixed 2 findings:" in out
    assert f"- {tree / 'safe.py'}:\n    1 x GCK005 (squashed-twice)" in out


def test_fix_only_reports_only_the_fixes(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(tree, "--fix-only") == 0  # a finding remains (unsafe), still 0
    captured = capsys.readouterr()
    assert captured.out == "Fixed 1 finding.\n"
    assert (tree / "safe.py").read_text() == SAFE_FIXED
    assert lint(tree, "--fix-only", "--quiet") == 0
    assert capsys.readouterr().out == ""


def test_fix_diff_writes_nothing(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert lint(tree, "--fix-diff", "--unsafe-fixes") == 1
    captured = capsys.readouterr()
    assert f"--- a/{tree / 'safe.py'}\n+++ b/{tree / 'safe.py'}\n" in captured.out
    assert (
        "-" + SAFE_LINE in captured.out
        and "+" + SAFE_LINE.replace("torch.sigmoid(out)", "out") in captured.out
    )
    assert "-model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())" in captured.out
    assert "Would fix 2 findings." in captured.err
    assert (tree / "safe.py").read_text() == SAFE and (tree / "unsafe.py").read_text() == UNSAFE
    (tree / "safe.py").write_text(SAFE_FIXED)
    (tree / "unsafe.py").write_text(UNSAFE_FIXED)
    assert lint(tree, "--fix-diff") == 0
    assert capsys.readouterr().out == ""


def test_fix_flags_refuse_a_changed_lines_run(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert lint(tree, "--fix", "--diff", "HEAD") == 2
    assert "--diff REV" in capsys.readouterr().err
    assert lint(tree, "--fix-only", "--add-noqa") == 2
    assert (tree / "safe.py").read_text() == SAFE


def test_json_output_after_fix_holds_what_remains(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    assert lint(tree, "--fix", "--format", "json") == 1
    data = json.loads(capsys.readouterr().out)
    (finding,) = data["findings"]
    assert finding["path"].endswith("unsafe.py")
    assert finding["fix"]["applicability"] == "unsafe"


def test_a_syntax_error_file_is_untouched_and_reported(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = SAFE + "def (:\n"
    (tree / "broken.py").write_text(broken)
    assert lint(tree, "--fix") == 1
    assert "syntax error" in capsys.readouterr().out
    assert (tree / "broken.py").read_text() == broken
    assert (tree / "safe.py").read_text() == SAFE_FIXED


def test_a_fix_that_does_not_remove_its_finding_exits_2(
    tree: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A fake, no-op fix (for the bug path only): the file is left alone, the error names the
    file and the rule, the exit code says it is a bug in the tool."""
    real = gck005_squashed_twice.squash_fix

    def no_op(event: object, ctx: object) -> object:
        fix = real(event, ctx)  # type: ignore[arg-type]
        if fix is None:
            return None
        same = ctx.source(event.data["squash"])  # type: ignore[attr-defined]
        edits = tuple(dataclasses.replace(e, content=same) for e in fix.edits)
        return dataclasses.replace(fix, edits=edits)

    monkeypatch.setattr(gck005_squashed_twice, "squash_fix", no_op)
    assert lint(tree, "--fix", "--format", "concise") == 2
    captured = capsys.readouterr()
    out = captured.out
    assert f"{tree / 'safe.py'}: error: internal error (fixing GCK005:" in out
    assert "did not remove its finding" in out
    assert "--verbose" not in captured.err  # the message says it all: there is no traceback
    assert (tree / "safe.py").read_text() == SAFE


def test_the_cache_does_not_serve_stale_findings_after_a_fix(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cache = tree / ".cache"
    args = ["lint", "--cache-dir", str(cache), "--format", "concise", str(tree)]
    assert main(args) == 1
    assert "Found 2 findings." in capsys.readouterr().out
    assert main([*args[:1], "--fix", *args[1:]]) == 1
    capsys.readouterr()
    assert main(args) == 1  # warm cache, one file rewritten: its new findings, not the old
    out = capsys.readouterr().out
    assert "Found 1 finding." in out and "safe.py:" not in out.replace("unsafe.py:", "")


def _run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env=env,
        cwd=cwd,
    )


def test_stdin_fix_prints_the_fixed_source(tmp_path: Path) -> None:
    done = _run(
        "-m",
        "gradcheck_kit",
        "lint",
        "--fix",
        "--stdin-filename",
        "m.py",
        "-",
        stdin=SAFE,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == SAFE_FIXED
    assert "1 fixed, 0 remaining" in done.stderr
    done = _run("-m", "gradcheck_kit", "lint", "--fix", "-", stdin=UNSAFE, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == UNSAFE  # unsafe: unchanged, reported
    assert "GCK005" in done.stderr
    done = _run(
        "-m",
        "gradcheck_kit",
        "lint",
        "--fix-diff",
        "--unsafe-fixes",
        "-",
        stdin=UNSAFE,
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "-model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())" in done.stdout


@pytest.mark.parametrize("flags", [(), ("--fix",)])
def test_neither_lint_nor_fix_imports_libcst(tree: Path, flags: tuple[str, ...]) -> None:
    done = _run(
        "-X", "importtime", "-m", "gradcheck_kit", "lint", "--no-cache", *flags, "safe.py", cwd=tree
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in done.stderr.splitlines() if "|" in line}
    assert "gradcheck_kit.lint.interp.machine" in imported
    assert "libcst" not in imported  # a fix is a text edit, checked by linting the result
    assert not {m for m in imported if m.split(".")[0] == "torch"}


def test_a_notebook_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    cell = {
        "cell_type": "code",
        "execution_count": 1,
        "metadata": {"collapsed": False},
        "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["1"]}}],
        "source": SAFE.splitlines(keepends=True),
    }
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook, indent=1) + "\n")
    assert main(["lint", "--no-cache", "--show-fixes", "--format", "concise", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"{path}:cell 1:6:47: GCK005 [*] Pass `out` to the loss" in out
    assert (
        f"--- a/{path}:cell 1" in out
        and "+" + SAFE_LINE.replace("torch.sigmoid(out)", "out") in out
    )
    assert main(["lint", "--no-cache", "--fix", str(path)]) == 0
    after = json.loads(path.read_text())
    assert after["cells"][0]["source"] == SAFE_FIXED.splitlines(keepends=True)
    assert after["cells"][0]["outputs"] == cell["outputs"]
    assert after["cells"][0]["metadata"] == cell["metadata"]
