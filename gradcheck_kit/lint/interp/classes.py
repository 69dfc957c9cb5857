"""The machine's classes and function calls: a ``class`` statement becomes a :class:`ClassInfo`;
instantiating one runs its ``__init__`` over an abstract instance (a subclass of ``nn.Sequential``
fills its children); calling a user function binds its parameters (defaults included, the
source of a symbolic depth) and runs its body, bounded in depth and recursion.
"""

from __future__ import annotations

import ast
import contextlib
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.frames import (
    MAX_CALL_DEPTH,
    BudgetExceeded,
    Frame,
    Spread,
    map_entries,
    named_in,
)
from gradcheck_kit.lint.interp.imports import is_foreign
from gradcheck_kit.lint.interp.normalizes import computes_statistics, normalizes
from gradcheck_kit.lint.interp.saturates import saturating_function, saturating_kind
from gradcheck_kit.lint.interp.syntax import (
    full_name,
)
from gradcheck_kit.lint.interp.values import (
    ClassInfo,
    ClassRef,
    Const,
    Data,
    DictVal,
    Entry,
    FuncRef,
    Instance,
    ModuleVal,
    Namespace,
    ProjectConst,
    Ref,
    Repeated,
    SeqVal,
    Unknown,
    Value,
    copy_layer,
    looks_like_norm,
)
from gradcheck_kit.lint.provenance import cite
from gradcheck_kit.lint.sketch import Layer, Node, Repeat, nodes
from gradcheck_kit.lint.torch_refs import TorchRef

if TYPE_CHECKING:
    from gradcheck_kit.lint.caller_values import Arg
    from gradcheck_kit.lint.callsites import CallSite
    from gradcheck_kit.lint.interp.machine import Machine


def define_class(self: Machine, stmt: ast.ClassDef, frame: Frame) -> None:
    bases = [self.eval(base, frame) for base in stmt.bases]
    qual = f"{frame.qualname}.{stmt.name}" if frame.qualname else stmt.name
    info = ClassInfo(stmt, stmt.name, qual, bases, frame.chain())
    info.is_dataclass = any("dataclass" in (full_name(d) or "") for d in stmt.decorator_list)
    info.foreign = self.in_foreign
    class_frame = Frame({}, "", [], outer=frame.chain())
    for item in stmt.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            info.methods[item.name] = item
        elif isinstance(item, (ast.Assign, ast.AnnAssign)):
            self.frame_stack.append(class_frame)
            try:
                value = self.eval(item.value, class_frame) if item.value else None
            finally:
                self.frame_stack.pop()
            targets = item.targets if isinstance(item, ast.Assign) else [item.target]
            for target in targets:
                if isinstance(target, ast.Name) and value is not None:
                    info.attrs[target.id] = value
    frame.env[stmt.name] = ClassRef(info)
    if not self.in_foreign:
        self.classes.append(info)


def sequential_base(self: Machine, info: ClassInfo) -> bool:
    return bool(info.torch_bases() & (catalog.SEQUENTIAL_CONTAINERS | catalog.LIST_CONTAINERS))


def class_kind(self: Machine, info: ClassInfo) -> Layer | None:
    """A class of the file that *is* a known kind of layer: a user norm (by its bases, its name
    or what its forward computes: :mod:`~gradcheck_kit.lint.interp.normalizes`) or a saturating
    activation (by its bases, the configured names, or the function its forward computes:
    :mod:`~gradcheck_kit.lint.interp.saturates`)."""
    bases = info.torch_bases()
    if bases & catalog.NORMALIZATION_MODULES or named_in(info, self.extra_norm):
        return Layer("norm", info.name)
    verdict = self.norm_verdicts.get(id(info.node))
    if verdict is None:
        verdict = _norm_verdict(info)
        self.norm_verdicts[id(info.node)] = verdict
    if verdict == "norm":
        return Layer("norm", info.name)
    if verdict == "by name" and looks_like_norm(info.name) and not info.find_method("__iter__"):
        return Layer("norm", info.name)
    for base in bases:
        act = catalog.SATURATING_MODULES.get(base)
        if act:
            return Layer("saturating", act.name, bound=act.derivative_bound)
    if named_in(info, self.extra_saturating):
        return Layer("saturating", info.name)
    if id(info.node) not in self.saturating_verdicts:
        self.saturating_verdicts[id(info.node)] = saturating_kind(info)
    computed = self.saturating_verdicts[id(info.node)]
    if computed is not None:  # ``1 / (1 + torch.exp(-x))``: a sigmoid, whatever its name
        return Layer("saturating", computed.name, bound=computed.derivative_bound)
    return None


