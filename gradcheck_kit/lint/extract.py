"""Python source -> architecture sketches, by interpreting the code abstractly.

The extractor never imports or runs user code. It walks the syntax tree the way Python would run
it, but over abstract values (:mod:`gradcheck_kit.lint.values`): imports become qualified
references, literals fold into constants, ``nn.Tanh()`` becomes a module whose sketch is one
saturating layer, ``forward(x)`` turns ``x`` into a tensor whose path records every layer it goes
through. One mechanism then covers every code shape: Sequential literals, lists built in loops,
comprehensions, ``[...] * n``, ModuleLists iterated in ``forward``, helper functions, blocks
passed as arguments, activations chosen through defaults, dicts or ``getattr``.

*Roots* are what gets analysed: the forward path of every module class (with its parameter
defaults, and again for every instantiation in the file with literal arguments), and every
``nn.Sequential`` built anywhere (module level, helper functions, ``__init__``).
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.folding import (
    UNROLL_LIMIT,
    _compare,
    _count_of,
    _fold,
    _hashable,
    _range,
    _same_const,
)
from gradcheck_kit.lint.patterns import (
    _ACTIVATION_FUNCTIONS,
    _ACTIVATION_MODULES,
    _LOGIT_LOSSES,
    _LOSS_FUNCTIONS,
    _MODULE_WRAPPERS,
    _RETURNS_SELF,
    _SOFTMAX_NAMES,
    _dominant_activation,
    _fan_in,
    _Init,
    _is_loss,
    _isinstance,
    _squash_applied_by,
    _squash_name,
    _tail_layer,
    _unwrap_squash,
    _Weight,
    _weight_variance,
)
from gradcheck_kit.lint.rules import Event, LayerInit
from gradcheck_kit.lint.sketch import (
    Branches,
    Count,
    Layer,
    Node,
    Repeat,
    Residual,
    Seq,
    iter_layers,
    seq,
)
from gradcheck_kit.lint.values import (
    JOURNAL,
    ClassInfo,
    ClassRef,
    Const,
    Data,
    DictVal,
    Entry,
    FuncRef,
    Instance,
    ModuleVal,
    Ref,
    Repeated,
    Scope,
    SeqVal,
    Unknown,
    Value,
    copy_layer,
    looks_like_norm,
)

MAX_CALL_DEPTH = 24
STEP_BUDGET = 400_000  # abstract evaluation steps per file; past it, values become Unknown


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


_BUILTIN_NAMES = frozenset(
    {
        "range", "len", "zip", "enumerate", "list", "tuple", "getattr", "setattr", "hasattr",
        "isinstance", "int", "float", "str", "max", "min", "reversed", "super", "dict", "sum",
        "sorted", "abs", "round", "bool", "print", "iter", "next", "map", "filter", "type",
        "callable", "any", "all", "divmod", "set", "frozenset", "object", "Exception",
        "ValueError", "TypeError", "NotImplementedError", "RuntimeError", "KeyError",
        "AssertionError", "None", "True", "False", "vars", "id", "repr", "format",
    }
)  # fmt: skip

_ADD_OPS = (ast.Add, ast.Sub)
_TRY: tuple[type[ast.stmt], ...] = (ast.Try, getattr(ast, "TryStar", ast.Try))  # except* (3.11)


class Extractor:
    def __init__(
        self,
        module: ast.Module,
        extend_saturating: tuple[str, ...] = (),
        extend_normalization: tuple[str, ...] = (),
        max_depth: int = 0,
    ) -> None:
        self.module = module
        self.max_depth = max_depth  # GCK006 reports stacks deeper than this
        self.extra_saturating = set(extend_saturating)
        self.extra_norm = set(extend_normalization)
        self.roots: list[Root] = []
        self.steps = 0
        self.call_depth = 0
        self.call_stack: list[object] = []
        self.classes: list[ClassInfo] = []
        self.functions: list[FuncRef] = []
        self._sequentials: list[tuple[SeqVal, str | None]] = []
        self._frames: list[Frame] = []
        self._pending: list[Instance] = []
        self.events: list[Event] = []
        self.loops: list[_Loop] = []
        self.fan_in: dict[int, int] = {}  # affine layer origin -> fan-in
        self.inits: dict[int, _Init] = {}  # affine layer origin -> explicit init
        self.unread_inits: dict[int, tuple[str, object]] = {}  # origin -> (init, call node)
        self.no_bias: set[int] = set()  # affine layer origins built with bias=False
        self.star_modules: tuple[str, ...] = ()

    # -- entry point --------------------------------------------------------------------------
    def run(self) -> list[Root]:
        frame = Frame({}, "", [])
        with contextlib.suppress(BudgetExceeded):
            self.exec_block(self.module.body, frame)
        # every class with a forward, instantiated with its defaults
        defaults: dict[int, Value] = {}
        for info in list(self.classes):
            if info.find_method("forward") or self._sequential_base(info):
                with contextlib.suppress(BudgetExceeded):
                    instance = self.instantiate(info, [], {}, None)
                    defaults[id(info)] = instance
                    if isinstance(instance, Instance):
                        self._add_instance_root(instance)
        # every function, with its defaults: finds the Sequentials that builders return
        for func in list(self.functions):
            with contextlib.suppress(BudgetExceeded):
                self.call_function(func, [], {}, None)
        # every other method, with a default instance (``_make_layer``-style builders)
        # (``training_step`` too: ``self`` is the default instance, so ``self(x)`` runs forward)
        for info in list(self.classes):
            others = [(n, m) for n, m in info.methods.items() if n not in ("__init__", "forward")]
            if not others:
                continue
            inst = defaults.get(id(info))
            if inst is None:
                with contextlib.suppress(BudgetExceeded):
                    inst = self.instantiate(info, [], {}, None)
            if not isinstance(inst, Instance):
                inst = Instance(info)
            for name, method in others:
                with contextlib.suppress(BudgetExceeded):
                    fn = FuncRef(method, info.scope, f"{info.name}.{name}", inst, info)
                    self.call_function(fn, [], {}, None)
        for holder, symbol in self._sequentials:
            self.roots.append(Root(self.entries_node(holder.entries), symbol))
        return self.roots

    def _add_instance_root(self, instance: Instance) -> None:
        node = self.instance_node(instance)
        if node is not None:
            self.roots.append(Root(node, instance.cls.name))

    # -- helpers ------------------------------------------------------------------------------
    def tick(self) -> None:
        self.steps += 1
        if self.steps > STEP_BUDGET:
            raise BudgetExceeded

    def span(self, node: ast.AST | None) -> ast.AST | None:
        """The anchor of a layer written at ``node``: positions are resolved only for layers
        that end up in a finding (resolving them for a whole file costs more than parsing)."""
        return node

    @property
    def frame(self) -> Frame:
        return self._frames[-1]

    def scope_symbol(self) -> str | None:
        for frame in reversed(self._frames):
            if frame.qualname:
                return frame.qualname.split(".")[0]
        return None

    # -- statements ---------------------------------------------------------------------------
    def exec_block(self, body: Any, frame: Frame) -> None:
        self._frames.append(frame)
        try:
            self._exec_statements(body, frame)
        finally:
            self._frames.pop()

    def _exec_statements(self, body: list[ast.stmt], frame: Frame) -> None:
        for stmt in body:
            if frame.returned:
                return
            self.exec_stmt(stmt, frame)

    def exec_stmt(self, stmt: ast.stmt, frame: Frame) -> None:
        self.tick()
        if isinstance(stmt, ast.Assign):
            value = self.eval(stmt.value, frame)
            if self.loops and len(stmt.targets) == 1:
                value = self.recurrence(stmt, value, frame)
            for target in stmt.targets:
                self.assign(target, value, frame)
        elif isinstance(stmt, ast.Expr):
            self.eval(stmt.value, frame)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self.assign(stmt.target, self.eval(stmt.value, frame), frame)
        elif isinstance(stmt, ast.AugAssign):
            self.exec_augassign(stmt, frame)
        elif isinstance(stmt, ast.Return):
            value = self.eval(stmt.value, frame) if stmt.value is not None else Const(None)
            frame.returns.append(value)
            frame.returned = True
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = f"{frame.qualname}.{stmt.name}" if frame.qualname else stmt.name
            func = FuncRef(stmt, frame.chain(), qual)
            frame.env[stmt.name] = func
            if not frame.qualname:
                self.functions.append(func)
        elif isinstance(stmt, ast.ClassDef):
            self.define_class(stmt, frame)
        elif isinstance(stmt, ast.If):
            self.exec_if(stmt, frame)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self.exec_for(stmt, frame)
        elif isinstance(stmt, ast.While):
            self.exec_while(stmt, frame)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                value = self.eval(item.context_expr, frame)
                if item.optional_vars is not None:
                    self.assign(item.optional_vars, value, frame)
            self._exec_statements(stmt.body, frame)
        elif isinstance(stmt, _TRY):
            for part in ("body", "orelse", "finalbody"):
                self._exec_statements(getattr(stmt, part), frame)
        elif isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname is not None:
                    frame.env[alias.asname] = Ref(alias.name)
                else:
                    head = alias.name.split(".")[0]
                    frame.env[head] = Ref(head)
        elif isinstance(stmt, ast.ImportFrom):
            self.exec_import_from(stmt, frame)

    def exec_import_from(self, stmt: ast.ImportFrom, frame: Frame) -> None:
        base = "." * stmt.level + (stmt.module or "")
        if any(alias.name == "*" for alias in stmt.names):
            self.star_modules = (*self.star_modules, base)
            return
        for alias in stmt.names:
            bound = alias.asname or alias.name
            frame.env[bound] = Ref(f"{base}.{alias.name}" if base else alias.name)

    def exec_augassign(self, stmt: ast.AugAssign, frame: Frame) -> None:
        target = self.eval(stmt.target, frame)
        value = self.eval(stmt.value, frame)
        if isinstance(target, SeqVal) and isinstance(stmt.op, ast.Add):
            target.entries = target.entries + self.as_entries(value)
            return
        self.assign(stmt.target, self.binop(type(stmt.op), target, value), frame)

    def exec_while(self, stmt: ast.While, frame: Frame) -> None:
        """A loop whose condition folds (``while i < 5: ...; i += 1``) runs for real, up to the
        unroll limit; otherwise one representative iteration, repeated an unknown number of
        times."""
        for _ in range(UNROLL_LIMIT):
            cond = self.truth(self.eval(stmt.test, frame))
            if cond is False or frame.returned:
                return
            if cond is None:
                break
            self._exec_statements(stmt.body, frame)
        else:
            return
        self.loop_representative(
            frame, Count(None), lambda: self._exec_statements(stmt.body, frame)
        )

    def exec_if(self, stmt: ast.If, frame: Frame) -> None:
        cond = self.truth(self.eval(stmt.test, frame))

        def run_orelse() -> None:
            self._exec_statements(stmt.orelse, frame)

        if cond is True:
            self._exec_statements(stmt.body, frame)
        elif cond is False:
            run_orelse()
        else:
            self.branch(frame, lambda: self._exec_statements(stmt.body, frame), run_orelse)

    # -- branches and loops over mutable state ------------------------------------------------
    @staticmethod
    def _state(obj: Any) -> Any:
        return obj.entries if isinstance(obj, SeqVal) else dict(obj.attrs)

    @staticmethod
    def _set_state(obj: Any, state: Any) -> None:
        if isinstance(obj, SeqVal):
            obj.entries = state
        else:
            obj.replace_attrs(state)

    def _set_env(self, frame: Frame, env: dict[str, Value]) -> None:
        frame.env.clear()
        frame.env.update(env)

    def branch(self, frame: Frame, first: Callable[[], None], second: Callable[[], None]) -> None:
        """Run both arms of an undecidable ``if`` and merge what they did."""
        env_before = dict(frame.env)
        JOURNAL.push()
        try:
            first()
        finally:  # an arm that runs out of budget must not leave its frame open
            touched_a = JOURNAL.pop()
        returned_a = frame.returned
        env_a = dict(frame.env)
        after_a = {key: (obj, self._state(obj)) for key, (obj, _) in touched_a.items()}
        for obj, old in touched_a.values():
            self._set_state(obj, old)
        self._set_env(frame, env_before)
        frame.returned = False
        JOURNAL.push()
        try:
            second()
        finally:  # an arm that runs out of budget must not leave its frame open
            touched_b = JOURNAL.pop()
        returned_b = frame.returned
        if returned_a and not returned_b:
            return  # only the fall-through arm (the current state) continues
        if returned_b and not returned_a:
            for obj, old in touched_b.values():
                self._set_state(obj, old)
            for obj, state in after_a.values():
                self._set_state(obj, state)
            self._set_env(frame, env_a)
            frame.returned = False
            return
        for key in set(env_a) | set(frame.env):
            a, b = env_a.get(key), frame.env.get(key)
            if a is not b:
                frame.env[key] = self.merge(a, b)
        for oid in set(touched_a) | set(touched_b):
            obj = (touched_a.get(oid) or touched_b[oid])[0]
            state_a = after_a[oid][1] if oid in after_a else touched_b[oid][1]
            state_b = self._state(obj)
            if isinstance(obj, SeqVal):
                obj.entries = self.merge_entries(state_a, state_b)
            else:
                merged = dict(state_b)
                for name in set(state_a) | set(state_b):
                    a, b = state_a.get(name), state_b.get(name)
                    if a is not b:
                        merged[name] = self.merge(a, b)
                obj.replace_attrs(merged)
        frame.returned = returned_a and returned_b

    def merge(self, a: Value | None, b: Value | None) -> Value:
        if a is None or b is None:
            return a or b or Unknown()
        if isinstance(a, Data) and isinstance(b, Data):
            return self.join("alt", a, b)
        if isinstance(a, Data) or isinstance(b, Data):
            return a if isinstance(a, Data) else b
        if isinstance(a, Const) and isinstance(b, Const) and _same_const(a.value, b.value):
            return a
        na, nb = self.module_node(a), self.module_node(b)
        if na is not None and nb is not None:
            return ModuleVal(Branches("alt", (na, nb)))
        if isinstance(a, Ref) and isinstance(b, Ref) and a.qname == b.qname:
            return a
        return Unknown()

    def merge_entries(self, a: tuple[Entry, ...], b: tuple[Entry, ...]) -> tuple[Entry, ...]:
        n = _common_prefix(a, b)
        if n == len(a) == len(b):
            return a
        na = self.entries_node(a[n:])
        nb = self.entries_node(b[n:])
        return (*a[:n], ModuleVal(Branches("alt", (na, nb))))

    def loop_representative(self, frame: Frame, count: Count, body: Callable[[], None]) -> None:
        """Run a loop body once and turn what it added into ``count`` repetitions."""
        env_before, touched = self._run_journaled(frame, body)
        frame.returned = False
        if self.loops and self.loops[-1].recurrent:
            count = replace(count, per_step=True)  # a recurrence through time, not a stack
        self._wrap_growth(
            frame,
            env_before,
            touched,
            lambda nodes: Repeat(count, seq(nodes)),
            lambda entries: Repeated(count, entries),
        )

    def loop_unrolled(self, frame: Frame, count: Count, body: Callable[[], None]) -> None:
        env_before, touched = self._run_journaled(frame, body)
        if count.source is None:
            return
        self._wrap_growth(
            frame,
            env_before,
            touched,
            lambda nodes: Seq(tuple(nodes), count.source),
            lambda entries: Repeated(count, entries, unrolled=True),
        )

    def _run_journaled(
        self, frame: Frame, body: Callable[[], None]
    ) -> tuple[dict[str, Value], dict[int, tuple[Any, Any]]]:
        env_before = dict(frame.env)
        JOURNAL.push()
        try:
            body()
        finally:
            touched = JOURNAL.pop()
        return env_before, touched

    def _wrap_growth(
        self,
        frame: Frame,
        env_before: dict[str, Value],
        touched: dict[int, tuple[Any, Any]],
        wrap_nodes: Callable[[tuple[Node, ...]], Node],
        wrap_entries: Callable[[tuple[Entry, ...]], Repeated],
    ) -> None:
        for key, after in list(frame.env.items()):
            before = env_before.get(key)
            if isinstance(after, Data) and isinstance(before, Data) and after is not before:
                n = len(before.path)
                if (
                    after.origin is before.origin
                    and after.path[:n] == before.path[:n]
                    and len(after.path) > n
                    and _common_prefix(after.path, before.path) == n
                ):
                    frame.env[key] = Data((*before.path, wrap_nodes(after.path[n:])), after.origin)
        for obj, saved in touched.values():
            if isinstance(obj, SeqVal) and obj.entries is not saved:
                n = len(saved)
                if _common_prefix(obj.entries, saved) == n and len(obj.entries) > n:
                    obj.entries = (*saved, wrap_entries(obj.entries[n:]))

    def exec_for(self, stmt: ast.For | ast.AsyncFor, frame: Frame) -> None:
        iterable = self.eval(stmt.iter, frame)
        loop = _Loop(_target_names(stmt.target), _over_time(iterable), _over_modules(iterable))
        self.loops.append(loop)
        try:
            self._exec_for(stmt, iterable, frame)
        finally:
            self.loops.pop()

    def _exec_for(self, stmt: ast.For | ast.AsyncFor, iterable: Value, frame: Frame) -> None:
        def body_with(value: Value) -> Callable[[], None]:
            def run() -> None:
                self.assign(stmt.target, value, frame)
                self._exec_statements(stmt.body, frame)

            return run

        self.iterate(iterable, frame, lambda v: body_with(v)())

    def iterate(self, iterable: Value, frame: Frame, body: Callable[[Value], None]) -> None:
        """Run ``body`` once per element, structurally: known short sequences are unrolled,
        repeated parts become :class:`Repeat`, unknown iterables run once as a representative."""
        if isinstance(iterable, DictVal):
            iterable = SeqVal(tuple(Const(k) for k in iterable.items))
        if isinstance(iterable, Data):
            self.loop_representative(frame, Count(None, per_step=True), lambda: body(iterable))
            return
        if isinstance(iterable, Instance):
            iterable = iterable.children
        if not isinstance(iterable, SeqVal):
            symbol = iterable.symbol if isinstance(iterable, Unknown) else None
            per_step = isinstance(iterable, Unknown) and iterable.from_data
            self.loop_representative(
                frame, Count(None, symbol=symbol, per_step=per_step), lambda: body(Unknown())
            )
            return
        self._iterate_entries(iterable.entries, frame, body)

    def _iterate_entries(
        self, entries: tuple[Entry, ...], frame: Frame, body: Callable[[Value], None]
    ) -> None:
        for entry in entries:
            if frame.returned:
                return
            if isinstance(entry, Repeated):
                inner = entry.entries

                def run_inner(inner: tuple[Entry, ...] = inner) -> None:
                    self._iterate_entries(inner, frame, body)

                if entry.unrolled:
                    self.loop_unrolled(frame, entry.count, run_inner)
                else:
                    self.loop_representative(frame, entry.count, run_inner)
            else:
                body(entry)

    # -- assignment ---------------------------------------------------------------------------
    def assign(self, target: ast.expr, value: Value, frame: Frame) -> None:
        if isinstance(target, ast.Name):
            frame.env[target.id] = value
        elif isinstance(target, ast.Attribute):
            owner = self.eval(target.value, frame)
            if isinstance(owner, Instance):
                owner.set_attr(target.attr, value)
                if self.module_node(value) is not None or isinstance(value, SeqVal):
                    owner.children.entries = (*owner.children.entries, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            elements = target.elts
            parts = self.unpack(value, len(elements))
            for element, part in zip(elements, parts, strict=False):
                self.assign(
                    element.value if isinstance(element, ast.Starred) else element, part, frame
                )
        elif isinstance(target, ast.Subscript):
            owner = self.eval(target.value, frame)
            key = self.eval_index(target, frame)
            if isinstance(owner, DictVal):
                # ``layers[f"fc{i}"] = ...``: a key the linter cannot fold still adds an entry,
                # in order (an OrderedDict or ModuleDict that becomes a Sequential)
                slot = key.value if isinstance(key, Const) and _hashable(key.value) else object()
                owner.items[slot] = value

    def unpack(self, value: Value, n: int) -> list[Value]:
        if isinstance(value, SeqVal):
            plain = value.plain()
            if plain is not None and len(plain) == n:
                return plain
            reps = [e for e in value.entries if not isinstance(e, Repeated)]
            rep = reps[0] if len(reps) == 1 else Unknown()
            return [rep] * n
        if isinstance(value, Data):
            return [value] * n
        return [Unknown()] * n

    # -- classes and calls --------------------------------------------------------------------
    def define_class(self, stmt: ast.ClassDef, frame: Frame) -> None:
        bases = [self.eval(base, frame) for base in stmt.bases]
        qual = f"{frame.qualname}.{stmt.name}" if frame.qualname else stmt.name
        info = ClassInfo(stmt, stmt.name, qual, bases, frame.chain())
        info.is_dataclass = any("dataclass" in (_full_name(d) or "") for d in stmt.decorator_list)
        class_frame = Frame({}, "", [], outer=frame.chain())
        for item in stmt.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
                info.methods[item.name] = item
            elif isinstance(item, (ast.Assign, ast.AnnAssign)):
                self._frames.append(class_frame)
                try:
                    value = self.eval(item.value, class_frame) if item.value else None
                finally:
                    self._frames.pop()
                targets = item.targets if isinstance(item, ast.Assign) else [item.target]
                for target in targets:
                    if isinstance(target, ast.Name) and value is not None:
                        info.attrs[target.id] = value
        frame.env[stmt.name] = ClassRef(info)
        self.classes.append(info)

    def _sequential_base(self, info: ClassInfo) -> bool:
        return bool(info.torch_bases() & (catalog.SEQUENTIAL_CONTAINERS | catalog.LIST_CONTAINERS))

    def class_kind(self, info: ClassInfo) -> Layer | None:
        """A class of the file that *is* a known kind of layer (a user norm or activation)."""
        bases = info.torch_bases()
        if bases & catalog.NORMALIZATION_MODULES or _named_in(info, self.extra_norm):
            return Layer("norm", info.name)
        if looks_like_norm(info.name) and not info.find_method("__iter__"):
            return Layer("norm", info.name)
        for base in bases:
            act = catalog.SATURATING_MODULES.get(base)
            if act:
                return Layer("saturating", act.name, bound=act.derivative_bound)
        if _named_in(info, self.extra_saturating):
            return Layer("saturating", info.name)
        return None

    def instantiate(
        self,
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
        elif self._sequential_base(info):
            self.fill_container(instance, args)
        if call is not None and info.find_method("forward"):  # a literal instantiation: a root too
            self._pending.append(instance)
        return instance

    def fill_container(self, instance: Instance, args: list[Value]) -> None:
        entries: tuple[Entry, ...] = ()
        for arg in args:
            entries += self.container_entries(arg)
        instance.children.entries = instance.children.entries + entries

    def container_entries(self, arg: Value) -> tuple[Entry, ...]:
        if isinstance(arg, DictVal):
            return tuple(arg.items.values())
        if (
            isinstance(arg, SeqVal)
            and arg.kind in ("list", "tuple")
            and arg.entries
            and all(isinstance(e, SeqVal) and e.kind == "tuple" for e in arg.entries)
        ):  # OrderedDict-style [("name", module), ...]
            out: list[Entry] = []
            for pair in arg.entries:
                assert isinstance(pair, SeqVal)
                plain = pair.plain()
                if plain and len(plain) == 2:
                    out.append(plain[1])
            return tuple(out)
        return (arg,)

    def call_function(
        self,
        func: FuncRef,
        args: list[Value],
        kwargs: dict[str, Value],
        call: ast.Call | None,
    ) -> Value:
        if self.call_depth >= MAX_CALL_DEPTH or self.call_stack.count(func.node) >= 2:
            return Unknown(func.qualname)
        env: dict[str, Value] = {}
        self.bind_params(func, args, kwargs, env, call)
        frame = Frame(env, func.qualname, [], owner=func.owner, outer=func.scope)
        self.call_depth += 1
        self.call_stack.append(func.node)
        try:
            if isinstance(func.node, ast.Lambda):
                self._frames.append(frame)
                try:
                    return self.eval(func.node.body, frame)
                finally:
                    self._frames.pop()
            self.exec_block(func.node.body, frame)
        finally:
            self.call_depth -= 1
            self.call_stack.pop()
        if not frame.returns:
            return Const(None)
        result = frame.returns[0]
        for other in frame.returns[1:]:
            result = self.merge(result, other)
        if call is not None and isinstance(result, ModuleVal) and isinstance(result.node, Layer):
            # ``get_activation("tanh")``: report the layer where the model asks for it
            return ModuleVal(copy_layer(result.node, call))
        return result

    def bind_params(
        self,
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
                    value = Const(value.value, f"parameter '{name}' (default {value.value!r})")
                env[name] = value
                continue
            else:
                env[name] = Unknown(name)
                continue
            if isinstance(value, Const) and value.source is None and call is not None:
                value = Const(value.value, f"{callee}({name}={value.value!r})")
            env[name] = value
        if params.vararg is not None:
            env[params.vararg.arg] = SeqVal(tuple(args), "tuple")
        if params.kwarg is not None:
            env[params.kwarg.arg] = DictVal(dict(kwargs))

    # -- expressions --------------------------------------------------------------------------
    def eval(self, node: ast.expr | None, frame: Frame) -> Value:
        if node is None:
            return Const(None)
        self.steps += 1  # tick(), inlined: the hottest line of the linter
        if self.steps > STEP_BUDGET:
            raise BudgetExceeded
        method = _EVALUATORS.get(type(node))
        if method is None:
            return Unknown()
        result: Value = method(self, node, frame)
        return result

    def eval_Name(self, node: ast.Name, frame: Frame) -> Value:
        name = node.id
        if name in frame.env:
            return frame.env[name]
        for scope in frame.outer:
            if name in scope:
                return scope[name]
        if name == "None":
            return Const(None)
        if name in ("True", "False"):
            return Const(name == "True")
        for star in self.star_modules:
            qname = f"{star}.{name}"
            if (
                catalog.saturating_for(qname)
                or catalog.is_normalization(qname)
                or (qname in catalog.SEQUENTIAL_CONTAINERS | catalog.LIST_CONTAINERS)
                or qname in catalog.AFFINE_MODULES
                or qname in catalog.MODULE_BASES
            ):
                return Ref(qname)
        if name in _BUILTIN_NAMES:
            return Ref(f"builtins.{name}")
        return Unknown(name)

    def eval_Attribute(self, node: ast.Attribute, frame: Frame) -> Value:
        owner = self.eval(node.value, frame)
        return self.getattr(owner, node.attr)

    def getattr(self, owner: Value, attr: str) -> Value:
        if isinstance(owner, Ref):
            return Ref(f"{owner.qname}.{attr}")
        if isinstance(owner, Instance):
            if attr in owner.attrs:
                return owner.attrs[attr]
            found = owner.cls.find_method(attr)
            if found is not None:
                cls, method = found
                return FuncRef(method, cls.scope, f"{cls.name}.{attr}", owner, cls)
            value = owner.cls.find_attr(attr)
            if value is not None:
                return value
            if attr in ("children", "modules", "values", "apply") or attr in _RETURNS_SELF:
                return _BoundMethod(owner, attr)
            if attr in ("add_module", "register_module", "append", "extend"):
                return _BoundMethod(owner, attr)
            return Unknown(f"self.{attr}")
        if isinstance(owner, ClassRef):
            found = owner.cls.find_method(attr)
            if found is not None:
                cls, method = found
                return FuncRef(method, cls.scope, f"{cls.name}.{attr}", None, cls)
            value = owner.cls.find_attr(attr)
            return value if value is not None else Unknown(f"{owner.cls.name}.{attr}")
        if isinstance(owner, Data):
            if attr in ("shape", "ndim", "dtype", "device", "is_cuda"):
                return Unknown(attr, from_data=True)
            if attr in ("T", "mT", "H", "real", "data"):
                return owner
            return _BoundMethod(owner, attr)
        if isinstance(owner, (SeqVal, DictVal, Const)):
            return _BoundMethod(owner, attr)
        if isinstance(owner, Unknown):
            symbol = f"{owner.symbol}.{attr}" if owner.symbol else None
            return Unknown(symbol, owner.from_data)
        if isinstance(owner, ModuleVal):
            if attr in ("weight", "data") and isinstance(owner.node, Layer):
                return _Weight(owner.node)
            if attr in ("modules", "children", "apply") or attr in _RETURNS_SELF:
                return _BoundMethod(owner, attr)
            return Unknown(attr)
        if isinstance(owner, _Weight):
            return owner if attr in ("data", "weight") else _BoundMethod(owner, attr)
        if isinstance(owner, _Super):
            return _BoundMethod(owner, attr)
        if isinstance(owner, SeqVal) and owner.kind == "sequential" and attr == "apply":
            return _BoundMethod(owner, attr)
        return Unknown()

    def eval_Constant(self, node: ast.Constant, frame: Frame) -> Value:
        if node.value is Ellipsis or isinstance(node.value, complex):
            return Unknown()
        return Const(node.value)

    def eval_Tuple(self, node: ast.Tuple, frame: Frame) -> Value:
        return SeqVal(self.eval_elements(node.elts, frame), "tuple")

    def eval_List(self, node: ast.List, frame: Frame) -> Value:
        return SeqVal(self.eval_elements(node.elts, frame), "list")

    def eval_Set(self, node: ast.Set, frame: Frame) -> Value:
        return SeqVal(self.eval_elements(node.elts, frame), "tuple")

    def eval_elements(self, elements: list[ast.expr], frame: Frame) -> tuple[Entry, ...]:
        out: list[Entry] = []
        for element in elements:
            if isinstance(element, ast.Starred):
                out.extend(self.as_entries(self.eval(element.value, frame)))
            else:
                out.append(self.eval(element, frame))
        return tuple(out)

    def as_entries(self, value: Value) -> tuple[Entry, ...]:
        if isinstance(value, SeqVal):
            return value.entries
        if isinstance(value, Instance) and self._sequential_base(value.cls):
            return value.children.entries
        if isinstance(value, DictVal):
            return tuple(value.items.values())
        return (value,)

    def eval_Dict(self, node: ast.Dict, frame: Frame) -> Value:
        items: dict[Any, Value] = {}
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is not None:
                key = self.eval(key_node, frame)
                if isinstance(key, Const) and _hashable(key.value):
                    items[key.value] = self.eval(value_node, frame)
            else:
                other = self.eval(value_node, frame)
                if isinstance(other, DictVal):
                    items.update(other.items)
        return DictVal(items)

    def eval_comprehension(
        self, node: ast.ListComp | ast.GeneratorExp | ast.SetComp, frame: Frame
    ) -> Value:
        holder = SeqVal((), "list")
        inner = Frame({}, frame.qualname, [], owner=frame.owner, outer=frame.chain())
        self._frames.append(inner)
        try:
            self._comprehend(node.generators, node.elt, inner, holder)
        finally:
            self._frames.pop()
        return holder

    def _comprehend(
        self, generators: list[ast.comprehension], elt: ast.expr, frame: Frame, holder: SeqVal
    ) -> None:
        comp = generators[0]
        iterable = self.eval(comp.iter, frame)

        def body(value: Value) -> None:
            self.assign(comp.target, value, frame)
            for cond in comp.ifs:
                if self.truth(self.eval(cond, frame)) is False:
                    return
            if len(generators) > 1:
                self._comprehend(generators[1:], elt, frame, holder)
            else:
                holder.entries = (*holder.entries, self.eval(elt, frame))

        self.iterate(iterable, frame, body)

    eval_ListComp = eval_GeneratorExp = eval_SetComp = eval_comprehension

    def eval_Lambda(self, node: ast.Lambda, frame: Frame) -> Value:
        return FuncRef(node, frame.chain(), frame.qualname or "<lambda>")

    def eval_NamedExpr(self, node: ast.NamedExpr, frame: Frame) -> Value:
        value = self.eval(node.value, frame)
        self.assign(node.target, value, frame)
        return value

    def eval_IfExp(self, node: ast.IfExp, frame: Frame) -> Value:
        cond = self.truth(self.eval(node.test, frame))
        if cond is True:
            return self.eval(node.body, frame)
        if cond is False:
            return self.eval(node.orelse, frame)
        return self.merge(self.eval(node.body, frame), self.eval(node.orelse, frame))

    def eval_UnaryOp(self, node: ast.UnaryOp, frame: Frame) -> Value:
        value = self.eval(node.operand, frame)
        if isinstance(node.op, ast.Not):
            truth = self.truth(value)
            return Unknown() if truth is None else Const(not truth)
        if isinstance(value, Const) and isinstance(value.value, (int, float)):
            if isinstance(node.op, ast.USub):
                return Const(-value.value, value.source)
            if isinstance(node.op, ast.UAdd):
                return value
        if isinstance(value, Data):
            return value
        return Unknown()

    def eval_BoolOp(self, node: ast.BoolOp, frame: Frame) -> Value:
        is_and = isinstance(node.op, ast.And)
        left = self.eval(node.values[0], frame)
        for right_node in node.values[1:]:
            left = self._boolean(left, right_node, is_and, frame)
        return left

    def _boolean(self, left: Value, right_node: ast.expr, is_and: bool, frame: Frame) -> Value:
        truth = self.truth(left)
        if truth is None:
            right = self.eval(right_node, frame)
            right_truth = self.truth(right)
            if is_and and right_truth is False:
                return Const(False)
            if not is_and and right_truth is True:
                return right
            return Unknown()
        if truth is (not is_and):
            return left
        return self.eval(right_node, frame)

    def eval_Compare(self, node: ast.Compare, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        result: bool | None = True
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator, frame)
            outcome = _compare(op, left, right)
            if outcome is None:
                result = None
            elif outcome is False:
                return Const(False)
            left = right
        return Unknown() if result is None else Const(True)

    def eval_BinOp(self, node: ast.BinOp, frame: Frame) -> Value:
        left = self.eval(node.left, frame)
        right = self.eval(node.right, frame)
        return self.binop(type(node.op), left, right)

    def binop(self, op: type[ast.operator], left: Value, right: Value) -> Value:
        if isinstance(left, Data) and isinstance(right, Data):
            if issubclass(op, _ADD_OPS):
                return self.join("add", left, right)
            return self.join("mul", left, right)
        if isinstance(left, Data):
            return left
        if isinstance(right, Data):
            return right
        if isinstance(left, Const) and isinstance(right, Const):
            return _fold(op, left, right)
        if isinstance(left, SeqVal) and isinstance(right, SeqVal) and op is ast.Add:
            holder = SeqVal(left.entries + right.entries, "list")
            return holder
        if op is ast.Mult:
            seqv, times = (left, right) if isinstance(left, SeqVal) else (right, left)
            if isinstance(seqv, SeqVal):
                count = _count_of(times)
                holder = SeqVal((Repeated(count, seqv.entries),), "list")
                return holder
        return Unknown()

    def join(self, op: str, a: Data, b: Data) -> Data:
        """Combine two tensors that may share a path from the same input."""
        if a.origin is not b.origin:
            return a
        n = _common_prefix(a.path, b.path)
        sa, sb = a.path[n:], b.path[n:]
        if not sa and not sb:
            return a
        if op == "add" and (not sa or not sb):
            node: Node = Residual(seq(sa or sb))
        else:
            node = Branches(op, (seq(sa), seq(sb)))  # type: ignore[arg-type]
        return Data((*a.path[:n], node), a.origin)

    def eval_Subscript(self, node: ast.Subscript, frame: Frame) -> Value:
        owner = self.eval(node.value, frame)
        if isinstance(owner, Data):
            return owner
        element = node.slice
        if isinstance(element, ast.Slice):
            if isinstance(owner, SeqVal):
                plain = owner.plain()
                lo, hi, step = (
                    self.eval(part, frame) if part is not None else Const(None)
                    for part in (element.lower, element.upper, element.step)
                )
                if plain is not None and all(isinstance(p, Const) for p in (lo, hi, step)):
                    try:
                        picked = plain[slice(lo.value, hi.value, step.value)]  # type: ignore[attr-defined]
                    except (TypeError, ValueError):
                        return Unknown()
                    return SeqVal(
                        tuple(picked), owner.kind if owner.kind != "sequential" else "list"
                    )
                return SeqVal(owner.entries, "list")
            return Unknown()
        return self.subscript(owner, self.eval_index(node, frame))

    def eval_index(self, node: ast.Subscript, frame: Frame) -> Value:
        element = node.slice
        if isinstance(element, ast.Slice) or (
            isinstance(element, ast.Tuple) and any(isinstance(e, ast.Slice) for e in element.elts)
        ):
            return Unknown()
        return self.eval(element, frame)

    def subscript(self, owner: Value, key: Value) -> Value:
        if isinstance(owner, Instance):
            owner = owner.children
        if isinstance(owner, SeqVal):
            plain = owner.plain()
            if plain is not None and isinstance(key, Const) and isinstance(key.value, int):
                try:
                    return plain[key.value]
                except IndexError:
                    return Unknown()
            return self.representative(owner.entries)
        if isinstance(owner, DictVal):
            if isinstance(key, Const) and _hashable(key.value):
                return owner.items.get(key.value, Unknown())
            return Unknown()
        if isinstance(owner, Const) and isinstance(key, Const):
            try:
                return Const(owner.value[key.value], owner.source)
            except Exception:
                return Unknown()
        if isinstance(owner, Ref):
            return owner  # typing generics: Optional[...] and the like
        if isinstance(owner, Unknown):
            return Unknown(owner.symbol, owner.from_data)
        return Unknown()

    def representative(self, entries: tuple[Entry, ...]) -> Value:
        """One element standing for any element of a list indexed by an unknown index."""
        values = [e for e in flatten_any(entries)]
        modules = [v for v in values if self.module_node(v) is not None]
        if modules:
            if all(m is modules[0] for m in modules):
                return modules[0]
            nodes = tuple(self.module_node(m) for m in modules[:8])
            return ModuleVal(Branches("alt", nodes))  # type: ignore[arg-type]
        return values[0] if len(values) == 1 else Unknown()

    # -- calls --------------------------------------------------------------------------------
    def eval_Call(self, node: ast.Call, frame: Frame) -> Value:
        func = self.eval(node.func, frame)
        loss = _is_loss(func)
        expects = _squash_applied_by(func) if loss else None
        args: list[Value] = []
        kwargs: dict[str, Value] = {}
        for index, (written, star, keyword) in enumerate(_arguments(node)):
            expr = written
            if loss:  # a sigmoid applied inside a loss is part of the loss, not of the model
                expr = _unwrap_squash(expr)
                if expects and index == 0 and expr is not written:
                    self.squashed_twice(node, written, expects, _squash_name(written), None)
            value = self.eval(expr, frame)
            if expects and index == 0 and expr is written and isinstance(value, Data):
                tail = _tail_layer(value.path)
                if tail is not None and tail.name == expects:
                    self.squashed_twice(node, node, expects, tail.name, tail.anchor)
            if star == "*":
                args.extend(self.expand_star(value))
            elif star == "**":
                if isinstance(value, DictVal):
                    kwargs.update({str(k): v for k, v in value.items.items()})
            elif keyword is not None:
                kwargs[keyword] = value
            else:
                args.append(value)
        if loss:
            return next((a for a in args if isinstance(a, Data)), Unknown())
        return self.call(func, args, kwargs, node, frame)

    def expand_star(self, value: Value) -> list[Value]:
        if isinstance(value, SeqVal):
            if not any(isinstance(e, Repeated) for e in value.entries):
                return list(value.entries)  # type: ignore[arg-type]
            return [_Spread(value.entries)]
        if isinstance(value, Instance) and self._sequential_base(value.cls):
            return [_Spread(value.children.entries)]
        return [Unknown()]

    def call(
        self,
        func: Value,
        args: list[Value],
        kwargs: dict[str, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        data_args = [a for a in args if isinstance(a, Data)]
        if isinstance(func, Ref):
            return self.call_ref(func.qname, args, kwargs, node, frame)
        if isinstance(func, ClassRef):
            return self.instantiate(func.cls, _spread_args(args), kwargs, node)
        if isinstance(func, FuncRef):
            return self.call_function(func, _spread_args(args), kwargs, node)
        if isinstance(func, _BoundMethod):
            result = self.call_method(func, args, kwargs, node, frame)
            if isinstance(result, Unknown) and data_args and not isinstance(func.owner, Data):
                return data_args[0]
            return result
        if isinstance(func, (ModuleVal, SeqVal, Instance)):
            if not data_args:
                if not args or (isinstance(func, SeqVal) and func.kind != "sequential"):
                    return Unknown()
                # model(batch) in a training script: the batch is an input of its own
                data_args = [Data((), object())]
            return self.apply_module(func, data_args[0], node)
        if isinstance(func, Unknown):
            if data_args:
                if looks_like_norm(func.symbol):
                    return self.extend(
                        data_args[0], Layer("norm", func.symbol or "norm", self.span(node))
                    )
                return data_args[0]
            if looks_like_norm(func.symbol):
                return Unknown(func.symbol)
            return Unknown(f"{func.symbol}()" if func.symbol else None)
        return Unknown()

    def extend(self, data: Data, node: Node) -> Data:
        return Data((*data.path, node), data.origin)

    def apply_module(self, module: Value, data: Data, call: ast.Call | None) -> Value:
        if isinstance(module, Instance):
            return self.call_instance(module, data, call)
        node = self.module_node(module)
        if node is None:
            return data
        if isinstance(node, Layer):
            node = copy_layer(node, self.span(call) or node.anchor)
        return self.extend(data, node)

    def call_instance(self, instance: Instance, data: Data, call: ast.Call | None) -> Value:
        kind = self.class_kind(instance.cls)
        if kind is not None:
            return self.extend(data, copy_layer(kind, self.span(call)))
        result = self.forward_value(instance)
        return _rebase(result, instance.origin_token, data)

    def forward_value(self, instance: Instance) -> Value:
        """What ``instance(x)`` returns, relative to a fresh input (cached per instance)."""
        if 0 in instance.forward_cache:
            return instance.forward_cache[0]
        fresh = Data((), instance.origin_token)
        instance.forward_cache[0] = fresh  # recursion guard
        found = instance.cls.find_method("forward")
        if found is None:
            if self._sequential_base(instance.cls):
                result: Value = self.extend(fresh, self.entries_node(instance.children.entries))
            else:
                result = fresh
        else:
            owner, forward = found
            func = FuncRef(forward, owner.scope, f"{owner.name}.forward", instance, owner)
            result = self.call_function(func, [fresh], {}, None)
        instance.forward_cache[0] = result
        return result

    def instance_node(self, instance: Instance) -> Node | None:
        result = self.forward_value(instance)
        data = _first_data(result, instance.origin_token)
        if data is None:
            return None
        return seq(data.path)

    def module_node(self, value: Value | None) -> Node | None:
        """The sketch of calling ``value`` as a module, if it is one."""
        if isinstance(value, ModuleVal):
            return value.node
        if isinstance(value, SeqVal) and value.kind == "sequential":
            return self.entries_node(value.entries)
        if isinstance(value, Instance):
            kind = self.class_kind(value.cls)
            if kind is not None:
                return kind
            return self.instance_node(value)
        return None

    def entries_node(self, entries: tuple[Entry, ...]) -> Node:
        nodes: list[Node] = []
        for entry in entries:
            if isinstance(entry, Repeated):
                inner = self.entries_node(entry.entries)
                if entry.unrolled:
                    nodes.append(Seq((inner,), entry.count.source))
                else:
                    nodes.append(Repeat(entry.count, inner))
                continue
            node = self.module_node(entry)
            if node is not None:
                nodes.append(node)
            elif isinstance(entry, Unknown) and looks_like_norm(entry.symbol):
                nodes.append(Layer("norm", entry.symbol or "norm"))
        return Seq(tuple(nodes))

    def call_ref(
        self,
        qname: str,
        args: list[Value],
        kwargs: dict[str, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        data_args = [a for a in args if isinstance(a, Data)]
        span = self.span(node)
        short = qname.rsplit(".", 1)[-1]
        if qname.startswith("builtins."):
            return self.call_builtin(short, args, kwargs, node, frame)
        act = catalog.saturating_for(qname)
        if act is None and qname in self.extra_saturating:
            act = catalog.Saturating(short, 1.0)
        if act is not None:
            layer = Layer("saturating", act.name, span, act.derivative_bound)
            if qname in catalog.SATURATING_MODULES or (short[:1].isupper() and not data_args):
                return ModuleVal(layer)
            if data_args:
                return self.extend(data_args[0], layer)
            return data_args[0] if data_args else Unknown()
        if catalog.is_normalization(qname) or qname in self.extra_norm:
            layer = Layer("norm", short, span)
            if qname in catalog.NORMALIZATION_MODULES or not data_args:
                return ModuleVal(layer)
            return self.extend(data_args[0], layer)
        if qname in catalog.SEQUENTIAL_CONTAINERS:
            entries: tuple[Entry, ...] = ()
            for arg in args:
                if isinstance(arg, _Spread):
                    entries += arg.entries
                else:
                    entries += self.container_entries(arg)
            holder = SeqVal(entries, "sequential", node)
            self._sequentials.append((holder, self.scope_symbol()))
            return holder
        if qname in catalog.LIST_CONTAINERS:
            entries = ()
            for arg in args:
                entries += arg.entries if isinstance(arg, _Spread) else self.as_entries(arg)
            holder = SeqVal(entries, "modulelist", node)
            return holder
        if qname in catalog.DICT_CONTAINERS or qname in ("collections.OrderedDict", "dict"):
            if args and isinstance(args[0], DictVal):
                return DictVal(dict(args[0].items), True)
            if args and isinstance(args[0], SeqVal):
                items: dict[Any, Value] = {}
                for i, value in enumerate(self.container_entries(args[0])):
                    items[i] = value  # type: ignore[assignment]
                return DictVal(items, True)
            return DictVal(dict(kwargs), True)
        if qname in catalog.ADDITION_FUNCTIONS and len(data_args) >= 2:
            return self.join("add", data_args[0], data_args[1])
        if (
            qname in ("torch.mul", "torch.matmul", "torch.bmm", "torch.einsum")
            and len(data_args) >= 2
        ):
            return self.join("mul", data_args[0], data_args[1])
        if qname in ("torch.cat", "torch.stack", "torch.concat") and args:
            parts = [v for v in self.as_entries(args[0]) if isinstance(v, Data)]
            result = parts[0] if parts else Unknown()
            for part in parts[1:]:
                assert isinstance(result, Data)
                result = self.join("alt", result, part)
            return result
        if qname in _MODULE_WRAPPERS and args:
            return args[0]  # torch.compile(model), DataParallel(model): the same network
        if qname == "functools.partial" and args:
            return args[0]
        if qname in ("torch.unbind", "torch.split", "torch.chunk") and data_args:
            return SeqVal((Repeated(Count(None, per_step=True), (data_args[0],)),), "tuple")
        if qname in catalog.GATED_RECURRENT_MODULES:
            return ModuleVal(Layer("neutral", short, span))
        if qname.startswith("torch.nn.init.") and args and isinstance(args[0], _Weight):
            self.record_init(args[0].layer, short, args[1:], kwargs, node)
            return Const(None)
        if qname in catalog.AFFINE_MODULES:
            layer = Layer("affine", short, span)
            fan_in = _fan_in(short, args, kwargs)
            if fan_in is not None:
                self.fan_in[id(layer.origin)] = fan_in
            bias = kwargs.get("bias")
            if isinstance(bias, Const) and bias.value is False:
                self.no_bias.add(id(layer.origin))
            return ModuleVal(layer)
        if qname in _ACTIVATION_MODULES:
            return ModuleVal(Layer("activation", _ACTIVATION_MODULES[qname], span))
        if qname in _ACTIVATION_FUNCTIONS and data_args:
            return self.extend(
                data_args[0], Layer("activation", _ACTIVATION_FUNCTIONS[qname], span)
            )
        if qname in ("torch.nn.RNN", "torch.nn.RNNCell"):
            self.library_recurrence(qname, args, kwargs, node)
        if qname in ("torch.nn.Softmax", "torch.nn.LogSoftmax"):
            return ModuleVal(Layer("activation", _SOFTMAX_NAMES[short], span))
        if qname.startswith("torch."):
            if short[:1].isupper():
                kind = "affine" if qname in catalog.AFFINE_MODULES else "neutral"
                return ModuleVal(Layer(kind, short, span))  # type: ignore[arg-type]
            if data_args:
                if short.endswith("_loss") or "loss" in short or short in _LOSS_FUNCTIONS:
                    return Unknown()
                if short in ("softmax", "log_softmax"):
                    return self.extend(data_args[0], Layer("activation", short, span))
                return data_args[0]
            return Unknown(qname, any(isinstance(a, Unknown) and a.from_data for a in args))
        # defined outside this file and not torch: unknown
        if data_args:
            if looks_like_norm(qname):
                return self.extend(data_args[0], Layer("norm", short, span))
            return data_args[0]
        return Unknown(short)

    def call_builtin(
        self,
        name: str,
        args: list[Value],
        kwargs: dict[str, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        if name == "range":
            return _range(args)
        if name == "len":
            if args and isinstance(args[0], SeqVal):
                count = args[0].length()
                if count.value is not None:
                    return Const(count.value, _first_source(args[0]))
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
        if name == "getattr" and len(args) >= 2:
            owner, attr = args[0], args[1]
            if isinstance(attr, Const) and isinstance(attr.value, str):
                return self.getattr(owner, attr.value)
            return args[2] if len(args) > 2 else Unknown()
        if name == "setattr" and len(args) >= 3:
            owner, attr = args[0], args[1]
            if isinstance(owner, Instance):
                if isinstance(attr, Const) and isinstance(attr.value, str):
                    owner.set_attr(attr.value, args[2])
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
            return _isinstance(args[0], args[1])
        if name == "dict":
            return DictVal(dict(kwargs))
        return Unknown()

    def zip_enumerate(self, name: str, args: list[Value]) -> Value:
        if name == "enumerate":
            if not args or not isinstance(args[0], SeqVal):
                return SeqVal((Repeated(Count(None), (SeqVal((Unknown(), Unknown()), "tuple"),)),))
            plain = args[0].plain()
            if plain is not None:
                return SeqVal(
                    tuple(SeqVal((Const(i), v), "tuple") for i, v in enumerate(plain)), "tuple"
                )
            return SeqVal(_map_entries(args[0].entries, lambda v: SeqVal((Unknown(), v), "tuple")))
        seqs = [a for a in args if isinstance(a, (SeqVal, Instance))]
        seqs = [s.children if isinstance(s, Instance) else s for s in seqs]
        if len(seqs) != len(args) or not seqs:
            return SeqVal(
                (Repeated(Count(None), (SeqVal(tuple(Unknown() for _ in args), "tuple"),)),)
            )
        plains = [s.plain() for s in seqs]  # type: ignore[union-attr]
        if all(p is not None for p in plains):
            n = min(len(p) for p in plains)  # type: ignore[arg-type]
            sources = [_first_source(s) for s in seqs]  # type: ignore[arg-type]
            pairs = tuple(SeqVal(tuple(p[i] for p in plains), "tuple") for i in range(n))  # type: ignore[index]
            source = next((s for s in sources if s), None)
            if source:
                return SeqVal((Repeated(Count(n, source), pairs, unrolled=True),), "tuple")
            return SeqVal(pairs, "tuple")
        # repeated structures: zip element-wise where the first list is repeated
        first = seqs[0]
        assert isinstance(first, SeqVal)
        reps = [self.representative(s.entries) for s in seqs[1:]]  # type: ignore[union-attr]
        return SeqVal(_map_entries(first.entries, lambda v: SeqVal((v, *reps), "tuple")))

    def super_value(self, frame: Frame) -> Value:
        self_value = None
        owner: ClassInfo | None = None
        for f in reversed(self._frames):
            if "self" in f.env and isinstance(f.env["self"], Instance):
                self_value = f.env["self"]
                break
        if self_value is None:
            return Unknown()
        for f in reversed(self._frames):
            if f.owner is not None:
                owner = f.owner
                break
        return _Super(self_value, owner)

    def call_method(
        self,
        method: _BoundMethod,
        args: list[Value],
        kwargs: dict[str, Value],
        node: ast.Call,
        frame: Frame,
    ) -> Value:
        owner, name = method.owner, method.name
        span = self.span(node)
        if name in _RETURNS_SELF and self.module_node(owner) is not None:
            return owner  # model.to(device), .cuda(), .train(), .requires_grad_(), ...
        if isinstance(owner, Data):
            if name in ("softmax", "log_softmax"):
                return self.extend(owner, Layer("activation", name, span))
            if name in ("relu", "relu_"):
                return self.extend(owner, Layer("activation", "relu", span))
            act = catalog.SATURATING_METHODS.get(name)
            if act is not None:
                return self.extend(owner, Layer("saturating", act.name, span, act.derivative_bound))
            other = next((a for a in args if isinstance(a, Data)), None)
            if name in ("add", "add_", "sub", "sub_") and other is not None:
                return self.join("add", owner, other)
            if name in ("mul", "mul_", "matmul", "bmm", "div", "div_") and other is not None:
                return self.join("mul", owner, other)
            if name in ("size", "dim", "numel", "item", "tolist"):
                return Unknown(name, from_data=True)
            if name in ("unbind", "split", "chunk"):
                return SeqVal((Repeated(Count(None, per_step=True), (owner,)),), "tuple")
            return owner
        if isinstance(owner, _Super):
            if name == "__init__":
                return self.super_init(owner, args, kwargs, node)
            if owner.instance is not None:
                return self.call(self.getattr(owner.instance, name), args, kwargs, node, frame)
            return Unknown()
        if (
            isinstance(owner, SeqVal)
            and owner.kind == "sequential"
            and name in ("apply", "modules")
        ):
            layers = self.all_layers(owner)
            if name == "apply" and args:
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
            elif name in ("add_module", "register_module") and len(args) >= 2:
                owner.entries = (*owner.entries, args[1])
            elif name in ("children", "modules", "values", "copy"):
                return owner
            elif name == "pop":
                plain = owner.plain()
                if plain:
                    owner.entries = tuple(plain[:-1])
                    return plain[-1]
            else:
                return Unknown()
            return Const(None)
        if isinstance(owner, Instance):
            if name in ("add_module", "register_module") and len(args) >= 2:
                if isinstance(args[0], Const) and isinstance(args[0].value, str):
                    owner.set_attr(args[0].value, args[1])
                owner.children.entries = (*owner.children.entries, args[1])
                return Const(None)
            if name in ("append", "extend"):
                return self.call_method(
                    _BoundMethod(owner.children, name), args, kwargs, node, frame
                )
            if name == "modules":
                return self.all_layers(owner)
            if name in ("children", "values"):
                return owner.children
            if name == "apply" and args:
                for layer in self.all_layers(owner).entries:
                    self.call(args[0], [layer], {}, node, frame)  # type: ignore[list-item]
                return owner
            return Unknown()
        if isinstance(owner, (ModuleVal, SeqVal)) and name in ("modules", "children", "apply"):
            layers = self.all_layers(owner)
            if name == "apply" and args:
                for layer in layers.entries:
                    self.call(args[0], [layer], {}, node, frame)  # type: ignore[list-item]
                return owner
            return layers
        if isinstance(owner, _Weight):
            self.record_init(owner.layer, name, args, kwargs, node)
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
                if isinstance(key, Const) and _hashable(key.value):
                    default = args[1] if len(args) > 1 else Const(None)
                    return owner.items.get(key.value, default)
                return Unknown()
            if name in ("update",) and args and isinstance(args[0], DictVal):
                owner.items.update(args[0].items)
            return Unknown()
        if isinstance(owner, Const) and isinstance(owner.value, str):
            if name in ("lower", "upper", "capitalize", "title", "strip", "casefold"):
                return Const(getattr(owner.value, name)(), owner.source)
            if name in ("startswith", "endswith") and args and isinstance(args[0], Const):
                with contextlib.suppress(Exception):
                    return Const(getattr(owner.value, name)(args[0].value))
        return Unknown()

    def super_init(
        self, sup: _Super, args: list[Value], kwargs: dict[str, Value], node: ast.Call
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
                self.call_function(func, _spread_args(args), kwargs, node)
                return Const(None)
        if self._sequential_base(instance.cls):
            spread: list[Value] = []
            for arg in args:
                if isinstance(arg, _Spread):
                    instance.children.entries = instance.children.entries + arg.entries
                else:
                    spread.append(arg)
            self.fill_container(instance, spread)
        return Const(None)

    # -- explicit initialisation (GCK006) -----------------------------------------------------
    def all_layers(self, module: Value) -> SeqVal:
        """``model.modules()``: every layer inside, as modules (for init loops)."""
        node = self.module_node(module)
        if isinstance(module, Instance):
            node = self.entries_node(module.children.entries)
        layers = iter_layers(node) if node is not None else []
        return SeqVal(tuple(ModuleVal(layer) for layer in layers), "list")

    def record_init(
        self, layer: Layer, fn: str, args: list[Value], kwargs: dict[str, Value], node: ast.Call
    ) -> None:
        if layer.kind != "affine" or layer.name.startswith("Embedding"):
            return  # an embedding is a lookup: no gradient flows through it to earlier layers
        fan_in = self.fan_in.get(id(layer.origin))
        init = _weight_variance(fn, args, kwargs, fan_in)
        if init is not None:
            self.inits[id(layer.origin)] = _Init(init[0], init[1], node)
        else:
            self.unread_inits[id(layer.origin)] = (f"nn.init.{fn}", node)

    def layer_inits(self, root: Root) -> None:
        """For each saturating layer of ``root``, the init of the affine layer before it."""
        previous: Layer | None = None
        for layer in iter_layers(root.node):
            if layer.kind == "affine":
                previous = layer
                continue
            if layer.kind != "saturating" or previous is None:
                continue
            origin = id(previous.origin)
            fan_in = self.fan_in.get(origin)
            init = self.inits.get(origin)
            bias = origin not in self.no_bias
            if init is not None:
                line = getattr(init.anchor, "lineno", None)
                root.inits[id(layer)] = LayerInit(
                    init.weight_var, fan_in, init.description, line, bias=bias
                )
            elif origin in self.unread_inits:
                what, node = self.unread_inits[origin]
                line = getattr(node, "lineno", None)
                root.inits[id(layer)] = LayerInit(None, fan_in, None, line, what, bias=bias)
            else:
                root.inits[id(layer)] = LayerInit(None, fan_in, bias=bias)

    def exploding_init(self, root: Root) -> None:
        """Deep stacks of affine layers whose explicit init makes each layer multiply the
        gradient by more than 1 (mean-field prediction), with no normalization between."""
        from gradcheck_kit.lint.analyze import Analyzer, ends_before_a_layer, maximal_runs
        from gradcheck_kit.theory import predicted_gain

        layers = iter_layers(root.node)
        inits = [self.inits.get(id(layer.origin)) for layer in layers if layer.kind == "affine"]
        if not any(inits):
            return
        # The prediction is a numerical integral (milliseconds): skip it where no stack of
        # explicitly initialised layers is deep enough to be reported.
        stacked = Analyzer(
            member=lambda layer: layer.kind == "affine" and id(layer.origin) in self.inits
        )
        stacked.record(stacked.walk(root.node))
        if not any(run.unbounded or run.depth > self.max_depth for run in stacked.runs):
            return
        activation = _dominant_activation(layers)
        gains: dict[int, float] = {}
        for layer in layers:
            init = self.inits.get(id(layer.origin))
            if layer.kind != "affine" or init is None:
                continue
            try:
                gain = predicted_gain(activation, init.weight_var, 0.0)
            except (ValueError, ArithmeticError):
                continue
            if gain > 1.02:
                gains[id(layer)] = gain
        if not gains:
            return
        analyzer = Analyzer(member=lambda layer: id(layer) in gains)
        analyzer.record(analyzer.walk(root.node))
        for run in maximal_runs(analyzer.runs):
            if run.unbounded:
                continue
            top = max(run.layers, key=lambda layer: gains[id(layer)])
            gain = gains[id(top)]
            init = self.inits[id(top.origin)]
            self.events.append(
                Event(
                    "GCK006",
                    run.layers[0].anchor,
                    f"{run.depth} layers initialised with {init.description} and no "
                    f"normalization between them: "
                    f"{'with no activation' if activation == 'linear' else f'with {activation}'}"
                    f" between them, each layer "
                    f"multiplies the gradient by ~{gain:.3g} (mean-field prediction), "
                    f"~{gain**run.depth:.2g}x over the stack - it explodes with depth. Use a "
                    f"variance-preserving init ("
                    f"{'kaiming_*' if activation == 'relu' else 'xavier_*'} with "
                    f"nn.init.calculate_gain({activation!r})), or add normalization.",
                    root.symbol,
                    related=((init.anchor, "initialised here"),),
                    data={
                        "depth": run.depth,
                        "gain": gain,
                        "activations": (activation,),
                        "weight_var": init.weight_var,
                        "init": init.description,
                        "line": getattr(init.anchor, "lineno", None),
                        "head": ends_before_a_layer(root.node, run.layers[-1]),
                    },
                )
            )

    # -- events for the recurrence and loss rules ------------------------------------------------
    def recurrence(self, small: ast.Assign, value: Value, frame: Frame) -> Value:
        """``h = torch.tanh(W(x_t) + U(h))`` in a loop over time: a saturating recurrence
        (GCK003). Its tanh is a step in time, not a layer of a stack, so it is taken off the
        path that GCK001/GCK002 read."""
        target = small.targets[0]
        if not isinstance(target, ast.Name) or not isinstance(value, Data) or not value.path:
            return value
        last = value.path[-1]
        if not (
            isinstance(last, Layer) and last.kind == "saturating" and last.anchor is small.value
        ):
            return value
        names = _names_in(small.value)
        if target.id not in names:
            return value
        loop = self.loops[-1]
        if loop.over_modules or not (
            loop.over_time or self._indexes_data(small.value, loop, frame)
        ):
            return value
        loop.recurrent = True
        self.events.append(
            Event(
                "GCK003",
                small.value,
                f"'{target.id}' is updated through {last.name} at every time step with no "
                f"gate or additive state: backpropagation through time multiplies the gradient "
                f"by {last.name}' and the recurrent weights once per step, so it vanishes "
                "geometrically with the sequence length (it explodes when the recurrent weights "
                "are large). Use nn.LSTM or nn.GRU (or a cell with an additive state).",
                self.scope_symbol(),
                data={"activations": (last.name,)},
            )
        )
        return Data((*value.path[:-1], Layer("neutral", f"{last.name} (recurrent)")), value.origin)

    def _indexes_data(self, expr: ast.expr, loop: _Loop, frame: Frame) -> bool:
        """``x[:, t]``: a tensor indexed by the loop variable (a time step), not
        ``self.heads[i]`` (a layer)."""
        for sub in _subscripts_by(expr, loop.targets):
            if isinstance(self.eval(sub.value, frame), Data):
                return True
        return False

    def library_recurrence(
        self, qname: str, args: list[Value], kwargs: dict[str, Value], node: ast.Call
    ) -> None:
        """``nn.RNN`` / ``nn.RNNCell`` with their default tanh nonlinearity (GCK003)."""
        nonlinearity = kwargs.get("nonlinearity") or (args[3] if len(args) > 3 else None)
        if nonlinearity is not None and not (
            isinstance(nonlinearity, Const) and nonlinearity.value == "tanh"
        ):
            return  # relu, or something the linter cannot see: precision first
        short = qname.rsplit(".", 1)[-1]
        self.events.append(
            Event(
                "GCK003",
                node,
                f"nn.{short} with the tanh nonlinearity has no gates: backpropagation through "
                "time multiplies the gradient by tanh' and the recurrent weights at every step, "
                "so it vanishes geometrically with the sequence length. Use nn.LSTM or nn.GRU.",
                self.scope_symbol(),
                data={"activations": ("tanh",)},
            )
        )

    def squashed_twice(
        self,
        loss_call: ast.Call,
        anchor: ast.AST,
        expects: str,
        applied: str | None,
        applied_at: object | None,
    ) -> None:
        """An output that already went through sigmoid/softmax, given to a loss that applies
        it again (GCK005)."""
        if applied != expects:
            return
        loss = _full_name(loss_call.func) or "the loss"
        written = loss.rsplit(".", 1)[-1]
        if written not in _LOGIT_LOSSES:  # ``criterion(...)``: say what it is
            loss = f"{loss} ({next(k for k, v in _LOGIT_LOSSES.items() if v == expects and k[0].isupper())})"
        again = "log_softmax" if expects == "softmax" else "sigmoid"
        self.events.append(
            Event(
                "GCK005",
                anchor,
                f"the input of {loss} already went through {applied}, and {loss} applies "
                f"{again} itself: the loss sees a squashed value in a narrow range, so it "
                f"cannot fit the targets and its gradient is scaled down by {applied}'s "
                f"derivative at the very first step back. Pass the raw logits (keep the "
                f"{applied} for inference), or use "
                f"{'nn.BCELoss' if expects == 'sigmoid' else 'nn.NLLLoss on log_softmax'}.",
                self.scope_symbol(),
                related=((applied_at, f"{applied} applied here"),) if applied_at else (),
                data={"activations": (applied,)},
            )
        )

    def truth(self, value: Value) -> bool | None:
        if isinstance(value, Const):
            try:
                return bool(value.value)
            except Exception:
                return None
        if isinstance(value, (ModuleVal, ClassRef, FuncRef, Instance)):
            return True
        if isinstance(value, SeqVal):
            count = value.length()
            return None if count.value is None else count.value > 0
        return None


@dataclass(eq=False)
class _BoundMethod(Value):
    owner: Value
    name: str


@dataclass(eq=False)
class _Super(Value):
    instance: Value | None
    owner: ClassInfo | None


@dataclass(eq=False)
class _Spread(Value):
    """``*xs`` where ``xs`` has repeated parts: kept whole for containers."""

    entries: tuple[Entry, ...]


_CONVERSIONS: dict[str, Callable[[Any], Any]] = {
    "int": int, "float": float, "round": round, "abs": abs, "str": str, "bool": bool,
}  # fmt: skip


@dataclass
class _Loop:
    targets: frozenset[str]  # names the loop binds
    over_time: bool  # iterates over a tensor's steps (``x.unbind(1)``, ``range(x.size(1))``)
    over_modules: bool  # iterates over layers (``self.layers``): a stack, never a recurrence
    recurrent: bool = False


def _target_names(target: ast.expr) -> frozenset[str]:
    return frozenset(n.id for n in _walk_names(target))


def _walk_names(node: ast.AST) -> Iterator[ast.Name]:
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name):
            yield current
        elif isinstance(current, ast.Attribute):
            stack.append(current.value)  # ``self.h``: only the base is a name
        else:
            stack.extend(ast.iter_child_nodes(current))


def _names_in(node: ast.AST) -> frozenset[str]:
    return frozenset(n.id for n in _walk_names(node))


def _subscripts_by(node: ast.AST, names: frozenset[str]) -> Iterator[ast.Subscript]:
    """Subscripts in ``node`` whose index uses a loop variable (``x[:, t]``)."""
    stack: list[ast.AST] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Subscript) and _names_in(current.slice) & names:
            yield current
        stack.extend(ast.iter_child_nodes(current))


def _full_name(node: ast.AST) -> str | None:
    """``torch.nn.functional.softmax`` for an attribute chain (a call: its function)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _full_name(node.value)
        return f"{base}.{node.attr}" if base is not None else None
    if isinstance(node, (ast.Call, ast.Subscript)):
        return _full_name(node.func if isinstance(node, ast.Call) else node.value)
    return None


