"""The machine's statements: assignments (and the recurrence check on them), ``if`` (both arms,
merged), loops (unrolled up to a limit, else one representative pass that marks the repeated
part with its count), ``with``, ``try``, imports (names become qualified references), and the
undo journal that lets a branch run twice over mutable values.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

from gradcheck_kit.lint.interp.folding import (
    UNROLL_LIMIT,
    hashable,
    same_const,
)
from gradcheck_kit.lint.interp.frames import (
    Frame,
    Loop,
    common_prefix,
    iterates_modules,
    iterates_time,
)
from gradcheck_kit.lint.interp.syntax import (
    target_names,
)
from gradcheck_kit.lint.interp.values import (
    JOURNAL,
    Const,
    Data,
    DictVal,
    Entry,
    FuncRef,
    Instance,
    ModuleVal,
    Ref,
    Repeated,
    SeqVal,
    Unknown,
    Value,
)
from gradcheck_kit.lint.sketch import (
    Branches,
    Count,
    Node,
    Repeat,
    Seq,
    seq,
)

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine

if TYPE_CHECKING:
    pass


TRY_STATEMENTS: tuple[type[ast.stmt], ...] = (
    ast.Try,
    getattr(ast, "TryStar", ast.Try),
)  # except* (3.11)


def exec_block(self: Machine, body: Any, frame: Frame) -> None:
    self.frame_stack.append(frame)
    try:
        self.exec_statements(body, frame)
    finally:
        self.frame_stack.pop()


def exec_statements(self: Machine, body: list[ast.stmt], frame: Frame) -> None:
    for stmt in body:
        if frame.returned:
            return
        self.exec_stmt(stmt, frame)


def exec_stmt(self: Machine, stmt: ast.stmt, frame: Frame) -> None:
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
        if not frame.qualname and not self.in_foreign:
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
        self.exec_statements(stmt.body, frame)
    elif isinstance(stmt, TRY_STATEMENTS):
        for part in ("body", "orelse", "finalbody"):
            self.exec_statements(getattr(stmt, part), frame)
    elif isinstance(stmt, ast.Import):
        self.import_names(stmt, frame)
    elif isinstance(stmt, ast.ImportFrom):
        self.import_from(stmt, frame)


def exec_augassign(self: Machine, stmt: ast.AugAssign, frame: Frame) -> None:
    target = self.eval(stmt.target, frame)
    value = self.eval(stmt.value, frame)
    if isinstance(target, SeqVal) and isinstance(stmt.op, ast.Add):
        target.entries = target.entries + self.as_entries(value)
        return
    self.assign(stmt.target, self.binop(type(stmt.op), target, value), frame)


def exec_while(self: Machine, stmt: ast.While, frame: Frame) -> None:
    """A loop whose condition folds (``while i < 5: ...; i += 1``) runs for real, up to the
    unroll limit; otherwise one representative iteration, repeated an unknown number of
    times."""
    for _ in range(UNROLL_LIMIT):
        cond = self.truth(self.eval(stmt.test, frame))
        if cond is False or frame.returned:
            return
        if cond is None:
            break
        self.exec_statements(stmt.body, frame)
    else:
        return
    self.loop_representative(frame, Count(None), lambda: self.exec_statements(stmt.body, frame))


def exec_if(self: Machine, stmt: ast.If, frame: Frame) -> None:
    cond = self.truth(self.eval(stmt.test, frame))

    def run_orelse() -> None:
        self.exec_statements(stmt.orelse, frame)

    if cond is True:
        self.exec_statements(stmt.body, frame)
    elif cond is False:
        run_orelse()
    else:
        self.branch(frame, lambda: self.exec_statements(stmt.body, frame), run_orelse)


# -- branches and loops over mutable state ------------------------------------------------


def saved_state(obj: Any) -> Any:
    return obj.entries if isinstance(obj, SeqVal) else dict(obj.attrs)


def restore_state(obj: Any, state: Any) -> None:
    if isinstance(obj, SeqVal):
        obj.entries = state
    else:
        obj.replace_attrs(state)


def set_env(self: Machine, frame: Frame, env: dict[str, Value]) -> None:
    frame.env.clear()
    frame.env.update(env)


def branch(
    self: Machine, frame: Frame, first: Callable[[], None], second: Callable[[], None]
) -> None:
    """Run both arms of an undecidable ``if`` and merge what they did."""
    env_before = dict(frame.env)
    JOURNAL.push()
    try:
        first()
    finally:  # an arm that runs out of budget must not leave its frame open
        touched_a = JOURNAL.pop()
    returned_a = frame.returned
    env_a = dict(frame.env)
    after_a = {key: (obj, saved_state(obj)) for key, (obj, _) in touched_a.items()}
    for obj, old in touched_a.values():
        restore_state(obj, old)
    self.set_env(frame, env_before)
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
            restore_state(obj, old)
        for obj, state in after_a.values():
            restore_state(obj, state)
        self.set_env(frame, env_a)
        frame.returned = False
        return
    for key in set(env_a) | set(frame.env):
        a, b = env_a.get(key), frame.env.get(key)
        if a is not b:
            frame.env[key] = self.merge(a, b)
    for oid in set(touched_a) | set(touched_b):
        obj = (touched_a.get(oid) or touched_b[oid])[0]
        state_a = after_a[oid][1] if oid in after_a else touched_b[oid][1]
        state_b = saved_state(obj)
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


def merge(
    self: Machine, a: Value | None, b: Value | None, op: Literal["alt", "either"] = "either"
) -> Value:
    """One value for two that an undecidable condition chose between. The arms of an ``if``
    statement are ``op="either"`` (the deepest reachable counts: an append or a forward step
    under it runs in some builds); a value returned or picked by a conditional expression is
    ``op="alt"`` (``act_func(name)`` with ``name`` unknown is not taken for its tanh arm)."""
    if a is None or b is None:
        return a or b or Unknown()
    if isinstance(a, Data) and isinstance(b, Data):
        return self.join(op, a, b)
    if isinstance(a, Data) or isinstance(b, Data):
        return a if isinstance(a, Data) else b
    if isinstance(a, Const) and isinstance(b, Const) and same_const(a.value, b.value):
        return a
    na, nb = self.module_node(a), self.module_node(b)
    if na is not None and nb is not None:
        return ModuleVal(Branches(op, (na, nb)))
    if isinstance(a, Ref) and isinstance(b, Ref) and a.qname == b.qname:
        return a
    return Unknown()


def merge_entries(self: Machine, a: tuple[Entry, ...], b: tuple[Entry, ...]) -> tuple[Entry, ...]:
    n = common_prefix(a, b)
    if n == len(a) == len(b):
        return a
    na = self.entries_node(a[n:])
    nb = self.entries_node(b[n:])
    return (*a[:n], ModuleVal(Branches("either", (na, nb))))


def loop_representative(
    self: Machine, frame: Frame, count: Count, body: Callable[[], None]
) -> None:
    """Run a loop body once and turn what it added into ``count`` repetitions."""
    env_before, touched = self.run_journaled(frame, body)
    frame.returned = False
    if self.loops and self.loops[-1].recurrent:
        count = replace(count, per_step=True)  # a recurrence through time, not a stack
    self.wrap_growth(
        frame,
        env_before,
        touched,
        lambda nodes: Repeat(count, seq(nodes)),
        lambda entries: Repeated(count, entries),
    )


def loop_unrolled(self: Machine, frame: Frame, count: Count, body: Callable[[], None]) -> None:
    env_before, touched = self.run_journaled(frame, body)
    if count.source is None:
        return
    self.wrap_growth(
        frame,
        env_before,
        touched,
        lambda nodes: Seq(tuple(nodes), count.source),
        lambda entries: Repeated(count, entries, unrolled=True),
    )


def run_journaled(
    self: Machine, frame: Frame, body: Callable[[], None]
) -> tuple[dict[str, Value], dict[int, tuple[Any, Any]]]:
    env_before = dict(frame.env)
    JOURNAL.push()
    try:
        body()
    finally:
        touched = JOURNAL.pop()
    return env_before, touched


def wrap_growth(
    self: Machine,
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
                and common_prefix(after.path, before.path) == n
            ):
                frame.env[key] = Data((*before.path, wrap_nodes(after.path[n:])), after.origin)
    for obj, saved in touched.values():
        if isinstance(obj, SeqVal) and obj.entries is not saved:
            n = len(saved)
            if common_prefix(obj.entries, saved) == n and len(obj.entries) > n:
                obj.entries = (*saved, wrap_entries(obj.entries[n:]))


def exec_for(self: Machine, stmt: ast.For | ast.AsyncFor, frame: Frame) -> None:
    iterable = self.eval(stmt.iter, frame)
    loop = Loop(target_names(stmt.target), iterates_time(iterable), iterates_modules(iterable))
    self.loops.append(loop)
    try:
        self.exec_for_over(stmt, iterable, frame)
    finally:
        self.loops.pop()


def exec_for_over(
    self: Machine, stmt: ast.For | ast.AsyncFor, iterable: Value, frame: Frame
) -> None:
    def body_with(value: Value) -> Callable[[], None]:
        def run() -> None:
            self.assign(stmt.target, value, frame)
            self.exec_statements(stmt.body, frame)

        return run

    self.iterate(iterable, frame, lambda v: body_with(v)())


def iterate(self: Machine, iterable: Value, frame: Frame, body: Callable[[Value], None]) -> None:
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
    self.iterate_entries(iterable.entries, frame, body)


def iterate_entries(
    self: Machine, entries: tuple[Entry, ...], frame: Frame, body: Callable[[Value], None]
) -> None:
    for entry in entries:
        if frame.returned:
            return
        if isinstance(entry, Repeated):
            inner = entry.entries

            def run_inner(inner: tuple[Entry, ...] = inner) -> None:
                self.iterate_entries(inner, frame, body)

            if entry.unrolled:
                self.loop_unrolled(frame, entry.count, run_inner)
            else:
                self.loop_representative(frame, entry.count, run_inner)
        else:
            body(entry)


# -- assignment ---------------------------------------------------------------------------


def assign(self: Machine, target: ast.expr, value: Value, frame: Frame) -> None:
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
            self.assign(element.value if isinstance(element, ast.Starred) else element, part, frame)
    elif isinstance(target, ast.Subscript):
        owner = self.eval(target.value, frame)
        key = self.eval_index(target, frame)
        if isinstance(owner, DictVal):
            # ``layers[f"fc{i}"] = ...``: a key the linter cannot fold still adds an entry,
            # in order (an OrderedDict or ModuleDict that becomes a Sequential)
            slot = key.value if isinstance(key, Const) and hashable(key.value) else object()
            owner.items[slot] = value


def unpack(self: Machine, value: Value, n: int) -> list[Value]:
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
