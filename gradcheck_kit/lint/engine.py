"""Files -> findings: discover and read (:mod:`~gradcheck_kit.lint.discovery`), cache, prefilter,
parse, extract, analyze, rules, noqa (:mod:`~gradcheck_kit.lint.noqa`); worker processes
(:mod:`~gradcheck_kit.lint.pool`).

Every front end (CLI, pre-commit, flake8, pytest) calls :func:`lint_paths` or :func:`lint_source`, so
they agree exactly. A file that cannot be read or parsed becomes a :class:`LintError` naming it;
the others are still linted.
"""

from __future__ import annotations

import ast
import contextlib
import gc
import os
import re
import sys
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gradcheck_kit.config import Config
from gradcheck_kit.lint.cache import ConsultedFile, FileStamp, LintCache, content_hash
from gradcheck_kit.lint.discovery import (
    SourceError,
    decode_source,
    discover_keyed,
    per_file_ignored,
    read_file,
    read_stat,
)
from gradcheck_kit.lint.noqa import (
    MALFORMED_NOQA,
    file_noqa,
    malformed_noqa_lines,
    noqa_directives,
    suppressed,
)
from gradcheck_kit.lint.notebook import NotebookError, NotebookSource, notebook_source, to_cells
from gradcheck_kit.report.findings import Finding, LintError, LintResult

if TYPE_CHECKING:
    from gradcheck_kit.lint.analyze import Run
    from gradcheck_kit.lint.facts import Event
    from gradcheck_kit.lint.interp.frames import Root
    from gradcheck_kit.lint.project import ProjectFile


def lint_source(
    text: str,
    path: str = "<string>",
    config: Config | None = None,
    consulted: list[ConsultedFile] | None = None,
) -> list[Finding]:
    """Lint one source text. Raises :class:`SyntaxError` on a syntax error. The other project
    files the interpretation read are added to ``consulted`` (for the cache key)."""
    # Imported here, not at the top: a run whose every file is a cache hit never needs them
    # (start-up is most of a warm pre-commit run).
    from gradcheck_kit.lint.analyze import analyze, ends_before_a_layer, maximal_runs
    from gradcheck_kit.lint.facts import FileFacts, FileRun
    from gradcheck_kit.lint.locate import Locator
    from gradcheck_kit.lint.prefilter import widened
    from gradcheck_kit.lint.project import Project, keep_tree, reused_tree, root_entry
    from gradcheck_kit.lint.rules import RuleContext, may_fire, selected_rules

    config = config or Config()
    if file_noqa(text):
        return []
    chosen = selected_rules(config.select, config.ignore + per_file_ignored(path, config))
    lowered = text.lower()
    rules = [r for r in chosen if may_fire(r, text, config.extend_saturating, lowered=lowered)]
    real = os.path.realpath(path) if not path.startswith("<") else path
    tree = reused_tree(real, text)  # read already as another file's import
    if tree is None:
        tree = parse(text, path)  # a broken file is reported even where no rule can fire
        if tree is None:
            return []
        keep_tree(real, text, tree)
    rules = widened(chosen, rules, tree, text, path, config.extend_saturating, consulted)
    rules = [rule for rule in rules if rule.screen is None or rule.screen(tree)]
    if not rules:
        return []
    roots: list[Root] = []
    events: list[Event] = []
    read: tuple[ProjectFile, ...] = ()
    if not all(rule.syntactic for rule in rules):
        from gradcheck_kit.lint.interp.machine import extract  # not needed on a cached run

        project = Project.for_file(path)
        roots, events, read, modules, data = extract(
            tree,
            config.extend_saturating,
            config.extend_normalization,
            config.max_saturating_depth or 1,  # predicted mode: GCK006 judges every stack
            project,
            text,
        )
        if consulted is not None:
            consulted.extend(root_entry(project))  # no marker: the root this run gives it
            consulted.extend((m.file.path, m.sha256, *m.stamp) for m in modules)
            consulted.extend(d.consulted for d in data)
            if project.looked_up and project.root is not None:  # callers added or removed
                from gradcheck_kit.lint.callindex import callers_entry

                consulted.append(callers_entry(project.root, sorted(project.looked_up)))
    module = _concrete_tree(text) if any(rule.syntactic for rule in rules) else None
    runs: list[tuple[Run, str | None, bool]] = []
    for root in roots:
        runs.extend(
            (run, root.symbol, ends_before_a_layer(root.node, run.layers[-1]))
            for run in analyze(root.node)
        )
    found = {id(run): (symbol, head) for run, symbol, head in runs}
    kept = maximal_runs([run for run, _, _ in runs])
    facts = FileFacts([FileRun(run, *found[id(run)]) for run in kept], events, module)
    facts.inits = {k: v for root in roots for k, v in root.inits.items()}
    facts.consulted = tuple(f.module for f in read)
    locate = Locator(text, module)
    ctx = RuleContext(
        path, config.max_saturating_depth, locate, config.vanish_bound, config.explode_bound
    )
    findings = [f for rule in rules for f in rule.check(facts, ctx)]
    if findings:
        directives = noqa_directives(text)
        findings = [f for f in findings if not suppressed(f, directives)]
    return sorted(_dedupe(findings), key=Finding.sort_key)


