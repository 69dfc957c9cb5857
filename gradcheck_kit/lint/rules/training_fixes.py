"""Fixes of the training-step rules (GCK004, GCK007), on the libcst tree they already read: here
GCK004's (insert a gradient clip between backward and step, with ``scaler.unscale_(opt)`` first
under AMP) and what both share; GCK007's (move a misplaced clip, unscale before a clip of scaled
gradients) are :mod:`~gradcheck_kit.lint.rules.clip_fixes`.

Every edit is a whole line at a statement the rule located: a fix is offered only where the
call is the whole statement of its line, in an indented block (never ``if x: opt.step()`` or
``backward(); step()`` on one line), and only when the rule's own analysis of the fixed text no
longer reports it (nor reports a new GCK007) - so ``--fix`` cannot leave the finding behind.
All are "unsafe": clipping changes every update it bounds.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradcheck_kit import catalog
from gradcheck_kit.lint.rules.flow import TooManyPaths
from gradcheck_kit.lint.rules.training import (
    Imports,
    statements,
    bind,
    children,
    dotted,
    final_name,
    scaler_like,
    walk,
)
from gradcheck_kit.report.findings import Edit, Fix

if TYPE_CHECKING:
    from gradcheck_kit.lint.rules.base import RuleContext

UNSAFE = "unsafe"
MAX_NORM = "1.0"
#: Names a model goes by when no optimizer construction of the file says which it is.
MODEL_NAMES = ("model", "net", "network")
_CLIP_NORM = catalog.CLIP_GRAD_NORM.rsplit(".", 1)[-1]


def code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


# --- where statements are ----------------------------------------------------------------------


@dataclass
class Statement:
    """A line whose only statement is one call (``opt.step()``), or one call assigned to names
    (``norm = clip_grad_norm_(...)``: ``assigned``)."""

    line: cst.SimpleStatementLine
    function: cst.FunctionDef | None  # the innermost def around it (None: module level)
    owner: cst.ClassDef | None  # the class of that def's method (or of an enclosing one)
    block: Sequence[cst.CSTNode]  # the statement list that holds it
    assigned: tuple[str, ...] = ()


@dataclass
class FileIndex:
    """One walk of the module: the call statements, the optimizer constructions (with where
    they are) and the names each function and the module bind."""

    statements: dict[int, Statement] = field(default_factory=dict)  # id(call) -> its statement
    #: optimizer name -> (its model expression, the def and class around the construction)
    optimizers: list[tuple[str, cst.BaseExpression, Statement]] = field(default_factory=list)
    bound: dict[int, set[str]] = field(default_factory=dict)  # id(def) (0: module) -> names
    #: ``scaled = scaler.scale(loss)``: scaled -> scaler (as written)
    scaled: dict[str, str] = field(default_factory=dict)
    #: ``self.model = model`` in a method: (id(method), model) -> ``self.model``
    attributes: dict[tuple[int, str], str] = field(default_factory=dict)

    @classmethod
    def of(cls, module: cst.Module, imports: Imports) -> FileIndex:
        index = cls()
        index.bound[0] = _module_names(module)
        index.block(module.body, None, None, imports)
        return index

    def block(
        self,
        body: Sequence[cst.CSTNode],
        function: cst.FunctionDef | None,
        owner: cst.ClassDef | None,
        imports: Imports,
    ) -> None:
        for node in body:
            if isinstance(node, cst.SimpleStatementLine):
                self.simple(node, body, function, owner, imports)
            elif isinstance(node, cst.FunctionDef):
                self.bound[id(node)] = _function_names(node)
                self.suite(node.body, node, owner, imports)
            elif isinstance(node, cst.ClassDef):
                self.suite(node.body, None, node, imports)
            else:
                for child in _blocks(node):
                    self.block(child, function, owner, imports)

    def suite(
        self,
        suite: cst.BaseSuite,
        function: cst.FunctionDef | None,
        owner: cst.ClassDef | None,
        imports: Imports,
    ) -> None:
        if isinstance(suite, cst.IndentedBlock):
            self.block(suite.body, function, owner, imports)

    def simple(
        self,
        line: cst.SimpleStatementLine,
        body: Sequence[cst.CSTNode],
        function: cst.FunctionDef | None,
        owner: cst.ClassDef | None,
        imports: Imports,
    ) -> None:
        here = Statement(line, function, owner, body)
        only = line.body[0] if len(line.body) == 1 else None
        if isinstance(only, cst.Expr) and isinstance(only.value, cst.Call):
            self.statements[id(only.value)] = here
        elif isinstance(only, cst.Assign) and isinstance(only.value, cst.Call):
            plain = tuple(t.target.value for t in only.targets if isinstance(t.target, cst.Name))
            if len(plain) == len(only.targets):
                self.statements[id(only.value)] = Statement(line, function, owner, body, plain)
            func = only.value.func
            if len(plain) == 1 and isinstance(func, cst.Attribute):
                if func.attr.value == catalog.SCALE_METHOD:  # two scalers: ambiguous ("")
                    scaler = code(func.value)
                    known = self.scaled.setdefault(plain[0], scaler)
                    self.scaled[plain[0]] = scaler if known == scaler else ""
        if (
            isinstance(only, cst.Assign)
            and function is not None
            and isinstance(only.value, cst.Name)
            and len(only.targets) == 1
            and (dotted(only.targets[0].target) or "").startswith("self.")
        ):
            key = (id(function), only.value.value)
            self.attributes.setdefault(key, code(only.targets[0].target))
        for small in line.body:
            targets: list[cst.BaseExpression] = []
            if isinstance(small, cst.Assign):
                targets, value = [t.target for t in small.targets], small.value
            elif isinstance(small, cst.AnnAssign) and small.value is not None:
                targets, value = [small.target], small.value
            else:
                continue
            model = _optimized_model(value, imports)
            if model is not None:
                names: set[str] = set()
                for target in targets:
                    bind(target, names)
                self.optimizers.extend((name, model, here) for name in names)


def _blocks(node: cst.CSTNode) -> list[Sequence[cst.CSTNode]]:
    """The statement lists of a compound statement (branches, loop bodies, handlers...)."""
    out: list[Sequence[cst.CSTNode]] = []
    for child in children(node):
        if isinstance(child, cst.IndentedBlock):
            out.append(child.body)
        elif isinstance(child, (cst.Else, cst.If, cst.ExceptHandler, cst.ExceptStarHandler,
                                cst.Finally, cst.MatchCase)):  # fmt: skip
            out.extend(_blocks(child))
    return out


def _optimized_model(value: cst.BaseExpression, imports: Imports) -> cst.BaseExpression | None:
    """``torch.optim.Adam(model.parameters(), ...)`` -> ``model``."""
    if not isinstance(value, cst.Call):
        return None
    if not (imports.qualify(value.func) or "").startswith(catalog.OPTIMIZER_NAMESPACE):
        return None
    params = [a for a in value.args if a.keyword is None and not a.star][:1]
    params += [a for a in value.args if a.keyword is not None and a.keyword.value == "params"]
    if len(params) != 1:
        return None
    call = params[0].value
    if (
        isinstance(call, cst.Call)
        and not call.args
        and isinstance(call.func, cst.Attribute)
        and call.func.attr.value == catalog.PARAMETERS_METHOD
        and dotted(call.func.value) is not None
    ):
        return call.func.value
    return None


def _function_names(definition: cst.FunctionDef) -> set[str]:
    names = {p.name.value for p in _params(definition.params)}
    for node in walk(definition.body):
        if isinstance(node, cst.AssignTarget):
            bind(node.target, names)
        elif isinstance(node, (cst.AnnAssign, cst.For)):
            bind(node.target, names)
        elif isinstance(node, cst.AsName) and isinstance(node.name, cst.Name):
            names.add(node.name.value)
    return names


def _params(params: cst.Parameters) -> list[cst.Param]:
    out = [*params.posonly_params, *params.params, *params.kwonly_params]
    out += [p for p in (params.star_arg, params.star_kwarg) if isinstance(p, cst.Param)]
    return out


def _module_names(module: cst.Module) -> set[str]:
    """Names the module body binds (assignments, imports, defs), not inside defs or classes."""
    names: set[str] = set()
    stack: list[cst.CSTNode] = list(module.body)
    while stack:
        node = stack.pop()
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            names.add(node.name.value)
            continue
        if isinstance(node, cst.AssignTarget):
            bind(node.target, names)
        elif isinstance(node, (cst.AnnAssign, cst.For)):
            bind(node.target, names)
        elif isinstance(node, cst.ImportAlias):
            alias = node.asname.name if node.asname is not None else None
            if isinstance(alias, cst.Name):
                names.add(alias.value)
            else:
                names.add((dotted(node.name) or "").split(".", 1)[0])
        stack.extend(children(node))
    return names


def clip_function(module: cst.Module) -> str | None:
    """How the module's top-level imports name ``clip_grad_norm_``: through ``torch``,
    ``torch.nn``, ``torch.nn.utils``, or the function itself; None when they do not (then no
    fix: a fix adds no import)."""
    found: dict[str, str] = {}
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    full = dotted(alias.name) or ""
                    asname = alias.asname.name if alias.asname is not None else None
                    if isinstance(asname, cst.Name):
                        found.setdefault(full, asname.value)
                    else:
                        found.setdefault(full.split(".", 1)[0], full.split(".", 1)[0])
            elif isinstance(small, cst.ImportFrom) and small.module is not None:
                if small.relative or isinstance(small.names, cst.ImportStar):
                    continue
                base = dotted(small.module) or ""
                for alias in small.names:
                    asname = alias.asname.name if alias.asname is not None else None
                    local = asname.value if isinstance(asname, cst.Name) else code(alias.name)
                    found.setdefault(f"{base}.{code(alias.name)}", local)
    qualified = catalog.CLIP_GRAD_NORM
    parts = qualified.split(".")
    for size in range(1, len(parts) + 1):  # torch, torch.nn, torch.nn.utils, the function
        module_name = ".".join(parts[:size])
        if module_name in found:
            return found[module_name] + qualified[len(module_name) :]
    return None


# --- edits -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Place:
    """A statement's lines: first and last (1-based), its indentation."""

    line: int
    end_line: int
    indent: str


