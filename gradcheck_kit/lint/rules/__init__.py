"""The rules: one module per rule (``gck001_saturating_stack.py`` ...), each holding its
detection over :class:`~gradcheck_kit.lint.facts.FileFacts`, its message, its prefilter and
screen, as a ``RULE``; this package collects them into :data:`RULES` in code order.

A rule is a code (``GCK001``), a kebab-case name, a severity, whether it is on by default, and a
``check`` function. Its documentation lives in ``rules/GCKnnn.md`` (shipped in the wheel), whose
code blocks are its tests. Adding a rule: one module here, its ``RULE`` listed below, and its
page.
"""

from __future__ import annotations

from gradcheck_kit.lint.facts import Event, FileFacts, FileRun, LayerInit
from gradcheck_kit.lint.rules import (
    gck001_saturating_stack,
    gck002_unbounded_saturating_depth,
    gck003_saturating_recurrence,
    gck004_unclipped_recurrent_training,
    gck005_squashed_twice,
    gck006_exploding_init,
    gck007_clip_has_no_effect,
)
from gradcheck_kit.lint.rules.base import SATURATING_TOKENS, Prefilter, Rule, RuleContext
from gradcheck_kit.lint.rules.gain import TYPICAL_GAIN, Prediction, attenuation, predict

RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in sorted(
        (
            gck001_saturating_stack.RULE,
            gck002_unbounded_saturating_depth.RULE,
            gck003_saturating_recurrence.RULE,
            gck004_unclipped_recurrent_training.RULE,
            gck005_squashed_twice.RULE,
            gck006_exploding_init.RULE,
            gck007_clip_has_no_effect.RULE,
        ),
        key=lambda r: r.code,
    )
}


def selected_rules(select: tuple[str, ...], ignore: tuple[str, ...]) -> list[Rule]:
    """Rules chosen by ruff-style ``select`` / ``ignore`` prefixes (``GCK``, ``GCK00``)."""
    out = []
    for rule in RULES.values():
        chosen = any(rule.code.startswith(p) for p in select) if select else rule.default
        if chosen and not any(rule.code.startswith(p) for p in ignore):
            out.append(rule)
    return out


def unknown_codes(codes: tuple[str, ...]) -> list[str]:
    return [c for c in codes if c and not any(code.startswith(c) for code in RULES)]


def may_fire(
    rule: Rule, text: str, extend_saturating: tuple[str, ...] = (), *, lowered: str | None = None
) -> bool:
    """Whether ``text`` passes the rule's own prefilter or, for a rule that reads the
    interpreter, names a user-declared saturating class. A rule that cannot fire is not run; a
    file that no rule can fire on is not analysed. ``lowered``: ``text.lower()``, when the
    caller asks for several rules."""
    lowered = text.lower() if lowered is None else lowered
    if all(any(token in lowered for token in group) for group in rule.prefilter):
        return True
    return not rule.syntactic and any(
        name.rsplit(".", 1)[-1].lower() in lowered for name in extend_saturating
    )


def saturating(rule: Rule) -> bool:
    """Whether ``rule`` is one of the saturating rules: it reads the interpreter and its
    prefilter is :data:`SATURATING_TOKENS`, which the project-aware prefilter widens
    (:mod:`gradcheck_kit.lint.prefilter`)."""
    return not rule.syntactic and rule.prefilter == SATURATING_TOKENS


__all__ = [
    "RULES",
    "SATURATING_TOKENS",
    "TYPICAL_GAIN",
    "Event",
    "FileFacts",
    "FileRun",
    "LayerInit",
    "Prediction",
    "Prefilter",
    "Rule",
    "RuleContext",
    "attenuation",
    "may_fire",
    "predict",
    "saturating",
    "selected_rules",
    "unknown_codes",
]
