"""Shell scripts that run a training file with options (``python train.py --layers 8`` in
``run.sh``): each run gives the file's argparse options its values, as another call site would,
and the deepest decides (``lint/shell_runs.py``)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.lint.shell_runs import _flags, _lines
from tests.lint.written import write_project

MODEL = """
    import torch.nn as nn


    class MLP(nn.Module):
        def __init__(self, width, depth, act):
            super().__init__()
            layers = []
            for _ in range(depth):
                layers += [nn.Linear(width, width), getattr(nn, act)()]
            self.body = nn.Sequential(*layers)

        def forward(self, x):
            return self.body(x)


    class Wide(nn.Module):
        def __init__(self, depth):
            super().__init__()
            self.body = nn.Sequential(*[nn.Sigmoid() for _ in range(depth)])

        def forward(self, x):
            return self.body(x)
    """

TRAIN = """
    import argparse

    from model import MLP, Wide

    parser = argparse.ArgumentParser()
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--act", required=True)
    args = parser.parse_args()
    if args.model == "mlp":
        net = MLP(args.width, args.layers, args.act)
    else:
        net = Wide(args.layers)
    """


def _found(root: Path, cache: Path | None = None) -> list[tuple[str, str | None, int | None]]:
    result = lint_paths([root], Config(max_saturating_depth=3), cache_dir=cache)
    assert result.errors == []
    return [(f.code, f.symbol, f.depth) for f in result.findings]


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        # the deepest run decides; ``--model mlp`` builds MLP, never Wide
        (
            "python train.py --act Sigmoid --layers 4\npython train.py --act=Sigmoid \\\n"
            "    --layers 8 --model mlp > log.txt\n",
            [("GCK001", "MLP", 8)],
        ),
        # a run of the other model: Wide is built 6 deep, MLP with the defaults only
        ("python3 -u ./train.py --model wide --act Tanh --layers 6\n", [("GCK001", "Wide", 6)]),
        # a shell variable, a loop's value, a commented line: nothing read; --act is unknown
        (
            "for L in 4 8; do\n  python train.py --act Sigmoid --layers $L\ndone\n"
            "# python train.py --act Sigmoid --layers 9\n",
            [],
        ),
        # another file of the same name elsewhere, a module run: not this one
        ("python other/train.py --act Sigmoid --layers 8\npython -m train --layers 8\n", []),
    ],
)
def test_runs_in_a_script(
    tmp_path: Path, script: str, expected: list[tuple[str, str, int]]
) -> None:
    root = write_project(tmp_path, {"model.py": MODEL, "train.py": TRAIN, "run.sh": script})
    (root / "other").mkdir()
    (root / "other" / "train.py").write_text("print(1)\n")
    assert _found(root) == expected


def test_editing_the_script_relints_the_model(tmp_path: Path) -> None:
    script = "python train.py --act Sigmoid --layers {n}\n"
    root = write_project(
        tmp_path, {"model.py": MODEL, "train.py": TRAIN, "run.sh": script.format(n=8)}
    )
    cache = tmp_path / "cache"
    assert _found(root, cache) == [("GCK001", "MLP", 8)]
    path = root / "run.sh"
    path.write_text(script.format(n=3))
    later = time.time() + 5
    os.utime(path, (later, later))
    assert _found(root, cache) == []


def test_the_message_names_the_script_line(tmp_path: Path) -> None:
    script = "#!/bin/sh\nset -e\npython train.py --act Sigmoid --layers 8\n"
    root = write_project(tmp_path, {"model.py": MODEL, "train.py": TRAIN, "scripts/run.sh": ""})
    (root / "scripts" / "run.sh").write_text(script.replace("train.py", "../train.py"))
    result = lint_paths([root], Config(max_saturating_depth=3))
    (finding,) = result.findings
    assert "--layers 8 at scripts/run.sh:3" in finding.message
    assert "--act 'Sigmoid' at scripts/run.sh:3" in finding.message


def test_lines_and_flags_as_the_shell_splits_them() -> None:
    text = 'a \\\n  b "c d" # e\nf \'g\n'
    assert _lines(text.replace("a", "python")) == [(1, ["python", "b", "c d"])]
    words = ["--a", "1", "--b=x", "--c", "--d", "-5", "6", "--e", "$X", "&&", "--f", "2"]
    assert _flags(words) == (("--a", ("1",)), ("--b", ("x",)), ("--d", ("-5", "6")))


def test_an_option_of_several_words_from_a_script(tmp_path: Path) -> None:
    """``--sizes 8 8 8 8 8`` for ``nargs="+"`` is the list of five, not its first word."""
    model = """
        import torch.nn as nn


        class Net(nn.Module):
            def __init__(self, sizes):
                super().__init__()
                layers = []
                for _ in range(len(sizes)):
                    layers += [nn.Linear(8, 8), nn.Sigmoid()]
                self.body = nn.Sequential(*layers)

            def forward(self, x):
                return self.body(x)
        """
    train = """
        import argparse

        from model import Net

        parser = argparse.ArgumentParser()
        parser.add_argument("--sizes", type=int, nargs="+", default=[16, 16])
        args = parser.parse_args()
        net = Net(args.sizes)
        """
    script = "python train.py --sizes 8 8 8 8 8\n"
    root = write_project(tmp_path, {"model.py": model, "train.py": train, "run.sh": script})
    assert _found(root) == [("GCK001", "Net", 5)]
