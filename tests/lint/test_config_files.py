"""Config files read by a literal path (issue 18, item 2): JSON, YAML, TOML, OmegaConf and Hydra
values passed to a model class in another file. Read, never executed: every file the linter
cannot read (invalid, binary, huge, missing, a symlink loop, a FIFO, outside the project) and
every value it cannot trust (a missing key, not a number, an interpolation, a config changed
after loading) leaves the depth unknown (GCK002) and the run going on."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.config_files import UNSURE, YamlSubsetError, parse_yaml
from gradcheck_kit.lint.engine import lint_paths
from tests.lint.spies import linted as _linted

PROJECTS = Path(__file__).resolve().parent.parent / "projects"

MODEL = (PROJECTS / "config_json_deep" / "model.py").read_text()


def _project(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "pyproject.toml").write_text("")
    (root / "model.py").write_text(MODEL)
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return root


def _lint(root: Path) -> list[tuple[str, str, int | None]]:
    result = lint_paths([root], Config())
    assert result.errors == []
    return [(f.code, Path(f.path).name, f.depth) for f in result.findings]


def _message(root: Path) -> str:
    (finding,) = lint_paths([root], Config()).findings
    return finding.message


JSON_CALLER = """import json

from model import GateNet

with open("configs/model.json") as f:
    cfg = json.load(f)

