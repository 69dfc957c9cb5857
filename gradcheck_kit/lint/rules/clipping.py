"""GCK004: training steps of recurrent models with no gradient clipping between backward and step.

A purely syntactic pass over the parsed module (no torch import, nothing run): names are
resolved through the file's own import statements, and each function body (and the module body)
is walked in statement order, following both arms of every branch, to find an optimizer step
that a backward reaches with no clipping call on any path in between.

Precision comes first, so everything that may clip is taken to clip: any call whose name speaks
of clipping gradients (``clip_grad_norm_``, ``accelerator.clip_grad_norm_``,
``self.clip_gradients``, timm's ``dispatch_clip_grad``...), a same-file helper that makes such a
call, ``p.grad.clamp_(...)``, a gradient hook that clamps, and files that hand training to a
framework that clips (Lightning's ``gradient_clip_val``, Hugging Face's ``max_grad_norm`` and
``Trainer``). A step is an optimizer's only when its receiver is bound to ``torch.optim.*`` in
the file or is named like an optimizer (``opt``, ``optim``, ``optimizer_g``,
``self.optimizers()``) or is a ``GradScaler``'s ``step(optimizer)``; never a ``*sched*``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradcheck_kit import catalog
from gradcheck_kit.report.findings import Finding

if TYPE_CHECKING:
    from gradcheck_kit.lint.facts import FileFacts
    from gradcheck_kit.lint.rules.base import RuleContext

CODE = "GCK004"
NAME = "unclipped-recurrent-training"


_RECURRENT_ORDER = catalog.RECURRENT_MODULES
RECURRENT = frozenset(_RECURRENT_ORDER)
_RECURRENT_MODULES = frozenset({"torch.nn", "torch.nn.modules", "torch.nn.modules.rnn"})
_HF_ROOTS = frozenset({"transformers", "trl"})
_CLIP_KEYWORDS = frozenset({"gradient_clip_val", "max_grad_norm"})
_OPTIMIZER_TOKENS = frozenset({"opt", "opts", "optim", "optims"})
_CLAMPS = frozenset({"clamp", "clamp_", "clip", "clip_"})
_HELPER_DEPTH = 3


def _tokens(identifier: str) -> list[str]:
    """``optimizer_g`` -> [optimizer, g]; ``optD`` -> [opt, d]; ``gOptim2`` -> [g, optim]."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", identifier)
    return [t for t in re.split(r"[_\d]+", spaced.lower()) if t]


def _optimizer_like(identifier: str) -> bool:
    tokens = _tokens(identifier)
    return any(t in _OPTIMIZER_TOKENS or t.startswith(("optimiz", "optimis")) for t in tokens)


def _scheduler_like(identifier: str) -> bool:
    return "sched" in identifier.lower()


def _scaler_like(identifier: str) -> bool:
    return "scaler" in identifier.lower()


def _final_name(node: cst.BaseExpression) -> str | None:
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


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base is not None else None
    return None


class _Imports:
    """Local name -> qualified name, from every import statement in the file."""

    def __init__(self, module: cst.Module) -> None:
        self.aliases: dict[str, str] = {}
        self.star: set[str] = set()
        for node in _walk(module):
            if isinstance(node, cst.Import):
                for alias in node.names:
                    full = _dotted(alias.name) or ""
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        self.aliases[alias.asname.name.value] = full
                    else:
                        root = full.split(".", 1)[0]
                        self.aliases.setdefault(root, root)
            elif isinstance(node, cst.ImportFrom) and node.module is not None:
                if node.relative:
                    continue
                base = _dotted(node.module) or ""
                if isinstance(node.names, cst.ImportStar):
                    self.star.add(base)
                    continue
                for alias in node.names:
                    name = _dotted(alias.name) or ""
                    local = name
                    if alias.asname is not None and isinstance(alias.asname.name, cst.Name):
                        local = alias.asname.name.value
                    self.aliases[local] = f"{base}.{name}"

    def qualify(self, node: cst.BaseExpression) -> str | None:
        dotted = _dotted(node)
        if dotted is None:
            return None
        head, _, rest = dotted.partition(".")
        if head in self.aliases:
            full = self.aliases[head]
            return f"{full}.{rest}" if rest else full
        if not rest and head in RECURRENT and self.star & _RECURRENT_MODULES:
            return f"torch.nn.{head}"
        return None


