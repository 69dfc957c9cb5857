"""apply_fixes: whole fixes in source order, overlaps left for the next pass, positions in
characters on any line ending."""

from __future__ import annotations

import pytest

from gradcheck_kit.lint.fixes import applicable, apply_fixes, parses, unified_diff
from gradcheck_kit.report.findings import Edit, Fix


def fix(*edits: Edit, applicability: str = "safe") -> Fix:
    return Fix("m", applicability, tuple(edits))


def test_edits_replace_insert_and_delete() -> None:
    text = "a = sigmoid(x)\nb = 1\n"
    unwrap = fix(Edit(1, 5, 1, 13, ""), Edit(1, 14, 1, 15, ""))
    insert = fix(Edit(2, 1, 2, 1, "# b\n"))
    out, applied = apply_fixes(text, [insert, unwrap])
    assert out == "a = x\n# b\nb = 1\n"
    assert applied == [unwrap, insert]


def test_an_overlapping_fix_waits_for_the_next_pass() -> None:
    text = "y = f(g(x))\n"
    outer = fix(Edit(1, 5, 1, 12, "x"))
    inner = fix(Edit(1, 7, 1, 11, "x"))
    out, applied = apply_fixes(text, [inner, outer])
    assert (out, applied) == ("y = x\n", [outer])
    same_point = fix(Edit(1, 1, 1, 1, "# a\n")), fix(Edit(1, 1, 1, 1, "# b\n"))
    out, applied = apply_fixes(text, list(same_point))
    assert applied == [same_point[0]]


def test_columns_count_characters_on_any_line_ending() -> None:
    text = "s = 'é'\r\ny = sig(x)\rz = 2\n"
    out, _ = apply_fixes(text, [fix(Edit(2, 5, 2, 11, "x"))])
    assert out == "s = 'é'\r\ny = x\rz = 2\n"
    with pytest.raises(ValueError):
        apply_fixes(text, [fix(Edit(9, 1, 9, 2, ""))])
    with pytest.raises(ValueError):
        apply_fixes(text, [fix(Edit(1, 40, 1, 41, ""))])


def test_applicability_and_helpers() -> None:
    assert applicable(fix(Edit(1, 1, 1, 1, "")))
    assert not applicable(fix(Edit(1, 1, 1, 1, ""), applicability="unsafe"))
    assert applicable(fix(Edit(1, 1, 1, 1, ""), applicability="unsafe"), unsafe=True)
    assert not applicable(fix(Edit(1, 1, 1, 1, ""), applicability="display-only"), unsafe=True)
    assert not applicable(None)
    assert parses("x = 1\n") is None
    assert parses("x = (\n") is not None
    assert unified_diff("m.py", "a\n", "b\n").splitlines()[:2] == ["--- a/m.py", "+++ b/m.py"]
