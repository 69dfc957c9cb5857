"""Deep nesting and dying workers (issue 20, item 5): a file past CPython's nesting limits is
one error entry, fast and small (libcst's parser is never tried on it: it took gigabytes and
segfaulted from ~2000 nested calls); a worker that dies takes down one file, not the run."""

from __future__ import annotations

import os
import signal
import warnings
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint import engine
from gradcheck_kit.lint.engine import lint_paths, lint_text

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(8)])\n"


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("x = " + "f(" * 3000 + ")" * 3000 + "\n", "too many nested parentheses"),
        ("x = " + "[" * 1000 + "]" * 1000 + "\n", "too many nested parentheses"),
        ("x = " + "-" * 200_000 + "1\n", "ran out of stack"),
        ("".join(" " * i + "if x:\n" for i in range(120)) + " " * 120 + "pass\n", "indentation"),
    ],
    ids=["calls", "lists", "unary", "indentation"],
)
def test_past_the_parsers_limits_is_one_error(source: str, words: str) -> None:
    findings, error = lint_text("import torch.nn as nn\n" + source, "deep.py", Config())
    assert findings == []
    assert error is not None and error.path == "deep.py"
    assert error.message.startswith("too deeply nested to analyse") and words in error.message


def test_user_syntax_warnings_do_not_leak() -> None:
    source = BAD + 'pattern = "\\d+"\n'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        findings, error = lint_text(source, "w.py", Config())
    assert error is None and [f.code for f in findings] == ["GCK001"]
    assert not [w for w in caught if issubclass(w.category, SyntaxWarning)]


def test_a_worker_that_dies_costs_one_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real crash: workers are forked from this process with a lint_bytes that kills its
    own process on one file, as a segfault in a C parser would."""
    if not hasattr(os, "fork"):
        pytest.skip("workers are forked only on POSIX")
    for i in range(40):
        (tmp_path / f"m{i:02d}.py").write_text(BAD + "# padding\n" * 400)
    (tmp_path / "crash.py").write_text(BAD)
    real = engine.lint_bytes

    def dies_on_crash_py(data: bytes, display: str, config: Config, *rest):  # type: ignore[no-untyped-def]
        if display.endswith("crash.py"):
            os.kill(os.getpid(), signal.SIGSEGV)
        return real(data, display, config, *rest)

    monkeypatch.setattr(engine, "lint_bytes", dies_on_crash_py)
    result = lint_paths([tmp_path], Config(), jobs=2)  # no cache_dir: no cache
    assert result.files_checked == 41
    (error,) = result.errors
    assert (
        error.path.endswith("crash.py") and "crashed the analyser (signal SIGSEGV)" in error.message
    )
    assert len(result.findings) == 40  # every other file's finding survived
