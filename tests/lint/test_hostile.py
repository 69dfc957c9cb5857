"""Hostile files: every one becomes an error entry naming it, the rest of the tree is still
linted, and nothing the linter reads is ever imported, executed or evaluated."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from gradcheck_kit.cli import main
from gradcheck_kit.config import Config
from gradcheck_kit.lint import engine
from gradcheck_kit.lint.discovery import discover
from gradcheck_kit.lint.engine import lint_paths

BAD = "import torch.nn as nn\nm = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"


def lint_json(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict]:
    code = main(["lint", "--format", "json", "--no-cache", *argv])
    return code, json.loads(capsys.readouterr().out)


def _hostile_tree(root: Path) -> dict[str, str]:
    """Write the hostile files; returns {file name: words its error message must contain}."""
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, words: str) -> None:
        (root / name).write_bytes(data)
        expected[name] = words

    put("syntax.py", b"def f(:\n    pass\n", "syntax error")
    put("latin1_undeclared.py", b"x = '\xe9'\n" + BAD.encode(), "utf-8")
    put("unknown_codec.py", b"# -*- coding: klingon -*-\n" + BAD.encode(), "encoding")
    put("wrong_codec.py", b"# coding: ascii\nx = '\xc3\xa9'\n" + BAD.encode(), "decode")
    put("binary.py", bytes(range(256)) * 4, "NUL")
    put("nul_in_source.py", BAD.encode() + b"\x00\n", "NUL")
    put("utf16.py", BAD.encode("utf-16"), "")  # a BOM Python does not read: any clear error
    # 20 000 chained attributes: a syntax tree deeper than any recursion limit
    put("deep_attr.py", ("import torch.nn as nn\nx = a" + ".b" * 20_000 + "\n").encode(), "deep")
    os.symlink("loop_b.py", root / "loop_a.py")
    os.symlink("loop_a.py", root / "loop_b.py")
    expected["loop_a.py"] = expected["loop_b.py"] = "symbolic links"
    os.symlink("nowhere.py", root / "dangling.py")
    expected["dangling.py"] = "not found"
    os.mkfifo(root / "fifo.py")  # reading it would block the run forever
    expected["fifo.py"] = "FIFO"
    # past CPython's own nesting limit (its tokenizer rejects it): an error, never skipped as
    # "newer syntax" after libcst spent gigabytes parsing it
    (root / "parens.py").write_text("x = " + "(" * 500 + "1" + ")" * 500 + "\n")
    expected["parens.py"] = "too deeply nested to analyse"
    (root / "subdir").mkdir()
    os.symlink("..", root / "subdir" / "up")  # a directory loop: walked once
    return expected


def _clean_but_strange(root: Path) -> None:
    """Files that are odd but valid: linted normally, no error."""
    (root / "empty.py").write_bytes(b"")
    (root / "only_bom.py").write_bytes(b"\xef\xbb\xbf")
    (root / "latin1_declared.py").write_bytes(
        "# -*- coding: latin-1 -*-\n# caf\xe9\n".encode("latin-1") + BAD.encode()
    )
    (root / "crlf.py").write_bytes(BAD.replace("\n", "\r\n").encode())
    (root / "lambdas.py").write_text("import torch.nn as nn\nf = " + "lambda: " * 300 + "1\n")
    (root / "with space é ü.py").write_text(BAD)
    (root / "模型").mkdir()
    (root / "模型" / "网络 net.py").write_text(BAD)


@pytest.mark.parametrize("jobs", [1, 2])
def test_hostile_files_are_errors_and_the_rest_is_linted(
    tmp_path: Path, jobs: int, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if jobs > 1:  # force the process pool even for this small tree
        monkeypatch.setattr(engine, "_MIN_BYTES_FOR_POOL", 0)
        monkeypatch.setattr(engine, "_MIN_FILES_PER_WORKER", 1)
    expected = _hostile_tree(tmp_path)
    _clean_but_strange(tmp_path)
    code, data = lint_json("--jobs", str(jobs), str(tmp_path), capsys=capsys)
    assert code == 1
    errors = {Path(e["path"]).name: e["message"] for e in data["errors"]}
    assert set(errors) == set(expected)
    for name, words in expected.items():
        assert words.lower() in errors[name].lower(), (name, errors[name])
    flagged = sorted(Path(f["path"]).name for f in data["findings"])
    assert flagged == ["crlf.py", "latin1_declared.py", "with space é ü.py", "网络 net.py"]


def test_error_entries_name_the_file_on_stderr_in_human_formats(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bad name ü.py").write_bytes(b"\x00")
    (tmp_path / "ok.py").write_text(BAD)
    assert main(["lint", "--no-cache", "--format", "json", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    assert "bad name ü.py: contains NUL bytes" in captured.err
    assert json.loads(captured.out)["findings"][0]["code"] == "GCK001"


def test_explicit_symlink_loop_argument_is_an_error_not_a_crash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    os.symlink("b.py", tmp_path / "a.py")
    os.symlink("a.py", tmp_path / "b.py")
    code, data = lint_json(str(tmp_path / "a.py"), capsys=capsys)
    assert code == 1
    assert [Path(e["path"]).name for e in data["errors"]] == ["a.py"]


def test_unreadable_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """chmod 000 stops everyone but root; as root, /proc/self/mem is a file whose read fails
    (EIO at offset 0) - a real unreadable file either way."""
    target = tmp_path / "secret.py"
    if os.geteuid() == 0:
        if not Path("/proc/self/mem").exists():
            pytest.skip("running as root without /proc: no way to make a file unreadable")
        os.symlink("/proc/self/mem", target)
    else:
        target.write_text(BAD)
        target.chmod(0)
    (tmp_path / "ok.py").write_text(BAD)
    code, data = lint_json(str(tmp_path), capsys=capsys)
    assert code == 1
    assert [Path(e["path"]).name for e in data["errors"]] == ["secret.py"]
    assert "cannot read" in data["errors"][0]["message"]
    assert [Path(f["path"]).name for f in data["findings"]] == ["ok.py"]


def test_file_deleted_while_the_run_is_in_flight(tmp_path: Path) -> None:
    for name in ("a.py", "b.py", "c.py"):
        (tmp_path / name).write_text(BAD)

    def delete_b_after_discovery(path: Path) -> bool:
        if path.name == "b.py":
            path.unlink()  # discovered, then gone before it is read
        return True

    result = lint_paths([tmp_path], Config(), only=delete_b_after_discovery)
    assert [Path(e.path).name for e in result.errors] == ["b.py"]
    assert "deleted during the run" in result.errors[0].message
    assert sorted(Path(f.path).name for f in result.findings) == ["a.py", "c.py"]


def test_file_deleted_between_discover_and_lint_with_the_cache(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text(BAD)
    (tmp_path / "b.py").write_text(BAD)
    files = list(discover([tmp_path], Config()))
    (tmp_path / "b.py").unlink()
    result = lint_paths(files, Config(), cache_dir=tmp_path / "cache")
    assert [(Path(e.path).name, e.message) for e in result.errors] == [
        ("b.py", "no such file or directory")  # one entry, not one per way of noticing
    ]
    assert [Path(f.path).name for f in result.findings] == ["a.py"]


def test_hundred_thousand_line_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """100k lines the prefilter rules out (a generated table) next to a real model file."""
    (tmp_path / "table.py").write_text("".join(f"x{i} = {i}\n" for i in range(100_000)))
    (tmp_path / "model.py").write_text(BAD)
    code, data = lint_json(str(tmp_path), capsys=capsys)
    assert code == 1 and data["errors"] == []
    assert [Path(f["path"]).name for f in data["findings"]] == ["model.py"]


@pytest.mark.slow
def test_hundred_thousand_line_file_with_a_model(tmp_path: Path) -> None:
    """The whole file goes through libcst (about 40 s on 2 cores): still flagged."""
    text = BAD + "".join(f"x{i} = {i}\n" for i in range(100_000))
    (tmp_path / "huge.py").write_text(text)
    result = lint_paths([tmp_path], Config())
    assert [f.code for f in result.findings] == ["GCK001"] and not result.errors


@pytest.mark.parametrize("pairs", [1000, pytest.param(4000, marks=pytest.mark.slow)])
def test_sequential_with_thousands_of_layers_is_flagged(tmp_path: Path, pairs: int) -> None:
    layers = "".join("    nn.Linear(8, 8),\n    nn.Tanh(),\n" for _ in range(pairs))
    (tmp_path / "wide.py").write_text(f"import torch.nn as nn\nm = nn.Sequential(\n{layers})\n")
    result = lint_paths([tmp_path], Config())
    assert not result.errors
    assert [(f.code, f.depth) for f in result.findings] == [("GCK001", pairs)]


@pytest.mark.parametrize(
    "expression",
    [
        "(" * 190 + "nn.Tanh()" + ")" * 190,  # below CPython's own 200-parenthesis limit
        "[" * 500 + "]" * 500,  # above it: libcst still parses
        "nn.Sequential(" * 150 + "nn.Tanh()" + ")" * 150,
        " + ".join(["nn.Tanh()"] * 3000),
        "not " * 2000 + "x",
        "-" * 3000 + "x",
    ],
    ids=["parens", "lists", "nested-calls", "long-sum", "not-chain", "unary-chain"],
)
def test_deeply_nested_expressions_never_crash(expression: str) -> None:
    findings, error = engine.lint_text(
        f"import torch.nn as nn\ny = {expression}\n", "x.py", Config()
    )
    assert error is None or "nested" in error.message or "syntax" in error.message
    assert findings == []


def test_recursion_errors_are_per_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "deep.py").write_text("import torch.nn as nn\nx = a" + ".b" * 30_000 + "\n")
    (tmp_path / "model.py").write_text(BAD)
    limit = sys.getrecursionlimit()
    code, data = lint_json("--jobs", "1", str(tmp_path), capsys=capsys)
    assert code == 1
    assert [(Path(e["path"]).name, "recursion" in e["message"]) for e in data["errors"]] == [
        ("deep.py", True)
    ]
    assert [Path(f["path"]).name for f in data["findings"]] == ["model.py"]
    assert sys.getrecursionlimit() == limit  # raised for the run only


# --------------------------------------------------------------------- never runs user code

HOSTILE_TOP_LEVEL = """\
import os, sys, pathlib
import torch.nn as nn
pathlib.Path({marker!r}).write_text("imported")
open({marker!r}, "a").write("opened")
__import__("os").system("touch " + {marker!r})
exec("open({marker!r}, 'w')")
eval("__import__('os')._exit(3)")


