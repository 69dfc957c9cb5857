"""The fix loop (lint/fixes.py: fix_bytes, fix_text, fix_file) and GCK005's fix on every shape
it repairs: idempotent, never on a broken file, atomic writes that keep the file's mode, line
endings and encoding, notebooks fixed cell by cell, and a fix that does not remove its finding
caught as a bug."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from gradcheck_kit import lint_source
from gradcheck_kit.config import Config
from gradcheck_kit.lint.fixes import MAX_PASSES, fix_bytes, fix_file, fix_text
from gradcheck_kit.lint.rules import gck005_squashed_twice
from gradcheck_kit.report.findings import APPLICABILITIES, Edit, Finding, Fix

HEADER = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n\n"
SAFE = (
    HEADER
    + "def loss(out, y):\n    return F.binary_cross_entropy_with_logits(torch.sigmoid(out), y)\n"
)
SEQUENTIAL = HEADER + textwrap.dedent(
    """\
    model = nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())
    criterion = nn.BCEWithLogitsLoss()

    def step(x, y):
        return criterion(model(x), y)
    """
)


def fixed(source: str, applies: tuple[str, ...] = APPLICABILITIES) -> str:
    outcome = fix_text(source, "m.py", Config(), applies)
    assert outcome.error is None, outcome.error
    return outcome.after.decode("utf-8")


def gck005(source: str) -> list[Finding]:
    return [f for f in lint_source(source, "m.py") if f.code == "GCK005"]


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("criterion(torch.sigmoid(out), y)", "criterion(out, y)"),
        ("criterion(out.sigmoid(), y)", "criterion(out, y)"),
        ("criterion(torch.special.expit(out), y)", "criterion(out, y)"),
        ("F.cross_entropy(F.softmax(logits, dim=-1), y)", "F.cross_entropy(logits, y)"),
        ("F.cross_entropy(logits.softmax(-1), y)", "F.cross_entropy(logits, y)"),
        ("F.cross_entropy(torch.softmax(input=logits, dim=1), y)", "F.cross_entropy(logits, y)"),
        ("criterion(torch.sigmoid(a + b), y)", "criterion(a + b, y)"),
        ("criterion(torch.sigmoid(\n        out\n    ), y)", "criterion(out, y)"),
    ],
)
def test_a_squash_written_in_the_loss_call_is_removed_safely(written: str, expected: str) -> None:
    source = HEADER + "criterion = nn.BCEWithLogitsLoss()\n\n\ndef loss(out, logits, a, b, y):\n"
    source += f"    return {written}\n"
    (finding,) = gck005(source)
    assert finding.fix is not None and finding.fix.applicability == "safe"
    assert fixed(source, ("safe",)) == source.replace(written, expected)


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        ("nn.Sequential(nn.Linear(8, 1), nn.Sigmoid())", "nn.Sequential(nn.Linear(8, 1))"),
        ("nn.Sequential(nn.Linear(8, 1), nn.Sigmoid(),)", "nn.Sequential(nn.Linear(8, 1),)"),
        (
            "nn.Sequential(\n    nn.Linear(8, 1),\n    nn.Sigmoid(),\n)",
            "nn.Sequential(\n    nn.Linear(8, 1),\n)",
        ),
        (
            "nn.Sequential(nn.Linear(8, 3), nn.Softmax(dim=-1))",
            "nn.Sequential(nn.Linear(8, 3))",
        ),
    ],
)
def test_the_last_layer_of_a_sequential_is_removed_unsafely(model: str, expected: str) -> None:
    loss = "nn.CrossEntropyLoss()" if "Softmax" in model else "nn.BCEWithLogitsLoss()"
    source = HEADER + f"model = {model}\ncriterion = {loss}\n\ndef step(x, y):\n"
    source += "    return criterion(model(x), y)\n"
    (finding,) = gck005(source)
    assert finding.fix is not None and finding.fix.applicability == "unsafe"
    assert fixed(source, ("safe",)) == source  # --fix alone leaves it
    assert fixed(source, ("safe", "unsafe")) == source.replace(model, expected)


@pytest.mark.parametrize(
    ("forward", "expected"),
    [
        ("return torch.sigmoid(x)", "return x"),
        ("return torch.sigmoid(self.body(x))", "return self.body(x)"),
        ("return self.body(x).sigmoid()", "return self.body(x)"),
        ("return self.act(self.body(x))", "return self.body(x)"),
        ("return torch.sigmoid(x) * 1.0", "return x * 1.0"),
        ("return torch.sigmoid(x + 0.0) * 1.0", "return (x + 0.0) * 1.0"),
    ],
)
def test_the_end_of_forward_is_removed_unsafely(forward: str, expected: str) -> None:
    source = HEADER + textwrap.dedent(
        f"""\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(8, 1)
                self.act = nn.Sigmoid()

            def forward(self, x):
                x = self.body(x)
                {forward}

        net = Net()

        def step(x, y):
            return nn.BCEWithLogitsLoss()(net(x), y)
        """
    )
    if "self.body(x)" in forward:
        source = source.replace("        x = self.body(x)\n", "")
    (finding,) = gck005(source)
    assert finding.fix is not None and finding.fix.applicability == "unsafe"
    assert fixed(source) == source.replace(forward, expected)


@pytest.mark.parametrize(
    "source",
    [
        # the comment would be lost
        HEADER
        + "def loss(out, y):\n    return F.binary_cross_entropy_with_logits(torch.sigmoid(  # !\n"
        "        out), y)\n",
        # one sigmoid removed of two would leave the finding
        HEADER + "def loss(out, y):\n    return F.binary_cross_entropy_with_logits("
        "torch.sigmoid(torch.sigmoid(out)), y)\n",
        # a shared activation bound to a name: not a literal's last argument
        HEADER + "act = nn.Sigmoid()\nmodel = nn.Sequential(nn.Linear(8, 1), act)\n"
        "def step(x, y):\n    return nn.BCEWithLogitsLoss()(model(x), y)\n",
        # the Sequential would be empty
        HEADER + "model = nn.Sequential(nn.Sigmoid())\n"
        "def step(x, y):\n    return nn.BCEWithLogitsLoss()(model(x), y)\n",
    ],
)
def test_no_fix_where_the_linter_cannot_be_sure(source: str) -> None:
    findings = gck005(source)
    assert findings and all(f.fix is None for f in findings)


def test_a_model_from_another_module_is_not_edited(tmp_path: Path) -> None:
    """Another module's code is never edited (today GCK005 does not follow a model into
    another module at all; if it learns to, its finding here must come without a fix)."""
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'p'\n")
    (tmp_path / "model.py").write_text(
        HEADER + "class Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.body = nn.Linear(8, 1)\n\n    def forward(self, x):\n"
        "        return torch.sigmoid(self.body(x))\n"
    )
    train = tmp_path / "train.py"
    train.write_text(
        HEADER + "from model import Net\n\nnet = Net()\n\ndef step(x, y):\n"
        "    return nn.BCEWithLogitsLoss()(net(x), y)\n"
    )
    findings = [f for f in lint_source(train.read_text(), str(train)) if f.code == "GCK005"]
    assert all(f.fix is None for f in findings)


def test_fixing_is_idempotent_and_counts_what_it_fixed() -> None:
    source = SAFE + SEQUENTIAL[len(HEADER) :]
    first = fix_text(source, "m.py", Config(), ("safe", "unsafe"))
    assert [f.code for f in first.fixed] == ["GCK005", "GCK005"]
    assert first.findings == [] and first.error is None
    second = fix_text(first.after.decode(), "m.py", Config(), ("safe", "unsafe"))
    assert not second.changed and second.fixed == [] and second.diff() == ""


def test_a_file_with_a_syntax_error_is_never_touched(tmp_path: Path) -> None:
    path = tmp_path / "broken.py"
    path.write_bytes(SAFE.encode() + b"def (:\n")
    outcome = fix_file(path, Config(), ("safe",), write=True)
    assert outcome.error is not None and "syntax error" in outcome.error.message
    assert not outcome.changed
    assert path.read_bytes() == SAFE.encode() + b"def (:\n"


def test_the_write_is_atomic_and_keeps_mode_line_endings_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    text = "# -*- coding: latin-1 -*-\n# café\n" + SAFE
    path.write_bytes(text.replace("\n", "\r\n").encode("latin-1"))
    path.chmod(0o640)
    inode = path.stat().st_ino
    outcome = fix_file(path, Config(), ("safe",), write=True)
    assert outcome.error is None and outcome.changed
    data = path.read_bytes()
    assert data == fixed(text, ("safe",)).replace("\n", "\r\n").encode("latin-1")
    assert b"\r\n" in data and data.count(b"\n") == data.count(b"\r\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert path.stat().st_ino != inode  # a new file renamed into place, not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["m.py"]  # no temporary file left


def test_a_bom_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_bytes(b"\xef\xbb\xbf" + SAFE.encode())
    fix_file(path, Config(), ("safe",), write=True)
    assert path.read_bytes() == b"\xef\xbb\xbf" + fixed(SAFE, ("safe",)).encode()


def _notebook(*sources: str) -> dict[str, object]:
    cells: list[dict[str, object]] = [{"cell_type": "markdown", "metadata": {}, "source": "# hi"}]
    for source in sources:
        cells.append(
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {"tags": ["keep"]},
                "outputs": [{"output_type": "stream", "name": "stdout", "text": ["out\n"]}],
                "source": source.splitlines(keepends=True),
            }
        )
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4,
            "nbformat_minor": 5}  # fmt: skip


def test_a_notebook_is_fixed_cell_by_cell_with_outputs_and_metadata_kept(tmp_path: Path) -> None:
    first = "%matplotlib inline\n" + HEADER
    second = (
        "def loss(out, y):\n    return F.binary_cross_entropy_with_logits(torch.sigmoid(out), y)\n"
    )
    notebook = _notebook(first, second)
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    (finding,) = [f for f in fix_file(path, Config(), (), write=False).findings]
    assert finding.cell == 3 and finding.fix is not None
    assert {e.cell for e in finding.fix.edits} == {3}
    outcome = fix_file(path, Config(), ("safe",), write=True)
    assert outcome.error is None and [f.cell for f in outcome.fixed] == [3]
    after = json.loads(path.read_text(encoding="utf-8"))
    expected = _notebook(first, second.replace("torch.sigmoid(out)", "out"))
    assert after == expected  # outputs, metadata, the magic and the other cells untouched
    assert path.read_text(encoding="utf-8").startswith('{\n "cells": [\n  {')  # indent kept
    assert fix_file(path, Config(), ("safe",), write=True).changed is False


@pytest.fixture
def broken_fix(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """GCK005's fix made a no-op: it rewrites the squash as itself (a fake fix, for the bug path
    only)."""
    real = gck005_squashed_twice.squash_fix

    def no_op(event: object, ctx: object) -> object:
        fix = real(event, ctx)  # type: ignore[arg-type]
        if fix is None:
            return None
        edits = tuple(
            dataclasses.replace(e, content=ctx.source(event.data["squash"]))  # type: ignore[attr-defined]
            for e in fix.edits
        )
        return dataclasses.replace(fix, edits=edits)

    monkeypatch.setattr(gck005_squashed_twice, "squash_fix", no_op)
    yield


def test_a_fix_that_does_not_remove_its_finding_is_a_bug(broken_fix: None, tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SAFE)
    outcome = fix_file(path, Config(), ("safe",), write=True)
    assert outcome.error is not None
    message = outcome.error.message
    assert message.startswith("internal error") and "GCK005" in message
    assert "did not remove its finding" in message and outcome.error.path == str(path)
    assert path.read_text() == SAFE and not outcome.changed


def test_a_fix_whose_result_does_not_parse_is_a_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    real = gck005_squashed_twice.squash_fix

    def unparsable(event: object, ctx: object) -> object:
        fix = real(event, ctx)  # type: ignore[arg-type]
        if fix is None:
            return None
        edits = tuple(dataclasses.replace(e, content="(") for e in fix.edits)
        return dataclasses.replace(fix, edits=edits)

    monkeypatch.setattr(gck005_squashed_twice, "squash_fix", unparsable)
    outcome = fix_bytes(SAFE.encode(), "m.py", Config(), ("safe",))
    assert outcome.error is not None and "does not parse" in outcome.error.message
    assert not outcome.changed


def test_fixes_that_never_converge_stop_after_the_last_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each pass's fix works, but the fixed file always has a new fixable finding (a fake lint,
    for this path only)."""
    from gradcheck_kit.lint import engine

    passes = []

    def endless(data: bytes, display: str, config: Config, consulted: object = None) -> object:
        passes.append(data)
        fix = Fix("comment", "safe", (Edit(1, 1, 1, 1, "#\n"),))
        return [Finding("GCK005", "squashed-twice", "m", display, 1, 1, 1, 2, fix=fix)], None

    monkeypatch.setattr(engine, "lint_bytes", endless)
    outcome = fix_bytes(b"x = 1\n", "m.py", Config(), ("safe",))
    assert outcome.error is not None and "did not converge" in outcome.error.message
    assert len(passes) == MAX_PASSES + 1  # the first lint, then one per pass
    assert outcome.after == b"#\n" * MAX_PASSES + b"x = 1\n"


