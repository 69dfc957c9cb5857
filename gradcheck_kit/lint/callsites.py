"""Call sites in other files of the project: where a model class defined in the file being linted
is built with literal arguments (``MLP(depth=12)`` in ``train.py``).

A class that takes its depth as a parameter with no default is, on its own, "repeated 'depth'
times" (GCK002); the project usually fixes the depth where the class is built. The interpreter
builds the class again with the literal arguments of each such call (the deepest decides, as
with call sites in the file itself), and the message names the call site.

A file flows so: the first lookup in a run reads the project's call index
(:mod:`gradcheck_kit.lint.callindex`: which names each file calls or imports, a regex over the
bytes, no parse; kept in the cache directory, re-read only for files that changed); a lookup for
a class name parses only the files that import and call it, call it as an attribute or
star-import and call it (:meth:`Project.load`, once per process), keeps the calls whose
callee resolves to the class - through ``from m import C [as D]``, ``import m [as a]``,
package re-exports and star imports - and returns their literal arguments. Every failure (an
unreadable or unparsable file, a starred argument, an unresolvable name) is "no call site".

Notebooks are callers too: the project's ``.ipynb`` files are in the same index (every name a
notebook calls or imports; kept and digested as a ``.py`` file is, so editing a notebook caller
re-lints the model file), a notebook that names the class is read as its code cells joined
(:meth:`Project.load_notebook`: IPython lines made ``pass``), its imports resolve as a script's
in its folder, and a call site in it is named by cell (``analysis.ipynb:cell 3:2``).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from gradcheck_kit.lint import callindex
from gradcheck_kit.lint.caller_values import CallerValues
from gradcheck_kit.lint.callindex import MAX_FILES
from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.interp.syntax import dotted_name
from gradcheck_kit.lint.project import LoadedModule, Project

#: At most this many call sites of one class are interpreted (distinct argument lists).
MAX_SITES = 8
#: How many import hops a re-export may take (``pkg/__init__`` -> ``pkg/models`` -> file).
_HOPS = 4


@dataclass(frozen=True)
class CallSite:
    """A call of the class in another file: its literal arguments (``None`` where an argument is
    not a literal), where it is (``train.py:3``) and how it reads (``MLP(depth=12)``)."""

    args: tuple[ast.expr | None, ...]
    kwargs: tuple[tuple[str, ast.expr | None], ...]
    where: str
    text: str
    module: LoadedModule
    #: where an argument that is not a literal got its value (``--layers default 8 at
    #: train.py:5``)
    notes: tuple[str, ...] = ()
    #: config files an argument was read from (JSON, YAML, TOML): consulted, for the cache
    files: tuple[DataFile, ...] = ()

    @property
    def source(self) -> str:
        """How a message names the call: ``MLP(depth=args.layers) at train.py:9 (--layers
        default 8 at train.py:4)``."""
        notes = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.text} at {self.where}{notes}"


def call_sites(project: Project, name: str) -> list[CallSite]:
    """The calls of the class ``name`` defined in ``project.current`` from the project's other
    Python files, then its notebooks, that pass at least one literal argument, in file order."""
    if project.root is None:
        return []
    sites: list[CallSite] = []
    seen: set[tuple[object, ...]] = set()
    project.looked_up.add(name)  # the cache key covers the files that name it (callindex)
    callers = _index(project.root).callers(name)  # notebooks after the Python files
    for path in sorted(callers, key=lambda path: path.endswith(".ipynb")):
        if path == project.current.path:
            continue
        loaded = project.load_notebook(path) if path.endswith(".ipynb") else project.load(path)
        if loaded is None:
            continue
        for site in _sites_in(project, loaded, name):
            key = (
                tuple(ast.dump(a) if a else None for a in site.args),
                tuple((k, ast.dump(v) if v else None) for k, v in site.kwargs),
            )
            if key not in seen:
                seen.add(key)
                sites.append(site)
            if len(sites) >= MAX_SITES:
                return sites
    return sites


def _index(root: str) -> callindex.CallIndex:
    """The project's call-site index: name -> the files that call or import it
    (:mod:`gradcheck_kit.lint.callindex`: kept in the lint cache directory across runs)."""
    return callindex.index(root)


@dataclass
class _Outline:
    """What a caller module's lookups read, in ``ast.walk`` order, found in one walk per
    process: its import statements, and its calls by the callee's last name (``C`` of ``C(``,
    ``m.C(``), each with its walk position."""

    imports: list[ast.Import | ast.ImportFrom]
    calls: dict[str, list[tuple[int, ast.Call]]]


_OUTLINES: dict[int, tuple[ast.Module, _Outline]] = {}


def _outline(loaded: LoadedModule) -> _Outline:
    found = _OUTLINES.get(id(loaded.tree))
    if found is not None and found[0] is loaded.tree:
        return found[1]
    outline = _Outline([], {})
    for position, node in enumerate(ast.walk(loaded.tree)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            outline.imports.append(node)
        elif isinstance(node, ast.Call):
            func = node.func
            key = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if key is not None:
                outline.calls.setdefault(key, []).append((position, node))
    _OUTLINES[id(loaded.tree)] = (loaded.tree, outline)
    return outline


def _sites_in(project: Project, loaded: LoadedModule, name: str) -> list[CallSite]:
    outline = _outline(loaded)
    aliases = {
        alias.asname
        for stmt in outline.imports
        if isinstance(stmt, ast.ImportFrom)
        for alias in stmt.names
        if alias.name == name and alias.asname
    }
    # the calls that may name the class (by its name or an alias): none, nothing to resolve
    calls = sorted(c for key in {name, *aliases} for c in outline.calls.get(key, ()))
    if not calls:
        return []
    direct, modules = _bindings(project, loaded, name)
    if not direct and not modules:
        return []
    display = project.display(loaded.file.path)
    options: CallerValues | None = None
    out: list[CallSite] = []
    for _, node in calls:
        if not _calls(node.func, direct, modules, name):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args):
            continue
        if any(k.arg is None for k in node.keywords):  # ``**config``: the arguments are unseen
            continue
        notes: list[str] = []
        files: list[DataFile] = []
        if options is None:
            options = CallerValues(project, loaded, display)
        args = tuple(options.literal(a, notes, files) for a in node.args)
        kwargs = tuple((str(k.arg), options.literal(k.value, notes, files)) for k in node.keywords)
        if all(a is None for a in args) and all(v is None for _, v in kwargs):
            continue  # nothing the linter can read: the class's own defaults say as much
        text = ast.unparse(node)
        if len(text) > 60:
            text = text[:57] + "..."
        where = _where(display, loaded, node.lineno)
        if loaded.notebook is not None:
            notes = [_cell_note(note, display, loaded) for note in notes]
        out.append(
            CallSite(
                args,
                kwargs,
                where,
                text,
                loaded,
                tuple(dict.fromkeys(notes)),
                tuple(dict.fromkeys(files)),
            )
        )
    return out


def _where(display: str, loaded: LoadedModule, line: int) -> str:
    """``train.py:3``, or ``analysis.ipynb:cell 3:2`` in a notebook (the cell's position among
    all cells and the line within it, as the notebook's own findings say)."""
    located = loaded.notebook.locate(line) if loaded.notebook is not None else None
    if located is None:
        return f"{display}:{line}"
    return f"{display}:cell {located[0]}:{located[1]}"


def _cell_note(note: str, display: str, loaded: LoadedModule) -> str:
    """A note's place in the notebook itself (``Cfg.depth default 9 at nb.ipynb:10``, a line of
    the joined cells) by cell: ``at nb.ipynb:cell 3:5``."""
    return re.sub(
        rf"\bat {re.escape(display)}:(\d+)\b",
        lambda m: f"at {_where(display, loaded, int(m.group(1)))}",
        note,
    )


def binds(project: Project, path: str, name: str) -> bool:
    """Whether the project file (or notebook) at ``path`` binds a name to ``name`` of
    ``project.current``, as :func:`call_sites` resolves it (the project-aware prefilter asks)."""
    loaded = project.load_notebook(path) if path.endswith(".ipynb") else project.load(path)
    if loaded is None:
        return False
    from gradcheck_kit.lint.prefilter import imports_in  # its statements only: no walk

    found = _IMPORTS.get(id(loaded.tree))
    if found is None or found[0] is not loaded.tree:
        found = _IMPORTS[id(loaded.tree)] = (loaded.tree, imports_in(loaded.tree.body))
    direct, modules = _bindings(project, loaded, name, found[1])
    return bool(direct or modules)


_IMPORTS: dict[int, tuple[ast.Module, list[ast.Import | ast.ImportFrom]]] = {}


def _calls(func: ast.expr, direct: set[str], modules: set[str], name: str) -> bool:
    """Whether ``func`` names the class: a bound name, or ``module.Class`` where ``module``
    (a name or a dotted chain) is bound to the class's module."""
    if isinstance(func, ast.Name):
        return func.id in direct
    if isinstance(func, ast.Attribute) and func.attr == name:
        return dotted_name(func.value) in modules
    return False


def _bindings(
    project: Project,
    loaded: LoadedModule,
    name: str,
    imports: list[ast.Import | ast.ImportFrom] | None = None,
) -> tuple[set[str], set[str]]:
    """In a caller module: the names bound to the class, and the (dotted) names bound to a
    module whose ``name`` is the class (``imports``: its import statements, if known)."""
    direct: set[str] = set()
    modules: set[str] = set()
    importer = loaded.file.path
    for node in _outline(loaded).imports if imports is None else imports:
        if isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            found = project.find_module(module, importer)
            for alias in node.names:
                if alias.name == "*":
                    if found is not None and _defines(project, found, name, _HOPS):
                        direct.add(name)
                    continue
                bound = alias.asname or alias.name
                if alias.name == name and found is not None:
                    if _defines(project, found, name, _HOPS):
                        direct.add(bound)
                elif found is not None:  # ``from pkg import models``: a submodule
                    sub = project.submodule(found, alias.name)
                    if sub is not None and _defines(project, sub, name, _HOPS):
                        modules.add(bound)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                found = project.find_module(alias.name, importer)
                if found is None or not _defines(project, found, name, _HOPS):
                    continue
                modules.add(alias.asname or alias.name)
    return direct, modules


def _defines(project: Project, path: str, name: str, hops: int) -> bool:
    """Whether the module at ``path`` is the current file, or re-exports its ``name`` (an
    import of it, or a star import of a module that does), within ``hops`` imports."""
    if path == project.current.path:
        return True
    if hops <= 0 or not path.endswith(".py"):
        return False
    loaded = project.load(path)
    if loaded is None:
        return False
    for stmt in loaded.bindings.get(name, []):
        if isinstance(stmt, ast.ImportFrom):
            alias = next((a for a in stmt.names if (a.asname or a.name) == name), None)
            found = project.find_module("." * stmt.level + (stmt.module or ""), path)
            if (
                alias is not None
                and found is not None
                and _defines(project, found, alias.name, hops - 1)
            ):
                return True
    for star in loaded.stars:
        found = project.find_module("." * star.level + (star.module or ""), path)
        if found is not None and _defines(project, found, name, hops - 1):
            return True
    return False


def forget() -> None:
    """Forget the call index (a new run: files may have changed)."""
    callindex.forget()
    _OUTLINES.clear()
    _IMPORTS.clear()


__all__ = ["MAX_FILES", "MAX_SITES", "CallSite", "binds", "call_sites", "forget"]
