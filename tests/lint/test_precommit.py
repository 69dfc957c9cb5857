"""The pre-commit hook, run by the real pre-commit in a throwaway git repository.

``test_hook_from_this_repository`` is what users get: a ``.pre-commit-config.yaml`` naming this
repository (a snapshot of the checkout under test, committed in a temp git repo) and a commit;
pre-commit builds the hook's own virtualenv from ``.pre-commit-hooks.yaml`` (``pip install .``:
the base package, no torch) and runs it on the staged files. That needs a package index for
libcst, rich and hatchling; where none is reachable the test says so and skips, and
``test_manifest_as_a_local_hook`` still runs the same manifest entry offline (``repo: local``,
``language: system``, the gradcheck-kit installed here).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"
GOOD = "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n"
# A notebook whose second cell stacks five sigmoids: the hook lints staged notebooks too.
NOTEBOOK = json.dumps(
    {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": ["# a notebook"]},
            {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
             "source": BAD.splitlines(keepends=True)},
        ],
    }
)  # fmt: skip
NETWORK_TROUBLE = (
    "Could not find a version",
    "No matching distribution",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "ProxyError",
)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        cwd=repo,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def snapshot_of_checkout(target: Path) -> str:
    """This checkout's working tree (uncommitted edits included) as a one-commit git repo."""
    listed = git(ROOT, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    wanted = ("gradcheck_kit/", "rules/")
    top = {"pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "LICENSE"}
    for name in listed:
        source = ROOT / name
        if (name in top or name.startswith(wanted)) and source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    git(target, "init", "-q")
    git(target, "add", ".")
    git(target, "commit", "-q", "-m", "snapshot")
    return git(target, "rev-parse", "HEAD").strip()


def readme_snippets() -> list[str]:
    """The YAML blocks of the README's pre-commit section, as a user copies them."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### pre-commit\n", 1)[1].split("\n### ", 1)[0]
    return re.findall(r"```yaml\n(.*?)```", section, flags=re.DOTALL)


def user_repo(path: Path, config: str) -> Path:
    path.mkdir()
    git(path, "init", "-q")
    (path / ".pre-commit-config.yaml").write_text(config)
    (path / "bad.py").write_text(BAD)
    (path / "good.py").write_text(GOOD)
    (path / "notes.txt").write_text("nn.Sigmoid() " * 10)  # not Python: never passed to the hook
    (path / "explore.ipynb").write_text(NOTEBOOK)
    return path


def pre_commit(repo: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pre_commit", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def check_bad_fails_good_passes(repo: Path, home: Path) -> str:
    git(repo, "add", "bad.py", "good.py", "notes.txt", "explore.ipynb")
    bad = pre_commit(repo, home, "run")  # the staged files
    output = bad.stdout + bad.stderr
    if bad.returncode == 3 and any(sign in output for sign in NETWORK_TROUBLE):
        pytest.skip(f"no package index reachable for the hook's virtualenv:\n{output[-1500:]}")
    assert bad.returncode == 1, output
    assert "GCK001" in output and "bad.py:2:23" in output
    assert "notes.txt" not in output
    assert "explore.ipynb:cell 2:2:23" in output  # the staged notebook, cell coordinates
    git(repo, "rm", "-q", "--cached", "bad.py", "explore.ipynb")
    good = pre_commit(repo, home, "run")
    assert good.returncode == 0, good.stdout + good.stderr
    assert "Passed" in good.stdout
    return output


def test_manifest_declares_the_hook() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "gradcheck-kit"
    assert hook["entry"] == "gradcheck-kit lint --force-exclude"
    assert hook["types_or"] == ["python", "jupyter"] and "types" not in hook
    assert hook["language"] == "python"
    assert "additional_dependencies" not in hook  # base package only: no torch


def test_manifest_as_a_local_hook(tmp_path: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    local = {**hook, "language": "system"}
    config = yaml.safe_dump({"repos": [{"repo": "local", "hooks": [local]}]})
    repo = user_repo(tmp_path / "project", config)
    check_bad_fails_good_passes(repo, tmp_path / "home")


def test_readme_local_hook_snippet(tmp_path: Path) -> None:
    """The README's `repo: local` snippet, verbatim, runs the installed gradcheck-kit."""
    (snippet,) = [s for s in readme_snippets() if "repo: local" in s]
    (hook,) = yaml.safe_load(snippet)["repos"][0]["hooks"]
    (manifest,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert {k: hook[k] for k in ("id", "entry", "types_or")} == {
        k: manifest[k] for k in ("id", "entry", "types_or")
    }
    repo = user_repo(tmp_path / "project", snippet)
    check_bad_fails_good_passes(repo, tmp_path / "home")


def test_hook_from_this_repository(tmp_path: Path) -> None:
    hook_repo = tmp_path / "gradcheck-kit"
    hook_repo.mkdir()
    rev = snapshot_of_checkout(hook_repo)
    # The README's snippet, with the placeholders a user fills in: where the copy is, a commit.
    (snippet,) = [s for s in readme_snippets() if "rev:" in s]
    config = re.sub(r"repo: \S+", f"repo: {hook_repo.as_posix()}", snippet, count=1)
    config = re.sub(r"rev: [0-9a-f]{40}", f"rev: {rev}", config, count=1)
    assert config != snippet and rev in config
    repo = user_repo(tmp_path / "project", config)
    home = tmp_path / "home"
    check_bad_fails_good_passes(repo, home)
    # The hook's environment: gradcheck-kit and libcst, and no torch or hypothesis.
    (site,) = home.glob("repo*/py_env-*/lib/python*/site-packages")
    installed = {p.name.split("-")[0].lower() for p in site.iterdir()}
    assert {"gradcheck_kit", "libcst", "rich"} <= installed
    assert not installed & {"torch", "hypothesis", "numpy"}
    # Installed as a git hook, it blocks a commit of the bad file.
    assert pre_commit(repo, home, "install").returncode == 0
    git(repo, "add", "bad.py")
    blocked = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-m", "bad"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, "PRE_COMMIT_HOME": str(home)},
        check=False,
    )
    assert blocked.returncode != 0
    assert "GCK001" in blocked.stdout + blocked.stderr
