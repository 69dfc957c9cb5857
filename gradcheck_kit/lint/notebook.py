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
    out: list[str] = []
    continued = False  # a magic line ending in a backslash continues on the next line
    for line in lines:
        if continued or _MAGIC.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            out.append(f"{indent}pass" if not continued else "")
            continued = line.rstrip().endswith("\\")
        else:
            out.append(line)
    return out


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
