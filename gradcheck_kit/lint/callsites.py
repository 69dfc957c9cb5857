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
import os
import re
from dataclasses import dataclass, replace

from gradcheck_kit.lint import (
    caller_text,
    callindex,
    config_targets,
    enclosing,
    import_statements,
    shell_runs,
)
from gradcheck_kit.lint.argparse_options import Run
from gradcheck_kit.lint.caller_values import Arg, CallerValues, Held
from gradcheck_kit.lint.callindex import MAX_FILES
from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.interp.syntax import walked
from gradcheck_kit.lint.literals import literal
from gradcheck_kit.lint.project import LoadedModule, Project
from gradcheck_kit.lint.provenance import Place, Provenance, cite, node_place, places_of
from gradcheck_kit.lint.rebinding import HOPS, bindings, calls_name, defines

#: At most this many call sites of one class are interpreted (distinct argument lists), and as
#: many more read with shell scripts' option values.
MAX_SITES = 8
#: How many wrappers a call site may go through (``Solver(layers)`` -> ``DNN(layers)``).
MAX_WRAPPERS = 2


@dataclass(frozen=True)
class CallSite:
    """A call of the class in another file: its literal arguments (``None`` where an argument is
    not a literal), where it is (``train.py:3``) and how it reads (``MLP(depth=12)``)."""

    args: tuple[Arg, ...]
    kwargs: tuple[tuple[str, Arg], ...]
    where: str
    text: str
    module: LoadedModule
    #: where an argument that is not a literal got its value (``--layers default 8 at
    #: train.py:5``)
    notes: tuple[str, ...] = ()
    #: config files an argument was read from (JSON, YAML, TOML): consulted, for the cache
    files: tuple[DataFile, ...] = ()

    #: the call's own place (a related location of the findings it decides)
    place: Place | None = None
    #: read with a shell script's option values (:mod:`shell_runs`), not the defaults
    run: bool = False

    @property
    def source(self) -> str:
        """How a message names the call: ``MLP(depth=args.layers) at train.py:9 (--layers
        default 8 at train.py:4)``, knowing the places it names (:mod:`provenance`)."""
        notes = f" ({'; '.join(self.notes)})" if self.notes else ""
        return cite(f"{self.text} at {self.where}{notes}", *self.notes, place=self.place)


def call_sites(project: Project, name: str) -> list[CallSite]:
    """The calls of the class ``name`` defined in ``project.current`` from the project's other
    Python files, then its notebooks, that pass at least one literal argument, in file order;
    with the calls of a wrapper that passes its own parameters on (``Solver(layers)`` whose
    ``__init__`` builds ``DNN(layers)``: see :func:`_wrapped`)."""
    if project.root is None:
        return []
    return _find_sites(project, name, project.current.path, 0)


def _find_sites(project: Project, name: str, home: str, wraps: int) -> list[CallSite]:
    """The call sites of the class or function ``name`` defined in the file ``home``, at most
    :data:`MAX_SITES`; ``wraps``: how many wrappers were already followed to get here."""
    assert project.root is not None
    sites: list[CallSite] = []
    seen: set[tuple[object, ...]] = set()
    names = [name]  # the class's name, then the names a module re-exports it under
    if wraps == 0:  # Hydra's ``_target_`` in the project's configs, as keyword calls
        for site in config_targets.target_sites(project, name, home):
            key = (tuple(_key(a) for a in site.args), tuple((k, _key(v)) for k, v in site.kwargs))
            if key not in seen and len(sites) < MAX_SITES:
                seen.add(key)
                sites.append(site)
    for looked in names:
        project.looked_up.add(looked)  # the cache key covers the files that name it (callindex)
        # notebooks after the Python files
        callers = tuple(sorted(_index(project.root).callers(looked), key=_is_notebook))
        if wraps < MAX_WRAPPERS and looked == name and home not in callers:
            callers = (home, *callers)  # a wrapper in the class's own file (the current one)
        for path in callers:
            if path == project.current.path:
                loaded = project.own
            elif path.endswith(".ipynb"):
                loaded = project.load_notebook(path)
            else:
                loaded = project.load(path)
            if loaded is None:
                continue
            if loaded.notebook is None and len(names) <= HOPS and path != home:
                names += [a for a in _renames(project, loaded, looked, home) if a not in names]
            for site in _sites_in(project, loaded, looked, home, wraps):
                key = (
                    tuple(_key(a) for a in site.args),
                    tuple((k, _key(v)) for k, v in site.kwargs),
                )
                if key not in seen and sum(x.run == site.run for x in sites) < MAX_SITES:
                    seen.add(key)
                    sites.append(site)
                if len(sites) >= 2 * MAX_SITES:
                    return sites
    return sites


