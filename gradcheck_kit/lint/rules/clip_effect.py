"""GCK007: gradient clipping that is there but does nothing.

On the shared model of a training step (:mod:`~gradcheck_kit.lint.rules.training`,
:mod:`~gradcheck_kit.lint.rules.flow`), every function that clips - and the module body of a
script - is walked in the order its effects run: backward, unscale, clip, step, zero_grad,
through branches, loops (twice, so the end of one iteration meets the start of the next),
``return``/``break``/``continue``, and into the helper functions and ``self`` methods of the file,
wherever they are called from. Each clip call collects what it met:

* a step reached from it with no backward in between makes it effective (anywhere: a helper
  that clips correctly in one caller is never flagged);
* a step reached only through a backward after it, not clipped again, makes it ineffective:
  clipped before backward (a), or after the step, meeting the next iteration's backward (b);
* what came before it on every path: a step (b), or a backward through a ``GradScaler``'s
  ``scale(loss)`` with no ``unscale_`` since (c: the threshold meets scaled gradients).

A LightningModule's ``training_step`` under automatic optimization is followed by the backward
and step Lightning runs after it returns. Precision comes first: a clip at an infinite threshold
only measures; a clip that is effective in any context, or whose AMP state differs between
paths while the file unscales somewhere, is not flagged; a file with more paths than the walker
follows is not judged.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradcheck_kit import catalog
from gradcheck_kit.lint.rules.flow import FlowWalker, TooManyPaths, calls_in_order, scopes
from gradcheck_kit.lint.rules.training import (
    BACKWARD,
    CLIP,
    STEP,
    UNSCALE,
    Classifier,
    Imports,
    TrainingScan,
    clamps_grad,
    final_name,
    measures_only,
    scan_training,
    source,
    walk,
)

if TYPE_CHECKING:
    from gradcheck_kit.lint.sketch import Span

# The last effect on a path: none yet (a function's entry), a backward, a step.
_START, _BACKWARD, _STEP = 0, 1, 2
_MANUAL_BACKWARD = next(m for m in catalog.BACKWARD_METHODS if m != BACKWARD)
# A pending clip: (id(clip), id(first backward after it, 0: none yet), clipped again since).
_Pending = tuple[int, int, bool]
# A path state: (last effect, id of its call, gradients still scaled, pending clips).
_State = tuple[int, int, bool, frozenset[_Pending]]
_ENTRY: _State = (_START, 0, False, frozenset())


@dataclass
class Verdict:
    """Why one clip has no effect: ``shape`` is "before-backward", "after-step", "scaled" or
    "lightning"; ``cause`` the call that makes it ineffective, ``step`` the step concerned."""

    clip: cst.Call
    shape: str
    cause: cst.CSTNode
    step: cst.CSTNode | None
    symbol: str | None


@dataclass
class _Record:
    effective: set[int] = field(default_factory=set)
    ineffective: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    seen: dict[int, set[tuple[int, int, bool]]] = field(default_factory=dict)
    symbols: dict[int, str | None] = field(default_factory=dict)
    nodes: dict[int, cst.CSTNode] = field(default_factory=dict)


class _Walker(FlowWalker[_State]):
    def __init__(self, classifier: Classifier, eventful: set[str]) -> None:
        super().__init__(classifier, jumps=True, loop_passes=2, inline=True)
        self.eventful = eventful
        self.record = _Record()
        self.names: dict[int, str] = {}  # id(function) -> its dotted name

    def callee(self, call: cst.Call) -> cst.FunctionDef | None:
        definition = super().callee(call)
        return definition if definition and definition.name.value in self.eventful else None

    def event(self, call: cst.CSTNode, kind: str, states: set[_State]) -> set[_State]:
        record = self.record
        node = id(call)
        record.nodes[node] = call
        if kind == BACKWARD:
            scaled = isinstance(call, cst.Call) and self.classifier.scaled(call)
            return {
                (
                    _BACKWARD,
                    node,
                    scaled or (last == _BACKWARD and was),
                    frozenset((c, node if not b or again else b, False) for c, b, again in clips),
                )
                for last, _, was, clips in states
            }
        if kind == UNSCALE:
            return {(last, at, False, clips) for last, at, _, clips in states}
        if kind == CLIP:
            assert isinstance(call, cst.Call)
            if measures_only(call):
                return states
            reported = not clamps_grad(call)
            if reported:
                seen = record.seen.setdefault(node, set())
                seen.update((last, at, was) for last, at, was, _ in states)
                if node not in record.symbols and self.active:
                    record.symbols[node] = self.names.get(id(self.active[-1]))
                record.symbols.setdefault(node, None)
            fresh = frozenset({(node, 0, False)} if reported else ())
            return {
                (last, at, was, frozenset((c, b, again or b != 0) for c, b, again in clips) | fresh)
                for last, at, was, clips in states
            }
        if kind == STEP:
            for _, _, _, clips in states:
                for c, b, again in clips:
                    if not b:
                        record.effective.add(c)
                    elif not again:
                        record.ineffective.setdefault(c, []).append((b, node))
            return {(_STEP, node, False, frozenset())}
        return states


def _lightning_classes(scan: TrainingScan, imports: Imports) -> list[cst.ClassDef]:
    """LightningModule subclasses (directly, or through a class of the file) that leave
    optimization to Lightning: no ``automatic_optimization`` setting, no ``manual_backward``."""
    classes = {c.name.value: c for c in scan.classes}
    lightning: set[str] = set()
    for _ in range(3):
        for name, definition in classes.items():
            for base in definition.bases:
                qualified = imports.qualify(base.value)
                if qualified in catalog.LIGHTNING_MODULES or final_name(base.value) in lightning:
                    lightning.add(name)
    manual_names = {catalog.LIGHTNING_AUTOMATIC_OPTIMIZATION, _MANUAL_BACKWARD}
    out = []
    for name in sorted(lightning):
        manual = False
        for node in walk(classes[name]):
            identifier = None
            if isinstance(node, (cst.Name, cst.Attribute)):
                identifier = final_name(node)
            elif isinstance(node, cst.FunctionDef):
                identifier = node.name.value
            if identifier in manual_names:
                manual = True  # set, read or overridden: not judged
                break
        if not manual:
            out.append(classes[name])
    return out


def _eventful(scan: TrainingScan, classifier: Classifier) -> tuple[set[str], set[str]]:
    """Names of the file's functions that make a training call (directly or through other
    functions of the file), and of those that clip."""
    kinds: dict[str, set[str]] = {}
    called: dict[str, set[str]] = {}
    for name, calls in scan.calls.items():
        for call in calls:
            kind = classifier.kind(call)
            if kind is not None:
                kinds.setdefault(name, set()).add(kind)
            callee = final_name(call.func)
            if callee in scan.functions:
                called.setdefault(name, set()).add(callee)
    eventful, clipping = set(kinds), {n for n, k in kinds.items() if CLIP in k}
    for _ in range(4):
        eventful |= {n for n, callees in called.items() if callees & eventful}
        clipping |= {n for n, callees in called.items() if callees & clipping}
    return eventful, clipping


def ineffective_clips(module: cst.Module) -> Iterator[Verdict]:
    """The clip calls of a file that have no effect, each with why (unordered)."""
    imports = Imports(module)
    scan = scan_training(module, imports)
    classifier = Classifier(scan, imports, clip_helpers=False)
    eventful, clipping = _eventful(scan, classifier)
    walker = _Walker(classifier, eventful)
    lightning: dict[int, cst.FunctionDef] = {}
    for owner in _lightning_classes(scan, imports):
        method = scan.methods.get(id(owner), {}).get(catalog.LIGHTNING_TRAINING_STEP)
        if method is not None:
            lightning[id(method)] = method
    found = list(scopes(module))
    walker.names = {id(d): name for _, name, d in found if d is not None and name is not None}
    try:
        for body, _, definition in found:
            if definition is None:
                if any(classifier.kind(c) == CLIP for c in scan.module_calls):
                    walker.block(body, {_ENTRY})
            elif definition.name.value in clipping:
                exits = walker.function(definition, {_ENTRY})
                if id(definition) in lightning and all(s[0] == _START for s in exits):
                    anchor = definition.name  # Lightning's backward and step, after it returns
                    walker.event(anchor, STEP, walker.event(anchor, BACKWARD, exits))
                    walker.record.nodes[id(anchor)] = anchor
    except TooManyPaths:
        return
    record = walker.record
    unscales = bool(scan.unscales)
    for clip, seen in record.seen.items():
        call = record.nodes[clip]
        assert isinstance(call, cst.Call)
        symbol = record.symbols.get(clip)
        verdict = _judge(clip, seen, record, unscales, lightning)
        if verdict is not None:
            shape, cause, step = verdict
            after = record.nodes[step] if step is not None else None
            yield Verdict(call, shape, record.nodes[cause], after, symbol)


def _judge(
    clip: int,
    seen: set[tuple[int, int, bool]],
    record: _Record,
    unscales: bool,
    lightning: dict[int, cst.FunctionDef],
) -> tuple[str, int, int | None] | None:
    known = {s for s in seen if s[0] != _START}
    after = [at for last, at, _ in known if last == _STEP]
    if clip not in record.effective:
        misses = record.ineffective.get(clip, [])
        for backward, step in misses:
            if isinstance(record.nodes[backward], cst.Name):
                return "lightning", backward, None
        entry = any(s[0] == _START for s in seen)  # reached before any backward or step
        if misses and after and not entry:
            return "after-step", after[0], misses[0][1]
        if misses:
            return "before-backward", misses[0][0], misses[0][1]
        if known and len(after) == len(known):
            return "after-step", after[0], None
    scaled = [at for last, at, was in known if last == _BACKWARD and was]
    if scaled and (len(scaled) == len(known) or not unscales):
        return "scaled", scaled[0], None
    return None


def message(verdict: Verdict, at: Span | None) -> str:
    what = source(verdict.clip)
    cause = source(verdict.cause) if isinstance(verdict.cause, cst.Call) else ""
    where = f" (line {at.line})" if at is not None else ""
    step = source(verdict.step) if isinstance(verdict.step, cst.Call) else "the optimizer step"
    if verdict.shape == "lightning":
        return (
            f"{what} runs inside training_step, before Lightning calls backward on the loss it "
            "returns: under automatic optimization it clips gradients that are already zeroed "
            "and the step applies this batch's unclipped ones. Let Lightning clip - "
            "Trainer(gradient_clip_val=1.0) - or clip in configure_gradient_clipping / "
            "on_before_optimizer_step."
        )
    if verdict.shape == "after-step":
        return (
            f"{what} clips gradients after {cause}{where} has already applied them; the next "
            "zero_grad() discards the clipped values (or the next backward adds unclipped ones), "
            "so no update is clipped. Move it between the backward pass and the step."
        )
    if verdict.shape == "before-backward":
        return (
            f"{what} runs before {cause}{where}, which produces the gradients that {step} "
            "applies: it clips zero or stale gradients and the step is unclipped. Move it "
            "between the backward pass and the step."
        )
    return (
        f"{what} clips gradients still multiplied by the GradScaler's loss scale (from "
        f"{cause}{where}; 65536 at the start by default): the threshold is compared with "
        "scaled gradients, so it almost never clips or, once it does, cuts them far too much. "
        "Call scaler.unscale_(optimizer) before clipping."
    )


__all__ = ["Verdict", "ineffective_clips", "message"]
