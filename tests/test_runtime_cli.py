"""``gradcheck-kit check``: both TARGET forms, pyproject tables, JSON, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit.cli import main

MODELS = Path(__file__).with_name("runtime_models.py")
FAST = ["--max-examples", "5", "--seed", "3", "--input-shape", "8,16"]


def test_file_target_passes_with_exit_0(capsys):
    code = main(["check", f"{MODELS}:he_relu", "--depths", "2:8", *FAST])
    assert code == 0
    assert "PASSED" in capsys.readouterr().out


def test_module_target_fails_with_exit_1_and_json(capsys):
    code = main(
        ["check", "runtime_models:sigmoid_mlp", "--depths", "2:16", "--format", "json", *FAST]
    )
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert isinstance(data, list) and len(data) == 1
    assert data[0]["target"] == "runtime_models:sigmoid_mlp"
    assert data[0]["failure"]["kind"] == "vanishing"


def test_output_file_is_written(tmp_path):
    out = tmp_path / "report.json"
    code = main(
        ["check", f"{MODELS}:tanh_mlp", "--format", "json", "--output-file", str(out), *FAST]
    )
    assert code == 1
    assert json.loads(out.read_text())[0]["passed"] is False


def test_vanish_flag_changes_the_bound(capsys):
    args = ["check", f"{MODELS}:tanh_mlp", "--depths", "4:4", "--format", "json", *FAST]
    assert main([*args, "--vanish", "1e-30"]) == 0
    capsys.readouterr()
    assert main([*args, "--vanish", "0.5"]) == 1


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no_colon", "expected package.module:factory"),
        ("missing_file.py:f", "no such file"),
        ("runtime_models:nope", "has no attribute"),
        ("no_such_module_xyz:f", "ModuleNotFoundError"),
    ],
)
def test_bad_targets_exit_2(target, words, capsys):
    assert main(["check", target, *FAST]) == 2
    assert words in capsys.readouterr().err


def test_bad_flags_exit_2(capsys):
    assert main(["check", f"{MODELS}:he_relu", "--depths", "8:2"]) == 2
    assert main(["check", f"{MODELS}:he_relu", "--dtype", "int8"]) == 2
    assert (
        main(["check", f"{MODELS}:token_model", "--input-shape", "4,6", "--input-dtype", "long"])
        == 2
    )
    err = capsys.readouterr().err
    assert "depths" in err and "dtype" in err and "vocab_size" in err


def test_cuda_without_gpu_exits_2(capsys, monkeypatch):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a GPU is present")
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    assert main(["check", f"{MODELS}:he_relu", "--device", "cuda", *FAST]) == 2
    assert "cuda" in capsys.readouterr().err


def test_no_target_runs_every_pyproject_table(tmp_path, monkeypatch, capsys):
    (tmp_path / "models.py").write_text(MODELS.read_text())
    (tmp_path / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [[tool.gradcheck-kit.check]]
            target = "models.py:he_relu"
            depths = "2:6"
            input-shape = [8, 16]
            max-examples = 4
            seed = 1

            [[tool.gradcheck-kit.check]]
            target = "models:token_model"
            depths = [2, 4]
            input-shape = "4,6"
            input-dtype = "long"
            vocab-size = 50
            max-examples = 4
            seed = 1
            """
        )
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["target"] for d in data] == ["models.py:he_relu", "models:token_model"]
    assert all(d["passed"] for d in data)


def test_no_target_and_no_tables_exit_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 2
    assert "no TARGET" in capsys.readouterr().err


def test_unknown_table_key_exits_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "pyproject.toml").write_text(
        '[[tool.gradcheck-kit.check]]\ntarget = "m.py:f"\ndepht = 3\n'
    )
    monkeypatch.chdir(tmp_path)
    assert main(["check"]) == 2
    assert "depht" in capsys.readouterr().err


def test_subprocess_exit_codes_and_missing_runtime_hint(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1])}
    run = subprocess.run(
        [sys.executable, "-m", "gradcheck_kit", "check", f"{MODELS}:sigmoid_mlp", *FAST],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 1, run.stderr
    assert "vanishing" in run.stdout
    # without torch importable, a clear hint and exit 2
    blocker = tmp_path / "torch.py"
    blocker.write_text("raise ImportError('no torch here', name='torch')\n")
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path), env["PYTHONPATH"]])
    run = subprocess.run(
        [sys.executable, "-m", "gradcheck_kit", "check", f"{MODELS}:he_relu"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert run.returncode == 2
    assert "pip install torch hypothesis" in run.stderr


def test_check_report_file(tmp_path: Path) -> None:
    """``check --report`` writes the report in the format its suffix names; a bad suffix is a
    usage error before anything runs."""
    from gradcheck_kit.cli import main

    target = f"{Path(__file__).with_name('runtime_models.py')}:sigmoid_mlp"
    out = tmp_path / "flow.md"
    code = main(["check", target, "--depths", "2:6", "--max-examples", "4", "--seed", "0",
                 "-q", "--report", str(out)])  # fmt: skip
    assert code == 1
    assert "vanishing" in out.read_text()
    assert main(["check", target, "--report", str(tmp_path / "flow.txt")]) == 2