def _held_parameter(
    project: Project, loaded: LoadedModule, node: ast.Call, arg: ast.Name, values: CallerValues
) -> bool:
    """Whether the parameter ``arg`` of the function around ``node`` holds options or a config
    its callers cannot give but this module can read: annotated with a config class (``cfg:
    TrainConfig``), the first parameter of a decorated function that a config file fills
    (``@hydra.main``), or options a call here gives it (``main(parse_args())``, only where the
    module may define options: its call-index entry calls ``.add_argument``). Each reader is
    asked only where its case applies."""
    found = enclosing.enclosing(loaded).get(id(node))
    if found is None:
        return False
    function = found[0]
    params = function.args
    param = next(
        (p for p in (*params.posonlyargs, *params.args, *params.kwonlyargs) if p.arg == arg.id),
        None,
    )
    if param is None:
        return False
    if isinstance(param.annotation, ast.Name) and values.configs.fields(param.annotation.id):
        return True
    if function.decorator_list and values.files.holds(arg):
        return True
    if project.root is None:
        return False
    entry = _index(project.root).entries.get(loaded.file.path)
    parses = entry is None or " .add_argument " in entry[4]
    return parses and arg.id in values.options.holders


def _key(arg: Arg) -> object:
    """An argument as two sites compare: the literal's syntax, the held name's place."""
    if isinstance(arg, Held):
        return arg.key()
    return ast.dump(arg) if arg is not None else None


def _renames(project: Project, loaded: LoadedModule, name: str, home: str) -> list[str]:
    """The other names a module binds the class to (``from .stack import Stack as Net`` in a
    package's ``__init__``): its callers may know it by that name only."""
    return [
        alias.asname
        for stmt in _outline(loaded).imports
        if isinstance(stmt, ast.ImportFrom) and stmt.col_offset == 0
        for alias in stmt.names
        if alias.name == name
        and alias.asname
        and alias.asname != name
        and (found := project.find_module("." * stmt.level + (stmt.module or ""), loaded.file.path))
        is not None
        and defines(project, found, name, HOPS, home)
    ]


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
    for position, node in enumerate(walked(loaded.tree)):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            outline.imports.append(node)
        elif isinstance(node, ast.Call):
            func = node.func
            key = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if key is not None:
                outline.calls.setdefault(key, []).append((position, node))
    _OUTLINES[id(loaded.tree)] = (loaded.tree, outline)
    return outline


def _sites_in(
    project: Project, loaded: LoadedModule, name: str, home: str, wraps: int
) -> list[CallSite]:
    """The call sites of ``name`` (defined in ``home``) in one caller module: its calls with
    literal arguments, and the calls of the wrappers that pass their parameters to it."""
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
    direct, modules = bindings(project, loaded, name, home, _outline(loaded).imports)
    if loaded.file.path == home:
        direct.add(name)  # the class's own file: only its wrappers' calls count (below)
    if not direct and not modules:
        return []
    reader = _Reader(project, loaded, project.display(loaded.file.path))
    out: list[CallSite] = []
    for _, node in calls:
        if not calls_name(node.func, direct, modules, name):
            continue
        if any(isinstance(a, ast.Starred) for a in node.args):
            continue
        if any(k.arg is None for k in node.keywords):  # ``**config``: the arguments are unseen
            continue
        if loaded.file.path == home and not enclosing.passes_parameters(loaded, node):
            continue  # a call in the class's own file is the interpreter's, unless a wrapper's
        reader.run = None
        out += _sites_of(project, loaded, node, home, wraps, reader)
        if reader.values is None:
            continue  # nothing read: no shell run can change what it passes
        for run in reader.values.shell_runs:  # ``python train.py --layer 8`` in ``run.sh``
            reader.run = run
            out += _sites_of(project, loaded, node, home, wraps, reader)
    return out


