"""GCK004 unclipped-recurrent-training: a recurrent model trained with no gradient clipping
between backward and step. The one rule about syntax: it reads the libcst module
(``FileFacts.module``), not the interpreter's facts. Its analysis lives in
:mod:`~gradcheck_kit.lint.rules.clipping`, imported (with libcst) only when a file passes the
prefilter and the screen below."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import FileFacts
from gradcheck_kit.lint.rules.base import Prefilter, Rule, RuleContext
from gradcheck_kit.report.findings import Finding

#: GCK004 reads a file that mentions both a backward and a recurrent layer.
TRAINING_PREFILTER: Prefilter = (("backward",), ("rnn", "lstm", "gru"))


def trains_recurrent(tree: ast.Module) -> bool:
    """GCK004's screen: the code names a backward pass and a recurrent layer, as a name, an
    attribute, an import or a string. A walk of the stdlib tree costs ~1/40 of GCK004's libcst
    parse and walk of a large file."""
    backward = recurrent = False
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.alias):
            name = node.name.rsplit(".", 1)[-1]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            name = node.value  # ``getattr(nn, "LSTM")``
        else:
            continue
        backward = backward or "backward" in name  # ``manual_backward`` (Lightning) too
        recurrent = recurrent or name in catalog.RECURRENT_MODULES
        if backward and recurrent:
            return True
    return False


def check_unclipped_recurrent_training(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    from gradcheck_kit.lint.rules.clipping import check_unclipped_recurrent_training as check

    return check(facts, ctx)


RULE = Rule(
    "GCK004",
    "unclipped-recurrent-training",
    "Recurrent model trained with no gradient clipping between backward and step",
    "warning",
    True,
    check_unclipped_recurrent_training,
    TRAINING_PREFILTER,
    syntactic=True,
    screen=trains_recurrent,
)
