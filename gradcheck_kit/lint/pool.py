"""Linting files in a pool of worker processes, and one file alone in a process of its own
(:func:`lint_alone`: a crash in a parser costs that file, not the run).

Split from :mod:`gradcheck_kit.lint.engine`, which imports it only when a run starts a pool:
a pre-commit run of a few files never imports ``multiprocessing`` or ``concurrent.futures``.
"""

from __future__ import annotations

import contextlib
import gc
import multiprocessing
import multiprocessing.context
import os
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from gradcheck_kit.config import Config
from gradcheck_kit.lint import engine
from gradcheck_kit.lint.engine import Outcome
from gradcheck_kit.lint.project import named_folders, use_named_folders
from gradcheck_kit.report.findings import Finding, LintError


def run_all(work: list[tuple[bytes, str]], config: Config, workers: int) -> list[Outcome]:
    """Lint ``work`` in ``workers`` processes (results in input order)."""
    _index_projects(display for _, display in work)  # once here, not once per worker
    # Largest files first, so no worker is left with one big file at the end.
    order = sorted(range(len(work)), key=lambda i: -len(work[i][0]))
    chunk = max(1, min(16, len(work) // (workers * 8)))
    results: list[Outcome | None] = [None] * len(work)
    batches = [order[k : k + chunk] for k in range(0, len(order), chunk)]
    context = _context()
    stop = context.Event()
    broken = False
    with _signals_deferred() as received:
        pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(stop, named_folders()),
        )
        pending: dict[Future[list[Outcome]], list[int]] = {}
        try:
            pending = {
                pool.submit(_lint_batch, [(work[i][0], work[i][1], config) for i in batch]): batch
                for batch in batches
            }
            while pending and not received:
                done, _ = wait(pending, timeout=0.1, return_when=FIRST_COMPLETED)
                for future in done:
                    batch = pending.pop(future)
                    try:
                        outcomes = future.result()
                    except BrokenProcessPool:  # a worker died (a segfault in a parser, OOM)
                        broken = True
                        continue
                    for i, outcome in zip(batch, outcomes, strict=True):
                        results[i] = outcome
                if broken:
                    break
        finally:
            if pending:  # interrupted (or a broken pool): stop now, not after the queued work
                # Queued batches are cancelled and running ones stop after their current file.
                # Workers are not killed: one killed while sending its results left a partial
                # message in the result pipe, and the pool's thread waited for the rest of it
                # forever (the interpreter then hung at exit, joining that thread).
                stop.set()
                pool.shutdown(wait=True, cancel_futures=True)
            else:
                pool.shutdown(wait=True)
    if received:  # now, outside the pool's locks, as the handler in place would have
        signal.raise_signal(received[0])
        raise KeyboardInterrupt  # the signal was ignored by its handler: still stop
    if broken:  # the files the dead pool did not finish, each alone: one crash, one error
        for i, slot in enumerate(results):
            if slot is None:
                results[i] = (*lint_alone(work[i][0], work[i][1], config), ())
    return [r for r in results if r is not None]


def _index_projects(paths: Iterable[str]) -> None:
    """Build (or bring up to date and save) the call index of each project among ``paths``
    before the pool forks: the workers inherit it, instead of each building it cold and
    saving it again (with spawn they load the saved one)."""
    from gradcheck_kit.lint import callindex
    from gradcheck_kit.lint.project import Project

    one_per_folder = {os.path.dirname(path): path for path in paths}
    roots = {Project.for_file(path).root for path in one_per_folder.values()}
    for root in sorted(r for r in roots if r is not None)[: callindex.INDEXES_KEPT]:
        callindex.index(root)


def lint_alone(data: bytes, display: str, config: Config) -> tuple[list[Finding], LintError | None]:
    """Lint one file in a forked (or spawned) process of its own: if it crashes the analyser
    (a segfault in a C parser, the OOM killer), that file is an error and the run goes on."""
    context = _context()
    receive, send = context.Pipe(duplex=False)
    process = context.Process(  # type: ignore[attr-defined]
        target=_lint_to_pipe, args=(send, data, display, config), daemon=True
    )
    process.start()
    send.close()
    try:
        received: tuple[list[Finding], LintError | None] = receive.recv()
    except EOFError:
        process.join()
        code = process.exitcode or 0
        cause = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        return [], LintError(
            display, f"crashed the analyser ({cause}): too deeply nested or too large to analyse"
        )
    finally:
        receive.close()
    process.join()
    return received


def _lint_to_pipe(send: Any, data: bytes, display: str, config: Config) -> None:
    _init_worker()
    with engine.linting():
        send.send(engine.lint_bytes(data, display, config))
    send.close()


@contextlib.contextmanager
def _signals_deferred() -> Iterator[list[int]]:
    """SIGINT and SIGTERM are recorded, not raised, while a pool runs: an exception raised
    inside concurrent.futures (holding one of its locks) can deadlock the pool's shutdown."""
    received: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {s: signal.signal(s, lambda signum, frame: received.append(signum)) for s in signals}
    try:
        yield received
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _lint_batch(jobs: list[tuple[bytes, str, Config]]) -> list[Outcome]:
    """Lint a batch in a worker; after an interrupt (the parent sets the stop event) the rest
    of the batch is skipped and the results are short, which the parent no longer reads."""
    out = []
    for job in jobs:
        if _STOP is not None and _STOP.is_set():
            break
        out.append(engine.lint_job(job))
    return out


def _context() -> multiprocessing.context.BaseContext:
    # fork starts a worker in milliseconds with the linter already imported; elsewhere spawn.
    if sys.platform == "linux":
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


_STOP: Any = None  # in a worker: the pool's stop event (multiprocessing.Event)


def _init_worker(stop: Any = None, folders: tuple[str, ...] = ()) -> None:
    global _STOP
    _STOP = stop
    use_named_folders(folders)  # the parent's project roots of files with no marker
    sys.setrecursionlimit(max(sys.getrecursionlimit(), engine.RECURSION_LIMIT))
    gc.set_threshold(*engine.GC_THRESHOLDS)
    # The parent handles Ctrl-C and SIGTERM (a terminal sends SIGINT to the whole group) and
    # stops the workers itself; a forked worker must not inherit the CLI's SIGTERM handler.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    # A parent killed outright (kill -9, OOM killer) never stops its pool: a worker whose
    # parent is gone exits by itself instead of waiting forever for work.
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()


def _exit_with_parent(parent: int, every: float = 0.5) -> None:
    while os.getppid() == parent:
        time.sleep(every)
    os._exit(1)
