"""Files -> findings: discover, prefilter, read, parse, extract, analyze, rules, noqa.

Every front end (CLI, pre-commit, pytest) calls :func:`lint_paths` or :func:`lint_source`, so
they agree exactly. A file that cannot be read or parsed becomes a :class:`LintError` naming it;
the others are still linted.
"""

from __future__ import annotations

import ast
import fnmatch
import io
import os
import re
import sys
import tokenize
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from gradcheck_kit.config import DEFAULT_EXCLUDE, Config
from gradcheck_kit.lint.analyze import analyze, maximal_runs
from gradcheck_kit.lint.extract import extract
from gradcheck_kit.lint.rules import FileRun, RuleContext, selected_rules
from gradcheck_kit.lint.sketch import Span
from gradcheck_kit.report.findings import Finding, LintError, LintResult

# A file that mentions none of these cannot contain a saturating activation: skip the parse.
_PREFILTER = re.compile(r"sigmoid|tanh|softsign|expit", re.IGNORECASE)
_NOQA = re.compile(
    r"#\s*noqa(?::\s*(?P<codes>[A-Z]+[0-9]+(?:\s*[,\s]\s*[A-Z]+[0-9]+)*))?", re.IGNORECASE
)
_FILE_NOQA = re.compile(r"^\s*#\s*gradcheck-kit:\s*noqa\b", re.IGNORECASE | re.MULTILINE)


class SourceError(Exception):
    """A file's bytes cannot be turned into Python source text."""


def decode_source(data: bytes) -> str:
    """Decode as Python does: a BOM or a PEP 263 coding line, else UTF-8."""
    if b"\x00" in data:
        raise SourceError("contains NUL bytes (binary file?)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing" in str(exc):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise SourceError(
                    f"cannot decode as utf-8 ({bad.reason} at byte {bad.start}); save the file "
                    "as UTF-8 or declare its encoding (PEP 263)"
                ) from bad
        raise SourceError(f"bad encoding declaration: {exc}") from exc
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from exc
    return text[1:] if text.startswith("\ufeff") else text


def _prefilter_pattern(config: Config) -> re.Pattern[str]:
    extra = [re.escape(name.rsplit(".", 1)[-1]) for name in config.extend_saturating]
    if not extra:
        return _PREFILTER
    return re.compile(_PREFILTER.pattern + "|" + "|".join(extra), re.IGNORECASE)


def lint_source(text: str, path: str = "<string>", config: Config | None = None) -> list[Finding]:
    """Lint one source text. Raises :class:`libcst.ParserSyntaxError` on a syntax error."""
    config = config or Config()
    if _FILE_NOQA.search(text):
        return []
    if not _prefilter_pattern(config).search(text):
        _check_syntax(text, path)  # cheap: no rule can fire, but a broken file is still reported
        return []
    rules = selected_rules(config.select, config.ignore + _per_file_ignored(path, config))
    if not rules:
        return []
    module, roots = extract(text, config.extend_saturating, config.extend_normalization)
    runs: list[tuple[object, str | None]] = []
    for root in roots:
        runs.extend((run, root.symbol) for run in analyze(root.node))
    symbol_of = {id(run): symbol for run, symbol in runs}
    kept = maximal_runs([run for run, _ in runs])  # type: ignore[misc]
    file_runs = [FileRun(run, symbol_of.get(id(run))) for run in kept]
    ctx = RuleContext(path, config.max_saturating_depth, _Locator(module))
    findings = [f for rule in rules for f in rule.check(file_runs, ctx)]
    lines = text.splitlines()
    findings = [f for f in findings if not _suppressed(f, lines)]
    return sorted(_dedupe(findings), key=Finding.sort_key)


class _Locator:
    """Source spans of syntax nodes, resolved for the whole module on first use."""

    def __init__(self, module: cst.Module) -> None:
        self.module = module
        self.positions: Mapping[cst.CSTNode, CodeRange] | None = None

    def __call__(self, anchor: object) -> Span | None:
        if not isinstance(anchor, cst.CSTNode):
            return None
        if self.positions is None:
            wrapper = MetadataWrapper(self.module, unsafe_skip_copy=True)
            self.positions = wrapper.resolve(PositionProvider)
        pos = self.positions.get(anchor)
        if pos is None:
            return None
        return Span(pos.start.line, pos.start.column + 1, pos.end.line, pos.end.column + 1)


def _check_syntax(text: str, path: str) -> None:
    try:
        ast.parse(text, path)
    except SyntaxError as exc:
        cst.parse_module(text)  # confirm with libcst, whose grammar is the one that counts;
        del exc  # a file only this Python rejects (newer syntax) is fine


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[str, int, int]] = set()
    out = []
    for finding in findings:
        key = (finding.code, finding.line, finding.column)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def _suppressed(finding: Finding, lines: list[str]) -> bool:
    if not 0 < finding.line <= len(lines):
        return False
    match = _NOQA.search(lines[finding.line - 1])
    if match is None:
        return False
    codes = match.group("codes")
    if not codes:
        return True
    return finding.code in {c.upper() for c in re.split(r"[,\s]+", codes) if c}


