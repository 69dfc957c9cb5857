"""Hostile paths and planted files (issue 20, items 6-11): symlink loops in every format,
``# noqa`` outside comments, planted cache files, special output files, huge stacks and
unreadable or excluded paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nm = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"


@pytest.mark.parametrize("fmt", ["github", "sarif", "json", "concise"])
def test_symlink_loop_in_every_format(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 6: Path.resolve raised RuntimeError in the github and sarif formats."""
    os.symlink("loop.py", tmp_path / "loop.py")
    (tmp_path / "bad.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    code = main(["lint", "--no-cache", "--format", fmt, "."])
    out = capsys.readouterr().out
    assert code == 1
    assert "loop.py" in out
    assert "GCK001" in out
    if fmt == "sarif":
        log = json.loads(out)
        notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        uris = [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes]
        assert uris == ["loop.py"]


def _lint(tmp_path: Path, source: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    target = tmp_path / "m.py"
    target.write_text(source)
    code = main(["lint", "--no-cache", "--format", "concise", str(target)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


LAYERS = "import torch.nn as nn\nm = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])"


@pytest.mark.parametrize(
    "tail",
    [
        '; s = "# noqa"',
        "; s = '#noqa: GCK001'",
        '; s = """ # noqa """',
        "  # not a noqa",
    ],
)
def test_noqa_outside_a_comment_suppresses_nothing(
    tail: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 11: a ``# noqa`` in a string literal suppressed the finding."""
    code, out, _ = _lint(tmp_path, LAYERS + tail + "\n", capsys)
    assert code == 1 and "GCK001" in out


@pytest.mark.parametrize(
    "tail",
    [
        "  # noqa:",
        "  # noqa:GCK",
        "  # noqa: gck",
        "  # noqa: ,",
        "  # noqa-ish: GCK001",
        "  # noqa`",
    ],
)
def test_malformed_noqa_is_not_a_blanket_and_is_warned_about(
    tail: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _lint(tmp_path, LAYERS + tail + "\n", capsys)
    assert code == 1 and "GCK001" in out
    assert "m.py:2: invalid `# noqa` directive" in err


@pytest.mark.parametrize(
    "tail",
    [
        "  # noqa",
        "  #noqa",
        "  # noqa: GCK001",
        "  # noqa:GCK001",
        "  # noqa : GCK001",
        "  # NOQA",
        "  # noqa: E501, GCK001",
        "  # noqa: E501 GCK001 - reason",
        "  # type: ignore  # noqa: GCK001",
    ],
)
def test_well_formed_noqa_still_suppresses(
    tail: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _lint(tmp_path, LAYERS + tail + "\n", capsys)
    assert code == 0 and "GCK001" not in out
    assert "warning" not in err


def test_noqa_for_another_code_does_not_suppress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _lint(tmp_path, LAYERS + "  # noqa: E501\n", capsys)
    assert code == 1 and "GCK001" in out and "warning" not in err


def test_file_level_noqa_inside_a_string_is_not_a_directive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = 'DOC = """\n# gradcheck-kit: noqa\n"""\n' + LAYERS + "\n"
    code, out, _ = _lint(tmp_path, source, capsys)
    assert code == 1 and "GCK001" in out
    code, out, _ = _lint(tmp_path, "# gradcheck-kit: noqa\n" + LAYERS + "\n", capsys)
    assert code == 0 and "GCK001" not in out