_FIELDS: dict[type, tuple[str, ...]] = {}


def _children(node: cst.CSTNode) -> list[cst.CSTNode]:
    """A node's child nodes, read straight off its dataclass fields: libcst's ``children``
    property re-visits the node to collect them and made this pass cost ten parses."""
    names = _FIELDS.get(type(node))
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(node))
        _FIELDS[type(node)] = names
    out: list[cst.CSTNode] = []
    for name in names:
        value = getattr(node, name)
        if isinstance(value, cst.CSTNode):
            out.append(value)
        elif isinstance(value, (list, tuple)):
            out.extend(v for v in value if isinstance(v, cst.CSTNode))
    return out


def _walk(node: cst.CSTNode) -> Iterator[cst.CSTNode]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(_children(current)))


def _recurrent_name(qualified: str | None) -> str | None:
    if qualified is None:
        return None
    module, _, name = qualified.rpartition(".")
    return name if name in RECURRENT and module in _RECURRENT_MODULES else None


def _is_falsy_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Name):
        return node.value in {"None", "False"}
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.value.replace("_", "")) == 0.0
    return False


def _is_clip_name(name: str | None) -> bool:
    if name is None:
        return False
    lowered = name.lower()
    return "clip" in lowered and "grad" in lowered


@dataclass
class _FileScan:
    """What one pass over the whole file learns."""

    recurrent: dict[str, cst.CSTNode] = field(default_factory=dict)  # class -> first use
    framework_clips: bool = False
    optimizers: set[str] = field(default_factory=set)  # identifiers bound to torch.optim.*
    schedulers: set[str] = field(default_factory=set)  # identifiers bound to lr schedulers
    clip_helpers: set[str] = field(default_factory=set)  # same-file functions that clip


def _scan(module: cst.Module, imports: _Imports) -> _FileScan:
    scan = _FileScan()
    ignored: set[int] = set()  # isinstance() type arguments and annotations: not a use
    functions: dict[str, list[cst.FunctionDef]] = {}
    for node in _walk(module):
        if isinstance(node, cst.FunctionDef):
            functions.setdefault(node.name.value, []).append(node)
        if isinstance(node, cst.Annotation):
            ignored.update(id(n) for n in _walk(node))
        elif isinstance(node, cst.Call):
            _scan_call(node, imports, scan, ignored)
        elif isinstance(node, (cst.Name, cst.Attribute)) and id(node) not in ignored:
            name = _recurrent_name(imports.qualify(node))
            if name is not None:
                scan.recurrent.setdefault(name, node)
        elif isinstance(node, cst.Assign):
            _scan_binding(node.value, [t.target for t in node.targets], imports, scan)
        elif isinstance(node, cst.AnnAssign) and node.value is not None:
            _scan_binding(node.value, [node.target], imports, scan)
        elif isinstance(node, (cst.For, cst.CompFor)):
            source = _final_name(node.iter)
            if source is not None and (source in scan.optimizers or _optimizer_like(source)):
                _bind(node.target, scan.optimizers)
    scan.clip_helpers = _clip_helpers(functions)
    return scan


