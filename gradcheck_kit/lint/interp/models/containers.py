"""Models of torch's containers (``nn.Sequential``, ``nn.ModuleList``, ``nn.ModuleDict``) and of
callables that return the module they are given (``torch.compile``, ``DataParallel``,
``functools.partial``, ``copy.deepcopy``)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.frames import Spread
from gradcheck_kit.lint.interp.models import model
from gradcheck_kit.lint.interp.values import DictVal, Entry, SeqVal, Value

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.frames import Frame
    from gradcheck_kit.lint.interp.machine import Machine


@model(catalog.SEQUENTIAL_CONTAINERS)
def sequential(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """Every ``nn.Sequential`` built anywhere is a root of its own."""
    entries: tuple[Entry, ...] = ()
    for arg in args:
        if isinstance(arg, Spread):
            entries += arg.entries
        else:
            entries += m.container_entries(arg)
    holder = SeqVal(entries, "sequential", node)
    if not m.in_foreign:  # another module's Sequential is a root of that module
        m.sequentials.append((holder, m.scope_symbol()))
    return holder


@model(catalog.LIST_CONTAINERS)
def module_list(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    entries: tuple[Entry, ...] = ()
    for arg in args:
        entries += arg.entries if isinstance(arg, Spread) else m.as_entries(arg)
    return SeqVal(entries, "modulelist", node)


@model(catalog.DICT_CONTAINERS, "collections.OrderedDict", "dict")
def module_dict(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    if args and isinstance(args[0], DictVal):
        return DictVal(dict(args[0].items), True)
    if args and isinstance(args[0], SeqVal):
        items: dict[Any, Value] = {}
        for i, value in enumerate(m.container_entries(args[0])):
            items[i] = value  # type: ignore[assignment]
        return DictVal(items, True)
    return DictVal(dict(kwargs), True)


@model("numpy.array", "numpy.asarray")
def array_of_sizes(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """``np.array([2, 20, 20, 1])``: layer sizes kept in an array are the list's elements (its
    length, indexing and slicing are what a constructor reads)."""
    if args and isinstance(args[0], SeqVal) and args[0].kind in ("list", "tuple"):
        return SeqVal(args[0].entries, "list")
    return None


@model(catalog.MODULE_WRAPPERS, "functools.partial", "copy.deepcopy", "copy.copy")
def same_module(
    m: Machine,
    qname: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value | None:
    """``torch.compile(model)``, ``DataParallel(model)``, ``partial(Block, ...)``: the same
    network (or class); ``copy.deepcopy(layer)`` too (a clone, ``get_clones(layer, n)``, is one
    more layer of the same kind: repeated ``n`` times, it counts ``n`` times)."""
    return args[0] if args else None