def _arguments(call: ast.Call) -> Iterator[tuple[ast.expr, str, str | None]]:
    """(expression, star, keyword) for each argument of ``call``: star is ``"*"``, ``"**"`` or
    ``""``; positional arguments come first, as Python binds them."""
    for arg in call.args:
        if isinstance(arg, ast.Starred):
            yield arg.value, "*", None
        else:
            yield arg, "", None
    for keyword in call.keywords:
        yield keyword.value, "**" if keyword.arg is None else "", keyword.arg


def _over_modules(iterable: Value) -> bool:
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


def _over_time(iterable: Value) -> bool:
    if isinstance(iterable, Data):
        return True
    if isinstance(iterable, SeqVal):
        return any(isinstance(e, Repeated) and e.count.per_step for e in iterable.entries)
    return isinstance(iterable, Unknown) and iterable.from_data


def _named_in(info: ClassInfo, configured: set[str]) -> bool:
    """Is a class of this file one the config names (``extend-normalization``...)? The file's
    own module path is unknown, so the last component of a configured name matches too."""
    return info.qualname in configured or any(q.rsplit(".", 1)[-1] == info.name for q in configured)


def _spread_args(args: list[Value]) -> list[Value]:
    out: list[Value] = []
    for arg in args:
        if isinstance(arg, _Spread):
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


