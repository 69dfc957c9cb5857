"""The project a lint run covers: the module resolver through which the interpreter reads a name
imported from another module of the project.

A file flows so: the engine builds a :class:`Project` for the file (:meth:`Project.for_file`)
and hands it to the interpreter; the interpreter asks :meth:`Project.find_module` for each module
it imports from, reads the module lazily (:meth:`Project.load`: parsed once per process, only
modules on import paths), and records every project file it consulted; the cache keys the file's
results by its own content hash plus the hashes of the files it consulted
(:func:`gradcheck_kit.lint.cache.file_key`).

The project root is the nearest folder at or above the file holding ``pyproject.toml``,
``setup.cfg`` or ``.git``. Without one (a downloaded archive, a Colab or Kaggle folder), it is
the outermost folder named to the run that holds the file (``gradcheck-kit lint proj/``:
:func:`name_folders`); else a file inside a package belongs to the folder above its top-level
package, and a
loose file is a project of its own (it resolves only itself). Such a root depends on the run, so
the cache key of a file without a marker covers it (:func:`root_entry`). Modules
are found as Python would find them from the root: the folder above the file's top-level
package (or a script's own folder), the root, and ``root/src`` (src layout); packages, namespace
packages (folders without ``__init__.py``) and relative imports (by folder, as the import system
does); a notebook's imports (a caller read by :meth:`Project.load_notebook`) look in its own
folder first, where Jupyter runs it. The standard library and torch are never resolved, and
nothing outside the root is. Every failure (an unreadable, undecodable or unparsable module, one
too large) is "unknown".
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
import stat
import sys
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from gradcheck_kit.lint.notebook import NotebookError, NotebookSource, notebook_source

#: The module name of source that is not a file (``lint_source`` on a string).
NO_MODULE = "__main__"
#: What marks a project's root folder.
ROOT_MARKERS = ("pyproject.toml", "setup.cfg", ".git")
#: A module larger than this is not read for another file's sake (generated code, data).
MAX_MODULE_BYTES = 2_000_000
#: A notebook larger than this is not read for another file's sake (its outputs: images, data).
MAX_NOTEBOOK_BYTES = 10_000_000
#: At most this many submodules of a dispatching package are looked in.
MAX_SUBMODULES = 32
#: Top-level names that are never the project's, whatever the project holds.
NEVER_RESOLVED = frozenset(sys.stdlib_module_names) | {"torch", "numpy", "__future__"}


@dataclass(frozen=True)
class ProjectFile:
    path: str
    module: str  # dotted module name (``pkg.models.mlp``)


@dataclass
class LoadedModule:
    """A project module read for another file: its tree, its content hash and stamp (for the
    cache key of the files that consulted it), and which top-level statements bind each name."""

    file: ProjectFile
    tree: ast.Module
    sha256: str
    stamp: tuple[int, int]
    is_package: bool
    #: name -> the top-level statements that bind it (directly in the module body)
    bindings: dict[str, list[ast.stmt]] = field(default_factory=dict)
    #: names bound inside a compound statement (``if``/``try``) or changed after binding:
    #: their value depends on what runs, so they stay unknown
    unsure: set[str] = field(default_factory=set)
    stars: list[ast.ImportFrom] = field(default_factory=list)  # ``from x import *``
    exports: tuple[str, ...] | None = None  # a literal ``__all__``
    #: a notebook's code cells (its ``tree`` is their joined source): where each line is
    notebook: NotebookSource | None = None
    #: a package that imports one of its own submodules by a computed name
    #: (``importlib.import_module(".%s" % backend, __name__)``, deepxde's backends): a name it
    #: does not bind may be any submodule's
    dispatches: bool = False


def module_name(path: str) -> str:
    """``pkg/models/mlp.py`` -> ``pkg.models.mlp``: the file's stem and the package folders above
    it (folders with an ``__init__.py``); ``pkg/__init__.py`` -> ``pkg``."""
    if not path or path.startswith("<"):
        return NO_MODULE
    folder, name = os.path.split(os.path.abspath(path))
    stem = name.rsplit(".", 1)[0]
    parts = [] if stem == "__init__" else [stem]
    while folder and os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        if not package:
            break
        parts.append(package)
    return ".".join(reversed(parts)) or NO_MODULE


def package_root(path: str) -> str | None:
    """The folder above the top-level package holding ``path`` (None: not in a package)."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isfile(os.path.join(folder, "__init__.py")):
        return None
    while os.path.isfile(os.path.join(folder, "__init__.py")):
        parent = os.path.dirname(folder)
        if parent == folder:
            break
        folder = parent
    return folder


