"""The walk of a training step (GCK004, GCK007): sets of path states followed through a function
body in the order its calls run - both arms of every branch, loop bodies (once, or twice so the
end of one iteration reaches the next), ``with``, ``try``, ``match`` and, for a walker that asks,
``return``/``break``/``continue`` and the helper functions and methods the file defines. What a
training call does to a state is the rule's (:meth:`FlowWalker.event`); which calls are training
calls is :class:`~gradcheck_kit.lint.rules.training.Classifier`'s.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import libcst as cst

from gradcheck_kit.lint.rules.training import HELPER_DEPTH, Classifier, children, statements

S = TypeVar("S", bound=Hashable)


class TooManyPaths(Exception):
    """A function with more distinct paths than a walker follows: its result is unsure."""


@dataclass
class _Loop(Generic[S]):
    continued: set[S] = field(default_factory=set)
    broken: set[S] = field(default_factory=set)


class FlowWalker(Generic[S]):
    """Follows sets of path states through a function body in execution order. A subclass says
    what each training call does to a state (:meth:`event`).

    ``jumps``: ``return``/``raise`` end a path and ``break``/``continue`` leave or restart the
    loop (otherwise they fall through). ``loop_passes``: how many times a loop body is walked
    (two carry the end of one iteration into the next). ``inline``: a call to a function or a
    ``self`` method the file defines is walked through its body, up to ``HELPER_DEPTH`` deep."""

    max_states = 256

    def __init__(
        self,
        classifier: Classifier,
        *,
        jumps: bool = False,
        loop_passes: int = 1,
        inline: bool = False,
    ) -> None:
        self.classifier = classifier
        self.scan = classifier.scan
        self.jumps = jumps
        self.loop_passes = loop_passes
        self.inline = inline
        self.returned: set[S] = set()
        self.loops: list[_Loop[S]] = []
        self.active: list[cst.FunctionDef] = []  # the function being walked, innermost last
        self.memo: dict[tuple[int, frozenset[S]], frozenset[S]] = {}

    def event(self, call: cst.Call, kind: str, states: set[S]) -> set[S]:
        raise NotImplementedError

    # a function

    def function(self, definition: cst.FunctionDef, states: set[S]) -> set[S]:
        """The states at a function's exit (fallthrough and returns) from those at its entry."""
        key = (id(definition), frozenset(states))
        if key in self.memo:
            return set(self.memo[key])
        saved = self.returned, self.loops
        self.returned, self.loops = set(), []
        self.active.append(definition)
        try:
            out = self.suite(definition.body, states) | self.returned
        finally:
            self.active.pop()
            self.returned, self.loops = saved
        self.memo[key] = frozenset(out)
        return out

    def callee(self, call: cst.Call) -> cst.FunctionDef | None:
        """The same-file function or ``self`` method a call runs, if the walker inlines it."""
        if not self.inline or len(self.active) > HELPER_DEPTH:
            return None
        func = call.func
        found: cst.FunctionDef | None = None
        if isinstance(func, cst.Name):
            defs = self.scan.functions.get(func.value, [])
            top = [d for d in defs if id(d) not in self.scan.owners]
            found = top[0] if len(top) == 1 else None
        elif (
            isinstance(func, cst.Attribute)
            and isinstance(func.value, cst.Name)
            and func.value.value == "self"
        ):
            for active in reversed(self.active):
                owner = self.scan.owners.get(id(active))
                if owner is not None:
                    found = self.scan.methods.get(id(owner), {}).get(func.attr.value)
                    break
        if found is None or any(found is a for a in self.active):
            return None
        return found

    # evaluation

    def calls(self, node: cst.CSTNode, states: set[S]) -> set[S]:
        """Apply the calls of an expression or simple statement in evaluation order."""
        for call in calls_in_order(node):
            definition = self.callee(call)
            if definition is not None:
                states = self.function(definition, states)
                continue
            kind = self.classifier.kind(call)
            if kind is not None:
                states = self.event(call, kind, states)
        if len(states) > self.max_states:
            raise TooManyPaths
        return states

    def block(self, body: Sequence[cst.CSTNode], states: set[S]) -> set[S]:
        for statement in body:
            states = self.statement(statement, states)
        return states

    def suite(self, suite: cst.BaseSuite | None, states: set[S]) -> set[S]:
        if suite is None:
            return states
        return self.block(suite.body, states)

    def statement(self, node: cst.CSTNode, states: set[S]) -> set[S]:
        if not states or isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            return states  # an unreachable statement; defs are scopes of their own
        if isinstance(node, cst.SimpleStatementLine):
            return self.block(node.body, states)
        if isinstance(node, cst.If):
            states = self.calls(node.test, states)
            return self.suite(node.body, states) | self.orelse(node.orelse, states)
        if isinstance(node, (cst.For, cst.While)):
            return self.loop(node, states)
        if isinstance(node, cst.With):
            for item in node.items:
                states = self.calls(item.item, states)
            return self.suite(node.body, states)
        if isinstance(node, (cst.Try, cst.TryStar)):
            body = self.suite(node.body, states)
            out = self.orelse(node.orelse, body)
            for handler in node.handlers:
                out = out | self.suite(handler.body, states | body)
            if node.finalbody is not None:
                out = self.suite(node.finalbody.body, out)
            return out
        if isinstance(node, cst.Match):
            states = self.calls(node.subject, states)
            out = set(states)
            for case in node.cases:
                out |= self.suite(case.body, states)
            return out
        if isinstance(node, cst.BaseSmallStatement):
            return self.small(node, states)
        return states

    def small(self, node: cst.BaseSmallStatement, states: set[S]) -> set[S]:
        states = self.calls(node, states)
        if not self.jumps:
            return states
        if isinstance(node, cst.Return):
            self.returned |= states
            return set()
        if isinstance(node, cst.Raise):
            return set()
        if isinstance(node, (cst.Break, cst.Continue)) and self.loops:
            loop = self.loops[-1]
            (loop.broken if isinstance(node, cst.Break) else loop.continued).update(states)
            return set()
        return states

    def loop(self, node: cst.For | cst.While, states: set[S]) -> set[S]:
        head = node.iter if isinstance(node, cst.For) else node.test
        states = self.calls(head, states)
        loop: _Loop[S] = _Loop()
        self.loops.append(loop)
        try:
            for _ in range(self.loop_passes):
                out = self.suite(node.body, states) | loop.continued
                if out <= states:
                    break
                states = states | out
        finally:
            self.loops.pop()
        return states | self.orelse(node.orelse, states) | loop.broken

    def orelse(self, orelse: cst.CSTNode | None, states: set[S]) -> set[S]:
        if orelse is None:
            return states
        if isinstance(orelse, cst.If):
            return self.statement(orelse, states)
        if isinstance(orelse, (cst.Else, cst.Finally)):
            return self.suite(orelse.body, states)
        return states


