"""Fixes: applying the edits rules attach to findings (:class:`~gradcheck_kit.report.findings.Fix`).

A rule describes its repair as data - non-overlapping text edits at exact source spans, the
positions its findings already use - and this module applies them. Text edits at spans the
interpreter located keep every byte the fix does not touch (formatting, comments), as ruff's
fixes do; the result is linted again (parsed by the running Python's own parser) before anything
is written, so a fix can never leave a file that does not parse. Neither libcst nor torch is
imported: ``--fix`` costs the lint plus a second lint of the files it changed.

:func:`fix_bytes` is the fix loop ``--fix`` runs on each file: lint, apply the applicable fixes,
lint the result again (a result that does not parse is an error), until no applicable fix is left (at most
:data:`MAX_PASSES` passes). A file that does not lint cleanly (a syntax error, a
:class:`~gradcheck_kit.report.findings.LintError`) is never touched; a fix whose result does not
parse, cannot be linted, or still has the finding it was meant to remove, is a bug in this tool:
the loop stops with an error naming the file and the rule, and the text from before that pass.
Notebooks are fixed cell by cell, in the ``.ipynb`` JSON (outputs and metadata untouched).
:func:`fix_text` applies the fixes of every applicability (display-only suggestions included)
to a source text: what the rule pages' "Fix" sections are tested with.
"""

from __future__ import annotations

import bisect
import dataclasses
import difflib
import io
import itertools
import json
import re
import tokenize
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gradcheck_kit.config import Config
from gradcheck_kit.report.findings import APPLICABILITIES, Edit, Finding, Fix, LintError
from gradcheck_kit.report.source import LINE_BREAK, Offsets

#: Passes of the fix loop before it gives up (a fix that keeps making new fixable findings).
MAX_PASSES = 10


def applicable(fix: Fix | None, *, unsafe: bool = False) -> bool:
    """Whether ``--fix`` applies this fix: safe ones always, unsafe ones with
    ``--unsafe-fixes``, display-only suggestions never."""
    if fix is None:
        return False
    return fix.applicability == "safe" or (unsafe and fix.applicability == "unsafe")


def fixable(findings: Iterable[Finding], *, unsafe: bool = False) -> list[Finding]:
    """The findings whose fix ``--fix`` (with ``unsafe``: ``--unsafe-fixes``) would apply."""
    return [f for f in findings if applicable(f.fix, unsafe=unsafe)]


def apply_fixes(text: str, fixes: Sequence[Fix]) -> tuple[str, list[Fix]]:
    """``text`` with ``fixes`` applied, and the fixes that were. Fixes are taken in source order;
    one that overlaps a fix already taken is left for the next pass (as ruff does), so the
    result is always the text with a consistent set of whole fixes applied. A fix whose edits
    fall outside the text raises ValueError: it was computed for other text."""
    where = Offsets(text)
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


def parses(text: str) -> str | None:
    """None when ``text`` parses as Python (the running Python's parser), else why not."""
    import ast
    import warnings

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError) as exc:
        where = f"line {exc.lineno}:{exc.offset}: " if isinstance(exc, SyntaxError) else ""
        return f"{where}{exc.msg if isinstance(exc, SyntaxError) else exc}"
    return None


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


def applicabilities(unsafe: bool) -> tuple[str, ...]:
    """What ``--fix`` applies: safe fixes, and unsafe ones with ``--unsafe-fixes``."""
    return ("safe", "unsafe") if unsafe else ("safe",)


@dataclass
class FixedFile:
    """The fix loop's outcome for one file (or stdin buffer)."""

    path: str
    before: bytes
    after: bytes
    fixed: list[Finding] = field(default_factory=list)  # as found in the pass that fixed them
    findings: list[Finding] = field(default_factory=list)  # what is left (a lint of ``after``)
    error: LintError | None = None  # not fixed (or not fully): a syntax error, a fix's bug

    @property
    def changed(self) -> bool:
        return self.after != self.before

    def diff(self) -> str:
        """The unified diff of the fixes ('' when nothing changed)."""
        return unified_diff(self.path, _as_text(self.before), _as_text(self.after))


class _Bug(Exception):
    """A fix broke its file or did not remove its finding: a bug in gradcheck-kit."""


