"""Jupyter notebooks (``*.ipynb``) as Python source, and findings mapped back to cells.

The code cells are joined into one module, so a class defined in one cell is resolved where a
later cell uses it. IPython syntax is not Python: a cell that starts with a cell magic
(``%%bash``) is left out whole, and line magics, shell escapes and help lines (``%time``,
``!pip install``, ``files = !ls``, ``obj?``) become ``pass`` at the same indentation, so line
numbers and blocks stay intact. Cells are numbered as the notebook shows them: the 1-based
position among all cells, markdown included (as ruff does).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from gradcheck_kit.report.findings import Finding, Fix, RelatedLocation

_MAGIC = re.compile(r"^\s*(?:[%!]|\?)|^\s*[\w.]+\s*\?\??\s*$|^\s*[\w.,\s]+=\s*[%!]")


class NotebookError(ValueError):
    """The file is not a notebook this tool can read."""


@dataclass(frozen=True)
class CellSpan:
    cell: int  # 1-based position among all cells
    first_line: int  # 1-based line of the cell's first line in the joined source
    line_count: int


@dataclass(frozen=True)
class NotebookSource:
    text: str  # the code cells, joined
    cells: tuple[CellSpan, ...]
    #: lines of ``text`` that are not the cell's own (a magic made ``pass``): never edited
    rewritten: frozenset[int] = frozenset()

    def locate(self, line: int) -> tuple[int, int] | None:
        """(cell, line within the cell) of a line of the joined source."""
        for span in self.cells:
            if span.first_line <= line < span.first_line + span.line_count:
                return span.cell, line - span.first_line + 1
        return None


def _cell_lines(source: object) -> list[str]:
    if isinstance(source, list):
        text = "".join(str(part) for part in source)
    elif isinstance(source, str):
        text = source
    else:
        raise NotebookError("a cell's source is neither a string nor a list of strings")
    return text.splitlines()


def _python_lines(lines: list[str]) -> list[str]:
    """A cell's lines with IPython syntax replaced by ``pass`` on the same line, at an
    indentation Python accepts there (``  %matplotlib inline`` at the top level is a top-level
    ``pass``; ``    !nvidia-smi`` under an ``if`` is its body).
    A line is IPython syntax only where a statement starts, as IPython decides: not inside
    brackets, a string or after a backslash (``"%d"\n    % n`` is Python)."""
    out: list[str] = []
    scan = _Scanner()
    continued = False  # a magic line ending in a backslash continues on the next line
    for line in lines:
        if continued:
            out.append("")
            continued = line.rstrip().endswith("\\")
        elif scan.at_statement() and _MAGIC.match(line):
            out.append(scan.placeholder(line))
            continued = line.rstrip().endswith("\\")
        else:
            out.append(line)
            scan.feed(line)
    return out


def _indent(line: str) -> tuple[int, str]:
    """(width, text) of a line's indentation (tabs to multiples of 8, as Python counts)."""
    text = line[: len(line) - len(line.lstrip(" \t\f"))]
    return len(text.expandtabs(8)), text


class _Scanner:
    """Just enough of Python's tokenizer to tell where a statement may start: open brackets,
    open strings, a trailing backslash, the indentation levels of the block, and whether the
    last statement opened a block (ends with ``:``)."""

    def __init__(self) -> None:
        self.depth = 0
        self.quote = ""  # the open string's delimiter (a triple quote spans lines)
        self.backslash = False
        self.levels: list[tuple[int, str]] = [(0, "")]
        self.opens = False  # the last statement ends with ':' (a block follows)

    def at_statement(self) -> bool:
        return not (self.depth or self.quote or self.backslash)

    def placeholder(self, line: str) -> str:
        """``pass`` where a statement indented as ``line`` may stand: the body of an opened
        block if it is deeper, else at the nearest enclosing level."""
        self._indent_to(_indent(line))
        return self.levels[-1][1] + "pass"

    def _indent_to(self, indent: tuple[int, str]) -> None:
        if self.opens and indent[0] > self.levels[-1][0]:
            self.levels.append(indent)
        while len(self.levels) > 1 and self.levels[-1][0] > indent[0]:
            self.levels.pop()
        self.opens = False

    def feed(self, line: str) -> None:
        if self.at_statement():
            stripped = line.strip()
            if not stripped or stripped.startswith("#"):
                return
            self._indent_to(_indent(line))
        code = self._code(line)
        self.backslash = code.endswith("\\") and not self.quote
        if not (self.depth or self.quote or self.backslash):
            self.opens = code.endswith(":")

    def _code(self, line: str) -> str:
        """``line`` without its comment and trailing spaces; brackets and strings tracked."""
        i, n = 0, len(line)
        while i < n:
            if self.quote:
                if line[i] == "\\":
                    i += 2
                    continue
                if line.startswith(self.quote, i):
                    i += len(self.quote)
                    self.quote = ""
                    continue
                i += 1
                continue
            char = line[i]
            if char == "#":
                return line[:i].rstrip()
            if char in "\"'":
                triple = char * 3
                self.quote = triple if line.startswith(triple, i) else char
                i += len(self.quote)
                continue
            if char in "([{":
                self.depth += 1
            elif char in ")]}":
                self.depth = max(0, self.depth - 1)
            i += 1
        if self.quote in ("'", '"'):
            self.quote = ""  # an unterminated one-line string: Python's error, not ours
        return line.rstrip()


