"""Machine formats: JSON, concise text, GitHub workflow commands, statistics.

Stable and documented in the README. SARIF lives in :mod:`gradcheck_kit.report.sarif`.
A finding in a notebook is located as ``path:cell N:line:col`` (the line within the cell), as
ruff does.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from pathlib import Path
from typing import Any

from gradcheck_kit._version import __version__
from gradcheck_kit.report.findings import Finding, LintError, LintResult
from gradcheck_kit.report.source import notebook_line


def lint_to_dict(result: LintResult) -> dict[str, Any]:
    return {
        "version": __version__,
        "files_checked": result.files_checked,
        "findings": [f.to_dict() for f in result.findings],
        "errors": [e.to_dict() for e in result.errors],
    }


def lint_to_json(result: LintResult) -> str:
    return json.dumps(lint_to_dict(result), indent=2) + "\n"


def location(finding: Finding) -> str:
    """``path:line:col``, or ``path:cell N:line:col`` in a notebook."""
    cell = f"cell {finding.cell}:" if finding.cell is not None else ""
    return f"{finding.path}:{cell}{finding.line}:{finding.column}"


def summary_line(result: LintResult) -> str:
    """ruff's closing line: ``Found N findings.`` or ``All checks passed!`` (with ``--fix``:
    ``Found N findings (k fixed, m remaining).``), then the fix hints (:func:`fix_hints`)."""
    n = len(result.findings)
    if result.fixed:
        total = n + len(result.fixed)
        text = (
            f"Found {total} finding{'s' if total != 1 else ''} "
            f"({len(result.fixed)} fixed, {n} remaining)."
        )
    elif n == 0 and not result.errors:
        return "All checks passed!"
    else:
        text = f"Found {n} finding{'s' if n != 1 else ''}."
    if result.errors:
        k = len(result.errors)
        text += f" {k} file{'s' if k != 1 else ''} could not be linted."
    return "\n".join([text, *fix_hints(result)])


def all_passed(files_checked: int) -> str:
    """A clean run's summary line."""
    files = f"{files_checked} file{'s' if files_checked != 1 else ''}"
    return f"All checks passed: {files} checked, no findings."


def fix_hints(result: LintResult) -> list[str]:
    """``[*] N fixable with --fix.`` and ``N hidden fixes can be enabled with
    --unsafe-fixes.``, as ruff closes its summary (nothing when there is nothing to fix)."""
    hints = []
    fixable = result.fixable()
    if fixable:
        hints.append(f"[*] {fixable} fixable with --fix.")
    hidden = result.hidden_fixes()
    if hidden:
        hints.append(
            f"{hidden} hidden fix{'es' if hidden != 1 else ''} can be enabled with --unsafe-fixes."
        )
    return hints


def lint_to_concise(result: LintResult, quiet: bool = True) -> str:
    """One line per finding, ``path:line:col: CODE message`` (``CODE [*] message`` when
    ``--fix`` would fix it, as ruff marks it); errors as ``path: error: ...``; the summary line
    unless ``quiet``."""
    lines = [
        f"{location(f)}: {f.code}{' [*]' if result.can_fix(f) else ''} {f.message}"
        for f in result.findings
    ]
    lines += [f"{where}: error: {what}" for where, what in map(error_location, result.errors)]
    if not quiet:
        lines.append(summary_line(result))
    return "\n".join(lines) + ("\n" if lines else "")


def statistics(result: LintResult) -> list[tuple[str, str, int]]:
    """(code, name, count) per rule, most frequent first."""
    counts = Counter((f.code, f.name) for f in result.findings)
    return sorted(((c, n, k) for (c, n), k in counts.items()), key=lambda t: (-t[2], t[0]))


def statistics_text(result: LintResult, quiet: bool = False) -> str:
    """``count<TAB>code<TAB>name`` per rule, as ``ruff check --statistics`` prints it."""
    rows = statistics(result)
    lines = []
    if rows:
        count_width = max(len(str(k)) for _, _, k in rows)
        code_width = max(len(c) for c, _, _ in rows)
        lines = [f"{k:>{count_width}}\t{c:<{code_width}}\t{n}" for c, n, k in rows]
    if not quiet:
        lines.append(summary_line(result))
    return "\n".join(lines) + ("\n" if lines else "")


def statistics_json(result: LintResult) -> str:
    """``[{"code", "name", "count"}]``, as ``ruff check --statistics --output-format json``."""
    rows = [{"code": c, "name": n, "count": k} for c, n, k in statistics(result)]
    return json.dumps(rows, indent=2) + "\n"