def _per_file_ignored(path: str, config: Config) -> tuple[str, ...]:
    if not config.per_file_ignores:
        return ()
    rel = _relative(path, config)
    out: list[str] = []
    for pattern, codes in config.per_file_ignores.items():
        if _matches(rel, pattern):
            out.extend(codes)
    return tuple(out)


def _relative(path: str, config: Config) -> str:
    try:
        return Path(path).resolve().relative_to(config.root.resolve()).as_posix()
    except (ValueError, OSError):
        return Path(path).as_posix()


def _matches(rel: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    parts = rel.split("/")
    return (
        fnmatch.fnmatch(rel, pattern)
        or fnmatch.fnmatch(rel, f"{pattern}/*")
        or fnmatch.fnmatch(rel, f"*/{pattern}")
        or any(fnmatch.fnmatch(part, pattern) for part in parts)
    )


def discover(paths: Iterable[str | os.PathLike[str]], config: Config) -> Iterator[Path]:
    """Python files under ``paths``, sorted, skipping excluded directories. Paths named
    explicitly are always linted (as ruff does), unless they match ``exclude``."""
    excludes = (config.exclude or DEFAULT_EXCLUDE) + config.extend_exclude
    seen: set[Path] = set()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in _walk(path, excludes, config):
                key = found.resolve()
                if key not in seen:
                    seen.add(key)
                    yield found
        else:
            key = path.resolve()
            if key not in seen and not _excluded(path, excludes, config, explicit=True):
                seen.add(key)
                yield path


def _excluded(path: Path, excludes: tuple[str, ...], config: Config, explicit: bool) -> bool:
    rel = _relative(str(path), config)
    if explicit:
        return any(fnmatch.fnmatch(rel, p) for p in excludes if "/" in p or "*" in p)
    return any(_matches(rel, p) or fnmatch.fnmatch(path.name, p) for p in excludes)


def _walk(root: Path, excludes: tuple[str, ...], config: Config) -> Iterator[Path]:
    visited: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            stat = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (stat.st_dev, stat.st_ino) in visited:  # a symlink loop
            dirnames[:] = []
            continue
        visited.add((stat.st_dev, stat.st_ino))
        current = Path(dirpath)
        dirnames[:] = sorted(
            d for d in dirnames if not _excluded(current / d, excludes, config, explicit=False)
        )
        for name in sorted(filenames):
            if name.endswith(".py") or name.endswith(".pyi"):
                candidate = current / name
                if not _excluded(candidate, excludes, config, explicit=False):
                    yield candidate


def lint_file(path: Path, config: Config) -> tuple[list[Finding], LintError | None]:
    """Lint one file; every problem with the file itself becomes an error entry."""
    display = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], LintError(display, "file not found (deleted during the run?)")
    except IsADirectoryError:
        return [], LintError(display, "is a directory")
    except OSError as exc:
        return [], LintError(display, f"cannot read: {exc.strerror or exc}")
    try:
        text = decode_source(data)
    except SourceError as exc:
        return [], LintError(display, str(exc))
    return lint_text(text, display, config)


def lint_text(text: str, display: str, config: Config) -> tuple[list[Finding], LintError | None]:
    try:
        return lint_source(text, display, config), None
    except cst.ParserSyntaxError as exc:
        return [], LintError(
            display, f"syntax error at {exc.raw_line}:{exc.raw_column + 1}: {exc.message}"
        )
    except RecursionError:
        return [], LintError(display, "too deeply nested to analyse (recursion limit)")
    except MemoryError:
        return [], LintError(display, "out of memory while analysing")
    except Exception as exc:
        name = type(exc).__name__
        return [], LintError(
            display,
            f"internal error ({name}: {exc}); please report it with this file attached",
        )


def lint_paths(paths: Iterable[str | os.PathLike[str]], config: Config | None = None) -> LintResult:
    """Lint every Python file under ``paths``."""
    config = config or Config()
    paths = list(paths)
    result = LintResult()
    old_limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old_limit, 5_000))
    try:
        for path in discover(paths, config):
            findings, error = lint_file(path, config)
            result.files_checked += 1
            result.findings.extend(findings)
            if error is not None:
                result.errors.append(error)
    finally:
        sys.setrecursionlimit(old_limit)
    for raw in paths:
        if not Path(raw).exists():
            result.errors.append(LintError(str(raw), "no such file or directory"))
    result.sort()
    return result