def _scan_call(call: cst.Call, imports: _Imports, scan: _FileScan, ignored: set[int]) -> None:
    func = _final_name(call.func)
    if func in {"isinstance", "issubclass"} and len(call.args) >= 2:
        ignored.update(id(n) for n in _walk(call.args[1]))
    if func == "getattr" and len(call.args) >= 2:
        owner = imports.qualify(call.args[0].value)
        attr = call.args[1].value
        if owner in _RECURRENT_MODULES and isinstance(attr, cst.SimpleString):
            name = attr.evaluated_value
            if isinstance(name, str) and name in RECURRENT:
                scan.recurrent.setdefault(name, call)
    for arg in call.args:
        keyword = arg.keyword.value if arg.keyword is not None else None
        if keyword in _CLIP_KEYWORDS and not _is_falsy_literal(arg.value):
            scan.framework_clips = True
    qualified = imports.qualify(call.func)
    if qualified is not None:
        root, _, _ = qualified.partition(".")
        last = qualified.rsplit(".", 1)[-1]
        if root in _HF_ROOTS and last.endswith(("Trainer", "TrainingArguments")):
            scan.framework_clips = True
    if func == "register_hook" and any(
        isinstance(n, cst.Name | cst.Attribute) and _final_name(n) in _CLAMPS
        for arg in call.args
        for n in _walk(arg)
    ):
        scan.framework_clips = True  # a gradient hook that clamps clips every backward


def _scan_binding(
    value: cst.BaseExpression,
    targets: Sequence[cst.BaseExpression],
    imports: _Imports,
    scan: _FileScan,
) -> None:
    if isinstance(value, cst.Dict):
        for element in value.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value in _CLIP_KEYWORDS
                and not _is_falsy_literal(element.value)
            ):
                scan.framework_clips = True
        return
    if not isinstance(value, cst.Call):
        return
    qualified = imports.qualify(value.func) or ""
    if qualified.startswith("torch.optim.lr_scheduler."):
        for target in targets:
            _bind(target, scan.schedulers)
    elif qualified.startswith("torch.optim.") or (
        _final_name(value.func) == "optimizers" and isinstance(value.func, cst.Attribute)
    ):
        for target in targets:
            _bind(target, scan.optimizers)


def _bind(target: cst.BaseExpression, into: set[str]) -> None:
    if isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _bind(element.value, into)
    elif isinstance(target, (cst.Name, cst.Attribute)):
        name = _final_name(target)
        if name is not None:
            into.add(name)


def _clip_helpers(functions: dict[str, list[cst.FunctionDef]]) -> set[str]:
    """Names of same-file functions whose body clips, directly or through other helpers."""
    calls: dict[str, set[str]] = {}
    clips: set[str] = set()
    for name, defs in functions.items():
        called: set[str] = set()
        for definition in defs:
            for node in _walk(definition.body):
                if isinstance(node, cst.Call):
                    callee = _final_name(node.func)
                    if _is_clip_name(callee) or _clamps_grad(node):
                        clips.add(name)
                    elif callee is not None:
                        called.add(callee)
        calls[name] = called
    for _ in range(_HELPER_DEPTH):
        clips |= {name for name, called in calls.items() if called & clips}
    return clips


def _clamps_grad(call: cst.Call) -> bool:
    """``p.grad.clamp_(-1, 1)``, ``p.grad.data.clip_(...)``: clipping by value by hand."""
    func = call.func
    if not isinstance(func, cst.Attribute) or func.attr.value not in _CLAMPS:
        return False
    dotted = _dotted(func.value) or ""
    return "grad" in dotted.split(".")


# --- the path walk ---------------------------------------------------------------------------

# A path state: the backward call not yet consumed by a step (None: none pending) and whether
# gradient clipping happened after it.
_State = tuple[cst.Call | None, bool]
_States = dict[tuple[int, bool], _State]


def _states(items: Iterable[_State]) -> _States:
    return {(0 if b is None else id(b), clipped): (b, clipped) for b, clipped in items}


_START: _States = _states([(None, False)])


@dataclass
class _Step:
    call: cst.Call
    backwards: list[cst.Call]
    symbol: str | None


