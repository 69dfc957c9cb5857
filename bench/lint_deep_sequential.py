"""Lint time of one ``nn.Sequential`` of N (Linear, Tanh) pairs, N = 1k, 10k, 100k (issue 20,
item 7: 50,000 layers took ~116 s while the run union rebuilt its seen-set at every layer).

Runs the CLI in a fresh process per size (``--no-cache``) and prints one line per size: layers,
wall seconds, seconds per 1k layers (flat when the analysis is linear). Usage::

    python bench/lint_deep_sequential.py [--sizes 1000,10000,100000]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def source(n: int) -> str:
    body = "".join("    nn.Linear(4, 4),\n    nn.Tanh(),\n" for _ in range(n))
    return f"import torch.nn as nn\n\nmodel = nn.Sequential(\n{body})\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    args = parser.parse_args()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    print(f"{'layers':>8}  {'seconds':>8}  {'s / 1k':>7}")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(x) for x in args.sizes.split(",")):
            path = Path(tmp) / f"seq{n}.py"
            path.write_text(source(n))
            argv = ["-m", "gradcheck_kit", "lint", "--no-cache", "-q", "--format", "concise"]
            start = time.perf_counter()
            subprocess.run([sys.executable, *argv, str(path)], env=env, capture_output=True)
            took = time.perf_counter() - start
            print(f"{2 * n:>8}  {took:>8.2f}  {took / (2 * n) * 1000:>7.3f}", flush=True)


if __name__ == "__main__":
    main()
