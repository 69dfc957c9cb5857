"""Rule pages (``rules/GCKnnn.md``): found in the wheel (``gradcheck_kit/_rules``) or, in a
checkout, at the repository root."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gradcheck_kit.lint.rules import RULES
from gradcheck_kit.report.sarif import RuleInfo

_PACKAGE = Path(__file__).resolve().parent.parent


def rules_dir() -> Path | None:
    for candidate in (_PACKAGE / "_rules", _PACKAGE.parent / "rules"):
        if candidate.is_dir():
            return candidate
    return None


def rule_page(code: str) -> str | None:
    directory = rules_dir()
    if directory is None:
        return None
    page = directory / f"{code.upper()}.md"
    return page.read_text(encoding="utf-8") if page.is_file() else None


@dataclass(frozen=True)
class CodeBlock:
    section: str  # the heading the block sits under ("Example", "Use instead", ...)
    code: str
    line: int  # 1-based line of the opening fence in the page


_HEADING = re.compile(r"^#{2,3}\s+(?P<title>.+?)\s*$")
_FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")


def code_blocks(markdown: str) -> list[CodeBlock]:
    """The ```python blocks of a page, each with the section heading above it."""
    blocks: list[CodeBlock] = []
    section = ""
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        heading = _HEADING.match(lines[i])
        fence = _FENCE.match(lines[i])
        if heading:
            section = heading.group("title")
        elif fence and fence.group("lang") in ("python", "py"):
            start = i
            body: list[str] = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            blocks.append(CodeBlock(section, "\n".join(body) + "\n", start + 1))
        elif fence:  # skip other fenced blocks whole
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                i += 1
        i += 1
    return blocks


def first_paragraph(markdown: str, section: str) -> str:
    """The first paragraph under ``## section`` (for SARIF/JSON rule metadata)."""
    lines = markdown.splitlines()
    out: list[str] = []
    inside = False
    for line in lines:
        heading = _HEADING.match(line)
        if heading:
            if inside:
                break
            inside = heading.group("title").lower() == section.lower()
            continue
        if inside:
            if not line.strip():
                if out:
                    break
                continue
            out.append(line.strip())
    return " ".join(out)


def _without_title(markdown: str) -> str:
    lines = markdown.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(lines).strip() + "\n"


def rule_infos() -> list[RuleInfo]:
    """Every rule, described for SARIF: summary, the page's *What it does* as the full
    description, *What it does* + *Why is this bad?* as help text, the page as help Markdown."""
    infos = []
    for rule in RULES.values():
        page = rule_page(rule.code)
        what = first_paragraph(page, "What it does") if page else ""
        why = first_paragraph(page, "Why is this bad?") if page else ""
        infos.append(
            RuleInfo(
                code=rule.code,
                name=rule.name,
                summary=rule.summary,
                full_description=what or rule.summary,
                help_text=" ".join(p for p in (what, why) if p) or rule.summary,
                help_markdown=_without_title(page) if page else None,
                severity=rule.severity,
                default=rule.default,
            )
        )
    return infos