class _Walker:
    def __init__(self, scan: _FileScan, imports: _Imports) -> None:
        self.scan = scan
        self.imports = imports
        self.steps: list[_Step] = []
        self.symbol: str | None = None

    # classification of calls

    def _kind(self, call: cst.Call) -> str | None:
        func = call.func
        name = _final_name(func)
        if name in {"backward", "manual_backward"} and isinstance(func, cst.Attribute):
            return "backward"
        if _is_clip_name(name) or _clamps_grad(call):
            return "clip"
        if _is_clip_name((self.imports.qualify(func) or "").rpartition(".")[2]):
            return "clip"  # from torch.nn.utils import clip_grad_norm_ as clip
        if name in self.scan.clip_helpers and isinstance(func, cst.Name | cst.Attribute):
            return "clip"
        if name == "step" and isinstance(func, cst.Attribute) and self._is_optimizer(call):
            return "step"
        return None

    def _is_optimizer(self, call: cst.Call) -> bool:
        assert isinstance(call.func, cst.Attribute)
        receiver = _final_name(call.func.value)
        if receiver is None or _scheduler_like(receiver) or receiver in self.scan.schedulers:
            return False
        if _scaler_like(receiver):
            return bool(call.args)  # scaler.step(optimizer)
        return receiver in self.scan.optimizers or _optimizer_like(receiver)

    # evaluation

    def calls(self, node: cst.CSTNode, states: _States) -> _States:
        """Apply the calls of an expression or simple statement in evaluation order."""
        for call in _calls_in_order(node):
            kind = self._kind(call)
            if kind == "backward":
                states = _states([(call, False)])
            elif kind == "clip":
                states = _states((b, clipped or b is not None) for b, clipped in states.values())
            elif kind == "step":
                pending = [(b, clipped) for b, clipped in states.values() if b is not None]
                if pending and not any(clipped for _, clipped in pending):
                    backwards = list({id(b): b for b, _ in pending if b is not None}.values())
                    self.steps.append(_Step(call, backwards, self.symbol))
                states = dict(_START)
        return states

    def block(self, body: Sequence[cst.CSTNode], states: _States) -> _States:
        for statement in body:
            states = self.statement(statement, states)
        return states

    def suite(self, suite: cst.BaseSuite | None, states: _States) -> _States:
        if suite is None:
            return states
        if isinstance(suite, cst.IndentedBlock):
            return self.block(suite.body, states)
        assert isinstance(suite, cst.SimpleStatementSuite)
        return self.block(suite.body, states)

    def statement(self, node: cst.CSTNode, states: _States) -> _States:
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return states  # their bodies are scopes of their own
        if isinstance(node, cst.SimpleStatementLine):
            return self.block(node.body, states)
        if isinstance(node, cst.If):
            states = self.calls(node.test, states)
            taken = self.suite(node.body, states)
            other = self._orelse(node.orelse, states)
            return taken | other
        if isinstance(node, (cst.For, cst.While)):
            head = node.iter if isinstance(node, cst.For) else node.test
            states = self.calls(head, states)
            looped = self.suite(node.body, states)
            return states | looped | self._orelse(node.orelse, states | looped)
        if isinstance(node, cst.With):
            for item in node.items:
                states = self.calls(item.item, states)
            return self.suite(node.body, states)
        if isinstance(node, (cst.Try, cst.TryStar)):
            body = self.suite(node.body, states)
            out = self._orelse(node.orelse, body)
            for handler in node.handlers:
                out = out | self.suite(handler.body, states | body)
            if node.finalbody is not None:
                out = self.suite(node.finalbody.body, out)
            return out
        if isinstance(node, cst.Match):
            states = self.calls(node.subject, states)
            out = dict(states)
            for case in node.cases:
                out |= self.suite(case.body, states)
            return out
        if isinstance(node, cst.BaseSmallStatement):
            return self.calls(node, states)
        return states

    def _orelse(self, orelse: cst.CSTNode | None, states: _States) -> _States:
        if orelse is None:
            return states
        if isinstance(orelse, cst.If):
            return self.statement(orelse, states)
        if isinstance(orelse, (cst.Else, cst.Finally)):
            return self.suite(orelse.body, states)
        return states


