"""The project-aware prefilter (``lint/prefilter.py``): a model file whose activation arrives from
a caller as a string, mapped by a table in another module, names no saturating activation - it is
interpreted all the same, a single-file run sees it too, and the cache re-lints it when the
caller or the table changes."""

from __future__ import annotations

import ast
import os
import shutil
import time
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint import callindex, engine, prefilter, project
from gradcheck_kit.lint.engine import lint_paths

PROJECTS = Path(__file__).resolve().parent.parent / "projects"


def _copy(tmp_path: Path, name: str = "string_act_deep") -> Path:
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    return target


def _write(path: Path, text: str) -> None:
    """Write ``text``, with a modification time no earlier run can have recorded."""
    path.write_text(text)
    later = time.time() + 5
    os.utime(path, (later, later))


def _linted(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    real = engine.lint_bytes

    def spy(data: bytes, display: str, config: Config, *rest):  # type: ignore[no-untyped-def]
        seen.append(Path(display).name)
        return real(data, display, config, *rest)

    monkeypatch.setattr(engine, "lint_bytes", spy)
    return seen


def _found(result: object) -> list[tuple[str, str, int | None]]:
    return [(f.code, Path(f.path).name, f.depth) for f in result.findings]  # type: ignore[attr-defined]


def _reached(path: Path) -> bool:
    """The prefilter's verdict now (a new run: nothing remembered from the last)."""
    prefilter.forget()
    callindex.forget()
    project.forget()
    text = path.read_text()
    return prefilter.reached(ast.parse(text), text, str(path))


def test_the_model_file_names_no_saturating_activation() -> None:
    """What the fixture is about: the token prefilter alone would skip the model file."""
    text = (PROJECTS / "string_act_deep" / "pkg" / "models.py").read_text().lower()
    assert not any(word in text for word in prefilter.SATURATING_WORDS)


def test_a_caller_and_a_table_both_needed(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    models = project / "pkg" / "models.py"
    assert _reached(models)
    # the table no longer names a saturating activation: no way for one to reach the file
    utils = project / "pkg" / "utils.py"
    utils.write_text(
        utils.read_text().replace('"sigmoid": nn.Sigmoid, ', "").replace('"tanh": nn.Tanh, ', "")
    )
    assert not _reached(models)
    shutil.copy(PROJECTS / "string_act_deep" / "pkg" / "utils.py", utils)
    # no caller passes one (a saturating word elsewhere in the caller, unrelated to the call,
    # does not count)
    train = project / "train.py"
    train.write_text(
        "import torch\n\nfrom pkg import FNN\n\nnet = FNN([2] + [50] * 8 + [1], 'relu')\n"
        "gate = torch.sigmoid(torch.zeros(2))\n"
    )
    assert not _reached(models)
    # a call of another class of the same name, with a saturating name, is not this file's
    (project / "other.py").write_text(
        "class FNN:\n    def __init__(self, sizes, act):\n        pass\n"
    )
    (project / "run.py").write_text("from other import FNN\n\nnet = FNN([2, 8, 1], 'sigmoid')\n")
    assert not _reached(models)
    (project / "run.py").write_text("from pkg import FNN\n\nnet = FNN([2, 8, 1], 'sigmoid')\n")
    assert _reached(models)


def test_a_computed_getattr_maps_a_callers_string_by_itself(tmp_path: Path) -> None:
    """``getattr(nn, name)()``: torch maps ``"Tanh"``; no project module needs to."""
    project = _copy(tmp_path)
    models = project / "pkg" / "models.py"
    text = models.read_text()
    text = text.replace("from .utils import get_activation\n", "")
    text = text.replace("get_activation(activation)", "getattr(nn, activation)()")
    models.write_text(text)
    train = project / "train.py"
    train.write_text(train.read_text().replace('"sigmoid"', '"Sigmoid"'))
    assert _reached(models)
    assert _found(lint_paths([models], Config())) == [("GCK001", "models.py", 8)]


def test_the_activation_name_from_an_argparse_default_in_the_caller(tmp_path: Path) -> None:
    project = _copy(tmp_path)
    (project / "train.py").write_text(
        "import argparse\n\nfrom pkg import FNN\n\n"
        "parser = argparse.ArgumentParser()\n"
        'parser.add_argument("--activation", default="sigmoid")\n'
        'parser.add_argument("--depth", type=int, default=8)\n\n\n'
        "def main():\n"
        "    args = parser.parse_args()\n"
        "    return FNN([2] + [50] * 8 + [1], args.activation)\n"
    )
    models = project / "pkg" / "models.py"
    assert _reached(models)
    (finding,) = lint_paths([models], Config()).findings
    assert (finding.code, finding.depth) == ("GCK001", 8)
    assert "--activation default 'sigmoid' at train.py:6" in (finding.depth_source or "")


def test_editing_the_caller_relints_the_model_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy(tmp_path)
    cache = tmp_path / "cache"
    train = project / "train.py"
    _write(train, train.read_text().replace('"sigmoid"', '"relu"'))
    cold = lint_paths([project], Config(), cache_dir=cache)
    assert _found(cold) == []  # the caller passes "relu": nothing to find
    seen = _linted(monkeypatch)
    assert lint_paths([project], Config(), cache_dir=cache).findings == []
    assert seen == []  # warm: every file a cache hit
    _write(train, train.read_text().replace('"relu"', '"sigmoid"'))
    edited = lint_paths([project], Config(), cache_dir=cache)
    assert sorted(seen) == ["models.py", "train.py"]  # the model file failed on the caller
    assert _found(edited) == [("GCK001", "models.py", 8)]
    seen.clear()
    _write(train, train.read_text().replace('"sigmoid"', '"relu"'))
    assert lint_paths([project], Config(), cache_dir=cache).findings == []
    assert sorted(seen) == ["models.py", "train.py"]


def test_editing_the_table_relints_the_model_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy(tmp_path)
    cache = tmp_path / "cache"
    assert _found(lint_paths([project], Config(), cache_dir=cache)) == [("GCK001", "models.py", 8)]
    seen = _linted(monkeypatch)
    utils = project / "pkg" / "utils.py"
    _write(utils, utils.read_text().replace("nn.Sigmoid", "nn.ReLU"))
    assert lint_paths([project], Config(), cache_dir=cache).findings == []
    assert {"models.py", "utils.py"} <= set(seen)  # (train.py read utils.py too, through FNN)


def test_a_single_file_run_with_a_cache_sees_the_same(tmp_path: Path) -> None:
    """As pre-commit runs it: the model file alone, with a cache, cold then warm."""
    project = _copy(tmp_path)
    models = project / "pkg" / "models.py"
    cache = tmp_path / "cache"
    whole = lint_paths([project], Config()).findings
    for _ in range(2):
        assert lint_paths([models], Config(), cache_dir=cache).findings == whole
