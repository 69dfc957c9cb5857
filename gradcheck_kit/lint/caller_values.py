"""Values a caller module gives a call site that are not literals written in the call: argparse
option defaults (``args.n_layers``: :mod:`gradcheck_kit.lint.argparse_options`), config-class field defaults (``cfg.n_layers`` where
``cfg = Config()`` and ``Config`` is a ``@dataclass``, or a plain class of literal attributes, in
the caller or imported from another project module), and values of config files read by a
literal path (``cfg["model"]["n_layers"]``: :mod:`gradcheck_kit.lint.config_reads`).

Each is read, never run, and only when it is unambiguous: a name bound once to one thing. What
is not is None ("unknown"), as for every other value the linter cannot see.
"""

from __future__ import annotations

import ast
from functools import cached_property
from typing import Any

from gradcheck_kit.lint.argparse_options import Options, Run
from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.config_reads import ConfigReads
from gradcheck_kit.lint.derived_values import MAX_HOPS, Derivations
from gradcheck_kit.lint.imported_values import ImportedValues
from gradcheck_kit.lint.interp.syntax import walked
from gradcheck_kit.lint.literals import builds_list, constant, literal, literal_node, sized_list
from gradcheck_kit.lint.project import LoadedModule, Project
from gradcheck_kit.lint.provenance import cite, node_place
from gradcheck_kit.lint.torch_refs import torch_reference

#: Attribute and item reads after a name: ``(".", "depth")`` is ``.depth``, ``("[]", "model")``
#: is ``["model"]``.
Path = tuple[tuple[str, str | int], ...]


class Held:
    """A name that a call site passes and that holds what the caller's readers read attributes
    or items of (parsed argparse options, a config instance, a loaded config file): ``MLP(args)``
    or ``get_model(cfg)``. Its values are read in the caller when the callee asks for them
    (``args.depth`` there: :meth:`read`)."""

    __slots__ = ("node", "run", "values")

    def __init__(self, values: CallerValues, node: ast.expr, run: Run | None = None) -> None:
        self.values = values
        self.node = node  # the name, or a mapping read off one (``cfg.model``)
        self.run = run  # the shell run whose option values it holds (None: the defaults)

    def read(self, path: Path) -> tuple[ast.expr | None, list[str], list[DataFile]]:
        """The literal the name followed by ``path`` reads in the caller, the notes saying
        where it comes from, and the config files read."""
        notes: list[str] = []
        files: list[DataFile] = []
        return self.values.read_path(self.node, path, notes, files, self.run), notes, files

    def key(self) -> tuple[object, ...]:
        """Which name of which caller it is, in which run (two sites passing it are one)."""
        node, run = self.node, id(self.run) if self.run is not None else None
        where = (node.lineno, node.col_offset)
        return ("held", self.values.loaded.file.path, ast.dump(node), where, run)


#: A call site's argument as :mod:`~gradcheck_kit.lint.callsites` reads it: a literal, a
#: :class:`Held` name, or None (nothing the linter can read).
Arg = ast.expr | Held | None


