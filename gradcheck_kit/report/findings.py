"""Lint results as plain data: what the engine produces and every renderer reads.

Each type has its ``to_dict`` and, next to it, the one ``from_dict`` that reads it back (the
lint cache and the pytest plugin's xdist transport both use it): strict, field by field, so
data this tool did not write raises ValueError instead of becoming a wrong finding.
"""

from __future__ import annotations

import os
from dataclasses import MISSING, Field, asdict, dataclass, field, fields, replace
from functools import cache
from typing import Any


@dataclass(frozen=True, order=True)
class RelatedLocation:
    """A place that contributes to a finding: one activation of a flagged stack, or (with a
    ``path``) a place in another file that the finding's depth came from (a call site, an
    option default, a config value), its path written as the finding's path is."""

    line: int
    column: int
    end_line: int
    end_column: int
    message: str
    cell: int | None = None  # notebook cell (1-based), when linting a notebook
    path: str | None = None  # another file (None: the finding's own)

    def sort_key(self) -> tuple[str, int, int, int, int, int, str]:
        return (
            self.path or "",
            self.cell or 0,
            self.line,
            self.column,
            self.end_line,
            self.end_column,
            self.message,
        )

    @classmethod
    def from_dict(cls, data: object) -> RelatedLocation:
        """The inverse of :func:`dataclasses.asdict`; ValueError for anything else."""
        location: RelatedLocation = _from_fields(cls, data)
        return location


@dataclass(frozen=True, order=True)
class Edit:
    """Replace the source from (line, column) to (end_line, end_column) with ``content``: an
    empty span inserts, an empty ``content`` deletes. Positions follow :class:`Finding`'s
    convention (1-based, exclusive end column, in characters); ``cell`` as a finding's."""

    line: int
    column: int
    end_line: int
    end_column: int
    content: str
    cell: int | None = None

    @classmethod
    def from_dict(cls, data: object) -> Edit:
        """The inverse of :func:`dataclasses.asdict`; ValueError for anything else."""
        edit: Edit = _from_fields(cls, data)
        return edit


#: How sure a fix is, in ruff's words: "safe" keeps what the code means (``--fix`` applies
#: it), "unsafe" may change it (``--unsafe-fixes``), "display-only" is a suggestion never
#: applied (shown as a diff with ``--show-fixes`` and in review).
APPLICABILITIES = ("safe", "unsafe", "display-only")


@dataclass(frozen=True)
class Fix:
    """A repair of one finding, as data: what it does (``message``), how sure it is
    (``applicability``) and its non-overlapping edits, all in the finding's file."""

    message: str
    applicability: str
    edits: tuple[Edit, ...]

    def __post_init__(self) -> None:
        if self.applicability not in APPLICABILITIES:
            raise ValueError(f"applicability {self.applicability!r} not in {APPLICABILITIES}")
        if not self.edits:
            raise ValueError("a fix has at least one edit")

    @classmethod
    def from_dict(cls, data: object) -> Fix:
        """The inverse of :func:`dataclasses.asdict`; ValueError for anything else."""
        fix: Fix = _from_fields(cls, data)
        return fix


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
    fix: Fix | None = None  # how to repair it (``--fix``, review suggestions)

    def sort_key(self) -> tuple[str, int, int, int, str]:
        return (self.path, self.cell or 0, self.line, self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["activations"] = list(self.activations)
        data["related"] = [asdict(r) for r in self.related]
        if self.fix is not None:
            data["fix"] = {
                "message": self.fix.message,
                "applicability": self.fix.applicability,
                "edits": [asdict(e) for e in self.fix.edits],
            }
        return data

    def moved(self, path: str) -> Finding:
        """This finding named by ``path`` (the same file named another way: relative, absolute),
        with the paths of its related locations in other files named the same way."""
        if path == self.path:
            return self
        related = self.related
        if any(r.path is not None for r in related):
            old, new = os.path.dirname(self.path) or ".", os.path.dirname(path)
            related = tuple(
                replace(r, path=_rebased(r.path, old, new)) if r.path else r for r in related
            )
        return replace(self, path=path, related=related)

    @classmethod
    def from_dict(cls, data: object, **given: Any) -> Finding:
        """The inverse of :meth:`to_dict`: exactly its fields, each of its declared type, or a
        ValueError. ``given`` supplies fields the dict leaves out (the lint cache stores a
        finding without its path: the same file may be named differently next time)."""
        finding: Finding = _from_fields(cls, data, **given)
        return finding


@dataclass(frozen=True)
class LintError:
    """A file that could not be linted (unreadable, undecodable, unparseable)."""

    path: str
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "message": self.message}

    @classmethod
    def from_dict(cls, data: object) -> LintError:
        """The inverse of :meth:`to_dict`; ValueError for anything else."""
        error: LintError = _from_fields(cls, data)
        return error


