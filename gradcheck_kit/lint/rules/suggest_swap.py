"""GCK001/GCK002's second suggestion, where no ``LayerNorm`` width can be named (a convolution
stack, a width the linter cannot see): swap the saturating activation for a non-saturating one,
but only where the gain model (:mod:`gradcheck_kit.theory`) says the swap keeps the gradient at
the init the file gives each layer.

A swap is no repair in general: at PyTorch's default init ReLU keeps ~0.41 of the gradient per
layer and SiLU/GELU ~0.29, less than tanh's 0.57. At He's init (``kaiming_*(nonlinearity=
"relu")``, weight variance 2) ReLU keeps exactly 1 while sigmoid keeps 0.32: there the swap is
the repair, and the runtime checker confirms it (``tests/test_suggestion_proof.py``). So the
candidate with the largest predicted gain is suggested only when the gain model predicts no depth
at which it crosses the runtime's vanish bound, nor any growth.

Edits: ``nn.Sigmoid()`` -> ``nn.ReLU()`` (a module built with no arguments), ``torch.tanh(z)``
/ ``F.sigmoid(z)`` -> ``F.relu(z)`` (the file's name for ``torch.nn.functional``, else
``torch.relu``), ``z.tanh()`` -> ``z.relu()``, and a module applied in ``forward``
(``self.act(h)``) at its construction. In-place forms and activations built with arguments have
no swap.
"""

from __future__ import annotations

import ast

from gradcheck_kit.lint.facts import FileFacts, FileRun, LayerInit
from gradcheck_kit.lint.rules.suggest import (
    FUNCTIONAL,
    NN,
    TORCH,
    SourceTree,
    collide,
    constructs,
    named,
)
from gradcheck_kit.lint.sketch import Layer
from gradcheck_kit.report.findings import Edit, Fix
from gradcheck_kit.lint.interp.syntax import dotted_name

#: theory name -> (module class, function, tensor method) of the activation a swap writes
CANDIDATES = {"relu": ("ReLU", "relu", "relu")}
#: names of the saturating functions and tensor methods a swap may rename
SATURATING_CALLS = frozenset(
    {"sigmoid", "tanh", "expit", "hardtanh", "hardsigmoid", "softsign", "logsigmoid"}
)
#: the gain a swap must keep, at most this far from 1 either way (no vanishing, no growth)
CRITICAL = 1e-3


def swap_fix(
    item: FileRun, facts: FileFacts, source: SourceTree, layers: list[Layer]
) -> Fix | None:
    """Swap each of ``layers`` for the candidate the gain model says keeps the gradient at the
    init of every layer before it (None when none does, or an edit would be a guess)."""
    chosen = _candidate(item, facts)
    if chosen is None:
        return None
    name, gain = chosen
    edits: set[Edit] = set()
    for layer in layers:
        found = _edits(layer, source, name)
        if found is None:
            return None
        edits.update(found)
    ordered = tuple(sorted(edits))
    if not ordered or collide(ordered):
        return None
    module = CANDIDATES[name][0]
    names = ", ".join(dict.fromkeys(layer.name for layer in item.run.layers))
    init = next((i.description for i in _inits(item, facts) if i and i.description), None)
    return Fix(
        f"Swap {names} for {module}: at this init ({init or 'as the file sets it'}) the "
        f"mean-field gain of {module} is ~{gain:.2f} per layer, so the gradient no longer "
        "vanishes with depth (no LayerNorm suggested: no nn.Linear width has a name at the "
        "activation). A suggestion: --fix never applies it.",
        "display-only",
        ordered,
    )


def _inits(item: FileRun, facts: FileFacts) -> list[LayerInit | None]:
    return [facts.inits.get(id(layer)) for layer in item.run.layers]


def _candidate(item: FileRun, facts: FileFacts) -> tuple[str, float] | None:
    """The candidate activation whose predicted gain is ~1 at every layer's explicit init."""
    from gradcheck_kit.theory import predicted_gain

    inits = _inits(item, facts)
    variances = {i.weight_var if i is not None else None for i in inits}
    if not variances or None in variances:
        return None  # a default or unread init: no swap keeps the gradient there
    best: tuple[str, float] | None = None
    for name in CANDIDATES:
        try:
            gains = [predicted_gain(name, v) for v in variances if v is not None]
        except (ValueError, ArithmeticError):
            continue
        if gains and all(abs(g - 1.0) <= CRITICAL for g in gains):
            worst = min(gains)
            if best is None or worst > best[1]:
                best = (name, worst)
    return best


def _edits(layer: Layer, source: SourceTree, name: str) -> list[Edit] | None:
    module, function, method = CANDIDATES[name]
    node = source.node(layer.anchor)
    if node is None or not source.written_as(layer, node):
        return None
    if constructs(node):
        return _rebuild(node, source, module)
    if isinstance(source.parents.get(id(node)), ast.Expr):
        return None  # in place, result dropped
    func = node.func
    if isinstance(func, ast.Attribute) and func.attr in SATURATING_CALLS:
        if not node.args and not node.keywords:  # z.tanh()
            end_line, end = func.end_lineno, func.end_col_offset
            if end_line is None or end is None:
                return None
            column = source.column(end_line, end) + 1
            return [Edit(end_line, column - len(func.attr), end_line, column, method)]
        dotted = dotted_name(func.value)
        torch_modules = {source.prefix(m) for m in (TORCH, FUNCTIONAL, f"{TORCH}.special")}
        if len(node.args) != 1 or node.keywords or f"{dotted}." not in torch_modules:
            return None  # not torch's own function (a configured one may take other arguments)
        prefix = source.prefix(FUNCTIONAL) or source.prefix(TORCH)
        if prefix is None:
            return None
        return [source.replace(func, f"{prefix}{function}")]
    built = source.node(layer.ref)  # a module applied in forward: swap it where it is built
    if built is None or not constructs(built) or not named(built, layer):
        return None
    return _rebuild(built, source, module)


def _rebuild(node: ast.Call, source: SourceTree, module: str) -> list[Edit] | None:
    """``nn.Tanh()`` -> ``nn.ReLU()``: only a module built with no arguments."""
    nn = source.prefix(NN)
    if nn is None or node.args or node.keywords:
        return None
    return [source.replace(node, f"{nn}{module}()")]
