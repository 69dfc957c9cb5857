"""Project-wide lint (issue 18): fixture projects on disk under ``tests/projects/<name>/``, one per
kind of evidence that lives in another file, each with a negative twin of the same shape (depth 3,
or a real reset) that must not be flagged. Each is linted as a whole project and as the single
model file (as pre-commit and flake8 pass it): both must see the same facts."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.lint.project import Project
from tests.lint.spies import linted as _linted

PROJECTS = Path(__file__).resolve().parent.parent / "projects"

#: project -> (the file that builds the stack, the line of the finding, what the message must
#: name as the depth's source); None: the negative twin, no finding anywhere.
CASES: dict[str, tuple[str, int, str] | None] = {
    # __init__ re-exports, __all__, a star import, relative imports, a module constant
    "reexport_deep": ("mlpkg/models/mlp.py", 10, "default 8 from mlpkg/config.py:1"),
    "reexport_shallow": None,
    # src layout, a namespace package, a get_clones() helper (copy.deepcopy) in another module
    "src_clones_deep": ("src/acme/nets/encoder.py", 12, "get_clones(n=8)"),
    "src_clones_shallow": None,
    # an activation chosen by a string, through a table and a helper in another module
    "act_table_deep": ("model.py", 10, "parameter 'depth' (default 8)"),
    "act_table_shallow": None,
    # a user block class from another module, stacked here; the twin's block is residual
    "user_block_deep": ("net.py", 12, "parameter 'depth' (default 8)"),
    "user_block_residual": None,
    # an import cycle between the model and its constants
    "cycle_deep": ("pkg/model.py", 14, "default 8 from pkg/common.py:3"),
    "cycle_shallow": None,
    # depth from call sites in another file (through a re-export, a module alias, an import
    # alias); the deepest literal call decides; a same-named class elsewhere is not the model
    "callsite_deep": ("nets/mlp.py", 9, "nets.SigmoidMLP(64, depth=8) at scripts/train.py:11"),
    "callsite_shallow": None,
    # depth from an argparse default in another file (a string default parsed by type=, options
    # returned by a helper and passed to main); the twin's default is 3
    "argparse_deep": ("model.py", 13, "--n-layers default 8 at train.py:8"),
    "argparse_shallow": None,
    # sizes from a @dataclass field's default_factory in a third file, through a parameter
    # annotated with the config class; the twin's list is 4 long (3 layers)
    "dataclass_deep": ("lab/model.py", 9, "TrainConfig.sizes default [16, 16, 16"),
    "dataclass_shallow": None,
    # depth from a call in a notebook's code cell (IPython lines around it, an indented magic,
    # the class imported from the package under an alias); the twin's notebook builds depth 2
    "notebook_caller_deep": (
        "lab/models/stack.py",
        10,
        "Net(WIDTH, depth=8) at notebooks/analysis.ipynb:cell 3:2",
    ),
    "notebook_caller_shallow": None,
    # config files read by a literal path (issue 18): a JSON file opened in a ``with`` and read
    # through a sub-dict and ``.get()``; a Hydra layout (conf/config.yaml with a ``defaults:``
    # group file, the config passed on to a builder); a TOML file (``tomllib``) of sizes
    "config_json_deep": ("model.py", 13, "n_layers = 8 from configs/model.json (model.n_layers)"),
    "config_json_shallow": None,
    "config_yaml_deep": (
        "nets/mlp.py",
        9,
        "n_layers = 8 from conf/model/mlp.yaml (model.n_layers)",
    ),
    "config_yaml_shallow": None,
    "config_toml_deep": ("lab/model.py", 9, "from settings/config.toml (model.sizes)"),
    "config_toml_shallow": None,
    # a package re-exports the class under another name (``from .stack import SquashStack as
    # Net``) that its callers use (``from lab import Net as Model``, ``lab.Net(...)``) and the
    # class's own module never names
    "rename_reexport_deep": ("lab/nets/stack.py", 9, "Model(32, depth=8) at scripts/run.py:6"),
    "rename_reexport_shallow": None,
    # the sizes reach the class through a wrapper that passes its own parameter on: a plain
    # solver class in the model's own file (an OrderedDict of ('layer_%d' % i, ...) pairs), and
    # a Module in another file (``self.model = MLP(sizes)``) whose caller is a third file
    "wrapper_deep": ("net.py", 17, "Solver([2] + [50] * 8 + [1]) at main.py:3 (through DNN("),
    "wrapper_shallow": None,
    "module_wrapper_deep": (
        "models/mlp.py",
        9,
        "at experiments/plane_wave.py:5 (through MLP(sizes) at models/pinn.py:11)",
    ),
    "module_wrapper_shallow": None,
    # a block class of another module (through its package's ``__init__``), stacked in a file
    # that names no activation itself; the twin stacks two
    "imported_block_deep": ("lab/tower.py", 11, "parameter 'depth' (default 8)"),
    "imported_block_shallow": None,
    # sizes whose first element the linter cannot read (``[data.shape[1]] + [50] * 8 + [1]``):
    # the length is known, so is the depth; the twin's two layers are no GCK002 either
    "sized_list_deep": ("net.py", 14, "FNN([data.shape[1]] + [50] * 8 + [1]) at train.py:5"),
    "sized_list_shallow": None,
    # a builder function (``make_mlp(in_dim, out_dim, hidden, depth)``) called in another file:
    # its calls give the depth as a class's do; the twin's call builds two layers (no GCK002)
    "builder_sites_deep": ("nets.py", 6, "make_mlp(2, 1, 64, 8) at scripts/train.py:3"),
    "builder_sites_shallow": None,
    # the Lightning-Hydra template: ``_target_: src.models.components.dense.DenseNet`` in a
    # YAML config with ``sizes: [...]`` is a keyword call of the class (an interpolated key is
    # unknown); the twin's sizes build two layers (no GCK002)
    "hydra_target_deep": (
        "src/models/components/dense.py",
        17,
        "_target_: src.models.components.dense.DenseNet at configs/model/dense.yaml:3",
    ),
    "hydra_target_shallow": None,
    # Hydra's compose API: ``initialize(config_path=...)`` as a statement, then ``compose`` with
    # an override that picks the group option whose ``# @package model`` header places it
    "hydra_compose_deep": ("nets.py", 9, "n_layers = 8 from conf/model/deep.yaml (model.n_layers)"),
    "hydra_compose_shallow": None,
    # a call site's argument imported from another module: a module constant (``from settings
    # import DEPTH``); a tuple a settings function returns, unpacked (``a, depth = params()``);
    # an item of an imported dict, unpacked in a tuple assignment and passed through a wrapper
    "imported_const_deep": ("pinn.py", 16, "DEPTH = 9 at settings.py:4"),
    "imported_const_shallow": None,
    "params_func_deep": ("pinn.py", 16, "depth = 9 at parameters.py:4 (returned by params())"),
    "params_func_shallow": None,
    "config_dict_deep": ("network.py", 12, "DEFAULT_CONFIG['n_layers'] = 8 at config.py:1"),
    "config_dict_shallow": None,
    # values read in the model file itself: a YAML config loaded at module level; a JSON config
    # opened next to the file inside ``__init__`` (``[width] * depth``); its own argparse string
    # default parsed by a comprehension over ``split(",")``
    "model_config_deep": ("model.py", 17, "n_layers = 8 from configs/model.yaml (model.n_layers)"),
    "model_config_shallow": None,
    "model_json_deep": ("model.py", 17, "n_layers = 8 from config.json (model.n_layers)"),
    "model_json_shallow": None,
    "argparse_same_deep": ("model.py", 11, "--hidden default '128,128,128,128,128,128,128,128'"),
    "argparse_same_shallow": None,
    # an argparse string default in another file parsed by ``list(map(int, s.split(",")))``,
    # then grown by ``insert(0, in_dim)`` and ``append(1)`` before the call (9 sizes, 8 layers)
    "split_list_deep": ("model.py", 9, "--hidden default '64,64,64,64,64,64,64' at train.py:8"),
    "split_list_shallow": None,
    # every returned output counts: ``return encoded, decoded`` holds the whole chain (a helper
    # in another module builds both halves); the twin's decoder starts with a LayerNorm
    "outputs_deep": ("model.py", 8, "mlp(depth=5); mlp(depth=3)"),
    "outputs_shallow": None,
    # a user class from another module is decided by what its forward computes, not its name:
    # a ``LayerNorm`` that only rescales is no reset (its twin centres and divides by a spread);
    # a ``Standardize`` dividing by ``x.std()`` alone is none either (its twin subtracts the mean
    # and multiplies by ``torch.rsqrt(var + eps)``: a normalization, whatever its name)
    "user_norm_deep": ("model.py", 14, "parameter 'depth' (default 8)"),
    "user_norm_shallow": None,
    "standardize_deep": ("model.py", 14, "parameter 'depth' (default 8)"),
    "standardize_shallow": None,
    # a user activation class from another module, chosen from a dict by a string, is decided by
    # the function its forward computes: ``1 / (1 + torch.exp(-x))`` is a sigmoid whatever its
    # name; the twin chooses ``x * torch.sigmoid(x)`` (SiLU) from the same table
    "user_act_deep": ("model.py", 11, "parameter 'depth' (default 8)"),
    "user_act_shallow": None,
    # a product is not a residual: QRes blocks from another module (``x1 * x2 + x1`` of two
    # sigmoid paths, applied by an nn.Sequential built here) stacked 7 deep before a sigmoid
    # output; the twin's block adds its input back (``x1 * x2 + x``)
    "product_deep": ("model.py", 10, "parameter 'depth' (default 7)"),
    "product_shallow": None,
    # the activation's name passed by a caller ("sigmoid") and mapped by a table in another
    # module: the model file names no saturating activation (the project-aware prefilter)
    "string_act_deep": ("pkg/models.py", 20, "FNN([2] + [50] * 8 + [1], 'sigmoid') at train.py:3"),
    "string_act_shallow": None,
    # ``lab.nets.FNN`` where ``lab/nets/__init__.py`` loads a backend subpackage by a computed
    # name (``importlib.import_module(f".{name}", __name__)``, as deepxde does), and the
    # activation is ``bkd.sigmoid`` from a backend package that dispatches the same way; the
    # PyTorch backend is the one read (the jax twin's FNN is not a Module)
    "dispatch_deep": ("lab/nets/pytorch/fnn.py", 16, "lab.nets.FNN([2] + [50] * 8 + [1]"),
    "dispatch_shallow": None,
    # an object whose attributes hold the sizes, passed whole: parsed argparse options
    # (``TanhMLP(args)`` in ``main()``, the class reads ``args.depth``); a wrapper in a third
    # file reading ``args.layers`` and, through a local name, ``args.activation`` (a string
    # mapped by ``getattr(nn, act)``: the model file names no activation); a dataclass
    # instance with a keyword override; a YAML document whose ``["model"]["depth"]`` the class
    # reads. Each twin sets 3
    "options_object_deep": ("model.py", 11, "TanhMLP(args) at train.py:11 (--depth default 8"),
    "options_object_shallow": None,
    "wrapper_attr_deep": ("nets/mlp.py", 9, "--activation default 'Sigmoid' at run.py:9"),
    "wrapper_attr_shallow": None,
    "config_object_deep": ("lab/model.py", 9, "SigmoidNet(cfg) at experiment.py:5"),
    "config_object_shallow": None,
    "yaml_object_deep": ("net.py", 13, "depth = 8 from config.yaml (model.depth)"),
    "yaml_object_shallow": None,
}


def _twin(name: str) -> str:
    """The positive project whose model file the negative twin shares."""
    stem = name.rsplit("_", 1)[0]
    return next(k for k in CASES if k.rsplit("_", 1)[0] == stem and CASES[k])


def _model_file(name: str) -> Path:
    expected = CASES[name] or CASES[_twin(name)]
    assert expected is not None
    path = PROJECTS / name / expected[0]
    assert path.is_file()
    return path


def _summary(result: object, root: Path) -> list[tuple[str, str, int]]:
    findings = result.findings  # type: ignore[attr-defined]
    return [(Path(f.path).resolve().relative_to(root).as_posix(), f.code, f.line) for f in findings]


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_whole_project(name: str) -> None:
    root = PROJECTS / name
    result = lint_paths([root], Config())
    assert result.errors == []
    expected = CASES[name]
    if expected is None:
        assert result.findings == []
        return
    path, line, source = expected
    assert _summary(result, root) == [(path, "GCK001", line)]
    (finding,) = result.findings
    assert finding.depth == 8
    assert source in (finding.depth_source or "")
    assert source in finding.message


@pytest.mark.parametrize("name", sorted(CASES))
def test_a_single_file_run_sees_what_the_project_run_sees(name: str) -> None:
    root = PROJECTS / name
    whole = [f for f in lint_paths([root], Config()).findings if Path(f.path) == _model_file(name)]
    alone = lint_paths([_model_file(name)], Config())
    assert alone.findings == whole


def test_the_cli_reports_in_the_file_that_builds_the_stack(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(PROJECTS / "reexport_deep")
    code = main(["lint", ".", "--no-cache", "--format", "json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 1
    assert [(f["path"], f["line"], f["depth"]) for f in out["findings"]] == [
        ("mlpkg/models/mlp.py", 10, 8)
    ]
    assert "mlpkg/config.py:1 (N_LAYERS = 8)" in out["findings"][0]["depth_source"]


def _copy(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(PROJECTS / name, target)
    return target


def test_a_loose_file_resolves_only_itself(tmp_path: Path) -> None:
    """With no pyproject.toml, setup.cfg or .git above it and no package around it, a file is a
    project of its own: its sibling is not read (depth unknown); with a root, it is."""
    project = _copy("act_table_deep", tmp_path)
    (project / "pyproject.toml").unlink()
    model = project / "model.py"
    if Project.for_file(str(model)).root is not None:
        pytest.skip("the temporary folder is inside a project")
    assert [f.code for f in lint_paths([model], Config()).findings] == []
    (project / "setup.cfg").write_text("[metadata]\nname = x\n")
    assert [f.code for f in lint_paths([model], Config()).findings] == ["GCK001"]


def test_resolver_finds_packages_src_layouts_and_relative_imports() -> None:
    mlp = PROJECTS / "reexport_deep" / "mlpkg" / "models" / "mlp.py"
    project = Project.for_file(str(mlp))
    assert project.root == str(PROJECTS / "reexport_deep")
    assert project.find_module("..blocks") == str(mlp.parents[1] / "blocks.py")
    assert project.find_module(".") == str(mlp.parent / "__init__.py")
    assert project.find_module("mlpkg.config") == str(mlp.parents[1] / "config.py")
    assert project.find_module("torch.nn") is None  # never the project's
    assert project.find_module("os") is None
    assert project.find_module("no_such_module") is None
    encoder = PROJECTS / "src_clones_deep" / "src" / "acme" / "nets" / "encoder.py"
    src = Project.for_file(str(encoder))
    assert src.find_module("acme.nets.layers") == str(encoder.parent / "layers.py")
    assert src.find_module("acme") == str(encoder.parents[1])  # a namespace package (folder)


def test_editing_a_consulted_file_relints_the_file_that_read_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("reexport_deep", tmp_path)
    cache = tmp_path / "cache"
    cold = lint_paths([project], Config(), cache_dir=cache)
    assert [Path(f.path).name for f in cold.findings] == ["mlp.py"]
    seen = _linted(monkeypatch)
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert seen == [] and warm.findings == cold.findings
    config = project / "mlpkg" / "config.py"
    config.write_text("N_LAYERS = 3  # shallow now\n")
    later = time.time() + 5
    os.utime(config, (later, later))
    edited = lint_paths([project], Config(), cache_dir=cache)
    # mlp.py read config.py: linted again (now clean); config.py itself changed; nothing else
    assert sorted(seen) == ["config.py", "mlp.py"]
    assert edited.findings == []


def test_a_file_that_consulted_nothing_keeps_its_plain_key(tmp_path: Path) -> None:
    project = _copy("reexport_deep", tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (stored,) = cache.glob("lint-*.json")
    entries = json.loads(stored.read_text())["files"]
    by_name = {Path(path).name: entry for path, entry in entries.items()}
    assert "consulted" not in by_name["config.py"]
    files = {path for path in by_name["mlp.py"]["consulted"] if not path.startswith("<")}
    assert files == {
        str((project / "mlpkg" / name).resolve()) for name in ("blocks.py", "config.py")
    }


def test_a_deleted_consulted_file_is_a_miss_not_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("reexport_deep", tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (project / "mlpkg" / "config.py").unlink()
    seen = _linted(monkeypatch)
    result = lint_paths([project], Config(), cache_dir=cache)
    assert seen == ["mlp.py"]
    assert result.errors == []


def test_editing_a_call_site_relints_the_model_it_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("callsite_deep", tmp_path)
    cache = tmp_path / "cache"
    cold = lint_paths([project], Config(), cache_dir=cache)
    assert [(Path(f.path).name, f.depth) for f in cold.findings] == [("mlp.py", 8)]
    train = project / "scripts" / "train.py"
    train.write_text(train.read_text().replace("depth=8", "depth=12"))
    later = time.time() + 5
    os.utime(train, (later, later))
    seen = _linted(monkeypatch)
    edited = lint_paths([project], Config(), cache_dir=cache)
    assert sorted(seen) == ["mlp.py", "train.py"]
    assert [f.depth for f in edited.findings] == [12]
    assert "depth=12) at scripts/train.py:11" in edited.findings[0].message


@pytest.mark.parametrize(
    "caller",
    [
        "from nets import SigmoidMLP\nnet = SigmoidMLP(*sizes)\n",  # starred: unseen
        "from nets import SigmoidMLP\nnet = SigmoidMLP(64, **config)\n",
        "from nets import SigmoidMLP\nnet = SigmoidMLP(width, depth)\n",  # nothing literal
        "from nets import SigmoidMLP\nnet = SigmoidMLP(64, depth=\n",  # a syntax error
        "import nets.other as nets\nnet = nets.SigmoidMLP(64, 12)\n",  # another module
        "\udcff",  # not UTF-8
    ],
)
def test_call_sites_the_linter_cannot_read_leave_the_depth_unknown(
    tmp_path: Path, caller: str
) -> None:
    project = _copy("callsite_deep", tmp_path)
    data = caller.encode("utf-8", "surrogateescape")
    (project / "scripts" / "train.py").write_bytes(data)
    result = lint_paths([project], Config())
    assert [(f.code, Path(f.path).name) for f in result.findings] == [("GCK002", "mlp.py")]
    assert [Path(e.path).name for e in result.errors] == (
        ["train.py"] if b"depth=\n" in data or b"\xff" in data else []
    )


@pytest.mark.parametrize(
    "option",
    [
        'parser.add_argument("--n-layers", type=parse_depth, default="8")',  # unseen type=
        'parser.add_argument("--n-layers", type=int, default=DEPTH)',  # not a literal
        'parser.add_argument("--n-layers", default=8)\n    parser.add_argument("--n-layers", default=2)',
        'parser.add_argument("--n-layers", type=int, default="eight")',  # type= would fail
    ],
)
def test_argparse_options_the_linter_cannot_read_leave_the_depth_unknown(
    tmp_path: Path, option: str
) -> None:
    project = _copy("argparse_deep", tmp_path)
    train = project / "train.py"
    text = train.read_text()
    old = 'parser.add_argument("--n-layers", type=int, default="8")  # argparse applies type='
    assert old in text
    train.write_text(text.replace(old, option))
    result = lint_paths([project], Config())
    assert [(f.code, Path(f.path).name) for f in result.findings] == [("GCK002", "model.py")]


@pytest.mark.parametrize(
    "change",
    [
        ("cfg = TrainConfig()", "cfg = TrainConfig(sizes=[16, 16])"),  # a literal override
        ("(cfg: TrainConfig):\n    return Encoder(cfg.sizes)", "(c):\n    return Encoder(c.sizes)"),
        ("@dataclass\n", "@dataclass\n@frozen_by_hand\n"),  # another decorator: unknown
        ("lambda: [", "lambda: make(["),  # a factory that is not a literal
    ],
)
def test_config_classes_the_linter_cannot_read_leave_the_stack_unflagged(
    tmp_path: Path, change: tuple[str, str]
) -> None:
    project = _copy("dataclass_deep", tmp_path)
    for path in (project / "run.py", project / "lab" / "config.py"):
        text = path.read_text()
        path.write_text(text.replace(*change))
    result = lint_paths([project], Config())
    assert [f.code for f in result.findings] in ([], ["GCK002"])


def test_editing_a_notebook_that_builds_the_model_relints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _copy("notebook_caller_deep", tmp_path)
    cache = tmp_path / "cache"
    cold = lint_paths([project], Config(), cache_dir=cache)
    assert [(Path(f.path).name, f.depth) for f in cold.findings] == [("stack.py", 8)]
    seen = _linted(monkeypatch)
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert seen == [] and warm.findings == cold.findings
    notebook = project / "notebooks" / "analysis.ipynb"
    notebook.write_text(notebook.read_text().replace("depth=8", "depth=12"))
    later = time.time() + 5
    os.utime(notebook, (later, later))
    edited = lint_paths([project], Config(), cache_dir=cache)
    assert sorted(seen) == ["analysis.ipynb", "stack.py"]
    assert [f.depth for f in edited.findings] == [12]
    assert "depth=12) at notebooks/analysis.ipynb:cell 3:2" in edited.findings[0].message


def test_a_notebook_imports_like_a_script_at_its_folder(tmp_path: Path) -> None:
    """``from helpers import ...`` in ``notebooks/analysis.ipynb`` is ``notebooks/helpers.py``
    (Jupyter runs a notebook in its folder), which re-exports the package's model."""
    project = _copy("notebook_caller_deep", tmp_path)
    folder = project / "notebooks"
    (folder / "helpers.py").write_text("from lab.models import SigmoidStack\n")
    text = (folder / "analysis.ipynb").read_text()
    text = text.replace("from lab.models import", "from helpers import")
    (folder / "analysis.ipynb").write_text(text.replace("depth=8", "depth=11"))
    model = project / "lab" / "models" / "stack.py"
    (finding,) = lint_paths([model], Config()).findings
    assert finding.depth == 11
    assert "at notebooks/analysis.ipynb:cell 3:2" in finding.message