@lru_cache(maxsize=4096)
def project_root(folder: str) -> str | None:
    """The nearest folder at or above ``folder`` with a root marker, or None."""
    current = folder
    while True:
        if any(os.path.exists(os.path.join(current, m)) for m in ROOT_MARKERS):
            return current
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


class Project:
    """The project of the file being linted (:attr:`current`), and how its imports resolve.

    ``search`` are the folders absolute imports are looked up in; ``root`` bounds every
    resolution (None: the file alone, nothing but itself resolves)."""

    def __init__(
        self,
        current: ProjectFile,
        files: tuple[ProjectFile, ...] = (),
        root: str | None = None,
        search: tuple[str, ...] = (),
    ) -> None:
        self.current = current
        self.files = {f.module: f for f in (*files, current)}
        self.root = root
        self.search = search
        #: the classes whose call sites in other files were looked up (their cache key covers
        #: every file that names them: :mod:`gradcheck_kit.lint.callindex`)
        self.looked_up: set[str] = set()
        #: the file being linted as a module (:meth:`take_tree`): where a wrapper of its class
        #: in the same file is found (never a consulted file: its own hash is the key)
        self.own: LoadedModule | None = None

    def take_tree(self, tree: ast.Module) -> None:
        """The parsed text of the file being linted, read as another module would be."""
        own = LoadedModule(self.current, tree, "", (0, 0), self.current.module.endswith("__init__"))
        _index(own)
        self.own = own

    @classmethod
    def single(cls, path: str) -> Project:
        """The project of one file, alone (``lint_source`` on a string)."""
        return cls(ProjectFile(path, module_name(path)))

    @classmethod
    def for_file(cls, path: str) -> Project:
        """The project ``path`` belongs to (see the module docstring)."""
        if not path or path.startswith("<") or not os.path.isfile(path):
            return cls.single(path)
        real = os.path.realpath(path)
        folder = os.path.dirname(real)
        above_package = package_root(real)
        root = project_root(folder) or fallback_root(real) or above_package
        if root is None:
            return cls.single(path)
        candidates = [above_package or folder, root, os.path.join(root, "src")]
        search = tuple(dict.fromkeys(c for c in candidates if _inside(c, root) and _isdir(c)))
        return cls(ProjectFile(real, module_name(real)), root=root, search=search)

    def resolve(self, module: str, name: str) -> ProjectFile | None:
        """The project file of ``module`` (where ``name`` is looked up), or None."""
        if module == self.current.module:
            return self.current
        found = self.find_module(module)
        return self.file_of(found) if found is not None and found.endswith(".py") else None

    def find_module(self, module: str, importer: str | None = None) -> str | None:
        """The file (``.py``; a package's ``__init__.py``) or namespace folder of ``module`` as
        ``importer`` (default: the current file) imports it; relative names start with dots.
        None: not a module of this project."""
        if self.root is None:
            return None
        level = len(module) - len(module.lstrip("."))
        parts = [p for p in module[level:].split(".") if p]
        if level:
            folder = os.path.dirname(importer or self.current.path)
            for _ in range(level - 1):
                folder = os.path.dirname(folder)
            if not _inside(folder, self.root):
                return None
            return _module_at(folder, parts) if parts else _package_at(folder)
        if not parts or parts[0] in NEVER_RESOLVED:
            return None
        for folder in self._search_from(importer):
            found = _module_at(folder, parts)
            if found is not None:
                return found
        return None

    def _search_from(self, importer: str | None) -> tuple[str, ...]:
        """Where absolute imports are looked up: a notebook's own folder first (Jupyter runs it
        there, as a script at its folder), then :attr:`search`."""
        if importer is None or not importer.endswith(".ipynb") or self.root is None:
            return self.search
        folder = os.path.dirname(importer)
        if not _inside(folder, self.root):
            return self.search
        return tuple(dict.fromkeys((folder, *self.search)))

    def submodule(self, package: str, name: str) -> str | None:
        """The file or folder of ``name`` inside a package (its ``__init__.py``) or folder."""
        folder = os.path.dirname(package) if package.endswith(".py") else package
        return _module_at(folder, [name])

    def submodules(self, package: str) -> list[str]:
        """The modules and packages directly inside a package (its ``__init__.py``), in name
        order, at most :data:`MAX_SUBMODULES`."""
        folder = os.path.dirname(package)
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            return []
        found = [
            path
            for name in names
            if name != "__init__.py"
            and not name.startswith((".", "_"))
            and (path := _module_at(folder, [name.removesuffix(".py")])) is not None
            and path.endswith(".py")
        ]
        return found[:MAX_SUBMODULES]

    def dispatched(self, package: str) -> list[str]:
        """Where a name of a package that loads a submodule by a computed name may come from
        (:attr:`LoadedModule.dispatches`): its PyTorch submodule (named like ``torch``: this is
        a PyTorch linter, and that is the backend its users run), else any of them."""
        subs = self.submodules(package)
        torch = [sub for sub in subs if "torch" in stem(sub)]
        return torch or subs

    def display(self, path: str) -> str:
        """``path`` as messages name it: relative to the project root, with ``/``."""
        if self.root is None or not _inside(path, self.root):
            return os.path.basename(path)
        return os.path.relpath(path, self.root).replace(os.sep, "/")

    def file_of(self, path: str) -> ProjectFile:
        if path == self.current.path:
            return self.current
        return ProjectFile(path, _dotted(path, self.search))

    def load(self, path: str) -> LoadedModule | None:
        """The parsed module at ``path`` (a ``.py`` file of this project), or None."""
        if path == self.current.path or not path.endswith(".py"):
            return None
        try:
            info = os.stat(path)
        except OSError:
            return None
        return _load(path, info.st_size, info.st_mtime_ns, self.file_of(path))

    def load_notebook(self, path: str) -> LoadedModule | None:
        """A notebook of this project (``.ipynb``) as a module: its code cells joined as the
        linter joins them (IPython syntax made ``pass``), hashed and stamped as its bytes are
        (the cache checks the file itself); None when it cannot be read or parsed."""
        if path == self.current.path or not path.endswith(".ipynb"):
            return None
        try:
            info = os.stat(path)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None  # a FIFO or a device: reading it would block
        return _load_notebook(path, info.st_size, info.st_mtime_ns, self.file_of(path))