def test_fix_text_applies_display_only_fixes_and_fix_bytes_does_not() -> None:
    finding = gck005(SAFE)[0]
    assert finding.fix is not None
    display_only = dataclasses.replace(
        finding, fix=dataclasses.replace(finding.fix, applicability="display-only")
    )
    outcome = fix_bytes(SAFE.encode(), "m.py", Config(), ("safe", "unsafe"), [display_only])
    assert not outcome.changed and outcome.fixed == []
    outcome = fix_bytes(SAFE.encode(), "m.py", Config(), APPLICABILITIES, [display_only])
    assert outcome.changed and outcome.fixed == [display_only]


def test_nothing_to_fix_leaves_the_bytes_alone(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(HEADER)
    before = os.stat(path)
    outcome = fix_file(path, Config(), APPLICABILITIES, write=True)
    assert not outcome.changed and os.stat(path).st_mtime_ns == before.st_mtime_ns


def test_a_module_called_in_the_loss_gives_its_input_and_an_unclear_call_no_fix() -> None:
    source = HEADER + textwrap.dedent(
        """\
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.body = nn.Linear(8, 1)
                self.sigmoid = nn.Sigmoid()
                self.criterion = nn.BCEWithLogitsLoss()

            def forward(self, x):
                return self.body(x)

            def training_step(self, batch):
                x, y = batch
                return self.criterion(self.sigmoid(self(x)), y)


        def unclear(model, logits, labels):
            return F.cross_entropy(model.softmax(logits), labels)
        """
    )
    module_call, unclear = gck005(source)
    assert module_call.fix is not None and unclear.fix is None  # model.softmax(logits): which?
    assert fixed(source) == source.replace("self.sigmoid(self(x))", "self(x)")


def test_an_inserted_line_takes_the_file_s_line_ending(monkeypatch: pytest.MonkeyPatch) -> None:
    """A fix that inserts lines (as GCK004's will) writes CRLF into a CRLF file (a fake lint
    whose finding goes away once its comment is in, for this path only)."""
    from gradcheck_kit.lint import engine

    def lint_once(data: bytes, display: str, config: Config, consulted: object = None) -> object:
        if b"# fixed" in data:
            return [], None
        fix = Fix("insert", "safe", (Edit(2, 1, 2, 1, "# fixed\nz = 0\n"),))
        return [Finding("GCK004", "n", "m", display, 2, 1, 2, 2, fix=fix)], None

    monkeypatch.setattr(engine, "lint_bytes", lint_once)
    outcome = fix_bytes(b"x = 1\r\ny = 2\r\n", "m.py", Config(), ("safe",))
    assert outcome.error is None
    assert outcome.after == b"x = 1\r\n# fixed\r\nz = 0\r\ny = 2\r\n"
