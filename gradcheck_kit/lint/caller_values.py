"""Values a caller module gives a call site that are not literals written in the call: argparse
option defaults (``args.n_layers``), config-class field defaults (``cfg.n_layers`` where
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

from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.config_reads import ConfigReads
from gradcheck_kit.lint.derived_values import MAX_HOPS, TYPES, Derivations
from gradcheck_kit.lint.imported_values import ImportedValues
from gradcheck_kit.lint.interp.syntax import walked
from gradcheck_kit.lint.project import LoadedModule, Project
from gradcheck_kit.lint.provenance import cite, node_place
from gradcheck_kit.lint.torch_refs import torch_reference

#: Attribute and item reads after a name: ``(".", "depth")`` is ``.depth``, ``("[]", "model")``
#: is ``["model"]``.
Path = tuple[tuple[str, str | int], ...]


def literal(node: ast.expr) -> bool:
    """Whether ``node`` is a Python literal (``ast.literal_eval`` reads it)."""
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


#: The most elements a folded call-site argument may have (``[20] * 3`` folds; ``[0] * 10**9``
#: does not).
MAX_FOLDED = 10_000


def constant(node: ast.expr) -> tuple[Any] | None:
    """The value of a constant expression of literals as model code writes layer sizes
    (``[2] + [20] * 3 + [1]``, ``4 * [50]``, ``-1``, ``2 ** 8``): ``+``, ``-`` and ``*`` of
    numbers, strings, lists and tuples, within :data:`MAX_FOLDED` elements, ``**`` and ``//`` of
    integers (an exponent up to 64); None for anything else (a name, a call, another
    operator)."""
    if literal(node):
        return (ast.literal_eval(node),)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = constant(node.operand)
        if inner is None or not isinstance(inner[0], (int, float)) or isinstance(inner[0], bool):
            return None
        return (-inner[0] if isinstance(node.op, ast.USub) else inner[0],)
    ops = (ast.Add, ast.Sub, ast.Mult, ast.Pow, ast.FloorDiv)
    if not isinstance(node, ast.BinOp) or not isinstance(node.op, ops):
        return None
    left, right = constant(node.left), constant(node.right)
    if left is None or right is None:
        return None
    a, b = left[0], right[0]
    if isinstance(node.op, (ast.Pow, ast.FloorDiv)):  # ``2 ** 8``, ``256 // 4``: integers
        if not all(isinstance(v, int) and _number(v) for v in (a, b)):
            return None
        if isinstance(node.op, ast.FloorDiv):
            return (a // b,) if b else None
        return (a**b,) if 0 <= b <= 64 and abs(a) <= 2**16 else None
    sized = (str, list, tuple)
    if isinstance(node.op, ast.Mult) and isinstance(a, int) and isinstance(b, sized):
        a, b = b, a
    if isinstance(node.op, ast.Mult) and isinstance(a, sized):
        if not isinstance(b, int) or isinstance(b, bool) or len(a) * max(b, 0) > MAX_FOLDED:
            return None
    elif isinstance(a, sized) or isinstance(b, sized):
        if not (isinstance(node.op, ast.Add) and type(a) is type(b)):
            return None
        if len(a) + len(b) > MAX_FOLDED:  # type: ignore[arg-type]
            return None
    elif not all(_number(v) for v in (a, b)):
        return None
    try:
        if isinstance(node.op, ast.Add):
            return (a + b,)
        if isinstance(node.op, ast.Sub):
            return (a - b,)
        return (a * b,)
    except (TypeError, ValueError, OverflowError, MemoryError):
        return None


def _number(value: object) -> bool:
    """A number small enough to fold (an int of at most 64 bits, a float; not a bool)."""
    if isinstance(value, bool):
        return False
    return isinstance(value, float) or (isinstance(value, int) and value.bit_length() <= 64)


def literal_node(value: Any, where: ast.expr) -> ast.expr:
    """``value`` (a literal: a number, a string, a list of them...) as the expression that
    writes it, at ``where``'s position."""
    node = ast.parse(repr(value), mode="eval").body
    for child in ast.walk(node):
        ast.copy_location(child, where)
    return node


