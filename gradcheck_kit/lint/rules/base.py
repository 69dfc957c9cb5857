"""What every rule module shares: :class:`Rule` (code, name, summary, severity, default,
``check``, prefilter and screen), :class:`RuleContext` (the file's path, the mode and bounds, and
how to locate an anchor), and the findings at a run or at an event.

A rule reads :class:`~gradcheck_kit.lint.facts.FileFacts` (runs, events, inits) and yields
findings; only a rule marked ``syntactic`` reads the syntax tree (``FileFacts.module``).

Prefilter: a file runs the rules whose words it holds (:data:`SATURATING_TOKENS` for the rules
on saturating stacks); one that holds none of those is still interpreted for them when the
project can bring a saturating activation in (:mod:`gradcheck_kit.lint.prefilter`).
"""

from __future__ import annotations

import ast
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from gradcheck_kit.lint.analyze import Run
from gradcheck_kit.lint.provenance import Place, places_of
from gradcheck_kit.lint.facts import Event, FileFacts, FileRun
from gradcheck_kit.lint.caller_text import SATURATING_WORDS
from gradcheck_kit.lint.sketch import Layer, Span
from gradcheck_kit.report.findings import Finding, Fix, RelatedLocation
from gradcheck_kit.theory import EXPLODE_BOUND, VANISH_BOUND

#: A rule's prefilter: groups of lowercase substrings; a file can trigger the rule only if its
#: lowercased text contains at least one substring of every group. Substring tests on the
#: lowered text cost ~1/25 of the equivalent case-insensitive regex (measured on timm).
Prefilter = tuple[tuple[str, ...], ...]

#: The saturating rules' prefilter. A file that fails it is still interpreted for them when a
#: caller and an imported module of the project name a saturating activation
#: (:func:`gradcheck_kit.lint.prefilter.reached`).
SATURATING_TOKENS: Prefilter = (SATURATING_WORDS,)


@dataclass(frozen=True)
class RuleContext:
    path: str
    #: None: the predicted mode (GCK001/GCK002 read the gain model); N: the structural mode.
    max_saturating_depth: int | None
    locate: Callable[[object], Span | None]  # a layer's anchor -> its source span
    vanish_bound: float = VANISH_BOUND
    explode_bound: float = EXPLODE_BOUND  # GCK006's bound in the predicted mode

    def related(self, pairs: Iterable[tuple[object, str]]) -> tuple[RelatedLocation, ...]:
        """(anchor, label) pairs -> located, de-duplicated, sorted related locations."""
        found = {
            RelatedLocation(s.line, s.column, s.end_line, s.end_column, label)
            for anchor, label in pairs
            if (s := self.locate(anchor)) is not None
        }
        return tuple(sorted(found))

    def elsewhere(self, places: Iterable[Place]) -> tuple[RelatedLocation, ...]:
        """Places in other project files (where a depth came from) as related locations, their
        paths written as this file's is: absolute, or relative to the working directory."""
        return tuple(
            sorted(
                {
                    RelatedLocation(
                        p.line,
                        p.column,
                        p.end_line,
                        p.end_column,
                        p.label,
                        p.cell,
                        self._shown(p.path),
                    )
                    for p in places
                },
                key=RelatedLocation.sort_key,
            )
        )

    def _shown(self, path: str) -> str | None:
        if path == os.path.abspath(self.path):
            return None  # this file
        return path if os.path.isabs(self.path) else _relative(path)

    def line_text(self, line: int) -> str:
        """The text of a 1-based source line ('' past the end), as fixes read indentation."""
        lines: list[str] = getattr(self.locate, "lines", [])
        return lines[line - 1] if 0 < line <= len(lines) else ""

    def source(self, anchor: object) -> str | None:
        """The source text an anchor spans (None when it cannot be located), as fixes quote
        the code they keep."""
        span = self.locate(anchor)
        if span is None:
            return None
        if span.line == span.end_line:
            return self.line_text(span.line)[span.column - 1 : span.end_column - 1]
        first = self.line_text(span.line)[span.column - 1 :]
        middle = [self.line_text(n) for n in range(span.line + 1, span.end_line)]
        last = self.line_text(span.end_line)[: span.end_column - 1]
        return "\n".join([first, *middle, last])

    @property
    def text(self) -> str:
        """The whole source text ('' when the locator does not keep it), as fixes check it."""
        text: str = getattr(self.locate, "text", "")
        return text

    @property
    def newline(self) -> str:
        """The file's line break, as a fix that inserts a line writes it."""
        text = self.text
        index = text.find("\n")
        return "\r\n" if index > 0 and text[index - 1] == "\r" else "\n"

    @property
    def file_name(self) -> str:
        """The file's name, as messages cite a line (``model.py:12``)."""
        return self.path.replace("\\", "/").rsplit("/", 1)[-1]