#: The folders named to this run (:func:`name_folders`), real and absolute, outermost first.
_named: tuple[str, ...] = ()
#: The pseudo consulted path of a file's root when no marker decides it (see :func:`root_entry`).
ROOT_PREFIX = "<root>"


def name_folders(paths: Iterable[str | os.PathLike[str]]) -> tuple[str, ...]:
    """Take the folders among ``paths`` (what a run was asked to lint) as project roots for the
    files under them that have no root marker; returns them (for worker processes)."""
    global _named
    folders = {os.path.realpath(p) for p in paths if os.path.isdir(p)}
    _named = tuple(sorted(folders, key=len))
    return _named


def named_folders() -> tuple[str, ...]:
    """The folders :func:`name_folders` took, for a worker process started by spawn."""
    return _named


def use_named_folders(folders: tuple[str, ...]) -> None:
    """In a worker process: the parent's :func:`name_folders`."""
    global _named
    _named = folders


def fallback_root(real: str) -> str | None:
    """The root of a file with no marker above it: the outermost named folder that holds it.
    (Not the working directory: ``/tmp`` holds other people's projects.)"""
    for folder in _named:
        if _inside(real, folder) and real != folder:
            return folder
    return None


def root_entry(project: Project) -> list[tuple[str, str, int, int]]:
    """For the cache: the pseudo consulted file "this file's root" of a file that no marker
    places (its hash: the root it has in this run), so a run that names another folder lints
    it again; nothing for a file under a marker."""
    if not os.path.isfile(project.current.path):
        return []  # source that is not a file (``lint_source`` on a string)
    real = os.path.realpath(project.current.path)
    if project_root(os.path.dirname(real)) is not None:
        return []
    return [(ROOT_PREFIX + real, root_digest(ROOT_PREFIX + real) or "", 0, 0)]