def _norm_verdict(info: ClassInfo) -> str:
    """A module class with its own forward is decided by what its methods compute
    (:mod:`~gradcheck_kit.lint.interp.normalizes`): "norm" where they divide by a spread,
    "not" where it is named like a normalization but computes no statistic at all (its forward
    is then interpreted), else "by name"."""
    if catalog.MODULE_FORWARD not in info.methods:
        return "by name"
    if normalizes(info):
        return "norm"
    return "by name" if computes_statistics(info) else "not"


def instantiate(
    self: Machine,
    info: ClassInfo,
    args: list[Value],
    kwargs: dict[str, Value],
    call: ast.Call | None,
) -> Value:
    kind = self.class_kind(info)
    if kind is not None:
        return ModuleVal(copy_layer(kind, self.span(call)) if call is not None else kind)
    if self.call_stack.count(info) >= 2:
        return Unknown(info.name)
    instance = Instance(info)
    if call is not None:
        instance.built_at = self.span(call)
    if info.is_dataclass and not info.find_method("__init__"):
        for name, value in info.attrs.items():
            instance.set_attr(name, value)
        for name, value in zip(list(info.attrs), args, strict=False):
            instance.set_attr(name, value)
        for name, value in kwargs.items():
            instance.set_attr(name, value)
        return instance
    found = info.find_method("__init__")
    if found is not None:
        owner, init = found
        func = FuncRef(init, owner.scope, f"{owner.name}.__init__", instance, owner)
        self.call_function(func, args, kwargs, call)
    elif self.sequential_base(info):
        self.fill_container(instance, args)
    if (
        call is not None and not info.foreign and info.find_method(catalog.MODULE_FORWARD)
    ):  # a root too
        self.pending.append(instance)
    return instance


def instantiate_call_sites(self: Machine, info: ClassInfo, default: Value | None) -> None:
    """Build a class of this file again for each call of it in another project file with
    literal arguments (:mod:`gradcheck_kit.lint.callsites`); each instance is a root, and each
    literal says where it came from (``MLP(depth=12) at train.py:3``). ``default``: the class
    built with its defaults (None: that failed), which says whether the calls can matter
    (:mod:`~gradcheck_kit.lint.interp.site_gate`)."""
    from gradcheck_kit.lint.callsites import call_sites
    from gradcheck_kit.lint.interp.site_gate import call_sites_matter

    found = info.find_method("__init__")
    if found is None or len(found[1].args.args) + len(found[1].args.kwonlyargs) < 2:
        return  # nothing to pass
    if not call_sites_matter(self, info, default):
        return  # the callers it read are in the cache key: one edited to pass one re-lints
    for site in call_sites(self.project, info.name):
        args, kwargs = _site_arguments(self, site)
        before = len(self.sequentials)
        instance = self.instantiate(info, args, kwargs, None)
        _built_at(self, before, site.source)
        if isinstance(instance, Instance):
            self.pending.append(instance)
            self.built_at[id(instance)] = site.source


def _site_arguments(self: Machine, site: CallSite) -> tuple[list[Value], dict[str, Value]]:
    """A call site's arguments as values; the caller's module and the config files it read
    become this file's consulted files (their edits re-lint it)."""
    source = site.source
    args = [
        _site_value(self, site, node, f"argument {i + 1}", source)
        for i, node in enumerate(site.args)
    ]
    kwargs = {name: _site_value(self, site, node, name, source) for name, node in site.kwargs}
    if site.module is not self.project.own:
        self.loaded[site.module.file.path] = site.module
    for data in site.files:
        self.data_files[data.path] = data
    return args, kwargs


def _built_at(self: Machine, before: int, source: str) -> None:
    """The Sequentials built since ``before`` (for a call site) say where their depth came
    from."""
    for holder, _ in self.sequentials[before:]:
        self.built_at[id(holder)] = source


def run_functions(self: Machine) -> None:
    """Every function, with its defaults: finds the Sequentials that builders return; a
    top-level function of this file again with each call of it in another file."""
    for func in list(self.functions):
        before = len(self.sequentials)
        with contextlib.suppress(BudgetExceeded):
            self.call_function(func, [], {}, None)
        if func.bound is None and func.owner is None and func.node in self.module.body:
            defaults = self.sequentials[before:]
            built = [self.entries_node(h.entries) for h, _ in defaults]
            called = False
            with contextlib.suppress(BudgetExceeded):
                called = call_function_sites(self, func, built)
            if called:  # the calls fix what the defaults left unknown (GCK002 only if none do)
                unbounded = {id(h) for (h, _), n in zip(defaults, built, strict=True) if _open(n)}
                self.sequentials = [s for s in self.sequentials if id(s[0]) not in unbounded]


