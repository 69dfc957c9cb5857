"""Fixes of the interpreter's rules, as text edits at the spans the interpreter located (no
libcst, no torch): GCK003 turns a gateless ``nn.RNN(...)`` into ``nn.GRU(...)``, GCK006 replaces
an exploding explicit init with the variance-preserving one for the stack's activation.

Both are "unsafe" (they change what the model computes and its parameters) and both are offered
only where the edit is exact: the construction or the init is one call written in this file,
with no ``*args``/``**kwargs`` the linter cannot see through, and the module or init namespace
it needs is the one the code already names.
"""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Callable
from dataclasses import dataclass, replace

from gradcheck_kit import catalog
from gradcheck_kit.lint.facts import Event
from gradcheck_kit.lint.rules.base import RuleContext
from gradcheck_kit.lint.sketch import Span
from gradcheck_kit.report.findings import Edit, Fix

UNSAFE = "unsafe"

# --- arguments of a call, from its tokens ----------------------------------------------------


@dataclass(frozen=True)
class Argument:
    """One argument of a call: where it starts and ends, and the comma after it (None: the
    last argument, with no trailing comma). Positions are (1-based line, 1-based column)."""

    start: tuple[int, int]
    end: tuple[int, int]
    comma: tuple[int, int] | None


_SKIPPED = (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT)


def arguments(ctx: RuleContext, call: ast.Call) -> list[Argument] | None:
    """The arguments of ``call`` in source order, from the tokens of its text (so comments,
    strings and nested brackets are read right), or None when its text cannot be read."""
    span = ctx.locate(call)
    text = ctx.source(call)
    if span is None or text is None:
        return None
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):
        return None

    def where(row: int, column: int) -> tuple[int, int]:
        return span.line + row - 1, column + 1 + (span.column - 1 if row == 1 else 0)

    out: list[Argument] = []
    depth = 0
    start: tuple[int, int] | None = None
    end: tuple[int, int] | None = None
    opened = False
    for token in tokens:
        if token.type in _SKIPPED or token.type == tokenize.ENDMARKER:
            continue
        if token.type == tokenize.OP and token.string in "([{":
            depth += 1
            if depth == 1 and not opened:
                opened = True
                continue
        elif token.type == tokenize.OP and token.string in ")]}":
            depth -= 1
            if depth == 0:
                if start is not None and end is not None:
                    out.append(Argument(start, end, None))
                return out
        if not opened:
            continue
        if depth == 1 and token.type == tokenize.OP and token.string == ",":
            if start is None or end is None:
                return None
            out.append(Argument(start, end, where(*token.start)))
            start = end = None
            continue
        if start is None:
            start = where(*token.start)
        end = where(*token.end)
    return None


def without_argument(args: list[Argument], index: int) -> Edit:
    """The edit that removes argument ``index`` and the separator that goes with it, keeping the
    layout of the others: the next argument moves to its place, or (the last one) the comma
    before it goes, or (with a trailing comma) its own line does."""
    arg = args[index]
    if index + 1 < len(args):
        nxt = args[index + 1].start
        return Edit(arg.start[0], arg.start[1], nxt[0], nxt[1], "")
    if index == 0:
        stop = arg.comma if arg.comma is not None else arg.end
        after = (stop[0], stop[1] + 1) if arg.comma is not None else stop
        return Edit(arg.start[0], arg.start[1], after[0], after[1], "")
    previous = args[index - 1]
    assert previous.comma is not None
    if arg.comma is not None:  # f(a,\n    b,\n) -> f(a,\n)
        begin = (previous.comma[0], previous.comma[1] + 1)
        return Edit(begin[0], begin[1], arg.comma[0], arg.comma[1] + 1, "")
    return Edit(previous.comma[0], previous.comma[1], arg.end[0], arg.end[1], "")


def plain_call(call: ast.Call) -> bool:
    """No ``*args`` or ``**kwargs``: every argument is one the linter reads."""
    return not any(isinstance(a, ast.Starred) for a in call.args) and all(
        k.arg is not None for k in call.keywords
    )


def dotted(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute):
        node = node.value
    return isinstance(node, ast.Name)


# --- GCK003: nn.RNN -> nn.GRU ------------------------------------------------------------------

#: The gated module with the same signature and outputs (``nonlinearity`` aside).
GATED_TWIN = {"RNN": "GRU", "RNNCell": "GRUCell"}
_NONLINEARITY = "nonlinearity"
_NONLINEARITY_POSITION = 3  # RNN(input_size, hidden_size, num_layers, nonlinearity, ...)


