"""GCK005 squashed-twice: an output that already went through sigmoid/softmax, passed to a loss
that applies it again (``BCEWithLogitsLoss``, ``cross_entropy``). The interpreter records the
loss as written, what it applies and what was applied; this rule words it."""

from __future__ import annotations

from collections.abc import Iterator

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import Event, FileFacts
from gradcheck_kit.lint.rules.base import Rule, RuleContext, event_findings
from gradcheck_kit.report.findings import Finding


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
    return event_findings(facts, ctx, RULE, message)


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