def calls_in_order(node: cst.CSTNode) -> list[cst.Call]:
    """Calls in evaluation order (arguments and receivers before the call), skipping nested
    function bodies and lambdas, which do not run here."""
    out: list[cst.Call] = []

    def visit(current: cst.CSTNode) -> None:
        if isinstance(current, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
            return
        for child in children(current):
            visit(child)
        if isinstance(current, cst.Call):
            out.append(current)

    visit(node)
    return out


def scopes(
    module: cst.Module,
) -> Iterator[tuple[Sequence[cst.CSTNode], str | None, cst.FunctionDef | None]]:
    """The module body and every function body, with the function's dotted name and its
    definition (None for the module)."""
    yield module.body, None, None
    stack: list[tuple[cst.CSTNode, str]] = [(statement, "") for statement in module.body]
    while stack:
        node, prefix = stack.pop()
        if isinstance(node, cst.FunctionDef):
            name = f"{prefix}{node.name.value}"
            body = node.body
            yield body.body, name, node
            if isinstance(body, cst.IndentedBlock):
                stack.extend((child, f"{name}.") for child in body.body)
        elif isinstance(node, cst.ClassDef):
            name = f"{prefix}{node.name.value}"
            stack.extend((child, f"{name}.") for child in statements(node.body))
        else:
            stack.extend((child, prefix) for child in nested_statements(node))


def nested_statements(node: cst.CSTNode) -> list[cst.CSTNode]:
    """Statements nested in a compound statement (a def inside ``if TYPE_CHECKING:``...)."""
    if isinstance(node, cst.SimpleStatementLine):
        return []
    out: list[cst.CSTNode] = []
    for child in children(node):
        if isinstance(child, cst.IndentedBlock):
            out.extend(child.body)
        elif isinstance(
            child,
            (
                cst.Else,
                cst.If,
                cst.ExceptHandler,
                cst.ExceptStarHandler,
                cst.Finally,
                cst.MatchCase,
            ),
        ):
            out.extend(nested_statements(child))
    return out


__all__ = ["FlowWalker", "TooManyPaths", "calls_in_order", "nested_statements", "scopes"]
