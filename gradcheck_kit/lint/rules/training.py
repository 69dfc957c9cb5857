"""The model of a training step that the clipping rules share (GCK004, GCK007): which calls are a
backward pass, a gradient clip, an unscale, an optimizer step or a ``zero_grad``, and a walk of a
function body that follows them in the order they run, through branches, loops, ``with`` and
``try``, and (for a walker that asks) into the helper functions and methods the file defines.

A purely syntactic pass over the libcst module (no torch import, nothing run): names are
resolved through the file's own import statements (:class:`Imports`); the torch names come from
:mod:`gradcheck_kit.catalog`.

A step is an optimizer's only when its receiver is bound to ``torch.optim.*`` in the file or is
named like an optimizer (``opt``, ``optim``, ``optimizer_g``, ``self.optimizers()``) or is a
``GradScaler``'s ``step(optimizer)``; never a ``*sched*``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import libcst as cst

from gradcheck_kit import catalog

BACKWARD = "backward"
CLIP = "clip"
STEP = "step"
UNSCALE = "unscale"
ZERO_GRAD = "zero_grad"

HELPER_DEPTH = 3
_OPTIMIZER_TOKENS = frozenset({"opt", "opts", "optim", "optims"})


# --- names -----------------------------------------------------------------------------------


def tokens(identifier: str) -> list[str]:
    """``optimizer_g`` -> [optimizer, g]; ``optD`` -> [opt, d]; ``gOptim2`` -> [g, optim]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", identifier)
    return [t for t in re.split(r"[_\d]+", spaced.lower()) if t]


def optimizer_like(identifier: str) -> bool:
    return any(
        t in _OPTIMIZER_TOKENS or t.startswith(("optimiz", "optimis")) for t in tokens(identifier)
    )


def scheduler_like(identifier: str) -> bool:
    return "sched" in identifier.lower()


def scaler_like(identifier: str) -> bool:
    return "scaler" in identifier.lower()


def is_clip_name(name: str | None) -> bool:
    if name is None:
        return False
    lowered = name.lower()
    return all(token in lowered for token in catalog.CLIP_TOKENS)


def final_name(node: cst.BaseExpression) -> str | None:
    """The identifier an expression ends in: ``self.opt`` -> opt, ``opts[0]`` -> opts,
    ``self.optimizers()`` -> optimizers."""
    while True:
        if isinstance(node, cst.Name):
            return node.value
        if isinstance(node, cst.Attribute):
            return node.attr.value
        if isinstance(node, cst.Subscript):
            node = node.value
        elif isinstance(node, cst.Call):
            node = node.func
        else:
            return None


def dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base is not None else None
    return None


def source(node: cst.CSTNode, limit: int = 40) -> str:
    """A call as messages quote it: its source, or ``func(...)`` when long."""
    text = cst.Module([]).code_for_node(node)
    if (len(text) > limit or "\n" in text) and isinstance(node, cst.Call):
        text = cst.Module([]).code_for_node(node.func) + "(...)"
    return text


_FIELDS: dict[type, tuple[str, ...]] = {}
#: Fields that hold only layout (whitespace, brackets, commas, operators): never a call, a name
#: or a statement. Skipping them halves the nodes a walk visits.
_TRIVIA = frozenset(
    {"lpar", "rpar", "comma", "dot", "semicolon", "equal", "colon", "lbracket", "rbracket",
     "lbrace", "rbrace", "leading_lines", "lines_after_decorators", "header", "footer",
     "trailing_whitespace", "newline", "operator", "asynchronous"}
)  # fmt: skip


