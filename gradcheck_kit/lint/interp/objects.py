"""Calls on Python objects: builtins (``range``, ``len``, ``zip``, ``getattr``, ``isinstance``...),
``super()``, and methods of lists, dicts, strings, module instances and containers
(``append``, ``add_module``, ``modules()``, ``apply(init_fn)``); a method of a tensor goes to its
model in :data:`~gradcheck_kit.lint.interp.models.TENSOR_METHODS`.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.folding import (
    hashable,
    range_of,
    split_string,
)
from gradcheck_kit.lint.interp.frames import (
    BoundMethod,
    Frame,
    Spread,
    Super,
    first_source,
    map_entries,
    spread_args,
)
from gradcheck_kit.lint.interp.models import TENSOR_METHODS
from gradcheck_kit.lint.interp.models.init import (
    Weight,
    record_init,
)
from gradcheck_kit.lint.interp.models.layers import isinstance_of
from gradcheck_kit.lint.interp.values import (
    ClassInfo,
    Const,
    Data,
    DictVal,
    FuncRef,
    Instance,
    ModuleVal,
    Repeated,
    SeqVal,
    Template,
    Unknown,
    Value,
)
from gradcheck_kit.lint.sketch import (
    Count,
    iter_layers,
)

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine

if TYPE_CHECKING:
    pass


_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "int": int, "float": float, "round": round, "abs": abs, "str": str, "bool": bool,
}  # fmt: skip


def call_builtin(
    self: Machine,
    name: str,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value:
    if name == "range":
        return range_of(args)
    if name == "len":
        if args and isinstance(args[0], SeqVal):
            count = args[0].length()
            if count.value is not None:
                return Const(count.value, first_source(args[0]))
            return Unknown(count.symbol)
        if args and isinstance(args[0], Const):
            with contextlib.suppress(TypeError):
                return Const(len(args[0].value), args[0].source)
        if args and isinstance(args[0], Instance):
            return self.call_builtin("len", [args[0].children], kwargs, node, frame)
        if args and isinstance(args[0], Unknown):
            return Unknown(f"len({args[0].symbol})", args[0].from_data)
        return Unknown(None, any(isinstance(a, Data) for a in args))
    if name in ("list", "tuple", "reversed", "sorted", "iter"):
        if not args:
            holder = SeqVal((), "list")
            return holder
        value = args[0]
        if isinstance(value, DictVal):
            return SeqVal(tuple(Const(k) for k in value.items), "list")
        if isinstance(value, SeqVal):
            entries = value.entries
            if name == "reversed":
                plain = value.plain()
                entries = tuple(reversed(plain)) if plain is not None else entries
            holder = SeqVal(entries, "list" if name != "tuple" else "tuple")
            return holder
        if isinstance(value, Instance):
            return SeqVal(value.children.entries, "list")
        return value
    if name in ("zip", "enumerate"):
        return self.zip_enumerate(name, args)
    if name == "map" and len(args) == 2 and isinstance(args[1], SeqVal):
        convert = args[0]  # ``map(int, s.split(","))``: each element converted, the count kept
        return SeqVal(
            map_entries(args[1].entries, lambda v: self.call(convert, [v], {}, node, frame))
        )
    if name == "getattr" and len(args) >= 2:
        owner, attr = args[0], args[1]
        if isinstance(attr, Const) and isinstance(attr.value, str):
            value = self.getattr(owner, attr.value)
            if isinstance(value, Unknown) and isinstance(owner, Instance):
                # ``getattr(self, "fc3")`` after ``add_module(f"fc{i}", ...)`` in a loop that
                # was not unrolled: the module registered under the pattern
                patterns = [k for k in owner.attrs if "{}" in k]
                for key in patterns:
                    if Template(pattern=key).matches(attr.value):
                        return owner.attrs[key]
            return value
        if isinstance(attr, Template) and isinstance(owner, Instance):
            found = self.registered_like(owner, attr)
            if found is not None:
                return found
        return args[2] if len(args) > 2 else Unknown()
    if name == "setattr" and len(args) >= 3:
        owner, attr = args[0], args[1]
        if isinstance(owner, Instance):
            if isinstance(attr, Const) and isinstance(attr.value, str):
                owner.set_attr(attr.value, args[2])
            elif isinstance(attr, Template):
                owner.set_attr(attr.pattern, args[2])
            owner.children.entries = (*owner.children.entries, args[2])
        return Const(None)
    if name == "hasattr":
        return Unknown()
    if name == "super":
        return self.super_value(frame)
    if name in ("int", "float", "round", "abs", "str", "bool") and args:
        value = args[0]
        if isinstance(value, Const):
            with contextlib.suppress(Exception):
                return Const(_CONVERSIONS[name](value.value), value.source)
        return Unknown()
    if name in ("max", "min", "sum") and args:
        values = (
            args
            if len(args) > 1
            else (args[0].plain() or [] if isinstance(args[0], SeqVal) else [])
        )
        if values and all(isinstance(v, Const) for v in values):
            with contextlib.suppress(Exception):
                fn = {"max": max, "min": min, "sum": sum}[name]
                return Const(fn(v.value for v in values))  # type: ignore[attr-defined,operator]
        return Unknown()
    if name == "isinstance" and len(args) >= 2:
        return isinstance_of(args[0], args[1])
    if name == "dict":
        return DictVal(dict(kwargs))
    return Unknown()


def registered_like(self: Machine, owner: Instance, name: Template) -> Value | None:
    """What ``getattr(self, f"layer{i}")`` reads when ``i`` is not known: the module registered
    under the same pattern (a loop that was not unrolled), or one standing for every attribute
    the pattern matches (a loop that was: ``layer0`` ... ``layer7``)."""
    if name.pattern in owner.attrs:
        return owner.attrs[name.pattern]
    matched = tuple(value for key, value in owner.attrs.items() if name.matches(key))
    return self.representative(matched) if matched else None


def zip_enumerate(self: Machine, name: str, args: list[Value]) -> Value:
    if name == "enumerate":
        if not args or not isinstance(args[0], SeqVal):
            return SeqVal((Repeated(Count(None), (SeqVal((Unknown(), Unknown()), "tuple"),)),))
        plain = args[0].plain()
        if plain is not None:
            return SeqVal(
                tuple(SeqVal((Const(i), v), "tuple") for i, v in enumerate(plain)), "tuple"
            )
        return SeqVal(map_entries(args[0].entries, lambda v: SeqVal((Unknown(), v), "tuple")))
    seqs = [a for a in args if isinstance(a, (SeqVal, Instance))]
    seqs = [s.children if isinstance(s, Instance) else s for s in seqs]
    if len(seqs) != len(args) or not seqs:
        return SeqVal((Repeated(Count(None), (SeqVal(tuple(Unknown() for _ in args), "tuple"),)),))
    plains = [s.plain() for s in seqs]  # type: ignore[union-attr]
    if all(p is not None for p in plains):
        n = min(len(p) for p in plains)  # type: ignore[arg-type]
        sources = [first_source(s) for s in seqs]  # type: ignore[arg-type]
        pairs = tuple(SeqVal(tuple(p[i] for p in plains), "tuple") for i in range(n))  # type: ignore[index]
        source = next((s for s in sources if s), None)
        if source:
            return SeqVal((Repeated(Count(n, source), pairs, unrolled=True),), "tuple")
        return SeqVal(pairs, "tuple")
    # repeated structures: zip element-wise where the first list is repeated
    first = seqs[0]
    assert isinstance(first, SeqVal)
    reps = [self.representative(s.entries) for s in seqs[1:]]  # type: ignore[union-attr]
    return SeqVal(map_entries(first.entries, lambda v: SeqVal((v, *reps), "tuple")))


def super_value(self: Machine, frame: Frame) -> Value:
    self_value = None
    owner: ClassInfo | None = None
    for f in reversed(self.frame_stack):
        if "self" in f.env and isinstance(f.env["self"], Instance):
            self_value = f.env["self"]
            break
    if self_value is None:
        return Unknown()
    for f in reversed(self.frame_stack):
        if f.owner is not None:
            owner = f.owner
            break
    return Super(self_value, owner)


def call_method(
    self: Machine,
    method: BoundMethod,
    args: list[Value],
    kwargs: dict[str, Value],
    node: ast.Call,
    frame: Frame,
) -> Value:
    owner, name = method.owner, method.name
    self.span(node)
    if name in catalog.RETURNS_SELF and self.module_node(owner) is not None:
        return owner  # model.to(device), .cuda(), .train(), .requires_grad_(), ...
    if isinstance(owner, Data):
        model = TENSOR_METHODS.get(name)
        return owner if model is None else model(self, owner, name, args, node)
    if isinstance(owner, Super):
        if name == "__init__":
            return self.super_init(owner, args, kwargs, node)
        if owner.instance is not None:
            return self.call(self.getattr(owner.instance, name), args, kwargs, node, frame)
        return Unknown()
    if (
        isinstance(owner, SeqVal)
        and owner.kind == "sequential"
        and name in (catalog.MODULE_APPLY, catalog.MODULE_ALL)
    ):
        layers = self.all_layers(owner)
        if name == catalog.MODULE_APPLY and args:
            for layer in layers.entries:
                self.call(args[0], [layer], {}, node, frame)  # type: ignore[list-item]
            return owner
        return layers
    if isinstance(owner, SeqVal):
        if name == "append" and args:
            owner.entries = (*owner.entries, args[0])
        elif name == "extend" and args:
            owner.entries = owner.entries + self.as_entries(args[0])
        elif name == "insert" and len(args) >= 2:
            plain = owner.plain()
            if plain is not None and isinstance(args[0], Const):
                plain.insert(args[0].value, args[1])
                owner.entries = tuple(plain)
            else:
                owner.entries = (*owner.entries, args[1])
        elif name in catalog.MODULE_REGISTRATION and len(args) >= 2:
            owner.entries = (*owner.entries, args[1])
        elif name in (catalog.MODULE_CHILDREN, catalog.MODULE_ALL, "values", "copy"):
            return owner
        elif name in ("items", "named_children"):  # ``self._modules.items()``: (name, module)
            return SeqVal(map_entries(owner.entries, _unnamed_pair), "list")
        elif name == "pop":
            plain = owner.plain()
            if plain:
                owner.entries = tuple(plain[:-1])
                return plain[-1]
        else:
            return Unknown()
        return Const(None)
    if isinstance(owner, Instance):
        if name in catalog.MODULE_REGISTRATION and len(args) >= 2:
            if isinstance(args[0], Const) and isinstance(args[0].value, str):
                owner.set_attr(args[0].value, args[1])
            elif isinstance(args[0], Template):  # ``add_module(f"layer{i}", ...)``, not unrolled
                owner.set_attr(args[0].pattern, args[1])
            owner.children.entries = (*owner.children.entries, args[1])
            return Const(None)
        if name in ("append", "extend"):
            return self.call_method(BoundMethod(owner.children, name), args, kwargs, node, frame)
        if name == catalog.MODULE_ALL:
            return self.all_layers(owner)
        if name in (catalog.MODULE_CHILDREN, "values"):
            return owner.children
        if name == "named_children":
            return SeqVal(map_entries(owner.children.entries, _unnamed_pair), "list")
        if name == catalog.MODULE_APPLY and args:
            for layer in self.all_layers(owner).entries:
                self.call(args[0], [layer], {}, node, frame)  # type: ignore[list-item]
            return owner
        return Unknown()
    if isinstance(owner, (ModuleVal, SeqVal)) and name in catalog.MODULE_TREE_METHODS:
        layers = self.all_layers(owner)
        if name == catalog.MODULE_APPLY and args:
            for layer in layers.entries:
                self.call(args[0], [layer], {}, node, frame)  # type: ignore[list-item]
            return owner
        return layers
    if isinstance(owner, Weight):
        record_init(self, owner.layer, name, args, kwargs, node, method=True)
        return Const(None)
    if isinstance(owner, DictVal):
        if name == "values":
            return SeqVal(tuple(owner.items.values()), "list")
        if name == "keys":
            return SeqVal(tuple(Const(k) for k in owner.items), "list")
        if name == "items":
            return SeqVal(
                tuple(SeqVal((Const(k), v), "tuple") for k, v in owner.items.items()), "list"
            )
        if name == "get" and args:
            key = args[0]
            if isinstance(key, Const) and hashable(key.value):
                default = args[1] if len(args) > 1 else Const(None)
                return owner.items.get(key.value, default)
            return Unknown()
        if name in ("update",) and args and isinstance(args[0], DictVal):
            owner.items.update(args[0].items)
        return Unknown()
    if isinstance(owner, Const) and isinstance(owner.value, str):
        if name in ("lower", "upper", "capitalize", "title", "strip", "casefold"):
            return Const(getattr(owner.value, name)(), owner.source)
        if name == "split" and not kwargs:
            return split_string(owner, args)
        if name in ("startswith", "endswith") and args and isinstance(args[0], Const):
            with contextlib.suppress(Exception):
                return Const(getattr(owner.value, name)(args[0].value))
    return Unknown()


def super_init(
    self: Machine, sup: Super, args: list[Value], kwargs: dict[str, Value], node: ast.Call
) -> Value:
    instance = sup.instance
    if not isinstance(instance, Instance):
        return Const(None)
    bases = sup.owner.base_classes() if sup.owner else instance.cls.base_classes()
    for base in bases:
        found = base.find_method("__init__")
        if found is not None:
            owner, init = found
            func = FuncRef(init, owner.scope, f"{owner.name}.__init__", instance, owner)
            self.call_function(func, spread_args(args), kwargs, node)
            return Const(None)
    if self.sequential_base(instance.cls):
        spread: list[Value] = []
        for arg in args:
            if isinstance(arg, Spread):
                instance.children.entries = instance.children.entries + arg.entries
            else:
                spread.append(arg)
        self.fill_container(instance, spread)
    return Const(None)


# -- explicit initialisation (GCK006) -----------------------------------------------------


def all_layers(self: Machine, module: Value) -> SeqVal:
    """``model.modules()``: every layer inside, as modules (for init loops)."""
    node = self.module_node(module)
    if isinstance(module, Instance):
        node = self.entries_node(module.children.entries)
    layers = iter_layers(node) if node is not None else []
    return SeqVal(tuple(ModuleVal(layer) for layer in layers), "list")


def _unnamed_pair(module: Value) -> Value:
    """``(name, module)`` of a container's item, its name unknown."""
    return SeqVal((Unknown(), module), "tuple")