# GitHub workflow commands: https://docs.github.com/en/actions/reference/workflow-commands-for-github-actions
_LEVEL = {"error": "error", "warning": "warning"}


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def safe_resolve(path: str | os.PathLike[str]) -> Path:
    """``Path.resolve()``, or the absolute path where it cannot be resolved: a symlink loop
    raises RuntimeError before Python 3.13 (OSError after), and a report must still name it."""
    try:
        return Path(path).resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _workspace_path(path: str) -> str:
    """The path relative to the working directory (the workspace in GitHub Actions)."""
    resolved = safe_resolve(path)
    try:
        rel = os.path.relpath(resolved, safe_resolve(Path.cwd()))
    except ValueError:  # another drive (Windows)
        return Path(path).as_posix()
    if rel.startswith(".."):
        return resolved.as_posix()
    return Path(rel).as_posix()


#: How a GitHub annotation says which flag applies a finding's fix.
FIX_HINT = {
    "safe": "safe: --fix",
    "unsafe": "unsafe: --unsafe-fixes",
    "display-only": "display-only: --show-fixes",
}


def fix_note(finding: Finding) -> str:
    """`` - fix available: MESSAGE (unsafe: --unsafe-fixes)``, or '' without a fix."""
    fix = finding.fix
    if fix is None:
        return ""
    kind = "suggestion" if fix.applicability == "display-only" else "fix"
    hint = FIX_HINT.get(fix.applicability, fix.applicability)
    return f" - {kind} available: {fix.message} ({hint})"


def github_command(finding: Finding) -> str:
    """``::warning file=...,line=...,endLine=...,col=...,endColumn=...,title=GCK001::...``;
    a finding with a fix says so after the message (:func:`fix_note`). A notebook finding's
    ``line`` and ``endLine`` are those of the ``.ipynb`` file's JSON that hold the cell's lines
    (no columns), so GitHub shows it on the file; the message names the cell and its line."""
    level = _LEVEL.get(finding.severity, "notice")
    props = [f"file={_escape_property(_workspace_path(finding.path))}"]
    raw = notebook_line(finding.path, finding.cell, finding.line) if finding.cell else None
    if raw is not None:  # the .ipynb file's JSON lines; the cell's line is in the message
        raw_end = notebook_line(finding.path, finding.cell or 0, finding.end_line) or raw
        props += [f"line={raw}", f"endLine={max(raw, raw_end)}"]
    else:
        props += [
            f"line={finding.line}",
            f"endLine={finding.end_line}",
            f"col={finding.column}",
            f"endColumn={finding.end_column}",
        ]
    props.append(f"title={_escape_property(finding.code)}")
    text = f"{location(finding)}: {finding.code} [{finding.name}] {finding.message}"
    text += fix_note(finding)
    return f"::{level} {','.join(props)}::{_escape_data(text)}"


_SYNTAX_AT = re.compile(r"^syntax error (?:in cell (?P<cell>\d+) )?at (?P<line>\d+):(?P<col>\d+): ")


def error_location(error: LintError) -> tuple[str, str]:
    """(where, what) for one error line: a syntax error is placed as editors jump to it,
    ``path:line:col`` (``path:cell N:line:col`` in a notebook), with the message after it."""
    found = _SYNTAX_AT.match(error.message)
    if found is None:
        return error.path, error.message
    cell = f"cell {found['cell']}:" if found["cell"] else ""
    rest = error.message[found.end() :]
    return f"{error.path}:{cell}{found['line']}:{found['col']}", f"syntax error: {rest}"


def github_error(error: LintError) -> str:
    props = f"file={_escape_property(_workspace_path(error.path))},title=gradcheck-kit"
    found = _SYNTAX_AT.match(error.message)
    if found is not None and not found["cell"]:  # the annotation lands on the line
        props += f",line={found['line']},col={found['col']}"
    elif found is not None:  # on the notebook's JSON line of the cell's line
        raw = notebook_line(error.path, int(found["cell"]), int(found["line"]))
        props += f",line={raw}" if raw is not None else ""
    return f"::error {props}::{_escape_data(f'{error.path}: {error.message}')}"


def lint_to_github(result: LintResult) -> str:
    lines = [github_command(f) for f in result.findings]
    lines += [github_error(e) for e in result.errors]
    return "\n".join(lines) + ("\n" if lines else "")
