"""Where the linter's time goes: why it interprets the stdlib tree and resolves names from
import tables.

Runs side by side, in one process, on one generated 16k-line model file (and on any files given
on the command line):

* ``ast.parse``               - the stdlib parser, which the linter uses
* ``libcst parse``            - libcst's parser alone (the baseline of issue #4's speed target)
* ``parse + positions``       - libcst's PositionProvider (what a libcst-based linter pays)
* ``parse + qualified names`` - libcst's QualifiedNameProvider (the alternative to import tables)
* ``lint_source``             - the whole linter (ast parse, interpretation, analysis, rules,
  positions of the findings)

Prints the median of ``--repeat`` runs of each and its ratio to ``lint_source``. Usage:
``python bench/lint_speed.py [--repeat 3] [FILE ...]``.
"""

from __future__ import annotations

import argparse
import ast
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider, QualifiedNameProvider

from gradcheck_kit import lint_source

BLOCK = '''
class Block{i}(nn.Module):
    """A residual tanh block."""

    def __init__(self, width=64, depth={d}, act=nn.Tanh):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), act()]
        self.body = nn.Sequential(*layers)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        h = self.body(self.norm(x))
        if self.training:
            h = F.dropout(h, 0.1)
        return x + torch.sigmoid(h) * h
'''


def generated_source(lines: int = 16_000) -> str:
    head = "import torch\nimport torch.nn as nn\nimport torch.nn.functional as F\n"
    parts = [head]
    i = 0
    while sum(p.count("\n") for p in parts) < lines:
        parts.append(BLOCK.format(i=i, d=2 + i % 5))
        i += 1
    return "".join(parts)


def timed(fn: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def bench(name: str, source: str, repeat: int) -> None:
    def positions() -> object:
        return MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True).resolve(
            PositionProvider
        )

    def qualified() -> object:
        return MetadataWrapper(cst.parse_module(source), unsafe_skip_copy=True).resolve(
            QualifiedNameProvider
        )

    cases: dict[str, Callable[[], object]] = {
        "ast.parse": lambda: ast.parse(source),
        "libcst parse": lambda: cst.parse_module(source),
        "parse + positions": positions,
        "parse + qualified names": qualified,
        "lint_source": lambda: lint_source(source),
    }
    results = {label: timed(fn, repeat) for label, fn in cases.items()}
    base = results["lint_source"]
    print(f"\n{name}: {source.count(chr(10))} lines, median of {repeat}")
    print(f"{'step':<26}{'seconds':>10}{'x lint_source':>16}")
    for label, seconds in results.items():
        print(f"{label:<26}{seconds:>10.3f}{seconds / base:>16.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    bench("generated model file", generated_source(), args.repeat)
    for path in args.files:
        bench(str(path), path.read_text(encoding="utf-8"), args.repeat)


if __name__ == "__main__":
    main()
