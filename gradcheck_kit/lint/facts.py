"""What rules read about one file: the interpreter produces these facts, rules turn them into
findings.

A file flows so: the engine parses it, the interpreter (:mod:`gradcheck_kit.lint.interp`) runs
it abstractly and yields roots (forward paths as sketches) and :class:`Event` s (a recurrence, a
loss given a squashed input, an exploding init: structured data, never message text);
:mod:`gradcheck_kit.lint.analyze` finds the runs of each root; the engine gathers runs, events and
inits into :class:`FileFacts`, with the project files the interpreter consulted; each rule of
:mod:`gradcheck_kit.lint.rules` reads them and words its findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gradcheck_kit.lint.analyze import Run
from gradcheck_kit.lint.sketch import Layer


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
    """Something the interpreter saw that a rule may report (a recurrence, a loss applied to a
    squashed output...). ``anchor`` is the syntax node; ``related`` are (anchor, label) pairs;
    ``data`` is what the rule words its message from."""

    code: str
    anchor: object
    symbol: str | None = None
    related: tuple[tuple[object, str], ...] = ()
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LayerInit:
    """The init of the affine layer before a saturating activation, as the linter read it.

    ``weight_var`` is s_w^2 (None: PyTorch's default, no init in this file); ``description``
    names an explicit init (``xavier_normal_(gain=1.67)``), ``line`` where it is; ``unread``
    names an init the linter saw but could not compute (then treated as default); ``affine`` is
    the layer itself."""

    weight_var: float | None = None
    fan_in: int | None = None
    description: str | None = None
    line: int | None = None
    unread: str | None = None
    bias: bool = True
    #: that affine layer itself (its anchor and construction site: what a suggested fix quotes)
    affine: Layer | None = field(default=None, compare=False, repr=False)


@dataclass
class FileFacts:
    """Everything rules read about one file."""

    runs: list[FileRun]
    events: list[Event]
    module: Any  # the libcst Module for purely syntactic rules (None when none of them runs)
    #: id(saturating layer) -> the init of the affine layer before it (absent: default)
    inits: dict[int, LayerInit] = field(default_factory=dict)
    #: the project files the interpreter consulted (module names; today only the file itself)
    consulted: tuple[str, ...] = ()


__all__ = ["Event", "FileFacts", "FileRun", "LayerInit"]