def recurrence_fix(event: Event, ctx: RuleContext) -> Fix | None:
    """``nn.RNN(...)`` -> ``nn.GRU(...)`` (``nn.RNNCell`` -> ``nn.GRUCell``), without its
    ``nonlinearity``: same arguments otherwise, same outputs ((output, h_n) / h'), three times
    the recurrent parameters. Only a constructor called through the torch.nn module the file
    names (not a bare imported name, which would need an import)."""
    call, data = event.anchor, event.data
    new = GATED_TWIN.get(str(data.get("module")))
    owner = data.get("owner")
    if data.get("kind") != "module" or new is None or not isinstance(call, ast.Call):
        return None
    if not isinstance(owner, str) or not (
        f"{owner}.{new}" in catalog.GATED_RECURRENT_MODULES
        or owner.startswith(catalog.NN_MODULES_PACKAGE)
    ):
        return None
    func = call.func
    if not isinstance(func, ast.Attribute) or not dotted(func) or not plain_call(call):
        return None
    at = ctx.locate(func)
    args = arguments(ctx, call)
    if at is None or args is None or len(args) != len(call.args) + len(call.keywords):
        return None
    name = Edit(at.end_line, at.end_column - len(func.attr), at.end_line, at.end_column, new)
    if ctx.line_text(at.end_line)[name.column - 1 : at.end_column - 1] != func.attr:
        return None
    edits = [name]
    keywords = [i for i, k in enumerate(call.keywords) if k.arg == _NONLINEARITY]
    if keywords:
        edits.append(without_argument(args, len(call.args) + keywords[0]))
    elif len(call.args) > _NONLINEARITY_POSITION:
        edits.append(without_argument(args, _NONLINEARITY_POSITION))
    what = f"nn.{data['module']} -> nn.{new}"
    return Fix(f"Replace {what} (gated: same outputs, new parameters)", UNSAFE, tuple(edits))


# --- GCK006: a variance-preserving init -------------------------------------------------------

#: Activations whose variance-preserving init is Xavier's (with their calculate_gain); the
#: others (ReLU and its family) get He's (kaiming, nonlinearity="relu").
_XAVIER = frozenset({"tanh", "sigmoid", "linear", "softsign", "hardtanh", "hardsigmoid"})
_NORMAL = ("normal", "trunc_normal", "kaiming_normal", "xavier_normal")
#: A layer whose predicted gain is at most this is not part of an exploding stack
#: (:func:`gradcheck_kit.lint.interp.events.exploding_init`).
_GAIN_LIMIT = 1.02


@dataclass(frozen=True)
class _Candidate:
    function: str  # xavier_uniform_, kaiming_normal_, ...
    arguments: Callable[[str], str]  # init namespace -> the arguments after the weight
    weight_var: float  # s_w^2 it draws (square layers)


def _candidates(activation: str, normal: bool) -> list[_Candidate]:
    dist = "normal" if normal else "uniform"
    xavier = [
        _Candidate(f"xavier_{dist}_", lambda ns: "", 1.0),
    ]
    if activation in catalog.KAIMING_GAIN2:
        gain = f'gain={{}}.{catalog.INIT_GAIN_FUNCTION}("{activation}")'
        xavier.insert(
            0,
            _Candidate(
                f"xavier_{dist}_",
                lambda ns: ", " + gain.format(ns),
                catalog.KAIMING_GAIN2[activation],
            ),
        )
    kaiming = _Candidate(f"kaiming_{dist}_", lambda ns: ', nonlinearity="relu"', 2.0)
    return xavier if activation in _XAVIER else [kaiming, *xavier]


def _function_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else None


def init_fix(
    event: Event, ctx: RuleContext, reported: Callable[[Event, RuleContext], str | None]
) -> Fix | None:
    """Replace every init call of the stack with the variance-preserving init for its
    activation: ``xavier_*_(w, gain=calculate_gain("tanh"))`` for tanh, sigmoid and linear
    stacks, ``kaiming_*_(w, nonlinearity="relu")`` for the ReLU family (normal or uniform as the
    init was), keeping the weight expression and the init namespace the code names. The init
    chosen is the first that the rule's own model (``reported``) no longer reports - Xavier
    with tanh's gain 5/3 grows the gradient ~1.1x per layer, so a very deep tanh stack gets
    plain Xavier (gain 1). None when an init is not one call of this file."""
    from gradcheck_kit.theory import predicted_gain

    data = event.data
    calls = data.get("init_calls") or ()
    namespace = data.get("init_namespace")
    activation = str(data["activations"][0])
    targets: list[tuple[str, Span, str, str]] = []  # init function, span, weight, namespace
    for call, method in calls:
        if not isinstance(call, ast.Call) or not plain_call(call):
            return None
        span = ctx.locate(call)
        function = _function_name(call)
        if span is None or function is None:
            return None
        if method:
            assert isinstance(call.func, ast.Attribute)
            weight, ns = ctx.source(call.func.value), namespace
        elif call.args:
            func = call.func
            weight = ctx.source(call.args[0])
            prefix = ctx.source(func.value) if isinstance(func, ast.Attribute) else namespace
            ns = prefix if isinstance(func, ast.Name) or dotted(func) else None
        else:
            return None
        if weight is None or ns is None or "\n" in weight:
            return None
        targets.append((function, span, weight, ns))
    if not targets:
        return None
    normal = all(function.rstrip("_") in _NORMAL for function, *_ in targets)
    for candidate in _candidates(activation, normal):
        try:
            gain = predicted_gain(activation, candidate.weight_var, 0.0)
        except (ValueError, ArithmeticError):
            continue
        fixed = replace(event, data={**data, "weight_var": candidate.weight_var, "gain": gain})
        if gain > _GAIN_LIMIT and reported(fixed, ctx) is not None:
            continue
        edits = tuple(
            Edit(
                span.line,
                span.column,
                span.end_line,
                span.end_column,
                f"{ns}.{candidate.function}({weight}{candidate.arguments(ns)})",
            )
            for _, span, weight, ns in targets
        )
        shown = edits[0].content
        return Fix(f"Initialise with {shown} (variance-preserving for {activation})", UNSAFE, edits)
    return None


__all__ = ["Argument", "arguments", "init_fix", "recurrence_fix", "without_argument"]
