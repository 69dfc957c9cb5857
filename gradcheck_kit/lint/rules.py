"""The rule registry: each rule reads the analysis of one file and yields findings.

A rule is a code (``GCK001``), a kebab-case name, a severity, whether it is on by default, and a
``check`` function. Its documentation lives in ``rules/GCKnnn.md`` (shipped in the wheel), whose
code blocks are its tests.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

from gradcheck_kit import catalog
from gradcheck_kit.catalog import DEFAULT_INIT_GAIN
from gradcheck_kit.lint.analyze import Run
from gradcheck_kit.lint.sketch import Layer, Span
from gradcheck_kit.report.findings import Finding, RelatedLocation
from gradcheck_kit.theory import EXPLODE_BOUND, VANISH_BOUND

#: A rule's prefilter: groups of lowercase substrings; a file can trigger the rule only if its
#: lowercased text contains at least one substring of every group. Substring tests on the
#: lowered text cost ~1/25 of the equivalent case-insensitive regex (measured on timm).
Prefilter = tuple[tuple[str, ...], ...]

SATURATING_TOKENS: Prefilter = (("sigmoid", "tanh", "softsign", "expit"),)
#: GCK004 reads a file that mentions both a backward and a recurrent layer.
TRAINING_PREFILTER: Prefilter = (("backward",), ("rnn", "lstm", "gru"))

# Measured per-layer gradient multipliers at PyTorch's default nn.Linear init (width 256): what
# a saturating layer typically does, where the derivative bound alone says little (tanh' <= 1).
TYPICAL_GAIN = DEFAULT_INIT_GAIN  # one set of numbers for the linter, the sweep and the docs


@dataclass(frozen=True)
class RuleContext:
    path: str
    #: None: the predicted mode (GCK001/GCK002 read the gain model); N: the structural mode.
    max_saturating_depth: int | None
    locate: Callable[[object], Span | None]  # a layer's anchor -> its source span
    vanish_bound: float = VANISH_BOUND
    explode_bound: float = EXPLODE_BOUND  # GCK006's bound in the predicted mode

    def related(self, pairs: Iterable[tuple[object, str]]) -> tuple[RelatedLocation, ...]:
        """(anchor, label) pairs -> located, de-duplicated, sorted related locations."""
        found = {
            RelatedLocation(s.line, s.column, s.end_line, s.end_column, label)
            for anchor, label in pairs
            if (s := self.locate(anchor)) is not None
        }
        return tuple(sorted(found))


@dataclass(frozen=True)
class FileRun:
    """A run found in one file, with the class or function it belongs to."""

    run: Run
    symbol: str | None
    #: whether a layer with parameters follows the run (else its last activation is the
    #: model's output, past the end of the runtime's flow ratio: one hop fewer)
    head: bool = True


@dataclass(frozen=True)
class Event:
    """Something the extractor saw that a rule may report (a recurrence, a loss applied to a
    squashed output...). ``anchor`` is the syntax node; ``related`` are (anchor, label) pairs."""

    code: str
    anchor: object
    message: str
    symbol: str | None = None
    related: tuple[tuple[object, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerInit:
    """The init of the affine layer before a saturating activation, as the linter read it.

    ``weight_var`` is s_w^2 (None: PyTorch's default, no init in this file); ``description``
    names an explicit init (``xavier_normal_(gain=1.67)``), ``line`` where it is; ``unread``
    names an init the linter saw but could not compute (then treated as default)."""

    weight_var: float | None = None
    fan_in: int | None = None
    description: str | None = None
    line: int | None = None
    unread: str | None = None
    bias: bool = True


@dataclass
class FileFacts:
    """Everything rules read about one file."""

    runs: list[FileRun]
    events: list[Event]
    module: Any  # the libcst Module for purely syntactic rules (None when none of them runs)
    #: id(saturating layer) -> the init of the affine layer before it (absent: default)
    inits: dict[int, LayerInit] = field(default_factory=dict)


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: str
    default: bool
    check: Callable[[FileFacts, RuleContext], Iterator[Finding]]
    #: A file that does not match cannot trigger the rule: it is not parsed for it.
    prefilter: Prefilter = SATURATING_TOKENS
    #: Reads only the syntax tree (``FileFacts.module``), not the interpreter's runs and events.
    syntactic: bool = False
    #: A second screen, on the stdlib tree of a file that passed the prefilter: False when the
    #: code (not its strings or comments) cannot trigger the rule.
    screen: Callable[[ast.Module], bool] | None = None


def _distinct(run: Run) -> list[Layer]:
    """The run's layers, one per source position (an unrolled loop repeats one position)."""
    seen: dict[object, Layer] = {}
    for layer in run.layers:
        key = id(layer.anchor) if layer.anchor is not None else id(layer)
        seen.setdefault(key, layer)
    return list(seen.values())


def _finding(
    code: str, name: str, message: str, item: FileRun, ctx: RuleContext, depth: int | None
) -> Finding:
    layers = _distinct(item.run)
    spans = [s for layer in layers if (s := ctx.locate(layer.anchor)) is not None]
    start = min(spans, key=lambda s: (s.line, s.column))
    end = max(spans, key=lambda s: (s.end_line, s.end_column))
    related = ctx.related(
        (layer.anchor, f"{layer.name} (saturating activation)") for layer in layers
    )
    return Finding(
        code=code,
        name=name,
        message=message,
        path=ctx.path,
        line=start.line,
        column=start.column,
        end_line=end.end_line,
        end_column=end.end_column,
        severity="warning",
        depth=depth,
        activations=tuple(layer.name for layer in layers),
        symbol=item.symbol,
        depth_source="; ".join(item.run.sources) or None,
        related=related,
    )


def _names(run: Run) -> str:
    return ", ".join(dict.fromkeys(layer.name for layer in run.layers))


def attenuation(run: Run) -> str:
    """What ``depth`` saturating layers do to the gradient, in words and numbers."""
    depth = run.depth
    bounds = {layer.name: layer.bound for layer in run.layers}
    worst = max(bounds.values(), default=1.0)
    if worst < 1.0:
        names = ", ".join(f"{n}' <= {b:.3g}" for n, b in bounds.items() if b < 1.0)
        factor = worst**depth
        return (
            f"{names}, so {depth} layers scale the gradient by at most "
            f"{worst:.3g}^{depth} ~ {factor:.0e}"
        )
    typical = [TYPICAL_GAIN[n] for n in bounds if n in TYPICAL_GAIN]
    if typical:
        gain = max(typical)
        return (
            f"each derivative is below 1 once units leave 0 (at PyTorch's default init a tanh "
            f"layer keeps ~{gain:.2f} of the gradient norm), so {depth} layers leave "
            f"~{gain**depth:.0e} of it"
        )
    return "each derivative is at most 1 and falls to 0 as units saturate"


@dataclass(frozen=True)
class Prediction:
    """The gain model applied to one run (see :mod:`gradcheck_kit.theory`)."""

    gain: float  # per-layer, geometric mean over the run's layers
    weight_var: float
    ratio: float  # the predicted flow ratio at the run's depth
    crossing: int | None  # the depth at which the run crosses the bound (None: never)
    init: str  # where the init came from, for the message


def _theory_name(name: str) -> str:
    from gradcheck_kit.theory import ACTIVATIONS

    return name if name in ACTIVATIONS else "tanh"  # a user-declared one: derivative <= 1


def predict(run: Run, facts: FileFacts, ctx: RuleContext, head: bool = True) -> Prediction:
    """The predicted flow ratio of ``run`` from the init of the layer before each activation;
    ``head=False``: nothing with parameters follows the run (one hop fewer)."""
    from gradcheck_kit.theory import crossing_depth, predicted_flow_ratio, predicted_gain

    layers = _distinct(run) or list(run.layers)
    logs: list[float] = []
    weight_vars: list[float] = []
    inits: list[LayerInit] = []
    for layer in layers:
        init = facts.inits.get(id(layer), LayerInit())
        inits.append(init)
        weight_var = init.weight_var if init.weight_var is not None else catalog.DEFAULT_WEIGHT_VAR
        explicit = init.weight_var is not None
        bias_var = 1.0 / (3.0 * init.fan_in) if init.fan_in and init.bias and not explicit else 0.0
        try:
            gain = predicted_gain(_theory_name(layer.name), weight_var, bias_var)
        except (ValueError, ArithmeticError):
            gain = 1.0
        logs.append(math.log(gain) if gain > 0 else -700.0)
        weight_vars.append(weight_var)
    gain = math.exp(sum(logs) / len(logs))
    weight_var = weight_vars[0]
    ratio = predicted_flow_ratio(gain, weight_var, run.depth, head=head)
    crossing = crossing_depth(gain, weight_var, ctx.vanish_bound, head=head)
    return Prediction(gain, weight_var, ratio, crossing, _init_words(inits, ctx))


def _init_words(inits: list[LayerInit], ctx: RuleContext) -> str:
    name = ctx.path.replace("\\", "/").rsplit("/", 1)[-1]
    explicit = [i for i in inits if i.description]
    unread = [i for i in inits if i.unread]
    if explicit:
        first = explicit[0]
        where = f" at {name}:{first.line}" if first.line else ""
        return f"{first.description}{where}"
    if unread:
        first = unread[0]
        where = f" at {name}:{first.line}" if first.line else ""
        return f"PyTorch default (the linter cannot read {first.unread}{where})"
    return "PyTorch default: no init in this file"


def _exploding(facts: FileFacts, ctx: RuleContext) -> set[str | None]:
    """Symbols with a reported exploding-init stack (GCK006, deeper than the limit): there the
    weights, not the saturating derivatives, set the gradient's fate, so GCK001/GCK002's
    "vanishes" would be wrong. A shallower one is not reported and silences nothing."""
    return {e.symbol for e in facts.events if e.code == "GCK006" and _explodes(e, ctx) is not None}


def _output(item: FileRun) -> str:
    if item.head:
        return ""
    return (
        f" (the last {item.run.layers[-1].name} is the model's output: {item.run.depth - 1} hops)"
    )


def _explodes(event: Event, ctx: RuleContext) -> Event | None:
    """A GCK006 event as reported (None: not reported). Structural mode: deeper than the limit;
    predicted mode: the stack's predicted flow ratio above the explode bound."""
    from gradcheck_kit.theory import crossing_depth, predicted_flow_ratio

    data = event.data
    depth = data.get("depth", 0)
    if ctx.max_saturating_depth is not None:
        return event if depth > ctx.max_saturating_depth else None
    gain, weight_var, head = data["gain"], data["weight_var"], data.get("head", True)
    ratio = predicted_flow_ratio(gain, weight_var, depth, head=head)
    if not ratio > ctx.explode_bound:
        return None
    crossing = crossing_depth(gain, weight_var, ctx.explode_bound, head=head)
    activation = data["activations"][0]
    name = ctx.path.replace("\\", "/").rsplit("/", 1)[-1]
    where = f" at {name}:{data['line']}" if data.get("line") else ""
    between = "with no activation" if activation == "linear" else f"with {activation}"
    tail = "" if head else " (nothing with parameters follows the stack: one hop fewer)"
    message = (
        f"{depth} layers initialised with {data['init']}{where} and no normalization between "
        f"them: {between} between them, each layer multiplies the gradient by ~{gain:.3g} "
        f"(mean-field prediction), so the gradient reaching the first layer is predicted to be "
        f"~{ratio:.0e}x what leaves the last one{tail}, above the runtime check's bound "
        f"{ctx.explode_bound:g} (crossed from depth {crossing}) - it explodes with depth. Use a "
        f"variance-preserving init ({'kaiming_*' if activation == 'relu' else 'xavier_*'} with "
        f"nn.init.calculate_gain({activation!r})), or add normalization."
    )
    return replace(event, message=message)


def check_saturating_stack(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    exploding = _exploding(facts, ctx)
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
                f"{run.depth} saturating activations ({_names(run)}) in a row with no "
                f"normalization or residual connection to reset the scale{source}: each layer "
                f"keeps ~{p.gain:.2g} of the gradient at this init ({p.init}; mean-field "
                f"prediction), so the gradient reaching the first layer is predicted to be "
                f"~{p.ratio:.0e} of what leaves the last one{_output(item)}, below the runtime "
                f"check's bound "
                f"{ctx.vanish_bound:g} (crossed from depth {p.crossing}). "
                "Add a residual connection or a normalization layer, or use ReLU/SiLU."
            )
            yield _finding("GCK001", "saturating-stack", message, item, ctx, run.depth)
            continue
        if run.depth <= ctx.max_saturating_depth:
            continue
        message = (
            f"{run.depth} saturating activations ({_names(run)}) in a row with no normalization "
            f"or residual connection to reset the scale{source}: {attenuation(run)}. "
            "Add a residual connection or a normalization layer, or use ReLU/SiLU."
        )
        yield _finding("GCK001", "saturating-stack", message, item, ctx, run.depth)


def check_unbounded_depth(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    exploding = _exploding(facts, ctx)
    for item in facts.runs:
        run = item.run
        if item.symbol in exploding:
            continue
        counts = [c for c in run.counts if not c.per_step]
        if not run.unbounded or not counts:
            continue
        symbols = [c.symbol for c in counts if c.symbol]
        what = f"'{symbols[0]}'" if symbols else "a value the linter cannot see"
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
            f"saturating activations ({_names(run)}) repeated {what} times with no "
            f"normalization or residual connection: {past} (the known part of the stack is "
            f"{run.depth} deep). Bound the depth, "
            "or add a residual connection or normalization inside the repeated block."
        )
        yield _finding("GCK002", "unbounded-saturating-depth", message, item, ctx, None)


def check_saturating_recurrence(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    yield from check_events(facts, ctx, RULES["GCK003"])


def check_squashed_twice(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    yield from check_events(facts, ctx, RULES["GCK005"])


def check_exploding_init(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    for event in facts.events:
        if event.code == "GCK006" and (reported := _explodes(event, ctx)) is not None:
            finding = event_finding(RULES["GCK006"], reported, ctx)
            if finding is not None:
                yield finding


def _trains_recurrent(tree: ast.Module) -> bool:
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
    """GCK004 lives in :mod:`gradcheck_kit.lint.training`, which reads libcst's concrete tree:
    imported only when a file can trigger it."""
    from gradcheck_kit.lint.training import check_unclipped_recurrent_training as check

    return check(facts, ctx)


def event_finding(rule: Rule, event: Event, ctx: RuleContext) -> Finding | None:
    """A finding at an event's anchor (None when the anchor cannot be located)."""
    span = ctx.locate(event.anchor)
    if span is None:
        return None
    related = ctx.related(event.related)
    return Finding(
        code=rule.code,
        name=rule.name,
        message=event.message,
        path=ctx.path,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        severity=rule.severity,
        depth=event.data.get("depth"),
        activations=tuple(event.data.get("activations", ())),
        symbol=event.symbol,
        related=related,
    )


def check_events(facts: FileFacts, ctx: RuleContext, rule: Rule) -> Iterator[Finding]:
    for event in facts.events:
        if event.code == rule.code:
            finding = event_finding(rule, event, ctx)
            if finding is not None:
                yield finding


RULES: dict[str, Rule] = {
    rule.code: rule
    for rule in sorted(
        (
            Rule(
                "GCK001",
                "saturating-stack",
                "Deep stack of saturating activations with nothing to reset the gradient scale",
                "warning",
                True,
                check_saturating_stack,
            ),
            Rule(
                "GCK002",
                "unbounded-saturating-depth",
                "Saturating activations repeated an unknown number of times with no reset",
                "warning",
                True,
                check_unbounded_depth,
            ),
            Rule(
                "GCK003",
                "saturating-recurrence",
                "Recurrence through time with a saturating activation and no gate",
                "warning",
                True,
                check_saturating_recurrence,
                (("tanh", "sigmoid", "softsign", "rnn"),),
            ),
            Rule(
                "GCK006",
                "exploding-init",
                "Deep stack whose explicit init makes every layer amplify the gradient",
                "warning",
                True,
                check_exploding_init,
                (("init.", "normal_", "uniform_", "constant_", "ones_"),),
            ),
            Rule(
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
            ),
            Rule(
                "GCK004",
                "unclipped-recurrent-training",
                "Recurrent model trained with no gradient clipping between backward and step",
                "warning",
                True,
                check_unclipped_recurrent_training,
                TRAINING_PREFILTER,
                syntactic=True,
                screen=_trains_recurrent,
            ),
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


__all__ = [
    "RULES",
    "Event",
    "FileFacts",
    "Rule",
    "RuleContext",
    "attenuation",
    "may_fire",
    "selected_rules",
]