def children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """A node's child nodes but layout, read straight off its dataclass fields: libcst's
    ``children`` property re-visits the node to collect them and made this pass cost ten
    parses."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = tuple(
            f.name
            for f in dataclasses.fields(node)
            if f.name not in _TRIVIA and not f.name.startswith("whitespace")
        )
        _FIELDS[type(node)] = names
    out: list[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, cst.CSTNode))
    return out


def walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def small_statements(module: cst.Module) -> Iterator[cst.BaseSmallStatement]:
    """Every simple statement of the file, in any body (functions, classes, branches), without
    walking into expressions."""
    stack: list[cst.CSTNode] = list(reversed(module.body))
    while stack:
        node = stack.pop()
        if isinstance(node, cst.SimpleStatementLine):
            yield from node.body
        elif isinstance(node, cst.BaseCompoundStatement):
            stack.extend(reversed(_bodies(node)))


def _bodies(node: cst.CSTNode) -> list[cst.CSTNode]:
    out: list[cst.CSTNode] = []
    for child in children(node):
        if isinstance(child, cst.IndentedBlock):
            out.extend(child.body)
        elif isinstance(child, cst.SimpleStatementSuite):
            out.extend(cst.SimpleStatementLine([s]) for s in child.body)
        elif isinstance(child, (cst.BaseCompoundStatement, cst.Else, cst.ExceptHandler,
                                cst.ExceptStarHandler, cst.Finally, cst.MatchCase)):  # fmt: skip
            out.extend(_bodies(child) if not isinstance(child, cst.If) else [child])
    return out


class Imports:
    """Local name -> qualified name, from every import statement in the file."""

    def __init__(self, module: cst.Module) -> None:
        self.aliases: dict[str, str] = {}
        self.star: set[str] = set()
        for node in small_statements(module):
            if isinstance(node, cst.Import):
                for alias in node.names:
                    full = dotted(alias.name) or ""
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        self.aliases[alias.asname.name.value] = full
                    else:
                        root = full.split(".", 1)[0]
                        self.aliases.setdefault(root, root)
            elif isinstance(node, cst.ImportFrom) and node.module is not None:
                if node.relative:
                    continue
                base = dotted(node.module) or ""
                if isinstance(node.names, cst.ImportStar):
                    self.star.add(base)
                    continue
                for alias in node.names:
                    name = dotted(alias.name) or ""
                    local = name
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        local = alias.asname.name.value
                    self.aliases[local] = f"{base}.{name}"

    def qualify(self, node: cst.BaseExpression) -> str | None:
        text = dotted(node)
        if text is None:
            return None
        head, _, rest = text.partition(".")
        if head in self.aliases:
            full = self.aliases[head]
            return f"{full}.{rest}" if rest else full
        return None


def clamps_grad(call: cst.Call) -> bool:
    """``p.grad.clamp_(-1, 1)``, ``p.grad.data.clip_(...)``: clipping by value by hand."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in catalog.CLAMP_METHODS:
        return False
    return "grad" in (dotted(func.value) or "").split(".")


def _infinite(node: cst.BaseExpression) -> bool:
    if isinstance(node, (cst.Name, cst.Attribute)):
        return final_name(node) in catalog.INFINITY_NAMES
    if isinstance(node, cst.Call) and final_name(node.func) == "float" and node.args:
        value = node.args[0].value
        if isinstance(value, cst.SimpleString):
            text = value.evaluated_value
            return isinstance(text, str) and text.lower() in catalog.INFINITY_STRINGS
    return False


def measures_only(call: cst.Call) -> bool:
    """``clip_grad_norm_(params, float("inf"))``: a clip at an infinite threshold, which only
    measures the norm."""
    position, keyword = catalog.CLIP_NORM_THRESHOLD
    positional = [a for a in call.args if a.keyword is None and not a.star]
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return _infinite(arg.value)
    return len(positional) > position and _infinite(positional[position].value)


# --- what the file binds and defines ---------------------------------------------------------


