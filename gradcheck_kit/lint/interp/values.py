"""The abstract values the extractor computes with.

The extractor interprets model code without running it. Every expression evaluates to one of
these: a constant it could fold, a reference to something outside the file (``torch.nn.Tanh``),
a class or function of the file, a module (whose sketch says what calling it does), a list of
modules, a tensor on the forward path (:class:`Data`: the sketch of how it was computed from the
input), or :class:`Unknown`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.sketch import Count, Layer, Node

if TYPE_CHECKING:
    import ast


class Journal:
    """Undo log for the mutable values (lists, instance attributes).

    To run both arms of an undecidable ``if`` (or one loop iteration) the extractor must know
    what the code changed. Mutations record each object's previous state in every open frame,
    once per frame, so a branch costs what it touches, not what exists.
    """

    def __init__(self) -> None:
        self.frames: list[dict[int, tuple[Any, Any]]] = []

    def record(self, obj: Any, old: Callable[[], Any]) -> None:
        for frame in self.frames:
            if id(obj) not in frame:
                frame[id(obj)] = (obj, old())

    def push(self) -> dict[int, tuple[Any, Any]]:
        frame: dict[int, tuple[Any, Any]] = {}
        self.frames.append(frame)
        return frame

    def pop(self) -> dict[int, tuple[Any, Any]]:
        return self.frames.pop()


JOURNAL = Journal()


Scope = tuple[dict[str, "Value"], ...]


class Value:
    """Base class of abstract values."""

    __slots__ = ()


@dataclass(eq=False)
class Const(Value):
    """A value folded from literals. ``source`` says where it came from, for messages
    ("parameter 'depth' (default 10)")."""

    value: Any
    source: str | None = None


@dataclass(eq=False)
class ProjectConst(Const):
    """A constant read from another module of the project: ``source`` names its file and line
    (``mlpkg/config.py:3 (N_LAYERS = 8)``), which a parameter default that reads it keeps."""


@dataclass(eq=False)
class Unknown(Value):
    """Something the linter cannot tell. ``symbol`` names it when that helps a message
    (``config.num_layers``); ``from_data`` marks values read off a tensor (``x.size(1)``)."""

    symbol: str | None = None
    from_data: bool = False


@dataclass(eq=False)
class Namespace(Unknown):
    """What a call site in another file passes as parsed options or a config (``MLP(args)``
    in ``train.py``): unknown as a whole, but an attribute or constant item of it
    (``cfg.depth``, ``cfg["model"]``) is read in that file when asked (``read``, given the
    path from the passed name)."""

    read: Callable[[tuple[tuple[str, Any], ...]], Value] | None = None
    path: tuple[tuple[str, Any], ...] = ()

    def step(self, kind: str, key: Any) -> Value:
        """``.key`` (kind ``"."``) or ``[key]`` (kind ``"[]"``) of it."""
        shown = f".{key}" if kind == "." else f"[{key!r}]"
        if self.read is None:
            return Unknown(f"{self.symbol}{shown}" if self.symbol else None)
        found = self.read((*self.path, (kind, key)))
        if isinstance(found, Namespace):  # not a value there: read deeper from there
            symbol = f"{self.symbol}{shown}" if self.symbol else None
            return Namespace(symbol, False, found.read, found.path)
        return found

    def named(self, name: str) -> Namespace:
        """The same, named as the parameter it binds (for messages: ``cfg.depth``)."""
        return Namespace(name, self.from_data, self.read, self.path)


@dataclass(eq=False)
class Template(Unknown):
    """A string built from a pattern around values the linter cannot tell: ``f"layer{i}"`` (or
    ``"layer%d" % i``) in a loop it does not unroll is ``Template("layer{}")``. A module
    registered under it (``self.add_module(f"layer{i}", ...)``) is found again by the same
    pattern (``getattr(self, f"layer{i}")``); anywhere else it is unknown."""

    pattern: str = ""

    def matches(self, name: str) -> bool:
        """Whether ``name`` is one string the pattern can make."""
        parts = [re.escape(part) for part in self.pattern.split("{}")]
        return re.fullmatch(".+?".join(parts), name) is not None


_NN_MODULES_PATH = catalog.NN_MODULES_PACKAGE.split(".")


@dataclass(eq=False)
class Ref(Value):
    """A name defined outside this file, by its qualified name (``torch.nn.Tanh``)."""

    qname: str

    def __post_init__(self) -> None:
        # torch.nn.modules.activation.Tanh is torch.nn.Tanh: one name for the catalog
        parts = self.qname.split(".")
        if len(parts) > 4 and parts[:3] == _NN_MODULES_PATH:
            self.qname = catalog.NN_NAMESPACE + ".".join(parts[4:])


@dataclass(eq=False)
class ClassInfo:
    node: ast.ClassDef
    name: str
    qualname: str
    bases: list[Value]
    scope: Scope  # the scopes the class was defined in (its methods' enclosing scopes)
    methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = field(default_factory=dict)
    attrs: dict[str, Value] = field(default_factory=dict)  # class-level assignments
    is_dataclass: bool = False
    foreign: bool = False  # defined in another module of the project (its roots are its own)

    def base_classes(self) -> list[ClassInfo]:
        return [b.cls for b in self.bases if isinstance(b, ClassRef)]

    def find_method(
        self, name: str, _depth: int = 0
    ) -> tuple[ClassInfo, ast.FunctionDef | ast.AsyncFunctionDef] | None:
        if name in self.methods:
            return self, self.methods[name]
        if _depth > 20:
            return None
        for base in self.base_classes():
            found = base.find_method(name, _depth + 1)
            if found:
                return found
        return None

    def find_attr(self, name: str, _depth: int = 0) -> Value | None:
        if name in self.attrs:
            return self.attrs[name]
        if _depth > 20:
            return None
        for base in self.base_classes():
            found = base.find_attr(name, _depth + 1)
            if found is not None:
                return found
        return None

    def torch_bases(self, _depth: int = 0) -> set[str]:
        """Qualified names of the torch classes this class derives from (through file bases)."""
        out = {b.qname for b in self.bases if isinstance(b, Ref)}
        if _depth < 20:
            for base in self.base_classes():
                out |= base.torch_bases(_depth + 1)
        return out


class ModuleEnv(dict[str, "Value"]):
    """The globals of another module of the project, evaluated name by name on first use
    (:mod:`~gradcheck_kit.lint.interp.imports`): ``name in env`` binds ``name`` if the module
    does. ``module`` is its :class:`~gradcheck_kit.lint.project.LoadedModule`."""

    def __init__(self, module: Any, resolve: Callable[[ModuleEnv, str], bool]) -> None:
        super().__init__()
        self.module = module
        self.resolve = resolve
        self.busy: set[str] = set()  # names being evaluated (an import cycle reads None)

    def __contains__(self, name: object) -> bool:
        if dict.__contains__(self, name):
            return True
        return isinstance(name, str) and self.resolve(self, name)


@dataclass(eq=False)
class ModuleNS(Value):
    """A module of the project bound to a name (``from . import blocks``, ``import pkg``):
    ``path`` is its file, or its folder for a namespace package."""

    path: str


@dataclass(eq=False)
class LazyImport(Value):
    """``from <project module> import name`` in the file being linted, read on first use (a
    name never used costs nothing): ``path`` is the module's file, ``reference`` the
    qualified reference the name is when the project cannot tell (``.blocks.Block``)."""

    path: str
    name: str
    reference: str
    value: Value | None = None


@dataclass(eq=False)
class ClassRef(Value):
    cls: ClassInfo


@dataclass(eq=False)
class FuncRef(Value):
    node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda
    scope: Scope  # enclosing scopes, innermost first (closures, then module globals)
    qualname: str
    bound: Value | None = None  # ``self`` for a bound method
    owner: ClassInfo | None = None  # class the method was found on (for super())


@dataclass(eq=False)
class ModuleVal(Value):
    """An ``nn.Module`` whose behaviour is known: calling it applies ``node``."""

    node: Node


@dataclass(eq=False)
class Repeated:
    """An entry of a list standing for ``count`` copies of ``entries`` (a loop, a comprehension,
    ``[...] * n``). With ``unrolled``, ``entries`` already holds every iteration and ``count``
    only says where the number came from."""

    count: Count
    entries: tuple[Entry, ...]
    unrolled: bool = False


Entry = Value | Repeated


class SeqVal(Value):
    """A list, tuple, ``nn.ModuleList`` or ``nn.Sequential`` (``kind``). Lists are mutable:
    ``append``, ``extend`` and ``+=`` change ``entries`` in place, as in Python."""

    __slots__ = ("_entries", "kind", "span_node")

    def __init__(
        self,
        entries: tuple[Entry, ...],
        kind: str = "list",  # "list" | "tuple" | "modulelist" | "sequential"
        span_node: ast.AST | None = None,
    ) -> None:
        self._entries = entries
        self.kind = kind
        self.span_node = span_node

    @property
    def entries(self) -> tuple[Entry, ...]:
        return self._entries

    @entries.setter
    def entries(self, value: tuple[Entry, ...]) -> None:
        if JOURNAL.frames:
            JOURNAL.record(self, lambda: self._entries)
        self._entries = value

    def __repr__(self) -> str:
        return f"SeqVal({self.kind}, {len(self._entries)} entries)"

    def plain(self) -> list[Value] | None:
        """The entries when none is repeated (so they can be indexed and unpacked)."""
        if any(isinstance(e, Repeated) for e in self.entries):
            if all(not isinstance(e, Repeated) or e.unrolled for e in self.entries):
                return flatten_unrolled(self.entries)
            return None
        return list(self.entries)  # type: ignore[arg-type]

    def length(self) -> Count:
        total = 0
        for entry in self.entries:
            if isinstance(entry, Repeated):
                inner = SeqVal(entry.entries).length()
                if inner.value is None:
                    return inner
                if entry.unrolled:
                    total += inner.value
                elif entry.count.value is None:
                    return entry.count
                else:
                    total += inner.value * entry.count.value
            else:
                total += 1
        return Count(total)


def flatten_unrolled(entries: tuple[Entry, ...]) -> list[Value] | None:
    out: list[Value] = []
    for entry in entries:
        if isinstance(entry, Repeated):
            if not entry.unrolled:
                return None
            inner = flatten_unrolled(entry.entries)
            if inner is None:
                return None
            out.extend(inner)
        else:
            out.append(entry)
    return out


@dataclass(eq=False)
class DictVal(Value):
    items: dict[Any, Value]
    module_dict: bool = False


@dataclass(eq=False)
class Instance(Value):
    """An instance of a class of this file (usually an ``nn.Module``)."""

    cls: ClassInfo
    attrs: dict[str, Value] = field(default_factory=dict)
    children: SeqVal = field(default_factory=lambda: SeqVal((), "sequential"))
    forward_cache: dict[int, Value] = field(default_factory=dict)
    origin_token: object = field(default_factory=object)
    #: where this file built it (the anchor of the layers of another module's class, when it
    #: is applied by a container rather than by a call written here)
    built_at: ast.AST | None = None

    def set_attr(self, name: str, value: Value) -> None:
        if JOURNAL.frames:
            JOURNAL.record(self, lambda: dict(self.attrs))
        self.attrs[name] = value

    def replace_attrs(self, attrs: dict[str, Value]) -> None:
        if JOURNAL.frames:
            JOURNAL.record(self, lambda: dict(self.attrs))
        self.attrs = dict(attrs)


@dataclass(eq=False)
class Data(Value):
    """A tensor on the forward path: ``path`` is how it was computed from ``origin``."""

    path: tuple[Node, ...]
    origin: object


_NORM_NAME = re.compile(r"norm(?!al)|^(bn|ln|gn)(_?\w{0,6})?$", re.IGNORECASE)


def looks_like_norm(name: str | None) -> bool:
    """For names the linter cannot resolve (an imported ``LayerNorm2d``, ``self.bn1`` set
    elsewhere): does the name say it is a normalization? Resolvable names never use this."""
    if not name:
        return False
    last = name.rsplit(".", 1)[-1]
    return bool(_NORM_NAME.search(last))


def copy_layer(layer: Layer, anchor: object | None) -> Layer:
    return Layer(layer.kind, layer.name, anchor, layer.bound, layer.origin)