def code_cells(data: str) -> list[tuple[int, str]]:
    """``(cell number, source)`` of every code cell, IPython syntax untouched."""
    try:
        notebook = json.loads(data)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"not a valid notebook (invalid JSON: {exc})") from exc
    cells = notebook.get("cells") if isinstance(notebook, dict) else None
    if not isinstance(cells, list):
        raise NotebookError("not a valid notebook (no 'cells' list; nbformat 4 is required)")
    language = (
        notebook.get("metadata", {}).get("language_info", {}).get("name", "python")
        if isinstance(notebook.get("metadata"), dict)
        else "python"
    )
    if isinstance(language, str) and language.lower() not in ("python", "python3", "ipython"):
        return []  # an R or Julia notebook has nothing for this tool
    out = []
    for number, cell in enumerate(cells, start=1):
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            out.append((number, "\n".join(_cell_lines(cell.get("source", "")))))
    return out


def notebook_source(data: str) -> NotebookSource:
    """The notebook's code cells as one Python module, with the cell of every line."""
    parts: list[str] = []
    spans: list[CellSpan] = []
    rewritten: set[int] = set()
    line = 1
    for number, source in code_cells(data):
        lines = source.splitlines()
        if not lines or lines[0].lstrip().startswith("%%"):
            continue  # a cell magic: the cell is not Python
        python = _python_lines(lines)
        spans.append(CellSpan(number, line, len(python)))
        rewritten.update(
            line + i for i, (a, b) in enumerate(zip(lines, python, strict=True)) if a != b
        )
        parts.extend(python)
        line += len(python)
    text = "\n".join(parts) + ("\n" if parts else "")
    return NotebookSource(text, tuple(spans), frozenset(rewritten))


def to_cells(findings: Sequence[Finding], source: NotebookSource) -> list[Finding]:
    """Findings on the joined source -> findings on (cell, line within the cell)."""
    return [_to_cell(finding, source) for finding in findings]


def _to_cell(finding: Finding, source: NotebookSource) -> Finding:
    start = source.locate(finding.line)
    if start is None:
        return finding
    cell, line = start
    end = source.locate(finding.end_line)
    if end is not None and end[0] == cell:
        end_line, end_column = end[1], finding.end_column
    else:  # a span that runs into the next cell ends with this one
        span = next(s for s in source.cells if s.cell == cell)
        end_line, end_column = span.line_count, finding.end_column
        end_line = max(end_line, line)
    related = []
    for item in finding.related:
        if item.path is not None:  # in another file: its own lines
            related.append(item)
            continue
        where = source.locate(item.line)
        if where is None:
            continue
        item_end = source.locate(item.end_line)
        related.append(
            dataclasses.replace(
                item,
                line=where[1],
                end_line=item_end[1] if item_end and item_end[0] == where[0] else where[1],
                cell=where[0],
            )
        )
    return dataclasses.replace(
        finding,
        line=line,
        end_line=end_line,
        end_column=end_column,
        cell=cell,
        related=tuple(sorted(related, key=RelatedLocation.sort_key)),
        fix=_fix_to_cell(finding.fix, source),
    )


def _fix_to_cell(fix: Fix | None, source: NotebookSource) -> Fix | None:
    """A fix's edits in (cell, line within the cell); None (no fix in a notebook) when an edit
    leaves its cell or touches a line that is not the cell's own (a magic)."""
    if fix is None:
        return None
    edits = []
    for edit in fix.edits:
        start, end = source.locate(edit.line), source.locate(edit.end_line)
        lines = range(edit.line, edit.end_line + 1)
        if start is None or end is None or start[0] != end[0]:
            return None
        if any(n in source.rewritten for n in lines):
            return None
        edits.append(dataclasses.replace(edit, line=start[1], end_line=end[1], cell=start[0]))
    if len({e.cell for e in edits}) != 1:
        return None  # one fix, one cell: a notebook's cells are edited one at a time
    return dataclasses.replace(fix, edits=tuple(edits))
