"""Jupyter notebooks: code cells linted as one module, IPython syntax skipped, findings at
(cell, line within the cell) in every format."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.lint.notebook import notebook_source


def notebook(*cells: tuple[str, str], language: str = "python") -> str:
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {"language_info": {"name": language}},
            "cells": [
                {
                    "cell_type": kind,
                    "metadata": {},
                    "source": source.splitlines(keepends=True),  # nbformat's list form
                    **({"outputs": [], "execution_count": None} if kind == "code" else {}),
                }
                for kind, source in cells
            ],
        }
    )


CELLS = (
    ("markdown", "# A deep sigmoid MLP\nsigmoid everywhere"),
    ("code", "%matplotlib inline\n!pip install torch\nimport torch\nimport torch.nn as nn"),
    ("code", "%%bash\necho nn.Sigmoid nn.Sigmoid nn.Sigmoid nn.Sigmoid nn.Sigmoid"),
    (
        "code",
        "class Block(nn.Module):\n"
        "    def __init__(self):\n"
        "        super().__init__()\n"
        "        self.f = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid())\n"
        "\n"
        "    def forward(self, x):\n"
        "        return self.f(x)",
    ),
    ("markdown", "Stack two of them:"),
    (
        "code",
        "files = !ls\nnet?\nfor _ in range(2):\n    %time pass\n"
        "# the stack\nnet = nn.Sequential(Block(), Block(), nn.Sigmoid())",
    ),
)


@pytest.fixture
def nb(tmp_path: Path) -> Path:
    path = tmp_path / "train.ipynb"
    path.write_text(notebook(*CELLS))
    return path


def test_magics_are_skipped_and_lines_kept() -> None:
    source = notebook_source(notebook(*CELLS))
    assert [(s.cell, s.line_count) for s in source.cells] == [(2, 4), (4, 7), (6, 6)]
    lines = source.text.splitlines()
    assert lines[:2] == ["pass", "pass"]  # %matplotlib, !pip
    assert "echo" not in source.text  # the %%bash cell is left out whole
    assert lines[11:15] == ["pass", "pass", "for _ in range(2):", "    pass"]
    assert source.locate(12) == (6, 1)
    assert source.locate(5) == (4, 1)
    compile(source.text, "nb", "exec")


def test_finding_in_cell_coordinates_across_cells(nb: Path) -> None:
    (finding,) = lint_paths([nb]).findings
    assert finding.code == "GCK001"
    assert finding.depth == 5  # two Blocks (cell 4) and a sigmoid (cell 6)
    assert (finding.cell, finding.line) == (4, 4)  # the class is where the stack starts
    assert finding.path == str(nb)
    cells = {r.cell for r in finding.related}
    assert cells == {4, 6}
    last = max(finding.related, key=lambda r: (r.cell, r.line))
    assert (last.cell, last.line) == (6, 6)


def test_every_format_names_the_cell(
    nb: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(nb.parent)
    main(["lint", "--no-cache", "--format", "concise", "train.ipynb"])
    out = capsys.readouterr().out
    assert re.match(r"train\.ipynb:cell 4:4:\d+: GCK001 ", out)

    main(["lint", "--no-cache", "--format", "json", "train.ipynb"])
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    assert (data["findings"][0]["cell"], data["findings"][0]["line"]) == (4, 4)

    main(["lint", "--no-cache", "--format", "github", "train.ipynb"])
    out = capsys.readouterr().out
    assert out.startswith("::warning file=train.ipynb,line=1,endLine=1,title=GCK001::")  # JSON
    assert "::train.ipynb%3Acell 4%3A4%3A" not in out  # the message part is not escaped so
    assert "::train.ipynb:cell 4:4:" in out

    main(["lint", "--no-cache", "--format", "sarif", "train.ipynb"])
    result = json.loads(capsys.readouterr().out)["runs"][0]["results"][0]
    region = result["locations"][0]["physicalLocation"]["region"]
    assert (region["startLine"], region["properties"]["cell"]) == (1, 4)  # one-line JSON
    assert result["message"]["text"].startswith("cell 4, line 4: ")

    main(["lint", "--no-cache", "train.ipynb"])  # full: header and the cell's own code frame
    out = capsys.readouterr().out
    assert "train.ipynb:cell 4:4:" in out
    assert "self.f = nn.Sequential(nn.Linear(8, 8), nn.Sigmoid()" in out
    assert '"cell_type"' not in out


def test_directories_include_notebooks_and_noqa_works(tmp_path: Path) -> None:
    cells = list(CELLS)
    cells[5] = ("code", "net = nn.Sequential(Block(), Block(), nn.Sigmoid())")
    (tmp_path / "a.ipynb").write_text(notebook(*cells))
    quiet = list(CELLS)
    quiet[3] = ("code", CELLS[3][1].replace("nn.Sigmoid())\n", "nn.Sigmoid())  # noqa: GCK001\n"))
    (tmp_path / "b.ipynb").write_text(notebook(*quiet))
    result = lint_paths([tmp_path])
    assert result.files_checked == 2
    assert [Path(f.path).name for f in result.findings] == ["a.ipynb"]


def test_broken_notebooks_are_errors_not_crashes(tmp_path: Path) -> None:
    (tmp_path / "json.ipynb").write_text("{not json")
    (tmp_path / "shape.ipynb").write_text('{"cells": 3}')
    (tmp_path / "syntax.ipynb").write_text(
        notebook(("code", "x = 1"), ("markdown", "m"), ("code", "y = 1\ndef f(:\n  pass"))
    )
    (tmp_path / "r.ipynb").write_text(notebook(("code", "x <- sigmoid(1)"), language="R"))
    result = lint_paths([tmp_path])
    messages = {Path(e.path).name: e.message for e in result.errors}
    assert set(messages) == {"json.ipynb", "shape.ipynb", "syntax.ipynb"}
    assert "invalid JSON" in messages["json.ipynb"]
    assert messages["syntax.ipynb"].startswith("syntax error in cell 3 at 2:")


INDENTED_MAGICS = (
    ("code", " ! pip install x\nimport torch\nimport torch.nn as nn\n  %matplotlib inline"),
    (
        "code",
        "if torch.cuda.is_available():\n    !nvidia-smi\n    files = !ls\nelse:\n"
        "    %env CUDA=0\n    nn?\n"
        'width = ("%d"\n    % 8)\ntext = """\n%s\n"""',
    ),
    (
        "code",
        "net = nn.Sequential(\n"
        "    nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid(),\n"
        "    nn.Linear(8, 8), nn.Sigmoid(), nn.Linear(8, 8), nn.Sigmoid(),\n"
        "    nn.Linear(8, 8), nn.Sigmoid(),\n"
        ")",
    ),
)


def test_magics_indented_by_spaces_keep_the_notebook(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = notebook_source(notebook(*INDENTED_MAGICS))
    lines = source.text.splitlines()
    assert lines[:4] == ["pass", "import torch", "import torch.nn as nn", "pass"]
    assert lines[4:10] == [
        "if torch.cuda.is_available():",
        "    pass",
        "    pass",
        "else:",
        "    pass",
        "    pass",
    ]
    assert lines[11] == "    % 8)"  # inside brackets: Python, not a magic
    assert lines[13] == "%s"  # inside a string
    assert len(lines) == 4 + 11 + 5  # line numbers kept
    compile(source.text, "nb", "exec")
    monkeypatch.chdir(tmp_path)
    Path("magics.ipynb").write_text(notebook(*INDENTED_MAGICS))
    assert main(["lint", "--no-cache", "--format", "concise", "magics.ipynb"]) == 1
    out = capsys.readouterr().out
    assert re.match(r"magics\.ipynb:cell 3:2:\d+: GCK001 ", out), out
    assert "error" not in out


def test_ipynb_checkpoints_are_excluded_by_default(tmp_path: Path) -> None:
    (tmp_path / "nb.ipynb").write_text(notebook(*CELLS))
    checkpoints = tmp_path / ".ipynb_checkpoints"
    checkpoints.mkdir()
    (checkpoints / "nb-checkpoint.ipynb").write_text(notebook(*CELLS))
    (checkpoints / "model-checkpoint.py").write_text("import torch\n")
    result = lint_paths([tmp_path])
    assert result.files_checked == 1
    assert [Path(f.path).name for f in result.findings] == ["nb.ipynb"]


def test_sarif_and_github_point_at_the_notebooks_json_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    data = json.loads(notebook(*CELLS))
    data["cells"][5]["source"] = "".join(data["cells"][5]["source"])  # one string, not a list
    text = json.dumps(data, indent=1)  # as Jupyter writes it: one source line per JSON line
    (tmp_path / "train.ipynb").write_text(text)
    raw = text.splitlines()
    block = next(i for i, line in enumerate(raw, 1) if "self.f = nn.Sequential" in line)
    last = next(i for i, line in enumerate(raw, 1) if "net = nn.Sequential(Block()" in line)
    assert raw[block - 4].strip() == '"class Block(nn.Module):\\n",'
    monkeypatch.chdir(tmp_path)

    main(["lint", "--no-cache", "--format", "sarif", "train.ipynb"])
    log = json.loads(capsys.readouterr().out)
    schema = json.loads(
        (Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json").read_text()
    )
    validator = jsonschema.validators.validator_for(schema)(schema)
    assert not list(validator.iter_errors(log))
    (result,) = log["runs"][0]["results"]
    region = result["locations"][0]["physicalLocation"]["region"]
    end = block + 3  # the stack runs into cell 6: the span ends with cell 4's last line
    assert region == {"startLine": block, "endLine": end, "properties": {"cell": 4}}
    assert result["message"]["text"].startswith("cell 4, line 4: ")
    related = [r["physicalLocation"]["region"] for r in result["relatedLocations"]]
    assert {r["startLine"] for r in related if r["properties"]["cell"] == 6} == {last}
    assert all("startColumn" not in r for r in related)
    assert "fixes" not in result

    main(["lint", "--no-cache", "--format", "github", "train.ipynb"])
    out = capsys.readouterr().out
    assert out.startswith(f"::warning file=train.ipynb,line={block},endLine={end},title=GCK001::")
    assert "::train.ipynb:cell 4:4:" in out  # the cell and its line stay in the message

    main(["lint", "--no-cache", "--format", "json", "train.ipynb"])
    finding = json.loads(capsys.readouterr().out)["findings"][0]
    assert (finding["cell"], finding["line"]) == (4, 4)

    broken = json.loads(notebook(("code", "x = 1"), ("code", "y = 1\ndef f(:\n  pass")))
    text = json.dumps(broken, indent=1)
    (tmp_path / "broken.ipynb").write_text(text)
    at = next(i for i, line in enumerate(text.splitlines(), 1) if "def f(:" in line)
    main(["lint", "--no-cache", "--format", "github", "broken.ipynb"])
    assert capsys.readouterr().out.startswith(
        f"::error file=broken.ipynb,title=gradcheck-kit,line={at}::"
    )


def test_unreadable_notebook_keeps_cell_coordinates(tmp_path: Path) -> None:
    from gradcheck_kit.report.findings import Finding
    from gradcheck_kit.report.formats import github_command
    from gradcheck_kit.report.source import notebook_line

    finding = Finding("GCK001", "n", "m", str(tmp_path / "gone.ipynb"), 4, 2, 4, 9, cell=3)
    assert github_command(finding).startswith("::warning file=")
    assert ",line=4,endLine=4,col=2,endColumn=9," in github_command(finding)
    (tmp_path / "odd.ipynb").write_text('{"cells": [{"source": 3}, "x", {"source": ["a\\nb"]}]}')
    assert notebook_line(str(tmp_path / "odd.ipynb"), 1, 1) is None
    assert notebook_line(str(tmp_path / "odd.ipynb"), 3, 2) == 1
    (tmp_path / "bad.ipynb").write_text('{"cells": [{"source": ["a"')
    assert notebook_line(str(tmp_path / "bad.ipynb"), 1, 1) is None