net = GateNet(32, n_layers=cfg["model"]["n_layers"])
"""
DEEP_JSON = '{"model": {"n_layers": 8}}'
UNKNOWN = [("GCK002", "model.py", None)]
DEEP = [("GCK001", "model.py", 8)]


def test_a_json_value_fixes_the_depth(tmp_path: Path) -> None:
    root = _project(tmp_path, {"train.py": JSON_CALLER, "configs/model.json": DEEP_JSON})
    assert _lint(root) == DEEP
    assert "n_layers = 8 from configs/model.json (model.n_layers)" in _message(root)


@pytest.mark.parametrize(
    "content",
    [
        b'{"model": {"n_layers": 8,}}',  # invalid JSON
        b"\x00\xff\xfe binary \x89PNG\r\n",  # binary
        b'{"model": {"n_layers": 8}}' + b" " * 2_000_000,  # 2 MB: over the size limit
        b'{"model": {"depth": 8}}',  # the key is missing
        b'{"model": {"n_layers": "eight"}}',  # not a number
        b'{"model": {"n_layers": null}}',
        b'{"model": {"n_layers": 1e999}}',  # not finite
        b"[" * 100_000 + b"]" * 100_000,  # nested past the parser's recursion
    ],
    ids=["invalid", "binary", "2MB", "no-key", "string", "null", "inf", "nested"],
)
def test_config_files_the_linter_cannot_use_leave_the_depth_unknown(
    tmp_path: Path, content: bytes
) -> None:
    root = _project(tmp_path, {"train.py": JSON_CALLER, "configs/model.json": content})
    assert _lint(root) == UNKNOWN


def test_a_missing_config_file_leaves_the_depth_unknown(tmp_path: Path) -> None:
    root = _project(tmp_path, {"train.py": JSON_CALLER})
    assert _lint(root) == UNKNOWN


def test_a_symlink_loop_leaves_the_depth_unknown(tmp_path: Path) -> None:
    root = _project(tmp_path, {"train.py": JSON_CALLER})
    (root / "configs").mkdir()
    os.symlink("model.json", root / "configs" / "model.json")
    assert _lint(root) == UNKNOWN


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_never_opened(tmp_path: Path) -> None:
    root = _project(tmp_path, {"train.py": JSON_CALLER})
    (root / "configs").mkdir()
    os.mkfifo(root / "configs" / "model.json")
    assert _lint(root) == UNKNOWN


def test_a_file_outside_the_project_is_not_read(tmp_path: Path) -> None:
    caller = JSON_CALLER.replace("configs/model.json", "../outside.json")
    root = _project(tmp_path, {"train.py": caller})
    (tmp_path / "outside.json").write_text(DEEP_JSON)
    assert _lint(root) == UNKNOWN


@pytest.mark.parametrize(
    "change",
    [
        ("net = ", 'cfg["model"]["n_layers"] = 2\nnet = '),  # changed after loading
        ("net = ", "cfg.update(other)\nnet = "),
        ("net = ", "cfg = {}\nnet = "),  # bound twice
        ('cfg["model"]["n_layers"]', "cfg.model.n_layers"),  # a dict has no attributes
        ('"configs/model.json"', "path"),  # not a literal path
        ('"configs/model.json"', '"configs/model.json".upper()'),
    ],
)
def test_configs_the_linter_cannot_trust_leave_the_depth_unknown(
    tmp_path: Path, change: tuple[str, str]
) -> None:
    root = _project(
        tmp_path, {"train.py": JSON_CALLER.replace(*change), "configs/model.json": DEEP_JSON}
    )
    assert _lint(root) == UNKNOWN


def test_a_get_default_is_used_when_the_key_is_missing(tmp_path: Path) -> None:
    caller = JSON_CALLER.replace('cfg["model"]["n_layers"]', 'cfg["model"].get("n_layers", 8)')
    root = _project(tmp_path, {"train.py": caller, "configs/model.json": '{"model": {}}'})
    assert _lint(root) == DEEP
    assert "get() default, not in configs/model.json" in _message(root)


def test_the_file_is_looked_up_next_to_the_caller_then_at_the_root(tmp_path: Path) -> None:
    root = _project(tmp_path, {"scripts/train.py": JSON_CALLER, "configs/model.json": DEEP_JSON})
    assert _lint(root) == DEEP  # not next to scripts/train.py: the root's
    (root / "scripts" / "configs").mkdir()
    (root / "scripts" / "configs" / "model.json").write_text('{"model": {"n_layers": 2}}')
    assert _lint(root) == UNKNOWN  # two different files: which one depends on the cwd


@pytest.mark.parametrize(
    ("caller", "files"),
    [
        (  # json.loads of a Path's text, a module constant path
            "import json\nfrom pathlib import Path\nfrom model import GateNet\n"
            'CONFIG = "conf.json"\ncfg = json.loads(Path(CONFIG).read_text())\n'
            'net = GateNet(32, cfg["n_layers"])\n',
            {"conf.json": '{"n_layers": 8}'},
        ),
        (  # a path relative to the caller's own folder
            "import json, os\nfrom model import GateNet\n"
            "HERE = os.path.dirname(os.path.abspath(__file__))\n"
            'cfg = json.load(open(os.path.join(HERE, "cfg", "m.json")))\n'
            'net = GateNet(32, cfg["n_layers"])\n',
            {"cfg/m.json": '{"n_layers": 8}'},
        ),
        (  # yaml.safe_load of an open file
            "import yaml\nfrom model import GateNet\n"
            'cfg = yaml.safe_load(open("c.yaml"))\nnet = GateNet(32, cfg["model"]["depth"])\n',
            {"c.yaml": "model:\n  depth: 8  # deep\n  sizes: [64, 64]\n"},
        ),
        (  # yaml.load(f, Loader=...) in a with block, inside a function
            "import yaml\nfrom model import GateNet\n\ndef main():\n"
            '    with open("c.yaml") as f:\n        cfg = yaml.load(f, Loader=yaml.SafeLoader)\n'
            '    return GateNet(32, cfg.get("depth", 2))\n',
            {"c.yaml": "depth: 8\n"},
        ),
        (  # toml.load of a path
            "import toml\nfrom model import GateNet\n"
            'cfg = toml.load("c.toml")\nnet = GateNet(32, cfg["model"]["depth"])\n',
            {"c.toml": "[model]\ndepth = 8\n"},
        ),
        (  # tomli under another name
            "import tomli as tomllib\nfrom model import GateNet\n"
            'with open("c.toml", "rb") as f:\n    cfg = tomllib.load(f)\n'
            'net = GateNet(32, cfg["depth"])\n',
            {"c.toml": "depth = 8\n"},
        ),
        (  # OmegaConf: attribute access
            "from omegaconf import OmegaConf\nfrom model import GateNet\n"
            'cfg = OmegaConf.load("conf/m.yaml")\nnet = GateNet(cfg.width, cfg.model.depth)\n',
            {"conf/m.yaml": "width: 32\nmodel:\n  depth: 8\n"},
        ),
    ],
)
def test_loaders(tmp_path: Path, caller: str, files: dict[str, str | bytes]) -> None:
    root = _project(tmp_path, {"train.py": caller, **files})
    assert _lint(root) == DEEP


def test_yaml_is_read_without_pyyaml_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "yaml", None)  # ``import yaml`` raises ImportError
    root = tmp_path / "proj"
    shutil.copytree(PROJECTS / "config_yaml_deep", root)
    result = lint_paths([root], Config())
    assert [(f.code, f.depth) for f in result.findings] == [("GCK001", 8)]


HYDRA = """import hydra

from model import GateNet


@hydra.main(config_path="conf", config_name="config", version_base=None)
def main(cfg):
    return GateNet(cfg.model.width, cfg.model.n_layers)
