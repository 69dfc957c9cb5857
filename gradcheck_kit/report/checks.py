"""Runtime checks as data: one :class:`CheckOutcome` per declared (or named) target - its
gradient report, or why there is none - and the renderings of a list of them that
``gradcheck-kit check`` prints (``full``, ``json``). ``audit`` shows the same outcomes in its
own report (:mod:`gradcheck_kit.report.audit`).
"""

from __future__ import annotations

import io
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gradcheck_kit.report.gradients import FailureKind

if TYPE_CHECKING:
    from gradcheck_kit.report.gradients import GradientReport

__all__ = ["CheckOutcome", "checks_full", "checks_json", "checks_summary"]


@dataclass
class CheckOutcome:
    """One declared runtime check: its report, or why there is none."""

    target: str
    report: GradientReport | None = None
    skipped: str | None = None  # an optional dependency is missing: not a failure
    error: str | None = None  # the target could not be loaded or run: a failure
    usage_error: bool = False  # the error is a usage error (factory arity, ...): exit 2
    model: str | None = None  # class the factory builds
    model_file: str | None = None
    #: (resolved source file, qualified name) of every user class and function the check
    #: exercises: the factory (through functools.partial and decorators), the model's class and
    #: its user base classes, and every user module inside it - what a finding can be about
    covers: frozenset[tuple[str, str]] = frozenset()

    @property
    def status(self) -> str:
        if self.skipped is not None:
            return "skipped"
        if self.error is not None or self.report is None:
            return "error"
        return "passed" if self.report.passed else "failed"

    @property
    def verdict(self) -> str:
        """One line: what happened to this check."""
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        if self.error is not None or self.report is None:
            return f"error: {self.error}"
        failure = self.report.failure
        if failure is None:
            return "passed"
        headline = failure.headline()  # as the report panel words it (NaN: where)
        if failure.kind is FailureKind.ERROR:
            return f"{headline}: {failure.message.splitlines()[0]}"
        return headline

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "status": self.status,
            "verdict": self.verdict,
            "model": self.model,
            "report": self.report.to_dict() if self.report is not None else None,
        }

    def to_wire(self) -> dict[str, Any]:
        """Everything, for :meth:`from_wire` (an isolated child sends its outcome this way)."""
        return {
            "target": self.target,
            "report": self.report.to_dict() if self.report is not None else None,
            "skipped": self.skipped,
            "error": self.error,
            "usage_error": self.usage_error,
            "model": self.model,
            "model_file": self.model_file,
            "covers": sorted(self.covers),
        }

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> CheckOutcome:
        from gradcheck_kit.report.gradients import GradientReport

        report = data.get("report")
        return cls(
            target=str(data["target"]),
            report=GradientReport.from_dict(report) if report else None,
            skipped=data.get("skipped"),
            error=data.get("error"),
            usage_error=bool(data.get("usage_error")),
            model=data.get("model"),
            model_file=data.get("model_file"),
            covers=frozenset((str(f), str(n)) for f, n in data.get("covers", ())),
        )


def outcome_dict(outcome: CheckOutcome) -> dict[str, Any]:
    """A report's own dict; for a target without a report, what happened to it."""
    status = outcome.status
    if outcome.report is not None:
        return {**outcome.report.to_dict(), "status": status}
    return {
        "target": outcome.target,
        "status": status,
        "passed": None if status == "skipped" else False,
        "error": outcome.error,
        "skipped": outcome.skipped,
    }


def checks_summary(outcomes: Sequence[CheckOutcome]) -> str:
    counts = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "error")}
    words = {"passed": "passed", "failed": "failed", "error": "errors"}
    n_checks = len(outcomes)
    text = f"{n_checks} check{'s' if n_checks != 1 else ''}: " + ", ".join(
        f"{n} {words[s] if n != 1 else s}" for s, n in counts.items()
    )
    skipped = sum(o.status == "skipped" for o in outcomes)
    return text + (f", {skipped} skipped" if skipped else "")


def checks_json(outcomes: Sequence[CheckOutcome]) -> str:
    """``check --format json``: a list, one object per target."""
    return json.dumps([outcome_dict(o) for o in outcomes], indent=2) + "\n"


def checks_full(
    outcomes: Sequence[CheckOutcome], *, quiet: bool, summary: bool, to_file: bool
) -> str:
    """``check --format full``: each report as the terminal shows it, then (``summary``) a
    count line. Printed to stdout unless ``to_file`` (then returned, without colour, 110
    columns); returns "" when it printed. Piped, it is 110 columns wide unless ``COLUMNS`` says
    otherwise."""
    from rich.console import Console
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(
        file=buffer if to_file else sys.stdout,
        record=False,
        width=110 if to_file or not (sys.stdout.isatty() or os.environ.get("COLUMNS")) else None,
        no_color=to_file,
    )
    for outcome in outcomes:
        if quiet and outcome.status == "passed":
            continue
        if outcome.report is not None:
            console.print(outcome.report)
        else:
            style = "dim" if outcome.status == "skipped" else "red"
            console.print(Text(f"{outcome.target}: {outcome.verdict}", style=style))
    if summary and not quiet:
        console.print(Text(checks_summary(outcomes)))
    return buffer.getvalue() if to_file else ""
