"""``gradcheck-kit lint`` at monorepo scale: process pool and cache, side by side in one run.

For each tree - a generated monorepo (``--files`` files, 16% of them model code, like
transformers) and any directories named with ``--tree`` (copied to a temp dir first, so the
default ``site-packages`` exclusion does not apply) - runs, as a user would (the CLI in a fresh
process, wall time, median of ``--repeat``):

* ``cold -j1``  - ``--no-cache --jobs 1``: the named baseline every ratio is against
* ``cold -jN``  - ``--no-cache --jobs N`` (N = ``--jobs``, default: available cores)
* ``warm -jN``  - the cache filled by a previous run, nothing changed
* ``edit1 -jN`` - the cache warm, one model file edited (what a pre-commit run costs)
* ``libcst parse`` - ``libcst.parse_module`` of every file, in one process: the baseline of
  issue #4's target (cold lint <= 0.5x of it); ``--no-parse`` skips it
* ``ast parse`` - the stdlib ``ast.parse`` of every file, in one process (the linter's own parse)
* ``TorchFix``  - ``torchfix DIR`` (``--torchfix CMD``, or ``torchfix`` on PATH), when installed
* ``ruff ALL``  - ``ruff check --select ALL --no-cache`` when ruff is installed

and checks that every run of gradcheck-kit reports the same findings. The cold runs and the
baselines run in interleaved rounds (a shared machine's speed drifts over minutes). Two ratio
columns: against ``cold -j1`` and against ``libcst parse``. Usage::

    python bench/lint_scale.py [--files 1500] [--repeat 3] [--jobs N] [--no-parse]
                               [--torchfix CMD] [--no-generated] [--tree DIR ...]
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MODEL = '''"""Model {i}."""
import torch
import torch.nn as nn
import torch.nn.functional as F

DEPTH = {depth}


class Block{i}(nn.Module):
    def __init__(self, width=64):
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, x):
        return x + torch.tanh(self.fc(self.norm(x)))


class Net{i}(nn.Module):
    def __init__(self, width=64, depth=DEPTH):
        super().__init__()
        layers = []
        for _ in range(depth):
            layers += [nn.Linear(width, width), {act}()]
        self.body = nn.Sequential(*layers)
        self.blocks = nn.ModuleList(Block{i}(width) for _ in range(4))
        self.head = nn.Linear(width, 10)

    def forward(self, x):
        x = self.body(x)
        for block in self.blocks:
            x = block(x)
        return F.log_softmax(self.head(x), dim=-1)
'''

UTIL = '''"""Utilities {i}."""
import json
import os


def load_{i}(path):
    with open(path) as handle:
        return json.load(handle)


class Registry{i}:
    def __init__(self):
        self.items = {{}}

    def add(self, key, value):
        if key in self.items:
            raise KeyError(key)
        self.items[key] = value
        return value

    def __len__(self):
        return len(self.items)
'''


def generate(root: Path, files: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    for i in range(files):
        package = root / f"pkg{i % 40:02d}"
        package.mkdir(parents=True, exist_ok=True)
        if rng.random() < 0.16:
            act = rng.choice(["nn.Sigmoid", "nn.Tanh", "nn.ReLU", "nn.SiLU"])
            text = MODEL.format(i=i, depth=rng.choice([2, 3, 6, 12]), act=act)
        else:
            text = "\n\n".join(UTIL.format(i=f"{i}_{k}") for k in range(rng.randint(1, 8)))
        (package / f"mod{i:05d}.py").write_text(text)


def copy_tree(source: Path, target: Path) -> None:
    for path in source.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        dest = target / path.relative_to(source)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)


def lint(root: Path, *flags: str) -> tuple[float, list[tuple[str, int, int]]]:
    command = [sys.executable, "-m", "gradcheck_kit", "lint", "--format", "json", "--exit-zero"]
    start = time.perf_counter()
    done = subprocess.run(  # from the parent: a tree's own modules must not shadow the stdlib
        [*command, *flags, root.name], cwd=root.parent, capture_output=True, text=True, check=True
    )
    seconds = time.perf_counter() - start
    data = json.loads(done.stdout)
    return seconds, [(f["path"], f["line"], f["column"]) for f in data["findings"]]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def bench_tree(name: str, root: Path, args: argparse.Namespace) -> None:
    files = sorted(root.rglob("*.py"))
    lines = sum(p.read_bytes().count(b"\n") for p in files)
    jobs = str(args.jobs)
    cache = root.parent / f"{root.name}-cache"
    results: dict[str, float] = {}
    reference: list[tuple[str, int, int]] | None = None

    def record(label: str, samples: list[tuple[float, list[tuple[str, int, int]]]]) -> None:
        nonlocal reference
        for _, findings in samples:
            if reference is None:
                reference = findings
            assert findings == reference, f"{label}: different findings"
        results[label] = median([s for s, _ in samples])

    sources = [p.read_bytes() for p in files]
    torchfix = args.torchfix or shutil.which("torchfix")
    ruff = shutil.which("ruff")
    ruff_command = [str(ruff), "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q", "."]
    # The cold runs and their baselines take turns, one round at a time: a shared machine's
    # speed drifts over minutes, and a ratio of medians from interleaved rounds follows it.
    cold: dict[str, list[tuple[float, list[tuple[str, int, int]]]]] = {"cold -j1": []}
    cold[f"cold -j{jobs}"] = []
    baselines: dict[str, list[float]] = {}
    for round_ in range(args.repeat):
        cold["cold -j1"].append(lint(root, "--no-cache", "--jobs", "1"))
        cold[f"cold -j{jobs}"].append(lint(root, "--no-cache", "--jobs", jobs))
        if args.parse:
            import libcst as cst

            baselines.setdefault("libcst parse", []).append(_parse_all(cst.parse_module, sources))
        baselines.setdefault("ast parse", []).append(_parse_all(ast.parse, sources))
        if torchfix and round_ < 2:
            baselines.setdefault("TorchFix", []).append(_external([*torchfix.split(), "."], root))
        if ruff:
            baselines.setdefault("ruff ALL", []).append(_external(ruff_command, root))
    for label, samples in cold.items():
        record(label, samples)
    shutil.rmtree(cache, ignore_errors=True)
    lint(root, "--cache-dir", str(cache), "--jobs", jobs)  # fill the cache
    record(
        f"warm -j{jobs}",
        [lint(root, "--cache-dir", str(cache), "--jobs", jobs) for _ in range(args.repeat)],
    )
    edited = next((p for p in files if b"nn.Module" in p.read_bytes()), files[0])
    edits = []
    for k in range(args.repeat):
        edited.write_text(edited.read_text() + f"\n# edit {k}\n")
        edits.append(lint(root, "--cache-dir", str(cache), "--jobs", jobs))
    record(f"edit1 -j{jobs}", edits)
    results.update((label, median(samples)) for label, samples in baselines.items())

    base = results["cold -j1"]
    parse = results.get("libcst parse")
    print(f"\n{name}: {len(files)} files, {lines} lines, {len(reference or [])} findings")
    print(f"  median of {args.repeat} (TorchFix: of 2), wall seconds; ratios vs cold -j1 and vs")
    print("  libcst parse-only (issue #4's target: cold lint <= 0.5x of it)")
    print(f"  {'case':<14}{'seconds':>10}{'x cold-j1':>11}{'x parse':>9}")
    for label, seconds in results.items():
        versus = f"{seconds / parse:>9.3f}" if parse else ""
        print(f"  {label:<14}{seconds:>10.3f}{seconds / base:>11.3f}{versus}")


def _parse_all(parse: Any, sources: list[bytes]) -> float:
    start = time.perf_counter()
    for source in sources:
        with contextlib.suppress(Exception):  # a file one cannot parse costs what it cost
            parse(source)
    return time.perf_counter() - start


def _external(command: list[str], root: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=root, capture_output=True, check=False)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1500, help="generated tree size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument(
        "--no-parse", dest="parse", action="store_false", help="skip the parse-only baselines"
    )
    parser.add_argument("--torchfix", help="TorchFix command (default: torchfix on PATH)")
    parser.add_argument("--no-generated", action="store_true", help="only the --tree dirs")
    parser.add_argument("--tree", action="append", type=Path, default=[], metavar="DIR")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {len(os.sched_getaffinity(0))} cores")
    with tempfile.TemporaryDirectory() as tmp:
        if not args.no_generated:
            generated = Path(tmp) / "monorepo"
            generate(generated, args.files)
            bench_tree(f"generated monorepo ({args.files} files)", generated, args)
        for tree in args.tree:
            target = Path(tmp) / tree.name
            copy_tree(tree, target)
            bench_tree(str(tree), target, args)


if __name__ == "__main__":
    main()
