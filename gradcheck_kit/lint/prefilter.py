"""The project-aware prefilter: a file whose own text names no saturating activation is still
interpreted for the saturating rules when one can reach it from the project the two ways the
interpreter follows together - a string from a caller, mapped by a table or helper here:

(a) a project file that calls a class or function defined at the top level of the file passes
    a saturating word: the call mentions one (``FNN(sizes, "tanh")`` in ``train.py``) or shares
    a name with a line that does (``activation = "tanh"``, an argparse default); the callers are
    the call index's (notebooks included), and one counts only where its imports bind the name
    to this file (:func:`~gradcheck_kit.lint.callsites.binds`: another module's ``FNN`` is not
    this one), and
(b) a project module the file imports mentions one too (``from .utils import get_activation``,
    ``from .. import activations``; a package's ``__init__`` is followed one hop further, to the
    modules it imports), or the file looks attributes up by a computed name (``getattr(nn,
    name)``: ``"Tanh"`` is torch's own).

Both are needed: a caller's string becomes a saturating module only through such a mapping, and a
mapping with no saturating caller is the shared helper every model file imports (transformers'
``ACT2FN``), whose activation comes from a config the linter cannot read. The cheap tests come
first: the call index records whether each file's lowercased bytes hold a saturating word (its
``!`` mark; with ``extend-saturating``, the candidates' text is read for those names too), then
a caller's text is searched around the calls, and only a caller that passes both is parsed (once
per process) to resolve its imports. An activation passed as a
module (``FNN(sizes, nn.Tanh())``) or read from a config file by the caller is not seen this way.

The cache key covers what decided: the file "consulted" the call index's digest of every file
that names its top-level names (:func:`~gradcheck_kit.lint.callindex.callers_entry`: a caller
added, edited or removed re-lints it) and each imported module tested, up to the first that
mentions a saturating word. A single-file run asks the same index, so it decides the same.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported where used: a warm run imports this module for the words alone
    from gradcheck_kit.lint.callindex import CallIndex
    from gradcheck_kit.lint.project import Project

#: The lowercase words whose presence lets a file through the saturating rules' own prefilter.
SATURATING_WORDS = ("sigmoid", "tanh", "softsign", "expit")
#: At most this many imported modules are tested per file.
MAX_MODULES = 64

#: (path, extend-saturating) -> whether the file mentions a saturating word (this run)
_MENTIONS: dict[tuple[str, tuple[str, ...]], bool] = {}
#: path -> (path, sha256, size, mtime in ns): a tested module, as the cache records it
_STAMPS: dict[str, tuple[str, str, int, int] | None] = {}


def forget() -> None:
    """Forget what files said (a new run: they may have changed)."""
    _MENTIONS.clear()
    _STAMPS.clear()
    _LOWERED.clear()
    _SATURATING_NAMES.clear()


def reached(
    tree: ast.Module,
    text: str,
    path: str,
    extend_saturating: tuple[str, ...] = (),
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> bool:
    """Whether a saturating activation may reach the file at ``path`` (its ``text`` and
    ``tree``) from the project (see the module docstring). What decided is added to
    ``consulted``, for the cache key."""
    from gradcheck_kit.lint import callindex
    from gradcheck_kit.lint.callsites import binds
    from gradcheck_kit.lint.project import Project

    names = sorted(
        {
            node.name
            for node in tree.body
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        }
    )
    if not names:
        return False
    project = Project.for_file(path)
    if project.root is None:
        return False
    index = callindex.index(project.root)
    if consulted is not None:
        consulted.append(callindex.callers_entry(project.root, names))
    me = project.current.path
    if not any(
        _passes(index, caller, name, extend_saturating) and binds(project, caller, name)
        for name in names
        for caller in index.callers(name)
        if caller != me
    ):
        return False
    if "getattr(" in text:
        return True
    for module in _imported(project, tree):
        stamp = _stamp(module)
        if stamp is None:
            continue
        if consulted is not None:
            consulted.append(stamp)
        if _mentions(index, module, extend_saturating):
            return True
    return False


def _passes(index: CallIndex, caller: str, name: str, extend: tuple[str, ...]) -> bool:
    """Whether ``caller`` may pass a saturating activation to ``name``: a call ``name(...)`` in
    it mentions a saturating word, or shares a name with a line that does (``activation =
    "tanh"``, ``add_argument("--act", default="tanh")``, a config field); where the name is
    imported under an alias, any mention in the file counts."""
    if not _mentions(index, caller, extend):
        return False
    entry = index.entries.get(caller)
    if entry is not None and f" ~{name} " in entry[4]:
        return True
    text = _lowered(caller)
    words = _words(extend)
    shared: set[bytes] = set()
    needle = name.lower().encode()
    at = text.find(needle)
    while at >= 0:  # ``bytes.find``, then a check: ~10x faster than a regex search
        after = at + len(needle)
        opening = _OPENING.match(text, after)
        if opening is not None and not (at and text[at - 1] in _WORD):
            call = _call_text(text, opening.end() - 1)
            if any(word in call for word in words):
                return True
            shared.update(_IDENTIFIER.findall(call))
        at = text.find(needle, after)
    return not _saturating_names(caller, extend).isdisjoint(shared)


_OPENING = re.compile(rb"\s*\(")
_WORD = frozenset(b"abcdefghijklmnopqrstuvwxyz0123456789_")


#: Names too common to tie a line to a call's arguments.
_COMMON = frozenset({b"self", b"true", b"false", b"none", b"nn", b"torch", b"f"})
_IDENTIFIER = re.compile(rb"[a-z_][a-z0-9_]*")
#: How far a call's text is read (its arguments), in bytes.
_CALL_BYTES = 2_000


def _call_text(text: bytes, start: int) -> bytes:
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


_SATURATING_NAMES: dict[tuple[str, tuple[str, ...]], frozenset[bytes]] = {}


def _saturating_names(path: str, extend: tuple[str, ...]) -> frozenset[bytes]:
    """The names on the lines of ``path`` that mention a saturating word (lowercased), less
    :data:`_COMMON`."""
    key = (path, extend)
    found = _SATURATING_NAMES.get(key)
    if found is None:
        text = _lowered(path)
        names: set[bytes] = set()
        for word in _words(extend):
            at = text.find(word)
            while at >= 0:
                start = text.rfind(b"\n", 0, at) + 1
                end = text.find(b"\n", at)
                end = len(text) if end < 0 else end
                names.update(_IDENTIFIER.findall(text, start, end))
                at = text.find(word, end)
        found = _SATURATING_NAMES[key] = frozenset(names - _COMMON)
    return found


def _words(extend: tuple[str, ...]) -> tuple[bytes, ...]:
    names = (*SATURATING_WORDS, *(n.rsplit(".", 1)[-1].lower() for n in extend))
    return tuple(n.encode("utf-8", "surrogateescape") for n in names)


_LOWERED: dict[str, bytes] = {}


def _lowered(path: str) -> bytes:
    found = _LOWERED.get(path)
    if found is None:
        found = _LOWERED[path] = _read(path).lower()
    return found


def _mentions(index: CallIndex, path: str, extend: tuple[str, ...]) -> bool:
    """Whether the project file at ``path`` mentions a saturating word (the index's mark), or,
    with ``extend`` (``extend-saturating``), the last part of one of those names."""
    key = (path, extend)
    found = _MENTIONS.get(key)
    if found is not None:
        return found
    entry = index.entries.get(path)
    if entry is not None and not extend:
        found = " ! " in entry[4]
    else:
        lowered = _lowered(path)
        found = any(word in lowered for word in _words(extend))
    _MENTIONS[key] = found
    return found


def _read(path: str) -> bytes:
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


def _stamp(path: str) -> tuple[str, str, int, int] | None:
    """The module at ``path`` as a consulted file: (path, sha256, size, mtime in ns)."""
    if path not in _STAMPS:
        try:
            info = os.stat(path)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            _STAMPS[path] = (path, digest, info.st_size, info.st_mtime_ns)
        except OSError:
            _STAMPS[path] = None
    return _STAMPS[path]


def _imported(project: Project, tree: ast.Module) -> list[str]:
    """The project modules (``.py`` files) that ``tree`` imports, in order, then, for a package's
    ``__init__``, the modules it takes the imported names from (all it imports, for a package
    imported whole): one hop, at most :data:`MAX_MODULES` modules."""
    found: list[str] = []
    for base, names in _targets(project, tree.body, project.current.path):
        found.append(base)
        if not base.endswith("__init__.py"):
            continue
        loaded = project.load(base)
        if loaded is None:
            continue
        # the statements of the package that bind the names (or may: its star imports); a
        # package imported whole (``from .. import backend``) may lend any name it imports
        if names:
            binding = [s for n in names for s in loaded.bindings.get(n, ()) if _is_import(s)]
        else:
            binding = [s for s in loaded.tree.body if _is_import(s)]
        for hop, _ in _targets(project, [*binding, *loaded.stars], base):
            found.append(hop)
    return [p for p in dict.fromkeys(found) if p != project.current.path][:MAX_MODULES]


def _is_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Import, ast.ImportFrom))


def _targets(
    project: Project, body: list[ast.stmt], importer: str
) -> list[tuple[str, tuple[str, ...]]]:
    """The ``.py`` modules that the import statements in ``body`` (and in the statements it
    nests, not in expressions) name, each with the names imported from it (none for a module
    imported as a whole or a submodule)."""
    out: list[tuple[str, tuple[str, ...]]] = []
    for node in imports_in(body):
        if isinstance(node, ast.ImportFrom):
            base = project.find_module("." * node.level + (node.module or ""), importer)
            if base is None:
                continue
            names: list[str] = []
            for alias in node.names:
                sub = project.submodule(base, alias.name) if alias.name != "*" else None
                if sub is not None:
                    out.append((sub, ()))
                else:
                    names.append(alias.name)
            if names:
                out.append((base, tuple(names)))
        else:
            for alias in node.names:
                found = project.find_module(alias.name, importer)
                if found is not None:
                    out.append((found, ()))
    return [(path, names) for path, names in out if path.endswith(".py")]


def imports_in(body: list[ast.stmt]) -> list[ast.Import | ast.ImportFrom]:
    """The import statements of ``body`` and of the statement lists nested in it (functions,
    classes, ``if``/``try``/``with`` blocks), in order; expressions are not walked."""
    out: list[ast.Import | ast.ImportFrom] = []
    stack = list(reversed(body))
    while stack:
        stmt = stack.pop()
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            out.append(stmt)
            continue
        nested: list[ast.stmt] = []
        for field in ("body", "orelse", "finalbody"):
            value = getattr(stmt, field, None)
            if isinstance(value, list):
                nested.extend(value)
        for handler in getattr(stmt, "handlers", ()):
            nested.extend(handler.body)
        for case in getattr(stmt, "cases", ()):
            nested.extend(case.body)
        stack.extend(reversed(nested))
    return out


__all__ = ["MAX_MODULES", "SATURATING_WORDS", "forget", "imports_in", "reached"]
