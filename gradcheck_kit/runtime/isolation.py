"""Run user-facing work in a child process, so that nothing the user's code does can end, hang
or crash the run that checks it (``--isolate``).

One child (``python -m gradcheck_kit.runtime.isolation``, in its own process group) serves the
jobs of a run one after another, so torch is imported once, not once per target. A job is a
public function's ``module:name`` and JSON keyword arguments; the child calls it and writes its
JSON result, and touches a heartbeat file every time a time limit starts (the factory, each
example). The parent reports an error naming the cause - and starts a fresh child for the next
job - when the child:

* ends without a result: ``sys.exit(0)``, ``os._exit(0)``, an exit code, a signal
  (segmentation fault, the OOM killer);
* stops beating for ``stall`` seconds: a hang at import, an example in a long C call, user code
  that swallowed the timeout (``except BaseException``); then its whole group is killed.

The child's stdout and stderr are captured (user prints cannot corrupt ``--format json``); their
tail is quoted in an error. The parent imports neither torch nor the user's code.
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
from types import TracebackType
from typing import IO, Any

from gradcheck_kit._io import write_atomic

__all__ = ["IsolatedResult", "IsolatedWorker", "run_isolated"]

_POLL_S = 0.02
_TAIL = 600  # characters of the child's output quoted in an error
# The child's own start (Python, gradcheck-kit, torch) is not the user's code: it gets this long
# before its first heartbeat, however short ``stall`` is.
_STARTUP_S = 120.0


@dataclass(frozen=True)
class IsolatedResult:
    """What came back: ``value`` (the function's JSON result) or ``error`` (why none came)."""

    value: Any = None
    error: str | None = None
    output: str = ""  # what the job printed (stdout and stderr)


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


class IsolatedWorker:
    """A child process that runs jobs one at a time; a fresh one after any that died."""

    def __init__(self, cwd: str | os.PathLike[str] | None = None) -> None:
        self.cwd = cwd
        self._scratch = tempfile.TemporaryDirectory(prefix="gradcheck-isolate-")
        self._dir = Path(self._scratch.name)
        self._beat = self._dir / "beat"
        self._child: subprocess.Popen[bytes] | None = None
        self._sink: IO[bytes] | None = None
        self._jobs = 0

    def __enter__(self) -> IsolatedWorker:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._child is not None:
            if self._child.stdin is not None:
                with contextlib.suppress(OSError):
                    self._child.stdin.close()  # the child's loop ends
            try:
                self._child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._kill()
        self._child = None
        if self._sink is not None:
            self._sink.close()
            self._sink = None
        self._scratch.cleanup()

    def _start(self) -> subprocess.Popen[bytes]:
        self._beat.touch()
        os.utime(self._beat, (0, 0))  # mtime 0: the child has not started yet
        if self._sink is not None:
            self._sink.close()
        # anonymous, for the child's stdout and stderr; lives as long as the child (close())
        self._sink = tempfile.TemporaryFile()  # noqa: SIM115
        return subprocess.Popen(
            [sys.executable, "-m", "gradcheck_kit.runtime.isolation", str(self._beat)],
            cwd=self.cwd,
            stdin=subprocess.PIPE,
            stdout=self._sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a kill reaches whatever it started
        )

    def _kill(self) -> None:
        child, self._child = self._child, None
        if child is None:
            return
        with contextlib.suppress(OSError):
            os.killpg(child.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            child.kill()
        child.wait()

    def run(self, function: str, kwargs: dict[str, Any], *, stall: float | None) -> IsolatedResult:
        """Call ``function`` (``"package.module:name"``, returning JSON-able data) with
        ``kwargs`` in the child; ``stall``: seconds without a heartbeat before it is killed
        (None: wait as long as it runs)."""
        if self._child is None or self._child.poll() is not None:
            self._child = self._start()
        child, sink = self._child, self._sink
        assert child.stdin is not None and sink is not None
        self._jobs += 1
        job = self._dir / f"job{self._jobs}.json"
        result = self._dir / f"result{self._jobs}.json"
        write_atomic(job, json.dumps({"function": function, "kwargs": kwargs}))
        start = sink.seek(0, os.SEEK_END)
        try:
            child.stdin.write(f"{job}\t{result}\n".encode())
            child.stdin.flush()
        except OSError:
            pass  # it died already: reported below
        stalled = self._wait(child, result, stall)
        sink.seek(start)
        output = sink.read().decode("utf-8", errors="replace")
        if stalled:
            self._kill()
            return IsolatedResult(
                error=f"no progress for {stall:g} s (hung at import, in a long C call, or it "
                "swallowed the time limit): killed" + _tail(output),
                output=output,
            )
        try:
            data = json.loads(result.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            data = None
        if not isinstance(data, dict):
            self._kill()
            code = child.returncode
            if code is not None and code < 0:
                cause = f"the process died of {_signal_name(-code)}"
            else:
                cause = f"the process ended with exit code {code} before the check finished"
            return IsolatedResult(error=cause + _tail(output), output=output)
        if data.get("error"):
            return IsolatedResult(error=str(data["error"]), output=output)
        return IsolatedResult(value=data.get("value"), output=output)

    def _wait(self, child: subprocess.Popen[bytes], result: Path, stall: float | None) -> bool:
        """Until ``result`` appears or the child ends; True when it stopped beating."""
        spawned = time.time()
        while not result.exists():
            if child.poll() is not None:
                return False
            if stall is not None:
                with contextlib.suppress(OSError):
                    last = self._beat.stat().st_mtime
                    quiet = time.time() - (max(last, spawned) if last else spawned)
                    if quiet > (stall if last else max(stall, _STARTUP_S)):
                        return True
            time.sleep(_POLL_S)
        return False


def run_isolated(
    function: str,
    kwargs: dict[str, Any],
    *,
    stall: float | None,
    cwd: str | os.PathLike[str] | None = None,
) -> IsolatedResult:
    """One job in a child process of its own (see :class:`IsolatedWorker`)."""
    with IsolatedWorker(cwd) as worker:
        return worker.run(function, kwargs, stall=stall)


def _child(beat_path: str) -> int:
    beat = Path(beat_path)

    def heartbeat() -> None:
        with contextlib.suppress(OSError):
            os.utime(beat)

    from gradcheck_kit.runtime import harness  # the child may import torch

    harness.on_time_limit(heartbeat)
    for line in sys.stdin:
        job_path, _, result_path = line.rstrip("\n").partition("\t")
        heartbeat()  # a job started: from here on, the user's code runs under ``stall``
        job = json.loads(Path(job_path).read_text(encoding="utf-8"))
        module_name, _, name = str(job["function"]).partition(":")
        try:
            function = getattr(importlib.import_module(module_name), name)
            payload: dict[str, Any] = {"value": function(**job["kwargs"])}
        except SystemExit as exc:
            code = exc.code
            payload = {"error": f"the target called sys.exit({code!r}) before the check finished"}
        except BaseException as exc:  # the parent reports it; nothing else will
            payload = {"error": f"{type(exc).__name__}: {exc}"}
        sys.stdout.flush()
        sys.stderr.flush()
        write_atomic(result_path, json.dumps(payload))  # all or nothing: a half result is none
    return 0


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1]))