@dataclass(frozen=True)
class Rule:
    code: str
    name: str
    summary: str
    severity: str
    default: bool
    check: Callable[[FileFacts, RuleContext], Iterator[Finding]]
    #: A file that does not match cannot trigger the rule: it is not parsed for it.
    prefilter: Prefilter = SATURATING_TOKENS
    #: Reads only the syntax tree (``FileFacts.module``), not the interpreter's runs and events.
    syntactic: bool = False
    #: A second screen, on the stdlib tree of a file that passed the prefilter: False when the
    #: code (not its strings or comments) cannot trigger the rule.
    screen: Callable[[ast.Module], bool] | None = None
    #: Its words may be in a project module the file imports instead (an init helper called
    #: here: ``prefilter.imported_tokens``), where the interpreter reads the file anyway.
    imported_words: bool = False


def distinct(run: Run) -> list[Layer]:
    """The run's layers, one per source position (an unrolled loop repeats one position)."""
    seen: dict[object, Layer] = {}
    for layer in run.layers:
        key = id(layer.anchor) if layer.anchor is not None else id(layer)
        seen.setdefault(key, layer)
    return list(seen.values())


def run_finding(
    code: str,
    name: str,
    message: str,
    item: FileRun,
    ctx: RuleContext,
    depth: int | None,
    fix: Fix | None = None,
) -> Finding:
    """A finding spanning a run's layers, each one a related location (``fix``: its repair)."""
    layers = distinct(item.run)
    spans = [s for layer in layers if (s := ctx.locate(layer.anchor)) is not None]
    start = min(spans, key=lambda s: (s.line, s.column))
    end = max(spans, key=lambda s: (s.end_line, s.end_column))
    related = ctx.related(
        (layer.anchor, f"{layer.name} (saturating activation)") for layer in layers
    ) + ctx.elsewhere(places_of(*item.run.sources))
    return Finding(
        code=code,
        name=name,
        message=message,
        path=ctx.path,
        line=start.line,
        column=start.column,
        end_line=end.end_line,
        end_column=end.end_column,
        severity="warning",
        depth=depth,
        activations=tuple(layer.name for layer in layers),
        symbol=item.symbol,
        depth_source="; ".join(item.run.sources) or None,
        related=related,
        fix=fix,
    )


def event_findings(
    facts: FileFacts,
    ctx: RuleContext,
    rule: Rule,
    message: Callable[[Event], str],
    fix: Callable[[Event, RuleContext], Fix | None] | None = None,
) -> Iterator[Finding]:
    """The findings of a rule that reports the interpreter's events with its code, each worded
    by ``message`` and repaired by ``fix`` (None: no fix)."""
    for event in facts.events:
        if event.code == rule.code:
            repair = fix(event, ctx) if fix is not None else None
            finding = event_finding(rule, event, message(event), ctx, repair)
            if finding is not None:
                yield finding


def event_finding(
    rule: Rule, event: Event, message: str, ctx: RuleContext, fix: Fix | None = None
) -> Finding | None:
    """A finding at an event's anchor (None when the anchor cannot be located)."""
    span = ctx.locate(event.anchor)
    if span is None:
        return None
    return finding_at(
        rule.code,
        rule.name,
        message,
        span,
        ctx,
        severity=rule.severity,
        depth=event.data.get("depth"),
        activations=tuple(event.data.get("activations", ())),
        symbol=event.symbol,
        related=ctx.related(event.related),
        fix=fix,
    )


def finding_at(
    code: str,
    name: str,
    message: str,
    span: Span,
    ctx: RuleContext,
    *,
    severity: str = "warning",
    depth: int | None = None,
    activations: tuple[str, ...] = (),
    symbol: str | None = None,
    related: tuple[RelatedLocation, ...] = (),
    fix: Fix | None = None,
) -> Finding:
    """A finding of this file at ``span``."""
    return Finding(
        code=code,
        name=name,
        message=message,
        path=ctx.path,
        line=span.line,
        column=span.column,
        end_line=span.end_line,
        end_column=span.end_column,
        severity=severity,
        depth=depth,
        activations=activations,
        symbol=symbol,
        related=related,
        fix=fix,
    )


def names(run: Run) -> str:
    """The run's activations, each named once, in order."""
    return ", ".join(dict.fromkeys(layer.name for layer in run.layers))


def _relative(path: str) -> str:
    try:
        return os.path.relpath(path).replace(os.sep, "/")
    except ValueError:  # another drive (Windows)
        return path
