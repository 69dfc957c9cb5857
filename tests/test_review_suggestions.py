"""Fixes in review outputs (issue 21, item 3): SARIF ``fixes`` (schema-valid, code-point columns,
the same text as ``--fix`` writes), GitHub ``suggestion`` blocks in the PR-comment Markdown and
``audit --format markdown``, the ``fix`` object of the JSON output, and GitHub annotations that
say a fix is available.

Findings are built here with their fixes (the rules attach theirs elsewhere); the files they edit
are real files on disk, as the renderers read them.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import given, settings
from hypothesis import strategies as st

from gradcheck_kit.lint.docs import rule_infos
from gradcheck_kit.lint.fixes import apply_fixes
from gradcheck_kit.report.audit import AuditReport, to_markdown
from gradcheck_kit.report.findings import Edit, Finding, Fix, LintResult
from gradcheck_kit.report.formats import github_command, lint_to_dict, lint_to_json
from gradcheck_kit.report.markdown import (
    render_markdown,
    suggestion_fence,
    suggestion_hunks,
)
from gradcheck_kit.report.sarif import lint_to_sarif_dict

SCHEMA = json.loads((Path(__file__).parent / "data" / "sarif-schema-2.1.0.json").read_text())

SOURCE = """\
import torch
import torch.nn as nn

