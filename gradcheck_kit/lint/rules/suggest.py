"""The suggestion GCK001 and GCK002 attach to a run: a ``LayerNorm`` after each saturating
activation of the run, as text edits at the positions the interpreter anchored them.

Why this edit and no other (numbers from :mod:`gradcheck_kit.theory` and the runtime checker,
``tests/test_suggestion_proof.py``):

* Swapping the activation does not repair a stack at PyTorch's default ``nn.Linear`` init: the
  mean-field gain per layer (:func:`~gradcheck_kit.theory.predicted_gain`, weight variance 1/3)
  is 0.29 for SiLU and GELU and 0.41 for ReLU, *below* tanh's 0.57; a 16-layer SiLU MLP of
  width 64 measures a flow ratio of ~6e-9 where the tanh one measures ~2e-4.
* A normalization *before* the activation (``Linear -> LayerNorm -> sigmoid``) repairs tanh but
  not sigmoid: the sigmoid's output is centred on 0.5, so the next layer's pre-activation is
  dominated by that mean, which the norm divides away with the signal (measured: ~2e-7 at depth
  16).
* A ``LayerNorm`` *after* each activation centres and rescales what it passes on, so each layer
  keeps ~1 of the gradient whatever the activation and the init: 16 tanh or sigmoid layers pass
  the runtime check (flow ratio ~10-20). The linter reads it as a reset, so the run is gone.

Where the edit goes depends on the code shape, never on a guess: an activation module written as
an element of an ``nn.Sequential(...)`` call, a list or a tuple gets ``, nn.LayerNorm(W)`` after
it; one appended in a statement ``layers.append(nn.Tanh())`` gets a second ``append`` on the
next line; any other module construction is wrapped (``nn.Sequential(nn.Tanh(),
nn.LayerNorm(W))``); an applied activation (``torch.tanh(fc(x))``, ``F.sigmoid(h)``,
``self.act(h)``) is wrapped in ``layer_norm(..., (W,))``. ``W`` is the ``out_features`` of the
``nn.Linear`` before the activation, as the interpreter knows it. No fix when a width is
unknown, the affine layer is not an ``nn.Linear``, the anchor is not in this file, an in-place
activation's result is dropped, or the file does not import the names the edit needs.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Iterator

from gradcheck_kit.lint.facts import FileFacts, FileRun, LayerInit
from gradcheck_kit.lint.rules.base import RuleContext, distinct
from gradcheck_kit.lint.sketch import Layer
from gradcheck_kit.report.findings import Edit, Fix

TORCH = "torch"
NN = "torch.nn"
FUNCTIONAL = "torch.nn.functional"
#: The activations a swap would use, as :data:`gradcheck_kit.theory.ACTIVATIONS` names them.
SWAP_CANDIDATES = ("silu", "gelu", "relu")


def layer_norm_fix(item: FileRun, facts: FileFacts, ctx: RuleContext) -> Fix | None:
    """A display-only fix: ``LayerNorm`` after each activation of the run (None when any edit
    would be a guess)."""
    text = getattr(ctx.locate, "text", None)
    if not isinstance(text, str):
        return None
    layers = _to_edit(item)
    if not layers:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    source = _Source(tree, ctx)
    edits: set[Edit] = set()
    widths: list[str] = []
    for layer in layers:
        node = source.node(layer.anchor)
        width = None if node is None else _width(layer, node, item, facts, source)
        if width is None or node is None:
            return None
        found = source.edits(node, width)
        if found is None:
            return None
        edits.update(found)
        widths.append(width)
    ordered = tuple(sorted(edits))
    if not ordered or _collide(ordered):
        return None
    return Fix(_message(item, facts, widths), "display-only", ordered)


def _to_edit(item: FileRun) -> list[Layer]:
    """The run's layers, one per source position; the model's output activation (no layer with
    parameters after it, written once) keeps its range: its derivative is past the end of the
    flow ratio, and a norm after it would change what the model returns."""
    run = item.run
    layers = distinct(run)
    once = run.depth == len(run.layers) and not run.unbounded
    if not item.head and once and layers and len(layers) > 1:
        return layers[:-1]
    return layers


def _width(
    layer: Layer, node: ast.Call, item: FileRun, facts: FileFacts, source: _Source
) -> str | None:
    """The width after ``layer`` as source text valid at ``node``: the same for every layer
    written at its position (one written once but built at two widths has none)."""
    texts = set()
    for other in item.run.layers:
        if other is layer or (other.anchor is not None and other.anchor is layer.anchor):
            init = facts.inits.get(id(other))
            affine = init.affine if init is not None else None
            texts.add(None if affine is None else source.width(affine, node))
    return texts.pop() if len(texts) == 1 else None


def _message(item: FileRun, facts: FileFacts, widths: list[str]) -> str:
    from gradcheck_kit.theory import predicted_gain

    names = ", ".join(dict.fromkeys(layer.name for layer in item.run.layers))
    sizes = ", ".join(dict.fromkeys(widths))
    init = next((facts.inits[id(x)] for x in item.run.layers if id(x) in facts.inits), None)
    weight_var = _weight_var(init)
    gains = []
    for name in SWAP_CANDIDATES:
        try:
            gains.append((predicted_gain(name, weight_var), name))
        except (ValueError, ArithmeticError):
            continue
    swap = ""
    if gains:
        best, which = max(gains)
        if best < 1.0 - 1e-3:
            swap = (
                f"; swapping {names} for SiLU/GELU/ReLU would not (at this init the best, "
                f"{which}, keeps ~{best:.2f} per layer: mean-field prediction)"
            )
    return (
        f"Insert LayerNorm({sizes}) after each {names} (width: out_features of the Linear "
        "before it): normalizing what each activation passes on keeps ~1 of the gradient per "
        f"layer whatever the init{swap}. A suggestion: --fix never applies it."
    )


def _weight_var(init: LayerInit | None) -> float:
    from gradcheck_kit.catalog import DEFAULT_WEIGHT_VAR

    if init is None or init.weight_var is None or not math.isfinite(init.weight_var):
        return DEFAULT_WEIGHT_VAR
    return init.weight_var


def _collide(edits: tuple[Edit, ...]) -> bool:
    """Two edits overlap or insert at one point (their order would be a guess)."""
    for a, b in itertools.pairwise(edits):
        if (b.line, b.column) < (a.end_line, a.end_column):
            return True
        if (a.line, a.column) == (a.end_line, a.end_column) == (b.line, b.column):
            return True
    return False


class _Source:
    """The file's stdlib tree with parents, and the names its top-level imports bind."""

    def __init__(self, tree: ast.Module, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.parents: dict[int, ast.AST] = {}
        self.calls: dict[tuple[int, int, int | None, int | None], ast.Call] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[id(child)] = parent
                if isinstance(child, ast.Call):
                    key = (child.lineno, child.col_offset, child.end_lineno, child.end_col_offset)
                    self.calls[key] = child
        self.aliases = dict(_aliases(tree))
        self.tree = tree

    def node(self, anchor: object | None) -> ast.Call | None:
        """The call in this file's tree that is ``anchor`` (None: not a call of this file)."""
        if not isinstance(anchor, ast.Call):
            return None
        key = (anchor.lineno, anchor.col_offset, anchor.end_lineno, anchor.end_col_offset)
        node = self.calls.get(key)
        if node is None or ast.dump(node) != ast.dump(anchor):
            return None
        return node

    def width(self, affine: Layer, site: ast.Call) -> str | None:
        """The output width of ``affine`` (an ``nn.Linear``) as text valid at ``site``: its
        ``out_features`` when a literal; ``f.out_features`` when ``site`` applies the activation
        to the call ``f(x)`` of that layer; the ``out_features`` expression itself when
        ``site`` is in its scope and nothing rebinds its names in between; else None."""
        if affine.name != "Linear":
            return None  # a convolution's features are not the last dimension
        built = self.node(affine.origin)
        out = _out_features(built) if built is not None else None
        if isinstance(out, ast.Constant) and type(out.value) is int and out.value > 0:
            return str(out.value)
        applied = self.node(affine.anchor)
        if applied is not None and applied is not built and site.args[:1] == [applied]:
            func = self.ctx.source(applied.func)
            if _pure(applied.func) and func is not None and "\n" not in func:
                return f"{func}.out_features"
        if out is None or built is None or not _pure(out):
            return None
        text = self.ctx.source(out)
        if text is None or "\n" in text or self.scope(built) is not self.scope(site):
            return None
        names = {n.id for n in ast.walk(out) if isinstance(n, ast.Name)}
        start, end = _position(built), _position(site)
        for other in ast.walk(self.scope(site)):
            if isinstance(other, ast.Name) and isinstance(other.ctx, ast.Store):
                if other.id in names and start <= _position(other) <= end:
                    return None  # rebound between the layer and the activation
        return text

    def scope(self, node: ast.AST) -> ast.AST:
        """The function, class, lambda, comprehension or module whose names ``node`` reads."""
        current = self.parents.get(id(node))
        while current is not None and not isinstance(current, _SCOPES):
            current = self.parents.get(id(current))
        return current if current is not None else self.tree

    def prefix(self, module: str) -> str | None:
        """How this file spells ``module.`` (``nn.``, ``F.``, ``torch.nn.``), from its imports."""
        if module in self.aliases:
            return self.aliases[module] + "."
        parent, _, last = module.rpartition(".")
        if parent:
            above = self.prefix(parent)
            return None if above is None else f"{above}{last}."
        return None

    def edits(self, node: ast.Call, width: str) -> list[Edit] | None:
        if _constructs(node):
            return self._after_module(node, width)
        parent = self.parents.get(id(node))
        if isinstance(parent, ast.Expr):
            return None  # an in-place activation whose result is dropped: nothing to wrap
        functional = self.prefix(FUNCTIONAL)
        if functional is None:
            return None
        return [
            self._insert(node.lineno, node.col_offset, f"{functional}layer_norm("),
            self._insert(node.end_lineno, node.end_col_offset, f", ({width},))"),
        ]

    def _after_module(self, node: ast.Call, width: str) -> list[Edit] | None:
        nn = self.prefix(NN)
        if nn is None:
            return None
        norm = f"{nn}LayerNorm({width})"
        parent = self.parents.get(id(node))
        if _element(node, parent):
            return [self._insert(node.end_lineno, node.end_col_offset, f", {norm}")]
        statement = self.parents.get(id(parent)) if parent is not None else None
        appended = self._append_line(node, parent, statement, norm)
        if appended is not None:
            return [appended]
        return [
            self._insert(node.lineno, node.col_offset, f"{nn}Sequential("),
            self._insert(node.end_lineno, node.end_col_offset, f", {norm})"),
        ]

    def _append_line(
        self, node: ast.Call, call: ast.AST | None, statement: ast.AST | None, norm: str
    ) -> Edit | None:
        """``layers.append(nn.Tanh())`` alone on its last line: the same append of the norm on
        the next line, indented alike."""
        if not (
            isinstance(call, ast.Call)
            and isinstance(statement, ast.Expr)
            and statement.value is call
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "append"
            and call.args == [node]
            and not call.keywords
            and statement.end_lineno is not None
            and statement.end_col_offset is not None
        ):
            return None
        receiver = self.ctx.source(call.func.value)
        first = self.ctx.line_text(statement.lineno)
        last = self.ctx.line_text(statement.end_lineno)
        end = self._column(statement.end_lineno, statement.end_col_offset)
        rest = last[end:].strip()
        if receiver is None or "\n" in receiver or (rest and not rest.startswith("#")):
            return None
        indent = first[: self._column(statement.lineno, statement.col_offset)]
        if indent.strip():
            return None  # the statement does not start its line (after ``;`` or ``:``)
        return Edit(
            statement.end_lineno,
            len(last) + 1,
            statement.end_lineno,
            len(last) + 1,
            f"\n{indent}{receiver}.append({norm})",
        )

    def _column(self, line: int, offset: int) -> int:
        """A 0-based character column from ast's UTF-8 byte offset."""
        text = self.ctx.line_text(line)
        return len(text.encode("utf-8")[:offset].decode("utf-8", errors="replace"))

    def _insert(self, line: int | None, offset: int | None, content: str) -> Edit:
        assert line is not None and offset is not None  # every ast.Call has an end
        column = self._column(line, offset) + 1
        return Edit(line, column, line, column, content)


_SCOPES = (
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.Lambda,
    ast.ClassDef,
    ast.ListComp,
    ast.SetComp,
    ast.DictComp,
    ast.GeneratorExp,
)


def _out_features(call: ast.Call) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == "out_features":
            return keyword.value
    return (
        call.args[1]
        if len(call.args) > 1 and not any(isinstance(a, ast.Starred) for a in call.args[:2])
        else None
    )


def _pure(node: ast.AST) -> bool:
    """An expression that only reads names, attributes, constants and arithmetic of them: the
    same value wherever it is quoted in one scope."""
    allowed = (
        ast.Name,
        ast.Attribute,
        ast.Constant,
        ast.BinOp,
        ast.UnaryOp,
        ast.Subscript,
        ast.Load,
        ast.operator,
        ast.unaryop,
    )
    return all(isinstance(n, allowed) for n in ast.walk(node))


def _position(node: ast.AST) -> tuple[int, int]:
    return (getattr(node, "lineno", 0), getattr(node, "col_offset", 0))


def _constructs(node: ast.Call) -> bool:
    """``nn.Tanh()``, ``Sigmoid()``: a module built, not an activation applied to a tensor."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name[:1].isupper()


def _element(node: ast.Call, parent: ast.AST | None) -> bool:
    """``node`` is an element of a list or tuple display, or an argument of ``Sequential(...)``,
    where one more element after it is one more layer."""
    if isinstance(parent, ast.Call):
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name == "Sequential" and node in parent.args
    if isinstance(parent, ast.List):
        return node in parent.elts
    if isinstance(parent, ast.Tuple):
        first = parent.elts[0] if parent.elts else None
        named = isinstance(first, ast.Constant) and isinstance(first.value, str)
        return node in parent.elts and not named  # ("act", nn.Tanh()) is a name and a module
    return False


def _aliases(tree: ast.Module) -> Iterator[tuple[str, str]]:
    """(module, the name this file binds to it) for the top-level imports of torch's modules."""
    for statement in tree.body:
        if isinstance(statement, ast.Import):
            for alias in statement.names:
                if alias.name in (TORCH, NN, FUNCTIONAL):
                    if alias.asname:
                        yield alias.name, alias.asname
                    else:
                        yield TORCH, TORCH  # ``import torch.nn`` binds ``torch``
        elif isinstance(statement, ast.ImportFrom) and statement.level == 0:
            for alias in statement.names:
                module = f"{statement.module}.{alias.name}"
                if module in (NN, FUNCTIONAL):
                    yield module, alias.asname or alias.name
