"""SARIF 2.1.0 (OASIS), as GitHub code scanning reads it.

One run; ``tool.driver.rules`` describes every rule (short and full description, help text and
Markdown from its ``rules/`` page); every finding is a result with a region (1-based lines and
columns, end column exclusive, in Unicode code points), ``relatedLocations`` for each activation
of the stack and for each place in another file its depth came from (a call site, an option
default, a config value: in that file's artifact), and a ``partialFingerprints`` entry that ignores line numbers, so an edit elsewhere
in the file does not turn an old finding into a "new" one. Files that could not be linted are
``toolExecutionNotifications``. A notebook finding's region is the lines of the ``.ipynb``
file's JSON that hold the cell's source lines (no columns: they are the cell's, not the
file's), so code scanning shows it on the file; its ``cell`` is in the region and result
properties and the message starts with ``cell N, line M:`` (the line within the cell). Where
the file cannot be read back, the region is the cell's own line and columns.

A finding with a fix has ``fixes``: one fix (its message as the description, its applicability
- ``safe``, ``unsafe``, ``display-only`` - in ``properties``) with one ``artifactChange`` whose
``replacements`` delete a region (the same 1-based, end-exclusive code-point columns as the
results: the run's ``columnKind`` is ``unicodeCodePoints``, which is what the linter counts, so
nothing is converted) and insert the new text. The replacements come last-in-file first, so a
consumer that applies them one by one never shifts a region it has yet to apply, whether it
reads the later regions against the original file or the edited one. A notebook finding's fix
has no ``fixes``: its positions are within a cell, and applied to the ``.ipynb`` file's JSON they
would corrupt it (``gradcheck-kit lint --fix`` edits the cell).
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gradcheck_kit._version import __version__
from gradcheck_kit.report.findings import (
    Edit,
    Finding,
    Fix,
    LintError,
    LintResult,
    RelatedLocation,
)
from gradcheck_kit.report.formats import safe_resolve
from gradcheck_kit.report.source import notebook_line

SCHEMA_URI = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
FINGERPRINT_KEY = "gradcheckKit/v1"
_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


@dataclass(frozen=True)
class RuleInfo:
    """What SARIF says about a rule (built from the registry and the rule's page)."""

    code: str
    name: str
    summary: str
    full_description: str
    help_text: str
    help_markdown: str | None
    severity: str
    default: bool


def _uri(path: str, base: Path) -> tuple[str, bool]:
    """(URI, relative to ``base``?) of a file path."""
    resolved = safe_resolve(path)
    try:
        rel = resolved.relative_to(base)
    except ValueError:
        return resolved.as_uri(), False
    return quote(rel.as_posix()), True


def _artifact(path: str, base: Path) -> dict[str, Any]:
    uri, relative = _uri(path, base)
    return {"uri": uri, "uriBaseId": "%SRCROOT%"} if relative else {"uri": uri}


def _region(
    line: int, column: int, end_line: int, end_column: int, cell: int | None, path: str
) -> Any:
    if cell is not None:
        raw = notebook_line(path, cell, line)
        if raw is not None:  # the lines of the .ipynb file's JSON that hold the cell's lines
            raw_end = notebook_line(path, cell, end_line) or raw
            return {"startLine": raw, "endLine": max(raw, raw_end), "properties": {"cell": cell}}
    region: dict[str, Any] = {
        "startLine": max(1, line),
        "startColumn": max(1, column),
        "endLine": max(1, end_line, line),
        "endColumn": max(1, end_column),
    }
    if region["endLine"] == region["startLine"] and region["endColumn"] < region["startColumn"]:
        region["endColumn"] = region["startColumn"]
    if cell is not None:
        region["properties"] = {"cell": cell}
    return region


def _text(finding: Finding) -> str:
    where = f"cell {finding.cell}, line {finding.line}: " if finding.cell is not None else ""
    return f"{where}{finding.message}"


def _fingerprint(finding: Finding, uri: str, occurrence: int) -> str:
    """What identifies a finding without its line numbers: rule, file, enclosing class or
    function, the activations of the stack, and which of identical findings it is."""
    parts = [finding.code, uri, finding.symbol or "", ",".join(finding.activations), occurrence]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32] + f":{occurrence + 1}"


def _related(
    item: RelatedLocation, index: int, artifact: dict[str, Any], path: str
) -> dict[str, Any]:
    where = f"cell {item.cell}, line {item.line}: " if item.cell is not None else ""
    return {
        "id": index,
        "physicalLocation": {
            "artifactLocation": artifact,
            "region": _region(
                item.line, item.column, item.end_line, item.end_column, item.cell, path
            ),
        },
        "message": {"text": f"{where}{item.message}"},
    }


_FIX_NOTE = {"unsafe": " (unsafe fix: review it)", "display-only": " (suggestion)"}


