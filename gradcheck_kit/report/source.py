"""Source text for code frames, read the way Python numbers its lines.

``str.splitlines`` also breaks at form feeds, vertical tabs, U+2028 and other separators that
Python's tokenizer keeps inside a line, so a frame built from it drifts below such a character.
Here lines end only at ``\\n``, ``\\r\\n`` and ``\\r``, and the other separators are shown as a
space (a terminal or a Markdown renderer would break the line at them too).
"""

from __future__ import annotations

import bisect
import json
import os
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where Python ends a line (not at form feeds)
# Characters that str.splitlines or a renderer treats as a line break, but Python does not.
_INLINE_BREAKS = str.maketrans(dict.fromkeys("\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))


class Offsets:
    """(1-based line, 1-based column in characters) -> offset into ``text``, lines ending where
    Python ends them (:data:`LINE_BREAK`): how a fix's edits are placed. ValueError for a
    position outside the text (the edit was computed for other text)."""

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


def python_lines(text: str) -> list[str]:
    """``text`` split into the lines Python numbers (1-based index = line number - 1)."""
    lines = LINE_BREAK.split(text.translate(_INLINE_BREAKS))
    if lines and lines[-1] == "":
        lines.pop()  # the text ends with a line break: no empty last line
    return lines


def read_source(path: str, cell: int | None = None) -> str | None:
    """The text a finding's line numbers refer to: the file, or one notebook cell (1-based among
    all cells, as the linter counts them). None when it cannot be read."""
    try:
        if cell is None:
            return Path(path).read_text(encoding="utf-8", errors="replace")
        cells = json.loads(Path(path).read_text(encoding="utf-8-sig"))["cells"]
        source = cells[cell - 1]["source"]
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return None
    return "".join(source) if isinstance(source, list) else str(source)


#: A notebook larger than this is not read to place its findings (they keep cell coordinates).
MAX_NOTEBOOK_BYTES = 100_000_000


def notebook_line(path: str, cell: int, line: int) -> int | None:
    """The line of the ``.ipynb`` file itself (its JSON text) that holds line ``line`` of cell
    ``cell`` (both 1-based, as the linter counts them): the line of the ``source`` string it is
    in (of the whole source when it is one string). None when the file cannot be read as a
    notebook or has no such cell; a line past the cell's end is its last."""
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    cells = _json_lines(path, info.st_size, info.st_mtime_ns)
    if cells is None or not 1 <= cell <= len(cells) or not cells[cell - 1]:
        return None
    lines = cells[cell - 1]
    return lines[min(max(line, 1), len(lines)) - 1]


@lru_cache(maxsize=64)
def _json_lines(path: str, size: int, mtime: int) -> tuple[tuple[int, ...], ...] | None:
    """Per cell (all cells, in order): the JSON line of each of the cell's source lines."""
    if size > MAX_NOTEBOOK_BYTES:
        return None
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
        cells = _NotebookScan(text).cells()
    except (OSError, ValueError, IndexError, RecursionError):
        return None
    line_at: dict[int, int] = {}  # offset of a source string -> its line
    line, previous = 1, 0
    for offset in sorted({offset for entries in cells for _, offset in entries}):
        line += text.count("\n", previous, offset)
        line_at[offset], previous = line, offset
    out = []
    for entries in cells:
        starts, offset = [], 0
        for value, _ in entries:
            starts.append(offset)
            offset += len(value)
        joined = "".join(value for value, _ in entries)
        lines, offset = [], 0
        for part in joined.splitlines(keepends=True):  # as the linter splits a cell
            entry = max(0, bisect.bisect_right(starts, offset) - 1)
            lines.append(line_at[entries[entry][1]])
            offset += len(part)
        out.append(tuple(lines))
    return tuple(out)


_SPACE = re.compile(r"[ \t\n\r]*")


class _NotebookScan:
    """Where each cell's ``source`` strings are in a notebook's JSON text: a walk of the
    top-level object and its ``cells`` array that skips every other value with the standard
    decoder (``json.loads`` keeps no positions). A duplicated key counts last, as there."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.decoder = json.JSONDecoder()
        self.found: list[list[tuple[str, int]]] = []

    def cells(self) -> list[list[tuple[str, int]]]:
        """Per cell: (string, offset in the text) of each ``source`` entry."""
        self._object(self._skip(0), self._top)
        return self.found

    def _skip(self, pos: int) -> int:
        match = _SPACE.match(self.text, pos)
        return match.end() if match else pos

    def _value(self, pos: int) -> int:
        return int(self.decoder.raw_decode(self.text, pos)[1])

    def _top(self, key: str, pos: int) -> int:
        if key != "cells" or self.text[pos] != "[":
            return self._value(pos)
        self.found = []
        return self._array(pos, self._cell)

    def _cell(self, pos: int) -> int:
        entries: list[tuple[str, int]] = []
        self.found.append(entries)
        if self.text[pos] != "{":
            return self._value(pos)

        def member(key: str, at: int) -> int:
            if key != "source":
                return self._value(at)
            entries.clear()
            if self.text[at] == "[":
                return self._array(at, lambda item: self._string(item, entries))
            return self._string(at, entries)

        return self._object(pos, member)

    def _string(self, pos: int, entries: list[tuple[str, int]]) -> int:
        if self.text[pos] != '"':
            return self._value(pos)
        value, end = self.decoder.raw_decode(self.text, pos)
        entries.append((str(value), pos))
        return int(end)

    def _object(self, pos: int, member: Callable[[str, int], int]) -> int:
        if self.text[pos] != "{":
            raise ValueError("not an object")
        pos = self._skip(pos + 1)
        if self.text[pos] == "}":
            return pos + 1
        while True:
            if self.text[pos] != '"':
                raise ValueError("not a key")
            key, pos = self.decoder.raw_decode(self.text, pos)
            pos = self._skip(pos)
            if self.text[pos] != ":":
                raise ValueError("no colon")
            pos = self._skip(member(str(key), self._skip(pos + 1)))
            if self.text[pos] == "}":
                return pos + 1
            if self.text[pos] != ",":
                raise ValueError("no comma")
            pos = self._skip(pos + 1)

    def _array(self, pos: int, item: Callable[[int], int]) -> int:
        pos = self._skip(pos + 1)
        if self.text[pos] == "]":
            return pos + 1
        while True:
            pos = self._skip(item(pos))
            if self.text[pos] == "]":
                return pos + 1
            if self.text[pos] != ",":
                raise ValueError("no comma")
            pos = self._skip(pos + 1)