def place(ctx: RuleContext, statement: Statement) -> Place | None:
    """Where a one-call statement is, when it begins its line and ends it (a comment aside)."""
    whole = ctx.locate(statement.line.body[0])
    if whole is None:
        return None
    indent = ctx.line_text(whole.line)[: whole.column - 1]
    if indent.strip():
        return None
    rest = ctx.line_text(whole.end_line)[whole.end_column - 1 :].strip()
    if rest and not rest.startswith("#"):
        return None
    return Place(whole.line, whole.end_line, indent)


def unread_between(ctx: RuleContext, names: Sequence[str], at: Place, to: Place) -> bool:
    """No line between a moved assignment and where it goes names what it assigns (read by
    word, conservatively: a comment or a string counts too)."""
    lines = range(at.end_line + 1, to.line) if at.line < to.line else range(to.line, at.line)
    words = re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b")
    return not any(words.search(ctx.line_text(n)) for n in lines)


def insert_before(ctx: RuleContext, at: Place, lines: Sequence[str]) -> Edit:
    text = "".join(f"{at.indent}{line}{ctx.newline}" for line in lines)
    return Edit(at.line, 1, at.line, 1, text)


def delete(at: Place) -> Edit:
    return Edit(at.line, 1, at.end_line + 1, 1, "")


