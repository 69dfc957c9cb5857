"""Markdown for pull-request comments survives hostile text: line separators, backticks and pipes
in names and messages, notebook findings, and characters that Python keeps inside a line."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.report.gradients import Bounds
from gradcheck_kit.report.markdown import cell, code
from gradcheck_kit.report.source import python_lines
from gradcheck_kit.report.sweeps import SweepCurve, SweepFit, SweepReport

BREAKS = ["\r", "\n", "\r\n", "\v", "\f", "\x1c", "\x85", "\u2028", "\u2029"]


@pytest.mark.parametrize("sep", BREAKS)
def test_a_cell_is_one_line_whatever_separates_its_text(sep: str) -> None:
    text = cell(f"first{sep}second | third")
    assert text.splitlines() == [text]  # nothing a renderer breaks a line at is left
    assert "&#124;" in text and "|" not in text


def test_code_cannot_be_closed_by_a_name() -> None:
    name = "evil`</code>` | <script>"
    assert code(name) == "<code>evil`&lt;/code&gt;` &#124; &lt;script&gt;</code>"


def test_python_lines_number_lines_as_python_does() -> None:
    source = "a = 1\f\nb = 2 # \v x\nc = '\u2028'\r\nd = 4\re = 5\n"
    lines = python_lines(source)
    assert len(lines) == 5 and lines[3] == "d = 4" and lines[4] == "e = 5"
    # the count matches the tokenizer's: compile() puts the last name on line 5
    code_obj = compile(source, "<s>", "exec")
    assert max(line for _, _, line in code_obj.co_lines() if line) == 5


def test_markdown_frame_does_not_drift_below_form_feeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = (
        "import torch.nn as nn\n# a\fcomment\n# b\u2028c\nx = 1  # \v\n"
        "net = nn.Sequential(\n" + "    nn.Linear(8, 8), nn.Sigmoid(),\n" * 8 + ")\n"
    )
    (tmp_path / "m.py").write_text(source, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "--no-cache", "-q", "--report", "r.md", "m.py"]) == 1
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert "| m.py:6:" in md
    marked = [line for line in md.splitlines() if line.startswith(">  6 |")]
    assert marked == [">  6 |     nn.Linear(8, 8), nn.Sigmoid(),"]
    assert ">  5 |" not in md  # the line above the finding is context, not marked


def test_notebook_markdown_frame_shows_the_cell_not_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = "net = nn.Sequential(\n" + "    nn.Linear(8, 8), nn.Sigmoid(),\n" * 8 + ")\n"
    cells = [
        ("markdown", "# title"),
        ("code", "import torch.nn as nn"),
        ("code", "x = 1\n" + stack),
    ]
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {"language_info": {"name": "python"}},
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True)}
            for kind, text in cells
        ],
    }
    (tmp_path / "nb.ipynb").write_text(json.dumps(notebook, indent=1), encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "--no-cache", "-q", "--report", "r.md", "nb.ipynb"]) == 1
    md = (tmp_path / "r.md").read_text(encoding="utf-8")
    assert re.search(r"\| nb\.ipynb:cell 3:3:\d+ \|", md)
    assert "<summary>nb.ipynb:cell 3:3:" in md
    assert '"cell_type"' not in md and '"source"' not in md
    assert ">  3 |     nn.Linear(8, 8), nn.Sigmoid()," in md


def test_sweep_markdown_escapes_the_target_and_messages() -> None:
    fit = SweepFit(shape="insufficient", note="fit | broke\rhere")
    curve = SweepCurve(device="cpu", dtype="float32", points=(), fit=fit, max_safe_depth=None)
    report = SweepReport(
        target="pkg:`make`|x",
        curves=(curve,),
        bounds=Bounds(),
        problems=("factory raised <ValueError> | at\u2028depth 3",),
    )
    md = report.to_markdown()
    first = md.splitlines()[0]
    assert first.startswith("<code>pkg:`make`&#124;x</code>: ")
    assert "- fit: fit &#124; broke<br>here" in md
    assert "- problem: factory raised &lt;ValueError&gt; &#124; at<br>depth 3" in md
