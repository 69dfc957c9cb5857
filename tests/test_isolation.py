"""``--isolate``'s core: a child process whose end, hang or crash becomes an error that names the
cause, never a lost run; and the in-process guard that turns ``sys.exit``/``os._exit`` from user
code into an error of that target."""

from __future__ import annotations

import os
import sys
import textwrap
import time
from pathlib import Path

import pytest

from gradcheck_kit.runtime.isolation import run_isolated

VICTIM = textwrap.dedent(
    """
    import os, signal, sys, time

    def run(how):
        print("user output before", how)
        if how == "ok":
            return {"answer": 42}
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