@pytest.mark.parametrize(
    "source",
    [
        "{not json",  # invalid JSON
        '{"cells": 3}',  # not a notebook
        '{"cells": [{"cell_type": "code", "source": "net = Net(32, depth=\\n"}]}',  # syntax
        '{"cells": [{"cell_type": "code", "source": "net = Net(*sizes)"}]}',  # nothing literal
    ],
)
def test_notebook_callers_the_linter_cannot_read_leave_the_depth_unknown(
    tmp_path: Path, source: str
) -> None:
    project = _copy("notebook_caller_deep", tmp_path)
    (project / "notebooks" / "analysis.ipynb").write_text(source)
    model = project / "lab" / "models" / "stack.py"
    assert [f.code for f in lint_paths([model], Config()).findings] == ["GCK002"]


def test_notebook_checkpoints_are_not_callers(tmp_path: Path) -> None:
    """Jupyter's autosave copy in ``.ipynb_checkpoints`` is neither linted nor a call site."""
    project = _copy("notebook_caller_shallow", tmp_path)
    folder = project / "notebooks" / ".ipynb_checkpoints"
    folder.mkdir()
    text = (project / "notebooks" / "analysis.ipynb").read_text()
    (folder / "analysis-checkpoint.ipynb").write_text(text.replace("depth=2", "depth=40"))
    result = lint_paths([project], Config())
    assert result.findings == [] and result.errors == []
    assert result.files_checked == 4


