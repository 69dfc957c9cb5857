"""What ``lint --fix`` costs over ``lint`` (issue 21: at most the lint time plus the libcst parse
of the files that have fixes), and that plain ``lint`` never imports libcst.

Generates a tree of ``--fixable`` files, each with several GCK005 findings that have a fix (safe:
a sigmoid/softmax written in the loss call; unsafe: the last ``nn.Sigmoid()`` of a Sequential,
``return torch.sigmoid(...)`` in ``forward``), and ``--clean`` files with nothing to fix. Then,
side by side in one process, alternating, ``--repeat`` rounds of

* ``lint``                        - ``gradcheck-kit lint --no-cache -j 1``
* ``lint --fix --unsafe-fixes``   - the same, applying every fix (the tree is restored after
  each round, outside the timing)

and prints the median of each and the ratio, with the two parts of the difference: a lint of the
fixable files alone (the fix loop lints each fixed file again: that is how a result is checked
to parse), and libcst's parse of them (the issue's budget: ``--fix`` may cost the lint plus that
parse). Finally it runs both in a fresh interpreter with ``-X importtime`` and reports whether
libcst was imported (neither should: a fix is a text edit). Usage:
``python bench/fix_speed.py [--fixable 40] [--clean 200] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gradcheck_kit.cli import main  # noqa: E402

FIXABLE = """import torch
import torch.nn as nn
import torch.nn.functional as F

head{i} = nn.Sequential(
    nn.Linear(64, 32),
    nn.ReLU(),
    nn.Linear(32, 1),
    nn.Sigmoid(),
)


class Net{i}(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(64, 10)

    def forward(self, x):
        return torch.softmax(self.body(x), dim=-1)


net{i} = Net{i}()
criterion = nn.BCEWithLogitsLoss()


def step(x, y, labels, optimizer):
    loss = criterion(head{i}(x), y)
    loss = loss + F.cross_entropy(net{i}(x), labels)
    loss = loss + criterion(torch.sigmoid(x.sum(-1, keepdim=True)), y)
    loss = loss + F.cross_entropy(F.softmax(x, dim=-1), labels)
    loss.backward()
    optimizer.step()
"""

CLEAN = """import torch
import torch.nn as nn


class Block{i}(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.LayerNorm(width))

    def forward(self, x):
        return x + self.body(x)


def step(model, x, y, optimizer):
    loss = nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
"""


def build(root: Path, fixable: int, clean: int) -> dict[Path, str]:
    files = {root / f"fix_{i:04d}.py": FIXABLE.format(i=i) for i in range(fixable)}
    files.update({root / f"clean_{i:04d}.py": CLEAN.format(i=i) for i in range(clean)})
    for path, text in files.items():
        path.write_text(text)
    return files


def timed(args: list[str]) -> tuple[float, int]:
    sink = io.StringIO()
    start = time.perf_counter()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        code = main(args)
    return time.perf_counter() - start, code


def imports_libcst(args: list[str], cwd: Path) -> bool:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "gradcheck_kit", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    return any(line.rstrip().endswith("| libcst") for line in done.stderr.splitlines())


def run(fixable: int, clean: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        files = build(root, fixable, clean)
        plain = ["lint", "--no-cache", "-j", "1", "--format", "concise", str(root)]
        fixing = [*plain[:1], "--fix", "--unsafe-fixes", *plain[1:]]
        _, code = timed(plain)  # warm up imports of both paths once
        _, _ = timed(fixing)
        build(root, fixable, clean)
        samples: dict[str, list[float]] = {"lint": [], "lint --fix --unsafe-fixes": []}
        fixed_exit = None
        for _ in range(repeat):
            seconds, _ = timed(plain)
            samples["lint"].append(seconds)
            seconds, fixed_exit = timed(fixing)
            samples["lint --fix --unsafe-fixes"].append(seconds)
            changed = sum(path.read_text() != text for path, text in files.items())
            assert changed == fixable, f"{changed} files fixed, expected {fixable}"
            build(root, fixable, clean)  # restore, untimed
        base = statistics.median(samples["lint"])
        print(f"tree: {fixable} fixable files (4 GCK005 each), {clean} clean; median of {repeat}")
        print(f"exit codes: lint {code}, lint --fix --unsafe-fixes {fixed_exit}")
        for name, values in samples.items():
            median = statistics.median(values)
            print(f"{name:28s} {median:7.3f} s   x{median / base:5.2f}")
        # the part of the difference: a second lint of the fixable files; and the budget's
        # reference, libcst's parse of them
        import libcst

        fixable_only = [*plain[:-1], *(str(p) for p in files if p.name.startswith("fix_"))]
        relint = statistics.median(timed(fixable_only)[0] for _ in range(repeat))
        start = time.perf_counter()
        for path, text in files.items():
            if path.name.startswith("fix_"):
                libcst.parse_module(text)
        parse = time.perf_counter() - start
        print(f"{'  lint of the fixable files':28s} {relint:7.3f} s   x{relint / base:5.2f}")
        print(f"{'  libcst parse of them':28s} {parse:7.3f} s   x{parse / base:5.2f}")
        fixing_time = statistics.median(samples["lint --fix --unsafe-fixes"])
        budget = base + parse
        print(
            f"budget (lint + libcst parse) {budget:7.3f} s: --fix is x{fixing_time / budget:.2f} of it"
        )
        plain_rel = ["lint", "--no-cache", "-j", "1", "."]
        print(f"plain lint imports libcst: {imports_libcst(plain_rel, root)}")
        build(root, fixable, clean)
        fix_rel = [*plain_rel[:1], "--fix", *plain_rel[1:]]
        print(f"lint --fix imports libcst: {imports_libcst(fix_rel, root)}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixable", type=int, default=40)
    parser.add_argument("--clean", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=5)
    options = parser.parse_args()
    run(options.fixable, options.clean, options.repeat)
