"""Every rules/GCKnnn.md page: its "Example" blocks trigger the rule, its "Use instead" blocks
do not, and it has the sections a rule page must have."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.lint.docs import code_blocks, rules_dir
from gradcheck_kit.lint.rules import RULES

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead", "Options", "References")


def _blocks() -> list[tuple[str, str, int, str]]:
    out = []
    for page in sorted(RULES_DIR.glob("GCK*.md")):
        for block in code_blocks(page.read_text(encoding="utf-8")):
            out.append((page.stem, block.section, block.line, block.code))
    return out


BLOCKS = _blocks()


@pytest.mark.parametrize(
    ("code", "section", "line", "source"),
    BLOCKS,
    ids=[f"{c}:{line}:{s}" for c, s, line, _ in BLOCKS],
)
def test_rule_page_code_block(code: str, section: str, line: int, source: str) -> None:
    codes = {f.code for f in lint_source(source, f"rules/{code}.md")}
    if section == "Example":
        assert code in codes, f"rules/{code}.md:{line}: the example does not trigger {code}"
    elif section == "Use instead":
        assert code not in codes, f"rules/{code}.md:{line}: 'use instead' triggers {code}"


@pytest.mark.parametrize("code", sorted(RULES))
def test_every_rule_has_a_complete_page(code: str) -> None:
    page = RULES_DIR / f"{code}.md"
    text = page.read_text(encoding="utf-8")
    assert text.startswith(f"# {code} {RULES[code].name}")
    for section in SECTIONS:
        assert f"## {section}" in text, f"{page} lacks '## {section}'"
    sections = {b.section for b in code_blocks(text)}
    assert {"Example", "Use instead"} <= sections


def test_pages_are_found_by_the_package() -> None:
    assert rules_dir() is not None
