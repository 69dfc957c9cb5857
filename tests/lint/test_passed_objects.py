"""An object passed whole whose attributes or items hold the sizes (``MLP(args)``,
``get_model(args)`` then ``MLP(args.width, args.depth)``, ``MLP(cfg)`` of a config class or a
loaded YAML file): the class's reads (``args.depth``, ``cfg["model"]["depth"]``) are read in the
caller, where the options, the config class or the file say what they hold. The fixture pairs
are in ``test_project.py`` (``options_object``, ``wrapper_attr``, ``config_object``,
``yaml_object``); these are the edges."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths
from tests.lint.written import write_project

MODEL = """
    import torch.nn as nn


    class Net(nn.Module):
        def __init__(self, cfg):
            super().__init__()
            layers = []
            for _ in range(cfg.depth):
                layers += [nn.Linear(16, 16), nn.Sigmoid()]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x)
    """

TRAIN = """
    import argparse

    from model import Net

    parser = argparse.ArgumentParser()
    parser.add_argument("--{option}", type=int, default={depth})
    args = parser.parse_args()
    net = Net(args)
    """


def _found(root: Path, **config: object) -> list[tuple[str, int | None, str]]:
    result = lint_paths([root], Config(**config))  # type: ignore[arg-type]
    assert result.errors == []
    return [(f.code, f.depth, f.message) for f in result.findings]


def _write(path: Path, text: str) -> None:
    path.write_text(text)
    later = time.time() + 5  # a modification time no earlier run recorded
    os.utime(path, (later, later))


def test_an_attribute_the_options_do_not_hold_stays_unknown_by_its_name(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, {"model.py": MODEL, "train.py": TRAIN.format(option="layers", depth=8)}
    )
    ((code, depth, message),) = _found(root, max_saturating_depth=3)
    assert (code, depth) == ("GCK002", None)
    assert "'cfg.depth'" in message  # named as the class reads it


def test_the_option_that_holds_it_decides(tmp_path: Path) -> None:
    root = write_project(
        tmp_path, {"model.py": MODEL, "train.py": TRAIN.format(option="depth", depth=8)}
    )
    ((code, depth, message),) = _found(root)
    assert (code, depth) == ("GCK001", 8)
    assert "Net(args) at train.py:9 (--depth default 8 at train.py:7)" in message


def test_a_plain_name_passed_is_not_read_as_options(tmp_path: Path) -> None:
    train = """
        from model import Net

        settings = object()
        net = Net(settings)
        """
    root = write_project(tmp_path, {"model.py": MODEL, "train.py": train})
    assert [c for c, _, _ in _found(root, max_saturating_depth=3)] == ["GCK002"]


def test_an_item_of_a_literal_dict_given_to_a_wrapper(tmp_path: Path) -> None:
    model = MODEL.replace("range(cfg.depth)", "range(depth)").replace(
        "def __init__(self, cfg)", "def __init__(self, depth)"
    )
    model += """

    def build(settings):
        return Net(settings["depth"])
    """
    train = """
        from model import build

        net = build({"depth": 8, "width": 16})
        """
    root = write_project(tmp_path, {"model.py": model, "train.py": train})
    assert [(c, d) for c, d, _ in _found(root)] == [("GCK001", 8)]


def test_editing_the_config_file_relints_the_model(tmp_path: Path) -> None:
    model = MODEL.replace("range(cfg.depth)", 'range(cfg["model"]["depth"])')
    train = """
        import yaml

        from model import Net

        with open("config.yaml") as handle:
            cfg = yaml.safe_load(handle)
        net = Net(cfg)
        """
    root = write_project(tmp_path, {"model.py": model, "train.py": train})
    (root / "config.yaml").write_text("model:\n  depth: 8\n")
    cache = tmp_path / "cache"
    first = lint_paths([root], Config(), cache_dir=cache)
    assert [(f.code, f.depth) for f in first.findings] == [("GCK001", 8)]
    assert "depth = 8 from config.yaml (model.depth)" in first.findings[0].message
    _write(root / "config.yaml", "model:\n  depth: 3\n")
    assert lint_paths([root], Config(), cache_dir=cache).findings == []


def test_options_a_helper_returns_and_main_is_given(tmp_path: Path) -> None:
    train = """
        import argparse

        from model import Net


        def get_args():
            parser = argparse.ArgumentParser()
            parser.add_argument("--depth", type=int, default=8)
            return parser.parse_args()


        def main(args):
            return Net(args)


        if __name__ == "__main__":
            main(get_args())
        """
    root = write_project(tmp_path, {"model.py": MODEL, "train.py": train})
    ((code, depth, message),) = _found(root)
    assert (code, depth) == ("GCK001", 8)
    assert "Net(args) at train.py:14 (--depth default 8 at train.py:9)" in message


def test_hydra_main_passes_a_sub_config_whole(tmp_path: Path) -> None:
    main = """
        import hydra

        from model import Net


        @hydra.main(config_path="conf", config_name="config", version_base=None)
        def main(cfg):
            return Net(cfg.model)
        """
    root = write_project(tmp_path, {"model.py": MODEL, "main.py": main})
    (root / "conf").mkdir()
    (root / "conf" / "config.yaml").write_text("model:\n  depth: 8\n")
    ((code, depth, message),) = _found(root)
    assert (code, depth) == ("GCK001", 8)
    assert "Net(cfg.model) at main.py:9 (depth = 8 from conf/config.yaml (model.depth))" in message


def test_get_with_a_default_on_a_passed_mapping(tmp_path: Path) -> None:
    model = MODEL.replace("range(cfg.depth)", 'range(cfg.get("depth", 2))')
    train = """
        import json

        from model import Net

        with open("config.json") as handle:
            config = json.load(handle)
        net = Net(config["model"])
        """
    root = write_project(tmp_path, {"model.py": model, "train.py": train})
    (root / "config.json").write_text('{"model": {"depth": 8}}')
    assert [(c, d) for c, d, _ in _found(root)] == [("GCK001", 8)]
    (root / "config.json").write_text('{"model": {"width": 8}}')  # the default: 2
    assert _found(root, max_saturating_depth=3) == []


def test_a_parameter_annotated_with_a_config_class(tmp_path: Path) -> None:
    train = """
        from dataclasses import dataclass

        from model import Net


        @dataclass
        class TrainConfig:
            depth: int = 8


        def run(cfg: TrainConfig):
            return Net(cfg)
        """
    root = write_project(tmp_path, {"model.py": MODEL, "train.py": train})
    ((code, depth, message),) = _found(root)
    assert (code, depth) == ("GCK001", 8)
    assert "TrainConfig.depth default 8 at train.py:9" in message


def test_options_added_by_a_function_of_the_model_file(tmp_path: Path) -> None:
    """``add_model_args(parser)`` (an argument group) and ``Net.add_args(parser)`` (a static
    method), defined next to the model, called by the training script that parses."""
    model = """
        import torch.nn as nn


        def add_model_args(parser):
            group = parser.add_argument_group("model")
            group.add_argument("--depth", type=int, default=8)


        class Net(nn.Module):
            @staticmethod
            def add_args(parser):
                parser.add_argument("--width", type=int, default=16)

            def __init__(self, args):
                super().__init__()
                layers = []
                for _ in range(args.depth):
                    layers += [nn.Linear(args.width, args.width), nn.Sigmoid()]
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)
        """
    train = """
        import argparse

        import model

        parser = argparse.ArgumentParser()
        model.add_model_args(parser)
        model.Net.add_args(parser)
        args = parser.parse_args()
        net = model.Net(args)
        """
    root = write_project(tmp_path, {"model.py": model, "train.py": train})
    ((code, depth, message),) = _found(root)
    assert (code, depth) == ("GCK001", 8)
    assert "model.Net(args) at train.py:10 (--depth default 8 at model.py:7" in message


def test_odd_uses_of_a_passed_object_are_unknown_not_errors(tmp_path: Path) -> None:
    """Indexing, slicing, iterating, calling, ``vars()``, ``**``, arithmetic and deep chains on
    a passed options object, a YAML document, a JSON one and an option defined twice: each is
    unknown; nothing crashes and the file is still linted."""
    model = """
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self, args):
                super().__init__()
                a = args[0]
                b = args.depth.x
                c = getattr(args, "depth")
                d = vars(args)["depth"]
                e = len(args) + (args + 1)
                g = args.depth()
                h = args.a.b.c.d.e.f.g
                i = args[1:3]
                j = [k for k in args]
                k = args.get() or args.get(3, 4) or args.get("depth")
                self.other = Other(**vars(args))
                layers = []
                for _ in range(args.depth):
                    layers += [nn.Linear(8, 8), nn.Tanh()]
                self.body = nn.Sequential(*layers)
                self.args = args

            def forward(self, x):
                if self.args.depth > 2:
                    x = self.body(x)
                return x


        class Other(nn.Module):
            def __init__(self, depth=2, **kwargs):
                super().__init__()
                self.body = nn.Sequential(*[nn.Sigmoid() for _ in range(depth)])

            def forward(self, x):
                return self.body(x)
        """
    train = """
        import argparse
        import json

        import yaml

        from model import Net

        parser = argparse.ArgumentParser()
        parser.add_argument("--depth", type=int, default=8)
        parser.add_argument("--depth", type=int, default=9)
        args = parser.parse_args()
        net = Net(args)
        with open("c.yaml") as f:
            cfg = yaml.safe_load(f)
        net2 = Net(cfg)
        net3 = Net(cfg["model"])
        with open("c.json") as f:
            doc = json.load(f)
        net4 = Net(doc)
        """
    root = write_project(tmp_path, {"model.py": model, "train.py": train})
    (root / "c.yaml").write_text("model: [1, 2]\ndepth: 5\n")
    (root / "c.json").write_text('{"depth": {"x": 1}}')
    result = lint_paths([root], Config(max_saturating_depth=3))
    assert result.errors == []
    assert [f.code for f in result.findings] == ["GCK002"]  # ``--depth`` twice: unknown
