"""GCK004: training steps of recurrent models with no gradient clipping between backward and step.

A purely syntactic pass over the parsed module (no torch import, nothing run), on the shared
model of a training step (:mod:`~gradcheck_kit.lint.rules.training`): each function body (and
the module body) is walked in statement order, following both arms of every branch, to find an
optimizer step that a backward reaches with no clipping call on any path in between.

Precision comes first, so everything that may clip is taken to clip: any call whose name speaks
of clipping gradients (``clip_grad_norm_``, ``accelerator.clip_grad_norm_``,
``self.clip_gradients``, timm's ``dispatch_clip_grad``...), a same-file helper that makes such a
call, ``p.grad.clamp_(...)``, a gradient hook that clamps, and files that hand training to a
framework that clips (Lightning's ``gradient_clip_val``, Hugging Face's ``max_grad_norm`` and
``Trainer``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import libcst as cst

from gradcheck_kit import catalog
from gradcheck_kit.lint.rules.base import finding_at
from gradcheck_kit.lint.rules.flow import FlowWalker, scopes
from gradcheck_kit.lint.rules.training import (
    BACKWARD,
    CLIP,
    STEP,
    UNSCALE,
    Classifier,
    Imports,
    final_name,
    scaler_like,
    scan_training,
    source,
    walk,
)
from gradcheck_kit.report.findings import Finding, Fix

if TYPE_CHECKING:
    from gradcheck_kit.lint.facts import FileFacts
    from gradcheck_kit.lint.rules.base import RuleContext

CODE = "GCK004"
NAME = "unclipped-recurrent-training"


_RECURRENT_ORDER = catalog.RECURRENT_MODULES
RECURRENT = frozenset(_RECURRENT_ORDER)
_RECURRENT_MODULES = frozenset({"torch.nn", "torch.nn.modules", "torch.nn.modules.rnn"})


def _is_falsy_literal(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Name):
        return node.value in {"None", "False"}
    if isinstance(node, (cst.Integer, cst.Float)):
        return float(node.value.replace("_", "")) == 0.0
    return False


@dataclass
class _Recurrence:
    """What GCK004 learns on the shared walk of the file: the recurrent classes it uses and
    whether it hands clipping to a framework."""

    imports: Imports
    recurrent: dict[str, cst.CSTNode] = field(default_factory=dict)  # class -> first use
    framework_clips: bool = False
    ignored: set[int] = field(default_factory=set)  # isinstance() types and annotations

    def recurrent_name(self, node: cst.BaseExpression) -> str | None:
        qualified = self.imports.qualify(node)
        star = self.imports.star & _RECURRENT_MODULES
        if qualified is None and star and isinstance(node, cst.Name) and node.value in RECURRENT:
            qualified = f"torch.nn.{node.value}"  # from torch.nn import *
        if qualified is None:
            return None
        module, _, name = qualified.rpartition(".")
        return name if name in RECURRENT and module in _RECURRENT_MODULES else None

    def __call__(self, node: cst.CSTNode) -> None:
        if isinstance(node, cst.Annotation):
            self.ignored.update(id(n) for n in walk(node))
        elif isinstance(node, cst.Call):
            self.call(node)
        elif isinstance(node, (cst.Name, cst.Attribute)) and id(node) not in self.ignored:
            name = self.recurrent_name(node)
            if name is not None:
                self.recurrent.setdefault(name, node)
        elif isinstance(node, (cst.Assign, cst.AnnAssign)) and isinstance(node.value, cst.Dict):
            self.settings(node.value)

    def call(self, call: cst.Call) -> None:
        func = final_name(call.func)
        if func in {"isinstance", "issubclass"} and len(call.args) >= 2:
            self.ignored.update(id(n) for n in walk(call.args[1]))
        if func == "getattr" and len(call.args) >= 2:
            owner = self.imports.qualify(call.args[0].value)
            attr = call.args[1].value
            if owner in _RECURRENT_MODULES and isinstance(attr, cst.SimpleString):
                name = attr.evaluated_value
                if isinstance(name, str) and name in RECURRENT:
                    self.recurrent.setdefault(name, call)
        for arg in call.args:
            keyword = arg.keyword.value if arg.keyword is not None else None
            if keyword in catalog.FRAMEWORK_CLIP_KEYWORDS and not _is_falsy_literal(arg.value):
                self.framework_clips = True
        qualified = self.imports.qualify(call.func)
        if qualified is not None:
            root, _, _ = qualified.partition(".")
            last = qualified.rsplit(".", 1)[-1]
            if root in catalog.CLIPPING_TRAINER_PACKAGES and last.endswith(
                ("Trainer", "TrainingArguments")
            ):
                self.framework_clips = True
        if func == "register_hook" and any(
            isinstance(n, cst.Name | cst.Attribute) and final_name(n) in catalog.CLAMP_METHODS
            for arg in call.args
            for n in walk(arg)
        ):
            self.framework_clips = True  # a gradient hook that clamps clips every backward

    def settings(self, value: cst.Dict) -> None:
        for element in value.elements:
            if (
                isinstance(element, cst.DictElement)
                and isinstance(element.key, cst.SimpleString)
                and element.key.evaluated_value in catalog.FRAMEWORK_CLIP_KEYWORDS
                and not _is_falsy_literal(element.value)
            ):
                self.framework_clips = True


# A path state: id of the backward call not yet consumed by a step (0: none pending), whether
# gradient clipping happened after it, and whether an unscale did (what a fix must not repeat).
_State = tuple[int, bool, bool]
_START: _State = (0, False, False)


@dataclass
class _Step:
    call: cst.Call
    backwards: list[cst.Call]
    symbol: str | None
    #: whether the paths from the backwards unscaled before the step: {False}, {True} or both
    unscaled: frozenset[bool] = frozenset()


class _Walker(FlowWalker[_State]):
    def __init__(self, classifier: Classifier) -> None:
        super().__init__(classifier)
        self.steps: list[_Step] = []
        self.symbol: str | None = None
        self.backwards: dict[int, cst.Call] = {}

    def event(self, call: cst.Call, kind: str, states: set[_State]) -> set[_State]:
        if kind == BACKWARD:
            self.backwards[id(call)] = call
            return {(id(call), False, False)}
        if kind == CLIP:
            return {(b, clipped or b != 0, unscaled) for b, clipped, unscaled in states}
        if kind == UNSCALE:
            return {(b, clipped, unscaled or b != 0) for b, clipped, unscaled in states}
        if kind == STEP:
            pending = [state for state in states if state[0] != 0]
            if pending and not any(clipped for _, clipped, _ in pending):
                backwards = [self.backwards[b] for b in dict.fromkeys(b for b, _, _ in pending)]
                unscaled = frozenset(u for _, _, u in pending)
                self.steps.append(_Step(call, backwards, self.symbol, unscaled))
            return {_START}
        return states


def unclipped_steps(module: cst.Module) -> tuple[list[_Step], dict[str, cst.CSTNode]]:
    """The unclipped training steps of a file that trains a recurrent model, and the recurrent
    classes it uses (with where each is first used)."""
    imports = Imports(module)
    facts = _Recurrence(imports)
    scan = scan_training(module, imports, facts)
    if not facts.recurrent or facts.framework_clips:
        return [], facts.recurrent
    walker = _Walker(Classifier(scan, imports, clip_helpers=True))
    for body, symbol, _ in scopes(module):
        walker.symbol = symbol
        walker.block(body, {_START})
    unique = {id(step.call): step for step in walker.steps}
    return list(unique.values()), facts.recurrent


def _message(step: cst.Call, recurrent: list[str]) -> str:
    what = source(step)
    models = ", ".join(f"nn.{name}" for name in recurrent)
    amp = ""
    if isinstance(step.func, cst.Attribute) and scaler_like(final_name(step.func.value) or ""):
        amp = " (with AMP, call scaler.unscale_(optimizer) first)"
    return (
        f"{what} applies gradients from a backward pass with no gradient clipping in between, "
        f"in a file that trains a recurrent model ({models}): gradients through time can "
        "explode and the loss ends in inf/NaN (Pascanu et al., 2013). Clip between backward and "
        f"step{amp}: torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)."
    )


def check_unclipped_recurrent_training(facts: FileFacts, ctx: RuleContext) -> Iterator[Finding]:
    module = facts.module
    if not isinstance(module, cst.Module):
        return
    steps, recurrent = unclipped_steps(module)
    if not steps:
        return
    names = [name for name in _RECURRENT_ORDER if name in recurrent]
    fixes = _Fixes(ctx, module, len(steps))
    for step in steps:
        span = ctx.locate(step.call)
        if span is None:
            continue
        related = ctx.related(
            [(backward, "backward pass this step applies") for backward in step.backwards]
            + [(recurrent[name], f"nn.{name} (recurrent model)") for name in names]
        )
        yield finding_at(
            CODE,
            NAME,
            _message(step.call, names),
            span,
            ctx,
            symbol=step.symbol,
            related=related,
            fix=fixes(step),
        )


class _Fixes:
    """GCK004's fixes in one file (:mod:`~gradcheck_kit.lint.rules.training_fixes`): each is
    kept only if the file it leaves has fewer unclipped steps and no more ineffective clips."""

    def __init__(self, ctx: RuleContext, module: cst.Module, steps: int) -> None:
        from gradcheck_kit.lint.rules.training_fixes import FileIndex

        self.ctx, self.module, self.steps = ctx, module, steps
        self.index = FileIndex.of(module, Imports(module))
        self.clips: int | None = None

    def still(self, fixed: cst.Module, text: str) -> bool:
        from gradcheck_kit.lint.rules.clip_effect import ineffective_clips

        if len(unclipped_steps(fixed)[0]) >= self.steps:
            return True
        if self.clips is None:
            self.clips = len(list(ineffective_clips(self.module)))
        return len(list(ineffective_clips(fixed))) > self.clips

    def __call__(self, step: _Step) -> Fix | None:
        from gradcheck_kit.lint.rules.training_fixes import unclipped_fix

        return unclipped_fix(
            self.ctx,
            self.module,
            step.call,
            step.backwards,
            step.unscaled,
            self.index,
            self.still,
        )


__all__ = ["CODE", "NAME", "RECURRENT", "check_unclipped_recurrent_training"]
