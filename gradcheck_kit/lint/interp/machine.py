"""The abstract interpreter: Python source -> architecture sketches, by running the code over
abstract values.

It never imports or runs user code. It walks the syntax tree the way Python would run it, but over
abstract values (:mod:`~gradcheck_kit.lint.interp.values`): imports become qualified references,
literals fold into constants (:mod:`~gradcheck_kit.lint.interp.folding`), ``nn.Tanh()`` becomes a
module whose sketch is one saturating layer, ``forward(x)`` turns ``x`` into a tensor whose path
records every layer it goes through. One mechanism then covers every code shape: Sequential
literals, lists built in loops, comprehensions, ``[...] * n``, ModuleLists iterated in
``forward``, helper functions, blocks passed as arguments, activations chosen through defaults,
dicts or ``getattr``.

A file flows so: :func:`extract` builds a :class:`Machine`, which executes the module's statements
(:mod:`~gradcheck_kit.lint.interp.statements`), evaluates expressions
(:mod:`~gradcheck_kit.lint.interp.expressions`), builds classes and calls functions
(:mod:`~gradcheck_kit.lint.interp.classes`), calls builtins and methods
(:mod:`~gradcheck_kit.lint.interp.objects`), and hands a call to a known callable to its model
(:mod:`~gradcheck_kit.lint.interp.models`: all torch knowledge lives there and in
:mod:`gradcheck_kit.catalog`). What rules report is recorded as events with structured data
(:mod:`~gradcheck_kit.lint.interp.events`); the rules word them.

*Roots* are what gets analysed: the forward path of every module class (with its parameter
defaults, and again for every instantiation in the file with literal arguments), and every
``nn.Sequential`` built anywhere (module level, helper functions, ``__init__``).

This module is the machine's core: its state, the entry points, evaluation dispatch, calls of
modules and qualified names. The methods defined in the sibling modules are bound to the class
here (a class attribute, so a call costs what a method call costs).
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

from gradcheck_kit import catalog
from gradcheck_kit.lint.caller_values import CallerValues
from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.facts import Event
from gradcheck_kit.lint.interp import (
    classes,
    events,
    expressions,
    imports,
    objects,
    own_values,
    statements,
)
from gradcheck_kit.lint.interp.frames import (
    BoundMethod,
    BudgetExceeded,
    Frame,
    Loop,
    Root,
    outputs,
    rebase,
    spread_args,
)
from gradcheck_kit.lint.interp.models import MODELS
from gradcheck_kit.lint.interp.models.generic import unmodelled_call
from gradcheck_kit.lint.interp.models.init import ExplicitInit, init_function
from gradcheck_kit.lint.interp.models.layers import with_configured
from gradcheck_kit.lint.interp.syntax import single_operand
from gradcheck_kit.lint.interp.values import (
    JOURNAL,
    ClassInfo,
    ClassRef,
    Const,
    Data,
    Entry,
    FuncRef,
    Instance,
    ModuleEnv,
    ModuleVal,
    Ref,
    Repeated,
    SeqVal,
    Unknown,
    Value,
    copy_layer,
    looks_like_norm,
)
from gradcheck_kit.lint.project import LoadedModule, Project, ProjectFile
from gradcheck_kit.lint.sketch import Branches, Layer, Node, Repeat, Seq, seq

STEP_BUDGET = 400_000  # abstract evaluation steps per file; past it, values become Unknown
#: of those, the steps spent in other modules' code; past it, their callables are what an
#: unresolved import is (a name, and what the name says)
FOREIGN_BUDGET = 2000


class Extraction(NamedTuple):
    """What interpreting one file yields."""

    roots: list[Root]
    events: list[Event]
    consulted: tuple[ProjectFile, ...]  # the project files read, the file itself first
    modules: tuple[LoadedModule, ...] = ()  # the other project modules read (hash, stamp)
    data: tuple[DataFile, ...] = ()  # the config files read (JSON, YAML, TOML)


class Machine:
    def __init__(
        self,
        module: ast.Module,
        extend_saturating: tuple[str, ...] = (),
        extend_normalization: tuple[str, ...] = (),
        max_depth: int = 0,
        project: Project | None = None,
    ) -> None:
        self.module = module
        self.project = project if project is not None else Project.single("")
        #: path -> the project file the interpretation read (the file itself, always)
        self.consulted: dict[str, ProjectFile] = {self.project.current.path: self.project.current}
        self.loaded: dict[str, LoadedModule] = {}  # path -> another module it read
        self.data_files: dict[str, DataFile] = {}  # path -> a config file a call site read
        self.modules: dict[str, ModuleEnv | None] = {}  # path -> that module's globals
        self.star_envs: list[ModuleEnv] = []  # ``from <project module> import *`` here
        self.in_foreign = False  # running another module's code (see interp/imports.py)
        self.entry: ast.AST | None = None  # the call here that led into that code
        self.import_depth = 0
        self.max_depth = max_depth  # GCK006 reports stacks deeper than this
        self.extra_saturating = set(extend_saturating)
        self.extra_norm = set(extend_normalization)
        self.roots: list[Root] = []
        self.steps = 0
        self.limit = STEP_BUDGET  # lower while running another module's code (imports.py)
        self.foreign_left = FOREIGN_BUDGET
        self.refunded = 0  # steps of this file's code run from another module's (not charged)
        self.call_depth = 0
        self.call_stack: list[object] = []
        self.classes: list[ClassInfo] = []
        self.functions: list[FuncRef] = []
        self.sequentials: list[tuple[SeqVal, str | None]] = []
        self.operands: dict[int, ast.expr] = {}  # id(activation call) -> its tensor (events)
        self.frame_stack: list[Frame] = []
        self.pending: list[Instance] = []
        #: id(instance) -> the call site in another file that built it (names the depth's
        #: source where its own counts name none: ``Encoder(cfg.sizes) at run.py:6``)
        self.built_at: dict[int, str] = {}
        self.events: list[Event] = []
        self.loops: list[Loop] = []
        self.fan_in: dict[int, int] = {}  # affine layer origin -> fan-in
        self.inits: dict[int, ExplicitInit] = {}  # affine layer origin -> explicit init
        self.unread_inits: dict[int, tuple[str, object]] = {}  # origin -> (init, call node)
        self.no_bias: set[int] = set()  # affine layer origins built with bias=False
        self.star_modules: tuple[str, ...] = ()
        #: id(class node) -> what its methods compute: "norm", "not" or "by name"
        self.norm_verdicts: dict[int, str] = {}
        #: id(class node) -> the saturating function its forward computes (None: none)
        self.saturating_verdicts: dict[int, catalog.Saturating | None] = {}
        #: the file's own option defaults and config reads (False: not looked at yet)
        self.own: CallerValues | bool | None = False
        self.own_reads: dict[int, own_values.OwnRead] = {}  # id(node) -> what readers gave
        #: the call-site gate's reading of this file (:mod:`~gradcheck_kit.lint.interp.site_gate`):
        #: id(top-level statement) -> the names it mentions and its text, lowercased
        self.site_mentions: dict[int, tuple[frozenset[str], str]] = {}
        #: the file's source text (None: interpreted from a tree alone)
        self.source_text: str | None = None
        self._source_lines: list[str] | None = None
        self.models = MODELS
        if extend_saturating or extend_normalization:
            self.models = with_configured(MODELS, self.extra_saturating, self.extra_norm)

    @property
    def source_lines(self) -> list[str] | None:
        """The file's source lines (None: interpreted from a tree alone)."""
        if self._source_lines is None and self.source_text is not None:
            self._source_lines = self.source_text.splitlines()
        return self._source_lines

    # -- entry point --------------------------------------------------------------------------

    def run(self) -> list[Root]:
        frame = Frame({}, "", [])
        with contextlib.suppress(BudgetExceeded):
            self.exec_block(self.module.body, frame)
        # every class with a forward, instantiated with its defaults
        defaults: dict[int, Value] = {}
        for info in list(self.classes):
            if info.find_method(catalog.MODULE_FORWARD) or self.sequential_base(info):
                with contextlib.suppress(BudgetExceeded):
                    instance = self.instantiate(info, [], {}, None)
                    defaults[id(info)] = instance
                    if isinstance(instance, Instance):
                        self.add_instance_root(instance)
                if not info.foreign and info.node in self.module.body:
                    with contextlib.suppress(BudgetExceeded):
                        self.instantiate_call_sites(info, defaults.get(id(info)))
        self.run_functions()  # with their defaults, and the calls of builders elsewhere
        # every other method, with a default instance (``_make_layer``-style builders)
        # (``training_step`` too: ``self`` is the default instance, so ``self(x)`` runs forward)
        for info in list(self.classes):
            others = [
                (n, m)
                for n, m in info.methods.items()
                if n not in ("__init__", catalog.MODULE_FORWARD)
            ]
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
        for holder, symbol in self.sequentials:
            with contextlib.suppress(BudgetExceeded):  # a root past the budget is not read
                node = self.entries_node(holder.entries)
                if id(holder) in self.built_at:  # built for a call site in another file
                    node = Seq((node,), self.built_at[id(holder)])
                self.roots.append(Root(node, symbol))
        return self.roots

    def add_instance_root(self, instance: Instance) -> None:
        node = self.instance_node(instance)
        if node is not None:
            self.roots.append(Root(node, instance.cls.name))

    # -- helpers ------------------------------------------------------------------------------

    def tick(self) -> None:
        self.steps += 1
        if self.steps > self.limit:
            raise BudgetExceeded

    def span(self, node: ast.AST | None) -> ast.AST | None:
        """The anchor of a layer written at ``node``: positions are resolved only for layers
        that end up in a finding (resolving them for a whole file costs more than parsing)."""
        return self.entry if self.in_foreign else node

    def report(self, event: Event) -> None:
        """Record an event; another module's code reports its own events, not this file."""
        if not self.in_foreign:
            self.events.append(event)

    @property
    def frame(self) -> Frame:
        return self.frame_stack[-1]

    def scope_symbol(self) -> str | None:
        for frame in reversed(self.frame_stack):
            if frame.qualname:
                return frame.qualname.split(".")[0]
        return None

    # -- statements ---------------------------------------------------------------------------

    def eval(self, node: ast.expr | None, frame: Frame) -> Value:
        if node is None:
            return Const(None)
        self.steps += 1  # tick(), inlined: the hottest line of the linter
        if self.steps > self.limit:
            raise BudgetExceeded
        method = EVALUATORS.get(type(node))
        if method is None:
            return Unknown()
        result: Value = method(self, node, frame)
        if type(result) is Unknown and type(node) in _READ_OWN and self.own is not None:
            found = self.read_own(node)
            if found is not None:
                return found
        return result

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
            if not func.cls.find_method("__init__") and self.sequential_base(func.cls):
                return self.instantiate(func.cls, args, kwargs, node)  # ``*layers`` kept whole
            return self.instantiate(func.cls, spread_args(args), kwargs, node)
        if isinstance(func, FuncRef):
            return self.call_function(func, spread_args(args), kwargs, node)
        if isinstance(func, BoundMethod):
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
            self.applied_to(call, single_operand(call))
        return self.extend(data, node)

    def call_instance(self, instance: Instance, data: Data, call: ast.Call | None) -> Value:
        kind = self.class_kind(instance.cls)
        if kind is not None:
            return self.extend(data, copy_layer(kind, self.span(call)))
        if instance.cls.foreign and not self.in_foreign and call is not None:
            saved, self.entry = self.entry, call  # its layers are reported at this call
            try:
                result = self.forward_value(instance)
            finally:
                self.entry = saved
        else:
            result = self.forward_value(instance)
        return rebase(result, instance.origin_token, data)

    def forward_value(self, instance: Instance) -> Value:
        """What ``instance(x)`` returns, relative to a fresh input (cached per instance)."""
        if 0 in instance.forward_cache:
            return instance.forward_cache[0]
        fresh = Data((), instance.origin_token)
        instance.forward_cache[0] = fresh  # recursion guard
        found = instance.cls.find_method(catalog.MODULE_FORWARD)
        if found is None:
            if self.sequential_base(instance.cls):
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
        if instance.cls.foreign and not self.in_foreign and instance.built_at is not None:
            # another module's block in a container built here: its layers are reported
            # where this file built it
            saved, self.entry = self.entry, instance.built_at
            try:
                result = self.forward_value(instance)
            finally:
                self.entry = saved
        else:
            result = self.forward_value(instance)
        found = outputs(result, instance.origin_token)
        if not found:
            return None
        if len(found) == 1:
            return seq(found[0].path)
        # every returned output counts (``return encoded, decoded``; two heads): each path is
        # walked, and the deepest chain is the one reported
        return Branches("alt", tuple(seq(data.path) for data in found))

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
        """A call to a qualified name: a builtin, a callable with a model (one dict get), or
        the generic rule for callables the catalog does not describe."""
        if qname.startswith("builtins."):
            return self.call_builtin(qname.rsplit(".", 1)[-1], args, kwargs, node, frame)
        found = self.models.get(qname)
        if found is None and qname.startswith(catalog.INIT_NAMESPACE):
            found = init_function
        if found is None and catalog.third_party_sequential(qname):
            found = self.models.get(catalog.SEQUENTIAL)  # torchmeta's MetaSequential...
        if found is not None:
            result = found(self, qname, args, kwargs, node, frame)
            if result is not None:
                return result
        return unmodelled_call(self, qname, args, node)

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

    # statements
    exec_block = statements.exec_block
    exec_statements = statements.exec_statements
    exec_stmt = statements.exec_stmt
    exec_augassign = statements.exec_augassign
    exec_while = statements.exec_while
    exec_if = statements.exec_if
    set_env = statements.set_env
    branch = statements.branch
    merge = statements.merge
    merge_entries = statements.merge_entries
    loop_representative = statements.loop_representative
    loop_unrolled = statements.loop_unrolled
    run_journaled = statements.run_journaled
    wrap_growth = statements.wrap_growth
    exec_for = statements.exec_for
    exec_for_over = statements.exec_for_over
    iterate = statements.iterate
    iterate_entries = statements.iterate_entries
    assign = statements.assign
    unpack = statements.unpack

    # imports
    import_from = imports.import_from
    import_names = imports.import_names
    module_env = imports.module_env
    resolve_lazy = imports.resolve_lazy
    module_attr = imports.module_attr
    dispatched = imports.dispatched
    resolve_global = imports.resolve_global
    bind_star_or_submodule = imports.bind_star_or_submodule
    star_global = imports.star_global
    foreign_anchor = imports.foreign_anchor
    call_foreign = imports.call_foreign
    foreign_fallback = imports.foreign_fallback

    # classes
    define_class = classes.define_class
    sequential_base = classes.sequential_base
    class_kind = classes.class_kind
    instantiate = classes.instantiate
    fill_container = classes.fill_container
    instantiate_call_sites = classes.instantiate_call_sites
    run_functions = classes.run_functions
    container_entries = classes.container_entries
    call_function = classes.call_function
    bind_params = classes.bind_params

    # expressions
    eval_Name = expressions.eval_Name
    eval_Attribute = expressions.eval_Attribute
    getattr = expressions.getattr
    eval_Constant = expressions.eval_Constant
    eval_Tuple = expressions.eval_Tuple
    eval_List = expressions.eval_List
    eval_Set = expressions.eval_Set
    eval_elements = expressions.eval_elements
    as_entries = expressions.as_entries
    eval_Dict = expressions.eval_Dict
    eval_comprehension = expressions.eval_comprehension
    comprehend = expressions.comprehend
    eval_Lambda = expressions.eval_Lambda
    eval_NamedExpr = expressions.eval_NamedExpr
    eval_IfExp = expressions.eval_IfExp
    eval_UnaryOp = expressions.eval_UnaryOp
    eval_BoolOp = expressions.eval_BoolOp
    boolean = expressions.boolean
    eval_Compare = expressions.eval_Compare
    eval_BinOp = expressions.eval_BinOp
    binop = expressions.binop
    join = expressions.join
    eval_Subscript = expressions.eval_Subscript
    eval_index = expressions.eval_index
    subscript = expressions.subscript
    representative = expressions.representative
    eval_Call = expressions.eval_Call
    expand_star = expressions.expand_star

    # objects
    call_builtin = objects.call_builtin
    zip_enumerate = objects.zip_enumerate
    registered_like = objects.registered_like
    super_value = objects.super_value
    call_method = objects.call_method
    super_init = objects.super_init
    all_layers = objects.all_layers

    # the file's own option defaults and config reads
    own_readers = own_values.own_readers
    read_own = own_values.read_own

    # events
    layer_inits = events.layer_inits
    exploding_init = events.exploding_init
    recurrence = events.recurrence
    indexes_data = events.indexes_data
    squashed_twice = events.squashed_twice
    applied_to = events.applied_to
    written_operand = events.written_operand


