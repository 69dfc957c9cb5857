"""Malformed ``# noqa`` directives are found without tokenizing files that cannot hold one (a
warm run warned about them by tokenizing every file that mentions ``noqa``: 0.3 s of 0.44 s on
ultralytics)."""

from __future__ import annotations

import pytest

from gradcheck_kit.lint.noqa import malformed_noqa_lines, noqa_directives


@pytest.mark.parametrize(
    "text",
    [
        'x = "#noqa:GCK001"  #noqaXYZ\n',
        "x = 1  # noqa: GCK001\n",
        'x = "# noqa bad"\n',
        "y = 2  # noqa:\n",
        's = """\n# noqaZ\n"""\n',
        "a = 1  # see '# noqa' # noqa:GCK9 x\n",
        "z = 3  # NOQA\n# noqa\r\nw = 4  #noqa-ish\n",
    ],
)
def test_the_quick_screen_finds_what_the_tokenizer_finds(text: str) -> None:
    """A file whose spans from a ``#`` to the line's end hold no malformed directive is not
    tokenized: the screen must never miss one the tokenizer sees."""
    expected = sorted(line for line, d in noqa_directives(text).items() if d is False)
    assert malformed_noqa_lines(text) == expected
