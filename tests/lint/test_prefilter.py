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
from gradcheck_kit.lint import callindex, prefilter, project
from gradcheck_kit.lint.engine import lint_paths
from tests.lint.spies import linted as _linted

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


THIRD_FILE = {
    "activations.py": (
        "import torch\n\n\ndef act_func(name):\n    if name == 'tanh':\n"
        "        return torch.nn.Tanh()\n    return torch.nn.ReLU()\n"
    ),
    "pinn.py": (
        "import torch\n\nfrom activations import act_func\n\n\n"
        "class PINN(torch.nn.Module):\n"
        "    def __init__(self, width, depth, act):\n"
        "        super().__init__()\n"
        "        self.layers = torch.nn.ModuleList(\n"
        "            [torch.nn.Linear(width, width) for _ in range(depth)]\n"
        "        )\n"
        "        self.activation = act_func(act)\n\n"
        "    def forward(self, z):\n"
        "        for layer in self.layers:\n"
        "            z = self.activation(layer(z))\n"
        "        return z\n"
    ),
    "parameters.py": (
        'width = 2 ** 6\ndepth = 6\nact = "tanh"\n\n\ndef params():\n'
        '    print("settings")\n    return width, depth, act\n'
    ),
    "main.py": (
        "from parameters import params\nfrom pinn import PINN\n\n"
        "width, depth, act = params()\nmodel = PINN(width, depth, act)\n"
    ),
}


def test_the_activation_name_in_a_third_file(tmp_path: Path) -> None:
    """Neither the model file nor its caller names a saturating activation: the caller passes
    ``act``, which a settings module it imports sets to ``"tanh"`` (real PINN code); editing
    that module re-lints the model file."""
    (tmp_path / "pyproject.toml").write_text("")
    for name, text in THIRD_FILE.items():
        (tmp_path / name).write_text(text)
    assert _reached(tmp_path / "pinn.py")
    cache = tmp_path / "cache"
    found = lint_paths([tmp_path], Config(max_saturating_depth=3), cache_dir=cache)
    assert _found(found) == [("GCK001", "pinn.py", 6)]
    assert "act = 'tanh' at parameters.py:3 (returned by params())" in found.findings[0].message
    _write(tmp_path / "parameters.py", THIRD_FILE["parameters.py"].replace('"tanh"', '"relu"'))
    assert _found(lint_paths([tmp_path], Config(max_saturating_depth=3), cache_dir=cache)) == []
    assert not _reached(tmp_path / "pinn.py")


INIT_MODEL = """\
import torch.nn as nn

from utils import init_weights


class MLP(nn.Module):
    def __init__(self, width=128, depth=12):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), nn.Tanh()]
        self.net = nn.Sequential(*layers)
        self.head = nn.Linear(width, 1)
        HAND_ON

    def forward(self, x):
        return self.head(self.net(x))
"""

INIT_HELPER = """\
import torch.nn as nn


def init_weights(m):
    if isinstance(m, nn.Linear):
        nn.init.normal_(m.weight, mean=0.0, std=STD)
"""


@pytest.mark.parametrize(
    ("hand_on", "std", "expected"),
    [
        ("self.apply(init_weights)", "1.0", [("GCK006", "model.py", 13)]),
        (
            "for m in self.modules():\n            init_weights(m)",
            "1.0",
            [("GCK006", "model.py", 13)],
        ),
        ("self.apply(init_weights)", "0.05", []),  # variance-preserving at width 128: no alarm
    ],
)
def test_an_init_helper_in_another_module(
    tmp_path: Path, hand_on: str, std: str, expected: list[tuple[str, str, int | None]]
) -> None:
    """The model file names no ``nn.init`` call: its layers are initialised by a helper in
    ``utils.py`` (GCK006's words are there); the file is judged with that init all the same."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(INIT_MODEL.replace("HAND_ON", hand_on))
    (tmp_path / "utils.py").write_text(INIT_HELPER.replace("STD", std))
    assert _found(lint_paths([tmp_path], Config())) == expected


CONFIG_MODEL = """\
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, width, depth, act):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), getattr(nn, act)()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
"""

CONFIG_CALLER = """\
import yaml

from model import Net

with open("configs/run.yaml") as f:
    cfg = yaml.safe_load(f)

net = Net(cfg["model"]["width"], cfg["model"]["depth"], cfg["model"]["act"])
"""


def test_the_activation_named_in_a_config_file_the_caller_reads(tmp_path: Path) -> None:
    """Only the YAML the caller opens names the activation (``act: Tanh``); editing it to
    ``ReLU`` re-lints the model file."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(CONFIG_MODEL)
    (tmp_path / "train.py").write_text(CONFIG_CALLER)
    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "run.yaml"
    config.write_text("model:\n  width: 64\n  depth: 8\n  act: Tanh\n")
    cache = tmp_path / "cache"
    found = lint_paths([tmp_path], Config(max_saturating_depth=3), cache_dir=cache)
    assert _found(found) == [("GCK001", "model.py", 8)]
    _write(config, "model:\n  width: 64\n  depth: 8\n  act: ReLU\n")
    assert _found(lint_paths([tmp_path], Config(max_saturating_depth=3), cache_dir=cache)) == []


def test_options_passed_to_a_wrapper_reach_the_model_file(tmp_path: Path) -> None:
    """``get_model("cpu", args)`` in ``run.py`` passes options whose ``--activation`` defaults to
    ``"Sigmoid"``; ``builders.get_model`` builds the model file's ``MLP`` with
    ``args.activation``, mapped there by ``getattr(nn, act)``. A word elsewhere in a wrapper's
    caller (not an option's default) reaches nothing."""
    root = _copy(tmp_path, "wrapper_attr_deep")
    model = root / "nets" / "mlp.py"
    assert _reached(model)
    run = root / "run.py"
    text = run.read_text()
    _write(run, text.replace('default="Sigmoid"', 'default="ReLU"') + 'print("sigmoid", args)\n')
    assert not _reached(model)
