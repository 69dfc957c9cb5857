"""GCK007 clip-has-no-effect: gradient clipping that is there but does nothing - before the
backward pass, after the optimizer step, or on gradients a ``GradScaler`` still scales. A
syntactic rule: it reads the libcst module (``FileFacts.module``); its analysis lives in
:mod:`~gradcheck_kit.lint.rules.clip_effect`, imported (with libcst) only when a file passes the
prefilter (it mentions ``clip_grad``) and the screen below."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import FileFacts
from gradcheck_kit.lint.rules.base import Prefilter, Rule, RuleContext
from gradcheck_kit.report.findings import Finding

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
    for verdict in ineffective_clips(module):
        span = ctx.locate(verdict.clip)
        if span is None:
            continue
        cause_label, step_label = labels[verdict.shape]
        pairs: list[tuple[object, str]] = [(verdict.cause, cause_label)]
        if verdict.step is not None and verdict.shape == "before-backward":
            pairs.append((verdict.step, step_label))
        yield Finding(
            code=CODE,
            name=NAME,
            message=message(verdict, ctx.locate(verdict.cause)),
            path=ctx.path,
            line=span.line,
            column=span.column,
            end_line=span.end_line,
            end_column=span.end_column,
            severity="warning",
            activations=(),
            symbol=verdict.symbol,
            related=ctx.related(pairs),
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
