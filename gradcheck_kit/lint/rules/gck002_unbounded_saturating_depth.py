"""GCK002 unbounded-saturating-depth: saturating activations repeated a number of times the
linter cannot see (a parameter, a config value) with no reset; in the predicted mode, reported
where the gain model predicts a depth at which the gradient vanishes."""

from __future__ import annotations

from collections.abc import Iterator

from gradcheck_kit.lint.facts import FileFacts
from gradcheck_kit.lint.rules.base import Rule, RuleContext, names, run_finding
from gradcheck_kit.lint.rules.gain import predict
from gradcheck_kit.lint.rules.gck006_exploding_init import exploding_symbols
from gradcheck_kit.lint.rules.suggest import suggestion
from gradcheck_kit.report.findings import Finding


def check_unbounded_depth(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    exploding = exploding_symbols(facts, ctx)
    for item in facts.runs:
        run = item.run
        if item.symbol in exploding:
            continue
        counts = [c for c in run.counts if not c.per_step]
        if not run.unbounded or not counts:
            continue
        symbols = [c.symbol for c in counts if c.symbol]
        what = f"'{symbols[0]}' times" if symbols else "a number of times the linter cannot see"
        past = "past a few layers the gradient vanishes geometrically"
        if ctx.max_saturating_depth is None:
            p = predict(run, facts, ctx, item.head)
            if p.crossing is None:
                continue  # the model predicts no depth at which it vanishes
            past = (
                f"each layer keeps ~{p.gain:.2g} of the gradient at this init ({p.init}; "
                f"mean-field prediction): from depth {p.crossing} it is predicted below the runtime "
                f"check's bound {ctx.vanish_bound:g}"
            )
        message = (
            f"saturating activations ({names(run)}) repeated {what}, with no "
            f"normalization or residual connection: {past} (the known part of the stack is "
            f"{run.depth} deep). Bound the depth, "
            "or add a residual connection or normalization inside the repeated block."
        )
        fix = suggestion(item, facts, ctx)
        yield run_finding("GCK002", "unbounded-saturating-depth", message, item, ctx, None, fix)


RULE = Rule(
    "GCK002",
    "unbounded-saturating-depth",
    "Saturating activations repeated an unknown number of times with no reset",
    "warning",
    True,
    check_unbounded_depth,
)
