"""Lint results as plain data: what the engine produces and every renderer reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, order=True)
class RelatedLocation:
    """A place that contributes to a finding (one activation of a flagged stack)."""

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    cell: int | None = None  # notebook cell (1-based), when linting a notebook

    def sort_key(self) -> tuple[int, int, int, int, int, str]:
        return (
            self.cell or 0,
            self.line,
            self.column,
            self.end_line,
            self.end_column,
            self.message,
        )


@dataclass(frozen=True)
class Finding:
    """One rule violation. Lines and columns are 1-based; end positions are inclusive lines and
    exclusive columns, as in ruff's JSON output."""

    code: str
    name: str
    message: str
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    severity: str = "warning"
    depth: int | None = None
    activations: tuple[str, ...] = ()
    symbol: str | None = None
    depth_source: str | None = None  # e.g. "parameter 'n_layers' (default 8)"
    related: tuple[RelatedLocation, ...] = ()
    cell: int | None = None  # notebook cell (1-based), when linting a notebook

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["activations"] = list(self.activations)
        data["related"] = [asdict(r) for r in self.related]
        return data


@dataclass(frozen=True)
class LintError:
    """A file that could not be linted (unreadable, undecodable, unparseable)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message}


@dataclass
class LintResult:
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[LintError] = field(default_factory=list)

    def sort(self) -> None:
        self.findings.sort(key=Finding.sort_key)
        self.errors.sort(key=lambda e: e.path)
