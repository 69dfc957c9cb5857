"""GCK003 saturating-recurrence: a state updated through a saturating activation at every time
step with no gate (``h = torch.tanh(W(x_t) + U(h))`` in a loop over time), or a gateless
``nn.RNN``/``nn.RNNCell`` with its default tanh. The interpreter records each as an event; this
rule words it."""

from __future__ import annotations

from collections.abc import Iterator

from gradcheck_kit.lint.facts import Event, FileFacts
from gradcheck_kit.lint.rules.base import Rule, RuleContext, event_findings
from gradcheck_kit.report.findings import Finding


def message(event: Event) -> str:
    data = event.data
    if data.get("kind") == "module":
        return (
            f"nn.{data['module']} with the tanh nonlinearity has no gates: backpropagation "
            "through time multiplies the gradient by tanh' and the recurrent weights at every "
            "step, so it vanishes geometrically with the sequence length. Use nn.LSTM or nn.GRU."
        )
    name = data["activations"][0]
    return (
        f"'{data['target']}' is updated through {name} at every time step with no "
        f"gate or additive state: backpropagation through time multiplies the gradient "
        f"by {name}' and the recurrent weights once per step, so it vanishes "
        "geometrically with the sequence length (it explodes when the recurrent weights "
        "are large). Use nn.LSTM or nn.GRU (or a cell with an additive state)."
    )


def check_saturating_recurrence(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    from gradcheck_kit.lint.rules.repairs import recurrence_fix

    return event_findings(facts, ctx, RULE, message, recurrence_fix)


RULE = Rule(
    "GCK003",
    "saturating-recurrence",
    "Recurrence through time with a saturating activation and no gate",
    "warning",
    True,
    check_saturating_recurrence,
    (("tanh", "sigmoid", "softsign", "rnn"),),
)
