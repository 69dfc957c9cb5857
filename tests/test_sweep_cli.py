"""``gradcheck-kit sweep``: exit codes, formats, --report files, usage errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit.cli import main  # noqa: E402
from gradcheck_kit.commands.sweep import parse_depth_range  # noqa: E402
from gradcheck_kit.report import sweep_plot  # noqa: E402
from gradcheck_kit.runtime.targets import UsageError  # noqa: E402

MODELS = Path(__file__).with_name("runtime_models.py")
FAST = ["--seeds", "2", "--seed", "0", "--input-shape", "8,16"]


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_healthy_model_exits_0(capsys):
    code = main(["sweep", f"{MODELS}:he_relu", "--depths", "2:20:6", *FAST])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "PASSED" in out and "depth sweep" in out


def test_bound_crossed_in_range_exits_1_with_json(capsys):
    code = main(
        ["sweep", "runtime_models:tanh_mlp", "--depths", "2:16:2", "--format", "json", *FAST]
    )
    assert code == 1
    data = json.loads(capsys.readouterr().out)
    assert data["kind"] == "sweep" and data["passed"] is False
    assert data["max_safe_depth"] < 16
    assert data["depths"] == list(range(2, 17, 2))
    assert data["seeds"] == 2


def test_crossing_beyond_the_range_is_not_a_failure(capsys):
    # tanh at 0.56 per layer crosses 1e-3 near depth 12: sweeping 2..8 extrapolates it
    code = main(["sweep", f"{MODELS}:tanh_mlp", "--depths", "2:8", "--format", "json", *FAST])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert data["max_safe_depth"] > 8 and data["max_safe_depth_extrapolated"] is True


def test_vanish_flag(capsys):
    args = ["sweep", f"{MODELS}:tanh_mlp", "--depths", "2:8", "--format", "json", *FAST]
    assert main([*args, "--vanish", "0.1"]) == 1
    assert json.loads(capsys.readouterr().out)["bounds"]["vanish"] == 0.1


def test_broken_model_exits_1(capsys):
    code = main(["sweep", f"{MODELS}:LogOfNegatives", "--depths", "2:4", *FAST])
    assert code == 1
    assert "FAILED" in capsys.readouterr().out


def test_quiet_prints_only_failures(capsys):
    assert main(["sweep", f"{MODELS}:he_relu", "--depths", "2:8:3", "-q", *FAST]) == 0
    assert capsys.readouterr().out == ""
    assert main(["sweep", f"{MODELS}:sigmoid_mlp", "--depths", "2:8:3", "-q", *FAST]) == 1
    assert capsys.readouterr().out.startswith("depth sweep FAILED")


def test_output_file(tmp_path):
    out = tmp_path / "sweep.txt"
    args = ["sweep", f"{MODELS}:tanh_mlp", "--depths", "2:8:2", "--output-file", str(out)]
    assert main([*args, *FAST]) == 0
    text = out.read_text()
    assert "depth sweep" in text and "\x1b[" not in text


@pytest.mark.parametrize("suffix", [".json", ".md", ".html", ".svg"])
def test_report_files(tmp_path, suffix, capsys):
    path = tmp_path / f"sweep{suffix}"
    args = ["sweep", f"{MODELS}:tanh_mlp", "--depths", "2:8:2", "--report", str(path), *FAST]
    assert main(args) == 0
    text = path.read_text()
    if suffix == ".json":  # the shared export envelope
        assert json.loads(text)["sweeps"][0]["kind"] == "sweep"
    elif suffix == ".md":
        assert "### Depth sweep" in text and "| depth (cpu/float32) |" in text
        image = tmp_path / "sweep.md.svg"
        assert image.exists() == sweep_plot.available()
        assert ("![" in text) == sweep_plot.available()
    elif suffix == ".html":
        assert "<html" in text.lower() and "depth sweep" in text
    else:
        assert "<svg" in text


def test_png_without_matplotlib_is_a_warning_not_an_error(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep_plot, "available", lambda: False)
    path = tmp_path / "sweep.png"
    args = ["sweep", f"{MODELS}:tanh_mlp", "--depths", "2:6:2", "--report", str(path), *FAST]
    assert main(args) == 0
    assert not path.exists()
    assert "matplotlib" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--depths", "8:2"], "LO <= HI"),
        (["--depths", "a:b"], "LO:HI[:STEP]"),
        (["--depths", "2:8:0"], "STEP >= 1"),
        (["--seeds", "0"], "at least 1"),
        (["--report", "out.pdf"], "unknown suffix"),
        (["--vanish", "2"], "vanish"),
        (["--input-shape", "x"], "input shape"),
    ],
)
def test_usage_errors_exit_2(extra, words, capsys):
    code = main(["sweep", f"{MODELS}:he_relu", "--seeds", "2", "--input-shape", "8,16", *extra])
    assert code == 2
    assert words in capsys.readouterr().err


@pytest.mark.parametrize(
    ("target", "words"),
    [
        ("no_colon", "expected package.module:factory"),
        ("missing_file.py:f", "no such file"),
        (f"{MODELS}:nothing_here", "has no attribute"),
    ],
)
def test_bad_targets_exit_2(target, words, capsys):
    assert main(["sweep", target, "--depths", "2:4"]) == 2
    assert words in capsys.readouterr().err


def test_uninferable_input_exits_2(capsys):
    assert main(["sweep", f"{MODELS}:no_params", "--depths", "2:4"]) == 2
    assert "input" in capsys.readouterr().err


def test_parse_depth_range():
    assert parse_depth_range("2:64:2") == list(range(2, 65, 2))
    assert parse_depth_range("3:5") == [3, 4, 5]
    assert parse_depth_range("16") == [16]
    assert parse_depth_range("8,2,4,4") == [2, 4, 8]
    with pytest.raises(UsageError):
        parse_depth_range("0:4")