def moved(ctx: RuleContext, at: Place, to: Place) -> list[str]:
    """A statement's lines, re-indented from ``at``'s indentation to ``to``'s (comments kept)."""
    out = []
    for number in range(at.line, at.end_line + 1):
        text = ctx.line_text(number)
        out.append(text[len(at.indent) :] if text.startswith(at.indent) else text.lstrip())
    return out


def verified(
    ctx: RuleContext, edits: Sequence[Edit], still: Callable[[cst.Module, str], bool]
) -> bool:
    """The fixed text parses and ``still`` (the rule's analysis of it) no longer reports."""
    from gradcheck_kit.lint.fixes import apply_fixes

    text = ctx.text
    if not text:
        return False
    try:
        fixed, applied = apply_fixes(text, [Fix("check", UNSAFE, tuple(edits))])
        module = cst.parse_module(fixed)
        return bool(applied) and not still(module, fixed)
    except (ValueError, cst.ParserSyntaxError, TooManyPaths, RecursionError):
        return False


# --- GCK004: insert a clip ---------------------------------------------------------------------


def receiver_of(call: cst.Call) -> cst.BaseExpression | None:
    return call.func.value if isinstance(call.func, cst.Attribute) else None


def _model(
    optimizer: cst.BaseExpression, where: Statement, index: FileIndex
) -> cst.BaseExpression | None:
    """The model an optimizer optimizes, as an expression valid at ``where``: from the file's
    ``torch.optim.X(model.parameters())`` bound to the optimizer's name (the one in the same
    function first), else a parameter or local called ``model``/``net``/``network``."""
    name = final_name(optimizer)
    found = [(m, s) for n, m, s in index.optimizers if n == name]
    local = [(m, s) for m, s in found if s.function is where.function]
    candidates = local or found
    models: dict[str, cst.BaseExpression] = {}
    for model, built in candidates:
        if _visible(model, where, candidates, index):
            models[code(model)] = model
        elif where.owner is not None and built.owner is where.owner and built.function:
            # built on a parameter that the method keeps as ``self.model``: that, here
            root, dot, rest = code(model).partition(".")
            kept = index.attributes.get((id(built.function), root))
            if kept is not None:
                models[kept + dot + rest] = cst.parse_expression(kept + dot + rest)
    if len(models) == 1:
        return next(iter(models.values()))
    if candidates:
        return None
    scope = index.bound.get(id(where.function) if where.function is not None else 0, set())
    for candidate in MODEL_NAMES:
        if candidate in scope:
            return cst.Name(candidate)
    return None