def _calls_in_order(node: cst.CSTNode) -> list[cst.Call]:
    """Calls in evaluation order (arguments and receivers before the call), skipping nested
    function bodies and lambdas, which do not run here."""
    out: list[cst.Call] = []

    def visit(current: cst.CSTNode) -> None:
        if isinstance(current, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            return
        for child in current.children:
            visit(child)
        if isinstance(current, cst.Call):
            out.append(current)

    visit(node)
    return out


def _scopes(module: cst.Module) -> Iterator[tuple[Sequence[cst.CSTNode], str | None]]:
    """The module body and every function body, with the function's dotted name."""
    yield module.body, None
    stack: list[tuple[cst.CSTNode, str]] = [(statement, "") for statement in module.body]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, cst.FunctionDef):
            name = f"{prefix}{node.name.value}"
            body = node.body
            if isinstance(body, cst.IndentedBlock):
                yield body.body, name
                stack.extend((child, f"{name}.") for child in body.body)
            else:
                yield body.body, name
        elif isinstance(node, cst.ClassDef):
            name = f"{prefix}{node.name.value}"
            stack.extend((child, f"{name}.") for child in _statements(node.body))
        else:
            stack.extend((child, prefix) for child in _nested_statements(node))


def _statements(suite: cst.BaseSuite) -> Sequence[cst.CSTNode]:
    return suite.body if isinstance(suite, cst.IndentedBlock) else ()


def _nested_statements(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Statements nested in a compound statement (a def inside ``if TYPE_CHECKING:``...)."""
    if isinstance(node, cst.SimpleStatementLine):
        return []
    out: list[cst.CSTNode] = []
    for child in node.children:
        if isinstance(child, cst.IndentedBlock):
            out.extend(child.body)
        elif isinstance(
            child,
            (
                cst.Else,
                cst.If,
                cst.ExceptHandler,
                cst.ExceptStarHandler,
                cst.Finally,
                cst.MatchCase,
            ),
        ):
            out.extend(_nested_statements(child))
    return out


def unclipped_steps(module: cst.Module) -> tuple[list[_Step], dict[str, cst.CSTNode]]:
    """The unclipped training steps of a file that trains a recurrent model, and the recurrent
    classes it uses (with where each is first used)."""
    imports = _Imports(module)
    scan = _scan(module, imports)
    if not scan.recurrent or scan.framework_clips:
        return [], scan.recurrent
    walker = _Walker(scan, imports)
    for body, symbol in _scopes(module):
        walker.symbol = symbol
        walker.block(body, dict(_START))
    unique = {id(step.call): step for step in walker.steps}
    return list(unique.values()), scan.recurrent


def _message(step: cst.Call, recurrent: list[str]) -> str:
    what = cst.Module([]).code_for_node(step)
    if len(what) > 40 or "\n" in what:
        what = cst.Module([]).code_for_node(step.func) + "(...)"
    models = ", ".join(f"nn.{name}" for name in recurrent)
    amp = ""
    if isinstance(step.func, cst.Attribute) and _scaler_like(_final_name(step.func.value) or ""):
        amp = " (with AMP, call scaler.unscale_(optimizer) first)"
    return (
        f"{what} applies gradients from a backward pass with no gradient clipping in between, "
        f"in a file that trains a recurrent model ({models}): gradients through time can "
        "explode and the loss ends in inf/NaN (Pascanu et al., 2013). Clip between backward and "
        f"step{amp}: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)."
    )


def check_unclipped_recurrent_training(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    module = facts.module
    if not isinstance(module, cst.Module):
        return
    steps, recurrent = unclipped_steps(module)
    if not steps:
        return
    names = [name for name in _RECURRENT_ORDER if name in recurrent]
    for step in steps:
        span = ctx.locate(step.call)
        if span is None:
            continue
        related = ctx.related(
            [(backward, "backward pass this step applies") for backward in step.backwards]
            + [(recurrent[name], f"nn.{name} (recurrent model)") for name in names]
        )
        yield Finding(
            code=CODE,
            name=NAME,
            message=_message(step.call, names),
            path=ctx.path,
            line=span.line,
            column=span.column,
            end_line=span.end_line,
            end_column=span.end_column,
            severity="warning",
            activations=(),
            symbol=step.symbol,
            related=related,
        )


__all__ = ["CODE", "NAME", "RECURRENT", "check_unclipped_recurrent_training"]
