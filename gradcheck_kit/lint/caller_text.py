"""A caller's text, read without parsing it: the calls of a name in it and their arguments, the
top-level definitions those calls sit in, and its bytes (lowercased once per run). What the
prefilter (:mod:`~gradcheck_kit.lint.prefilter`) and the call-site gate
(:mod:`~gradcheck_kit.lint.interp.site_gate`) read of the project's other files; a regex and a
``bytes.find`` cost microseconds where a parse costs milliseconds."""

from __future__ import annotations

import bisect
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gradcheck_kit.lint.project import Project

#: The lowercase words whose presence lets a file through the saturating rules' own prefilter.
SATURATING_WORDS = ("sigmoid", "tanh", "softsign", "expit")

_OPENING = re.compile(rb"\s*\(")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")
#: The bytes of a Python identifier, and an identifier (the call index reads both too).
NAME_BYTES = _WORD | frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")
NAME = re.compile(rb"[A-Za-z_][A-Za-z0-9_]*")
#: How far a call's text is read (its arguments), in bytes.
_CALL_BYTES = 2_000


def calls_of(text: bytes, name: str) -> Iterator[bytes]:
    """The text of each call ``name(...)`` in the lowercased ``text`` (``bytes.find``, then a
    check: ~10x faster than a regex search)."""
    needle = name.lower().encode()
    at = text.find(needle)
    while at >= 0:
        after = at + len(needle)
        opening = _OPENING.match(text, after)
        if opening is not None and not (at and text[at - 1] in _WORD):
            yield call_text(text, opening.end() - 1)
        at = text.find(needle, after)


def call_text(text: bytes, start: int) -> bytes:
    """The text of the call whose ``(`` is at ``start``, to its matching ``)`` (strings not
    skipped: an approximation), at most :data:`_CALL_BYTES`."""
    depth = 0
    end = min(len(text), start + _CALL_BYTES)
    for at in range(start, end):
        char = text[at]
        if char == 40:  # (
            depth += 1
        elif char == 41:  # )
            depth -= 1
            if depth == 0:
                return text[start : at + 1]
    return text[start:end]


def word_bytes(extend: tuple[str, ...]) -> tuple[bytes, ...]:
    """The saturating words, with the last part of each ``extend-saturating`` name, lowercased."""
    names = (*SATURATING_WORDS, *(n.rsplit(".", 1)[-1].lower() for n in extend))
    return tuple(n.encode("utf-8", "surrogateescape") for n in names)


_LOWERED: dict[str, bytes] = {}


def lowered_bytes(path: str) -> bytes:
    """The file's bytes, lowercased (read once per run)."""
    found = _LOWERED.get(path)
    if found is None:
        found = _LOWERED[path] = read_bytes(path).lower()
    return found


def read_bytes(path: str) -> bytes:
    """The file's bytes; empty where it cannot be read or is over the index's size limit."""
    from gradcheck_kit.lint.callindex import MAX_BYTES
    from gradcheck_kit.lint.project import MAX_NOTEBOOK_BYTES

    limit = MAX_NOTEBOOK_BYTES if path.endswith(".ipynb") else MAX_BYTES
    try:
        if os.path.getsize(path) > limit:
            return b""
        with open(path, "rb") as handle:
            return handle.read(limit + 1)
    except OSError:
        return b""


_KEYWORD = re.compile(rb"\s*([a-z_][a-z0-9_]*)\s*=(?!=)")


def passes_directly(
    caller: str, name: str, extend: tuple[str, ...], keywords: frozenset[str]
) -> bool:
    """Whether a call ``name(...)`` in ``caller`` has a saturating word in a positional argument
    or in the value of a keyword in ``keywords`` (lowercased text)."""
    words = word_bytes(extend)
    wanted = {k.lower().encode() for k in keywords}
    for call in calls_of(lowered_bytes(caller), name):
        for argument in _arguments(call):
            if not any(word in argument for word in words):
                continue
            keyword = _KEYWORD.match(argument)
            if keyword is None or keyword.group(1) in wanted:
                return True
    return False


def _arguments(call: bytes) -> list[bytes]:
    """The arguments of a call's text ``(a, b=f(c, d))``, split at its top-level commas."""
    parts: list[bytes] = []
    depth, start = 0, 1
    for at in range(1, len(call)):
        char = call[at]
        if char in b"([{":
            depth += 1
        elif char in b")]}":
            if depth == 0:
                parts.append(call[start:at])
                break
            depth -= 1
        elif char == 44 and depth == 0:  # ,
            parts.append(call[start:at])
            start = at + 1
    return parts


#: A line that starts at column 0 with code (not a comment, a decorator or a blank line), and
#: the name it defines when it is a ``class`` or ``def``.
_TOP_LEVEL_LINE = re.compile(
    rb"^(?:(?:async[ \t]+)?(?:class|def)[ \t]+([A-Za-z_][A-Za-z0-9_]*)|[^\s#@)\]}])", re.M
)
#: path -> (start of each top-level line, the name it defines or None), this run
_LAYOUT: dict[str, tuple[list[int], list[str | None]]] = {}