def fix_bytes(
    data: bytes,
    display: str,
    config: Config,
    applies: Sequence[str] = ("safe",),
    findings: list[Finding] | None = None,
) -> FixedFile:
    """Apply the fixes of the ``applies`` applicabilities to a file's bytes until none is left
    (``findings``: a lint of ``data`` already made, else it is linted here). Nothing is
    written: the caller writes :attr:`FixedFile.after` where it changed."""
    from gradcheck_kit.lint.engine import INTERNAL_ERROR, lint_bytes

    outcome = FixedFile(display, data, data)
    error: LintError | None = None
    if findings is None:
        findings, error = lint_bytes(data, display, config)
    outcome.findings = findings
    if error is not None:  # a syntax error, an undecodable file: never touched
        outcome.error = error
        return outcome
    notebook = display.endswith(".ipynb")
    for _ in range(MAX_PASSES):
        todo = [f for f in outcome.findings if f.fix and f.fix.applicability in applies]
        if not todo:
            return outcome
        try:
            after, applied, moved = (_apply_notebook if notebook else _apply_source)(
                outcome.after,
                [f.fix for f in todo if f.fix is not None],
                [(f.cell, f.line, f.column) for f in todo],
            )
            if not applied:
                raise _Bug("no fix could be applied")
            done = [f for f in todo if any(f.fix == fix for fix in applied)]
            # linting again parses the result (with the running Python's own parser, which
            # knows every syntax the user's Python does): a result that does not parse is
            # an error here, never written
            again, error = lint_bytes(after, display, config)
            if error is not None:
                what = (
                    "made code that does not parse"
                    if "syntax" in error.message
                    else ("left a file that cannot be linted")
                )
                raise _Bug(f"{_rules(done)} {what} ({error.message})")
            _check_removed(done, again, moved)
        except (_Bug, ValueError) as exc:
            outcome.error = LintError(
                display,
                f"{INTERNAL_ERROR} (fixing {_rules(todo)}: {exc}); the file is left as it was "
                "before that fix; please report it with this file attached",
            )
            return outcome
        outcome.after, outcome.findings = after, again
        outcome.fixed.extend(done)
    if any(f.fix and f.fix.applicability in applies for f in outcome.findings):
        outcome.error = LintError(
            display,
            f"{INTERNAL_ERROR} (fixes did not converge after {MAX_PASSES} passes: "
            f"{_rules(outcome.findings)} still fixable); please report it with this file attached",
        )
    return outcome


def fix_text(
    text: str,
    path: str = "<string>",
    config: Config | None = None,
    applies: Sequence[str] = APPLICABILITIES,
) -> FixedFile:
    """``text`` with the fixes of every applicability applied (display-only suggestions too,
    which ``--fix`` never applies): how a rule page's "Fix" example is checked."""
    return fix_bytes(text.encode("utf-8"), path, config or Config(), applies)


def fix_file(
    path: Path,
    config: Config,
    applies: Sequence[str],
    *,
    write: bool,
    findings: list[Finding] | None = None,
) -> FixedFile:
    """The fix loop on one file on disk (``findings``: its lint, when already made), written
    back atomically (its mode, encoding and line endings kept) when ``write`` and something
    changed."""
    from gradcheck_kit._io import write_atomic
    from gradcheck_kit.lint.discovery import read_file

    data, error = read_file(path)
    if data is None:
        return FixedFile(str(path), b"", b"", error=error)
    outcome = fix_bytes(data, str(path), config, applies, findings)
    if write and outcome.changed:
        try:
            write_atomic(path, outcome.after)
        except OSError as exc:  # nothing was written: the file's own findings stand
            outcome.findings = fix_bytes(data, str(path), config, (), findings).findings
            outcome.after = outcome.before
            outcome.fixed = []
            outcome.error = LintError(str(path), f"cannot write the fixes: {exc.strerror or exc}")
    return outcome


def one_fix_diff(data: bytes, finding: Finding) -> str:
    """The diff of ``finding``'s fix alone on its file's bytes (a notebook: on its cell's
    source), as ``--show-fixes`` shows each fix; '' when it cannot be applied."""
    if finding.fix is None:
        return ""
    try:
        if finding.cell is None:
            text = data.decode(_encoding(data))
            after, _ = apply_fixes(text, [finding.fix])
            return unified_diff(finding.path, text, after)
        source = json.loads(data.decode("utf-8-sig"))["cells"][finding.cell - 1]["source"]
        text = "".join(source) if isinstance(source, list) else str(source)
        edits = tuple(dataclasses.replace(e, cell=None) for e in finding.fix.edits)
        after, _ = apply_fixes(text, [dataclasses.replace(finding.fix, edits=edits)])
        return unified_diff(f"{finding.path}:cell {finding.cell}", text, after)
    except (ValueError, LookupError, SyntaxError, TypeError):
        return ""


def _rules(findings: Iterable[Finding]) -> str:
    return ", ".join(sorted({f.code for f in findings})) or "no rule"


def _as_text(data: bytes) -> str:
    try:
        return data.decode(_encoding(data))
    except (UnicodeDecodeError, LookupError, SyntaxError):
        return data.decode("utf-8", errors="replace")


def _encoding(data: bytes) -> str:
    """The file's encoding as Python reads it (``utf-8-sig`` keeps a BOM)."""
    encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    return encoding


#: (old cell or None, old line, old column) -> the same place after the edits
_Moved = dict[tuple[int | None, int, int], tuple[int | None, int, int]]


