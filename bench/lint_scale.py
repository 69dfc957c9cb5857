"""``gradcheck-kit lint`` at monorepo scale: process pool and cache, side by side in one run.

For each tree - a generated monorepo (``--files`` files, 16% of them model code, like
transformers) and any directories named with ``--tree`` (copied to a temp dir first, so the
default ``site-packages`` exclusion does not apply) - runs, as a user would (the CLI in a fresh
process, wall time, median of ``--repeat``):

* ``cold -j1``  - ``--no-cache --jobs 1``: the named baseline every ratio is against
* ``cold -jN``  - ``--no-cache --jobs N`` (N = ``--jobs``, default: available cores)
* ``warm -jN``  - the cache filled by a previous run, nothing changed
* ``edit1 -jN`` - the cache warm, one model file edited (what a pre-commit run costs)
* ``libcst parse`` - ``libcst.parse_module`` of every file, in one process (``--parse``)
* ``ruff ALL``  - ``ruff check --select ALL --no-cache`` when ruff is installed

and checks that every run reports the same findings. Usage::

    python bench/lint_scale.py [--files 1500] [--repeat 3] [--jobs N] [--parse]
                               [--tree DIR ...]
"""

from __future__ import annotations

import argparse
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

    record("cold -j1", [lint(root, "--no-cache", "--jobs", "1") for _ in range(args.repeat)])
    record(f"cold -j{jobs}", [lint(root, "--no-cache", "--jobs", jobs) for _ in range(args.repeat)])
    shutil.rmtree(cache, ignore_errors=True)
    lint(root, "--cache-dir", str(cache), "--jobs", jobs)  # fill the cache
    record(
        f"warm -j{jobs}",
        [lint(root, "--cache-dir", str(cache), "--jobs", jobs) for _ in range(args.repeat)],
    )
    edited = next((p for p in files if b"nn.Module" in p.read_bytes()), files[0])
    samples = []
    for k in range(args.repeat):
        edited.write_text(edited.read_text() + f"\n# edit {k}\n")
        samples.append(lint(root, "--cache-dir", str(cache), "--jobs", jobs))
    record(f"edit1 -j{jobs}", samples)
    if args.parse:
        import libcst as cst

        start = time.perf_counter()
        for path in files:
            with contextlib.suppress(Exception):  # a file libcst cannot parse costs what it cost
                cst.parse_module(path.read_bytes())
        results["libcst parse"] = time.perf_counter() - start
    ruff = shutil.which("ruff")
    if ruff:
        samples_ruff = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            subprocess.run(
                [ruff, "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q", "."],
                cwd=root,
                capture_output=True,
                check=False,
            )
            samples_ruff.append(time.perf_counter() - start)
        results["ruff ALL"] = median(samples_ruff)

    base = results["cold -j1"]
    print(f"\n{name}: {len(files)} files, {lines} lines, {len(reference or [])} findings")
    print(f"  median of {args.repeat} (libcst parse: 1 run), wall seconds; ratio vs cold -j1")
    print(f"  {'case':<14}{'seconds':>10}{'ratio':>9}")
    for label, seconds in results.items():
        print(f"  {label:<14}{seconds:>10.3f}{seconds / base:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1500, help="generated tree size")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--parse", action="store_true", help="also time libcst parse-only")
    parser.add_argument("--tree", action="append", type=Path, default=[], metavar="DIR")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]}, {len(os.sched_getaffinity(0))} cores")
    with tempfile.TemporaryDirectory() as tmp:
        generated = Path(tmp) / "monorepo"
        generate(generated, args.files)
        bench_tree(f"generated monorepo ({args.files} files)", generated, args)
        for tree in args.tree:
            target = Path(tmp) / tree.name
            copy_tree(tree, target)
            bench_tree(str(tree), target, args)


if __name__ == "__main__":
    main()
