"""Where a finding is: source spans of the anchors rules report, from stdlib ``ast`` nodes (the
interpreter's) or libcst nodes (the syntactic rules'), with 1-based columns in characters."""

from __future__ import annotations

import ast
from typing import Any

from gradcheck_kit.lint.sketch import Span
from gradcheck_kit.report.source import LINE_BREAK


class Locator:
    """Source spans of anchors: stdlib ``ast`` nodes (the interpreter's) or libcst nodes (the
    syntactic rules'), with 1-based columns counted in characters."""

    def __init__(self, text: str, module: Any = None) -> None:
        self.text = text
        self.module = module
        self.positions: Any = None
        self._lines: list[str] | None = None

    @property
    def lines(self) -> list[str]:
        """The source's lines, split where Python splits them (not at form feeds)."""
        if self._lines is None:
            self._lines = LINE_BREAK.split(self.text)
        return self._lines

    def __call__(self, anchor: object) -> Span | None:
        if isinstance(anchor, ast.AST):
            line = getattr(anchor, "lineno", None)
            if line is None:
                return None
            end_line = getattr(anchor, "end_lineno", None) or line
            end_column = getattr(anchor, "end_col_offset", None)
            column = self._column(line, getattr(anchor, "col_offset", 0))
            end = self._column(end_line, end_column) if end_column is not None else column
            return Span(line, column + 1, end_line, end + 1)
        if self.module is None:
            return None
        return self._concrete(anchor)

    def _column(self, line: int, offset: int) -> int:
        """ast columns count UTF-8 bytes; findings count characters."""
        if not 0 < line <= len(self.lines):
            return offset
        text = self.lines[line - 1]
        if text.isascii():
            return offset
        return len(text.encode("utf-8")[:offset].decode("utf-8", errors="replace"))

    def _concrete(self, anchor: object) -> Span | None:
        from libcst import CSTNode
        from libcst.metadata import MetadataWrapper, PositionProvider

        if not isinstance(anchor, CSTNode):
            return None
        if self.positions is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self.positions = wrapper.resolve(PositionProvider)
        pos = self.positions.get(anchor)
        if pos is None:
            return None
        return Span(pos.start.line, pos.start.column + 1, pos.end.line, pos.end.column + 1)