def root_digest(key: str) -> str | None:
    """The hash the pseudo path ``key`` (:func:`root_entry`) has in this run."""
    if not key.startswith(ROOT_PREFIX):
        return None
    real = key[len(ROOT_PREFIX) :]
    root = project_root(os.path.dirname(real)) or fallback_root(real) or package_root(real)
    return hashlib.sha256((root or "").encode()).hexdigest()


def forget() -> None:
    """Forget what the file system looked like (roots, folders, files): a new run starts here;
    within one run the tree is taken not to change. Parsed modules are keyed by their stamp."""
    project_root.cache_clear()
    _isdir.cache_clear()
    _isfile.cache_clear()
    _module_in.cache_clear()
    _package_at.cache_clear()


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


@lru_cache(maxsize=65536)
def _isdir(path: str) -> bool:
    return os.path.isdir(path)


@lru_cache(maxsize=65536)
def _isfile(path: str) -> bool:
    return os.path.isfile(path)


def stem(module: str) -> str:
    """The name a module is imported by: its file's stem, or its package's folder."""
    folder, file = os.path.split(module)
    return os.path.basename(folder) if file == "__init__.py" else os.path.splitext(file)[0]


def _module_at(folder: str, parts: list[str]) -> str | None:
    return _module_in(folder, tuple(parts))


@lru_cache(maxsize=65536)
def _module_in(folder: str, parts: tuple[str, ...]) -> str | None:
    """The module ``parts`` under ``folder`` (one answer per run: ``realpath`` is not cheap)."""
    if not all(p.isidentifier() for p in parts):
        return None
    base = os.path.join(folder, *parts)
    if _isfile(base + ".py"):
        return os.path.realpath(base + ".py")
    return _package_at(base)


@lru_cache(maxsize=65536)
def _package_at(folder: str) -> str | None:
    init = os.path.join(folder, "__init__.py")
    if _isfile(init):
        return os.path.realpath(init)
    return os.path.realpath(folder) if _isdir(folder) else None  # a namespace package


def _dotted(path: str, search: tuple[str, ...]) -> str:
    for folder in search:
        if _inside(path, folder):
            rel = os.path.relpath(path, folder).replace(os.sep, "/")
            parts = rel.rsplit(".", 1)[0].split("/")
            if parts[-1] == "__init__":
                parts = parts[:-1]
            return ".".join(parts) or NO_MODULE
    return module_name(path)


#: realpath -> (text, tree) of the last trees parsed in this process: a file that is both
#: linted and read for another file's sake is parsed once (either way round)
_TREES: dict[str, tuple[str, ast.Module]] = {}
_TREES_KEPT = 64


def reused_tree(path: str, text: str) -> ast.Module | None:
    """The tree of ``text`` if this process parsed it at ``path`` (a real path) lately."""
    found = _TREES.get(path)
    return found[1] if found is not None and found[0] == text else None


def keep_tree(path: str, text: str, tree: ast.Module) -> None:
    """Remember the tree of ``text`` at ``path`` (a real path); trees are never modified."""
    if len(_TREES) >= _TREES_KEPT and path not in _TREES:
        del _TREES[next(iter(_TREES))]
    _TREES[path] = (text, tree)


@lru_cache(maxsize=512)
def _load(path: str, size: int, mtime: int, file: ProjectFile) -> LoadedModule | None:
    """Read and index a module once per process (and again only when it changes)."""
    if size > MAX_MODULE_BYTES:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_MODULE_BYTES + 1)
        text = data.decode("utf-8-sig")
        tree = reused_tree(path, text)
        if tree is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tree = ast.parse(text, path)
            keep_tree(path, text, tree)
    except (OSError, UnicodeDecodeError, SyntaxError, ValueError, MemoryError, RecursionError):
        return None
    digest = hashlib.sha256(data).hexdigest()
    package = os.path.basename(path) == "__init__.py"
    loaded = LoadedModule(file, tree, digest, (size, mtime), package)
    loaded.dispatches = package and _DISPATCH.search(text) is not None
    _index(loaded)
    return loaded


#: ``import_module(".%s" % name, ...)`` / ``import_module(f".{name}", ...)``: a package loading
#: one of its own submodules by a computed, relative name.
_DISPATCH = re.compile(r"import_module\(\s*[fFrR]?[\"']\.[^\"']*[%{]")