@dataclass
class TrainingScan:
    """What one pass over the whole file learns about its training code."""

    optimizers: set[str] = field(default_factory=set)  # identifiers bound to torch.optim.*
    schedulers: set[str] = field(default_factory=set)  # identifiers bound to lr schedulers
    scalers: set[str] = field(default_factory=set)  # identifiers bound to a GradScaler
    scaled: set[str] = field(default_factory=set)  # identifiers bound to scaler.scale(loss)
    functions: dict[str, list[cst.FunctionDef]] = field(default_factory=dict)
    #: id(method) -> the class that defines it
    owners: dict[int, cst.ClassDef] = field(default_factory=dict)
    #: id(class) -> its methods by name
    methods: dict[int, dict[str, cst.FunctionDef]] = field(default_factory=dict)
    clip_helpers: set[str] = field(default_factory=set)  # same-file functions that clip
    #: function name -> the calls its body makes (nested functions' included), in walk order
    calls: dict[str, list[cst.Call]] = field(default_factory=dict)
    module_calls: list[cst.Call] = field(default_factory=list)  # calls outside any function
    classes: list[cst.ClassDef] = field(default_factory=list)
    unscales: bool = False  # the file calls ``*unscale*`` somewhere


def scan_training(
    module: cst.Module, imports: Imports, visit: Callable[[cst.CSTNode], None] | None = None
) -> TrainingScan:
    """One walk of the file; ``visit`` sees every node too (a rule's own facts)."""
    scan = TrainingScan()
    stack: list[tuple[cst.CSTNode, tuple[str, ...]]] = [(module, ())]
    while stack:
        node, within = stack.pop()  # within: the functions that enclose the node
        if visit is not None:
            visit(node)
        if isinstance(node, cst.Call):
            name = final_name(node.func)
            if name is not None and catalog.UNSCALE_TOKEN in name.lower():
                scan.unscales = True
            for function in within:
                scan.calls.setdefault(function, []).append(node)
            if not within:
                scan.module_calls.append(node)
        elif isinstance(node, cst.FunctionDef):
            scan.functions.setdefault(node.name.value, []).append(node)
            inner = (*within, node.name.value)  # the body runs in the function, the rest outside
            stack.extend(
                (child, inner if child is node.body else within)
                for child in reversed(children(node))
            )
            continue
        elif isinstance(node, cst.ClassDef):
            scan.classes.append(node)
            methods = scan.methods.setdefault(id(node), {})
            for statement in statements(node.body):
                if isinstance(statement, cst.FunctionDef):
                    methods.setdefault(statement.name.value, statement)
                    scan.owners[id(statement)] = node
        elif isinstance(node, cst.Assign):
            _bind_value(node.value, [t.target for t in node.targets], imports, scan)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            _bind_value(node.value, [node.target], imports, scan)
        elif isinstance(node, (cst.For, cst.CompFor)):
            name = final_name(node.iter)
            if name is not None and (name in scan.optimizers or optimizer_like(name)):
                bind(node.target, scan.optimizers)
        stack.extend((child, within) for child in reversed(children(node)))
    scan.clip_helpers = _clip_helpers(scan.calls)
    return scan


def _bind_value(
    value: cst.BaseExpression,
    targets: Sequence[cst.BaseExpression],
    imports: Imports,
    scan: TrainingScan,
) -> None:
    if not isinstance(value, cst.Call):
        return
    qualified = imports.qualify(value.func) or ""
    into: set[str] | None = None
    if qualified.startswith(catalog.SCHEDULER_NAMESPACE):
        into = scan.schedulers
    elif qualified.startswith(catalog.OPTIMIZER_NAMESPACE) or (
        final_name(value.func) == "optimizers" and isinstance(value.func, cst.Attribute)
    ):
        into = scan.optimizers
    elif qualified in catalog.GRAD_SCALERS:
        into = scan.scalers
    elif isinstance(value.func, cst.Attribute) and value.func.attr.value == catalog.SCALE_METHOD:
        receiver = final_name(value.func.value) or ""
        if scaler_like(receiver) or receiver in scan.scalers:
            into = scan.scaled
    if into is not None:
        for target in targets:
            bind(target, into)