def wrappers_of(project: Project, name: str) -> dict[str, frozenset[str]]:
    """The top-level classes and functions of the project's Python files other than
    ``project.current`` whose code calls ``name`` (read in the text: the top-level ``class`` or
    ``def`` line above the call, with no other top-level line between), each with the names its
    calls pass (their identifiers): wrappers that may pass their parameters on, as
    :func:`~gradcheck_kit.lint.callsites.call_sites` follows them."""
    from gradcheck_kit.lint import callindex

    if project.root is None:
        return {}
    me = project.current.path
    found: dict[str, frozenset[str]] = {}
    needle = name.encode()
    for caller in callindex.index(project.root).callers(name):
        if caller == me or caller.endswith(".ipynb"):
            continue
        text = read_bytes(caller)
        starts, names = _layout(caller)
        at = text.find(needle)
        while at >= 0:
            after = at + len(needle)
            opening = _OPENING.match(text, after)
            if opening is not None and not (at and text[at - 1] in NAME_BYTES):
                line = bisect.bisect_right(starts, at) - 1
                wrapper = names[line] if line >= 0 else None
                if wrapper is not None:
                    call = call_text(text, opening.end() - 1)
                    passed = {n.decode("ascii") for n in NAME.findall(call)}
                    found[wrapper] = found.get(wrapper, frozenset()) | passed
            at = text.find(needle, after)
    return found


#: A line that assigns a name (``args = parser.parse_args()``; ``a, b = ...``), lowercased:
#: the first target and the value's text.
_ASSIGNED = re.compile(rb"^[ \t]*([a-z_][a-z0-9_]*)[ \t]*(?:,[^=\n]*)?=(?!=)([^\n]*)", re.M)
_LOWER_NAME = re.compile(rb"[a-z_][a-z0-9_]*")
_ASSIGNMENTS: dict[str, dict[bytes, frozenset[bytes]]] = {}


def assignments(path: str) -> dict[bytes, frozenset[bytes]]:
    """Each name ``path`` assigns (lowercased) -> the names on the right of its assignments."""
    found = _ASSIGNMENTS.get(path)
    if found is None:
        table: dict[bytes, set[bytes]] = {}
        for match in _ASSIGNED.finditer(lowered_bytes(path)):
            table.setdefault(match.group(1), set()).update(_LOWER_NAME.findall(match.group(2)))
        found = _ASSIGNMENTS[path] = {k: frozenset(v) for k, v in table.items()}
    return found


def _layout(path: str) -> tuple[list[int], list[str | None]]:
    """Where each top-level line of ``path`` starts, and the name it defines (``class``/``def``;
    None for another line): read once per run."""
    layout = _LAYOUT.get(path)
    if layout is None:
        lines = list(_TOP_LEVEL_LINE.finditer(read_bytes(path)))
        layout = _LAYOUT[path] = (
            [m.start() for m in lines],
            [m.group(1).decode("ascii") if m.group(1) else None for m in lines],
        )
    return layout


def definition_text(path: str, name: str) -> list[bytes]:
    """The lowercased text of each top-level ``class``/``def`` of ``path`` named ``name``, to
    the next top-level line (by the text: a cheap screen before parsing)."""
    starts, names = _layout(path)
    lowered = lowered_bytes(path)
    return [
        lowered[start : starts[i + 1] if i + 1 < len(starts) else len(lowered)]
        for i, (start, defined) in enumerate(zip(starts, names, strict=True))
        if defined == name
    ]


def defined_functions(path: str) -> set[bytes]:
    """The top-level ``def`` and ``class`` names of ``path`` (lowercased), by the text."""
    return {name.lower().encode() for name in _layout(path)[1] if name is not None}


def shared_names(text: bytes, name: str) -> set[bytes]:
    """The identifiers inside the calls ``name(...)`` in ``text`` (lowercased)."""
    shared: set[bytes] = set()
    for call in calls_of(text, name):
        shared.update(IDENTIFIER.findall(call))
    return shared - COMMON


#: Names too common to tie a line to a call's arguments.
COMMON = frozenset({b"self", b"true", b"false", b"none", b"nn", b"torch", b"f"})
IDENTIFIER = re.compile(rb"[a-z_][a-z0-9_]*")
_SATURATING_NAMES: dict[tuple[str, tuple[str, ...]], frozenset[bytes]] = {}


def saturating_names(path: str, extend: tuple[str, ...]) -> frozenset[bytes]:
    """The names on the lines of ``path`` that mention a saturating word (lowercased), less
    :data:`COMMON`."""
    key = (path, extend)
    found = _SATURATING_NAMES.get(key)
    if found is None:
        text = lowered_bytes(path)
        names: set[bytes] = set()
        for word in word_bytes(extend):
            at = text.find(word)
            while at >= 0:
                start = text.rfind(b"\n", 0, at) + 1
                end = text.find(b"\n", at)
                end = len(text) if end < 0 else end
                names.update(IDENTIFIER.findall(text, start, end))
                at = text.find(word, end)
        found = _SATURATING_NAMES[key] = frozenset(names - COMMON)
    return found


def forget() -> None:
    """Forget what files said (a new run: they may have changed)."""
    _LOWERED.clear()
    _LAYOUT.clear()
    _ASSIGNMENTS.clear()
    _SATURATING_NAMES.clear()