@lru_cache(maxsize=64)
def _load_notebook(path: str, size: int, mtime: int, file: ProjectFile) -> LoadedModule | None:
    if size > MAX_NOTEBOOK_BYTES:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_NOTEBOOK_BYTES + 1)
        source = notebook_source(data.decode("utf-8-sig"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source.text, path)
    except (
        OSError,
        UnicodeDecodeError,
        NotebookError,
        SyntaxError,
        ValueError,
        MemoryError,
        RecursionError,
    ):
        return None
    digest = hashlib.sha256(data).hexdigest()
    loaded = LoadedModule(file, tree, digest, (size, mtime), False, notebook=source)
    _index(loaded)
    return loaded


def indexed(file: ProjectFile, tree: ast.Module) -> LoadedModule:
    """The file being linted as a :class:`LoadedModule` of its own ``tree`` (the one its
    interpretation walks), so that what reads a caller module can read it too."""
    loaded = LoadedModule(file, tree, "", (0, 0), os.path.basename(file.path) == "__init__.py")
    _index(loaded)
    return loaded


def _index(loaded: LoadedModule) -> None:
    mutated: set[str] = set()
    for stmt in loaded.tree.body:
        names = _bound_names(stmt)
        if isinstance(stmt, ast.ImportFrom) and any(a.name == "*" for a in stmt.names):
            loaded.stars.append(stmt)
        for name in names:
            loaded.bindings.setdefault(name, []).append(stmt)
        if not names and not isinstance(stmt, (ast.Expr, ast.Pass)):
            for node in _top_level_nodes(stmt):  # if/try/for/with at the top level: unsure names
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    loaded.unsure.add(node.id)
                elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
                    loaded.unsure.add(node.name)
                elif isinstance(node, ast.alias):
                    loaded.unsure.add((node.asname or node.name).split(".")[0])
        for node in _top_level_nodes(stmt):  # mutated after binding: X.append(..), X[k] = ..
            if isinstance(node, (ast.AugAssign, ast.Assign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    if isinstance(target, (ast.Subscript, ast.Attribute)):
                        if isinstance(target.value, ast.Name):
                            mutated.add(target.value.id)
                    elif isinstance(node, ast.AugAssign) and isinstance(target, ast.Name):
                        mutated.add(target.id)
            elif (
                isinstance(node, ast.Expr)
                and isinstance(node.value, ast.Call)
                and isinstance(node.value.func, ast.Attribute)
                and isinstance(node.value.func.value, ast.Name)
            ):
                mutated.add(node.value.func.value.id)
    imported = {
        name
        for name, stmts in loaded.bindings.items()
        if all(isinstance(s, (ast.Import, ast.ImportFrom)) for s in stmts)
    }
    loaded.unsure |= mutated - imported
    loaded.unsure |= {name for name, stmts in loaded.bindings.items() if len(stmts) > 1}
    all_names = loaded.bindings.get("__all__")
    if all_names and len(all_names) == 1 and isinstance(all_names[0], ast.Assign):
        try:
            value = ast.literal_eval(all_names[0].value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            value = None
        if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
            loaded.exports = tuple(value)


def _top_level_nodes(stmt: ast.stmt) -> list[ast.AST]:
    """The nodes of a top-level statement, not looking inside functions and classes (their
    bodies run later, if ever)."""
    out: list[ast.AST] = []
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        out.append(node)
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            stack.extend(ast.iter_child_nodes(node))
    return out


def _bound_names(stmt: ast.stmt) -> list[str]:
    """The names a top-level statement binds, when it is one that simply binds them."""
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        out: list[str] = []
        for target in stmt.targets:
            out.extend(
                n.id
                for n in ast.walk(target)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            )
        return out
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name) and stmt.value:
        return [stmt.target.id]
    if isinstance(stmt, ast.ImportFrom):
        return [a.asname or a.name for a in stmt.names if a.name != "*"]
    if isinstance(stmt, ast.Import):
        return [(a.asname or a.name).split(".")[0] for a in stmt.names]
    return []


__all__ = [
    "NO_MODULE",
    "LoadedModule",
    "Project",
    "ProjectFile",
    "forget",
    "indexed",
    "module_name",
    "package_root",
    "project_root",
]