def test_a_config_class_in_a_notebook_cell_is_named_by_cell(tmp_path: Path) -> None:
    project = _copy("notebook_caller_deep", tmp_path)
    path = project / "notebooks" / "analysis.ipynb"
    data = json.loads(path.read_text())
    data["cells"][2]["source"] = [
        "from dataclasses import dataclass\n",
        "\n",
        "@dataclass\n",
        "class Cfg:\n",
        "    width: int = 32\n",
        "    depth: int = 9\n",
        "\n",
        "cfg = Cfg()\n",
        "net = Net(cfg.width, depth=cfg.depth)\n",
    ]
    path.write_text(json.dumps(data, indent=1))
    (finding,) = lint_paths([project / "lab" / "models" / "stack.py"], Config()).findings
    assert finding.depth == 9
    assert (
        "at notebooks/analysis.ipynb:cell 3:9 (Cfg.width default 32 at "
        "notebooks/analysis.ipynb:cell 3:5; Cfg.depth default 9 at "
        "notebooks/analysis.ipynb:cell 3:6)"
    ) in finding.message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_named_like_a_notebook_does_not_block_the_call_site_index(tmp_path: Path) -> None:
    project = _copy("notebook_caller_deep", tmp_path)
    os.mkfifo(project / "notebooks" / "pipe.ipynb")
    model = project / "lab" / "models" / "stack.py"
    assert [f.depth for f in lint_paths([model], Config()).findings] == [8]


