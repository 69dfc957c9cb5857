"""The hostile-input matrix: every way a user's tree, target or CI can try to make the tool lose
results, hang or pass a gate unchecked, run through the real CLI in one command.

Prints one row per case: what it tries, whether the outcome is the one promised (the exit code
and the words that name the cause), the exit code, the wall time and the peak memory of the
``gradcheck-kit`` process. Exits 1 when any case breaks its promise. Usage::

    python bench/hostile_matrix.py [--only NAME ...] [--pythonpath CHECKOUT]

Runtime cases need torch and hypothesis; they are listed as ``skipped`` without them.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(8)])\n"
GOOD = "import torch.nn as nn\nnet = nn.Sequential(nn.Linear(2, 2), nn.ReLU())\n"
FACTORY = """
import torch
from torch import nn

def make(depth):
    {body}
    return nn.Sequential(*[m for _ in range(depth) for m in (nn.Linear(8, 8), nn.ReLU())])
"""


@dataclass
class Case:
    name: str
    tries: str
    setup: Callable[[Path], None]
    args: list[str]
    exit_codes: tuple[int, ...]
    words: tuple[str, ...] = ()  # each must appear in stdout + stderr
    runtime: bool = False
    limit_s: float = 120.0
    env: dict[str, str] = field(default_factory=dict)


def files(**contents: str | bytes) -> Callable[[Path], None]:
    def setup(root: Path) -> None:
        for name, text in contents.items():
            path = root / name.replace("__", "/")
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(text, bytes):
                path.write_bytes(text)
            else:
                path.write_text(text, encoding="utf-8")

    return setup


def target(body: str) -> Callable[[Path], None]:
    return files(**{"model.py": FACTORY.format(body=body), "good.py": GOOD})


def nested(depth: int) -> Callable[[Path], None]:
    return files(**{"deep.py": "x = " + "f(" * depth + ")" * depth + "\n", "bad.py": BAD})


def huge_sequential(layers: int) -> Callable[[Path], None]:
    body = ", ".join(["nn.Linear(4, 4), nn.Tanh()"] * (layers // 2))
    return files(**{"big.py": f"import torch.nn as nn\nnet = nn.Sequential({body})\n"})


def unreadable_subdir(root: Path) -> None:
    files(**{"bad.py": BAD, "locked__inner.py": BAD})(root)
    (root / "locked").chmod(0)


def symlink_loop(root: Path) -> None:
    files(**{"bad.py": BAD})(root)
    (root / "loop").symlink_to(root / "loop")


def planted_cache(root: Path) -> None:
    files(**{"bad.py": BAD})(root)
    cache = root / ".gradcheck_cache"
    cache.mkdir()
    (cache / "cache.json").write_text(json.dumps({"entries": {"bad.py": [1, "x", None]}}))


CHECK = ["check", "model.py:make", "--input-shape", "4,8", "--max-examples", "3", "--seed", "0"]

CASES = [
    Case("syntax-error", "one file does not parse", files(**{"a.py": "def (:\n", "bad.py": BAD}),
         ["lint", "--no-cache", "."], (1, 2), ("a.py", "syntax error", "GCK001")),
    Case("non-utf8", "a Latin-1 file", files(**{"a.py": b"x = '\xe9'\n", "bad.py": BAD}),
         ["lint", "--no-cache", "."], (1, 2), ("a.py", "GCK001")),
    Case("nested-1000", "1000 nested calls", nested(1000), ["lint", "--no-cache", "."],
         (1, 2), ("deep.py", "GCK001")),
    Case("nested-3000", "3000 nested calls, -j2", nested(3000),
         ["lint", "--no-cache", "-j", "2", "."], (1, 2), ("deep.py", "GCK001")),
    Case("sequential-50k", "a 50,000-layer nn.Sequential", huge_sequential(50_000),
         ["lint", "--no-cache", "."], (1,), ("GCK001",)),
    Case("symlink-loop-sarif", "a symlink loop, SARIF", symlink_loop,
         ["lint", "--no-cache", "--format", "sarif", "."], (1, 2), ("GCK001",)),
    Case("unreadable-subdir", "a subdirectory without read permission", unreadable_subdir,
         ["lint", "--no-cache", "."], (1, 2), ("locked", "GCK001")),
    Case("excluded-explicit", "an explicitly named file under an excluded directory",
         files(**{"site-packages__bad.py": BAD}),
         ["lint", "--no-cache", "site-packages/bad.py"], (1,), ("GCK001",)),
    Case("missing-path", "a path that does not exist", files(**{"bad.py": BAD}),
         ["lint", "--no-cache", "nope.py", "bad.py"], (1, 2), ("nope.py", "GCK001")),
    Case("nothing-found", "no Python file at all", files(**{"notes.txt": "x"}),
         ["lint", "--no-cache", "."], (0,), ("no Python files",)),
    Case("planted-cache", "a cache file with wrong types", planted_cache, ["lint", "."],
         (1,), ("GCK001",)),
    Case("noqa-in-string", "# noqa inside a string literal",
         files(**{"bad.py": BAD.replace("\n", "  # x\n", 1) + "s = '# noqa'\n"}),
         ["lint", "--no-cache", "."], (1,), ("GCK001",)),
    Case("config-typo", "a misspelt key in [tool.gradcheck-kit]",
         files(**{"pyproject.toml": "[tool.gradcheck-kit]\nselec = ['GCK001']\n", "bad.py": BAD}),
         ["lint", "--no-cache", "."], (2,), ("selec", "select")),
    Case("target-sys-exit", "a target that calls sys.exit(0)", target("import sys; sys.exit(0)"),
         CHECK, (1, 2), ("sys.exit",), runtime=True),
    Case("target-os-exit", "a target that calls os._exit(0)", target("import os; os._exit(0)"),
         CHECK, (1, 2), ("os._exit",), runtime=True),
    Case("target-raises", "a factory that raises", target("raise ValueError('broken factory')"),
         CHECK, (1, 2), ("broken factory",), runtime=True),
    Case("target-nan", "a model that returns NaN",
         files(**{"model.py": "import torch\nfrom torch import nn\n\nclass M(nn.Module):\n"
                  "    def __init__(self, d):\n        super().__init__()\n"
                  "        self.l = nn.Linear(8, 8)\n\n    def forward(self, x):\n"
                  "        return self.l(x) * float('nan')\n\ndef make(depth):\n"
                  "    return M(depth)\n"}),
         CHECK, (1,), ("NaN",), runtime=True),
    Case("isolated-segfault", "a target that segfaults, --isolate",
         target("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"),
         [*CHECK, "--isolate"], (1, 2), ("segmentation fault",), runtime=True),
    Case("isolated-hang-import", "a target that hangs at import, --isolate",
         files(**{"model.py": "import time\ntime.sleep(600)\ndef make(depth):\n    pass\n"}),
         [*CHECK, "--isolate", "--timeout", "3"], (1, 2), ("time limit",), runtime=True),
    Case("isolated-swallow", "a target that swallows the time limit, --isolate",
         target("import time\n    try:\n        time.sleep(600)\n    except BaseException:\n"
                "        time.sleep(600)"),
         [*CHECK, "--isolate", "--timeout", "2"], (1, 2), ("no progress",), runtime=True),
]  # fmt: skip


def run_case(case: Case, pythonpath: str | None) -> dict[str, object]:
    """Run one case; call it in a fresh process, so that the peak memory of children is the
    peak of this case's ``gradcheck-kit`` alone."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        case.setup(root)
        env = {**os.environ, **case.env, "GRADCHECK_KIT_DATABASE": "none"}
        if pythonpath:
            env["PYTHONPATH"] = pythonpath
        command = [sys.executable, "-m", "gradcheck_kit", *case.args]
        start = time.perf_counter()
        try:
            done = subprocess.run(
                command, cwd=root, env=env, capture_output=True, text=True, timeout=case.limit_s
            )
            code: int | None = done.returncode
            output = done.stdout + done.stderr
        except subprocess.TimeoutExpired:
            code, output = None, ""
        finally:
            for path in root.rglob("*"):  # give permissions back so the temp dir can go
                if path.is_dir() and not path.is_symlink():
                    path.chmod(0o755)
        ok = code in case.exit_codes and all(w in output for w in case.words)
        return {
            "outcome": "HUNG" if code is None else ("ok" if ok else "BROKEN"),
            "code": code,
            "seconds": time.perf_counter() - start,
            "peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            "output": output,
        }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--pythonpath")
    parser.add_argument("--show", action="store_true", help="print the output of broken cases")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one case, print JSON
    args = parser.parse_args(argv)
    if args.one:
        case = next(c for c in CASES if c.name == args.one)
        print(json.dumps(run_case(case, args.pythonpath)))
        return 0
    try:
        import hypothesis  # noqa: F401
        import torch  # noqa: F401

        runtime = True
    except ImportError:
        runtime = False
    print(f"{'case':<22} {'tries':<54} {'outcome':<8} {'exit':>4} {'s':>6} {'peak MB':>8}")
    broken = 0
    for case in CASES:
        if args.only and case.name not in args.only:
            continue
        if case.runtime and not runtime:
            print(f"{case.name:<22} {case.tries:<54} {'skipped':<8}")
            continue
        command = [sys.executable, __file__, "--one", case.name]
        if args.pythonpath:
            command += ["--pythonpath", args.pythonpath]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        try:
            row = json.loads(done.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            row = {"outcome": "CRASHED", "code": None, "seconds": 0, "peak_mb": 0,
                   "output": done.stderr}  # fmt: skip
        broken += row["outcome"] != "ok"
        code = "-" if row["code"] is None else str(row["code"])
        print(
            f"{case.name:<22} {case.tries:<54} {row['outcome']:<8} {code:>4} "
            f"{row['seconds']:>6.1f} {row['peak_mb']:>8.0f}"
        )
        if row["outcome"] != "ok" and args.show:
            print("    " + str(row["output"])[-800:].replace("\n", "\n    "))
    return 1 if broken else 0


if __name__ == "__main__":
    sys.exit(main())