@dataclass
class LintResult:
    files_checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    errors: list[LintError] = field(default_factory=list)
    #: the findings ``--fix`` repaired (``findings`` holds what remains)
    fixed: list[Finding] = field(default_factory=list)
    #: whether unsafe fixes were enabled (``--unsafe-fixes``): the summary's hints count them
    unsafe_fixes: bool = False

    def can_fix(self, finding: Finding) -> bool:
        """Whether ``--fix`` would apply the finding's fix (an unsafe one when enabled): ruff
        marks such a finding ``[*]``."""
        allowed = ("safe", "unsafe") if self.unsafe_fixes else ("safe",)
        return finding.fix is not None and finding.fix.applicability in allowed

    def fixable(self) -> int:
        """Findings whose fix ``--fix`` would apply (with the unsafe ones when enabled)."""
        return sum(1 for f in self.findings if self.can_fix(f))

    def hidden_fixes(self) -> int:
        """Unsafe fixes that ``--unsafe-fixes`` would enable (0 when it is on)."""
        if self.unsafe_fixes:
            return 0
        return sum(1 for f in self.findings if f.fix and f.fix.applicability == "unsafe")

    def sort(self) -> None:
        self.findings.sort(key=Finding.sort_key)
        self.fixed.sort(key=Finding.sort_key)
        self.errors.sort(key=lambda e: e.path)


def _from_fields(cls: Any, data: object, **given: Any) -> Any:
    """An instance of the dataclass ``cls`` from a dict with exactly its fields (but those in
    ``given``), each of the declared type (JSON shapes: a tuple arrives as a list)."""
    if not isinstance(data, dict):
        raise ValueError(f"{cls.__name__}: not an object")
    declared = fields(cls)
    names = {f.name for f in declared} - set(given)
    if set(data) - names:
        raise ValueError(f"{cls.__name__}: unknown fields {sorted(set(data) - names)}")
    required = {f.name for f in declared if f.name in names and _no_default(f)}
    if required - set(data):
        raise ValueError(f"{cls.__name__}: missing fields {sorted(required - set(data))}")
    hints = _hints(cls)
    values = {name: _typed(value, hints[name]) for name, value in data.items()}
    return cls(**values, **given)


def _no_default(f: Field[Any]) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _rebased(path: str, old: str, new: str) -> str:
    """``path`` (named from the folder ``old``) named from the folder ``new`` instead."""
    try:
        relative = os.path.relpath(path, old)
    except ValueError:  # another drive (Windows)
        return path
    return os.path.normpath(os.path.join(new, relative))


@cache
def _hints(cls: Any) -> dict[str, str]:
    """The declared type of each field, as written (``from __future__ import annotations``)."""
    return {f.name: str(f.type) for f in fields(cls)}


def _typed(value: object, hint: str) -> object:
    """``value`` if it has the type ``hint`` names (the JSON shape of a field declared here)."""
    if hint.endswith(" | None"):
        if value is None:
            return None
        hint = hint[: -len(" | None")]
    if hint == "str" and isinstance(value, str):
        return value
    if hint == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if (
        hint == "tuple[str, ...]"
        and isinstance(value, list)
        and all(isinstance(item, str) for item in value)
    ):
        return tuple(value)
    if hint == "tuple[RelatedLocation, ...]" and isinstance(value, list):
        return tuple(RelatedLocation.from_dict(item) for item in value)
    if hint == "tuple[Edit, ...]" and isinstance(value, list):
        return tuple(Edit.from_dict(item) for item in value)
    if hint == "Fix":
        return Fix.from_dict(value)
    raise ValueError(f"{value!r} is not {hint}")