def test_a_call_site_argument_folded_from_literals(tmp_path: Path) -> None:
    """``FNN([2] + [32] * 9 + [1])`` (how PINN code writes layer sizes) is read as the list it
    makes; ``[0] * 10**9`` and names are not folded."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "fnn.py").write_text(
        "import torch\n"
        "import torch.nn as nn\n\n\n"
        "class FNN(nn.Module):\n"
        "    def __init__(self, layer_sizes):\n"
        "        super().__init__()\n"
        "        self.linears = nn.ModuleList(\n"
        "            nn.Linear(layer_sizes[i - 1], layer_sizes[i]) for i in range(1, len(layer_sizes))\n"
        "        )\n\n"
        "    def forward(self, x):\n"
        "        for linear in self.linears[:-1]:\n"
        "            x = torch.sigmoid(linear(x))\n"
        "        return self.linears[-1](x)\n"
    )
    train = tmp_path / "train.py"
    train.write_text("from fnn import FNN\n\nnet = FNN([2] + [32] * 9 + [1])\n")
    (finding,) = lint_paths([tmp_path], Config()).findings
    assert (finding.code, finding.depth) == ("GCK001", 9)
    assert "FNN([2] + [32] * 9 + [1]) at train.py:3" in finding.message
    for unfolded in ("[2] + [32] * 10**9 + [1]", "[2] + [32] * n + [1]", "[2] + sizes + [1]"):
        train.write_text(f"from fnn import FNN\n\nnet = FNN({unfolded})\n")
        assert [f.code for f in lint_paths([tmp_path], Config()).findings] == ["GCK002"]
    # a size the linter cannot read leaves the length known: the depth is still 9
    for sized in ("[x.shape[1]] + [32] * 9 + [1]", "[2] + [width] * 9 + [1]", "(d_in, *[32])"):
        train.write_text(f"from fnn import FNN\n\nnet = FNN({sized})\n")
        found = [(f.code, f.depth) for f in lint_paths([tmp_path], Config()).findings]
        assert found == ([("GCK001", 9)] if "9" in sized else [("GCK002", None)])


def test_a_wrapper_that_builds_the_sizes_from_its_parameters(tmp_path: Path) -> None:
    """``FNN([pde.input_dim] + [64] * depth + [pde.output_dim])`` in a solver whose callers give
    ``depth``: the length comes from the caller, the unknown ends stay unknown."""
    shutil.copytree(PROJECTS / "sized_list_deep", tmp_path, dirs_exist_ok=True)
    (tmp_path / "train.py").unlink()
    (tmp_path / "solver.py").write_text(
        "from net import FNN\n\n\n"
        "class Solver:\n"
        "    def __init__(self, pde, depth):\n"
        "        self.net = FNN([pde.input_dim] + [64] * depth + [pde.output_dim])\n"
    )
    run = tmp_path / "run.py"
    for depth, expected in ((8, [("GCK001", 8)]), (2, [])):
        run.write_text(f"from solver import Solver\n\nsolver = Solver(object(), {depth})\n")
        findings = lint_paths([tmp_path], Config()).findings
        assert [(f.code, f.depth) for f in findings] == expected
    assert "Solver(object(), 2)" not in str(findings)


def test_a_builder_nobody_calls_gives_its_defaults(tmp_path: Path) -> None:
    """``def build(pde, width=50, depth=8): return FNN([pde.input_dim] + [width] * depth + [1])``
    in another file, called nowhere: its defaults build the class; once a caller passes the
    depth, the caller decides."""
    shutil.copytree(PROJECTS / "sized_list_deep", tmp_path, dirs_exist_ok=True)
    (tmp_path / "train.py").unlink()
    (tmp_path / "build.py").write_text(
        "from net import FNN\n\n\n"
        "def build(pde, width=50, depth=8):\n"
        "    return FNN([pde.input_dim] + [width] * depth + [1])\n"
    )
    (finding,) = lint_paths([tmp_path], Config()).findings
    assert (finding.depth, Path(finding.path).name) == (8, "net.py")
    assert "build() defaults at build.py:4" in finding.message
    (tmp_path / "run.py").write_text("from build import build\n\nnet = build(None, depth=2)\n")
    assert lint_paths([tmp_path], Config()).findings == []


def test_a_hydra_target_through_a_re_export_and_its_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(PROJECTS / "hydra_target_deep", root)
    (root / "src" / "models" / "__init__.py").write_text("from .components.dense import DenseNet\n")
    config = root / "configs" / "model" / "dense.yaml"
    config.write_text(config.read_text().replace("components.dense.DenseNet", "DenseNet"))
    cache = tmp_path / "cache"
    (finding,) = lint_paths([root], Config(), cache_dir=cache).findings
    assert finding.depth == 8
    assert "_target_: src.models.DenseNet at configs/model/dense.yaml:3" in finding.message
    assert any(r.path and r.path.endswith("dense.yaml") and r.line == 3 for r in finding.related)
    seen = _linted(monkeypatch)
    config.write_text(config.read_text().replace("64, 64, 64, 64, 64, 64, 64, 64", "64, 64"))
    later = time.time() + 5
    os.utime(config, (later, later))
    assert lint_paths([root], Config(), cache_dir=cache).findings == []
    assert seen == ["dense.py"]
    other = config.read_text().replace("src.models.DenseNet", "elsewhere.DenseNet")
    config.write_text(other.replace("64, 64, 1]", "64, 64, 64, 64, 64, 64, 64, 64, 1]"))
    os.utime(config, (later + 5, later + 5))
    assert [f.code for f in lint_paths([root], Config()).findings] == ["GCK002"]  # not this one


def test_a_hydra_config_nested_past_the_parser_or_binary_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    shutil.copytree(PROJECTS / "hydra_target_deep", root)
    config = root / "configs" / "model" / "dense.yaml"
    nested = "[" * 300 + "]" * 300  # plain data, but past Python's parser as a literal
    config.write_text(config.read_text().replace("  dropout:", f"  extra: {nested}\n  dropout:"))
    (root / "configs" / "blob.yaml").write_bytes(b"\x00\xff _target_: src.models.X\n")
    result = lint_paths([root], Config())
    assert result.errors == []
    assert [f.depth for f in result.findings] == [8]


def test_editing_a_builder_call_relints_the_builder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "proj"
    shutil.copytree(PROJECTS / "builder_sites_deep", root)
    cache = tmp_path / "cache"
    assert [f.depth for f in lint_paths([root], Config(), cache_dir=cache).findings] == [8]
    seen = _linted(monkeypatch)
    train = root / "scripts" / "train.py"
    train.write_text(train.read_text().replace("64, 8)", "64, 2)"))
    later = time.time() + 5
    os.utime(train, (later, later))
    assert lint_paths([root], Config(), cache_dir=cache).findings == []
    assert sorted(seen) == ["nets.py", "train.py"]


def test_editing_a_caller_that_uses_a_renamed_export_relints_the_model(tmp_path: Path) -> None:
    """The callers looked up under a re-exported name (``Net`` for ``SquashStack``) are in the
    model file's cache key too."""
    project = _copy("rename_reexport_shallow", tmp_path)
    cache = tmp_path / "cache"
    assert lint_paths([project], Config(), cache_dir=cache).findings == []
    run = project / "scripts" / "run.py"
    run.write_text(run.read_text().replace("Model(32, depth=3)", "Model(32, depth=8)"))
    later = time.time() + 5
    os.utime(run, (later, later))
    (finding,) = lint_paths([project], Config(), cache_dir=cache).findings
    assert "Model(32, depth=8) at scripts/run.py:6" in (finding.depth_source or "")