class Held:
    """A name that a call site passes and that holds what the caller's readers read attributes
    or items of (parsed argparse options, a config instance, a loaded config file): ``MLP(args)``
    or ``get_model(cfg)``. Its values are read in the caller when the callee asks for them
    (``args.depth`` there: :meth:`read`)."""

    __slots__ = ("node", "values")

    def __init__(self, values: CallerValues, node: ast.expr) -> None:
        self.values = values
        self.node = node  # the name, or a mapping read off one (``cfg.model``)

    def read(self, path: Path) -> tuple[ast.expr | None, list[str], list[DataFile]]:
        """The literal the name followed by ``path`` reads in the caller, the notes saying
        where it comes from, and the config files read."""
        notes: list[str] = []
        files: list[DataFile] = []
        return self.values.read_path(self.node, path, notes, files), notes, files

    def key(self) -> tuple[object, ...]:
        """Which name of which caller it is (two sites passing it are one)."""
        node = self.node
        return ("held", self.values.loaded.file.path, ast.dump(node), node.lineno, node.col_offset)


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
        return Options(self.loaded.tree, self.display, self.loaded.file.path)

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
        self, node: ast.expr, notes: list[str], files: list[DataFile] | None = None
    ) -> ast.expr | None:
        """``node`` if it is a literal; the literal it reads (an option default, a config
        field's default, a value in a config file), with a note saying where that is; else
        None. The config files read are added to ``files``."""
        return self._read(node, notes, files if files is not None else [], MAX_HOPS)

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
        self, node: ast.expr, path: Path, notes: list[str], files: list[DataFile]
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
            return self.literal(node, notes, files)
        scope = self.files.scope_of.get(id(node))
        if scope is not None:  # the written-out read is in the name's scope
            self.files.scope_of[id(expr)] = scope
        try:
            return self.literal(expr, notes, files)
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


#: argparse's ``type=`` callables applied to a string default, as argparse does.
_TYPES = TYPES


class Options:
    """The argparse options of a caller module: ``args.layers`` is the default of
    ``parser.add_argument("--layers", type=int, default=8)`` when ``args`` is what
    ``parse_args()`` returned (directly, through a function that returns it, or passed on as a
    parameter of the same name). An option defined twice, or with a default that is not a
    literal, is unknown."""

    def __init__(self, tree: ast.Module, display: str, path: str | None = None) -> None:
        self.path = path  # the module's file, for the related locations of the notes
        self.defaults: dict[str, tuple[Any, str] | None] = {}
        self.holders: set[str] = set()
        if not _mentions(tree, "add_argument"):
            return
        parsers = {"parse_args", "parse_known_args"}
        returning: set[str] = set()
        for node in walked(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                isinstance(r, ast.Return) and _calls_method(r.value, parsers)
                for r in ast.walk(node)
            ):
                returning.add(node.name)
        for node in walked(tree):
            if isinstance(node, ast.Call) and _method(node) == "add_argument":
                self._option(node, display)
            elif isinstance(node, ast.Assign) and (
                _calls_method(node.value, parsers)
                or (isinstance(node.value, ast.Call) and _name(node.value.func) in returning)
            ):
                for target in node.targets:
                    first = target.elts[0] if isinstance(target, ast.Tuple) else target
                    if isinstance(first, ast.Name):
                        self.holders.add(first.id)
        # ``main(get_args())`` / ``main(args)``: main's parameter holds the options too
        functions = {
            n.name: n
            for n in walked(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for node in walked(tree):
            if not isinstance(node, ast.Call) or _name(node.func) not in functions:
                continue
            params = functions[str(_name(node.func))].args.args
            for param, arg in zip(params, node.args, strict=False):
                if (
                    (isinstance(arg, ast.Name) and arg.id in self.holders)
                    or _calls_method(arg, parsers)
                    or (isinstance(arg, ast.Call) and _name(arg.func) in returning)
                ):
                    self.holders.add(param.arg)

    def _option(self, call: ast.Call, display: str) -> None:
        flags = [
            a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        dest_node = keywords.get("dest")
        if isinstance(dest_node, ast.Constant) and isinstance(dest_node.value, str):
            dest = dest_node.value
        else:
            long = [f for f in flags if f.startswith("--")] or flags
            if not long:
                return
            dest = long[0].lstrip("-").replace("-", "_")
        flag = next((f for f in flags if f.startswith("-")), dest)
        value: tuple[Any, str] | None = None
        default = keywords.get("default")
        if default is not None and literal(default):
            raw = ast.literal_eval(default)
            kind = keywords.get("type")
            convert = _TYPES.get(kind.id) if isinstance(kind, ast.Name) else None
            if isinstance(raw, str) and convert is not None:
                try:
                    raw = convert(raw)
                except ValueError:
                    raw = None
            elif kind is not None and convert is None:
                raw = None  # ``type=parse_list``: what it makes of the default is unseen
            if raw is not None:
                label = f"{flag} default {raw!r}"
                place = node_place(self.path, call, label) if self.path else None
                value = (raw, cite(f"{label} at {display}:{call.lineno}", place=place))
        self.defaults[dest] = None if dest in self.defaults else value

    def value(self, node: ast.expr, notes: list[str]) -> ast.expr | None:
        """The option default ``node`` reads (``args.layers``), as a literal; else None."""
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.holders
        ):
            found = self.defaults.get(node.attr)
            if found is not None:
                value, note = found
                notes.append(note)
                return literal_node(value, node)
        return None


def _mentions(tree: ast.Module, attribute: str) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == attribute for n in walked(tree))


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _calls_method(node: ast.expr | None, names: set[str]) -> bool:
    while isinstance(node, ast.Subscript):  # ``parser.parse_known_args()[0]``
        node = node.value
    return isinstance(node, ast.Call) and _method(node) in names


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


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
