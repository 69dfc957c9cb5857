"""The suggestion GCK001 and GCK002 attach to a run (display-only: ``--fix`` never applies it):
a ``LayerNorm`` after each saturating activation of the run, as text edits at the positions the
interpreter anchored them.

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
``self.act(h)``) is wrapped in ``layer_norm(..., (W,))``. ``W`` is the width of the
``nn.Linear`` before the activation as text valid at the edit: its literal ``out_features``,
``f.out_features`` when the activation is applied to ``f(x)`` of that layer, or the expression
it was built with where that expression means the same thing (same scope, nothing rebound in
between; a module constant). Where any width has no such name (a convolution, a width built in
``__init__`` and applied in ``forward`` through a temporary), the swap of
:mod:`~gradcheck_kit.lint.rules.suggest_swap` is tried; no fix at all when the anchor is not in
this file, an in-place activation's result is dropped, or the file does not import the names
the edit needs.
"""

from __future__ import annotations

import ast
import itertools
import math
from collections.abc import Iterator

from gradcheck_kit.lint.facts import FileFacts, FileRun, LayerInit
from gradcheck_kit.lint.rules.base import RuleContext, distinct
from gradcheck_kit.lint.sketch import Built, Layer
from gradcheck_kit.report.findings import Edit, Fix
from gradcheck_kit.report.source import LINE_BREAK

TORCH = "torch"
NN = "torch.nn"
FUNCTIONAL = "torch.nn.functional"
#: The activations a swap would use, as :data:`gradcheck_kit.theory.ACTIVATIONS` names them.
SWAP_CANDIDATES = ("silu", "gelu", "relu")


def suggestion(item: FileRun, facts: FileFacts, ctx: RuleContext) -> Fix | None:
    """GCK001/GCK002's display-only fix: a ``LayerNorm`` after each activation of the run where
    every width has a name at the activation, else a swap to the activation the gain model
    says keeps the gradient at this init (:mod:`~gradcheck_kit.lint.rules.suggest_swap`), else
    None: never a guess."""
    text = getattr(ctx.locate, "text", None)
    if not isinstance(text, str):
        return None
    layers = to_edit(item)
    if not layers:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    source = SourceTree(tree, text, ctx)
    fix = _layer_norm(item, facts, source, layers)
    if fix is None:
        from gradcheck_kit.lint.rules.suggest_swap import swap_fix

        fix = swap_fix(item, facts, source, layers)
    return fix


def _layer_norm(
    item: FileRun, facts: FileFacts, source: SourceTree, layers: list[Layer]
) -> Fix | None:
    """``LayerNorm`` after each of ``layers`` (None when a width has no name there)."""
    edits: set[Edit] = set()
    widths: list[str] = []
    written: dict[int, list[Layer]] = {}  # every layer of the run at one source position
    for other in item.run.layers:
        key = id(other.anchor) if other.anchor is not None else id(other)
        written.setdefault(key, []).append(other)
    for layer in layers:
        node = source.node(layer.anchor)
        key = id(layer.anchor) if layer.anchor is not None else id(layer)
        same = written.get(key, [layer])
        width = None if node is None else _width(same, node, facts, source)
        if width is None or node is None:
            return None
        found = source.edits(node, width, layer)
        if found is None:
            return None
        edits.update(found)
        widths.append(width)
    ordered = tuple(sorted(edits))
    if not ordered or collide(ordered):
        return None
    return Fix(_message(item, facts, widths), "display-only", ordered)


def to_edit(item: FileRun) -> list[Layer]:
    """The run's layers, one per source position; the model's output activation (no layer with
    parameters after it, written once) keeps its range: its derivative is past the end of the
    flow ratio, and a norm after it would change what the model returns."""
    run = item.run
    layers = distinct(run)
    if item.head or len(layers) < 2 or run.unbounded or run.depth != len(run.layers):
        return layers  # a repeat multiplies some layer: its position may be the output's too
    last = layers[-1].anchor
    if sum(1 for layer in run.layers if layer.anchor is last) == 1:
        return layers[:-1]
    return layers  # the output is written in an unrolled loop with the layers before it


def _width(layers: list[Layer], node: ast.Call, facts: FileFacts, source: SourceTree) -> str | None:
    """The width after the ``layers`` written at ``node``, as source text valid there: the same
    for all of them (one written once but built at two widths may have none)."""
    texts = set()
    for layer in layers:
        init = facts.inits.get(id(layer))
        affine = init.affine if init is not None else None
        texts.add(None if affine is None else source.width(affine, node))
        if len(texts) > 1:
            return None
    return texts.pop() if texts else None


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


def collide(edits: tuple[Edit, ...]) -> bool:
    """Two edits overlap or insert at one point (their order would be a guess)."""
    for a, b in itertools.pairwise(edits):
        if (b.line, b.column) < (a.end_line, a.end_column):
            return True
        if (a.line, a.column) == (a.end_line, a.end_column) == (b.line, b.column):
            return True
    return False


