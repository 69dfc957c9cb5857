"""``# noqa`` directives, as ruff reads them: from comment tokens only."""

from __future__ import annotations

import contextlib
import io
import re
import tokenize

from gradcheck_kit.report.findings import Finding
from gradcheck_kit.report.source import LINE_BREAK

# Suppression directives are read from comment tokens only (the word in a string literal is not
# a directive). As ruff: a bare directive is a blanket, one followed by a colon names codes, and
# anything else (a colon with no valid code after it, ``noqa`` glued to other text) is
# malformed: it suppresses nothing and is warned about, never silently a blanket.
_NOQA_HEAD = re.compile(r"#\s*noqa", re.IGNORECASE)
_NOQA_CODES = re.compile(
    r"\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:(?:\s*,\s*|\s+)[A-Z]+[0-9]+)*)(?![\w-])", re.IGNORECASE
)
_FILE_NOQA = re.compile(r"^\s*#\s*gradcheck-kit:\s*noqa\b", re.IGNORECASE | re.MULTILINE)
_FILE_NOQA_COMMENT = re.compile(r"#\s*gradcheck-kit:\s*noqa\b", re.IGNORECASE)
MALFORMED_NOQA = (
    "invalid `# noqa` directive: expected a comma-separated list of codes "
    "(e.g. `# noqa: GCK001, GCK002`); it suppresses nothing"
)

Directive = frozenset[str] | bool  # codes, True (a blanket) or False (malformed)


def _comments(text: str) -> dict[int, str]:
    """Line -> the comment token on it (lines counted as the parser counts them)."""
    comments: dict[int, str] = {}
    with contextlib.suppress(tokenize.TokenError, SyntaxError, ValueError):
        readline = io.StringIO(text, newline=None).readline  # \r and \r\n end lines too
        for token in tokenize.generate_tokens(readline):
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.string
    return comments


def _directive(comment: str) -> Directive | None:
    """The ``# noqa`` directive in a comment token, or ``None`` where it has none."""
    head = _NOQA_HEAD.search(comment)
    if head is None:
        return None
    rest = comment[head.end() :]
    if not rest.lstrip().startswith(":"):
        return not rest or rest[0].isspace()  # ``noqa`` glued to other text: malformed
    codes = _NOQA_CODES.match(rest)
    if codes is None:
        return False
    return frozenset(c.upper() for c in re.split(r"[,\s]+", codes.group("codes")) if c)


def noqa_directives(text: str) -> dict[int, Directive]:
    """Line -> its ``# noqa`` directive (comments only)."""
    if "noqa" not in text.lower():
        return {}
    out: dict[int, Directive] = {}
    for line, comment in _comments(text).items():
        directive = _directive(comment)
        if directive is not None:
            out[line] = directive
    return out


def malformed_noqa_lines(text: str) -> list[int]:
    """Lines whose ``# noqa`` directive is malformed (and so suppresses nothing)."""
    if not any(_directive(m.group(1)) is False for m in _HASH_TO_END.finditer(text)):
        return []  # no comment can hold one: the file is not tokenized (a warm run's cost)
    return sorted(line for line, d in noqa_directives(text).items() if d is False)


#: From each ``#`` to the end of its line: every comment token is one of these spans.
_HASH_TO_END = re.compile(r"(?=(#[^\r\n]*))")


def file_noqa(text: str) -> bool:
    """``# gradcheck-kit: noqa`` as a comment on a line of its own (not inside a string)."""
    if not _FILE_NOQA.search(text):
        return False
    lines = LINE_BREAK.split(text)
    return any(
        _FILE_NOQA_COMMENT.match(comment) and lines[line - 1].lstrip().startswith("#")
        for line, comment in _comments(text).items()
        if 0 < line <= len(lines)
    )


def suppressed(finding: Finding, directives: dict[int, Directive]) -> bool:
    directive = directives.get(finding.line)
    if directive is None or directive is False:
        return False
    return directive is True or finding.code in directive
