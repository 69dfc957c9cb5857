"""``gradcheck-kit lint --add-noqa``: baseline a legacy codebase, as ``ruff --add-noqa`` does -
a ``# noqa: CODE`` comment on the first line of every finding, merged into a ``# noqa`` already
there, so the next run is clean and only new code is held to the rules.

Only Python files are edited (a notebook's finding is reported, not edited); a line that ends
inside a string or with a backslash is left alone (a comment there would change the code); an
edited file must still parse, or it is not written. Line endings and encoding are kept, and the
file is replaced atomically.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from gradcheck_kit._io import write_atomic
from gradcheck_kit.lint.noqa import noqa_directives
from gradcheck_kit.report.findings import Finding

__all__ = ["add_noqa"]

_LINE = re.compile(r"[^\r\n]*(\r\n|\r|\n)?")
_NOQA_COMMENT = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:\s*,\s*[A-Z]+[0-9]+)*)", re.I)


def add_noqa(findings: Iterable[Finding], warn: Callable[[str], None]) -> int:
    """Add the directives; returns how many lines were given one (or got a code added)."""
    by_file: dict[str, dict[int, set[str]]] = defaultdict(lambda: defaultdict(set))
    for finding in findings:
        if finding.cell is not None:
            warn(f"{finding.path}: notebook findings are not edited (add the # noqa by hand)")
            continue
        by_file[finding.path][finding.line].add(finding.code)
    added = 0
    for path, lines in sorted(by_file.items()):
        added += _edit(Path(path), lines, warn)
    return added


def _edit(path: Path, wanted: dict[int, set[str]], warn: Callable[[str], None]) -> int:
    try:
        data = path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        text = data.decode(encoding)
    except (OSError, SyntaxError, UnicodeDecodeError, LookupError) as exc:
        warn(f"{path}: not edited ({exc})")
        return 0
    lines = [m.group(0) for m in _LINE.finditer(text) if m.group(0)]
    safe = _lines_that_can_take_a_comment(text)
    existing = noqa_directives(text)  # line -> codes, True (a blanket) or False (malformed)
    changed = 0
    for number, codes in sorted(wanted.items()):
        if not 0 < number <= len(lines):
            continue
        directive = existing.get(number)
        if directive is True:
            continue  # a blanket directive already covers the line
        body = lines[number - 1].rstrip("\r\n")
        ending = lines[number - 1][len(body) :]
        if isinstance(directive, frozenset):
            merged = ", ".join(sorted(set(directive) | codes))
            new_body = _NOQA_COMMENT.sub(f"# noqa: {merged}", body, count=1)
        elif number in safe:
            new_body = f"{body}  # noqa: {', '.join(sorted(codes))}"
        else:
            warn(f"{path}:{number}: not edited (the line ends inside a string or with a \\)")
            continue
        if new_body != body:
            lines[number - 1] = new_body + ending
            changed += 1
    if not changed:
        return 0
    new_text = "".join(lines)
    try:
        ast.parse(new_text)
    except SyntaxError as exc:  # never write a file that no longer parses
        warn(f"{path}: not edited (the directives would break it: {exc.msg})")
        return 0
    write_atomic(path, new_text.encode(encoding))
    return changed


def _lines_that_can_take_a_comment(text: str) -> set[int]:
    """Lines whose end is in code (not inside a string, not after a backslash continuation)."""
    ends: set[int] = set()
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.NEWLINE, tokenize.NL, tokenize.COMMENT):
                ends.add(token.start[0])
    except (tokenize.TokenError, SyntaxError):
        return set()
    return ends