def bind(target: cst.BaseExpression, into: set[str]) -> None:
    if isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            bind(element.value, into)
    elif isinstance(target, (cst.Name, cst.Attribute)):
        name = final_name(target)
        if name is not None:
            into.add(name)


def _clip_helpers(calls: dict[str, list[cst.Call]]) -> set[str]:
    """Names of same-file functions whose body clips, directly or through other helpers."""
    called: dict[str, set[str]] = {}
    clips: set[str] = set()
    for name, made in calls.items():
        for call in made:
            callee = final_name(call.func)
            if is_clip_name(callee) or clamps_grad(call):
                clips.add(name)
            elif callee is not None:
                called.setdefault(name, set()).add(callee)
    for _ in range(HELPER_DEPTH):
        clips |= {name for name, callees in called.items() if callees & clips}
    return clips


def statements(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    return suite.body if isinstance(suite, cst.IndentedBlock) else ()


# --- what a call does ------------------------------------------------------------------------


class Classifier:
    """What a call does to the gradients: BACKWARD, CLIP, UNSCALE, STEP, ZERO_GRAD or None."""

    def __init__(self, scan: TrainingScan, imports: Imports, *, clip_helpers: bool) -> None:
        self.scan = scan
        self.imports = imports
        self.clip_helpers = clip_helpers

    def kind(self, call: cst.Call) -> str | None:
        func = call.func
        name = final_name(func)
        attribute = isinstance(func, cst.Attribute)
        if name in catalog.BACKWARD_METHODS and attribute:
            return BACKWARD
        if is_clip_name(name) or clamps_grad(call):
            return CLIP
        if is_clip_name((self.imports.qualify(func) or "").rpartition(".")[2]):
            return CLIP  # from torch.nn.utils import clip_grad_norm_ as clip
        helper = self.clip_helpers and name in self.scan.clip_helpers
        if helper and isinstance(func, cst.Name | cst.Attribute):
            return CLIP
        if name == catalog.STEP_METHOD and attribute and self.is_optimizer(call):
            return STEP
        if name is not None and catalog.UNSCALE_TOKEN in name.lower():
            return UNSCALE
        if name in catalog.ZERO_GRAD_METHODS and attribute:
            return ZERO_GRAD
        return None

    def is_optimizer(self, call: cst.Call) -> bool:
        assert isinstance(call.func, cst.Attribute)
        receiver = final_name(call.func.value)
        if receiver is None or scheduler_like(receiver) or receiver in self.scan.schedulers:
            return False
        if scaler_like(receiver) or receiver in self.scan.scalers:
            return bool(call.args)  # scaler.step(optimizer)
        return receiver in self.scan.optimizers or optimizer_like(receiver)

    def scaled(self, backward: cst.Call) -> bool:
        """``scaler.scale(loss).backward()`` or ``scaled.backward()`` with ``scaled`` bound to
        ``scaler.scale(loss)``: the gradients it leaves are multiplied by the loss scale."""
        func = backward.func
        if not isinstance(func, cst.Attribute):
            return False
        receiver = func.value
        if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
            owner = final_name(receiver.func.value) or ""
            return receiver.func.attr.value == catalog.SCALE_METHOD and (
                scaler_like(owner) or owner in self.scan.scalers
            )
        return isinstance(receiver, cst.Name) and receiver.value in self.scan.scaled


__all__ = [
    "BACKWARD",
    "CLIP",
    "HELPER_DEPTH",
    "STEP",
    "UNSCALE",
    "ZERO_GRAD",
    "Classifier",
    "Imports",
    "TrainingScan",
    "children",
    "clamps_grad",
    "final_name",
    "is_clip_name",
    "measures_only",
    "scaler_like",
    "scan_training",
    "small_statements",
    "source",
    "statements",
    "walk",
]
