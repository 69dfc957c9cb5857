"""GCK005 squashed-twice: an output that already went through sigmoid/softmax, passed to a loss
that applies it again (``BCEWithLogitsLoss``, ``cross_entropy``). The interpreter records the
loss as written, what it applies and what was applied; this rule words it.

Its fix removes the extra squashing: the call written in the loss's argument
(``criterion(torch.sigmoid(out), y)`` -> ``criterion(out, y)``: safe, that tensor feeds only the
loss), or the model's last layer (the last ``nn.Sigmoid()`` of an ``nn.Sequential(...)``,
``return torch.sigmoid(x)`` -> ``return x``: unsafe, the model's output changes for inference).
No fix where the interpreter could not show the tensor the squashing applies to, or where the
edit would drop a comment.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Iterator

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import Event, FileFacts
from gradcheck_kit.lint.rules.base import Rule, RuleContext, event_finding
from gradcheck_kit.lint.sketch import Span
from gradcheck_kit.report.findings import Edit, Finding, Fix


def message(event: Event) -> str:
    data = event.data
    expects = data["expects"]
    applied = data["activations"][0]
    loss = data.get("loss") or "the loss"
    if loss.rsplit(".", 1)[-1] not in catalog.LOGIT_LOSSES:  # ``criterion(...)``: say what
        loss = f"{loss} ({next(k for k, v in catalog.LOGIT_LOSSES.items() if v == expects and k[0].isupper())})"
    again = "log_softmax" if expects == "softmax" else "sigmoid"
    return (
        f"the input of {loss} already went through {applied}, and {loss} applies "
        f"{again} itself: the loss sees a squashed value in a narrow range, so it "
        f"cannot fit the targets and its gradient is scaled down by {applied}'s "
        f"derivative at the very first step back. Pass the raw logits (keep the "
        f"{applied} for inference), or use "
        f"{'nn.BCELoss' if expects == 'sigmoid' else 'nn.NLLLoss on log_softmax'}."
    )


def check_squashed_twice(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    for event in facts.events:
        if event.code == RULE.code:
            finding = event_finding(RULE, event, message(event), ctx)
            if finding is not None:
                fix = squash_fix(event, ctx)
                yield finding if fix is None else dataclasses.replace(finding, fix=fix)


#: Operands that read the same wherever an expression may stand (no parentheses needed).
_ATOMS = (ast.Name, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Tuple, ast.Dict, ast.Set)


def squash_fix(event: Event, ctx: RuleContext) -> Fix | None:
    """The edit that removes the extra squashing, or None when the linter cannot be sure of it."""
    data = event.data
    squash, operand, sequential = data.get("squash"), data.get("operand"), data.get("sequential")
    applied = data["activations"][0]
    if isinstance(sequential, ast.Call) and isinstance(squash, ast.Call):
        return _drop_last_layer(sequential, squash, applied, ctx)
    if not isinstance(squash, ast.Call) or not isinstance(operand, ast.expr):
        return None
    if isinstance(operand, ast.Call) and _squashes(operand):
        return None  # sigmoid(sigmoid(x)): one removal would leave the finding
    outer, inner = ctx.locate(squash), ctx.locate(operand)
    text = ctx.source(operand)
    if outer is None or inner is None or text is None:
        return None
    if "#" in _between(outer, inner, ctx):
        return None  # the edit would drop a comment
    in_loss = data.get("site") == "loss"
    if isinstance(operand, (ast.Starred, ast.Yield, ast.YieldFrom)):
        return None
    if isinstance(operand, (ast.NamedExpr, ast.GeneratorExp)) or not (
        in_loss or _atom(operand, inner)
    ):
        text = f"({text})"
    edit = Edit(outer.line, outer.column, outer.end_line, outer.end_column, text)
    written = ctx.source(squash) or applied
    if in_loss:
        return Fix(f"Pass `{_short(text)}` to the loss, not `{_short(written)}`", "safe", (edit,))
    return Fix(
        f"Remove the {applied} at the end of the model (apply it at inference instead)",
        "unsafe",
        (edit,),
    )


def _drop_last_layer(
    sequential: ast.Call, squash: ast.Call, applied: str, ctx: RuleContext
) -> Fix | None:
    """``nn.Sequential(a, b, nn.Sigmoid())`` -> ``nn.Sequential(a, b)``: from the end of the
    argument before it to its own end (a trailing comma stays)."""
    if sequential.keywords or len(sequential.args) < 2 or sequential.args[-1] is not squash:
        return None
    before, last = ctx.locate(sequential.args[-2]), ctx.locate(squash)
    if before is None or last is None:
        return None
    removed = Span(before.end_line, before.end_column, last.end_line, last.end_column)
    if "#" in _text(removed, ctx):
        return None
    edit = Edit(removed.line, removed.column, removed.end_line, removed.end_column, "")
    name = ctx.source(squash.func) or applied
    return Fix(
        f"Remove `{name}(...)` from the end of the Sequential (apply {applied} at inference "
        "instead)",
        "unsafe",
        (edit,),
    )


def _squashes(call: ast.Call) -> bool:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name.lower() in catalog.SQUASHING or name.lower() in ("sigmoid_", "softmax_")


def _atom(operand: ast.expr, span: Span) -> bool:
    if isinstance(operand, ast.Attribute):
        return span.line == span.end_line
    return isinstance(operand, _ATOMS)


def _text(span: Span, ctx: RuleContext) -> str:
    lines = [ctx.line_text(n) for n in range(span.line, span.end_line + 1)]
    if len(lines) == 1:
        return lines[0][span.column - 1 : span.end_column - 1]
    return "\n".join([lines[0][span.column - 1 :], *lines[1:-1], lines[-1][: span.end_column - 1]])


def _between(outer: Span, inner: Span, ctx: RuleContext) -> str:
    """The text of ``outer`` outside ``inner``: what replacing one by the other removes."""
    head = Span(outer.line, outer.column, inner.line, inner.column)
    tail = Span(inner.end_line, inner.end_column, outer.end_line, outer.end_column)
    return _text(head, ctx) + _text(tail, ctx)


def _short(text: str, limit: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


RULE = Rule(
    "GCK005",
    "squashed-twice",
    "Sigmoid/softmax output passed to a loss that applies it again",
    "warning",
    True,
    check_squashed_twice,
    # the loss, and the squashing it would apply twice
    (
        ("with_logits", "withlogits", "cross_entropy", "crossentropy"),
        ("sigmoid", "softmax", "expit"),
    ),
)
