"""Exit codes 0 clean / 1 findings or failed checks / 2 usage, config or internal error, the same
for every command; nothing bypasses the gate, one bad target loses nothing (issue 20: 2, 4, 4b,
12)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

REPO = Path(__file__).resolve().parents[1]

MODELS = """
import torch.nn as nn

def make(depth):
    return nn.Sequential(*[nn.Linear(8, 8) for _ in range(depth)])

def no_depth():
    return nn.Linear(8, 8)
"""

GOOD = """
[[tool.gradcheck-kit.check]]
target = "models.py:make"
depths = "2:3"
max-examples = 2
input-shape = [4, 8]
seed = 1
"""


def _project(tmp_path: Path, pyproject: str, **files: str) -> Path:
    (tmp_path / "pyproject.toml").write_text(textwrap.dedent(pyproject))
    (tmp_path / "models.py").write_text(MODELS)
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


# -- 2: one bad target does not sink the others ---------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "full"])
def test_check_reports_a_broken_target_as_error_and_runs_the_others(
    tmp_path, monkeypatch, capsys, fmt
):
    pytest.importorskip("torch")
    pytest.importorskip("hypothesis")
    pyproject = (
        GOOD
        + """
[[tool.gradcheck-kit.check]]
target = "boom.py:make"

[[tool.gradcheck-kit.check]]
target = "optional.py:make"
"""
    )
    _project(
        tmp_path,
        pyproject,
        **{
            "boom.py": "raise RuntimeError('boom at import')\n",
            "optional.py": "import not_a_real_package_gck20\n",
        },
    )
    monkeypatch.chdir(tmp_path)
    code = main(["check", "--format", fmt])
    out, err = capsys.readouterr()
    assert code == 1
    assert "boom at import" in err
    if fmt == "json":
        data = {entry["target"]: entry for entry in json.loads(out)}
        assert data["models.py:make"]["status"] == "passed"
        assert data["models.py:make"]["passed"] is True
        assert data["boom.py:make"]["status"] == "error"
        assert "boom at import" in data["boom.py:make"]["error"]
        # a missing optional package of the model is a skip, as audit has it
        assert data["optional.py:make"]["status"] == "skipped"
        assert "not_a_real_package_gck20" in data["optional.py:make"]["skipped"]
    else:
        assert "PASSED" in out and "boom at import" in out
        assert "not_a_real_package_gck20" in out
        assert "1 passed, 0 failed, 1 error, 1 skipped" in out


def test_check_only_a_missing_optional_package_is_a_skip_exit_0(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("hypothesis")
    pyproject = GOOD + '\n[[tool.gradcheck-kit.check]]\ntarget = "optional.py:make"\n'
    _project(tmp_path, pyproject, **{"optional.py": "import not_a_real_package_gck20\n"})
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "json"]) == 0
    statuses = [entry["status"] for entry in json.loads(capsys.readouterr().out)]
    assert statuses == ["passed", "skipped"]


# -- 4: the same exit codes for every command -----------------------------------------------


def test_audit_exits_2_on_a_bad_key_inside_a_check_table(tmp_path, monkeypatch, capsys):
    pytest.importorskip("torch")
    pytest.importorskip("hypothesis")
    _project(tmp_path, GOOD.replace("max-examples", "max-exampels"))
    monkeypatch.chdir(tmp_path)
    for command in (["audit", "models.py"], ["check"]):
        assert main(command) == 2, command
        err = capsys.readouterr().err
        assert "max-exampels" in err and "did you mean 'max-examples'" in err
        assert "pyproject.toml" in err


def test_audit_exits_2_on_a_bad_key_in_a_checks_file(tmp_path, monkeypatch, capsys):
    _project(tmp_path, "")
    (tmp_path / "checks.toml").write_text('[[check]]\ntarget = "models.py:make"\ndepht = 4\n')
    monkeypatch.chdir(tmp_path)
    assert main(["audit", "models.py", "--checks", "checks.toml"]) == 2
    err = capsys.readouterr().err
    assert "checks.toml" in err and "did you mean 'depths'" in err


@pytest.mark.parametrize("command", ["check", "audit", "sweep"])
def test_factory_arity_error_is_a_usage_error_naming_the_target(
    tmp_path, monkeypatch, capsys, command
):
    pytest.importorskip("torch")
    pytest.importorskip("hypothesis")
    _project(tmp_path, GOOD.replace("models.py:make", "models.py:no_depth"))
    monkeypatch.chdir(tmp_path)
    argv = {
        "check": ["check"],
        "audit": ["audit", "models.py", "--format", "json"],  # the table folds long names
        "sweep": ["sweep", "models.py:no_depth", "--depths", "2:3", "--seeds", "1"],
    }[command]
    assert main(argv) == 2
    out, err = capsys.readouterr()
    assert "models.py:no_depth" in out + err
    assert "factory(depth)" in out + err


# -- 4b: fail closed without the runtime extra; an empty run is not a PASS -------------------

_BLOCK_TORCH = """
import sys
class _Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "hypothesis"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Block())
from gradcheck_kit.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _run_without_torch(cwd: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", _BLOCK_TORCH, *argv],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_audit_without_the_runtime_extra_fails_closed(tmp_path):
    _project(tmp_path, GOOD)
    result = _run_without_torch(tmp_path, "audit", "models.py")
    assert result.returncode == 2, result.stdout + result.stderr
    assert "pip install torch hypothesis" in result.stderr
    assert "--no-runtime" in result.stderr
    assert "PASS" not in result.stdout
    # lint only is still possible without torch
    result = _run_without_torch(tmp_path, "audit", "models.py", "--no-runtime")
    assert result.returncode == 0, result.stdout + result.stderr


def test_audit_of_nothing_warns_and_does_not_pass(tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "pyproject.toml").write_text("[tool.gradcheck-kit]\n")
    monkeypatch.chdir(tmp_path)
    for fmt in ("full", "json", "markdown"):
        main(["audit", "empty", "--format", fmt])
        out, err = capsys.readouterr()
        assert "nothing was checked" in err
        if fmt == "json":
            data = json.loads(out)
            assert data["empty"] is True
            assert "nothing was checked" in data["verdict"]
        else:
            assert "PASS" not in out
            assert "NOTHING CHECKED" in out


# -- 12: config values are validated, naming the key and the file ---------------------------


def _bad_check(line: str) -> str:
    return f'[[tool.gradcheck-kit.check]]\ntarget = "models.py:make"\n{line}\n'


@pytest.mark.parametrize(
    ("pyproject", "key"),
    [
        ("tool = 5\n", "tool"),
        (_bad_check('seed = "x"'), "seed"),
        (_bad_check("seed = 1e400"), "seed"),
        (_bad_check('timeout = "x"'), "timeout"),
        (_bad_check("timeout = -1"), "timeout"),
        (_bad_check("max-examples = 2.5"), "max-examples"),
        (_bad_check("input-shape = [8.5]"), "input-shape"),
        (_bad_check('depths = "2:x"'), "depths"),
        ('[tool.gradcheck-kit.per-file-ignores]\n"a.py" = ["GCK999"]\n', "per-file-ignores"),
        ('[tool.gradcheck-kit]\nslect = ["GCK001"]\n', "slect"),
    ],
)
@pytest.mark.parametrize("command", ["check", "audit", "lint"])
def test_a_bad_config_value_is_exit_2_naming_key_and_file(
    tmp_path, monkeypatch, capsys, pyproject, key, command
):
    if command == "check":
        pytest.importorskip("torch")
        pytest.importorskip("hypothesis")
    _project(tmp_path, pyproject)
    monkeypatch.chdir(tmp_path)
    argv = {"check": ["check"], "audit": ["audit", "models.py"], "lint": ["lint", "models.py"]}
    assert main(argv[command]) == 2
    err = capsys.readouterr().err
    assert "internal error" not in err
    assert key in err
    assert "pyproject.toml" in err
    if key == "slect":
        assert "did you mean 'select'" in err


@pytest.mark.parametrize(
    "flag",
    [
        ["--input-shape", "16,x"],
        ["--timeout", "-1"],
        ["--timeout", "nan"],
        ["--max-examples", "0"],
        ["--seed", "-3"],
    ],
)
def test_a_bad_runtime_flag_is_exit_2_naming_the_flag(tmp_path, capsys, flag):
    assert main(["check", "models.py:make", *flag]) == 2
    assert f"argument {flag[0]}" in capsys.readouterr().err
