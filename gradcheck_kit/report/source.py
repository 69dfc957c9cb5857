"""Source text for code frames, read the way Python numbers its lines.

``str.splitlines`` also breaks at form feeds, vertical tabs, U+2028 and other separators that
Python's tokenizer keeps inside a line, so a frame built from it drifts below such a character.
Here lines end only at ``\\n``, ``\\r\\n`` and ``\\r``, and the other separators are shown as a
space (a terminal or a Markdown renderer would break the line at them too).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

LINE_BREAK = re.compile(r"\r\n|\r|\n")  # where Python ends a line (not at form feeds)
# Characters that str.splitlines or a renderer treats as a line break, but Python does not.
_INLINE_BREAKS = str.maketrans(dict.fromkeys("\v\f\x1c\x1d\x1e\x85\u2028\u2029", " "))


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
