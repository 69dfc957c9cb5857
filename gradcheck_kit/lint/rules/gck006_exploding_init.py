"""GCK006 exploding-init: a deep stack of affine layers whose explicit init makes every layer
amplify the gradient, with no normalization between. The interpreter records each such stack as
an event (depth, per-layer gain, init, activation); this rule decides whether it is reported
(structural mode: deeper than the limit; predicted mode: the predicted flow ratio above the
explode bound) and words it. A reported stack also silences GCK001/GCK002 in its class."""

from __future__ import annotations

from collections.abc import Iterator

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import Event, FileFacts
from gradcheck_kit.lint.rules.base import Rule, RuleContext, event_finding
from gradcheck_kit.report.findings import Finding


def _advice(activation: str, weight_var: float) -> str:
    if activation != "relu" and abs(weight_var - catalog.KAIMING_GAIN2.get(activation, 0)) < 1e-6:
        # already calculate_gain's: at this depth only the critical gain 1 keeps the gradient
        return "variance-preserving init (xavier_* with gain=1.0), or add normalization."
    return (
        f"variance-preserving init ({'kaiming_*' if activation == 'relu' else 'xavier_*'} with "
        f"nn.init.calculate_gain({activation!r})), or add normalization."
    )


def reported_message(event: Event, ctx: RuleContext, advice: str | None = None) -> str | None:
    """A GCK006 event's message as reported (None: not reported). Structural mode: deeper than
    the limit; predicted mode: the stack's predicted flow ratio above the explode bound.
    ``advice``: what to use instead (default: the init family for the activation)."""
    from gradcheck_kit.theory import crossing_depth, predicted_flow_ratio

    data = event.data
    depth = data.get("depth", 0)
    gain = data["gain"]
    activation = data["activations"][0]
    between = "with no activation" if activation == "linear" else f"with {activation}"
    advice = advice or _advice(activation, data["weight_var"])
    if ctx.max_saturating_depth is not None:
        if not depth > ctx.max_saturating_depth:
            return None
        return (
            f"{depth} layers initialised with {data['init']} and no normalization between "
            f"them: {between} between them, each layer multiplies the gradient by ~{gain:.3g} "
            f"(mean-field prediction), ~{gain**depth:.2g}x over the stack - it explodes with "
            f"depth. Use a {advice}"
        )
    weight_var, head = data["weight_var"], data.get("head", True)
    ratio = predicted_flow_ratio(gain, weight_var, depth, head=head)
    if not ratio > ctx.explode_bound:
        return None
    crossing = crossing_depth(gain, weight_var, ctx.explode_bound, head=head)
    where = f" at {ctx.file_name}:{data['line']}" if data.get("line") else ""
    tail = "" if head else " (nothing with parameters follows the stack: one hop fewer)"
    return (
        f"{depth} layers initialised with {data['init']}{where} and no normalization between "
        f"them: {between} between them, each layer multiplies the gradient by ~{gain:.3g} "
        f"(mean-field prediction), so the gradient reaching the first layer is predicted to be "
        f"~{ratio:.0e}x what leaves the last one{tail}, above the runtime check's bound "
        f"{ctx.explode_bound:g} (crossed from depth {crossing}) - it explodes with depth. Use a "
        f"{advice}"
    )


def exploding_symbols(facts: FileFacts, ctx: RuleContext) -> set[str | None]:
    """Symbols with a reported exploding-init stack (GCK006, deeper than the limit): there the
    weights, not the saturating derivatives, set the gradient's fate, so GCK001/GCK002's
    "vanishes" would be wrong. A shallower one is not reported and silences nothing."""
    return {
        e.symbol
        for e in facts.events
        if e.code == "GCK006" and reported_message(e, ctx) is not None
    }


def check_exploding_init(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    from gradcheck_kit.lint.rules.repairs import init_fix

    for event in facts.events:
        if event.code == "GCK006" and reported_message(event, ctx) is not None:
            fix = init_fix(event, ctx, reported_message)
            advice = None
            if fix is not None:  # the message names the init the fix writes
                advice = f"variance-preserving init: {fix.edits[0].content}, or add normalization."
            message = reported_message(event, ctx, advice)
            assert message is not None
            finding = event_finding(RULE, event, message, ctx, fix)
            if finding is not None:
                yield finding


#: Words of an explicit init in a file's text (``nn.init.``, ``w.data.normal_(...)``): the rule's
#: prefilter, and what the call-site gate looks for where a class has no sketch.
INIT_WORDS = ("init.", "normal_", "uniform_", "constant_", "ones_")

RULE = Rule(
    "GCK006",
    "exploding-init",
    "Deep stack whose explicit init makes every layer amplify the gradient",
    "warning",
    True,
    check_exploding_init,
    (INIT_WORDS,),
    imported_words=True,  # ``self.apply(init_weights)`` with the init in ``utils.py``
)