def _fix(fix: Fix, artifact: dict[str, Any]) -> dict[str, Any]:
    replacements = []

    def position(edit: Edit) -> tuple[int, int, int, int, str]:
        return (edit.line, edit.column, edit.end_line, edit.end_column, edit.content)

    for edit in sorted(fix.edits, key=position, reverse=True):  # last in the file first
        replacement: dict[str, Any] = {
            "deletedRegion": {
                "startLine": max(1, edit.line),
                "startColumn": max(1, edit.column),
                "endLine": max(1, edit.end_line),
                "endColumn": max(1, edit.end_column),
            }
        }
        if edit.content:  # no insertedContent: a deletion
            replacement["insertedContent"] = {"text": edit.content}
        replacements.append(replacement)
    return {
        "description": {"text": fix.message + _FIX_NOTE.get(fix.applicability, "")},
        "artifactChanges": [{"artifactLocation": artifact, "replacements": replacements}],
        "properties": {"applicability": fix.applicability},
    }


def _rule(info: RuleInfo) -> dict[str, Any]:
    level = _LEVEL.get(info.severity, "warning")
    rule: dict[str, Any] = {
        "id": info.code,
        "name": info.name,
        "shortDescription": {"text": info.summary},
        "fullDescription": {"text": info.full_description or info.summary},
        "help": {"text": info.help_text or info.summary},
        "defaultConfiguration": {"level": level, "enabled": info.default},
        "properties": {
            "tags": ["gradients", "pytorch", "correctness"],
            "precision": "high",
            "problem.severity": level if level != "note" else "recommendation",
        },
    }
    if info.help_markdown:
        rule["help"]["markdown"] = info.help_markdown
    return rule


def _result(
    finding: Finding, rule_index: dict[str, int], base: Path, occurrences: Counter[tuple[Any, ...]]
) -> dict[str, Any]:
    artifact = _artifact(finding.path, base)
    identity = (finding.code, artifact["uri"], finding.symbol, finding.activations)
    occurrence = occurrences[identity]
    occurrences[identity] += 1
    result: dict[str, Any] = {
        "ruleId": finding.code,
        "level": _LEVEL.get(finding.severity, "warning"),
        "message": {"text": _text(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": artifact,
                    "region": _region(
                        finding.line,
                        finding.column,
                        finding.end_line,
                        finding.end_column,
                        finding.cell,
                        finding.path,
                    ),
                }
            }
        ],
        "partialFingerprints": {
            FINGERPRINT_KEY: _fingerprint(finding, artifact["uri"], occurrence)
        },
    }
    if finding.code in rule_index:
        result["ruleIndex"] = rule_index[finding.code]
    if finding.related:
        result["relatedLocations"] = [
            _related(
                item,
                i,
                _artifact(item.path, base) if item.path else artifact,
                item.path or finding.path,
            )
            for i, item in enumerate(finding.related, start=1)
        ]
    if finding.fix is not None and finding.cell is None:  # a notebook's would edit its JSON
        result["fixes"] = [_fix(finding.fix, artifact)]
    properties: dict[str, Any] = {"name": finding.name}
    for key in ("depth", "symbol", "depth_source", "cell"):
        value = getattr(finding, key)
        if value is not None:
            properties[key] = value
    if finding.activations:
        properties["activations"] = list(finding.activations)
    result["properties"] = properties
    return result


def _notification(error: LintError, base: Path) -> dict[str, Any]:
    return {
        "level": "error",
        "message": {"text": f"{error.path}: {error.message}"},
        "locations": [{"physicalLocation": {"artifactLocation": _artifact(error.path, base)}}],
    }


def lint_to_sarif_dict(
    result: LintResult, rules: Sequence[RuleInfo], base: Path | None = None
) -> dict[str, Any]:
    """The SARIF log of one lint run. Paths under ``base`` (default: the working directory)
    are relative URIs against ``%SRCROOT%``; others are absolute ``file://`` URIs."""
    root = safe_resolve(base or Path.cwd())
    rule_index = {info.code: i for i, info in enumerate(rules)}
    occurrences: Counter[tuple[Any, ...]] = Counter()
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "gradcheck-kit",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "rules": [_rule(info) for info in rules],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": root.as_uri().rstrip("/") + "/"}},
                "columnKind": "unicodeCodePoints",
                "invocations": [
                    {
                        "executionSuccessful": not result.errors,
                        "toolExecutionNotifications": [
                            _notification(e, root) for e in result.errors
                        ],
                    }
                ],
                "results": [_result(f, rule_index, root, occurrences) for f in result.findings],
            }
        ],
    }


def lint_to_sarif(result: LintResult, rules: Sequence[RuleInfo], base: Path | None = None) -> str:
    return json.dumps(lint_to_sarif_dict(result, rules, base), indent=2) + "\n"
