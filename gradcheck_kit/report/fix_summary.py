"""What ``lint --show-fixes`` prints: the fixes ``--fix`` applied (ruff's ``Fixed N findings:``
block, per file and rule), or each fixable finding's fix with its diff."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from gradcheck_kit.report.findings import Finding
from gradcheck_kit.report.formats import location


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def fixed_text(fixed: Sequence[Finding]) -> str:
    """``Fixed 2 findings:`` then ``- path:`` and ``    2 x GCK005 (squashed-twice)`` lines."""
    if not fixed:
        return "No fixes applied.\n"
    lines = [f"Fixed {plural(len(fixed), 'finding')}:"]
    by_path: dict[str, Counter[tuple[str, str]]] = {}
    for finding in fixed:
        by_path.setdefault(finding.path, Counter())[(finding.code, finding.name)] += 1
    for path in sorted(by_path):
        lines.append(f"- {path}:")
        for (code, name), count in sorted(by_path[path].items()):
            lines.append(f"    {count} x {code} ({name})")
    return "\n".join(lines) + "\n"


def fixes_text(items: Sequence[tuple[Finding, str]]) -> str:
    """Each finding that has a fix: where, the rule, how sure the fix is and what it does,
    then the diff of that fix alone (``items``: (finding, diff))."""
    if not items:
        return ""
    n = len(items)
    lines = [f"{n} fix{'es' if n != 1 else ''} available:"]
    for finding, diff in items:
        assert finding.fix is not None
        fix = finding.fix
        mark = "[*] " if fix.applicability == "safe" else ""
        lines.append(
            f"{location(finding)}: {finding.code} {mark}{fix.message} ({fix.applicability} fix)"
        )
        lines.extend("    " + line for line in diff.splitlines())
    return "\n".join(lines) + "\n"
