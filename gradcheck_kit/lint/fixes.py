"""Fixes: applying the edits rules attach to findings (:class:`~gradcheck_kit.report.findings.Fix`).

A rule describes its repair as data - non-overlapping text edits at exact source spans, the
positions its findings already use - and this module applies them. Text edits at spans the
interpreter located keep every byte the fix does not touch (formatting, comments), as ruff's
fixes do; the result is then parsed with libcst before anything is written, so a fix can never
leave a file that does not parse. This module imports neither libcst nor torch at import time:
plain ``lint`` stays as light as it was.
"""

from __future__ import annotations

import difflib
import itertools
from collections.abc import Iterable, Sequence

from gradcheck_kit.report.findings import Edit, Finding, Fix
from gradcheck_kit.report.source import LINE_BREAK


def applicable(fix: Fix | None, *, unsafe: bool = False) -> bool:
    """Whether ``--fix`` applies this fix: safe ones always, unsafe ones with
    ``--unsafe-fixes``, display-only suggestions never."""
    if fix is None:
        return False
    return fix.applicability == "safe" or (unsafe and fix.applicability == "unsafe")


def fixable(findings: Iterable[Finding], *, unsafe: bool = False) -> list[Finding]:
    """The findings whose fix ``--fix`` (with ``unsafe``: ``--unsafe-fixes``) would apply."""
    return [f for f in findings if applicable(f.fix, unsafe=unsafe)]


class _Offsets:
    """(1-based line, 1-based column in characters) -> offset into the text."""

    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in LINE_BREAK.finditer(text)]
        self.size = len(text)

    def __call__(self, line: int, column: int) -> int:
        if not 0 < line <= len(self.starts):
            raise ValueError(f"line {line} is outside the source ({len(self.starts)} lines)")
        offset = self.starts[line - 1] + column - 1
        limit = self.starts[line] if line < len(self.starts) else self.size
        if column < 1 or offset > limit:
            raise ValueError(f"column {column} is outside line {line}")
        return offset


def apply_fixes(text: str, fixes: Sequence[Fix]) -> tuple[str, list[Fix]]:
    """``text`` with ``fixes`` applied, and the fixes that were. Fixes are taken in source order;
    one that overlaps a fix already taken is left for the next pass (as ruff does), so the
    result is always the text with a consistent set of whole fixes applied. A fix whose edits
    fall outside the text raises ValueError: it was computed for other text."""
    where = _Offsets(text)
    spans: list[tuple[int, int, Fix, list[tuple[int, int, str]]]] = []
    for fix in fixes:
        edits = sorted(
            (where(e.line, e.column), where(e.end_line, e.end_column), e.content) for e in fix.edits
        )
        if any(start > end for start, end, _ in edits):
            raise ValueError(f"fix {fix.message!r} has an edit that ends before it starts")
        if any(a[1] > b[0] for a, b in itertools.pairwise(edits)):
            raise ValueError(f"fix {fix.message!r} has overlapping edits")
        spans.append((edits[0][0], edits[-1][1], fix, edits))
    taken: list[tuple[int, int, str]] = []
    applied: list[Fix] = []
    for start, end, fix, edits in sorted(spans, key=lambda s: (s[0], s[1])):
        if any(_overlap(start, end, s, e) for s, e, _ in taken):
            continue
        taken.extend(edits)
        applied.append(fix)
    out = text
    for start, end, content in sorted(taken, reverse=True):
        out = out[:start] + content + out[end:]
    return out, applied


def _overlap(start: int, end: int, other_start: int, other_end: int) -> bool:
    """Two spans overlap, or two insertions land at one point (their order would be a guess)."""
    if start == end == other_start == other_end:
        return True
    return start < other_end and other_start < end


def unified_diff(path: str, before: str, after: str) -> str:
    """A unified diff of a file's fix, as ``git diff`` and ``patch -p0`` read it ('' when
    nothing changes)."""
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    )


def parses(text: str) -> str | None:
    """None when ``text`` parses as Python (libcst, newest grammar), else why not: a fix is
    never written unless its result parses."""
    import libcst

    try:
        libcst.parse_module(text)
    except libcst.ParserSyntaxError as exc:
        return f"line {exc.raw_line}:{exc.raw_column}: {exc.message}"
    return None


__all__ = ["Edit", "applicable", "apply_fixes", "fixable", "parses", "unified_diff"]
