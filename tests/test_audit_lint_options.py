"""``audit`` takes lint's options for its linting half (issue 22, item 12): --select, --ignore,
--diff, --jobs, --no-cache, --cache-dir."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(8)])\n"
RNN = "import torch.nn as nn\nrnn = nn.RNNCell(8, 8)\n"


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "stack.py").write_text(BAD)
    (tmp_path / "rnn.py").write_text(RNN)
    return tmp_path


def audit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict, str]:  # type: ignore[type-arg]
    code = main(["audit", "--no-runtime", "--format", "json", *args])
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else {}), err


def codes(data: dict) -> list[str]:  # type: ignore[type-arg]
    return sorted(f["code"] for f in data["lint"]["findings"])


def test_select_and_ignore(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, everything, _ = audit(capsys, "--no-cache", ".")
    assert codes(everything) == ["GCK001", "GCK003"]
    _, selected, _ = audit(capsys, "--no-cache", "--select", "GCK003", ".")
    assert codes(selected) == ["GCK003"]
    _, ignored, _ = audit(capsys, "--no-cache", "--ignore", "GCK003", ".")
    assert codes(ignored) == ["GCK001"]
    code, _, err = audit(capsys, "--select", "GCK999", ".")
    assert code == 2 and "unknown rule code" in err


def test_jobs_and_cache(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, serial, _ = audit(capsys, "--no-cache", "--jobs", "1", ".")
    _, parallel, _ = audit(capsys, "--cache-dir", str(tree / "c"), "--jobs", "2", ".")
    assert codes(serial) == codes(parallel)
    assert (tree / "c").is_dir()  # the cache was written where asked
    assert not (tree / ".gradcheck_cache").exists()  # and --no-cache wrote none
    code, _, err = audit(capsys, "--jobs", "0", ".")
    assert code == 2 and "--jobs" in err


def test_diff_keeps_findings_on_changed_lines(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
            cwd=tree, check=True, capture_output=True,
        )  # fmt: skip

    git("init", "-q")
    git("add", ".")
    git("commit", "-qm", "base")
    (tree / "rnn.py").write_text(RNN + "rnn2 = nn.RNNCell(4, 4)\n")
    _, data, _ = audit(capsys, "--no-cache", "--diff", "HEAD", ".")
    assert codes(data) == ["GCK003"]  # stack.py did not change