class TooDeep(Exception):
    """A file nested past what can be analysed (CPython's parser limits): an error entry."""


_PARSER_LIMITS = (
    "too many nested parentheses",
    "too many levels of indentation",
    "too many statically nested blocks",
    "too deeply nested",
)


def parse(text: str, path: str = "<string>") -> ast.Module | None:
    """The stdlib syntax tree of ``text``, which the rules read. Raises :class:`SyntaxError`
    for a broken file. ``None`` for a file that only a newer Python can parse: libcst's grammar
    (which follows the latest Python) confirms it is valid, but this Python cannot analyse it."""
    try:
        with warnings.catch_warnings():  # the user's invalid escapes are not our output
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            return ast.parse(text, path)
    except MemoryError:  # the parser's stack: thousands of nested unary operators
        raise TooDeep("Python's parser ran out of stack") from None
    except (SyntaxError, ValueError) as exc:
        error = exc if isinstance(exc, SyntaxError) else SyntaxError(str(exc))
    if any(limit in str(error.msg) for limit in _PARSER_LIMITS):
        # valid Python, perhaps, but past CPython's nesting limits; libcst's parser would take
        # gigabytes on it, or crash (a segfault from ~2000 nested calls)
        raise TooDeep(f"Python's parser: {error.msg}")
    import libcst

    try:
        libcst.parse_module(text)
    except libcst.ParserSyntaxError:
        raise error from None
    return None


def _concrete_tree(text: str) -> Any:
    """The libcst tree, for the purely syntactic rules (GCK004); parsed only where one of them
    can fire, so most runs never import libcst."""
    import libcst

    return libcst.parse_module(text)


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, int]] = set()
    out = []
    for finding in findings:
        key = (finding.code, finding.line, finding.column)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def lint_file(path: Path, config: Config) -> tuple[list[Finding], LintError | None]:
    """Lint one file; every problem with the file itself becomes an error entry."""
    data, error = read_file(path)
    if data is None:
        return [], error
    return lint_bytes(data, str(path), config)


def lint_bytes(
    data: bytes, display: str, config: Config, consulted: list[ConsultedFile] | None = None
) -> tuple[list[Finding], LintError | None]:
    """Lint a file's bytes: Python source, or a notebook when ``display`` ends in ``.ipynb``."""
    if display.endswith(".ipynb"):
        return _lint_notebook(data, display, config, consulted)
    try:
        text = decode_source(data)
    except SourceError as exc:
        return [], LintError(display, str(exc))
    return lint_text(text, display, config, consulted)


