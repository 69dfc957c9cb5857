"""Every rules/GCKnnn.md page with a "## Fix" section: the section holds pairs of ```python
blocks, the first starting with the line ``# before`` and the second with ``# after`` (the rest
is prose). Without their marker lines, linting ``before`` and applying all of the rule's fixes
(every applicability: display-only suggestions too, through ``fix_text``) gives exactly
``after``, and ``after`` has no finding of that rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config
from gradcheck_kit.lint.docs import code_blocks
from gradcheck_kit.lint.fixes import fix_text
from gradcheck_kit.report.findings import APPLICABILITIES

RULES_DIR = Path(__file__).resolve().parents[2] / "rules"
BEFORE, AFTER = "# before", "# after"


def _pairs() -> list[tuple[str, int, str, str]]:
    out = []
    for page in sorted(RULES_DIR.glob("GCK*.md")):
        blocks = [b for b in code_blocks(page.read_text(encoding="utf-8")) if b.section == "Fix"]
        assert len(blocks) % 2 == 0, f"{page}: the Fix section's blocks do not come in pairs"
        for before, after in zip(blocks[::2], blocks[1::2], strict=True):
            first, _, before_code = before.code.partition("\n")
            second, _, after_code = after.code.partition("\n")
            assert first == BEFORE, f"{page}:{before.line}: a Fix pair starts with {BEFORE!r}"
            assert second == AFTER, f"{page}:{after.line}: its second block starts with {AFTER!r}"
            out.append((page.stem, before.line, before_code, after_code))
    return out


PAIRS = _pairs()


@pytest.mark.parametrize(
    ("code", "line", "before", "after"), PAIRS, ids=[f"{c}:{n}" for c, n, _, _ in PAIRS]
)
def test_the_fix_turns_before_into_after(code: str, line: int, before: str, after: str) -> None:
    config = Config(select=(code,))
    assert code in {f.code for f in lint_source(before, "page.py", config)}, (
        f"rules/{code}.md:{line}: 'before' has no {code} finding"
    )
    fixed = fix_text(before, "page.py", config, APPLICABILITIES)
    assert fixed.error is None, fixed.error
    assert fixed.after.decode("utf-8") == after, f"rules/{code}.md:{line}\n{fixed.diff()}"
    assert code not in {f.code for f in lint_source(after, "page.py", config)}


def test_the_pages_have_fix_examples() -> None:
    assert "GCK005" in {code for code, _, _, _ in PAIRS}
