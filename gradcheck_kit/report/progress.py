"""A progress bar for long gradient checks: shown on a terminal, silent everywhere else.

The search calls :meth:`SearchProgress.example` once per forward + backward run. Nothing is
drawn until a run has lasted :data:`SHOW_AFTER_S` seconds (short checks never flash a bar), and
nothing at all when stderr is not a terminal or when running under pytest (whose capture would
swallow it or, with ``-s``, interleave it with the test output).
"""

from __future__ import annotations

import os
import random
import sys
import time
from typing import TYPE_CHECKING, Any

from rich.console import Console

if TYPE_CHECKING:
    from rich.progress import Progress

SHOW_AFTER_S = 1.0


def progress_wanted(stream: Any = None) -> bool:
    """The default: a terminal, and not inside a pytest run."""
    stream = stream if stream is not None else sys.stderr
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(callable(isatty) and isatty())


class SearchProgress:
    """examples done / total, and the depth being run. Use as a context manager."""

    def __init__(
        self,
        target: str,
        total: int,
        *,
        enabled: bool,
        console: Console | None = None,
        show_after_s: float = SHOW_AFTER_S,
    ) -> None:
        self.target = target
        self.total = total
        self.enabled = enabled
        self.console = console
        self.show_after_s = show_after_s
        self.done = 0
        self.shrinking = False
        self._started = time.monotonic()
        self._progress: Progress | None = None
        self._task: Any = None

    def __enter__(self) -> SearchProgress:
        self._started = time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def example(self, depth: int, *, shrinking: bool = False) -> None:
        """One more run is about to start, at ``depth``."""
        self.done += 1
        self.shrinking = self.shrinking or shrinking
        if not self.enabled:
            return
        if self._progress is None:
            if time.monotonic() - self._started < self.show_after_s:
                return
            # imported only when a bar is shown: importing rich.progress draws from Python's
            # global random, which a check must leave as it found it
            state = random.getstate()
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            random.setstate(state)
            self._progress = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeElapsedColumn(),
                console=self.console or Console(stderr=True),
                transient=True,
            )
            self._task = self._progress.add_task(
                f"gradcheck {self.target}", total=self.total, detail=""
            )
            self._progress.start()
        phase = "shrinking, " if self.shrinking else ""
        self._progress.update(
            self._task,
            completed=self.done,
            total=max(self.total, self.done),
            detail=f"{phase}depth {depth}",
        )
        self._progress.refresh()
