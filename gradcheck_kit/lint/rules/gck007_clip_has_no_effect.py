"""GCK007 clip-has-no-effect: gradient clipping that is there but does nothing - before the
backward pass, after the optimizer step, or on gradients a ``GradScaler`` still scales. A
syntactic rule: it reads the libcst module (``FileFacts.module``); its analysis lives in
:mod:`~gradcheck_kit.lint.rules.clip_effect`, imported (with libcst) only when a file passes the
prefilter (it mentions ``clip_grad``) and the screen below."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import FileFacts
from gradcheck_kit.lint.rules.base import Prefilter, Rule, RuleContext, finding_at
from gradcheck_kit.report.findings import Finding, Fix

CODE = "GCK007"
NAME = "clip-has-no-effect"

#: Every clipping callable's name contains ``clip_grad`` (``clip_grad_norm_``,
#: ``clip_grad_value_``, ``clip_gradients``, ``dispatch_clip_grad``).
CLIP_PREFILTER: Prefilter = (("clip_grad",),)

_CLIP = "clip_grad"


def clips_and_trains(tree: ast.Module) -> bool:
    """GCK007's screen: the code calls (or imports) a clipping function, calls a backward pass
    or defines Lightning's ``training_step``, and calls a ``step``. One walk of the stdlib tree;
    most files that mention clipping in a string or a docstring stop here."""
    clip = backward = step = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            clip = clip or _CLIP in name.lower()
            backward = backward or (
                name in catalog.BACKWARD_METHODS and isinstance(func, ast.Attribute)
            )
            step = step or name == catalog.STEP_METHOD
        elif isinstance(node, ast.alias):
            clip = clip or _CLIP in node.name.lower()
        elif isinstance(node, ast.FunctionDef):
            backward = backward or node.name == catalog.LIGHTNING_TRAINING_STEP
            step = step or node.name == catalog.LIGHTNING_TRAINING_STEP
        if clip and backward and step:
            return _may_misplace(tree)
    return False


@dataclass(frozen=True)
class _Call:
    name: str
    attribute: bool
    function: str | None  # the innermost enclosing function's name (None: module level)
    scope: int  # id of that function (0: the module)
    at: tuple[int, int]
    loops: tuple[int, ...]  # enclosing loops inside that function
    blocks: tuple[tuple[int, str], ...]  # enclosing statement lists inside that function


def _calls(tree: ast.Module) -> list[_Call]:
    out: list[_Call] = []
    stack: list[tuple[ast.AST, str | None, int, tuple[int, ...], tuple[tuple[int, str], ...]]]
    stack = [(tree, None, 0, (), ())]
    while stack:
        node, function, scope, loops, blocks = stack.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            name = getattr(node, "name", "<lambda>")
            function, scope, loops, blocks = name, id(node), (), ()
        elif isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            at = (node.lineno, node.col_offset)
            attribute = isinstance(func, ast.Attribute)
            out.append(_Call(name, attribute, function, scope, at, loops, blocks))
        inner = (
            (*loops, id(node)) if isinstance(node, (ast.For, ast.AsyncFor, ast.While)) else loops
        )
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                nested = (
                    (*blocks, (id(node), field))
                    if value and isinstance(value[0], ast.stmt)
                    else blocks
                )
                stack.extend(
                    (v, function, scope, inner, nested) for v in value if isinstance(v, ast.AST)
                )
            elif isinstance(value, ast.AST):
                stack.append((value, function, scope, inner, blocks))
    return out


def _may_misplace(tree: ast.Module) -> bool:
    """Whether some clip of the file could be flagged, judged on the stdlib tree in source
    order, erring towards yes: a clip whose function is called in the file (a helper) or is a
    ``training_step``, or that calls the file's own functions, or with a backward after it, a
    step before it, a loop around it that backwards or steps, or a ``scale(...)`` before it
    and no ``unscale`` on its way in. A file whose clips are all between an unscale (or a
    backward) and a step, with no helper in play, costs no libcst parse."""
    aliases = {
        a.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for a in node.names
        if a.asname and _CLIP in a.name.lower()
    }
    calls = _calls(tree)
    defined = {
        n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    }
    called = {c.name for c in calls}
    by_scope: dict[int, list[_Call]] = {}
    for call in calls:
        by_scope.setdefault(call.scope, []).append(call)
    for clip in calls:
        if _CLIP not in clip.name.lower() and clip.name not in aliases:
            continue
        if clip.function in called or clip.function == catalog.LIGHTNING_TRAINING_STEP:
            return True
        scaled = unscaled = False
        for other in by_scope[clip.scope]:
            backward = other.name in catalog.BACKWARD_METHODS and other.attribute
            step = other.name == catalog.STEP_METHOD
            shared = set(other.loops) & set(clip.loops)
            if (
                other.name in defined
                or (backward and (other.at > clip.at or shared))
                or (step and (other.at < clip.at or shared))
            ):
                return True
            if other.name == catalog.SCALE_METHOD and other.attribute and other.at < clip.at:
                scaled = True
            if catalog.UNSCALE_TOKEN in other.name.lower() and other.at < clip.at:
                # an unscale counts where it runs on every way to the clip, with no
                # scale(...) between them
                dominates = clip.blocks[: len(other.blocks)] == other.blocks
                rescaled = any(
                    o.name == catalog.SCALE_METHOD and other.at < o.at < clip.at
                    for o in by_scope[clip.scope]
                )
                unscaled = unscaled or (dominates and not rescaled)
        if scaled and not unscaled:
            return True
    return False


def check_clip_has_no_effect(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    import libcst as cst

    from gradcheck_kit.lint.rules.clip_effect import ineffective_clips, message

    module = facts.module
    if not isinstance(module, cst.Module):
        return
    labels = {
        "before-backward": ("backward pass after the clip", "step that applies its gradients"),
        "after-step": ("step that already applied the gradients", "next step"),
        "scaled": ("backward of GradScaler-scaled loss, not unscaled before the clip", ""),
        "lightning": ("Lightning runs backward and the step after training_step returns", ""),
    }
    verdicts = list(ineffective_clips(module))
    if not verdicts:
        return  # no fix to build: the file's index for them is not made
    fixes = _Fixes(ctx, module, len(verdicts))
    for verdict in verdicts:
        span = ctx.locate(verdict.clip)
        if span is None:
            continue
        cause_label, step_label = labels[verdict.shape]
        pairs: list[tuple[object, str]] = [(verdict.cause, cause_label)]
        if verdict.step is not None and verdict.shape == "before-backward":
            pairs.append((verdict.step, step_label))
        yield finding_at(
            CODE,
            NAME,
            message(verdict, ctx.locate(verdict.cause)),
            span,
            ctx,
            symbol=verdict.symbol,
            related=ctx.related(pairs),
            fix=fixes(verdict),
        )


class _Fixes:
    """GCK007's fixes in one file (:mod:`~gradcheck_kit.lint.rules.training_fixes`): each is
    kept only if the file it leaves has fewer ineffective clips, none at the clip it moved."""

    def __init__(self, ctx: RuleContext, module: Any, verdicts: int) -> None:
        from gradcheck_kit.lint.rules.training import Imports
        from gradcheck_kit.lint.rules.training_fixes import FileIndex

        self.ctx, self.module, self.verdicts = ctx, module, verdicts
        self.index = FileIndex.of(module, Imports(module))

    def still(self, fixed: Any, text: str, line: int) -> bool:
        from gradcheck_kit.lint.locate import Locator
        from gradcheck_kit.lint.rules.clip_effect import ineffective_clips

        found = list(ineffective_clips(fixed))
        if len(found) >= self.verdicts:
            return True
        locate = Locator(text, fixed)
        return any((s := locate(v.clip)) is not None and s.line == line for v in found)

    def __call__(self, verdict: Any) -> Fix | None:
        from gradcheck_kit.lint.rules.clip_fixes import ineffective_fix

        return ineffective_fix(
            self.ctx,
            verdict.clip,
            verdict.shape,
            verdict.cause,
            verdict.step,
            self.index,
            self.still,
        )


RULE = Rule(
    CODE,
    NAME,
    "Gradient clipping before backward, after the step, or on AMP-scaled gradients",
    "warning",
    True,
    check_clip_has_no_effect,
    CLIP_PREFILTER,
    syntactic=True,
    screen=clips_and_trains,
)