def _unreached(loaded: LoadedModule, node: ast.Call, reader: _Reader) -> bool:
    """Whether an ``if`` around ``node`` (in its function, or at module level) compares what the
    run's options say and is decided against the branch the call is in
    (``if args.model == "mlp": ... else: Resnet(...)`` with ``--model mlp``)."""
    values = reader.get()
    for test, taken in _guards(loaded).get(id(node), ()):
        if not (isinstance(test, ast.Compare) and len(test.ops) == 1):
            continue
        sides = [
            values.literal(side, [], [], reader.run) for side in (test.left, *test.comparators)
        ]
        if any(side is None for side in sides):
            continue
        try:
            left, right = (ast.literal_eval(side) for side in sides if side is not None)
            op = test.ops[0]
            if isinstance(op, (ast.Eq, ast.NotEq)):
                truth = (left == right) == isinstance(op, ast.Eq)
            elif isinstance(op, (ast.In, ast.NotIn)):
                truth = (left in right) == isinstance(op, ast.In)
            else:
                continue
        except (ValueError, TypeError, SyntaxError):
            continue
        if truth != taken:
            return True
    return False


#: id(module tree) -> (the tree, id(call) -> the ``if`` tests around it, each with whether the
#: call is in its body (True) or its ``else``/``elif`` (False))
_GUARDS: dict[int, tuple[ast.Module, dict[int, tuple[tuple[ast.expr, bool], ...]]]] = {}