class SourceTree:
    """The file's stdlib tree with parents, and the names its top-level imports bind."""

    def __init__(self, tree: ast.Module, text: str, ctx: RuleContext) -> None:
        self.ctx = ctx
        self.parents: dict[int, ast.AST] = {}
        self.calls: dict[tuple[int, int, int | None, int | None], ast.Call] = {}
        self.fields: dict[int, str] = {}  # id(node) -> the field of its parent that holds it
        for parent in ast.walk(tree):
            for field, value in ast.iter_fields(parent):
                for child in value if isinstance(value, list) else [value]:
                    if not isinstance(child, ast.AST):
                        continue
                    self.parents[id(child)] = parent
                    self.fields[id(child)] = field
                    if isinstance(child, ast.Call):
                        key = (
                            child.lineno,
                            child.col_offset,
                            child.end_lineno,
                            child.end_col_offset,
                        )
                        self.calls[key] = child
        self.aliases = dict(_aliases(tree))
        self.tree = tree
        self.text = text
        self.starts = [0] + [m.end() for m in LINE_BREAK.finditer(text)]
        self._stores: dict[int, list[tuple[str, tuple[int, int]]]] = {}
        self._parameters: set[str] | None = None

    def node(self, anchor: object | None) -> ast.Call | None:
        """The call in this file's tree that is ``anchor`` (None: not a call of this file)."""
        if not isinstance(anchor, ast.Call):
            return None
        key = (anchor.lineno, anchor.col_offset, anchor.end_lineno, anchor.end_col_offset)
        node = self.calls.get(key)
        if node is None or ast.dump(node.func) != ast.dump(anchor.func):
            return None  # a node of another file (a class the interpreter imported)
        return node

    def width(self, affine: Layer, site: ast.Call) -> str | None:
        """The output width of ``affine`` (an ``nn.Linear``) as text valid at ``site``: its
        ``out_features`` when a literal; ``f.out_features`` when ``site`` applies the activation
        to the call ``f(x)`` of that layer; the ``out_features`` expression itself when
        ``site`` is in its scope and nothing rebinds its names in between; else None."""
        if affine.name != "Linear":
            return None  # a convolution's features are not the last dimension
        built = self.node(affine.site)
        if built is None or _name(built) != "Linear":
            return None  # anchored at a call into other code: its width is not written here
        out = _out_features(built)
        if isinstance(out, ast.Constant) and type(out.value) is int and out.value > 0:
            return str(out.value)
        applied = self.node(affine.anchor)
        if applied is not None and applied is not built and site.args[:1] == [applied]:
            func = self.ctx.source(applied.func)
            if _pure(applied.func) and func is not None and "\n" not in func:
                return f"{func}.out_features"
        if out is None or not _pure(out):
            return None
        text = self.ctx.source(out)
        if text is None or "\n" in text:
            return None
        names = {n.id for n in ast.walk(out) if isinstance(n, ast.Name)}
        if isinstance(out, ast.Name) and self._constant(out.id):
            return text  # a module constant bound once, rebound nowhere: the same everywhere
        if self.scope(built) is not self.scope(site):
            return None
        start, end = _position(built), _position(site)
        for name, where in self.stores(self.scope(site)):
            if name in names and start <= where <= end:
                return None  # rebound between the layer and the activation
        return text

    def stores(self, scope: ast.AST) -> list[tuple[str, tuple[int, int]]]:
        """The names bound in ``scope`` (nested scopes included: a conservative superset), with
        where."""
        key = id(scope)
        if key not in self._stores:
            self._stores[key] = [
                (n.id, _position(n))
                for n in ast.walk(scope)
                if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
            ]
        return self._stores[key]

    def _constant(self, name: str) -> bool:
        """``name`` is bound exactly once in the file, by a top-level ``NAME = ...``."""
        bound = [where for other, where in self.stores(self.tree) if other == name]
        top = [
            s
            for s in self.tree.body
            if isinstance(s, ast.Assign)
            and len(s.targets) == 1
            and isinstance(s.targets[0], ast.Name)
            and s.targets[0].id == name
        ]
        return len(bound) == 1 and len(top) == 1 and not self._parameter(name)

    def _parameter(self, name: str) -> bool:
        if self._parameters is None:
            self._parameters = {
                a.arg
                for n in ast.walk(self.tree)
                if isinstance(n, ast.arguments)
                for a in (*n.posonlyargs, *n.args, *n.kwonlyargs, n.vararg, n.kwarg)
                if a is not None
            }
        return name in self._parameters

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

    def edits(self, node: ast.Call, width: str, layer: Layer) -> list[Edit] | None:
        """The edits that put a norm of ``width`` after ``layer``, written at ``node``."""
        if not self.written_as(layer, node):
            return None  # a layer of another module, anchored at the call that built it
        if constructs(node):
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

    def written_as(self, layer: Layer, node: ast.Call) -> bool:
        """``node`` builds or applies the activation ``layer`` itself (``nn.Tanh()``,
        ``torch.tanh(h)``, ``h.tanh()``), or applies a module built so (``self.act(h)``): not a
        call into another module's code, where the interpreter anchors what that code built."""
        if named(node, layer):
            return True
        ref = layer.ref
        built = self.node(ref.node if isinstance(ref, Built) else ref)
        return (
            not constructs(node) and built is not None and constructs(built) and named(built, layer)
        )

    def _after_module(self, node: ast.Call, width: str) -> list[Edit] | None:
        nn = self.prefix(NN)
        if nn is None:
            return None
        norm = f"{nn}LayerNorm({width})"
        parent = self.parents.get(id(node))
        if _element(parent, self.fields.get(id(node))) and self._bare(node, parent):
            return [self._insert(node.end_lineno, node.end_col_offset, f", {norm}")]
        statement = self.parents.get(id(parent)) if parent is not None else None
        appended = self._append_line(node, parent, statement, norm)
        if appended is not None:
            return [appended]
        return [
            self._insert(node.lineno, node.col_offset, f"{nn}Sequential("),
            self._insert(node.end_lineno, node.end_col_offset, f", {norm})"),
        ]

    def _bare(self, node: ast.expr, parent: ast.AST | None) -> bool:
        """``node`` is not in parentheses of its own (``[(nn.Tanh())]``: one more element
        inside them would make a tuple): what follows it is a comma or its parent's end."""
        offset = self._offset(node.end_lineno, node.end_col_offset)
        text = self.text
        while offset < len(text):
            char = text[offset]
            if char == "#":
                offset = text.find("\n", offset)
                offset = len(text) if offset < 0 else offset
            elif char.isspace() or char == "\\":
                offset += 1
            else:
                break
        parent_end = self._offset(
            getattr(parent, "end_lineno", None), getattr(parent, "end_col_offset", None)
        )
        if offset >= len(text) or text[offset] == ",":
            return True
        if text[offset] in ")]":
            return offset == parent_end - 1
        return parent_end == self._offset(node.end_lineno, node.end_col_offset)

    def _offset(self, line: int | None, byte_offset: int | None) -> int:
        if line is None or byte_offset is None or not 0 < line <= len(self.starts):
            return -1
        return self.starts[line - 1] + self.column(line, byte_offset)

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
            and len(call.args) == 1
            and call.args[0] is node
            and not call.keywords
            and statement.end_lineno is not None
            and statement.end_col_offset is not None
        ):
            return None
        receiver = self.ctx.source(call.func.value)
        first = self.ctx.line_text(statement.lineno)
        last = self.ctx.line_text(statement.end_lineno)
        end = self.column(statement.end_lineno, statement.end_col_offset)
        rest = last[end:].strip()
        if receiver is None or "\n" in receiver or (rest and not rest.startswith("#")):
            return None
        indent = first[: self.column(statement.lineno, statement.col_offset)]
        if indent.strip():
            return None  # the statement does not start its line (after ``;`` or ``:``)
        return Edit(
            statement.end_lineno,
            len(last) + 1,
            statement.end_lineno,
            len(last) + 1,
            f"\n{indent}{receiver}.append({norm})",
        )

    def column(self, line: int, offset: int) -> int:
        """A 0-based character column from ast's UTF-8 byte offset."""
        text = self.ctx.line_text(line)
        return len(text.encode("utf-8")[:offset].decode("utf-8", errors="replace"))

    def replace(self, node: ast.expr, content: str) -> Edit:
        """Replace what ``node`` spans with ``content``."""
        assert node.end_lineno is not None and node.end_col_offset is not None
        start = self.column(node.lineno, node.col_offset) + 1
        end = self.column(node.end_lineno, node.end_col_offset) + 1
        return Edit(node.lineno, start, node.end_lineno, end, content)

    def _insert(self, line: int | None, offset: int | None, content: str) -> Edit:
        assert line is not None and offset is not None  # every ast.Call has an end
        column = self.column(line, offset) + 1
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


