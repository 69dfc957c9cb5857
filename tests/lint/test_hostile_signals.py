"""Interrupted runs: a real process, a real signal while it lints a big tree. It exits 130
(SIGINT) or 143 (SIGTERM) with a message, and leaves no half-written file behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gradcheck_kit._io import write_atomic

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")

# The CLI, with lint_bytes wrapped to touch a file when the first file is being linted (in the
# parent with -j1, in a forked worker with -j2): the signal then lands mid-run, never during
# start-up. Nothing else changes.
RUNNER = """
import sys
from pathlib import Path
from gradcheck_kit.lint import engine
from gradcheck_kit.cli import main

started = Path(sys.argv[1])
real = engine.lint_bytes

def lint_bytes(*args, **kwargs):
    if not started.exists():
        started.write_text("linting")
    return real(*args, **kwargs)

engine.lint_bytes = lint_bytes
sys.exit(main(sys.argv[2:]))
"""

LAYERS = "".join("    nn.Linear(8, 8),\n    nn.Tanh(),\n" for _ in range(150))
MODEL = f"import torch.nn as nn\nm = nn.Sequential(\n{LAYERS})\n"


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """About two seconds of linting on one core (a minute before the linter read the stdlib
    tree): several times longer than the test waits before it signals."""
    root = tmp_path_factory.mktemp("big")
    for i in range(200):
        package = root / f"pkg{i % 10}"
        package.mkdir(exist_ok=True)
        (package / f"model_{i}.py").write_text(MODEL.replace("8, 8", f"8, {8 + i}"))
    return root


def _files_under(path: Path) -> list[str]:
    return sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("signum", "code", "jobs"),
    [
        (signal.SIGINT, 130, "1"),
        (signal.SIGTERM, 143, "1"),
        (signal.SIGTERM, 143, "2"),
        (signal.SIGINT, 130, "2"),
    ],
    ids=["sigint-j1", "sigterm-j1", "sigterm-j2", "sigint-j2"],
)
def test_interrupted_run_writes_nothing_and_exits_128_plus_signal(
    big_tree: Path, tmp_path: Path, signum: int, code: int, jobs: str
) -> None:
    out_dir, cache_dir = tmp_path / "out", tmp_path / "cache"
    out_dir.mkdir()
    previous = out_dir / "report.json"
    previous.write_text('{"previous": "report"}')  # an older report must survive intact
    started = tmp_path / "started"
    argv = [
        "lint",
        str(big_tree),
        "--format",
        "json",
        "--output-file",
        str(previous),
        "--cache-dir",
        str(cache_dir),
        "--jobs",
        jobs,
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(started), *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        for _ in range(1200):  # up to a minute for start-up on a loaded machine
            if started.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists(), process.communicate()
        time.sleep(0.3)  # well inside the run
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    context = f"exit {process.returncode}; stderr:\n{stderr}\nstdout:\n{stdout[:2000]}"
    assert process.returncode == code, context
    assert f"interrupted by {signal.Signals(signum).name}" in stderr, context
    assert "Traceback" not in stderr, context
    assert stdout == "", context
    assert json.loads(previous.read_text()) == {"previous": "report"}
    assert _files_under(out_dir) == ["report.json"]  # no temp file left behind
    assert not cache_dir.exists() or all(
        json.loads((cache_dir / name).read_text()) is not None
        for name in _files_under(cache_dir)
        if name.endswith(".json")
    )
    assert not [name for name in _files_under(big_tree) if not name.endswith(".py")]


def test_write_atomic_interrupted_at_the_rename_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "report.json"
    target.write_text("old")

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "new" * 100_000)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_write_atomic_bytes_and_permissions(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "plot.png"
    write_atomic(target, b"\x89PNG\r\n")
    assert target.read_bytes() == b"\x89PNG\r\n"
    mask = os.umask(0)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask  # shared, not owner-only


def test_every_file_the_package_writes_goes_through_write_atomic() -> None:
    """No module writes a file except through gradcheck_kit._io.write_atomic."""
    package = Path(__file__).resolve().parents[2] / "gradcheck_kit"
    forbidden = (".write_text(", ".write_bytes(", "open(", "savefig(", "json.dump(")
    offenders = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "_io.py":
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for word in forbidden:
                if word in code and not _reading(code, word):
                    offenders.append(f"{path.relative_to(package)}:{number}: {line.strip()}")
    assert offenders == []


def _reading(code: str, word: str) -> bool:
    """An ``open(`` that reads, or a savefig into an in-memory buffer."""
    if word == "open(":
        return not any(mode in code for mode in ('"w', "'w", '"a', "'a", '"x', "'x"))
    return word == "savefig(" and "buffer" in code


def _children(pid: int) -> list[int]:
    """Live processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_pool_workers_exit_when_the_parent_is_killed(big_tree: Path, tmp_path: Path) -> None:
    started = tmp_path / "started"
    argv = ["lint", str(big_tree), "--no-cache", "--jobs", "2"]
    process = subprocess.Popen(
        [sys.executable, "-c", RUNNER, str(started), *argv],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers: list[int] = []
    try:
        for _ in range(1200):
            if started.exists() or process.poll() is not None:
                break
            time.sleep(0.05)
        assert started.exists()
        workers = _children(process.pid)
        assert workers, "no pool workers found"
        process.kill()  # SIGKILL: the parent cannot stop its pool
        process.wait()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        assert not [w for w in workers if _alive(w)], "pool workers outlived their parent"
    finally:
        for w in workers:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
        if process.poll() is None:
            process.kill()
            process.wait()