def _guards(loaded: LoadedModule) -> dict[int, tuple[tuple[ast.expr, bool], ...]]:
    found = _GUARDS.get(id(loaded.tree))
    if found is not None and found[0] is loaded.tree:
        return found[1]
    table: dict[int, tuple[tuple[ast.expr, bool], ...]] = {}
    stack: list[tuple[ast.AST, tuple[tuple[ast.expr, bool], ...]]] = [(loaded.tree, ())]
    while stack:
        current, around = stack.pop()
        if isinstance(current, ast.Call):
            table[id(current)] = around
        if isinstance(current, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            around = ()  # a function's body runs when it is called, not where it is defined
        if isinstance(current, ast.If):
            stack.append((current.test, around))
            stack.extend((child, (*around, (current.test, True))) for child in current.body)
            stack.extend((child, (*around, (current.test, False))) for child in current.orelse)
            continue
        stack.extend((child, around) for child in ast.iter_child_nodes(current))
    _GUARDS[id(loaded.tree)] = (loaded.tree, table)
    return table


class _Reader:
    """A caller module's readers, made on the first argument that may read (:func:`_sites_of`),
    and the shell run being read (None: the defaults)."""

    def __init__(self, project: Project, loaded: LoadedModule, display: str) -> None:
        self.project, self.loaded, self.display = project, loaded, display
        self.values: CallerValues | None = None
        self.run: Run | None = None

    def get(self) -> CallerValues:
        if self.values is None:
            self.values = _caller_values(self.project, self.loaded, self.display)
        return self.values


def _sites_of(
    project: Project, loaded: LoadedModule, node: ast.Call, home: str, wraps: int, reader: _Reader
) -> list[CallSite]:
    """The call sites one call of the class (or of a wrapper of it) in a caller module gives."""
    display = reader.display
    if reader.run is not None and _unreached(loaded, node, reader):
        return []  # ``elif args.model == "resnet":`` in a run with ``--model mlp``
    notes: list[str] = []
    files: list[DataFile] = []
    # a parameter of the function around the call reads as nothing here (its callers give
    # it: ``_wrapped``); the caller's readers are made for the first argument that may read
    params = enclosing.parameters(loaded, node)
    values: list[Arg] = []
    for arg in (*node.args, *(k.value for k in node.keywords)):
        if literal(arg):
            values.append(arg)
        elif isinstance(arg, ast.Name) and arg.id in params:
            # a parameter that holds options or a config all the same: ``main(args)`` given
            # ``parse_args()``, ``cfg: TrainConfig``, ``@hydra.main``'s ``cfg``
            options = reader.get()  # nothing made yet
            held = _held_parameter(project, loaded, node, arg, options)
            values.append(Held(options, arg, reader.run) if held else None)
        else:
            options = reader.get()
            kept = len(notes)
            found: Arg = options.literal(arg, notes, files, reader.run)
            if found is None and isinstance(arg, ast.Name) and options.holds(arg):
                found = Held(options, arg, reader.run)  # ``MLP(args)``: read where asked
            elif isinstance(found, ast.Dict) and not isinstance(arg, ast.Dict):
                found = Held(options, arg, reader.run)  # ``MLP(cfg.model)``: key by key
                del notes[kept:]
            values.append(found)
    args = tuple(values[: len(node.args)])
    kwargs = tuple(
        (str(k.arg), v) for k, v in zip(node.keywords, values[len(node.args) :], strict=True)
    )
    if wraps < MAX_WRAPPERS and loaded.notebook is None:
        wrapped = _wrapped(project, loaded, node, args, kwargs, wraps)
        if wrapped:
            return wrapped
    if loaded.file.path == home:
        return []  # a call in the class's own file is the interpreter's to read
    if all(a is None for a in args) and all(v is None for _, v in kwargs):
        if wraps < MAX_WRAPPERS and loaded.notebook is None:  # a builder nobody calls
            return _wrapped(project, loaded, node, args, kwargs, wraps, defaults=True)
        return []  # nothing the linter can read: the class's own defaults say as much
    if reader.run is not None:
        files.append(reader.run.script)  # editing the script re-lints the model
    text = ast.unparse(node)
    if len(text) > 60:
        text = text[:57] + "..."
    where = _where(display, loaded, node.lineno)
    place = node_place(loaded.file.path, node, f"{text}: the call that sets the depth")
    if loaded.notebook is not None:
        notes = [_cell_note(note, display, loaded) for note in notes]
        place = _cell_place(place, loaded)
    return [
        CallSite(
            args,
            kwargs,
            where,
            text,
            loaded,
            tuple(dict.fromkeys(notes)),
            tuple(dict.fromkeys(files)),
            place,
            reader.run is not None,
        )
    ]


def _wrapped(
    project: Project,
    loaded: LoadedModule,
    node: ast.Call,
    args: tuple[Arg, ...],
    kwargs: tuple[tuple[str, Arg], ...],
    wraps: int,
    defaults: bool = False,
) -> list[CallSite]:
    """A call whose arguments include parameters of the function around it, untouched there
    (``self.dnn = DNN(layers, activation)`` in ``Solver.__init__``): the calls of that wrapper
    (``Solver([2, 50, 50, 1], "tanh")``, or the wrapper's literal defaults) give those
    parameters, so each is a call site of the class, named by the wrapper's call. ``defaults``: a
    builder function that nothing calls gives what its literal defaults give."""
    found = enclosing.enclosing(loaded).get(id(node))
    if found is None:
        return []
    function, owner = found
    params, passed = enclosing.passed_on(node, function, owner)
    if not passed or passed & enclosing.changed(function):
        return []
    wrapper = owner.name if owner is not None else function.name
    if owner is not None and function.name != "__init__":
        return []  # a method: its calls are not the class's
    display = project.display(loaded.file.path)
    text = ast.unparse(node)
    text = text if len(text) <= 60 else text[:57] + "..."
    through = cite(
        f"through {text} at {_where(display, loaded, node.lineno)}",
        place=node_place(loaded.file.path, node, f"{text}: passes the arguments on"),
    )
    out: list[CallSite] = []
    outers = _find_sites(project, wrapper, loaded.file.path, wraps + 1)
    if (
        defaults
        and not outers
        and owner is None
        and not _called(project, wrapper, loaded.file.path)
    ):
        # a builder function nobody in the project calls: what its defaults give
        # (``def build(pde, width=50, depth=8)``), as a class is built with its own
        outers = [_defaults_site(display, loaded, function)]
    for outer in outers:
        bound = enclosing.bind(function, params, outer.args, outer.kwargs)
        notes: list[str] = []
        files: list[DataFile] = []
        local = enclosing.aliases(function)
        inner_args = tuple(
            enclosing.given(a, g, passed, bound, notes, files, local)
            for a, g in zip(node.args, args, strict=True)
        )
        inner_kwargs = tuple(
            (k, enclosing.given(kw.value, g, passed, bound, notes, files, local))
            for kw, (k, g) in zip(node.keywords, kwargs, strict=True)
        )
        if all(a is None for a in inner_args) and all(v is None for _, v in inner_kwargs):
            continue
        out.append(
            CallSite(
                inner_args,
                inner_kwargs,
                outer.where,
                outer.text,
                outer.module,
                tuple(dict.fromkeys((*outer.notes, *notes, through))),
                tuple(dict.fromkeys((*outer.files, *files))),
                outer.place,
            )
        )
    return out


def _called(project: Project, name: str, home: str) -> bool:
    """Whether ``name`` (a function of the file ``home``) is called: by another project file
    (the index's callers), or in its own file (by the text: ``name(`` past its ``def``)."""
    assert project.root is not None
    project.looked_up.add(name)  # a caller added later re-lints the file
    if any(path != home for path in _index(project.root).callers(name)):
        return True
    pattern = re.compile(rb"(?<![\w.])" + re.escape(name.encode()) + rb"\s*\(")
    return len(pattern.findall(caller_text.read_bytes(home))) > 1  # the ``def`` line is one


def _defaults_site(
    display: str, loaded: LoadedModule, function: ast.FunctionDef | ast.AsyncFunctionDef
) -> CallSite:
    """A call of ``function`` with no arguments: its literal defaults (:func:`enclosing.bind`)."""
    text = f"{function.name}()"
    return CallSite(
        (),
        (),
        _where(display, loaded, function.lineno),
        f"{text} defaults",
        loaded,
        place=node_place(loaded.file.path, function, f"{function.name}: its defaults"),
    )


#: (project root, search path, module tree) -> what its expressions read: built once per process per module,
#: whichever class or file asks (a caller of many classes, a module read by many files).
_VALUES: dict[tuple[str | None, tuple[str, ...], int], tuple[ast.Module, CallerValues]] = {}


def _caller_values(project: Project, loaded: LoadedModule, display: str) -> CallerValues:
    key = (project.root, project.search, id(loaded.tree))  # resolved as this project resolves
    found = _VALUES.get(key)
    if found is not None and found[0] is loaded.tree:
        return found[1]
    values = CallerValues(project, loaded, display)
    _VALUES[key] = (loaded.tree, values)
    return values


def _is_notebook(path: str) -> bool:
    return path.endswith(".ipynb")


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
    text = re.sub(
        rf"\bat {re.escape(display)}:(\d+)\b",
        lambda m: f"at {_where(display, loaded, int(m.group(1)))}",
        note,
    )
    places = tuple(
        _cell_place(p, loaded) if p.path == os.path.abspath(loaded.file.path) else p
        for p in places_of(note)
    )
    return Provenance(text, places) if places else text


def _cell_place(place: Place, loaded: LoadedModule) -> Place:
    """A place in a notebook's joined cells, by cell and line within it."""
    start = loaded.notebook.locate(place.line) if loaded.notebook is not None else None
    end = loaded.notebook.locate(place.end_line) if loaded.notebook is not None else None
    if start is None:
        return place
    end_line = end[1] if end is not None and end[0] == start[0] else start[1]
    return replace(place, line=start[1], end_line=end_line, cell=start[0])


def binds(project: Project, path: str, name: str) -> bool:
    """Whether the project file (or notebook) at ``path`` binds a name to ``name`` of
    ``project.current``, as :func:`call_sites` resolves it (the project-aware prefilter asks)."""
    loaded = project.load_notebook(path) if path.endswith(".ipynb") else project.load(path)
    if loaded is None:
        return False
    imports = import_statements.imports_in(loaded.tree.body)  # statements only: no walk
    direct, modules = bindings(project, loaded, name, project.current.path, imports)
    return bool(direct or modules)


def forget() -> None:
    """Forget the call index (a new run: files may have changed)."""
    callindex.forget()
    _OUTLINES.clear()
    _GUARDS.clear()
    enclosing.forget()
    shell_runs.forget()
    config_targets.forget()
    import_statements.forget()
    _VALUES.clear()


__all__ = ["MAX_FILES", "MAX_SITES", "CallSite", "binds", "call_sites", "forget"]
