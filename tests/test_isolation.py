"""``--isolate``'s core: a child process whose end, hang or crash becomes an error that names the
cause, never a lost run; and the in-process guard that turns ``sys.exit``/``os._exit`` from user
code into an error of that target."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gradcheck_kit.runtime.isolation import IsolatedWorker, run_isolated

VICTIM = textwrap.dedent(
    """
    import os, signal, sys, time

    def run(how):
        print("user output before", how)
        if how == "ok":
            return {"answer": 42}
        if how == "pid":
            return os.getpid()
        if how == "sys.exit":
            sys.exit(0)
        if how == "os._exit":
            os._exit(0)
        if how == "exit3":
            os._exit(3)
        if how == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if how == "hang":
            time.sleep(60)
        if how == "swallow":
            from gradcheck_kit.runtime.harness import time_limit
            try:
                with time_limit(0.2):
                    time.sleep(60)
            except BaseException:
                pass
            time.sleep(60)
        if how == "raise":
            raise ValueError("the factory is broken")
    """
)


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    (tmp_path / "victim.py").write_text(VICTIM, encoding="utf-8")
    return tmp_path


def run(victim: Path, how: str, stall: float | None = 5.0):  # type: ignore[no-untyped-def]
    return run_isolated("victim:run", {"how": how}, stall=stall, cwd=victim)


def test_a_result_comes_back_and_user_prints_stay_out_of_it(victim: Path) -> None:
    result = run(victim, "ok")
    assert result.error is None and result.value == {"answer": 42}
    assert "user output before ok" in result.output


@pytest.mark.parametrize(
    ("how", "cause"),
    [
        ("sys.exit", "the target called sys.exit(0)"),
        ("os._exit", "exit code 0 before the check finished"),
        ("exit3", "exit code 3"),
        ("segfault", "segmentation fault"),
        ("raise", "ValueError: the factory is broken"),
    ],
)
def test_every_way_of_ending_is_an_error_with_its_cause(victim: Path, how: str, cause: str) -> None:
    result = run(victim, how)
    assert result.value is None
    assert result.error is not None and cause in result.error


@pytest.mark.parametrize("how", ["hang", "swallow"])
def test_a_child_that_stops_beating_is_killed(victim: Path, how: str) -> None:
    start = time.monotonic()
    result = run(victim, how, stall=1.5)
    assert time.monotonic() - start < 30
    assert result.error is not None and "no progress for 1.5 s" in result.error
    assert "user output before" in result.error  # the tail of its output, for the reader


def test_in_process_exits_become_target_errors() -> None:
    pytest.importorskip("torch")
    from gradcheck_kit.runtime.harness import TargetExit, exits_contained

    with pytest.raises(TargetExit, match=r"sys\.exit\(0\)"), exits_contained():
        sys.exit(0)
    with pytest.raises(TargetExit, match=r"os\._exit\(0\)"), exits_contained():
        os._exit(0)
    assert os._exit.__name__ == "_exit"  # restored


def test_one_child_serves_many_jobs_and_a_fresh_one_follows_a_crash(victim: Path) -> None:
    with IsolatedWorker(victim) as worker:
        first = worker.run("victim:run", {"how": "pid"}, stall=5.0).value
        assert worker.run("victim:run", {"how": "pid"}, stall=5.0).value == first  # reused
        crashed = worker.run("victim:run", {"how": "segfault"}, stall=5.0)
        assert crashed.error is not None and "segmentation fault" in crashed.error
        after = worker.run("victim:run", {"how": "pid"}, stall=5.0)
        assert after.error is None and after.value != first  # a fresh child
        printed = worker.run("victim:run", {"how": "ok"}, stall=5.0)
        assert printed.output.strip() == "user output before ok"  # this job's output only


# --------------------------------------------------------------------------- through the CLI

TARGETS = textwrap.dedent(
    """
    import os, signal, sys, time
    from torch import nn

    def good(depth):
        return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(8, 8), nn.ReLU())])

    def exits(depth):
        sys.exit(0)

    def hard_exits(depth):
        os._exit(0)

    def segfaults(depth):
        os.kill(os.getpid(), signal.SIGSEGV)

    def swallows(depth):
        try:
            time.sleep(600)
        except BaseException:
            time.sleep(600)
    """
)


def project(tmp_path: Path, names: list[str], *, isolate: bool | None = None) -> Path:
    (tmp_path / "targets.py").write_text(TARGETS, encoding="utf-8")
    lines = ["[tool.gradcheck-kit]"] + ([f"isolate = {str(isolate).lower()}"] if isolate else [])
    for name in names:
        lines += [
            "[[tool.gradcheck-kit.check]]",
            f'target = "targets.py:{name}"',
            "input-shape = [4, 8]",
            "depths = [2, 3]",
            "max-examples = 2",
            "seed = 0",
            "timeout = 2",
        ]
    (tmp_path / "pyproject.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GRADCHECK_KIT_DATABASE": "none"}
    command = [sys.executable, "-m", "gradcheck_kit", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_in_process_a_target_that_exits_fails_closed(tmp_path: Path) -> None:
    """Without --isolate: sys.exit(0) and os._exit(0) in a factory are that target's error;
    the run goes on and can never exit 0."""
    pytest.importorskip("torch")
    root = project(tmp_path, ["exits", "hard_exits", "good"])
    done = cli(root, "check", "--format", "json")
    assert done.returncode == 1, done.stderr
    rows = {row["target"]: row for row in json.loads(done.stdout)}
    assert "sys.exit(0)" in rows["targets.py:exits"]["error"]
    assert "os._exit(0)" in rows["targets.py:hard_exits"]["error"]
    assert rows["targets.py:good"]["status"] == "passed"


def test_isolated_audit_survives_segfault_and_swallowed_timeout(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    root = project(tmp_path, ["segfaults", "swallows", "good"], isolate=True)  # config key
    done = cli(root, "audit", "--format", "json", "targets.py")
    assert done.returncode == 1, done.stderr
    checks = {c["target"]: c for c in json.loads(done.stdout)["checks"]}
    assert "segmentation fault" in checks["targets.py:segfaults"]["verdict"]
    assert "no progress" in checks["targets.py:swallows"]["verdict"]
    assert checks["targets.py:good"]["status"] == "passed"


def test_isolation_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    from gradcheck_kit.config import Config, isolate_checks

    monkeypatch.delenv("GRADCHECK_KIT_ISOLATE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert isolate_checks(None, Config()) is False  # locally: in process, cheap
    monkeypatch.setenv("CI", "true")
    assert isolate_checks(None, Config()) is True  # in CI: a gate survives any target
    monkeypatch.setenv("GRADCHECK_KIT_ISOLATE", "0")
    assert isolate_checks(None, Config()) is False
    assert isolate_checks(None, Config(isolate=True)) is True  # the config beats the variable
    assert isolate_checks(False, Config(isolate=True)) is False  # the flag beats the config