class CallerValues:
    """Literal values of a call site's arguments, read in the caller module."""

    def __init__(self, project: Project, loaded: LoadedModule, display: str) -> None:
        self.project = project
        self.loaded = loaded
        self.display = display

    # each reader is made on its first question: most call sites read one or none of them
    @cached_property
    def options(self) -> Options:
        options = Options(self.loaded.tree, self.display, self.loaded.file.path)
        for call, where in options.handed:  # ``add_model_args(parser)`` in another module
            found = self._function(call.func)
            if found is None:
                continue
            module, function, skip = found
            params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)][skip:]
            names = {*params, *(a.arg for a in function.args.kwonlyargs)}
            param = params[where] if isinstance(where, int) and where < len(params) else where
            if isinstance(param, str) and param in names:
                display = self.project.display(module.file.path)
                options.add_from(function, param, display, module.file.path)
        return options

    def _function(
        self, func: ast.expr
    ) -> tuple[LoadedModule, ast.FunctionDef | ast.AsyncFunctionDef, int] | None:
        """The function ``func`` names, here or imported from the project (a module-level
        function, or a class's static or class method: ``Model.add_args``), its module, and how
        many leading parameters a call does not pass (a classmethod's ``cls``)."""
        if isinstance(func, ast.Attribute):
            found = self.imported.defined(func.value)
            if found is not None and isinstance(found[1], ast.ClassDef):
                methods = [
                    n
                    for n in found[1].body
                    if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and n.name == func.attr
                ]
                if len(methods) != 1:
                    return None
                decorators = {_decorator_name(d) for d in methods[0].decorator_list}
                if "staticmethod" in decorators:
                    return found[0], methods[0], 0
                return (found[0], methods[0], 1) if "classmethod" in decorators else None
        found = self.imported.defined(func)
        if found is None or not isinstance(found[1], (ast.FunctionDef, ast.AsyncFunctionDef)):
            return None
        return found[0], found[1], 0

    @cached_property
    def configs(self) -> Configs:
        return Configs(self.project, self.loaded)

    @cached_property
    def files(self) -> ConfigReads:
        return ConfigReads(self.project, self.loaded, self.display)

    @cached_property
    def derived(self) -> Derivations:
        return Derivations(self.loaded.tree, self._python)

    @cached_property
    def imported(self) -> ImportedValues:
        return ImportedValues(self.project, self.loaded, constant, literal_node)

    def literal(
        self,
        node: ast.expr,
        notes: list[str],
        files: list[DataFile] | None = None,
        run: Run | None = None,
    ) -> ast.expr | None:
        """``node`` if it is a literal; the literal it reads (an option default - or its value
        in the shell ``run`` -, a config field's default, a value in a config file), with a
        note saying where that is; else None. The config files read are added to ``files``."""
        options = self.options
        options.run = run.values if run is not None else None
        try:
            return self._read(node, notes, files if files is not None else [], MAX_HOPS)
        finally:
            options.run = None

    @cached_property
    def shell_runs(self) -> list[Run]:
        """The distinct shell runs of this module that set its options (none without both)."""
        root = self.project.root
        if root is None or not self.options.holders:
            return []
        return self.options.runs(root, self.project.display)

    def _read(
        self, node: ast.expr, notes: list[str], files: list[DataFile], hops: int
    ) -> ast.expr | None:
        if literal(node):
            return node
        folded = constant(node)
        if folded is not None:
            return literal_node(folded[0], node)
        found = self.options.value(node, notes) or self.configs.value(node, notes)
        if found is None:
            read = self.files.value(node, notes, files)
            found = literal_node(read[0], node) if read is not None else None
        if found is None:
            found = self.imported.value(node, notes)  # ``from settings import depth``
        if found is None:
            found = torch_reference(node, self.loaded, literal)  # ``activation=nn.Tanh``
        if found is None and hops > 0:
            kept = len(notes)
            derived = self.derived.value(node, notes, files, hops - 1)
            if derived is not None:
                found = literal_node(derived[0], node)
            else:
                del notes[kept:]  # what a failed derivation read is not a source
        if found is None and builds_list(node):
            # ``[data.shape[1]] + [50] * 8 + [1]``: the depth is known, one size is not
            found = sized_list(node, lambda part: self._read(part, notes, files, hops))
        return found

    def holds(self, node: ast.expr) -> bool:
        """Whether the name ``node`` holds what these readers read attributes or items of:
        parsed argparse options, an instance of a config class, a loaded config file. A call
        that passes it passes those values (``get_model(args)``, ``MLP(cfg)``)."""
        if not isinstance(node, ast.Name):
            return False
        return (
            node.id in self.options.holders
            or isinstance(self.configs.holder(node.id), tuple)
            or self.files.holds(node)
        )

    def read_path(
        self,
        node: ast.expr,
        path: Path,
        notes: list[str],
        files: list[DataFile],
        run: Run | None = None,
    ) -> ast.expr | None:
        """The literal that ``node`` followed by ``path`` reads (``args`` and ``(".", "depth")``:
        ``args.depth``), with notes, as :meth:`literal` reads the expression written out."""
        expr = node
        for kind, key in path:
            if kind == ".":
                expr = ast.Attribute(value=expr, attr=str(key), ctx=ast.Load())
            else:
                expr = ast.Subscript(value=expr, slice=ast.Constant(key), ctx=ast.Load())
            ast.copy_location(expr, node)
        if expr is node:
            return self.literal(node, notes, files, run)
        scope = self.files.scope_of.get(id(node))
        if scope is not None:  # the written-out read is in the name's scope
            self.files.scope_of[id(expr)] = scope
        try:
            return self.literal(expr, notes, files, run)
        finally:
            if scope is not None:
                del self.files.scope_of[id(expr)]

    def _python(
        self, node: ast.expr, notes: list[str], files: list[DataFile], hops: int
    ) -> tuple[Any] | None:
        found = self._read(node, notes, files, hops)
        if found is None:
            return None
        try:
            return (ast.literal_eval(found),)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return None