def _native(fix: Fix, newline: str) -> Fix:
    """A fix whose inserted line breaks are the file's own (CRLF in a CRLF file)."""
    if newline == "\n" or not any("\n" in e.content for e in fix.edits):
        return fix
    edits = tuple(
        dataclasses.replace(e, content=re.sub(r"\r?\n", newline, e.content)) for e in fix.edits
    )
    return dataclasses.replace(fix, edits=edits)


def _apply_text(
    text: str, fixes: list[Fix], cell: int | None, places: Iterable[tuple[int, int]]
) -> tuple[str, list[Fix], _Moved]:
    """``apply_fixes`` on one text, and where each of ``places`` (line, column) ends up."""
    found = LINE_BREAK.search(text)
    newline = found.group() if found else "\n"
    native = [_native(fix, newline) for fix in fixes]
    after, applied = apply_fixes(text, native)
    where = Offsets(text)
    edits = sorted(
        (where(e.line, e.column), where(e.end_line, e.end_column), len(e.content))
        for fix in applied
        for e in fix.edits
    )
    starts = Offsets(after).starts
    moved: _Moved = {}
    for line, column in places:
        new = _move(where(line, column), edits)
        new_line = bisect.bisect_right(starts, new)
        moved[(cell, line, column)] = (cell, new_line, new - starts[new_line - 1] + 1)
    return after, [fixes[native.index(fix)] for fix in applied], moved


def _move(offset: int, edits: list[tuple[int, int, int]]) -> int:
    """Where ``offset`` is after the (sorted, disjoint) edits: shifted by those before it; one
    inside a replaced span moves to the start of its replacement."""
    shift = 0
    for start, end, size in edits:
        if end <= offset:
            shift += size - (end - start)
        elif start <= offset:
            return start + shift
    return offset + shift


def _apply_source(
    data: bytes, fixes: list[Fix], places: list[tuple[int | None, int, int]]
) -> tuple[bytes, list[Fix], _Moved]:
    encoding = _encoding(data)
    after, applied, moved = _apply_text(
        data.decode(encoding), fixes, None, [(line, column) for _, line, column in places]
    )
    return after.encode(encoding), applied, moved


def _apply_notebook(
    data: bytes, fixes: list[Fix], places: list[tuple[int | None, int, int]]
) -> tuple[bytes, list[Fix], _Moved]:
    """The fixes applied to the cells' sources in the notebook's JSON; every other byte of
    meaning (outputs, metadata, key order, indentation) is kept."""
    raw = data.decode("utf-8-sig")
    notebook: Any = json.loads(raw)
    cells = notebook["cells"]
    by_cell: dict[int, list[Fix]] = {}
    for fix in fixes:
        cell = fix.edits[0].cell
        if cell is not None and 0 < cell <= len(cells):
            by_cell.setdefault(cell, []).append(fix)
    moved: _Moved = {}
    applied: list[Fix] = []
    for cell, cell_fixes in sorted(by_cell.items()):
        source = cells[cell - 1].get("source", "")
        text = "".join(source) if isinstance(source, list) else str(source)
        local = [
            dataclasses.replace(f, edits=tuple(dataclasses.replace(e, cell=None) for e in f.edits))
            for f in cell_fixes
        ]
        here = [(line, column) for at, line, column in places if at == cell]
        after, done, where = _apply_text(text, local, cell, here)
        moved.update(where)
        applied.extend(cell_fixes[local.index(f)] for f in done)
        cells[cell - 1]["source"] = (
            after.splitlines(keepends=True) if isinstance(source, list) else after
        )
    return _dump_like(notebook, raw).encode("utf-8"), applied, moved


def _dump_like(notebook: object, raw: str) -> str:
    """JSON as the notebook was written: its indentation, its escaping, its last line break."""
    second = raw.split("\n", 2)[1] if raw.count("\n") >= 2 else ""
    indent = len(second) - len(second.lstrip(" ")) if raw.lstrip().startswith("{\n") else None
    ascii_only = raw.isascii() and "\\u" in raw
    text = json.dumps(notebook, indent=indent, ensure_ascii=ascii_only)
    return text + ("\n" if raw.endswith("\n") else "")


def _check_removed(done: list[Finding], again: list[Finding], moved: _Moved) -> None:
    """A fix that does not remove its finding: the same rule still reports at the place the
    finding moved to."""
    now = {(f.code, f.cell, f.line, f.column) for f in again}
    for finding in done:
        key = (finding.cell, finding.line, finding.column)
        place = moved.get(key, key)
        if (finding.code, *place) in now:
            where = f"{finding.line}:{finding.column}"
            if finding.cell is not None:
                where = f"cell {finding.cell}:{where}"
            raise _Bug(f"the fix of {finding.code} at {where} did not remove its finding")


__all__ = [
    "MAX_PASSES",
    "Edit",
    "FixedFile",
    "applicabilities",
    "applicable",
    "apply_fixes",
    "fix_bytes",
    "fix_file",
    "fix_text",
    "fixable",
    "one_fix_diff",
    "parses",
    "unified_diff",
]