def _open(node: Node) -> bool:
    """Whether ``node`` repeats something a number of times the linter cannot see."""
    return any(isinstance(n, Repeat) and n.count.value is None for n in nodes(node))


def call_function_sites(self: Machine, func: FuncRef, built: list[Node]) -> bool:
    """Call a top-level builder function of this file again with the arguments of each call of
    it in another project file (``make_mlp(2, 1, 64, 8)`` in ``train.py``), as
    :func:`instantiate_call_sites` builds a class again: the Sequentials it builds are roots, and
    each literal says where it came from. ``built``: the sketches its call with its defaults
    built (which say whether the calls can matter, with the gate's text tests). Whether any
    call was read."""
    from gradcheck_kit.lint.callsites import call_sites
    from gradcheck_kit.lint.interp.site_gate import opened_sketch, sites_matter

    node = func.node
    if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        return False
    params = node.args
    if not (params.posonlyargs or params.args or params.kwonlyargs):
        return False  # nothing to pass
    if not built:
        return False  # it builds no Sequential with its defaults: a helper, not a builder
    if not sites_matter(self, node, node.name, opened_sketch(self, built)):
        return False
    called = False
    for site in call_sites(self.project, node.name):
        called = True
        args, kwargs = _site_arguments(self, site)
        before = len(self.sequentials)
        self.call_function(func, args, kwargs, None)
        _built_at(self, before, site.source)
    return called


def _site_value(self: Machine, site: CallSite, node: Arg, name: str, source: str) -> Value:
    """An argument of a call site: its literal, or a :class:`Namespace` whose attributes and
    items are read in the caller when the class asks (``MLP(args)``, then ``args.depth``),
    each saying where it came from and consulting the config files it read."""
    from gradcheck_kit.lint.caller_values import Held

    if not isinstance(node, Held):
        return call_site_value(self, node, name, source)
    held = node
    seen: dict[tuple[tuple[str, Any], ...], Value] = {}  # a loop reads a path again and again

    def read(path: tuple[tuple[str, Any], ...]) -> Value:
        if path in seen:
            return seen[path]
        found, notes, files = held.read(path)
        if found is None or isinstance(found, ast.Dict):  # a mapping: read its keys one by one
            value: Value = Namespace(name, False, read, path)
        else:
            for data in files:  # an edit to the config file re-lints this one
                self.data_files[data.path] = data
            said = replace(site, notes=tuple(dict.fromkeys((*site.notes, *notes)))).source
            value = call_site_value(self, found, name, said)
        if isinstance(value, (Const, Namespace)):  # a list may be grown where it is read
            seen[path] = value
        return value

    return Namespace(name, False, read, ())


def call_site_value(self: Machine, node: ast.expr | None, name: str, source: str) -> Value:
    """A literal argument of a call site in another file (Unknown where it is not a literal)."""
    if node is None:
        return Unknown(name)
    if isinstance(node, TorchRef):  # ``activation=nn.Tanh``, read through the caller's imports
        return Ref(node.qname)
    if isinstance(node, ast.Call) and isinstance(node.func, TorchRef):  # ``act=nn.Tanh()``
        frame = Frame({}, "", [])
        args = [self.eval(a, frame) for a in node.args]
        kwargs = {str(k.arg): self.eval(k.value, frame) for k in node.keywords}
        return self.call_ref(node.func.qname, args, kwargs, node, frame)
    value = self.eval(node, Frame({}, "", []))
    return Const(value.value, source) if isinstance(value, Const) else value


def fill_container(self: Machine, instance: Instance, args: list[Value]) -> None:
    entries: tuple[Entry, ...] = ()
    for arg in args:  # ``*layers`` with a loop's entries comes as one Spread, as for Sequential
        entries += arg.entries if isinstance(arg, Spread) else self.container_entries(arg)
    instance.children.entries = instance.children.entries + entries


def container_entries(self: Machine, arg: Value) -> tuple[Entry, ...]:
    if isinstance(arg, DictVal):
        return tuple(arg.items.values())
    if (
        isinstance(arg, SeqVal)
        and arg.kind in ("list", "tuple")
        and arg.entries
        and _all_pairs(arg.entries)
    ):  # OrderedDict-style [("name", module), ...], pairs appended in a loop included
        return map_entries(arg.entries, _second)
    return (arg,)


def _all_pairs(entries: tuple[Entry, ...]) -> bool:
    """Whether every entry (through loops: :class:`Repeated`) is a ``(name, module)`` pair."""
    for entry in entries:
        if isinstance(entry, Repeated):
            if not entry.entries or not _all_pairs(entry.entries):
                return False
            continue
        if not isinstance(entry, SeqVal) or entry.kind != "tuple":
            return False
        plain = entry.plain()
        if plain is None or len(plain) != 2:
            return False
    return True