def _unmarked(name: str, tmp_path: Path) -> Path:
    """A fixture project as a downloaded archive has it: no pyproject.toml, setup.cfg or .git."""
    project = _copy(name, tmp_path)
    (project / "pyproject.toml").unlink()
    if Project.for_file(str(project / "model.py")).root is not None:
        pytest.skip("the temporary folder is inside a project")
    return project


def test_a_folder_named_to_the_run_is_the_root_of_an_unmarked_project(tmp_path: Path) -> None:
    """A project with no root marker (a zip, a Colab folder): the folder the run names is its
    root, so a call site in a sibling script still fixes the depth; the model file named alone
    is a loose file (GCK002: nothing it reads fixes the depth)."""
    project = _unmarked("argparse_deep", tmp_path)
    (finding,) = lint_paths([project], Config()).findings
    assert finding.code == "GCK001" and finding.depth == 8
    assert "--n-layers default 8 at train.py:8" in (finding.depth_source or "")
    assert [f.code for f in lint_paths([project / "model.py"], Config()).findings] == ["GCK002"]
    shallow = _unmarked("argparse_shallow", tmp_path / "twin")
    assert lint_paths([shallow], Config()).findings == []


def test_the_cache_key_of_an_unmarked_file_covers_the_root_the_run_gives_it(
    tmp_path: Path,
) -> None:
    project = _unmarked("argparse_deep", tmp_path)
    cache = tmp_path / "cache"
    model = project / "model.py"
    codes = [
        [f.code for f in lint_paths([target], Config(), cache_dir=cache).findings]
        for target in (model, project, model, project)
    ]
    assert codes == [["GCK002"], ["GCK001"], ["GCK002"], ["GCK001"]]