# \U0001f642 a comment: columns count code points (UTF-16 would count the emoji twice)
loss_fn = nn.BCEWithLogitsLoss()
out = model(x)
loss = loss_fn(torch.sigmoid(out), y)
loss.backward()
optimizer.step()
"""
CLIP = "torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)\n"


def span(line: int, text: str) -> tuple[int, int, int, int]:
    """(line, column, end_line, end_column) of ``text`` on ``line`` of SOURCE (1-based,
    exclusive end, in characters)."""
    column = SOURCE.splitlines()[line - 1].index(text) + 1
    return line, column, line, column + len(text)


def finding(path: Path, code: str, line: int, fix: Fix | None, cell: int | None = None) -> Finding:
    return Finding(
        code=code,
        name="rule-name",
        message=f"{code} message",
        path=str(path),
        line=line,
        column=1,
        end_line=line,
        end_column=5,
        cell=cell,
        fix=fix,
    )


UNSQUASH = Fix(
    "Remove the sigmoid: BCEWithLogitsLoss applies it",
    "safe",
    (Edit(*span(7, "torch.sigmoid(out)"), "out"),),
)
CLIPPING = Fix("Clip the gradients before the step", "unsafe", (Edit(9, 1, 9, 1, CLIP),))
COMMENT = Fix("Reword the comment", "display-only", (Edit(*span(4, "a comment"), "one comment"),))


def project(tmp_path: Path) -> tuple[Path, LintResult]:
    path = tmp_path / "train.py"
    path.write_text(SOURCE, encoding="utf-8")
    findings = [
        finding(path, "GCK006", 4, COMMENT),
        finding(path, "GCK005", 7, UNSQUASH),
        finding(path, "GCK004", 9, CLIPPING),
        finding(path, "GCK001", 5, None),
    ]
    return path, LintResult(files_checked=1, findings=findings)


# --------------------------------------------------------------------------- SARIF


def validate(log: dict[str, Any]) -> None:
    validator = jsonschema.validators.validator_for(SCHEMA)(SCHEMA)
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def apply_sarif(text: str, replacements: list[dict[str, Any]], *, against_original: bool) -> str:
    """A SARIF consumer applying ``replacements`` in order, columns in code points (the run's
    columnKind), each region read against the original text or the text edited so far."""
    out = text
    for replacement in replacements:
        base = text if against_original else out
        starts = [0] + [m.end() for m in re.finditer("\n", base)]
        region = replacement["deletedRegion"]
        start = starts[region["startLine"] - 1] + region["startColumn"] - 1
        end = starts[region["endLine"] - 1] + region["endColumn"] - 1
        inserted = replacement.get("insertedContent", {}).get("text", "")
        out = out[:start] + inserted + out[end:]
    return out


def test_sarif_fixes_are_schema_valid_and_write_what_fix_writes(tmp_path: Path) -> None:
    path, result = project(tmp_path)
    log = lint_to_sarif_dict(result, rule_infos(), base=tmp_path)
    validate(log)
    (run,) = log["runs"]
    assert run["columnKind"] == "unicodeCodePoints"
    by_code = {r["ruleId"]: r for r in run["results"]}
    assert "fixes" not in by_code["GCK001"]
    (fix,) = by_code["GCK005"]["fixes"]
    assert fix["description"]["text"] == UNSQUASH.message
    assert fix["properties"] == {"applicability": "safe"}
    (change,) = fix["artifactChanges"]
    assert change["artifactLocation"] == {"uri": "train.py", "uriBaseId": "%SRCROOT%"}
    (replacement,) = change["replacements"]
    line, column, end_line, end_column = span(7, "torch.sigmoid(out)")
    assert replacement == {
        "deletedRegion": {
            "startLine": line,
            "startColumn": column,
            "endLine": end_line,
            "endColumn": end_column,
        },
        "insertedContent": {"text": "out"},
    }
    unsafe = by_code["GCK004"]["fixes"][0]
    assert unsafe["description"]["text"].endswith("(unsafe fix: review it)")
    region = unsafe["artifactChanges"][0]["replacements"][0]["deletedRegion"]
    assert (region["startColumn"], region["endColumn"]) == (1, 1)  # an insertion point
    # after the emoji: its code-point column, not its UTF-16 one
    shown = by_code["GCK006"]["fixes"][0]
    assert shown["properties"] == {"applicability": "display-only"}
    assert shown["artifactChanges"][0]["replacements"][0]["deletedRegion"]["startColumn"] == 5
    assert SOURCE.splitlines()[3][4:].startswith("a comment")
    for result_ in run["results"]:
        for fix in result_.get("fixes", ()):
            (change,) = fix["artifactChanges"]
            source_fix = next(
                f.fix
                for f in result.findings
                if f.fix and fix["description"]["text"].startswith(f.fix.message)
            )
            expected = apply_fixes(SOURCE, [source_fix])[0]
            for against_original in (True, False):
                assert (
                    apply_sarif(SOURCE, change["replacements"], against_original=against_original)
                    == expected
                )
    assert path.read_text(encoding="utf-8") == SOURCE  # nothing written


def test_sarif_replacements_come_last_first_and_deletions_insert_nothing(tmp_path: Path) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE, encoding="utf-8")
    fix = Fix(
        "Two edits",
        "unsafe",
        (
            Edit(*span(7, "torch.sigmoid(out)"), "out"),
            Edit(2, 1, 3, 1, ""),  # delete line 2 and its line break
        ),
    )
    result = LintResult(files_checked=1, findings=[finding(path, "GCK005", 7, fix)])
    log = lint_to_sarif_dict(result, rule_infos(), base=tmp_path)
    validate(log)
    (replacements,) = [
        c["replacements"] for c in log["runs"][0]["results"][0]["fixes"][0]["artifactChanges"]
    ]
    assert [r["deletedRegion"]["startLine"] for r in replacements] == [7, 2]
    assert "insertedContent" not in replacements[1]
    expected = apply_fixes(SOURCE, [fix])[0]
    assert "import torch.nn" not in expected
    for against_original in (True, False):
        assert apply_sarif(SOURCE, replacements, against_original=against_original) == expected


def test_sarif_leaves_a_notebook_fix_out(tmp_path: Path) -> None:
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}", encoding="utf-8")
    fix = Fix("Remove it", "safe", (Edit(1, 1, 1, 4, "", cell=2),))
    result = LintResult(files_checked=1, findings=[finding(notebook, "GCK005", 1, fix, cell=2)])
    log = lint_to_sarif_dict(result, rule_infos(), base=tmp_path)
    validate(log)
    (result_,) = log["runs"][0]["results"]
    assert "fixes" not in result_ and result_["properties"]["cell"] == 2


# --------------------------------------------------------------------------- Markdown


def blocks(markdown: str) -> list[tuple[str, list[str]]]:
    """(info string, body lines) of each fenced block (fences of any length)."""
    found = []
    lines = markdown.splitlines()
    i = 0
    while i < len(lines):
        opening = re.match(r"^(`{3,})(\S*)$", lines[i])
        if opening:
            ticks, info = opening.groups()
            end = next(
                j for j in range(i + 1, len(lines)) if re.fullmatch(f"`{{{len(ticks)},}}", lines[j])
            )
            found.append((info, lines[i + 1 : end]))
            i = end
        i += 1
    return found


def test_pr_comment_shows_each_fix_as_a_suggestion(tmp_path: Path) -> None:
    path, result = project(tmp_path)
    md = render_markdown(title="gradcheck-kit", lint=result, entries=(), sweeps=())
    suggestions = [body for info, body in blocks(md) if info == "suggestion"]
    assert suggestions == [
        [
            "# \U0001f642 one comment: columns count code points (UTF-16 would count the emoji twice)"
        ],
        ["loss = loss_fn(out, y)"],
        [CLIP.rstrip("\n"), "optimizer.step()"],  # an inserted line: the line it goes before
    ]
    assert (
        f"**Fix** for <code>{path}:7:1</code> GCK005 (safe: applied by --fix): {UNSQUASH.message}"
        in md
    )
    assert "(unsafe: applied by --fix --unsafe-fixes, review it): Clip the gradients" in md
    # a display-only repair is a suggestion, and says it is never applied
    assert "**Suggestion** for <code>" in md and "display-only: a suggestion, never applied" in md
    assert "Line 7, with the fix applied:" in md
    assert "<summary>" + f"{path}:7:1 GCK005 · fix (safe)</summary>" in md
    assert md.count("with the fix applied") == 2  # the finding without a fix has none
    assert "Line 4, with the suggestion applied:" in md


def test_suggestion_deleting_lines_is_empty_and_distant_edits_are_two_blocks(
    tmp_path: Path,
) -> None:
    path = tmp_path / "m.py"
    path.write_text(SOURCE, encoding="utf-8")
    fix = Fix(
        "Two edits", "unsafe", (Edit(2, 1, 3, 1, ""), Edit(*span(7, "torch.sigmoid(out)"), "out"))
    )
    result = LintResult(files_checked=1, findings=[finding(path, "GCK005", 7, fix)])
    md = render_markdown(title="t", lint=result, entries=(), sweeps=())
    assert [b for b in blocks(md) if b[0] == "suggestion"] == [
        ("suggestion", []),  # deletes line 2
        ("suggestion", ["loss = loss_fn(out, y)"]),
    ]
    assert "Line 2, with the fix applied:" in md and "Line 7, with the fix applied:" in md


def test_suggestion_with_backticks_gets_a_longer_fence_and_names_are_escaped(
    tmp_path: Path,
) -> None:
    path = tmp_path / "evil | <b>.py"
    path.write_text("x = 1\ny = 2\n", encoding="utf-8")
    content = 'x = """\n```\n````\n"""\n'
    fix = Fix("Use a <script> | ``` docstring", "display-only", (Edit(1, 1, 2, 1, content),))
    result = LintResult(files_checked=1, findings=[finding(path, "GCK001", 1, fix)])
    md = render_markdown(title="t", lint=result, entries=(), sweeps=())
    assert "`````suggestion" in md  # longer than the longest run of backticks inside
    assert [b for b in blocks(md) if b[0] == "suggestion"] == [
        ("suggestion", ['x = """', "```", "````", '"""'])
    ]
    assert "<script>" not in md and "&lt;script&gt; &#124; ``` docstring" in md
    assert "evil &#124; &lt;b&gt;.py" in md


