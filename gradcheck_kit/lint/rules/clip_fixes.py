"""GCK007's fixes (:mod:`~gradcheck_kit.lint.rules.training_fixes` has what they share with
GCK004's): a clip before the backward moves just before the step it should bound, one after the
step just before that step, a clip of scaled gradients gets ``scaler.unscale_(opt)`` before it,
and a clip in a LightningModule's ``training_step`` moves to an ``on_before_optimizer_step``
hook. Each is kept only when GCK007's analysis of the fixed file no longer reports the clip."""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from gradcheck_kit import catalog
from gradcheck_kit.lint.rules.base import RuleContext
from gradcheck_kit.lint.rules.training import children, final_name, scaler_like, statements, walk
from gradcheck_kit.lint.rules.training_fixes import (
    UNSAFE,
    FileIndex,
    Place,
    Statement,
    code,
    delete,
    insert_before,
    moved,
    place,
    receiver_of,
    unread_between,
    verified,
)
from gradcheck_kit.report.findings import Edit, Fix


def _scaler_step(clip: Statement, scaler: str) -> cst.Call | None:
    """The ``scaler.step(opt)`` that follows the clip in its own block."""
    after = False
    for node in clip.block:
        if node is clip.line:
            after = True
            continue
        if not after or not isinstance(node, cst.SimpleStatementLine):
            continue  # a step in a nested block may not run once per clip
        for inner in walk(node):
            if (
                isinstance(inner, cst.Call)
                and isinstance(inner.func, cst.Attribute)
                and inner.func.attr.value == catalog.STEP_METHOD
                and code(inner.func.value) == scaler
                and inner.args
            ):
                return inner
    return None


def _scaler_of(backward: cst.CSTNode, index: FileIndex) -> str | None:
    """``scaler.scale(loss).backward()`` (or ``scaled.backward()`` with ``scaled =
    scaler.scale(loss)``) -> ``scaler``."""
    if not isinstance(backward, cst.Call) or not isinstance(backward.func, cst.Attribute):
        return None
    receiver = backward.func.value
    if isinstance(receiver, cst.Name):
        return index.scaled.get(receiver.value) or None
    if isinstance(receiver, cst.Call) and isinstance(receiver.func, cst.Attribute):
        if receiver.func.attr.value == catalog.SCALE_METHOD:
            return code(receiver.func.value)
    return None


def ineffective_fix(
    ctx: RuleContext,
    clip: cst.Call,
    shape: str,
    cause: cst.CSTNode,
    step: cst.CSTNode | None,
    index: FileIndex,
    still: Callable[[cst.Module, str, int], bool],
) -> Fix | None:
    """GCK007's fix: a clip before the backward moves just before the step it should bound, one
    after the step just before that step; a clip of scaled gradients gets
    ``scaler.unscale_(opt)`` before it. With a GradScaler stepping, a moved clip is unscaled
    first when it needs to be."""
    where = index.statements.get(id(clip))
    at = place(ctx, where) if where is not None else None
    if where is None or at is None:
        return None
    if shape == "lightning":
        return _lightning_fix(ctx, clip, where, at, index, still)
    if shape == "scaled":
        scaler = _scaler_of(cause, index)
        scaler_step = _scaler_step(where, scaler) if scaler is not None else None
        if scaler_step is None:
            return None
        lines = [f"{scaler}.unscale_({code(scaler_step.args[0].value)})"]
        edits = [insert_before(ctx, at, lines)]
        if not verified(ctx, edits, _at_line(still, at.line + 1)):
            return None
        return Fix(f"Unscale before clipping: {lines[0]}", UNSAFE, tuple(edits))
    target = step if shape == "before-backward" else cause
    if not isinstance(target, cst.Call):
        return None
    goal = index.statements.get(id(target))
    to = place(ctx, goal) if goal is not None and not goal.assigned else None
    if goal is None or to is None or goal.function is not where.function:
        return None
    if where.assigned and not unread_between(ctx, where.assigned, at, to):
        return None
    lines = moved(ctx, at, to)
    shift = at.end_line - at.line + 1 if at.line < to.line else 0
    options = [lines]
    receiver = receiver_of(target)
    if receiver is not None and scaler_like(final_name(receiver) or "") and target.args:
        unscale = f"{code(receiver)}.unscale_({code(target.args[0].value)})"
        options.append([unscale, *lines])
    for option in options:
        edits = [delete(at), insert_before(ctx, to, option)]
        new_line = to.line - shift + len(option) - len(lines)
        if verified(ctx, edits, _at_line(still, new_line)):
            what = "; ".join(option)
            return Fix(f"Move the clip between backward and step: {what}", UNSAFE, tuple(edits))
    return None


def _free_names(node: cst.CSTNode) -> set[str]:
    """The names an expression reads (not attribute names, not keyword names)."""
    if isinstance(node, cst.Name):
        return {node.value}
    if isinstance(node, cst.Attribute):
        return _free_names(node.value)
    if isinstance(node, cst.Arg):
        return _free_names(node.value)
    return {name for child in children(node) for name in _free_names(child)}


def _lightning_fix(
    ctx: RuleContext,
    clip: cst.Call,
    where: Statement,
    at: Place,
    index: FileIndex,
    still: Callable[[cst.Module, str, int], bool],
) -> Fix | None:
    """A clip in ``training_step`` under automatic optimization moves to a new
    ``on_before_optimizer_step(self, optimizer)`` hook of the same class, which Lightning runs
    after the backward, before each step, on unscaled gradients; only a clip that reads nothing
    local to ``training_step`` (``self``, builtins, the module's names), in a class that has no
    such hook yet."""
    method, owner = where.function, where.owner
    if method is None or owner is None or where.assigned:
        return None
    hook = catalog.LIGHTNING_BEFORE_STEP_HOOK
    if method.name.value != catalog.LIGHTNING_TRAINING_STEP or any(
        isinstance(m, cst.FunctionDef) and m.name.value == hook for m in statements(owner.body)
    ):
        return None
    if not _free_names(clip) <= {"self", "float", "int"} | index.bound[0]:
        return None
    span = ctx.locate(method)
    definition = ctx.locate(method.name)
    if span is None or definition is None:
        return None
    header = ctx.line_text(definition.line)
    indent = header[: len(header) - len(header.lstrip())]
    body = moved(ctx, at, Place(at.line, at.end_line, indent + "    "))
    nl = ctx.newline
    text = f"{nl}{indent}def {hook}(self, optimizer):{nl}"
    text += "".join(f"{indent}    {line}{nl}" for line in body)
    edits = [delete(at), Edit(span.end_line + 1, 1, span.end_line + 1, 1, text)]
    new_line = span.end_line + 3 - (at.end_line - at.line + 1)
    if not verified(ctx, edits, _at_line(still, new_line)):
        return None
    return Fix(f"Move the clip to {hook}, which runs before each step", UNSAFE, tuple(edits))


def _at_line(
    still: Callable[[cst.Module, str, int], bool], line: int
) -> Callable[[cst.Module, str], bool]:
    """GCK007's check of a fixed text, for the clip now at ``line``."""

    def check(module: cst.Module, text: str) -> bool:
        return still(module, text, line)

    return check


__all__ = ["ineffective_fix"]