def fail(x=os._exit(4)):
    return x


@(lambda f: os._exit(5))
class Model(nn.Module):
    side_effect = sys.exit(6)

    def __init__(self, depth=os._exit(7)):
        super().__init__()
        self.net = nn.Sequential(*[nn.Sigmoid() for _ in range(int(os.environ.get("N", 9)))])


m = nn.Sequential(*[nn.Tanh() for _ in range(len(str(sys.exit(1))) + 8)])
N_LAYERS = 6
deep = nn.Sequential(*[nn.Sigmoid() for _ in range(N_LAYERS)])
sys.exit(2)
os._exit(9)
"""


def test_linting_never_imports_or_executes_the_file(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    (tmp_path / "evil.py").write_text(HOSTILE_TOP_LEVEL.format(marker=str(marker)))
    (tmp_path / "conftest.py").write_text(f"open({str(marker)!r}, 'w')\n")
    (tmp_path / "__init__.py").write_text("import sys; sys.exit(1)\n")
    before = set(sys.modules)
    result = lint_paths([tmp_path], Config())  # in this process: an exit would end the test
    assert not marker.exists()
    assert not result.errors
    assert any(f.code == "GCK001" and f.depth == 6 for f in result.findings)
    assert not {name for name in set(sys.modules) - before if "evil" in name or name == "conftest"}


# --------------------------------------------------------------------- internal errors, exit 2


def _explode(*args: object, **kwargs: object) -> None:
    raise ZeroDivisionError("simulated bug in the extractor")


def test_internal_error_on_one_file_exits_2_names_it_and_hints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.py").write_text(BAD)
    import gradcheck_kit.lint.interp.machine as extract_module

    monkeypatch.setattr(extract_module, "extract", _explode)
    assert main(["lint", "--no-cache", "--format", "concise", "-j", "1", str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert "model.py: error: internal error (ZeroDivisionError: simulated bug" in captured.out
    assert "please report it" in captured.out
    assert "internal error on" in captured.err and "model.py" in captured.err
    assert "--verbose" in captured.err and "Traceback" not in captured.err + captured.out

    assert main(["lint", "--no-cache", "--verbose", "--jobs", "1", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "simulated bug" in err


def test_internal_error_in_the_engine_is_a_short_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gradcheck_kit.commands.lint as command

    (tmp_path / "model.py").write_text(BAD)
    monkeypatch.setattr(command, "lint_paths", _explode)
    assert main(["lint", "--no-cache", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "internal error" in err and "report" in err and "Traceback" not in err


def test_audit_internal_error_is_a_short_message_and_verbose_shows_the_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import gradcheck_kit.commands.lint as lint_command  # audit lints through lint_changed

    (tmp_path / "model.py").write_text(BAD)
    monkeypatch.setattr(lint_command, "lint_paths", _explode)
    assert main(["audit", "--no-runtime", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "gradcheck-kit audit: internal error: ZeroDivisionError" in err
    assert "please report" in err and "Traceback" not in err
    assert main(["audit", "--no-runtime", "--verbose", str(tmp_path)]) == 2
    assert "Traceback (most recent call last)" in capsys.readouterr().err


def test_unwritable_output_file_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "model.py").write_text(BAD)
    out = tmp_path / "out"
    out.mkdir()  # a directory where the report file should go
    assert main(["lint", "--no-cache", "--output-file", str(out), str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "cannot write --output-file" in err and "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == []  # no temp file left behind


# --------------------------------------------------------------------- constant folding bounds

FOLDING_BOMBS = {
    "str_times_huge": "s = 'a' * 10**10\n",
    "bytes_times_huge": "b = b'x' * 10**10\n",
    "augmented_times": "s = 'x'\ns *= 10**10\n",
    "printf_width": "s = '%0999999999d' % 1\n",
    "square_in_a_loop": "n = 3\nfor _ in range(60):\n    n = n * n\n",
    "power_in_a_loop": "n = 10\nfor _ in range(10):\n    n **= 63\n",
    "doubling_string": "s = 'ab'\nfor _ in range(60):\n    s = s + s\n",
    "range_of_a_giant": "n = 10**63\nfor _ in range(4):\n    n = n**63\nk = len(range(n))\n",
}


def test_constant_folding_never_costs_memory_or_time(tmp_path: Path) -> None:
    """Folding runs on the syntax tree with bounded operands: in a process limited to 2 GiB of
    address space, every bomb is linted (the model after it still flagged) without an error."""
    import subprocess

    for name, bomb in FOLDING_BOMBS.items():
        (tmp_path / f"{name}.py").write_text(
            f"import torch.nn as nn\n{bomb}{BAD.split(chr(10))[1]}\n"
        )
    limit = (
        "import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30)); "
        "from gradcheck_kit.cli import main; sys.exit(main(sys.argv[1:]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", limit, "lint", "--no-cache", "-j1", "--format=json", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    data = json.loads(done.stdout)
    assert data["errors"] == []
    assert sorted(Path(f["path"]).stem for f in data["findings"]) == sorted(FOLDING_BOMBS)


def test_step_budget_spent_inside_a_branch_leaves_no_undo_frame_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An open frame outlived its file: every later file of the process recorded into it, so a
    long run kept every file's values alive (RSS 160 -> 540 MB over 1,200 transformers files)
    and slowed down as it went."""
    import gradcheck_kit.lint.interp.machine as extract_module
    from gradcheck_kit.lint.interp.values import JOURNAL

    monkeypatch.setattr(extract_module, "STEP_BUDGET", 60)
    body = "    layers = [nn.Tanh() for _ in range(50)]\n" * 5
    source = f"import sys\nimport torch.nn as nn\nif sys.argv:\n{body}else:\n{body}"
    engine.lint_text(source, "budget.py", Config())
    assert JOURNAL.frames == []


NEWER_SYNTAX = (
    "import torch.nn as nn\ntype Layers = list[nn.Module]\nnet = nn.Sequential(*[nn.Tanh()] * 8)\n"
)


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="this Python parses PEP 695 syntax")
def test_file_in_newer_syntax_is_skipped_not_an_error() -> None:
    # libcst (whose grammar follows the latest Python) confirms the file is valid; this Python
    # cannot analyse it, and says nothing rather than calling valid code broken
    findings, error = engine.lint_text(NEWER_SYNTAX, "new.py", Config())
    assert (findings, error) == ([], None)


def test_broken_file_is_reported_with_cpythons_message_and_position() -> None:
    findings, error = engine.lint_text("import torch\nx = (1,\ny = 2\n", "broken.py", Config())
    assert findings == [] and error is not None
    assert error.message.startswith("syntax error at 2:5: ")
