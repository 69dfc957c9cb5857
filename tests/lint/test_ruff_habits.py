"""Habits of ruff users (issue 22, item 9): ``lint -`` with ``--stdin-filename`` for editor
integrations, and ``--add-noqa`` to baseline a legacy codebase."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(8)])\n"
RNN = "import torch.nn as nn\nrnn = nn.RNNCell(8, 8)  # noqa: GCK001\n"


def run(cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "gradcheck_kit", "lint", "--no-cache", *args]
    return subprocess.run(command, cwd=cwd, input=stdin, capture_output=True, text=True)


def test_stdin_is_linted_as_the_named_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.gradcheck-kit]\nper-file-ignores = { "legacy/*" = ["GCK001"] }\n'
    )
    done = run(tmp_path, "--format", "json", "--stdin-filename", "src/model.py", "-", stdin=BAD)
    assert done.returncode == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["files_checked"] == 1
    assert [(f["path"], f["line"], f["code"]) for f in data["findings"]] == [
        ("src/model.py", 2, "GCK001")
    ]
    ignored = run(tmp_path, "--stdin-filename", "legacy/old.py", "-", stdin=BAD)
    assert ignored.returncode == 0  # the named file's per-file-ignores apply
    assert not (tmp_path / "src").exists()  # nothing written


def test_stdin_with_other_paths_is_a_usage_error(tmp_path: Path) -> None:
    done = run(tmp_path, "-", "other.py")
    assert done.returncode == 2 and "cannot be combined" in done.stderr


def test_add_noqa_baselines_and_the_next_run_is_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.py").write_bytes(BAD.replace("\n", "\r\n").encode())  # CRLF kept
    (tmp_path / "rnn.py").write_text(RNN)  # a noqa for another code: merged
    (tmp_path / "clean.py").write_text("x = 1\n")
    assert main(["lint", "--no-cache", "."]) == 1
    capsys.readouterr()
    assert main(["lint", "--no-cache", "--add-noqa", "."]) == 0
    assert "Added 2 noqa directives." in capsys.readouterr().err
    assert (tmp_path / "stack.py").read_bytes().decode().splitlines(keepends=True)[1] == (
        "net = nn.Sequential(*[nn.Sigmoid() for _ in range(8)])  # noqa: GCK001\r\n"
    )
    assert (tmp_path / "rnn.py").read_text().splitlines()[1] == (
        "rnn = nn.RNNCell(8, 8)  # noqa: GCK001, GCK003"
    )
    assert (tmp_path / "clean.py").read_text() == "x = 1\n"
    assert main(["lint", "--no-cache", "."]) == 0  # baselined
    capsys.readouterr()
    assert main(["lint", "--no-cache", "--add-noqa", "."]) == 0  # idempotent
    assert "Added 0 noqa directives." in capsys.readouterr().err


def test_add_noqa_never_breaks_a_line_it_cannot_comment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    source = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() \\\n for _ in range(8)])\n"
    (tmp_path / "cont.py").write_text(source)
    main(["lint", "--no-cache", "--add-noqa", "."])
    assert (tmp_path / "cont.py").read_text() == source  # a comment after \\ would break it
    assert "not edited" in capsys.readouterr().err


@pytest.mark.parametrize("fmt", ["full", "concise"])
def test_syntax_errors_are_placed_as_editors_jump_to_them(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "broken.py").write_text("import torch\nx = (1,\ny = 2\n")
    done = run(tmp_path, "--format", fmt, "broken.py")
    assert done.returncode == 1
    assert "broken.py:2:5: error: syntax error: " in done.stdout + done.stderr
