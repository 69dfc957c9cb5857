"""The machine's expressions: one ``eval_<ast type>`` function per expression kind (dispatched
by :data:`~gradcheck_kit.lint.interp.machine.EVALUATORS`), attribute lookup, subscripts, operators
(``x + f(x)`` joins two paths: a residual), comprehensions, and a call's arguments (a loss's
argument is checked for a squashing applied twice).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from typing import TYPE_CHECKING, Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.interp.folding import (
    compare,
    count_of,
    fold,
    hashable,
    sourced,
)
from gradcheck_kit.lint.interp.frames import (
    BoundMethod,
    Frame,
    Spread,
    Super,
    common_prefix,
    first_source,
    flatten_any,
)
from gradcheck_kit.lint.interp.models.init import (
    Weight,
)
from gradcheck_kit.lint.interp.models.losses import (
    is_loss,
    squash_applied_by,
    squash_name,
    tail_layer,
    unwrap_squash,
)
from gradcheck_kit.lint.interp.syntax import (
    arguments_of,
)
from gradcheck_kit.lint.interp.values import (
    ClassRef,
    Const,
    Data,
    DictVal,
    Entry,
    FuncRef,
    Instance,
    LazyImport,
    ModuleNS,
    ModuleVal,
    Namespace,
    Ref,
    Repeated,
    SeqVal,
    Template,
    Unknown,
    Value,
)
from gradcheck_kit.lint.sketch import (
    Branches,
    Layer,
    Node,
    Residual,
    seq,
)

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine

if TYPE_CHECKING:
    pass


BUILTIN_NAMES = frozenset(
    {
        "range", "len", "zip", "enumerate", "list", "tuple", "getattr", "setattr", "hasattr",
        "isinstance", "int", "float", "str", "max", "min", "reversed", "super", "dict", "sum",
        "sorted", "abs", "round", "bool", "print", "iter", "next", "map", "filter", "type",
        "callable", "any", "all", "divmod", "set", "frozenset", "object", "Exception",
        "ValueError", "TypeError", "NotImplementedError", "RuntimeError", "KeyError",
        "AssertionError", "None", "True", "False", "vars", "id", "repr", "format",
    }
)  # fmt: skip

ADD_OPS = (ast.Add, ast.Sub)


def eval_Name(self: Machine, node: ast.Name, frame: Frame) -> Value:
    name = node.id
    if name in frame.env:
        value = frame.env[name]
        return self.resolve_lazy(value) if type(value) is LazyImport else value
    for scope in frame.outer:
        if name in scope:
            value = scope[name]
            return self.resolve_lazy(value) if type(value) is LazyImport else value
    if name == "None":
        return Const(None)
    if name in ("True", "False"):
        return Const(name == "True")
    if self.star_envs and not self.in_foreign:
        found = self.star_global(name)
        if found is not None:
            return found
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
    if name in BUILTIN_NAMES:
        return Ref(f"builtins.{name}")
    return Unknown(name)


def eval_Attribute(self: Machine, node: ast.Attribute, frame: Frame) -> Value:
    owner = self.eval(node.value, frame)
    return self.getattr(owner, node.attr)


def getattr(self: Machine, owner: Value, attr: str) -> Value:
    if isinstance(owner, Ref):
        return Ref(f"{owner.qname}.{attr}")
    if isinstance(owner, ModuleNS):
        return self.module_attr(owner, attr)
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
        if attr == "_modules":  # ``for name, m in self._modules.items()`` (a Sequential's own
            return owner.children  # forward, as torchmeta's MetaSequential writes it)
        if attr in (*catalog.MODULE_TREE_METHODS, "values", "named_children"):
            return BoundMethod(owner, attr)
        if attr in catalog.RETURNS_SELF:
            return BoundMethod(owner, attr)
        if attr in (*catalog.MODULE_REGISTRATION, "append", "extend"):
            return BoundMethod(owner, attr)
        return Unknown(f"self.{attr}")
    if isinstance(owner, ClassRef):
        found = owner.cls.find_method(attr)
        if found is not None:
            cls, method = found
            return FuncRef(method, cls.scope, f"{cls.name}.{attr}", None, cls)
        value = owner.cls.find_attr(attr)
        return value if value is not None else Unknown(f"{owner.cls.name}.{attr}")
    if isinstance(owner, Data):
        if attr in catalog.TENSOR_METADATA:
            return Unknown(attr, from_data=True)
        if attr in catalog.TENSOR_VIEWS:
            return owner
        return BoundMethod(owner, attr)
    if isinstance(owner, (SeqVal, DictVal, Const)):
        return BoundMethod(owner, attr)
    if isinstance(owner, Namespace):
        return owner.step(".", attr)
    if isinstance(owner, Unknown):
        symbol = f"{owner.symbol}.{attr}" if owner.symbol else None
        return Unknown(symbol, owner.from_data)
    if isinstance(owner, ModuleVal):
        if attr in catalog.PARAMETER_ATTRIBUTES and isinstance(owner.node, Layer):
            return Weight(owner.node)
        if attr in catalog.MODULE_TREE_METHODS or attr in catalog.RETURNS_SELF:
            return BoundMethod(owner, attr)
        return Unknown(attr)
    if isinstance(owner, Weight):
        return owner if attr in catalog.PARAMETER_ATTRIBUTES else BoundMethod(owner, attr)
    if isinstance(owner, Super):
        return BoundMethod(owner, attr)
    if isinstance(owner, SeqVal) and owner.kind == "sequential" and attr == catalog.MODULE_APPLY:
        return BoundMethod(owner, attr)
    return Unknown()


def eval_Constant(self: Machine, node: ast.Constant, frame: Frame) -> Value:
    if node.value is Ellipsis or isinstance(node.value, complex):
        return Unknown()
    return Const(node.value)


def eval_JoinedStr(self: Machine, node: ast.JoinedStr, frame: Frame) -> Value:
    """An f-string of constants (``f"layer{i}"`` in an unrolled loop): the string it makes;
    around values the linter cannot tell, its pattern (:class:`Template`)."""
    parts: list[str] = []
    known = True
    for part in node.values:
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            parts.append(part.value)
            continue
        if not isinstance(part, ast.FormattedValue) or part.format_spec is not None:
            return Unknown()
        value = self.eval(part.value, frame)
        if isinstance(value, Const) and isinstance(value.value, (str, int, bool)):
            parts.append(repr(value.value) if part.conversion == ord("r") else str(value.value))
        else:
            known = False
            parts.append("{}")
    joined = "".join(parts)
    return Const(joined) if known else Template(pattern=joined)


def eval_Tuple(self: Machine, node: ast.Tuple, frame: Frame) -> Value:
    return SeqVal(self.eval_elements(node.elts, frame), "tuple")


def eval_List(self: Machine, node: ast.List, frame: Frame) -> Value:
    return SeqVal(self.eval_elements(node.elts, frame), "list")


def eval_Set(self: Machine, node: ast.Set, frame: Frame) -> Value:
    return SeqVal(self.eval_elements(node.elts, frame), "tuple")


def eval_elements(self: Machine, elements: list[ast.expr], frame: Frame) -> tuple[Entry, ...]:
    out: list[Entry] = []
    for element in elements:
        if isinstance(element, ast.Starred):
            out.extend(self.as_entries(self.eval(element.value, frame)))
        else:
            out.append(self.eval(element, frame))
    return tuple(out)


def as_entries(self: Machine, value: Value) -> tuple[Entry, ...]:
    if isinstance(value, SeqVal):
        return value.entries
    if isinstance(value, Instance) and self.sequential_base(value.cls):
        return value.children.entries
    if isinstance(value, DictVal):
        return tuple(value.items.values())
    return (value,)


def eval_Dict(self: Machine, node: ast.Dict, frame: Frame) -> Value:
    items: dict[Any, Value] = {}
    for key_node, value_node in zip(node.keys, node.values, strict=True):
        if key_node is not None:
            key = self.eval(key_node, frame)
            if isinstance(key, Const) and hashable(key.value):
                items[key.value] = self.eval(value_node, frame)
        else:
            other = self.eval(value_node, frame)
            if isinstance(other, DictVal):
                items.update(other.items)
    return DictVal(items)


def eval_comprehension(
    self: Machine, node: ast.ListComp | ast.GeneratorExp | ast.SetComp, frame: Frame
) -> Value:
    holder = SeqVal((), "list")
    inner = Frame({}, frame.qualname, [], owner=frame.owner, outer=frame.chain())
    self.frame_stack.append(inner)
    try:
        self.comprehend(node.generators, node.elt, inner, holder)
    finally:
        self.frame_stack.pop()
    return holder


def comprehend(
    self: Machine, generators: list[ast.comprehension], elt: ast.expr, frame: Frame, holder: SeqVal
) -> None:
    comp = generators[0]
    iterable = self.eval(comp.iter, frame)

    def body(value: Value) -> None:
        self.assign(comp.target, value, frame)
        for cond in comp.ifs:
            if self.truth(self.eval(cond, frame)) is False:
                return
        if len(generators) > 1:
            self.comprehend(generators[1:], elt, frame, holder)
        else:
            holder.entries = (*holder.entries, self.eval(elt, frame))

    self.iterate(iterable, frame, body)


eval_ListComp = eval_GeneratorExp = eval_SetComp = eval_comprehension


def eval_Lambda(self: Machine, node: ast.Lambda, frame: Frame) -> Value:
    return FuncRef(node, frame.chain(), frame.qualname or "<lambda>")


def eval_NamedExpr(self: Machine, node: ast.NamedExpr, frame: Frame) -> Value:
    value = self.eval(node.value, frame)
    self.assign(node.target, value, frame)
    return value


def eval_IfExp(self: Machine, node: ast.IfExp, frame: Frame) -> Value:
    cond = self.truth(self.eval(node.test, frame))
    if cond is True:
        return self.eval(node.body, frame)
    if cond is False:
        return self.eval(node.orelse, frame)
    return self.merge(self.eval(node.body, frame), self.eval(node.orelse, frame), "alt")


def eval_UnaryOp(self: Machine, node: ast.UnaryOp, frame: Frame) -> Value:
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


def eval_BoolOp(self: Machine, node: ast.BoolOp, frame: Frame) -> Value:
    is_and = isinstance(node.op, ast.And)
    left = self.eval(node.values[0], frame)
    for right_node in node.values[1:]:
        left = self.boolean(left, right_node, is_and, frame)
    return left


def boolean(self: Machine, left: Value, right_node: ast.expr, is_and: bool, frame: Frame) -> Value:
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


def eval_Compare(self: Machine, node: ast.Compare, frame: Frame) -> Value:
    left = self.eval(node.left, frame)
    result: bool | None = True
    for op, comparator in zip(node.ops, node.comparators, strict=True):
        right = self.eval(comparator, frame)
        outcome = compare(op, left, right)
        if outcome is None:
            result = None
        elif outcome is False:
            return Const(False)
        left = right
    return Unknown() if result is None else Const(True)


def eval_BinOp(self: Machine, node: ast.BinOp, frame: Frame) -> Value:
    left = self.eval(node.left, frame)
    right = self.eval(node.right, frame)
    return self.binop(type(node.op), left, right)


_PERCENT = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdirf]")


def binop(self: Machine, op: type[ast.operator], left: Value, right: Value) -> Value:
    if isinstance(left, Data) and isinstance(right, Data):
        if issubclass(op, ADD_OPS):
            return self.join("add", left, right)
        return self.join("mul", left, right)
    if isinstance(left, Data):
        return left
    if isinstance(right, Data):
        return right
    if isinstance(left, Const) and isinstance(right, Const):
        return fold(op, left, right)
    if op is ast.Mod and isinstance(left, Const) and isinstance(left.value, str):
        # ``"layer%d" % i`` in a loop that is not unrolled: the pattern of the names it makes
        pattern, n = _PERCENT.subn("{}", left.value)
        if n == 1 and not isinstance(right, SeqVal):
            return Template(pattern=pattern)
    if isinstance(left, SeqVal) and isinstance(right, SeqVal) and op is ast.Add:
        holder = SeqVal(left.entries + right.entries, "list")
        return holder
    if op is ast.Mult:
        seqv, times = (left, right) if isinstance(left, SeqVal) else (right, left)
        if isinstance(seqv, SeqVal):
            count = count_of(times)
            holder = SeqVal((Repeated(count, seqv.entries),), "list")
            return holder
    return Unknown()


def join(self: Machine, op: str, a: Data, b: Data) -> Data:
    """Combine two tensors that may share a path from the same input."""
    if a.origin is not b.origin:
        return a
    n = common_prefix(a.path, b.path)
    sa, sb = a.path[n:], b.path[n:]
    if not sa and not sb:
        return a
    if op == "add" and (not sa or not sb):
        node: Node = Residual(seq(sa or sb))
    else:
        node = Branches(op, (seq(sa), seq(sb)))  # type: ignore[arg-type]
    return Data((*a.path[:n], node), a.origin)


def eval_Subscript(self: Machine, node: ast.Subscript, frame: Frame) -> Value:
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
                kind = owner.kind if owner.kind != "sequential" else "list"
                return sourced(picked, first_source(owner), kind)  # ``sizes[1:]`` counts too
            if all(isinstance(p, Const) for p in (lo, hi, step)):
                uniform = sliced_repeat(owner, slice(lo.value, hi.value, step.value))  # type: ignore[attr-defined]
                if uniform is not None:
                    return uniform
            return SeqVal(owner.entries, "list")
        return Unknown()
    return self.subscript(owner, self.eval_index(node, frame))


def sliced_repeat(owner: SeqVal, part: slice) -> SeqVal | None:
    """``(16,) * 5`` sliced ``[1:]``: one value repeated a known number of times, sliced, is the
    value repeated fewer times (``zip(sizes[:-1], sizes[1:])`` counts one pair fewer than
    ``sizes``). None for anything else."""
    if len(owner.entries) != 1 or not isinstance(owner.entries[0], Repeated):
        return None
    repeat = owner.entries[0]
    count = repeat.count.value
    if repeat.unrolled or len(repeat.entries) != 1 or not isinstance(count, int):
        return None
    try:
        kept = len(range(count)[part])
    except (TypeError, ValueError):
        return None
    counted = dataclasses.replace(repeat.count, value=kept)
    return SeqVal((Repeated(counted, repeat.entries),), "list")


def eval_index(self: Machine, node: ast.Subscript, frame: Frame) -> Value:
    element = node.slice
    if isinstance(element, ast.Slice) or (
        isinstance(element, ast.Tuple) and any(isinstance(e, ast.Slice) for e in element.elts)
    ):
        return Unknown()
    return self.eval(element, frame)


def subscript(self: Machine, owner: Value, key: Value) -> Value:
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
        if isinstance(key, Const) and hashable(key.value):
            return owner.items.get(key.value, Unknown())
        return Unknown()
    if isinstance(owner, Const) and isinstance(key, Const):
        try:
            return Const(owner.value[key.value], owner.source)
        except Exception:
            return Unknown()
    if isinstance(owner, Ref):
        return owner  # typing generics: Optional[...] and the like
    if (
        isinstance(owner, Namespace)
        and isinstance(key, Const)
        and isinstance(key.value, (str, int))
        and not isinstance(key.value, bool)
    ):
        return owner.step("[]", key.value)
    if isinstance(owner, Unknown):
        return Unknown(owner.symbol, owner.from_data)
    return Unknown()


def representative(self: Machine, entries: tuple[Entry, ...]) -> Value:
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


def eval_Call(self: Machine, node: ast.Call, frame: Frame) -> Value:
    func = self.eval(node.func, frame)
    loss = is_loss(func)
    expects = squash_applied_by(func) if loss else None
    args: list[Value] = []
    kwargs: dict[str, Value] = {}
    for index, (written, star, keyword) in enumerate(arguments_of(node)):
        expr = written
        if loss:  # a sigmoid applied inside a loss is part of the loss, not of the model
            expr = unwrap_squash(expr)
            if expects and index == 0 and expr is not written:
                applied = squash_name(written)  # the tensor it squashes: for the fix
                operand = self.written_operand(written, frame) if applied == expects else None
                self.squashed_twice(node, written, expects, applied, None, operand)
        value = self.eval(expr, frame)
        if expects and index == 0 and expr is written and isinstance(value, Data):
            tail = tail_layer(value.path)
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
    if isinstance(func, Namespace) and func.path[-1:] == ((".", "get"),):
        return _namespace_get(func, args)
    return self.call(func, args, kwargs, node, frame)


def _namespace_get(func: Namespace, args: list[Value]) -> Value:
    """``cfg.get("depth", 4)`` on a config passed from another file: its ``["depth"]`` there,
    else the default."""
    if not args or not isinstance(args[0], Const) or not isinstance(args[0].value, str):
        return Unknown(func.symbol)
    symbol = func.symbol[: -len(".get")] if func.symbol and func.symbol.endswith(".get") else None
    owner = Namespace(symbol, False, func.read, func.path[:-1])
    found = owner.step("[]", args[0].value)
    if isinstance(found, Unknown) and len(args) > 1:
        return args[1]
    return found


def expand_star(self: Machine, value: Value) -> list[Value]:
    if isinstance(value, SeqVal):
        if not any(isinstance(e, Repeated) for e in value.entries):
            return list(value.entries)  # type: ignore[arg-type]
        return [Spread(value.entries)]
    if isinstance(value, Instance) and self.sequential_base(value.cls):
        return [Spread(value.children.entries)]
    return [Unknown()]
