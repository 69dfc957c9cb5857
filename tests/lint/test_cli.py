"""The ``gradcheck-kit lint`` / ``rule`` command line, run in-process and as a real process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"
GOOD = "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "bad.py").write_text(BAD)
    (tmp_path / "good.py").write_text(GOOD)
    return tmp_path


def test_exit_codes(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(project / "good.py")]) == 0
    assert main(["lint", str(project)]) == 1
    assert main(["lint", "--exit-zero", str(project)]) == 0
    assert main(["lint", "--select", "GCK999", str(project)]) == 2
    assert "unknown rule code" in capsys.readouterr().err
    assert main(["lint", "--no-such-flag"]) == 2


def test_json_format(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lint", "--format", "json", str(project)])
    data = json.loads(capsys.readouterr().out)
    assert data["files_checked"] == 2
    assert data["errors"] == []
    (finding,) = data["findings"]
    assert {
        "code", "name", "message", "path", "line", "column", "end_line", "end_column",
        "severity", "depth", "activations", "symbol",
    } <= set(finding)  # fmt: skip
    assert finding["code"] == "GCK001"
    assert finding["depth"] == 5
    assert finding["activations"] == ["sigmoid"]
    assert finding["line"] == 2


def test_concise_and_statistics(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lint", "--format", "concise", str(project)])
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith(f"{project / 'bad.py'}:2:")
    assert " GCK001 " in out[0]
    main(["lint", "--format", "concise", "--statistics", str(project)])
    out = capsys.readouterr().out.splitlines()  # as ruff: the counts replace the findings
    assert out[0].split("\t") == ["1", "GCK001", "saturating-stack"]


def test_full_format_shows_a_code_frame(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    main(["lint", str(project)])
    out = capsys.readouterr().out
    assert "GCK001" in out
    assert "nn.Sequential(*[nn.Sigmoid()" in out
    assert "Found 1 finding" in out


def test_output_file_is_written(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    target = project / "out" / "report.json"
    assert main(["lint", "--format", "json", "--output-file", str(target), str(project)]) == 1
    assert json.loads(target.read_text())["findings"][0]["code"] == "GCK001"
    assert capsys.readouterr().out == ""


def test_unreadable_files_are_errors_and_the_rest_is_linted(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "broken.py").write_bytes(b"def f(:\n    pass\n")
    (project / "latin.py").write_bytes(b"x = '\xe9'\n")
    (project / "binary.py").write_bytes(b"\x00\x01\x02")
    assert main(["lint", "--format", "json", str(project)]) == 1
    data = json.loads(capsys.readouterr().out)
    errors = {Path(e["path"]).name: e["message"] for e in data["errors"]}
    assert set(errors) == {"broken.py", "latin.py", "binary.py"}
    assert "syntax error" in errors["broken.py"]
    assert "decode" in errors["latin.py"]
    assert [Path(f["path"]).name for f in data["findings"]] == ["bad.py"]


def test_pep263_coding_line_is_honoured(tmp_path: Path) -> None:
    src = "# -*- coding: latin-1 -*-\n# caf\xe9\n" + BAD
    (tmp_path / "m.py").write_bytes(src.encode("latin-1"))
    assert main(["lint", "--exit-zero", str(tmp_path)]) == 0
    assert main(["lint", str(tmp_path)]) == 1


def test_missing_path_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", "--format", "concise", str(tmp_path / "nope.py")]) == 1
    assert "nope.py" in capsys.readouterr().out


def test_pyproject_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [tool.gradcheck-kit]
            max-saturating-depth = 5
            exclude = ["generated"]
            per-file-ignores = {"legacy/*" = ["GCK001"]}
            """
        )
    )
    (tmp_path / "generated").mkdir()
    (tmp_path / "generated" / "x.py").write_text(BAD.replace("5", "9"))
    (tmp_path / "legacy").mkdir()
    (tmp_path / "legacy" / "old.py").write_text(BAD.replace("5", "9"))
    (tmp_path / "five.py").write_text(BAD)
    (tmp_path / "six.py").write_text(BAD.replace("5", "6"))
    assert main(["lint", "--format", "json", str(tmp_path)]) == 1
    data = json.loads(capsys.readouterr().out)
    assert [Path(f["path"]).name for f in data["findings"]] == ["six.py"]
    assert main(["lint", "--max-saturating-depth", "6", str(tmp_path)]) == 0


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('max-saturating-depth = "deep"', "max-saturating-depth"),
        ("no-such-key = 1", "unknown key 'no-such-key'"),
        ('select = "GCK001"\nignore = [1]', "ignore"),
    ],
)
def test_bad_config_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, message: str
) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.gradcheck-kit]\n{table}\n")
    (tmp_path / "m.py").write_text(GOOD)
    assert main(["lint", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_rule_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rule"]) == 0
    listing = capsys.readouterr().out
    assert "GCK001" in listing and "GCK002" in listing
    assert main(["rule", "GCK001", "--format", "markdown"]) == 0
    assert capsys.readouterr().out.startswith("# GCK001 saturating-stack")
    assert main(["rule", "gck001"]) == 0
    assert "Why is this bad?" in capsys.readouterr().out
    assert main(["rule", "GCK999"]) == 2


def test_module_entry_point_and_no_heavy_imports(project: Path) -> None:
    code = (
        f"import sys, runpy; sys.argv = ['gradcheck-kit', 'lint', '--exit-zero', {str(project)!r}];"
        "\ntry:\n    runpy.run_module('gradcheck_kit', run_name='__main__')\n"
        "except SystemExit as e:\n    assert e.code == 0, e.code\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'hypothesis', 'numpy'))\n"
        "assert not heavy, heavy\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "GCK001" in proc.stdout


def test_console_script(project: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "gradcheck_kit", "lint", "--format", "concise", str(project)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert "GCK001" in proc.stdout


def test_report_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for suffix in (".html", ".svg", ".md", ".json"):
        out = project / f"lint{suffix}"
        assert main(["lint", "--report", str(out), str(project)]) == 1
        assert "GCK001" in out.read_text()
    assert main(["lint", "--report", str(project / "lint.txt"), str(project)]) == 2
    assert "--report" in capsys.readouterr().err