class Configs:
    """Config classes of a caller: ``cfg.n_layers`` is the default of the field ``n_layers`` when
    ``cfg = Config(...)`` (its literal keywords override defaults) and ``Config`` is a
    ``@dataclass`` or a plain class of literal attributes with no ``__init__``, defined in the
    caller or imported from the project; ``Config.n_layers`` and ``Config().n_layers`` too, and
    a parameter annotated ``cfg: Config``."""

    def __init__(self, project: Project, loaded: LoadedModule) -> None:
        self.project = project
        self.loaded = loaded
        self.classes: dict[str, tuple[dict[str, tuple[Any, str]], str] | None] = {}
        #: name -> what may bind it to an instance, in walk order: (class name, the call), or
        #: (class name, None) for a parameter annotated with it; read on the first question
        #: about the name, so a class is looked up (and its module read) only when asked
        self._bound: dict[str, list[tuple[str, ast.Call | None]]] | None = None
        #: name -> (class name, literal keyword overrides) of an instance bound to it
        self._held: dict[str, tuple[str, dict[str, Any]] | bool | None] = {}

    def holder(self, name: str) -> tuple[str, dict[str, Any]] | bool | None:
        """What ``name`` holds: an instance of a config class (class name, overrides); None
        when it is bound to two different ones; False when to none."""
        if name in self._held:
            return self._held[name]
        if self._bound is None:
            self._bound = {}
            for node in walked(self.loaded.tree):
                if isinstance(node, ast.Assign) and len(node.targets) == 1:
                    target, value = node.targets[0], node.value
                    if (
                        isinstance(target, ast.Name)
                        and isinstance(value, ast.Call)
                        and isinstance(value.func, ast.Name)
                        and not value.args
                    ):
                        self._bound.setdefault(target.id, []).append((value.func.id, value))
                elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                    for arg in [*node.args.args, *node.args.kwonlyargs]:
                        if isinstance(arg.annotation, ast.Name):
                            bound = self._bound.setdefault(arg.arg, [])
                            bound.append((arg.annotation.id, None))
        held: tuple[str, dict[str, Any]] | bool | None = False
        for cls, call in self._bound.get(name, ()):
            made = self._instance(call) if call is not None else (cls, {})
            if made is None or (call is None and self.fields(cls) is None):
                continue
            if held is False:
                held = made
            elif held is not None and held != made:
                held = None  # bound to two different instances: unknown
        self._held[name] = held
        return held

    def _instance(self, node: ast.expr) -> tuple[str, dict[str, Any]] | None:
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        if node.args or self.fields(node.func.id) is None:
            return None
        overrides: dict[str, Any] = {}
        for keyword in node.keywords:
            if keyword.arg is None:
                return None
            overrides[keyword.arg] = (
                ast.literal_eval(keyword.value) if literal(keyword.value) else _UNKNOWN
            )
        return node.func.id, overrides

    def value(self, node: ast.expr, notes: list[str]) -> ast.expr | None:
        """The field default ``node`` reads, as a literal; else None."""
        if not isinstance(node, ast.Attribute):
            return None
        owner = node.value
        cls: str | None = None
        overrides: dict[str, Any] = {}
        held = self.holder(owner.id) if isinstance(owner, ast.Name) else False
        if held is None:
            return None
        if isinstance(held, tuple):
            cls, overrides = held
        elif isinstance(owner, ast.Name):
            cls = owner.id  # ``Config.n_layers``
        elif (made := self._instance(owner)) is not None:
            cls, overrides = made
        fields = self.fields(cls) if cls else None
        if fields is None or cls is None:
            return None
        if node.attr in overrides:
            value = overrides[node.attr]
            if value is _UNKNOWN:
                return None
            notes.append(f"{cls}({node.attr}={value!r})")
            return literal_node(value, node)
        found = fields.get(node.attr)
        if found is None:
            return None
        value, where = found
        notes.append(cite(f"{cls}.{node.attr} default {value!r} at {where}", where))
        return literal_node(value, node)

    def fields(self, name: str) -> dict[str, tuple[Any, str]] | None:
        """The literal field defaults of the config class ``name`` as the caller sees it
        (None: not a config class the linter can read)."""
        if name not in self.classes:
            self.classes[name] = self._find(name)
        found = self.classes[name]
        return found[0] if found is not None else None

    def _find(self, name: str) -> tuple[dict[str, tuple[Any, str]], str] | None:
        module: LoadedModule | None = self.loaded
        for _ in range(4):  # follow ``from x import Config`` (re-exports) a few hops
            if module is None:
                return None
            stmts = module.bindings.get(name, [])
            if len(stmts) != 1:
                return None
            (stmt,) = stmts
            if isinstance(stmt, ast.ClassDef):
                display = self.project.display(module.file.path)
                fields = _config_fields(stmt, display, module.file.path)
                return (fields, name) if fields is not None else None
            if not isinstance(stmt, ast.ImportFrom):
                return None
            alias = next((a for a in stmt.names if (a.asname or a.name) == name), None)
            path = self.project.find_module(
                "." * stmt.level + (stmt.module or ""), module.file.path
            )
            if alias is None or path is None:
                return None
            name = alias.name
            module = self.project.load(path)
        return None


