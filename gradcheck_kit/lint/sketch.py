"""The architecture sketch: a tiny algebra every code shape that builds a network reduces to.

* :class:`Layer` - one operation (a saturating activation, a normalization, an affine layer...).
* :class:`Seq` - nodes applied one after another.
* :class:`Repeat` - a body applied ``count`` times (a loop, a comprehension, ``[...] * n``).
* :class:`Residual` - the body's output is added back to its input (``x + f(x)``).
* :class:`Branches` - paths from one input that are combined again: summed (``op="add"``),
  multiplied (``op="mul"``, gating), joined as parts of one value (``op="alt"``: ``torch.cat``,
  one element of a list standing for any, every returned output; the gradient reaches the input
  along the least attenuated part), or the arms of an ``if`` whose condition the linter cannot
  decide (``op="either"``: one arm runs, any may; the deepest reachable counts; a value
  returned or picked by a conditional expression under such a condition is ``"alt"``).

Nodes compare by identity: the same object reached along two paths is one layer, and two
``nn.Tanh()`` written in two places are two layers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

LayerKind = Literal["saturating", "norm", "affine", "activation", "neutral", "unknown"]


@dataclass(frozen=True)
class Span:
    """A region of the source: 1-based lines, 1-based columns, exclusive end column."""

    line: int
    column: int
    end_line: int
    end_column: int


@dataclass(frozen=True, eq=False)
class Built:
    """One construction of a layer (``nn.Linear(...)`` run once per instance of its class): what
    its init, fan-in and bias are recorded under, so two instances of one class (its defaults,
    and a call site's arguments) keep their own; ``node`` is the call that built it."""

    node: object


@dataclass(frozen=True, eq=False)
class Layer:
    kind: LayerKind
    name: str  # display name: "tanh", "BatchNorm1d", "Linear", ...
    anchor: object | None = None  # the syntax node it was written at (located only if reported)
    bound: float = 1.0  # derivative bound, for saturating layers
    ref: object | None = None  # where the module was constructed (kept when a call site copies it)

    @property
    def origin(self) -> object:
        """The construction: the same for every call of one module (a :class:`Built`, or the
        syntax node that built it)."""
        return self.ref if self.ref is not None else self.anchor

    @property
    def site(self) -> object:
        """The syntax node that built the module."""
        origin = self.origin
        return origin.node if isinstance(origin, Built) else origin


@dataclass(frozen=True)
class Count:
    """How many times a :class:`Repeat` runs.

    ``value`` is None when the linter cannot tell. ``source`` says where a known value comes
    from when that is worth telling the user ("parameter 'depth' (default 10)"); ``symbol``
    names what an unknown count depends on. ``per_step`` marks a count that comes from the
    data (time steps of a sequence): a recurrence through time, not a stack of layers.
    """

    value: int | None
    source: str | None = None
    symbol: str | None = None
    per_step: bool = False


@dataclass(frozen=True, eq=False)
class Seq:
    items: tuple[Node, ...]
    source: str | None = None  # provenance of an unrolled loop's count


@dataclass(frozen=True, eq=False)
class Repeat:
    count: Count
    body: Node


@dataclass(frozen=True, eq=False)
class Residual:
    body: Node


@dataclass(frozen=True, eq=False)
class Branches:
    op: Literal["add", "mul", "alt", "either"]
    branches: tuple[Node, ...] = field(default=())


Node = Layer | Seq | Repeat | Residual | Branches

EMPTY = Seq(())


def seq(nodes: tuple[Node, ...] | list[Node], source: str | None = None) -> Node:
    """A sequence, flattened one level when that changes nothing."""
    items = tuple(nodes)
    if len(items) == 1 and source is None:
        return items[0]
    return Seq(items, source)


def nodes(node: Node) -> Iterator[Node]:
    """``node`` and every node inside it (a node shared by two parents, as often as reached)."""
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        yield current
        if isinstance(current, Seq):
            stack.extend(reversed(current.items))
        elif isinstance(current, (Repeat, Residual)):
            stack.append(current.body)
        elif isinstance(current, Branches):
            stack.extend(reversed(current.branches))


def iter_layers(node: Node) -> list[Layer]:
    """Every layer in the sketch, in order (each once)."""
    out: list[Layer] = []
    seen: set[int] = set()
    stack: list[Node] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Layer):
            if id(current) not in seen:
                seen.add(id(current))
                out.append(current)
        elif isinstance(current, Seq):
            stack.extend(reversed(current.items))
        elif isinstance(current, (Repeat, Residual)):
            stack.append(current.body)
        else:
            stack.extend(reversed(current.branches))
    return out


def has_kind(node: Node, kind: LayerKind) -> bool:
    return any(layer.kind == kind for layer in iter_layers(node))
