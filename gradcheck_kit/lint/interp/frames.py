"""The machine's own bookkeeping: :class:`Frame` (a function's locals and enclosing scopes),
:class:`Root` (a forward path to analyse), :class:`Loop`, the values only the machine makes
(:class:`BoundMethod`, :class:`Super`, :class:`Spread`) and helpers on values (re-rooting a path
onto a caller's tensor, flattening repeated entries).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from gradcheck_kit.lint.facts import LayerInit
from gradcheck_kit.lint.interp.values import (
    ClassInfo,
    Data,
    DictVal,
    Entry,
    Instance,
    ModuleVal,
    Repeated,
    Scope,
    SeqVal,
    Unknown,
    Value,
)
from gradcheck_kit.lint.sketch import (
    Node,
)

MAX_CALL_DEPTH = 24  # nested calls of the user's functions before a call's value is Unknown


@dataclass
class Root:
    """One forward path to analyse."""

    node: Node
    symbol: str | None  # class or function it belongs to
    #: id(saturating layer) -> the init of the affine layer before it (for the gain model)
    inits: dict[int, LayerInit] = field(default_factory=dict)


class BudgetExceeded(Exception):
    pass


@dataclass
class Frame:
    env: dict[str, Value]  # local names
    qualname: str
    returns: list[Value]
    returned: bool = False
    owner: ClassInfo | None = None  # class whose method this frame runs (for super())
    outer: Scope = ()  # enclosing scopes, innermost first; the last is module globals

    def chain(self) -> Scope:
        return (self.env, *self.outer)


@dataclass(eq=False)
class BoundMethod(Value):
    owner: Value
    name: str


@dataclass(eq=False)
class Super(Value):
    instance: Value | None
    owner: ClassInfo | None


@dataclass(eq=False)
class Spread(Value):
    """``*xs`` where ``xs`` has repeated parts: kept whole for containers."""

    entries: tuple[Entry, ...]


@dataclass
class Loop:
    targets: frozenset[str]  # names the loop binds
    over_time: bool  # iterates over a tensor's steps (``x.unbind(1)``, ``range(x.size(1))``)
    over_modules: bool  # iterates over layers (``self.layers``): a stack, never a recurrence
    recurrent: bool = False


def iterates_modules(iterable: Value) -> bool:
    if isinstance(iterable, Instance):
        return True
    if isinstance(iterable, SeqVal):
        values = list(flatten_any(iterable.entries))
        return any(
            isinstance(v, (ModuleVal, Instance))
            or (
                isinstance(v, SeqVal)
                and any(isinstance(e, (ModuleVal, Instance)) for e in flatten_any(v.entries))
            )
            for v in values
        )
    return False


def iterates_time(iterable: Value) -> bool:
    if isinstance(iterable, Data):
        return True
    if isinstance(iterable, SeqVal):
        return any(isinstance(e, Repeated) and e.count.per_step for e in iterable.entries)
    return isinstance(iterable, Unknown) and iterable.from_data


def named_in(info: ClassInfo, configured: set[str]) -> bool:
    """Is a class of this file one the config names (``extend-normalization``...)? The file's
    own module path is unknown, so the last component of a configured name matches too."""
    return info.qualname in configured or any(q.rsplit(".", 1)[-1] == info.name for q in configured)


def spread_args(args: list[Value]) -> list[Value]:
    out: list[Value] = []
    for arg in args:
        if isinstance(arg, Spread):
            out.append(SeqVal(arg.entries, "tuple"))
        else:
            out.append(arg)
    return out


def flatten_any(entries: tuple[Entry, ...]) -> Iterator[Value]:
    for entry in entries:
        if isinstance(entry, Repeated):
            yield from flatten_any(entry.entries)
        else:
            yield entry


def map_entries(entries: tuple[Entry, ...], fn: Callable[[Value], Value]) -> tuple[Entry, ...]:
    out: list[Entry] = []
    for entry in entries:
        if isinstance(entry, Repeated):
            out.append(Repeated(entry.count, map_entries(entry.entries, fn), entry.unrolled))
        else:
            out.append(fn(entry))
    return tuple(out)


def first_source(value: SeqVal) -> str | None:
    for entry in value.entries:
        if isinstance(entry, Repeated) and entry.count.source:
            return entry.count.source
    return None


def common_prefix(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x is not y:
            break
        n += 1
    return n


#: the most outputs of one forward whose paths are each analysed
MAX_OUTPUTS = 8


def outputs(value: Value, origin: object) -> list[Data]:
    """The tensors computed from ``origin`` that ``value`` returns (``return encoded,
    decoded``), without one whose path another extends (``encoded`` is a prefix of
    ``decoded``): at most :data:`MAX_OUTPUTS`, in the order returned."""
    found: list[Data] = []
    stack: list[Value | Repeated] = [value]
    while stack and len(found) < 4 * MAX_OUTPUTS:
        current = stack.pop()
        if isinstance(current, Data):
            if current.origin is origin:
                found.append(current)
        elif isinstance(current, SeqVal):
            stack.extend(reversed(list(flatten_any(current.entries))))
        elif isinstance(current, DictVal):
            stack.extend(reversed(list(current.items.values())))
    kept: list[Data] = []
    for data in found:
        if any(_extends(other.path, data.path) for other in found):
            continue  # another output runs on from it: that one holds its whole chain
        if not any(_same(other.path, data.path) for other in kept):
            kept.append(data)
    return kept[:MAX_OUTPUTS]


def _same(a: tuple[object, ...], b: tuple[object, ...]) -> bool:
    return len(a) == len(b) and all(x is y for x, y in zip(a, b, strict=True))


def _extends(longer: tuple[object, ...], shorter: tuple[object, ...]) -> bool:
    """Whether ``longer`` is ``shorter`` followed by more (the same nodes, by identity)."""
    return len(longer) > len(shorter) and all(a is b for a, b in zip(longer, shorter, strict=False))


def rebase(value: Value, origin: object, onto: Data) -> Value:
    """Re-root a value computed from a fresh input (``origin``) onto the caller's tensor."""
    if isinstance(value, Data):
        if value.origin is origin:
            return Data((*onto.path, *value.path), onto.origin)
        return value
    if isinstance(value, SeqVal) and value.kind == "tuple":
        return SeqVal(map_entries(value.entries, lambda v: rebase(v, origin, onto)), "tuple")
    if isinstance(value, DictVal):
        return DictVal({k: rebase(v, origin, onto) for k, v in value.items.items()})
    return value