def _name(node: ast.Call) -> str:
    """The last name of what ``node`` calls (``Tanh`` for ``nn.Tanh()``, ``tanh`` for
    ``x.tanh()``)."""
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def named(node: ast.Call, layer: Layer) -> bool:
    """``node`` calls the activation ``layer`` by its own name (``Tanh``, ``tanh``, ``tanh_``;
    ``expit`` for sigmoid), as a module built, a function or a tensor method."""
    called = _name(node).rstrip("_").lower()
    return called == layer.name.lower() or (called == "expit" and layer.name == "sigmoid")


def constructs(node: ast.Call) -> bool:
    """``nn.Tanh()``, ``Sigmoid()``: a module built, not an activation applied to a tensor."""
    return _name(node)[:1].isupper()


def _element(parent: ast.AST | None, field: str | None) -> bool:
    """A node held in ``field`` of ``parent`` is an element of a list or tuple display, or an
    argument of ``Sequential(...)``, where one more element after it is one more layer."""
    if isinstance(parent, ast.Call):
        func = parent.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        return name == "Sequential" and field == "args"
    if isinstance(parent, ast.List):
        return field == "elts"
    if isinstance(parent, ast.Tuple):
        first = parent.elts[0] if parent.elts else None
        named = isinstance(first, ast.Constant) and isinstance(first.value, str)
        return field == "elts" and not named  # ("act", nn.Tanh()) is a name and a module
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