def test_unreadable_or_changed_file_shows_the_message_only(tmp_path: Path) -> None:
    gone = tmp_path / "gone.py"
    stale = tmp_path / "stale.py"
    stale.write_text("x = 1\n", encoding="utf-8")  # shorter than when it was linted
    result = LintResult(
        files_checked=2,
        findings=[finding(gone, "GCK005", 7, UNSQUASH), finding(stale, "GCK005", 7, UNSQUASH)],
    )
    md = render_markdown(title="t", lint=result, entries=(), sweeps=())
    assert md.count(UNSQUASH.message) == 2
    assert "(The file could not be read, so the fix is not shown.)" in md
    assert "(The file has changed since it was linted, so the fix is not shown.)" in md
    assert not [b for b in blocks(md) if b[0] == "suggestion"]


def test_notebook_fix_is_a_python_block_of_the_cell(tmp_path: Path) -> None:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# title"]},
        {
            "cell_type": "code",
            "metadata": {},
            "outputs": [],
            "execution_count": None,
            "source": ["import torch\n", "y = torch.sigmoid(x)\n"],
        },
    ]
    path = tmp_path / "nb.ipynb"
    path.write_text(
        json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells})
    )
    fix = Fix("Remove the sigmoid", "safe", (Edit(2, 5, 2, 21, "x", cell=2),))
    result = LintResult(files_checked=1, findings=[finding(path, "GCK005", 2, fix, cell=2)])
    md = render_markdown(title="t", lint=result, entries=(), sweeps=())
    assert ("python", ["y = x"]) in blocks(md)
    assert "Cell 2, line 2, with the fix applied:" in md
    assert not [b for b in blocks(md) if b[0] == "suggestion"]  # it would replace JSON lines


def test_audit_markdown_shows_the_fixes(tmp_path: Path) -> None:
    _, result = project(tmp_path)
    md = to_markdown(AuditReport(lint=result, runtime_note="no runtime checks declared"))
    assert "#### Fixes" in md
    assert md.index("### Static analysis") < md.index("#### Fixes") < md.index("### Gradient flow")
    assert [body for info, body in blocks(md) if info == "suggestion"][1] == [
        "loss = loss_fn(out, y)"
    ]
    empty = to_markdown(
        AuditReport(lint=LintResult(files_checked=1, findings=[result.findings[3]]))
    )
    assert "#### Fixes" not in empty


