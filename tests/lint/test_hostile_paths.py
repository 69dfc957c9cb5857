"""Hostile paths and planted files (issue 20, items 6-11): symlink loops in every format,
``# noqa`` outside comments, planted cache files, special output files, huge stacks and
unreadable or excluded paths."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gradcheck_kit.cli import main

BAD = "import torch.nn as nn\nm = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"


@pytest.mark.parametrize("fmt", ["github", "sarif", "json", "concise"])
def test_symlink_loop_in_every_format(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 6: Path.resolve raised RuntimeError in the github and sarif formats."""
    os.symlink("loop.py", tmp_path / "loop.py")
    (tmp_path / "bad.py").write_text(BAD)
    monkeypatch.chdir(tmp_path)
    code = main(["lint", "--no-cache", "--format", fmt, "."])
    out = capsys.readouterr().out
    assert code == 1
    assert "loop.py" in out
    assert "GCK001" in out
    if fmt == "sarif":
        log = json.loads(out)
        notes = log["runs"][0]["invocations"][0]["toolExecutionNotifications"]
        uris = [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes]
        assert uris == ["loop.py"]


def _lint(tmp_path: Path, source: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    target = tmp_path / "m.py"
    target.write_text(source)
    code = main(["lint", "--no-cache", "--format", "concise", str(target)])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


LAYERS = "import torch.nn as nn\nm = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])"


@pytest.mark.parametrize(
    "tail",
    [
        '; s = "# noqa"',
        "; s = '#noqa: GCK001'",
        '; s = """ # noqa """',
        "  # not a noqa",
    ],
)
def test_noqa_outside_a_comment_suppresses_nothing(
    tail: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Item 11: a ``# noqa`` in a string literal suppressed the finding."""
    code, out, _ = _lint(tmp_path, LAYERS + tail + "\n", capsys)
    assert code == 1 and "GCK001" in out


@pytest.mark.parametrize(
    "tail",
    [
        "  # noqa:",
        "  # noqa:GCK",
        "  # noqa: gck",
        "  # noqa: ,",
        "  # noqa-ish: GCK001",
        "  # noqa`",
    ],
)
def test_malformed_noqa_is_not_a_blanket_and_is_warned_about(
    tail: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _lint(tmp_path, LAYERS + tail + "\n", capsys)
    assert code == 1 and "GCK001" in out
    assert "m.py:2: invalid `# noqa` directive" in err


@pytest.mark.parametrize(
    "tail",
    [
        "  # noqa",
        "  #noqa",
        "  # noqa: GCK001",
        "  # noqa:GCK001",
        "  # noqa : GCK001",
        "  # NOQA",
        "  # noqa: E501, GCK001",
        "  # noqa: E501 GCK001 - reason",
        "  # type: ignore  # noqa: GCK001",
    ],
)
def test_well_formed_noqa_still_suppresses(
    tail: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _lint(tmp_path, LAYERS + tail + "\n", capsys)
    assert code == 0 and "GCK001" not in out
    assert "warning" not in err


def test_noqa_for_another_code_does_not_suppress(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _lint(tmp_path, LAYERS + "  # noqa: E501\n", capsys)
    assert code == 1 and "GCK001" in out and "warning" not in err


def test_file_level_noqa_inside_a_string_is_not_a_directive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = 'DOC = """\n# gradcheck-kit: noqa\n"""\n' + LAYERS + "\n"
    code, out, _ = _lint(tmp_path, source, capsys)
    assert code == 1 and "GCK001" in out
    code, out, _ = _lint(tmp_path, "# gradcheck-kit: noqa\n" + LAYERS + "\n", capsys)
    assert code == 0 and "GCK001" not in out


def _plant_and_lint(tree: Path, entry: dict[str, object]) -> list[tuple[int, str]]:
    """Plant ``entry`` for ``bad.py`` (in the format of every release) and lint with the cache."""
    import hashlib

    from gradcheck_kit import __version__
    from gradcheck_kit.config import Config
    from gradcheck_kit.lint.cache import CACHE_DIR_NAME, config_key
    from gradcheck_kit.lint.engine import lint_paths

    bad = tree / "bad.py"
    bad.write_text(BAD)
    digest = hashlib.sha256(bad.read_bytes()).hexdigest()
    key = config_key(Config())
    cache = tree / CACHE_DIR_NAME
    cache.mkdir(exist_ok=True)
    outcomes = []
    for fmt in (1, 2):
        files = {str(bad.resolve()): {"sha256": digest, **entry}}
        body = {"format": fmt, "tool": __version__, "key": key, "files": files}
        (cache / f"lint-{key}.json").write_text(json.dumps(body))
        result = lint_paths([tree], Config(), cache_dir=cache)
        outcomes.append((len(result.findings), " ".join(e.message for e in result.errors)))
    return outcomes


def test_planted_cache_cannot_hide_findings(tmp_path: Path) -> None:
    """Item 10: an entry with the file's content hash and no findings hid the finding."""
    outcomes = _plant_and_lint(tmp_path, {"findings": [], "error": None})
    assert outcomes == [(1, ""), (1, "")]


def test_planted_cache_with_a_guessed_stamp_still_needs_the_exact_mtime(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    size = bad.stat().st_size
    outcomes = _plant_and_lint(tmp_path, {"stamp": [size, 0], "findings": [], "error": None})
    assert outcomes == [(1, ""), (1, "")]


FINDING = {
    "code": "GCK001",
    "name": "x",
    "message": "m",
    "line": 1,
    "column": 1,
    "end_line": 1,
    "end_column": 2,
}


@pytest.mark.parametrize(
    "finding",
    [
        {**FINDING, "line": "1"},
        {**FINDING, "line": True},
        {**FINDING, "line": None},
        {**FINDING, "code": 5},
        {**FINDING, "activations": "Sigmoid"},
        {**FINDING, "activations": [1]},
        {**FINDING, "related": [{"line": 1}]},
        {**FINDING, "related": "x"},
        {**FINDING, "cell": "1"},
        {**FINDING, "depth": 1.5},
        {**FINDING, "unknown": 1},
        {"code": "GCK001"},
        "GCK001",
        None,
    ],
)
def test_cache_entries_of_the_wrong_types_are_misses_not_crashes(
    finding: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A valid stamp (as if this machine wrote it) and wrong types inside: a miss, linted again."""
    from gradcheck_kit.config import Config
    from gradcheck_kit.lint.cache import LintCache

    bad = tmp_path / "bad.py"
    bad.write_text(BAD)
    cache = LintCache(tmp_path / "c", Config())
    stamp = (bad.stat().st_size, bad.stat().st_mtime_ns)
    cache.entries[str(bad)] = {
        "sha256": "h",
        "stamp": list(stamp),
        "findings": [finding],
        "error": None,
    }
    assert cache.get(str(bad), "h", stamp) is None
    cache.entries[str(bad)] = {"sha256": "h", "stamp": list(stamp), "findings": [], "error": 5}
    assert cache.get(str(bad), "h", stamp) is None


def test_valid_cache_entries_are_still_hits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from gradcheck_kit.config import Config
    from gradcheck_kit.lint import engine
    from gradcheck_kit.lint.engine import lint_paths

    (tmp_path / "bad.py").write_text(BAD)
    cold = lint_paths([tmp_path], Config(), cache_dir=tmp_path / "c")

    def fail(*args: object) -> object:
        raise AssertionError("a cached file was linted again")

    monkeypatch.setattr(engine, "lint_bytes", fail)
    warm = lint_paths([tmp_path], Config(), cache_dir=tmp_path / "c")
    assert warm.findings == cold.findings and len(warm.findings) == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_a_fifo_planted_as_the_cache_file_does_not_block(tmp_path: Path) -> None:
    from gradcheck_kit.config import Config
    from gradcheck_kit.lint.cache import CACHE_DIR_NAME, config_key
    from gradcheck_kit.lint.engine import lint_paths

    (tmp_path / "bad.py").write_text(BAD)
    cache = tmp_path / CACHE_DIR_NAME
    cache.mkdir()
    os.mkfifo(cache / f"lint-{config_key(Config())}.json")
    result = lint_paths([tmp_path], Config(), cache_dir=cache)
    assert len(result.findings) == 1


def _lint_to(tmp_path: Path, output: str | Path) -> int:
    (tmp_path / "bad.py").write_text(BAD)
    return main(
        ["lint", "--no-cache", "--format", "json", "--output-file", str(output), str(tmp_path)]
    )


def test_output_file_through_a_symlink_keeps_the_link(tmp_path: Path) -> None:
    """Item 9: the symlink was replaced by a regular file and its target left stale."""
    real = tmp_path / "reports" / "lint.json"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.json"
    os.symlink(real, link)
    (tmp_path / "src").mkdir()
    _lint_to(tmp_path / "src", link)
    assert link.is_symlink()
    assert json.loads(real.read_text())["version"]


def test_output_file_keeps_the_mode_of_an_existing_file(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    out.write_text("old")
    out.chmod(0o600)
    (tmp_path / "src").mkdir()
    _lint_to(tmp_path / "src", out)
    assert out.stat().st_mode & 0o777 == 0o600
    assert json.loads(out.read_text())["files_checked"] == 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs")
def test_output_file_writes_into_a_fifo(tmp_path: Path) -> None:
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as handle:
            received.append(handle.read())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    (tmp_path / "src").mkdir()
    assert _lint_to(tmp_path / "src", fifo) == 1
    reader.join(10)
    assert fifo.is_fifo()  # still a FIFO, not replaced by a regular file
    assert json.loads(received[0])["files_checked"] == 1


def test_output_file_dev_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "src").mkdir()
    assert _lint_to(tmp_path / "src", "/dev/stdout") == 1
    assert json.loads(capsys.readouterr().out)["files_checked"] == 1


def test_output_file_dev_stdout_redirected_to_a_file(tmp_path: Path) -> None:
    """The shell's ``> file`` with ``--output-file /dev/stdout``: the file the shell opened is
    written (not replaced behind its back, nor reopened and truncated)."""
    import subprocess
    import sys

    (tmp_path / "bad.py").write_text(BAD)
    out = tmp_path / "out.json"
    with open(out, "wb") as handle:
        argv = ["lint", "--no-cache", "--format", "json", "--output-file", "/dev/stdout"]
        code = subprocess.call(
            [sys.executable, "-m", "gradcheck_kit", *argv, str(tmp_path / "bad.py")],
            stdout=handle,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
        )
    assert code == 1
    assert json.loads(out.read_text())["files_checked"] == 1


def test_cache_never_follows_a_planted_symlink(tmp_path: Path) -> None:
    from gradcheck_kit.config import Config
    from gradcheck_kit.lint.cache import CACHE_DIR_NAME, config_key
    from gradcheck_kit.lint.engine import lint_paths

    (tmp_path / "bad.py").write_text(BAD)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    cache = tmp_path / CACHE_DIR_NAME
    cache.mkdir()
    os.symlink(victim, cache / f"lint-{config_key(Config())}.json")
    lint_paths([tmp_path / "bad.py"], Config(), cache_dir=cache)
    assert victim.read_text() == "keep me"


def test_a_long_chain_of_unions_builds_its_layer_set_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 7: the union rebuilt the seen-set of every layer so far at each layer (quadratic)."""
    from gradcheck_kit.lint import analyze
    from gradcheck_kit.lint.sketch import Layer

    builds = []
    real = analyze._LayerIndex.__init__

    def counted(self: object, *args: object) -> None:
        builds.append(1)
        real(self, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(analyze._LayerIndex, "__init__", counted)
    run = analyze.EMPTY_RUN
    layers = [Layer("saturating", "tanh") for _ in range(5000)]
    for layer in layers:
        run = run + analyze.Run(1, (layer,))
    assert run.depth == 5000 and len(run.layers) == 5000
    assert len(builds) <= 2
    assert (run + analyze.Run(1, (layers[0],))).layers == run.layers  # still a set union