def _visible(
    model: cst.BaseExpression,
    where: Statement,
    constructions: list[tuple[cst.BaseExpression, Statement]],
    index: FileIndex,
) -> bool:
    root = (dotted(model) or "").split(".", 1)[0]
    if root == "self":
        return where.owner is not None and any(s.owner is where.owner for _, s in constructions)
    scope = index.bound.get(id(where.function), set()) if where.function is not None else set()
    return root in scope or root in index.bound[0]


def clip_lines(
    step: cst.Call,
    backwards: Sequence[cst.Call],
    unscaled: frozenset[bool],
    module: cst.Module,
    where: Statement,
    index: FileIndex,
) -> list[str] | None:
    """The lines that clip before ``step``: Lightning's, accelerate's or fabric's own clip after
    their backward, else ``torch.nn.utils.clip_grad_norm_`` (after ``scaler.unscale_(opt)``
    when a GradScaler steps and nothing unscaled yet)."""
    kinds = set()
    for backward in backwards:
        receiver = receiver_of(backward)
        owner = (final_name(receiver) or "").lower() if receiver is not None else ""
        if final_name(backward.func) != "backward":
            kinds.add(("lightning", "self"))
        elif backward.args and receiver is not None and owner in ("accelerator", "fabric"):
            kinds.add((owner, code(receiver)))
        elif not backward.args:
            kinds.add(("torch", ""))
        else:
            return None
    if len(kinds) != 1:
        return None
    kind, framework = kinds.pop()
    receiver = receiver_of(step)
    if receiver is None:
        return None
    scaler = scaler_like(final_name(receiver) or "")
    optimizer = step.args[0].value if scaler and step.args else receiver
    if scaler and not step.args:
        return None
    if kind == "lightning":
        return [
            f"self.clip_gradients({code(optimizer)}, gradient_clip_val={MAX_NORM}, "
            'gradient_clip_algorithm="norm")'
        ]
    model = _model(optimizer, where, index)
    if model is None:
        return None
    if kind == "fabric":
        return [
            f"{framework}.clip_gradients({code(model)}, {code(optimizer)}, max_norm={MAX_NORM})"
        ]
    if kind == "accelerator":
        return [f"{framework}.{_CLIP_NORM}({code(model)}.parameters(), max_norm={MAX_NORM})"]
    clip = clip_function(module)
    if clip is None or len(unscaled) != 1:
        return None
    lines = [f"{clip}({code(model)}.parameters(), max_norm={MAX_NORM})"]
    if scaler and not next(iter(unscaled)):
        lines.insert(0, f"{code(receiver)}.unscale_({code(optimizer)})")
    return lines


def unclipped_fix(
    ctx: RuleContext,
    module: cst.Module,
    step: cst.Call,
    backwards: Sequence[cst.Call],
    unscaled: frozenset[bool],
    index: FileIndex,
    still: Callable[[cst.Module, str], bool],
) -> Fix | None:
    """GCK004's fix: the clip on its own line just before the step."""
    where = index.statements.get(id(step))
    if where is None:
        return None
    at = place(ctx, where)
    lines = clip_lines(step, backwards, unscaled, module, where, index)
    if at is None or lines is None:
        return None
    edits = [insert_before(ctx, at, lines)]
    if not verified(ctx, edits, still):
        return None
    return Fix(f"Clip gradients before the step: {'; '.join(lines)}", UNSAFE, tuple(edits))


__all__ = [
    "FileIndex",
    "Place",
    "Statement",
    "clip_function",
    "code",
    "delete",
    "insert_before",
    "moved",
    "place",
    "receiver_of",
    "unclipped_fix",
    "unread_between",
    "verified",
]