def _second(pair: Value) -> Value:
    plain = pair.plain() if isinstance(pair, SeqVal) else None
    return plain[1] if plain is not None and len(plain) == 2 else Unknown()


def call_function(
    self: Machine,
    func: FuncRef,
    args: list[Value],
    kwargs: dict[str, Value],
    call: ast.Call | None,
) -> Value:
    if self.call_depth >= MAX_CALL_DEPTH or self.call_stack.count(func.node) >= 2:
        return Unknown(func.qualname)
    if func.bound is None and len(args) == 1 and isinstance(args[0], Data) and not kwargs:
        # ``squash(self.fc(x))`` where ``def squash(x): return 1 / (1 + torch.exp(-x))``
        if id(func.node) not in self.saturating_verdicts:
            self.saturating_verdicts[id(func.node)] = saturating_function(func.node)
        act = self.saturating_verdicts[id(func.node)]
        if act is not None:
            layer = Layer("saturating", act.name, self.span(call), act.derivative_bound)
            return self.extend(args[0], layer)
    foreign = is_foreign(func)
    if foreign and not self.in_foreign:  # this file calls into another module's code
        return self.call_foreign(func, args, kwargs, call)
    env: dict[str, Value] = {}
    self.bind_params(func, args, kwargs, env, call)
    frame = Frame(env, func.qualname, [], owner=func.owner, outer=func.scope)
    self.call_depth += 1
    self.call_stack.append(func.node)
    saved = self.in_foreign
    self.in_foreign = foreign
    # this file's code called back from another module's (a container's forward applying this
    # file's blocks): its steps are the file's, not the other module's budget
    callback, before = saved and not foreign, self.steps
    try:
        if isinstance(func.node, ast.Lambda):
            self.frame_stack.append(frame)
            try:
                return self.eval(func.node.body, frame)
            finally:
                self.frame_stack.pop()
        self.exec_block(func.node.body, frame)
    finally:
        self.call_depth -= 1
        self.call_stack.pop()
        self.in_foreign = saved
        if callback:
            from gradcheck_kit.lint.interp.machine import STEP_BUDGET

            spent = self.steps - before
            self.limit = min(self.limit + spent, STEP_BUDGET)
            self.refunded += spent
    if not frame.returns:
        return Const(None)
    result = frame.returns[0]
    for other in frame.returns[1:]:
        result = self.merge(result, other, "alt")
    if call is not None and isinstance(result, ModuleVal) and isinstance(result.node, Layer):
        # ``get_activation("tanh")``: report the layer where the model asks for it
        return ModuleVal(copy_layer(result.node, self.span(call)))
    return result


def bind_params(
    self: Machine,
    func: FuncRef,
    args: list[Value],
    kwargs: dict[str, Value],
    env: dict[str, Value],
    call: ast.Call | None,
) -> None:
    params = func.node.args
    positional = [*params.posonlyargs, *params.args]
    pos_defaults: list[ast.expr | None] = [None] * (len(positional) - len(params.defaults))
    pos_defaults += params.defaults
    slots = list(zip(positional, pos_defaults, strict=True))
    args = list(args)
    if func.bound is not None and slots:
        env[slots[0][0].arg] = func.bound
        slots = slots[1:]
    callee = func.qualname.split(".")[0] if func.qualname else "?"
    n_positional = len(slots)
    slots += zip(params.kwonlyargs, params.kw_defaults, strict=True)
    for index, (param, default) in enumerate(slots):
        name = param.arg
        if args and index < n_positional:
            value = args.pop(0)
        elif name in kwargs:
            value = kwargs[name]
        elif default is not None:
            value = self.eval(default, Frame({}, "", [], outer=func.scope))
            if isinstance(value, Const):
                where = f" from {value.source}" if isinstance(value, ProjectConst) else ""
                text = f"parameter '{name}' (default {value.value!r}{where})"
                value = Const(value.value, cite(text, value.source))
            env[name] = value
            continue
        else:
            env[name] = Unknown(name)
            continue
        if isinstance(value, Const) and value.source is None and call is not None:
            value = Const(value.value, f"{callee}({name}={value.value!r})")
        elif isinstance(value, Namespace):
            value = value.named(name)  # ``cfg.depth`` in messages, as the class calls it
        env[name] = value
    if params.vararg is not None:
        env[params.vararg.arg] = SeqVal(tuple(args), "tuple")
    if params.kwarg is not None:
        env[params.kwarg.arg] = DictVal(dict(kwargs))


# -- expressions --------------------------------------------------------------------------