class _Unknown:
    """A keyword override that is not a literal."""


_UNKNOWN = _Unknown()


def _config_fields(cls: ast.ClassDef, display: str, path: str) -> dict[str, tuple[Any, str]] | None:
    """The literal defaults of a ``@dataclass`` (``field(default=...)``,
    ``field(default_factory=lambda: [...])``) or of a plain class of literal attributes with no
    ``__init__``; None for any other class."""
    if cls.bases or any(_decorator_name(d) != "dataclass" for d in cls.decorator_list):
        return None  # a base or another decorator may change what the fields hold
    out: dict[str, tuple[Any, str]] = {}
    for stmt in cls.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)) and stmt.name == "__init__":
            return None
        if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name, value = stmt.target.id, stmt.value
        elif (
            isinstance(stmt, ast.Assign)
            and len(stmt.targets) == 1
            and isinstance(stmt.targets[0], ast.Name)
        ):
            name, value = stmt.targets[0].id, stmt.value
        else:
            continue
        found = _field_default(value)
        if found is not None:
            place = node_place(path, stmt, f"{cls.name}.{name} default {found[0]!r}")
            out[name] = (found[0], cite(f"{display}:{stmt.lineno}", place=place))
    return out


def _field_default(value: ast.expr | None) -> tuple[Any] | None:
    if value is None:
        return None
    if literal(value):
        return (ast.literal_eval(value),)
    if isinstance(value, ast.Call) and _decorator_name(value.func) == "field":
        for keyword in value.keywords:
            if keyword.arg == "default" and literal(keyword.value):
                return (ast.literal_eval(keyword.value),)
            if keyword.arg == "default_factory":
                made = keyword.value
                if isinstance(made, ast.Lambda) and literal(made.body):
                    return (ast.literal_eval(made.body),)
    return None


def _decorator_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        return node.attr
    return node.id if isinstance(node, ast.Name) else None
