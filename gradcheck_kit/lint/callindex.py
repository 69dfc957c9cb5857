"""The project's call-site index: which of the project's Python files and notebooks call or import
each name (:mod:`gradcheck_kit.lint.callsites` parses only those), kept across runs.

A file's entry is the set of names it calls (``Name(``) or imports, found by a regex over its
bytes (no parse), with its size, modification time (ns) and content hash; a notebook's, every
name it calls or imports, read the same way over its JSON bytes. The first lookup in a
run walks the project (a ``stat`` per file) and re-reads only the files whose size or time
changed since the index was saved; the index is saved in the lint cache directory
(``.gradcheck_cache/callindex-<root hash>.json``; again only once more than
:data:`UNSAVED_CHANGES` files differ from the saved one) and kept in memory only with
``--no-cache`` (or from :func:`~gradcheck_kit.lint.engine.lint_source`, which has no cache).

The cache entry of a model file that looked up call sites records the class names it looked up
as a pseudo consulted file (:func:`callers_key`) whose "hash" is :meth:`CallIndex.digest`: the
content hashes of every project file whose entry names one of them. A caller added, removed or
edited since the last run changes it, so the model file is linted again; a warm run computes it
from the index, without parsing anything.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import itertools
import json
import os
import re
from functools import lru_cache
from pathlib import Path

from gradcheck_kit._io import ignore_in_git, write_atomic
from gradcheck_kit._version import __version__
from gradcheck_kit.lint.caller_text import NAME, NAME_BYTES, SATURATING_WORDS
from gradcheck_kit.lint.project import MAX_NOTEBOOK_BYTES

#: Past this many Python files, the rest of a project is not indexed (a home folder with a
#: ``.git``): call sites there are not seen.
MAX_FILES = 5000
#: Past this many notebooks, the rest are not indexed.
MAX_NOTEBOOKS = 500
#: A file larger than this is not indexed (generated code, data); the module resolver does not
#: read it either (``project.MAX_MODULE_BYTES``).
MAX_BYTES = 2_000_000
#: Folders never walked: tool caches, virtual environments, build output.
SKIPPED_DIRS = frozenset(
    {"__pycache__", "node_modules", "build", "dist", "site-packages", "venv", "env"}
)
#: Up to this many files changed, added or removed since the index was saved, it is not saved
#: again (a pre-commit run with a few edited files: re-reading them next time costs less than
#: writing the whole index, several MB for a large project); past it, it is.
UNSAVED_CHANGES = 16
#: The pseudo path of a cache entry's "files that name these classes" (see the docstring).
CALLERS_PREFIX = "<callers-of>"
_FORMAT = 8
#: The words of the saturating rules' prefilter, as bytes: a file that holds one (lowercased) is
#: marked ``!`` (the project-aware prefilter, :mod:`gradcheck_kit.lint.prefilter`, asks).
_SATURATING = tuple(word.encode() for word in SATURATING_WORDS)
#: After this many marks looked up in one run, a mark -> files table is built (a lookup before
#: it searches every file's marks: cheaper for the few classes of a pre-commit run).
_FINDS_BEFORE_TABLE = 64
#: A name followed by ``(``: what a file may call, searched in the reversed bytes (a pattern
#: that starts with a literal is found ~7x faster than ``([A-Za-z_]\w*)\s*\(``; the names are
#: the same: the word before the ``(``, less its leading digits).
_CALLED_REVERSED = re.compile(rb"\(\s*([A-Za-z0-9_]+)([\s\\]*\.)?")
#: What an import statement names (``from m import (A, B as C)``): a class may be called by an
#: alias (``Net(...)``), so a file that imports the name is a caller too.
_IMPORTED = re.compile(rb"\s+(\([^)]*\)|(?:\\\r?\n|[^\n])*)")  # after ``import``; ``\`` goes on
#: (size, mtime in ns, content hash, the names it calls, its marks: see :func:`_names`)
Entry = tuple[int, int, str, str, str]

_directory: Path | None = None  # where indexes are saved (None: memory only)


def use_directory(directory: str | os.PathLike[str] | None) -> None:
    """Save and load indexes in ``directory`` (the lint cache directory; None: memory only)."""
    global _directory
    _directory = Path(directory) if directory is not None else None
    index.cache_clear()


def forget() -> None:
    """Forget the indexes in memory (a new run: files may have changed)."""
    index.cache_clear()


class CallIndex:
    """The index of one project root: path -> :data:`Entry`, in walk order."""

    def __init__(
        self, root: str, entries: dict[str, Entry], saved: SavedMarks | None = None
    ) -> None:
        self.root = root
        self.entries = entries
        self._paths = list(entries)
        self._called = [entry[3] for entry in entries.values()]
        self._found: dict[tuple[str, bool], tuple[str, ...]] = {}
        self._marks = [entry[4] for entry in entries.values()]
        self._saved = saved
        self._with_memo: dict[str, set[int]] = {}
        self._table: dict[str, set[int]] | None = None  # mark -> entries, past a few lookups
        self._stars: list[int] | None = None
        self._blob: str | None = None
        self._starts: list[int] = []

    def _with(self, mark: str) -> set[int]:
        """The positions (walk order) of the entries that hold ``mark``."""
        found = self._with_memo.get(mark)
        if found is not None:
            return found
        if self._saved is not None:
            found = self._saved.lookup(mark, self)
        if found is None and self._table is None and len(self._with_memo) >= _FINDS_BEFORE_TABLE:
            self._table = _table(self._marks)
        if found is None and self._table is not None:
            found = self._table.get(mark, set())
        if found is None:
            found = set()
            if self._blob is None:
                # every entry's marks, one string (entries are padded: a token never spans two),
                # and where each starts in it: a lookup is a few ``str.find``s, not a scan
                self._blob = "".join(self._marks)
                self._starts = list(itertools.accumulate(map(len, self._marks), initial=0))
            needle = f" {mark} "
            at = self._blob.find(needle)
            while at >= 0:
                entry = bisect.bisect_right(self._starts, at) - 1
                found.add(entry)
                at = self._blob.find(needle, self._starts[entry + 1])  # the next entry on
        self._with_memo[mark] = found
        return found

    def files_naming(self, name: str) -> tuple[str, ...]:
        """The project files that may bind the class ``name`` of another file (walk order):
        they import the name (``from m import name [as n]``; a package re-exporting it too),
        call it as an attribute (``m.name(``), or call it and star-import (``from m import *``)
        - the only ways :mod:`~gradcheck_kit.lint.callsites` binds it."""
        return self._lookup(name, calling=False)

    def callers(self, name: str) -> tuple[str, ...]:
        """Of :meth:`files_naming`, those that may call it: a file that imports the name but
        calls nothing by it (nor imports it ``as`` another name) is not parsed for it."""
        return self._lookup(name, calling=True)

    def _lookup(self, name: str, calling: bool) -> tuple[str, ...]:
        found = self._found.get((name, calling))
        if found is not None:
            return found
        names, bare = self._called, f" {name} "
        hits = {
            i
            for i in self._with("=" + name)
            if not calling or bare in names[i] or f" ~{name} " in self._marks[i]
        }
        hits = hits | self._with("." + name)
        if self._stars is None:
            self._stars = sorted(self._with("*"))
        hits.update(i for i in self._stars if bare in names[i])
        found = tuple(self._paths[i] for i in sorted(hits))
        self._found[name, calling] = found
        return found

    def digest(self, names: list[str]) -> str:
        """A hash of the paths and contents of the files that may call any of ``names``."""
        paths = sorted({p for name in names for p in self.files_naming(name)})
        text = "\n".join(f"{p}\0{self.entries[p][2]}" for p in paths)
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


def callers_entry(root: str, names: list[str]) -> tuple[str, str, int, int]:
    """The pseudo consulted file "every project file that names these classes" of a file that
    looked up ``names`` (a ``cache.ConsultedFile``; its hash: the index's digest of them)."""
    return (callers_key(root, names), index(root).digest(names), 0, 0)


def callers_key(root: str, names: list[str]) -> str:
    """The pseudo consulted path of a file that looked up ``names`` in ``root``'s index."""
    return f"{CALLERS_PREFIX}{','.join(sorted(set(names)))}@{root}"


def callers_digest(key: str) -> str | None:
    """The digest the pseudo path ``key`` (:func:`callers_key`) has now (None: not one)."""
    if not key.startswith(CALLERS_PREFIX) or "@" not in key:
        return None
    names, root = key[len(CALLERS_PREFIX) :].split("@", 1)
    if not os.path.isdir(root):
        return None
    return index(root).digest(names.split(","))


#: How many projects' indexes a process keeps in memory.
INDEXES_KEPT = 8


@lru_cache(maxsize=INDEXES_KEPT)
def index(root: str) -> CallIndex:
    """The index of ``root`` now: the saved one, brought up to date (see the docstring)."""
    loaded = _load(root)
    saved, table = loaded if loaded is not None else (None, None)
    entries: dict[str, Entry] = {}
    fresh: set[str] = set()
    for path, size, mtime in python_files(root):
        old = saved.get(path) if saved is not None else None
        if old is not None and old[0] == size and old[1] == mtime:
            entries[path] = old
            continue
        fresh.add(path)
        notebook = path.endswith(".ipynb")
        limit = MAX_NOTEBOOK_BYTES if notebook else MAX_BYTES
        if size > limit:
            entries[path] = (size, mtime, "", " ", " ")  # never read: it names nothing
            continue
        try:
            with open(path, "rb") as handle:
                data = handle.read(limit + 1)
        except OSError:
            continue
        names = _notebook_names(data) if notebook else _names(data)
        entries[path] = (size, mtime, hashlib.sha1(data).hexdigest(), *names)
    if saved is None or len(fresh) + len(saved.keys() - entries.keys()) > UNSAVED_CHANGES:
        _save(root, entries)
        return CallIndex(root, entries)
    marks = SavedMarks(table, list(saved), fresh) if table is not None else None
    return CallIndex(root, entries, marks)


def _table(marks: list[str]) -> dict[str, set[int]]:
    """mark -> the positions of the entries (their ``marks``) that hold it."""
    table: dict[str, set[int]] = {}
    for position, text in enumerate(marks):
        for token in text.split():
            table.setdefault(token, set()).add(position)
    return table


class SavedMarks:
    """The mark table saved with an index (mark -> the positions, in the saved order, of the
    entries that hold it, as one string of numbers): a lookup reads one string, where a scan
    of every entry's marks costs ~1 ms per mark in a 3,000-file project. Entries read again
    since (changed or new files, ``fresh``) are scanned; removed ones are skipped."""

    def __init__(self, table: dict[str, str], saved: list[str], fresh: set[str]) -> None:
        self.table = table
        self.saved = saved  # the saved entries' paths, in the saved order
        self.fresh = fresh
        self._now: dict[str, int] | None = None

    def lookup(self, mark: str, index: CallIndex) -> set[int] | None:
        """The positions in ``index`` of the entries with ``mark``; None if the saved table
        cannot say (a number that is not one: the caller scans instead)."""
        if self._now is None:
            self._now = {path: i for i, path in enumerate(index.entries)}
        now, saved, fresh = self._now, self.saved, self.fresh
        numbers = self.table.get(mark, "").split()
        if not all(n.isascii() and n.isdigit() and int(n) < len(saved) for n in numbers):
            return None
        held = [saved[int(n)] for n in numbers]
        found = {now[p] for p in held if p in now and p not in fresh}
        needle = f" {mark} "
        found.update(now[p] for p in fresh if p in now and needle in index.entries[p][4])
        return found


def _names(data: bytes) -> tuple[str, str]:
    """`` a b c `` (sorted, padded for substring tests): the names ``data`` calls (``a(``) -
    those it also imports, or all of them when it star-imports: no lookup reads the others -,
    and its marks: ``.a`` for a name called as an attribute (``m.a(``), ``=a`` for a name imported,
    ``*`` for a star import, ``~a`` for ``a`` imported ``as`` another name and ``!`` when it
    mentions a saturating word (any case)."""
    called: set[bytes] = set()
    marks: set[bytes] = set()
    for word, dot in set(_CALLED_REVERSED.findall(data[::-1])):
        name = word[::-1].lstrip(b"0123456789")
        if name:
            called.add(name)
            if dot:
                marks.add(b"." + name)
    start = data.find(b"import")
    while start >= 0:  # ``bytes.find`` then a match: 3x faster than a regex search
        match = _IMPORTED.match(data, start + 6)
        if match is None:
            start = data.find(b"import", start + 1)
            continue
        if not (start and data[start - 1] in NAME_BYTES):  # ``reimport``: not the keyword
            imported = NAME.findall(match.group(1))
            marks.update(b"=" + name for name in imported)
            marks.update(b"~" + imported[i - 1] for i, n in enumerate(imported) if n == b"as" and i)
            if b"*" in match.group(1):
                marks.add(b"*")
        start = data.find(b"import", match.end())
    lowered = data.lower()
    if any(word in lowered for word in _SATURATING):
        marks.add(b"!")
    if b"*" not in marks:  # a lookup reads a file's calls only for a name it imports
        called = {n for n in called if b"=" + n in marks}
    return _padded(called), _padded(marks)


def _notebook_names(data: bytes) -> tuple[str, str]:
    """A notebook's entry, read as a ``.py`` file is (over its JSON bytes: outputs may add
    names, which only costs a parse): every name it calls or imports counts as imported and
    called, so a lookup of any of them returns it."""
    called, marks = _names(data)
    names = set(called.split()) | {m[1:] for m in marks.split() if m[:1] in ("=", "~")}
    encoded = {name.encode() for name in names}
    flags = {mark.encode() for mark in marks.split() if mark == "!"}
    return _padded(encoded), _padded({b"=" + name for name in encoded} | flags)


def _padded(names: set[bytes]) -> str:
    return " " + b" ".join(sorted(names)).decode("ascii") + " "


def python_files(root: str) -> list[tuple[str, int, int]]:
    """The project's ``.py`` files and notebooks (real paths, sorted, folders top-down as
    ``os.walk`` goes) with their size and modification time, at most :data:`MAX_FILES` Python
    files and :data:`MAX_NOTEBOOKS` notebooks (no hidden folders - so no
    ``.ipynb_checkpoints`` -, no virtual environments, no symlinked folders)."""
    found: list[tuple[str, int, int]] = []
    python = notebooks = 0
    stack = [os.path.realpath(root)]
    while stack and python < MAX_FILES:
        folder = stack.pop()
        try:
            with os.scandir(folder) as scan:
                items = sorted(scan, key=lambda e: e.name)
        except OSError:
            continue
        dirs: list[str] = []
        for item in items:
            try:
                notebook = item.name.endswith(".ipynb") and notebooks < MAX_NOTEBOOKS
                if (item.name.endswith(".py") or notebook) and item.is_file():
                    path = os.path.realpath(item.path) if item.is_symlink() else item.path
                    info = item.stat()
                    found.append((path, info.st_size, info.st_mtime_ns))
                    notebooks += notebook
                    python += not notebook
                    if python >= MAX_FILES:
                        break
                elif (
                    item.is_dir(follow_symlinks=False)
                    and not item.name.startswith(".")
                    and item.name not in SKIPPED_DIRS
                    and not os.path.exists(os.path.join(item.path, "pyvenv.cfg"))
                ):
                    dirs.append(item.path)
            except OSError:
                continue
        stack.extend(reversed(dirs))
    return found


def other_files(root: str, suffixes: tuple[str, ...], limit: int) -> list[str]:
    """The project's files ending in ``suffixes`` (shell scripts, YAML configs), walked as
    :func:`python_files` walks (no hidden folders, no :data:`SKIPPED_DIRS`, no virtual
    environments), at most ``limit``; real paths, sorted folder by folder."""
    found: list[str] = []
    for folder, dirs, files in os.walk(os.path.realpath(root)):
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and d not in SKIPPED_DIRS
            and not os.path.exists(os.path.join(folder, d, "pyvenv.cfg"))
        )
        for name in sorted(files):
            if name.endswith(suffixes):
                found.append(os.path.join(folder, name))
                if len(found) >= limit:
                    return found
    return found


def _file(root: str) -> Path | None:
    if _directory is None:
        return None
    digest = hashlib.sha256(root.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return _directory / f"callindex-{digest}.json"


def _load(root: str) -> tuple[dict[str, Entry], dict[str, str] | None] | None:
    """The saved index of ``root``, validated entry by entry, and its mark table (None: none,
    or not ours; the table None when it is not a table of strings)."""
    file = _file(root)
    if file is None:
        return None
    try:
        with open(file, "rb") as handle:
            if not os.path.isfile(file) or os.fstat(handle.fileno()).st_size > 512 * 1024 * 1024:
                return None
            data = json.loads(handle.read())
    except (OSError, ValueError, RecursionError):
        return None
    if not (
        isinstance(data, dict)
        and data.get("format") == _FORMAT
        and data.get("tool") == __version__
        and data.get("root") == root
        and isinstance(data.get("files"), dict)
    ):
        return None
    out: dict[str, Entry] = {}
    for path, entry in data["files"].items():
        if (
            isinstance(entry, list)
            and len(entry) == 5
            and type(entry[0]) is int
            and type(entry[1]) is int
            and all(isinstance(text, str) for text in entry[2:])
        ):
            out[path] = (entry[0], entry[1], entry[2], entry[3], entry[4])
    table = data.get("marks")
    if not (
        isinstance(table, dict)
        and len(out) == len(data["files"])
        and all(isinstance(v, str) for v in table.values())
    ):
        table = None  # positions into entries that were not all kept: not trusted
    return out, table


def _save(root: str, entries: dict[str, Entry]) -> None:
    file = _file(root)
    if file is None or not file.parent.parent.is_dir():  # a directory of a past run, removed
        return
    table = _table([entry[4] for entry in entries.values()])
    marks = {mark: " ".join(map(str, sorted(held))) for mark, held in table.items()}
    text = json.dumps(
        {"format": _FORMAT, "tool": __version__, "root": root, "files": entries, "marks": marks},
        ensure_ascii=False,
    )
    with contextlib.suppress(OSError, UnicodeEncodeError):
        file.parent.mkdir(parents=True, exist_ok=True)
        ignore_in_git(file.parent)
        write_atomic(file, text.encode("utf-8", "surrogateescape"), follow_links=False)


__all__ = [
    "CALLERS_PREFIX",
    "INDEXES_KEPT",
    "MAX_FILES",
    "MAX_NOTEBOOKS",
    "UNSAVED_CHANGES",
    "CallIndex",
    "SavedMarks",
    "callers_digest",
    "callers_entry",
    "callers_key",
    "forget",
    "index",
    "python_files",
    "use_directory",
]
