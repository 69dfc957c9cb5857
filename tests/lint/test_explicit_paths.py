"""Paths named on the command line, as ruff treats them (issue 20, item 8): an excluded folder
or file named explicitly is linted unless ``--force-exclude``; a path that does not exist is an
error, not a file checked; a run that found nothing to check says so."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(8)])\n"


def lint(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["lint", "--no-cache", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck-kit]\nextend-exclude = ['src/gen']\n")
    for name in ("site-packages/pkg/model.py", "build/model.py", "src/model.py", "src/gen/x.py"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(BAD)
    return tmp_path


def test_a_walk_skips_excluded_folders(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, data, _ = lint(capsys, ".")
    assert code == 1 and data["files_checked"] == 1  # src/model.py only
    assert [f["path"] for f in data["findings"]] == ["src/model.py"]


@pytest.mark.parametrize("named", ["site-packages", "site-packages/pkg", "build/model.py"])
def test_an_excluded_path_named_explicitly_is_linted(
    tree: Path, capsys: pytest.CaptureFixture[str], named: str
) -> None:
    code, data, _ = lint(capsys, named)
    assert code == 1 and data["files_checked"] == 1 and len(data["findings"]) == 1


def test_anchored_patterns_still_hold_below_a_named_folder(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, data, _ = lint(capsys, "src")
    assert [f["path"] for f in data["findings"]] == ["src/model.py"]  # src/gen excluded


@pytest.mark.parametrize("named", ["site-packages", "build/model.py", "src/gen"])
def test_force_exclude_skips_named_paths_and_warns(
    tree: Path, capsys: pytest.CaptureFixture[str], named: str
) -> None:
    code, data, err = lint(capsys, "--force-exclude", named)
    assert code == 0 and data["files_checked"] == 0
    assert "warning: no Python files found" in err


def test_force_exclude_from_config(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "pyproject.toml").write_text("[tool.gradcheck-kit]\nforce-exclude = true\n")
    code, data, _ = lint(capsys, "build/model.py", "src/model.py")
    assert code == 1 and data["files_checked"] == 1


def test_a_missing_path_is_an_error_not_a_file_checked(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, data, _ = lint(capsys, "nope.py", "src/model.py")
    assert code == 1 and data["files_checked"] == 1
    assert data["errors"] == [{"path": "nope.py", "message": "no such file or directory"}]


def test_nothing_to_check_warns_and_says_so(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tree / "empty").mkdir()
    code, data, err = lint(capsys, "empty")
    assert code == 0 and data["files_checked"] == 0
    assert "warning: no Python files found under empty" in err


def test_an_unreadable_folder_is_named_not_skipped(
    tree: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """chmod cannot lock root out (these tests run as root in CI), so the folder's listing
    fails as it does for a user without read permission: PermissionError from scandir."""
    import os

    real_scandir = os.scandir

    def scandir(path):  # type: ignore[no-untyped-def]
        if str(path).endswith("locked"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    (tree / "src" / "locked").mkdir()
    monkeypatch.setattr(os, "scandir", scandir)
    code, data, _ = lint(capsys, "src")
    assert code == 1
    assert {"path": "src/locked", "message": "cannot read this directory: Permission denied"} in [
        {**e, "path": e["path"].replace("\\\\", "/")} for e in data["errors"]
    ]
    assert [f["path"] for f in data["findings"]] == ["src/model.py"]  # the rest still linted