lines_of_code = st.lists(st.text(alphabet="ab `\té", max_size=6), min_size=1, max_size=6)


@st.composite
def text_and_edits(draw: st.DrawFn) -> tuple[str, list[Edit]]:
    lines = draw(lines_of_code)
    text = "\n".join(lines) + draw(st.sampled_from(["", "\n"]))
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), min_size=2, max_size=8)))
    starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(offset: int) -> tuple[int, int]:
        line = max(i for i, s in enumerate(starts) if s <= offset)
        return line + 1, offset - starts[line] + 1

    edits = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        content = draw(st.text(alphabet="xy\n`", max_size=5))
        edits.append(Edit(*position(a), *position(b), content))
    return text, edits


@settings(max_examples=300, deadline=None)
@given(text_and_edits())
def test_suggestions_put_back_in_place_give_what_fix_writes(case: tuple[str, list[Edit]]) -> None:
    text, edits = case
    expected, applied = apply_fixes(text, [Fix("m", "safe", tuple(edits))])
    assert applied
    hunks = suggestion_hunks(text, edits)
    starts = [0] + [m.end() for m in re.finditer("\n", text)]
    out = text
    for first, last, new in reversed(hunks):  # each hunk replaces its whole lines
        stop = starts[last] if last < len(starts) else len(text)
        out = out[: starts[first - 1]] + new + out[stop:]
        fence = suggestion_fence(new)
        body = "\n".join(fence[1:-1])
        assert new in (body, body + "\n") or (new == "" and fence[1:-1] == [])
        assert all(
            not re.fullmatch(re.escape(fence[0][: fence[0].index("s")]) + "`*", line)
            for line in fence[1:-1]
        )
    assert out == expected
    assert all(a[1] < b[0] - 1 for a, b in itertools.pairwise(hunks))  # apart


# --------------------------------------------------------------------------- JSON, GitHub


def test_json_carries_ruffs_fix_object(tmp_path: Path) -> None:
    _, result = project(tmp_path)
    data = json.loads(lint_to_json(result))
    assert data == lint_to_dict(result)
    by_code = {f["code"]: f for f in data["findings"]}
    assert by_code["GCK001"]["fix"] is None
    line, column, end_line, end_column = span(7, "torch.sigmoid(out)")
    assert by_code["GCK005"]["fix"] == {
        "message": UNSQUASH.message,
        "applicability": "safe",
        "edits": [
            {
                "line": line,
                "column": column,
                "end_line": end_line,
                "end_column": end_column,
                "content": "out",
                "cell": None,
            }
        ],
    }
    assert Finding.from_dict(by_code["GCK005"]) == result.findings[1]


def test_github_annotation_says_a_fix_is_available(tmp_path: Path) -> None:
    _, result = project(tmp_path)
    commands = {f.code: github_command(f) for f in result.findings}
    assert commands["GCK005"].endswith(
        f"GCK005 message - fix available: {UNSQUASH.message} (safe: --fix)"
    )
    assert commands["GCK004"].endswith(
        "- fix available: Clip the gradients before the step (unsafe: --unsafe-fixes)"
    )
    assert commands["GCK006"].endswith(
        "- suggestion available: Reword the comment (display-only: --show-fixes)"
    )
    assert "available" not in commands["GCK001"]
    # a message with a line break or percent sign stays one escaped workflow command
    odd = finding(
        tmp_path / "x.py", "GCK005", 1, Fix("50%\nmore", "safe", (Edit(1, 1, 1, 1, "x"),))
    )
    assert github_command(odd).endswith("fix available: 50%25%0Amore (safe: --fix)")


def test_readme_documents_the_fix_object_as_json_writes_it(tmp_path: Path) -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    section = readme.split("### JSON output\n", 1)[1].split("\n### ", 1)[0]
    example = re.search(r"```json\n(\"fix\": \{.*?\n\})\n```", section, flags=re.DOTALL)
    assert example is not None
    documented = json.loads("{" + example[1] + "}")["fix"]
    _, result = project(tmp_path)
    written = lint_to_dict(result)["findings"][1]["fix"]
    assert set(documented) == set(written)
    assert [set(e) for e in documented["edits"]] == [set(e) for e in written["edits"]]
    assert documented["applicability"] in ("safe", "unsafe", "display-only")
    for word in ("`safe`", "`unsafe`", "`display-only`", "1-based", "end column exclusive"):
        assert word in section