def _map_entries(entries: tuple[Entry, ...], fn: Callable[[Value], Value]) -> tuple[Entry, ...]:
    out: list[Entry] = []
    for entry in entries:
        if isinstance(entry, Repeated):
            out.append(Repeated(entry.count, _map_entries(entry.entries, fn), entry.unrolled))
        else:
            out.append(fn(entry))
    return tuple(out)


def _first_source(value: SeqVal) -> str | None:
    for entry in value.entries:
        if isinstance(entry, Repeated) and entry.count.source:
            return entry.count.source
    return None


def _common_prefix(a: tuple[Any, ...], b: tuple[Any, ...]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x is not y:
            break
        n += 1
    return n


def _first_data(value: Value, origin: object) -> Data | None:
    if isinstance(value, Data):
        return value if value.origin is origin else None
    if isinstance(value, SeqVal):
        for entry in flatten_any(value.entries):
            found = _first_data(entry, origin)
            if found is not None:
                return found
    if isinstance(value, DictVal):
        for item in value.items.values():
            found = _first_data(item, origin)
            if found is not None:
                return found
    return None


def _rebase(value: Value, origin: object, onto: Data) -> Value:
    """Re-root a value computed from a fresh input (``origin``) onto the caller's tensor."""
    if isinstance(value, Data):
        if value.origin is origin:
            return Data((*onto.path, *value.path), onto.origin)
        return value
    if isinstance(value, SeqVal) and value.kind == "tuple":
        return SeqVal(_map_entries(value.entries, lambda v: _rebase(v, origin, onto)), "tuple")
    if isinstance(value, DictVal):
        return DictVal({k: _rebase(v, origin, onto) for k, v in value.items.items()})
    return value


def extract(
    source: str | ast.Module,
    extend_saturating: tuple[str, ...] = (),
    extend_normalization: tuple[str, ...] = (),
    max_depth: int = 0,
) -> tuple[list[Root], list[Event]]:
    """The roots and events of ``source`` (text or its parsed tree). Raises SyntaxError on bad
    syntax. ``max_depth``: GCK006 events only for stacks deeper than this."""
    module = ast.parse(source) if isinstance(source, str) else source
    JOURNAL.frames.clear()  # each file starts with no open undo frames, whatever came before
    extractor = Extractor(module, extend_saturating, extend_normalization, max_depth)
    roots = extractor.run()
    events = extractor.events
    for instance in extractor._pending:
        node = None
        with contextlib.suppress(BudgetExceeded):
            node = extractor.instance_node(instance)
        if node is not None:
            roots.append(Root(node, instance.cls.name))
    for root in roots:
        with contextlib.suppress(BudgetExceeded, RecursionError):
            extractor.exploding_init(root)
        extractor.layer_inits(root)
    return roots, events


_EVALUATORS: dict[type[ast.AST], Callable[[Extractor, Any, Frame], Value]] = {
    getattr(ast, name[len("eval_") :]): method
    for name, method in vars(Extractor).items()
    if name.startswith("eval_")
    and isinstance(kind := getattr(ast, name[len("eval_") :], None), type)
    and issubclass(kind, ast.expr)
}