"""


@pytest.mark.parametrize(
    ("primary", "group", "expected"),
    [
        ("defaults:\n  - model: mlp\n", "n_layers: 8\nwidth: 32\n", DEEP),
        # the primary config overrides its group (``_self_`` last by default)
        ("defaults:\n  - model: mlp\nmodel:\n  n_layers: 8\n", "n_layers: 2\nwidth: 32\n", DEEP),
        # ``_self_`` first: the group wins
        (
            "defaults:\n  - _self_\n  - model: mlp\nmodel:\n  n_layers: 2\n",
            "n_layers: 8\nwidth: 32\n",
            DEEP,
        ),
        ("defaults:\n  - override model: mlp\n", "n_layers: 8\nwidth: 32\n", UNKNOWN),
        ("defaults:\n  - model@net: mlp\n", "n_layers: 8\nwidth: 32\n", UNKNOWN),
        ("defaults:\n  - model: mlp\n", "# @package _global_\nn_layers: 8\nwidth: 32\n", UNKNOWN),
        ("defaults:\n  - model: mlp\n", "n_layers: ${depth}\nwidth: 32\n", UNKNOWN),
        ("defaults:\n  - model: nope\n", "n_layers: 8\nwidth: 32\n", UNKNOWN),
        # a ``# @package`` header puts the group file's keys where it says
        ("defaults:\n  - model: mlp\n", "# @package model\nn_layers: 8\nwidth: 32\n", DEEP),
        ("defaults:\n  - model: mlp\n", "# @package _group_\nn_layers: 8\nwidth: 32\n", DEEP),
        ("defaults:\n  - model: mlp\n", "# @package net\nn_layers: 8\nwidth: 32\n", UNKNOWN),
        (
            "defaults:\n  - model: mlp\n",
            "# @package _global_\nmodel:\n  n_layers: 8\n  width: 32\n",
            DEEP,
        ),
    ],
)
def test_hydra_composes_simple_defaults_lists(
    tmp_path: Path, primary: str, group: str, expected: list[tuple[str, str, int | None]]
) -> None:
    files = {"train.py": HYDRA, "conf/config.yaml": primary, "conf/model/mlp.yaml": group}
    root = _project(tmp_path, dict(files))
    assert _lint(root) == expected


COMPOSE = """from hydra import compose, initialize

from model import GateNet

with initialize(version_base=None, config_path="conf"):
    cfg = compose(config_name="config", overrides=OVERRIDES)

net = GateNet(cfg.model.width, cfg.model.n_layers)
"""


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ('["model=deep"]', DEEP),  # a group's option
        ('["model.n_layers=8"]', DEEP),  # a value
        ('["model=deep", "model.n_layers=2"]', []),  # the value wins over the option
        ("[]", []),  # the defaults list's option: 2 layers
        ('["model=nope"]', UNKNOWN),  # no such option
        ('["+model.extra=1"]', UNKNOWN),  # ``+``/``~`` change the structure: unknown
        ('["model.n_layers=${depth}"]', UNKNOWN),
        ("OVERRIDES", UNKNOWN),  # not a literal list
    ],
)
def test_hydra_compose_api_with_overrides(
    tmp_path: Path, overrides: str, expected: list[tuple[str, str, int | None]]
) -> None:
    files = {
        "run.py": COMPOSE.replace("overrides=OVERRIDES", f"overrides={overrides}"),
        "conf/config.yaml": "defaults:\n  - model: small\n",
        "conf/model/small.yaml": "n_layers: 2\nwidth: 32\n",
        "conf/model/deep.yaml": "n_layers: 8\nwidth: 32\n",
    }
    assert _lint(_project(tmp_path, dict(files))) == expected


def test_hydra_initialize_as_a_statement_and_the_override_named(tmp_path: Path) -> None:
    """A notebook calls ``initialize(...)`` without ``with``; the message names the override."""
    caller = COMPOSE.replace("with initialize(", "initialize(").replace('conf"):', 'conf")')
    caller = caller.replace("    cfg = compose", "cfg = compose")
    files = {
        "run.py": caller.replace("overrides=OVERRIDES", 'overrides=["model.n_layers=8"]'),
        "conf/config.yaml": "defaults:\n  - model: small\n",
        "conf/model/small.yaml": "n_layers: 2\nwidth: 32\n",
    }
    message = _message(_project(tmp_path, dict(files)))
    assert "overridden by 'model.n_layers=8'" in message


def test_hydra_names_the_file_that_set_the_value(tmp_path: Path) -> None:
    files = {
        "train.py": HYDRA,
        "conf/config.yaml": "defaults:\n  - model: mlp\nmodel:\n  n_layers: 8\n",
        "conf/model/mlp.yaml": "n_layers: 2\nwidth: 32\n",
    }
    message = _message(_project(tmp_path, dict(files)))
    assert "n_layers = 8 from conf/config.yaml (model.n_layers)" in message
    assert "width = 32 from conf/model/mlp.yaml (model.width)" in message


def test_editing_the_config_file_relints_the_model_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(PROJECTS / "config_json_deep", root)
    cache = tmp_path / "cache"
    cold = lint_paths([root], Config(), cache_dir=cache)
    assert [(Path(f.path).name, f.depth) for f in cold.findings] == [("model.py", 8)]
    (stored,) = cache.glob("lint-*.json")
    entries = json.loads(stored.read_text())["files"]
    consulted = entries[str((root / "model.py").resolve())]["consulted"]
    files = {path for path in consulted if not path.startswith("<")}  # not <callers-of>...
    assert files == {str((root / p).resolve()) for p in ("train.py", "configs/model.json")}
    seen = _linted(monkeypatch)
    assert lint_paths([root], Config(), cache_dir=cache).findings == cold.findings
    assert seen == []
    config = root / "configs" / "model.json"
    config.write_text(config.read_text().replace('"n_layers": 8', '"n_layers": 12'))
    later = time.time() + 5
    os.utime(config, (later, later))
    edited = lint_paths([root], Config(), cache_dir=cache)
    # both read it: the model file for its depth, train.py to build the model it imports
    assert sorted(seen) == ["model.py", "train.py"]
    assert [f.depth for f in edited.findings] == [12]
    assert "n_layers = 12 from configs/model.json" in edited.findings[0].message


def test_the_yaml_subset() -> None:
    text = """# a comment
