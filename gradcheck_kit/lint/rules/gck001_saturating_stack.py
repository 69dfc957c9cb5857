"""GCK001 saturating-stack: a deep stack of saturating activations with nothing to reset the
gradient scale. Reads the runs of the file's roots; in the predicted mode, the gain model
(:mod:`~gradcheck_kit.lint.rules.gain`) decides whether the run crosses the vanish bound."""

from __future__ import annotations

from collections.abc import Iterator

from gradcheck_kit.lint.facts import FileFacts
from gradcheck_kit.lint.rules.base import Rule, RuleContext, names, run_finding
from gradcheck_kit.lint.rules.gain import attenuation, output_words, predict
from gradcheck_kit.lint.rules.gck006_exploding_init import exploding_symbols
from gradcheck_kit.lint.rules.suggest import suggestion
from gradcheck_kit.report.findings import Finding


def check_saturating_stack(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    exploding = exploding_symbols(facts, ctx)
    for item in facts.runs:
        run = item.run
        if item.symbol in exploding:
            continue
        if run.unbounded:
            continue
        source = f" (depth from {'; '.join(run.sources)})" if run.sources else ""
        if ctx.max_saturating_depth is None:
            if run.depth < 2:
                continue
            p = predict(run, facts, ctx, item.head)
            if p.ratio >= ctx.vanish_bound:
                continue
            message = (
                f"{run.depth} saturating activations ({names(run)}) in a row with no "
                f"normalization or residual connection to reset the scale{source}: each layer "
                f"keeps ~{p.gain:.2g} of the gradient at this init ({p.init}; mean-field "
                f"prediction), so the gradient reaching the first layer is predicted to be "
                f"~{p.ratio:.0e} of what leaves the last one{output_words(item)}, below the runtime "
                f"check's bound "
                f"{ctx.vanish_bound:g} (crossed from depth {p.crossing}). "
                "Add a residual connection or a normalization layer, or use ReLU/SiLU."
            )
            fix = suggestion(item, facts, ctx)
            yield run_finding("GCK001", "saturating-stack", message, item, ctx, run.depth, fix)
            continue
        if run.depth <= ctx.max_saturating_depth:
            continue
        message = (
            f"{run.depth} saturating activations ({names(run)}) in a row with no normalization "
            f"or residual connection to reset the scale{source}: {attenuation(run)}. "
            "Add a residual connection or a normalization layer, or use ReLU/SiLU."
        )
        fix = suggestion(item, facts, ctx)
        yield run_finding("GCK001", "saturating-stack", message, item, ctx, run.depth, fix)


RULE = Rule(
    "GCK001",
    "saturating-stack",
    "Deep stack of saturating activations with nothing to reset the gradient scale",
    "warning",
    True,
    check_saturating_stack,
)
