"""Where a value came from, as text and as places: a message names a depth's source
(``FNN([2] + [50] * 8 + [1]) at train.py:2``) and JSON/SARIF carry the same places as related
locations with their own path.

A :class:`Provenance` is the message text itself (a ``str``: the interpreter keeps, compares and
joins sources as strings) that also knows the :class:`Place` s it names. :func:`cite` builds a
larger text from smaller ones and keeps every place they knew; plain ``str`` sources (a
parameter default in the same file) have none.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

#: A config file's lines searched for a key (its first lines: where a config sets it).
_MAX_LINES = 20_000


@dataclass(frozen=True)
class Place:
    """A span in another project file (``path``: absolute), with what it contributes (``label``).
    Positions as a finding's (1-based, exclusive end column); ``cell``: the notebook cell, whose
    lines ``line`` counts."""

    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    label: str
    cell: int | None = None


class Provenance(str):
    """Text that names a value's source, with the places it names."""

    places: tuple[Place, ...]

    def __new__(cls, text: str, places: tuple[Place, ...] = ()) -> Provenance:
        self = super().__new__(cls, text)
        self.places = places
        return self

    def __reduce__(self) -> tuple[Any, ...]:  # pickled with its places (worker processes)
        return (Provenance, (str(self), self.places))


def places_of(*parts: object) -> tuple[Place, ...]:
    """The places that ``parts`` name, de-duplicated, in order."""
    found: dict[Place, None] = {}
    for part in parts:
        if isinstance(part, Provenance):
            found.update(dict.fromkeys(part.places))
    return tuple(found)


def cite(text: str, *parts: object, place: Place | None = None) -> str:
    """``text`` (built from ``parts``) knowing the places of ``parts`` and ``place``; a plain
    ``str`` when there are none."""
    places = places_of(*parts) + ((place,) if place is not None else ())
    return Provenance(text, tuple(dict.fromkeys(places))) if places else text


def node_place(path: str, node: Any, label: str) -> Place:
    """The place of a syntax node (a statement or expression with positions) in ``path``."""
    line = getattr(node, "lineno", 1)
    end_line = getattr(node, "end_lineno", None) or line
    column = getattr(node, "col_offset", 0) + 1
    end_column = (getattr(node, "end_col_offset", None) or column - 1) + 1
    return Place(_abs(path), line, column, end_line, end_column, label)


def key_place(path: str, key: str, label: str) -> Place:
    """Where a config file sets ``key`` (``key:``, ``"key":``, ``key =``): its first such line,
    from the key to the line's end; the file's first line when none does (a value in a list).
    The bytes are the ones the config reader read (:func:`config_files.read_bytes`: cached,
    regular files only, size-limited)."""
    from gradcheck_kit.lint.config_files import read_bytes

    pattern = re.compile(rf"""(?:^|[\s{{,])(["']?{re.escape(key)}["']?\s*[:=])""")
    data = read_bytes(path)
    lines = data.decode("utf-8", "replace").splitlines()[:_MAX_LINES] if data else []
    for number, line in enumerate(lines, start=1):
        found = pattern.search(line)
        if found is not None:
            return Place(_abs(path), number, found.start(1) + 1, number, len(line) + 1, label)
    return Place(_abs(path), 1, 1, 1, 1, label)


def _abs(path: str) -> str:
    return os.path.abspath(path)


__all__ = ["Place", "Provenance", "cite", "key_place", "node_place", "places_of"]
