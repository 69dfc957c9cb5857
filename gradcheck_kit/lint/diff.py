"""``--diff REV``: the lines changed since a git revision, to report only findings on them.

Reads ``git diff --unified=0 REV`` (the working tree against REV: commits since REV, staged and
unstaged edits) and counts untracked files as wholly changed. A notebook counts as wholly changed
when it changed at all (its diff is of JSON lines, not of the cells' lines).
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gradcheck_kit.report.findings import Finding

_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")


class DiffError(Exception):
    """``--diff`` cannot be answered: not a git repository, unknown revision, no git."""


@dataclass
class ChangedLines:
    """Changed line numbers (1-based, in the current file) of each changed file."""

    root: Path
    lines: dict[Path, set[int]] = field(default_factory=dict)
    whole: set[Path] = field(default_factory=set)  # new, untracked, or notebooks

    def touches(self, path: Path) -> bool:
        key = _key(path)
        return key in self.whole or key in self.lines

    def overlaps(self, finding: Finding) -> bool:
        key = _key(Path(finding.path))
        if key in self.whole:
            return True
        changed = self.lines.get(key)
        if not changed:
            return False
        return any(line in changed for line in range(finding.line, finding.end_line + 1))


def _key(path: Path) -> Path:
    try:
        return path.resolve()
    except OSError:
        return path.absolute()


def _git(args: list[str], cwd: Path) -> str:
    try:
        done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise DiffError("--diff needs git, and no `git` executable was found on PATH") from exc
    if done.returncode != 0:
        raise DiffError(done.stderr.strip() or f"git {' '.join(args)} failed")
    return done.stdout


def changed_lines(rev: str, start: Path | None = None) -> ChangedLines:
    """What changed since ``rev`` in the git repository containing ``start`` (default: cwd)."""
    where = (start or Path.cwd()).resolve()
    if where.is_file():
        where = where.parent
    while not where.exists() and where != where.parent:
        where = where.parent
    try:
        root = Path(_git(["rev-parse", "--show-toplevel"], where).strip())
    except DiffError as exc:
        raise DiffError(
            f"--diff needs a git repository, and {where} is not inside one ({exc}); run it "
            "from a checkout, or lint without --diff"
        ) from exc
    try:
        _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], root)
    except DiffError as exc:
        raise DiffError(
            f"--diff: unknown git revision {rev!r}; give a commit, branch or tag "
            "(e.g. origin/main, HEAD~1)"
        ) from exc
    text = _git(
        [
            "-c",
            "core.quotePath=false",
            "diff",
            "--unified=0",
            "--no-color",
            "--no-ext-diff",
            "--find-renames",
            rev,
            "--",
        ],
        root,
    )
    result = parse_diff(text, root)
    untracked = _git(["ls-files", "--others", "--exclude-standard", "-z"], root)
    result.whole.update(_key(root / name) for name in untracked.split("\0") if name)
    return result


def parse_diff(text: str, root: Path) -> ChangedLines:
    """Parse ``git diff --unified=0`` output into changed lines of the new files."""
    result = ChangedLines(root)
    current: Path | None = None
    for line in text.splitlines():
        if line.startswith("+++ "):
            name = line[4:].rstrip("\t")
            if name == "/dev/null":  # deleted file
                current = None
                continue
            if name.startswith('"'):  # a quoted path with unusual characters
                raw = name[1:-1].encode("utf-8").decode("unicode_escape")
                name = raw.encode("latin-1").decode("utf-8", "replace")  # octal escapes
            current = _key(root / (name[2:] if name.startswith("b/") else name))
            result.lines.setdefault(current, set())
            if current.suffix == ".ipynb":
                result.whole.add(current)
            continue
        match = _HUNK.match(line)
        if match and current is not None:
            start = int(match.group("start"))
            count = int(match.group("count")) if match.group("count") is not None else 1
            if count == 0:  # lines deleted after `start`: the lines on both sides changed
                result.lines[current].update({max(start, 1), start + 1})
            else:
                result.lines[current].update(range(start, start + count))
    return result


def only_changed(findings: Iterable[Finding], changed: ChangedLines) -> list[Finding]:
    return [f for f in findings if changed.overlaps(f)]
