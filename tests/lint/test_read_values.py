"""Values a model reads from outside its expressions (issue 18): its own argparse defaults and
config files, and option strings parsed by ``split(",")`` in a caller. A value is followed only
where it is unambiguous; anything else stays unknown, never guessed."""

from __future__ import annotations

from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint.engine import lint_paths

MODEL = """\
import torch.nn as nn


class MLP(nn.Module):
    def __init__(self, sizes):
        super().__init__()
        layers = []
        for a, b in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(a, b), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)
"""

TRAIN = """\
import argparse

from model import MLP

parser = argparse.ArgumentParser()
parser.add_argument("--hidden", default="16,16,16,16,16,16,16")
args = parser.parse_args()
BODY
"""


def _depths(tmp_path: Path, body: str) -> list[tuple[str, int | None]]:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "model.py").write_text(MODEL)
    (tmp_path / "train.py").write_text(TRAIN.replace("BODY", body))
    result = lint_paths([tmp_path], Config(max_saturating_depth=3))
    assert result.errors == []
    return [(f.code, f.depth) for f in result.findings]


@pytest.mark.parametrize(
    ("body", "depth"),
    [
        ("MLP([int(x) for x in args.hidden.split(',')])", 6),
        ("s = args.hidden\nMLP(list(map(int, s.split(','))))", 6),
        ("sizes = [int(x) for x in args.hidden.split(',')]\nsizes.insert(0, 3)\nMLP(sizes)", 7),
        ("sizes = list(map(float, args.hidden.split(',')))\nsizes.append(1)\nMLP(sizes)", 7),
    ],
)
def test_a_parsed_option_string_gives_the_sizes(tmp_path: Path, body: str, depth: int) -> None:
    assert _depths(tmp_path, body) == [("GCK001", depth)]


@pytest.mark.parametrize(
    "body",
    [
        # grown inside a loop, a branch, or after the call: the length depends on what runs
        "sizes = list(map(int, args.hidden.split(',')))\nfor _ in range(2):\n"
        "    sizes.append(1)\nMLP(sizes)",
        "sizes = list(map(int, args.hidden.split(',')))\nif args:\n    sizes.append(1)\nMLP(sizes)",
        # bound twice, changed another way, or parsed by a function the linter does not read
        "sizes = []\nsizes = list(map(int, args.hidden.split(',')))\nMLP(sizes)",
        "sizes = list(map(int, args.hidden.split(',')))\nsizes.pop()\nMLP(sizes)",
        "sizes = list(map(parse, args.hidden.split(',')))\nMLP(sizes)",
        "MLP([int(x) for x in args.hidden.split(',') if x])",
    ],
)
def test_what_is_not_unambiguous_stays_unknown(tmp_path: Path, body: str) -> None:
    assert _depths(tmp_path, body) == [("GCK002", None)]


def test_a_config_value_read_in_the_model_file(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cfg.json").write_text('{"sizes": [8, 8, 8, 8, 8, 8]}')
    (tmp_path / "model.py").write_text(
        "import json\n" + MODEL + '\nnet = MLP(json.load(open("cfg.json"))["sizes"])\n'
    )
    (finding,) = lint_paths([tmp_path], Config(max_saturating_depth=3)).findings
    assert finding.depth == 5
    assert "sizes = [8, 8, 8, 8, 8, 8] from cfg.json (sizes)" in (finding.depth_source or "")


def test_a_broken_config_read_in_the_model_file_is_unknown(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "cfg.json").write_bytes(b"\xff\x00{")
    (tmp_path / "model.py").write_text(
        "import json\n" + MODEL + '\nnet = MLP(json.load(open("cfg.json"))["sizes"])\n'
    )
    result = lint_paths([tmp_path], Config(max_saturating_depth=3))
    assert [(f.code, f.depth) for f in result.findings] == [("GCK002", None)]
