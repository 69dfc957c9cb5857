"""Run one piece of user-facing work in a child process, so that nothing the user's code does
can end, hang or crash the run that checks it (``--isolate``).

The parent writes a job (a public function's ``module:name`` and JSON keyword arguments), starts
``python -m gradcheck_kit.runtime.isolation JOB RESULT`` in its own process group, and waits.
The child calls the function and writes its JSON result; every time a time limit starts (the
factory, each example) it touches a heartbeat file. The parent reports an error naming the cause
when the child:

* exits without a result - ``sys.exit(0)``, ``os._exit(0)``, an exit code, a signal
  (segmentation fault, the OOM killer);
* stops beating for ``stall`` seconds - a hang at import, an example in a long C call, user
  code that swallowed the timeout (``except BaseException``) - then its whole group is killed.

The child's stdout and stderr are captured (user prints cannot corrupt ``--format json``); their
tail is quoted in the error. This module imports neither torch nor the user's code in the
parent.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcheck_kit._io import write_atomic

__all__ = ["IsolatedResult", "run_isolated"]

_POLL_S = 0.05
# The child's own start (Python, gradcheck-kit, torch) is not the user's code: it gets this long
# before its first heartbeat, however short ``stall`` is.
_STARTUP_S = 120.0
_TAIL = 600  # characters of the child's output quoted in an error


@dataclass(frozen=True)
class IsolatedResult:
    """What came back: ``value`` (the function's JSON result) or ``error`` (why none came)."""

    value: Any = None
    error: str | None = None
    output: str = ""  # the child's stdout and stderr


def _signal_name(number: int) -> str:
    try:
        name = signal.Signals(number).name
    except ValueError:
        return f"signal {number}"
    words = {"SIGSEGV": "a segmentation fault", "SIGKILL": "SIGKILL (the OOM killer?)"}
    return words.get(name, name)


def _tail(output: str) -> str:
    text = output.strip()
    if not text:
        return ""
    text = text if len(text) <= _TAIL else "..." + text[-_TAIL:]
    return f"; its last output: {text}"


def run_isolated(
    function: str,
    kwargs: dict[str, Any],
    *,
    stall: float | None,
    cwd: str | os.PathLike[str] | None = None,
) -> IsolatedResult:
    """Call ``function`` (``"package.module:name"``, returning JSON-able data) with ``kwargs``
    in a child process; ``stall``: seconds without a heartbeat before the child is killed
    (None: wait as long as it runs)."""
    with tempfile.TemporaryDirectory(prefix="gradcheck-isolate-") as scratch:
        job = Path(scratch, "job.json")
        result = Path(scratch, "result.json")
        beat = Path(scratch, "beat")
        write_atomic(job, json.dumps({"function": function, "kwargs": kwargs}))
        beat.touch()
        os.utime(beat, (0, 0))  # mtime 0: the child has not started yet
        with tempfile.TemporaryFile() as sink:  # anonymous: the child's stdout and stderr
            child = subprocess.Popen(
                [sys.executable, "-m", "gradcheck_kit.runtime.isolation", str(job), str(result)],
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                stdout=sink,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill reaches whatever it started
            )
            stalled = _wait(child, beat, stall)
            sink.seek(0)
            output = sink.read().decode("utf-8", errors="replace")
        if stalled:
            return IsolatedResult(
                error=f"no progress for {stall:g} s (hung at import, in a long C call, or it "
                "swallowed the time limit): killed" + _tail(output),
                output=output,
            )
        try:
            data = json.loads(result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        code = child.returncode
        if not isinstance(data, dict):
            if code < 0:
                cause = f"the process died of {_signal_name(-code)}"
            else:
                cause = f"the process ended with exit code {code} before the check finished"
            return IsolatedResult(error=cause + _tail(output), output=output)
        if data.get("error"):
            return IsolatedResult(error=str(data["error"]), output=output)
        return IsolatedResult(value=data.get("value"), output=output)


def _wait(child: subprocess.Popen[bytes], beat: Path, stall: float | None) -> bool:
    """Wait for ``child``; True when it was killed for not beating."""
    spawned = time.time()
    while child.poll() is None:
        if stall is not None:
            with contextlib.suppress(OSError):
                last = beat.stat().st_mtime
                quiet = time.time() - (last or spawned)
                if quiet > (stall if last else max(stall, _STARTUP_S)):
                    _kill_group(child)
                    return True
        time.sleep(_POLL_S)
    return False


def _kill_group(child: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(OSError):
        os.killpg(child.pid, signal.SIGKILL)
    with contextlib.suppress(OSError):
        child.kill()
    child.wait()


def _child(job_path: str, result_path: str) -> int:
    job = json.loads(Path(job_path).read_text(encoding="utf-8"))
    beat = Path(job_path).with_name("beat")

    def heartbeat() -> None:
        with contextlib.suppress(OSError):
            os.utime(beat)

    from gradcheck_kit.runtime import harness  # the child may import torch

    harness.on_time_limit(heartbeat)
    heartbeat()  # started: from here on, the user's code runs under ``stall``
    module_name, _, name = str(job["function"]).partition(":")
    function = getattr(importlib.import_module(module_name), name)
    try:
        payload: dict[str, Any] = {"value": function(**job["kwargs"])}
    except SystemExit as exc:
        payload = {"error": f"the target called sys.exit({exc.code!r}) before the check finished"}
    except BaseException as exc:  # the parent reports it; nothing else will
        payload = {"error": f"{type(exc).__name__}: {exc}"}
    write_atomic(result_path, json.dumps(payload))  # all or nothing: a half result is none
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1], sys.argv[2]))
