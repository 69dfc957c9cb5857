"""Machine formats: JSON, concise text. Stable and documented in the README."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from gradcheck_kit import __version__
from gradcheck_kit.report.findings import LintResult


def lint_to_dict(result: LintResult) -> dict[str, Any]:
    return {
        "version": __version__,
        "files_checked": result.files_checked,
        "findings": [f.to_dict() for f in result.findings],
        "errors": [e.to_dict() for e in result.errors],
    }


def lint_to_json(result: LintResult) -> str:
    return json.dumps(lint_to_dict(result), indent=2) + "\n"


def lint_to_concise(result: LintResult) -> str:
    lines = [f"{f.path}:{f.line}:{f.column}: {f.code} {f.message}" for f in result.findings]
    lines += [f"{e.path}: error: {e.message}" for e in result.errors]
    return "\n".join(lines) + ("\n" if lines else "")


def statistics(result: LintResult) -> list[tuple[str, str, int]]:
    """(code, name, count) per rule, most frequent first."""
    counts = Counter((f.code, f.name) for f in result.findings)
    return sorted(((c, n, k) for (c, n), k in counts.items()), key=lambda t: (-t[2], t[0]))
