"""Sketch -> saturating runs.

A *run* is a chain of saturating activations along the forward path that nothing resets: a
normalization resets it, and so does a residual addition (the identity path carries the gradient
past the block). Inside a residual body, a run starts afresh. Where paths from one input are
combined again (``a(x) + b(x)``, ``x * gate(x)``, ``torch.cat``), the gradient reaches
earlier layers along the least attenuated path, so the run continues with the shortest branch.
The arms of an ``if`` the linter cannot decide are alternatives: any may run, so the run
continues with the deepest arm that does not reset it (``if i % 2 == 0 or flag:
layers.append(nn.Tanh())`` counts the tanh every time). A
sigmoid that is a direct factor of a product is a gate and does not count (a tanh factor does:
``tanh(a(x)) * tanh(b(x))`` is two saturating paths). A sum is a reset only where the block's
input, or a projection of it, is added back (:func:`_residual`).

The analysis records every run where it ends and returns the maximal ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import reduce

from gradcheck_kit.lint.sketch import Count, Layer, Node, Repeat, Residual, Seq, iter_layers


@dataclass(frozen=True)
class Run:
    depth: int = 0  # saturating activations along the path (known counts only)
    layers: tuple[Layer, ...] = ()  # distinct saturating layers, in order
    unbounded: bool = False  # repeated an unknown number of times
    counts: tuple[Count, ...] = ()  # the unknown counts, for the message
    sources: tuple[str, ...] = ()  # where known counts came from (parameter defaults...)
    # The ids of ``layers``, shared along a chain of unions: a run extended by one layer at a
    # time (a 50,000-layer nn.Sequential) reuses its predecessor's set instead of rebuilding it,
    # which made the analysis quadratic. Valid only while ``_index.layers is layers``.
    _index: _LayerIndex | None = field(default=None, compare=False, repr=False)

    def _ids(self) -> _LayerIndex:
        index = self._index
        if index is None or index.layers is not self.layers:
            index = _LayerIndex(self.layers, {id(layer) for layer in self.layers})
            object.__setattr__(self, "_index", index)
        return index

    def __add__(self, other: Run) -> Run:
        if not other.depth and not other.unbounded:
            return self
        if not self.depth and not self.unbounded:
            return other
        index = self._ids()
        added = tuple(layer for layer in other.layers if id(layer) not in index.ids)
        layers = self.layers + added if added else self.layers
        if added:  # hand the set on to the longer run (this one rebuilds its own if asked)
            index.ids.update(id(layer) for layer in added)
            index.layers = layers
        return Run(
            self.depth + other.depth,
            layers,
            self.unbounded or other.unbounded,
            _unique(self.counts + other.counts),
            _sources(self.sources + other.sources),
            index,
        )

    def times(self, count: Count) -> Run:
        if not self.depth and not self.unbounded:
            return self
        if count.value is None:
            return replace(self, unbounded=True, counts=_unique((*self.counts, count)))
        sources = self.sources + ((count.source,) if count.source else ())
        return replace(self, depth=self.depth * count.value, sources=_sources(sources))

    @property
    def empty(self) -> bool:
        return not self.depth and not self.unbounded


class _LayerIndex:
    """The ids of the layers of one tuple (see ``Run._index``)."""

    __slots__ = ("ids", "layers")

    def __init__(self, layers: tuple[Layer, ...], ids: set[int]) -> None:
        self.layers = layers
        self.ids = ids


EMPTY_RUN = Run()


def _unique(items: tuple[object, ...]) -> tuple:  # type: ignore[type-arg]
    return tuple(dict.fromkeys(items))


def _sources(items: tuple[str, ...]) -> tuple[str, ...]:
    """The distinct sources, less one another repeats with notes after it (a call site named
    alone, and with where a value it passed came from: ``MLP(cfg) at t.py:3 (depth = 8 ...)``)."""
    unique = tuple(dict.fromkeys(items))
    return tuple(s for s in unique if not any(t != s and t.startswith(f"{s} (") for t in unique))


def _shortest(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: (r.unbounded, r.depth))


def _deepest(runs: list[Run]) -> Run:
    return max(runs, key=lambda r: (r.unbounded, r.depth))


@dataclass(frozen=True)
class Transfer:
    """What a node does to the run that enters it: ``out = run`` if ``resets`` else
    ``incoming + run``."""

    resets: bool
    run: Run

    def apply(self, incoming: Run) -> Run:
        return self.run if self.resets else incoming + self.run


_PASS = Transfer(False, EMPTY_RUN)
_RESET = Transfer(True, EMPTY_RUN)


#: saturating activations whose values lie in [0, 1]: as a factor of a product they scale the
#: other factor (a gate: ``x * torch.sigmoid(g)``, an LSTM's ``o * tanh(c)``); a factor that
#: ends in tanh is a signal (``tanh(a(x)) * tanh(b(x))``: the gradient goes through both)
GATES = frozenset({"sigmoid", "hardsigmoid"})


def _gate(layer: Layer) -> bool:
    return layer.kind == "saturating" and layer.name in GATES


def trim_gate(node: Node) -> Node:
    """The node without a trailing gate activation (sigmoid-like: see :data:`GATES`)."""
    if isinstance(node, Layer) and _gate(node):
        return Seq(())
    if isinstance(node, Seq) and node.items:
        return Seq((*node.items[:-1], trim_gate(node.items[-1])))
    return node


def _gated(node: Node) -> bool:
    """Whether ``node`` ends in a gate activation."""
    while isinstance(node, Seq) and node.items:
        node = node.items[-1]
    return isinstance(node, Layer) and _gate(node)


def factors(branches: tuple[Node, ...]) -> tuple[Node, ...]:
    """The factors of a product as the gradient sees them: a gate scales the factor it gates
    and is trimmed, but a product of gates only (``sigmoid(a(x)) * sigmoid(b(x))``) gates
    nothing: the gradient reaching ``x`` goes through one of the sigmoids."""
    if all(_gated(b) for b in branches):
        return branches
    return tuple(trim_gate(b) for b in branches)


def _saturating(layer: Layer) -> bool:
    return layer.kind == "saturating"


class Analyzer:
    """Walks one sketch. ``member`` says which layers a run counts (saturating activations for
    GCK001/GCK002; affine layers with an exploding init for GCK006)."""

    def __init__(self, member: Callable[[Layer], bool] = _saturating) -> None:
        self.member = member
        self.runs: list[Run] = []
        self._transfers: dict[int, Transfer] = {}
        self._keep: list[Node] = []  # keep memoized nodes alive so ids stay unique

    # -- pure transfer functions ------------------------------------------------------------
    def transfer(self, node: Node) -> Transfer:
        cached = self._transfers.get(id(node))
        if cached is None:
            cached = self._transfer(node)
            self._transfers[id(node)] = cached
            self._keep.append(node)
        return cached

    def _transfer(self, node: Node) -> Transfer:
        if isinstance(node, Layer):
            if self.member(node):
                return Transfer(False, Run(1, (node,)))
            return _RESET if node.kind == "norm" else _PASS
        if isinstance(node, Seq):
            return reduce(_compose, (self.transfer(item) for item in node.items), _PASS)
        if isinstance(node, Residual):
            return _RESET
        if isinstance(node, Repeat):
            body = self.transfer(node.body)
            if body.resets:
                return body
            return Transfer(False, body.run.times(node.count))
        branches = node.branches
        if node.op == "mul":
            branches = factors(branches)
        transfers = [self.transfer(b) for b in branches]
        if not transfers:
            return _PASS
        if node.op == "add" and _residual(branches, transfers):
            return _RESET  # a residual connection (identity or projection shortcut)
        if node.op == "either":  # one arm runs, any may: the deepest reachable counts
            carried = [t.run for t in transfers if not t.resets]
            if carried:
                return Transfer(False, _deepest(carried))
            return Transfer(True, _deepest([t.run for t in transfers]))
        if any(t.resets for t in transfers):
            return Transfer(True, _shortest([t.run for t in transfers]))
        return Transfer(False, _shortest([t.run for t in transfers]))

    # -- walking with recording -------------------------------------------------------------
    def record(self, run: Run) -> None:
        if not run.empty:
            self.runs.append(run)

    def walk(self, node: Node, incoming: Run = EMPTY_RUN) -> Run:
        if isinstance(node, Layer):
            if node.kind == "norm":
                self.record(incoming)
            return self.transfer(node).apply(incoming)
        if isinstance(node, Seq):
            run = incoming
            for item in node.items:
                run = self.walk(item, run)
            if node.source and run.depth > incoming.depth:
                run = replace(run, sources=_sources((*run.sources, node.source)))
            return run
        if isinstance(node, Residual):
            self.record(incoming)
            self.record(self.walk(node.body))
            return EMPTY_RUN
        if isinstance(node, Repeat):
            return self._walk_repeat(node, incoming)
        transfer = self.transfer(node)
        residual = node.op == "add" and transfer.resets and transfer.run.empty
        start = EMPTY_RUN if residual else incoming
        if residual:
            self.record(incoming)
        for branch in factors(node.branches) if node.op == "mul" else node.branches:
            self.record(self.walk(branch, start))
        return transfer.apply(incoming)

    def _walk_repeat(self, node: Repeat, incoming: Run) -> Run:
        body = self.transfer(node.body)
        if node.count.value == 0:
            return incoming
        if body.resets:
            first = self.walk(node.body, incoming)
            if node.count.value == 1:
                return first
            return self.walk(node.body, first)  # every later iteration looks the same
        self.walk(node.body, incoming)  # records what happens inside one iteration
        out = incoming + body.run.times(node.count)
        self.record(out)
        return out


def analyze(root: Node) -> list[Run]:
    """Every maximal saturating run in ``root`` (one forward path)."""
    analyzer = Analyzer()
    analyzer.record(analyzer.walk(root))
    return maximal_runs(analyzer.runs)


#: Layer kinds that own parameters: the runtime's flow ratio ends at the input of the latest one.
PARAMETER_KINDS = ("affine", "norm")


def ends_before_a_layer(root: Node, last: Layer) -> bool:
    """Whether a layer with parameters comes after ``last`` on ``root``'s forward path: then the
    runtime's flow ratio ends after ``last`` (a head), else at the input of the chain's own last
    affine layer, one hop earlier (:func:`gradcheck_kit.theory.predicted_flow_ratio`)."""
    layers = iter_layers(root)
    index = next((i for i, layer in enumerate(layers) if layer is last), None)
    if index is None:
        return True
    return any(layer.kind in PARAMETER_KINDS for layer in layers[index + 1 :])


def _layer_key(layer: Layer) -> tuple[object, ...]:
    return (layer.name, id(layer.anchor if layer.anchor is not None else layer))


def maximal_runs(runs: list[Run]) -> list[Run]:
    """Drop runs contained in another run that is at least as deep (the same stack reached from
    two roots, or a prefix of a longer run). Deterministic: deepest first, then one whose depth
    has a known source, then source order."""
    keyed = [(frozenset(_layer_key(x) for x in r.layers), r) for r in runs if r.layers]
    # of equal runs, one that says where its depth came from
    keyed.sort(key=lambda kr: (-kr[1].depth, not kr[1].unbounded, -len(kr[0]), not kr[1].sources))
    kept: list[tuple[frozenset[tuple[object, ...]], Run]] = []
    for keys, run in keyed:
        if any(keys <= k and run.depth <= r.depth for k, r in kept):
            continue
        kept.append((keys, run))
    return [r for _, r in kept]


def _nonlinear(node: Node) -> bool:
    """Whether ``node`` is more than a linear map (or a product of linear maps) of its input."""
    if isinstance(node, (Residual, Repeat)):
        return True
    if isinstance(node, Layer):
        return node.kind in ("saturating", "activation", "unknown")
    if isinstance(node, Seq):
        return any(_nonlinear(item) for item in node.items)
    return any(_nonlinear(b) for b in node.branches)


def _shortcut(node: Node) -> bool:
    """Whether ``node`` is the block's input or a projection of it: affine and neutral layers
    only, or such a path scaled by a gate (``x * (1 - t)``, a highway's carry). A product of
    two paths that are not gates (``x1 * x2``) is not: its gradient goes through both."""
    if isinstance(node, Layer):
        return node.kind in ("affine", "neutral", "norm")
    if isinstance(node, Seq):
        return all(_shortcut(item) for item in node.items)
    if isinstance(node, (Repeat, Residual)):
        return _shortcut(node.body)
    if node.op == "mul":
        carried = [b for b in node.branches if _shortcut(b)]
        return len(carried) == 1 and all(_shortcut(b) or _gated(b) for b in node.branches)
    return all(_shortcut(b) for b in node.branches)


def _residual(branches: tuple[Node, ...], transfers: list[Transfer]) -> bool:
    """A sum is a residual connection, ``h + f(h)``, when the block's input comes back unchanged
    (a branch with no layer at all), or through a shortcut (:func:`_shortcut`: a projection of
    it, with no saturating layer but a gate) added to a function of itself that is more than
    linear. ``a(x) + b(x)`` of two affine maps, ``x1 * x2 + x1`` of projections or of two tanh
    paths, and any sum of two saturating paths are one more layer of the chain, not a reset."""
    if any(t.resets for t in transfers):
        return True
    if any(not iter_layers(b) for b in branches):
        return True
    shortcuts = [i for i, t in enumerate(transfers) if t.run.empty and _shortcut(branches[i])]
    return any(
        _nonlinear(b) or not transfers[j].run.empty
        for i in shortcuts
        for j, b in enumerate(branches)
        if j != i
    )


def _compose(first: Transfer, second: Transfer) -> Transfer:
    if second.resets:
        return second
    return Transfer(first.resets, first.run + second.run)