model:
  n_layers: 8   # trailing comment
  sizes: [64, 64, 32]
  name: "mlp # not a comment"
  act: sigmoid
  dropout: 0.1
  lr: 1e-3
  flag: yes
  none: ~
defaults:
  - model: mlp
  - _self_
empty:
"""
    assert parse_yaml(text) == {
        "model": {
            "n_layers": 8,
            "sizes": [64, 64, 32],
            "name": "mlp # not a comment",
            "act": "sigmoid",
            "dropout": 0.1,
            "lr": UNSURE,  # a string to PyYAML, a float to OmegaConf
            "flag": UNSURE,
            "none": None,
        },
        "defaults": [{"model": "mlp"}, "_self_"],
        "empty": None,
    }


@pytest.mark.parametrize(
    "text",
    ["a: &x 1\nb: *x\n", "a: |\n  text\n", "a: {b: 1}\n", "a: 1\n a: 2\n", "a: 1\na: 2\n"],
)
def test_yaml_outside_the_subset_is_refused(text: str) -> None:
    with pytest.raises(YamlSubsetError):
        parse_yaml(text)


YAML_CALLER = """import yaml

from model import GateNet

cfg = yaml.safe_load(open("c.yaml"))
net = GateNet(32, cfg["depth"])
"""
BOMB = "a: &a [1, 1, 1, 1, 1, 1, 1, 1, 1]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 9)}]\n" for i in range(8)
)


@pytest.mark.parametrize(
    ("caller", "name", "content"),
    [
        (YAML_CALLER, "c.yaml", BOMB + "depth: 8\n"),  # an alias bomb: not plain data
        (YAML_CALLER, "c.yaml", "depth: [8\n"),  # invalid YAML
        (YAML_CALLER, "c.yaml", "depth: !!python/object:os.system 8\n"),  # never constructed
        (
            'import toml\nfrom model import GateNet\ncfg = toml.load("c.toml")\n'
            'net = GateNet(32, cfg["depth"])\n',
            "c.toml",
            "depth = \n",
        ),  # invalid TOML
    ],
    ids=["alias-bomb", "invalid-yaml", "python-tag", "invalid-toml"],
)
def test_yaml_and_toml_the_linter_cannot_use_leave_the_depth_unknown(
    tmp_path: Path, caller: str, name: str, content: str
) -> None:
    root = _project(tmp_path, {"train.py": caller.replace("c.yaml", name), name: content})
    assert _lint(root) == UNKNOWN


def test_a_very_long_expression_is_unknown_not_a_crash(tmp_path: Path) -> None:
    chain = "cfg" + '["model"]' * 900
    caller = JSON_CALLER.replace('cfg["model"]["n_layers"]', chain).replace(
        '"configs/model.json"', '"configs" / ' * 900 + '"model.json"'
    )
    root = _project(tmp_path, {"train.py": caller, "configs/model.json": DEEP_JSON})
    assert _lint(root) == UNKNOWN