def extract(
    source: str | ast.Module,
    extend_saturating: tuple[str, ...] = (),
    extend_normalization: tuple[str, ...] = (),
    max_depth: int = 0,
    project: Project | None = None,
    text: str | None = None,
) -> Extraction:
    """The roots and events of ``source`` (text or its parsed tree), and the project files the
    interpretation consulted. Raises SyntaxError on bad syntax. ``max_depth``: GCK006 events only
    for stacks deeper than this. ``project``: the project the file belongs to (default: the
    file alone). ``text``: the source of a tree passed as ``source`` (read, not parsed)."""
    module = ast.parse(source) if isinstance(source, str) else source
    if isinstance(source, str):
        text = source
    if project is not None:
        project.take_tree(module)  # a wrapper of a class in this same file reads it
    JOURNAL.frames.clear()  # each file starts with no open undo frames, whatever came before
    machine = Machine(module, extend_saturating, extend_normalization, max_depth, project)
    machine.source_text = text
    roots = machine.run()
    events = machine.events
    for instance in machine.pending:
        node = None
        with contextlib.suppress(BudgetExceeded):
            node = machine.instance_node(instance)
        if node is not None:
            if id(instance) in machine.built_at:
                node = Seq((node,), machine.built_at[id(instance)])
            roots.append(Root(node, instance.cls.name))
    for root in roots:
        with contextlib.suppress(BudgetExceeded, RecursionError):
            machine.exploding_init(root)
        machine.layer_inits(root)
    return Extraction(
        roots,
        events,
        tuple(machine.consulted.values()),
        tuple(machine.loaded.values()),
        tuple(machine.data_files.values()),
    )


#: expressions that may read an option default or a config value (``args.n``, ``cfg["n"]``,
#: ``cfg.get("n")``)
_READ_OWN = frozenset({ast.Attribute, ast.Subscript, ast.Call})

#: ast expression type -> its evaluator (``eval_Name`` for ``ast.Name``, ...).
EVALUATORS: dict[type[ast.AST], Callable[[Machine, Any, Frame], Value]] = {
    kind: fn
    for name, fn in vars(expressions).items()
    if name.startswith("eval_")
    and isinstance(kind := getattr(ast, name[len("eval_") :], None), type)
    and issubclass(kind, ast.expr)
}