def _lint_notebook(
    data: bytes, display: str, config: Config, consulted: list[ConsultedFile] | None = None
) -> tuple[list[Finding], LintError | None]:
    try:
        source = notebook_source(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        return [], LintError(display, f"cannot decode notebook as utf-8 ({exc.reason})")
    except NotebookError as exc:
        return [], LintError(display, str(exc))
    findings, error = lint_text(source.text, display, config, consulted)
    if error is not None and error.message.startswith("syntax error"):
        error = LintError(display, _notebook_syntax_error(source) or error.message)
    return to_cells(findings, source), error


def _notebook_syntax_error(source: NotebookSource) -> str | None:
    """The error in cell coordinates; stdlib ``ast`` pinpoints it better than libcst."""
    try:
        ast.parse(source.text)
    except SyntaxError as exc:
        located = source.locate(exc.lineno or 0)
        if located is not None:
            cell, line = located
            return f"syntax error in cell {cell} at {line}:{exc.offset or 1}: {exc.msg}"
    return None


def lint_text(
    text: str, display: str, config: Config, consulted: list[ConsultedFile] | None = None
) -> tuple[list[Finding], LintError | None]:
    try:
        return lint_source(text, display, config, consulted), None
    except SyntaxError as exc:
        return [], LintError(
            display, f"syntax error at {exc.lineno or 1}:{exc.offset or 1}: {exc.msg}"
        )
    except RecursionError:
        return [], LintError(display, "too deeply nested to analyse (recursion limit)")
    except TooDeep as exc:
        return [], LintError(display, f"too deeply nested to analyse ({exc})")
    except MemoryError:
        return [], LintError(display, "out of memory while analysing")
    except Exception as exc:
        name = type(exc).__name__
        return [], LintError(
            display,
            f"{INTERNAL_ERROR} ({name}: {exc}); please report it with this file attached",
        )


INTERNAL_ERROR = "internal error"  # the prefix of a LintError that is a bug in gradcheck-kit


def internal_traceback(path: Path, config: Config) -> str | None:
    """Lint ``path`` again in this process, letting the exception out: the traceback of an
    internal error (for ``--verbose``; worker processes only send back the message)."""
    data, _ = read_file(path)
    if data is None:
        return None
    try:
        if str(path).endswith(".ipynb"):
            text = notebook_source(data.decode("utf-8-sig")).text
        else:
            text = decode_source(data)
        with linting():
            lint_source(text, str(path), config)
    except Exception:
        return traceback.format_exc()
    return None


def lint_paths(
    paths: Iterable[str | os.PathLike[str]],
    config: Config | None = None,
    *,
    jobs: int | None = 1,
    cache_dir: str | os.PathLike[str] | None = None,
    only: Callable[[Path], bool] | None = None,
    warn: Callable[[str], None] | None = None,
) -> LintResult:
    """Lint every Python file and notebook under ``paths``.

    ``jobs``: worker processes (``None``: one per available core); the result is the same for
    any value. ``cache_dir``: where cached results live (``None``: no cache). ``only``: lint
    just the discovered files it accepts (``--diff`` passes the changed ones). ``warn``: called
    with each warning (a malformed ``# noqa``), cached files included.
    """
    config = config or Config()
    paths = list(paths)
    from gradcheck_kit.lint import callindex, callsites, prefilter, project

    project.forget()  # the tree may have changed since the last run in this process
    project.name_folders(paths)  # roots of files with no marker (a downloaded folder)
    callsites.forget()
    prefilter.forget()
    callindex.use_directory(cache_dir)  # the call index is kept with the cache (or in memory)
    unreadable: list[LintError] = []
    found = [
        (p, key) for p, key in discover_keyed(paths, config, unreadable) if only is None or only(p)
    ]
    files = [p for p, _ in found]
    keys = [key for _, key in found]
    cache = LintCache(Path(cache_dir), config) if cache_dir is not None else None
    outcomes: list[tuple[list[Finding], LintError | None] | None] = [None] * len(files)
    todo: list[tuple[int, bytes, str]] = []  # (index, bytes, content hash)
    stamps: list[FileStamp | None] = [None] * len(files)
    for index, path in enumerate(files):
        data, stamp, error = read_stat(path)
        if data is None:
            outcomes[index] = ([], error)
            continue
        stamps[index] = stamp
        if warn is not None and _MAYBE_NOQA.search(data):
            for message in _noqa_warnings(data, str(path)):
                warn(message)
        # the cache checks the project files the entry consulted (cache.file_key)
        digest = content_hash(data) if cache is not None else ""
        cached = cache.get(keys[index], digest, stamp) if cache is not None else None
        if cached is not None:
            outcomes[index] = _renamed(cached, str(path))
        else:
            todo.append((index, data, digest))

    work = [(data, str(files[index])) for index, data, _ in todo]
    for (index, _, digest), (linted, error, read) in zip(
        todo, _run_all(work, config, jobs), strict=True
    ):
        outcomes[index] = (linted, error)
        if cache is not None:
            cache.put(keys[index], digest, stamps[index], linted, error, read)
    if cache is not None:
        cache.save()

    result = LintResult(files_checked=len(files))
    result.errors.extend(unreadable)
    for entry in outcomes:
        assert entry is not None
        result.findings.extend(entry[0])
        if entry[1] is not None:
            result.errors.append(entry[1])
    for raw in paths:
        if not os.path.lexists(raw):  # one entry, not also "deleted during the run"
            result.errors = [e for e in result.errors if e.path != str(Path(raw))]
            result.errors.append(LintError(str(raw), "no such file or directory"))
    result.findings = without_echoes(result.findings)
    result.sort()
    return result


def without_echoes(findings: list[Finding]) -> list[Finding]:
    """``findings`` less the echoes between files: where a finding names a call in another file
    as a place its depth came from (a wrapper's ``self.model = MLP(sizes)``, a model's
    ``mlp(width, 5, nn.Sigmoid)``) and that file reports the same rule at that call, one stack
    is reported twice. Of equal depths the call's finding is dropped (the class's file reports
    it, through the callers, where the fix goes); where the call's finding is deeper (the
    caller stacks the block on more layers), the block's own finding is. Both files must be in
    the run: a run of one file keeps its finding."""
    at = {
        (f.code, os.path.normpath(f.path), f.line): f.depth
        for f in findings
        if f.cell is None and f.depth is not None
    }
    dropped: set[int] = set()
    for f in findings:
        for r in f.related:
            if r.path is None or r.cell is not None or f.depth is None:
                continue
            there = at.get((f.code, os.path.normpath(r.path), r.line))
            if there is not None and there > f.depth:
                dropped.add(id(f))  # part of a deeper stack its caller reports
                break
    named = {
        (f.code, f.depth, os.path.normpath(r.path), r.line)
        for f in findings
        if id(f) not in dropped
        for r in f.related
        if r.path is not None and r.cell is None
    }
    return [
        f
        for f in findings
        if id(f) not in dropped
        and (f.cell is not None or (f.code, f.depth, os.path.normpath(f.path), f.line) not in named)
    ]


_MAYBE_NOQA = re.compile(rb"noqa", re.IGNORECASE)


def _noqa_warnings(data: bytes, display: str) -> list[str]:
    """A warning per malformed ``# noqa`` in a file (files that cannot be decoded: none)."""
    try:
        if display.endswith(".ipynb"):
            source: NotebookSource | None = notebook_source(data.decode("utf-8-sig"))
            assert source is not None
            text = source.text
        else:
            source, text = None, decode_source(data)
    except (SourceError, NotebookError, UnicodeDecodeError):
        return []
    out = []
    for line in malformed_noqa_lines(text):
        where = f"{display}:{line}"
        located = source.locate(line) if source is not None else None
        if located is not None:
            where = f"{display}:cell {located[0]}:{located[1]}"
        out.append(f"{where}: {MALFORMED_NOQA}")
    return out


def _renamed(
    outcome: tuple[list[Finding], LintError | None], display: str
) -> tuple[list[Finding], LintError | None]:
    findings, error = outcome
    findings = [f.moved(display) for f in findings]
    if error is not None and error.path != display:
        error = LintError(display, error.message)
    return findings, error


# Below this many files (or bytes) to parse, starting worker processes costs more than it saves.
_MIN_FILES_PER_WORKER = 4
_MIN_BYTES_FOR_POOL = 64_000


def effective_jobs(jobs: int | None) -> int:
    if jobs is not None and jobs > 0:
        return jobs
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return max(1, os.cpu_count() or 1)


Outcome = tuple[list[Finding], LintError | None, tuple[ConsultedFile, ...]]


def _run_all(work: list[tuple[bytes, str]], config: Config, jobs: int | None) -> list[Outcome]:
    """Lint ``work`` in order; with several jobs, in a process pool (results in input order).
    Each outcome carries the other project files its file consulted."""
    workers = min(effective_jobs(jobs), len(work) // _MIN_FILES_PER_WORKER)
    if workers <= 1 or sum(len(data) for data, _ in work) < _MIN_BYTES_FOR_POOL:
        with linting():
            return [lint_job((data, display, config)) for data, display in work]
    from gradcheck_kit.lint import pool  # multiprocessing: imported only to start one

    return pool.run_all(work, config, workers)


def lint_job(job: tuple[bytes, str, Config]) -> Outcome:
    data, display, config = job
    consulted: list[ConsultedFile] = []
    findings, error = lint_bytes(data, display, config, consulted)
    return findings, error, tuple(dict.fromkeys(consulted))


RECURSION_LIMIT = 5_000
#: Collector thresholds while linting: CPython's default (700) took a third of a cold run
#: (interpreting allocates millions of short-lived objects; timm: 11.4 -> 8.0 s, 295 -> 309 MB).
GC_THRESHOLDS = (100_000, 50, 100)


@contextlib.contextmanager
def linting() -> Iterator[None]:
    """The recursion limit and collector thresholds of a lint, restored after it."""
    old_limit, old_gc = sys.getrecursionlimit(), gc.get_threshold()
    sys.setrecursionlimit(max(old_limit, RECURSION_LIMIT))
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        yield
    finally:
        sys.setrecursionlimit(old_limit)
        gc.set_threshold(*old_gc)
