"""The content-keyed cache and the process pool: same findings warm or cold, with any --jobs;
edits and config changes invalidate; a broken cache never breaks a run."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from gradcheck_kit import __version__
from gradcheck_kit.cli import main
from gradcheck_kit.config import Config
from gradcheck_kit.lint import engine, pool
from gradcheck_kit.lint.cache import _FORMAT as cache_format
from gradcheck_kit.lint.cache import CACHE_DIR_NAME, config_key
from gradcheck_kit.lint.engine import lint_paths
from gradcheck_kit.report.findings import LintResult

BAD = "import torch.nn as nn\nnet = nn.Sequential(*[nn.Sigmoid() for _ in range(5)])\n"


def cache_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("lint-*.json"))


def same(a: LintResult, b: LintResult) -> None:
    assert a.findings == b.findings
    assert a.errors == b.errors
    assert a.files_checked == b.files_checked


def forbid_linting(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> object:
        raise AssertionError("a cached file was linted again")

    monkeypatch.setattr(engine, "lint_bytes", fail)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "bad.py").write_text(BAD)
    (root / "good.py").write_text("x = 1\n")
    (root / "broken.py").write_text("def f(:\n")
    return root


def test_warm_run_reads_the_cache_and_agrees(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    cold = lint_paths([tree], cache_dir=cache)
    assert len(cold.findings) == 1 and len(cold.errors) == 1
    (written,) = cache_files(cache)
    assert (cache / ".gitignore").read_text().splitlines()[-1] == "*"
    with monkeypatch.context() as patched:
        forbid_linting(patched)
        warm = lint_paths([tree], cache_dir=cache)
        same(cold, warm)
        # Named differently (relative path): same entries, findings carry the new name.
        patched.chdir(tree.parent)
        relative = lint_paths(["src"], cache_dir=cache)
    assert [f.path for f in relative.findings] == [os.path.join("src", "bad.py")]
    assert relative.errors[0].path == os.path.join("src", "broken.py")
    assert cache_files(cache) == [written]


def test_an_edit_changes_that_files_findings(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lint_paths([tree], cache_dir=cache)
    (tree / "good.py").write_text(BAD.replace("net", "other"))
    (tree / "bad.py").write_text("x = 2\n")
    result = lint_paths([tree], cache_dir=cache)
    assert [Path(f.path).name for f in result.findings] == ["good.py"]
    assert result == lint_paths([tree])  # and agrees with an uncached run


def test_config_change_invalidates(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    lint_paths([tree], cache_dir=cache)
    strict = Config(max_saturating_depth=6)
    assert config_key(strict) != config_key(Config())
    assert lint_paths([tree], strict, cache_dir=cache).findings == []
    assert len(cache_files(cache)) == 2
    ignored = Config(per_file_ignores={"bad.py": ("GCK001",)}, source=tree / "pyproject.toml")
    assert lint_paths([tree], ignored, cache_dir=cache).findings == []
    with monkeypatch.context() as patched:  # back to the first config: all from the cache
        forbid_linting(patched)
        assert len(lint_paths([tree], cache_dir=cache).findings) == 1


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[1, 2]",
        json.dumps({"format": 99, "key": "x", "files": {}}),
        "KEY",  # the right key and format, damaged entries
    ],
)
def test_corrupt_or_foreign_cache_is_ignored_and_rewritten(
    tree: Path, tmp_path: Path, content: str
) -> None:
    cache = tmp_path / "cache"
    expected = lint_paths([tree])
    lint_paths([tree], cache_dir=cache)
    (path,) = cache_files(cache)
    if content == "KEY":
        key = config_key(Config())
        damaged = {str((tree / name).resolve()): {"sha256": None} for name in ("bad.py", "good.py")}
        damaged[str((tree / "bad.py").resolve())] = {"sha256": "x", "findings": [{"what": 1}]}
        content = json.dumps(
            {"format": cache_format, "tool": __version__, "key": key, "files": damaged}
        )
    path.write_text(content)
    same(lint_paths([tree], cache_dir=cache), expected)
    data = json.loads(path.read_text())
    assert data["format"] == cache_format and len(data["files"]) == 3
    same(lint_paths([tree], cache_dir=cache), expected)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write to read-only directories")
def test_unwritable_cache_is_not_an_error(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "ro"
    cache.mkdir()
    cache.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        same(lint_paths([tree], cache_dir=cache), lint_paths([tree]))
    finally:
        cache.chmod(stat.S_IRWXU)


def test_cache_dir_that_is_a_file_is_not_an_error(tree: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "cache"
    blocker.write_text("not a directory")
    same(lint_paths([tree], cache_dir=blocker), lint_paths([tree]))
    same(lint_paths([tree], cache_dir=blocker / "below"), lint_paths([tree]))


def test_cli_cache_location_and_no_cache(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tree / "pyproject.toml").write_text("[tool.gradcheck-kit]\nmax-saturating-depth = 3\n")
    monkeypatch.chdir(tmp_path)
    assert main(["lint", "--no-cache", "src"]) == 1
    assert not (tree / CACHE_DIR_NAME).exists() and not (tmp_path / CACHE_DIR_NAME).exists()
    assert main(["lint", "src"]) == 1  # default: next to the config file
    assert len(cache_files(tree / CACHE_DIR_NAME)) == 1
    assert main(["lint", "--cache-dir", "elsewhere", "src/good.py"]) == 0
    assert len(cache_files(tmp_path / "elsewhere")) == 1
    capsys.readouterr()


def test_deleted_files_leave_the_cache(tree: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    lint_paths([tree], cache_dir=cache)
    (tree / "good.py").unlink()
    (tree / "bad.py").write_text("x = 3\n")  # something to write back
    lint_paths([tree / "bad.py"], cache_dir=cache)
    entries = json.loads(cache_files(cache)[0].read_text())["files"]
    assert sorted(Path(p).name for p in entries) == ["bad.py", "broken.py"]


def many_files(root: Path, count: int = 48) -> None:
    """Enough files and bytes that the engine starts a process pool."""
    for i in range(count):
        body = BAD.replace("range(5)", f"range({3 + i % 4})") if i % 3 else "y = 1\n" * 1000
        (root / f"m{i:02d}.py").write_text(f"# file {i}\n" + body + "z = 0\n" * 40)
    (root / "broken.py").write_text("def f(:\n")


@pytest.mark.parametrize("jobs", [2, 3])
def test_findings_identical_for_any_jobs(tmp_path: Path, jobs: int) -> None:
    many_files(tmp_path)
    serial = lint_paths([tmp_path], jobs=1)
    assert len(serial.findings) > 10
    parallel = lint_paths([tmp_path], jobs=jobs)
    same(serial, parallel)
    assert parallel.findings == sorted(parallel.findings, key=lambda f: f.sort_key())


def test_pool_is_used_for_large_trees(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    many_files(tmp_path)
    started: list[int] = []
    real = pool.ProcessPoolExecutor

    def spy(*args: object, **kwargs: object) -> object:
        started.append(int(kwargs["max_workers"]))  # type: ignore[call-overload]
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pool, "ProcessPoolExecutor", spy)
    lint_paths([tmp_path], jobs=2)
    assert started == [2]
    lint_paths([tmp_path / "m01.py", tmp_path / "m02.py"], jobs=2)  # small: in process
    assert started == [2]


def test_cli_jobs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    many_files(tmp_path)
    outputs = []
    for jobs in ("1", "2"):
        main(["lint", "--no-cache", "--format", "json", "--jobs", jobs, str(tmp_path)])
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1]
    assert main(["lint", "--jobs", "0", str(tmp_path)]) == 2
    assert "--jobs must be at least 1" in capsys.readouterr().err


def test_permission_denied_on_write_is_not_an_error(
    tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def denied(path: object, text: str, **options: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("gradcheck_kit.lint.cache.write_atomic", denied)
    same(lint_paths([tree], cache_dir=tmp_path / "cache"), lint_paths([tree]))


def test_file_reached_through_a_directory_symlink_is_linted_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a project root: without a marker, the folder each run names is the file's root, and
    # naming ``alias`` (really ``real``) instead of ``tmp_path`` is another root, another key
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "real").mkdir()
    (tmp_path / "real" / "model.py").write_text(BAD)
    os.symlink("real", tmp_path / "alias")  # the same directory under a second name
    os.symlink("real/model.py", tmp_path / "link.py")  # and the same file
    cache = tmp_path / "cache"
    cold = lint_paths([tmp_path], Config(), cache_dir=cache)
    assert cold.files_checked == 1 and [f.code for f in cold.findings] == ["GCK001"]
    # the cache is keyed on the resolved file: linting through the alias hits the same entry
    forbid_linting(monkeypatch)
    warm = lint_paths([tmp_path / "alias"], Config(), cache_dir=cache)
    assert warm.files_checked == 1 and [f.code for f in warm.findings] == ["GCK001"]


def test_a_run_without_a_pool_never_imports_multiprocessing(tmp_path: Path) -> None:
    """A pre-commit run of a file or two starts no pool: the pool's imports are not paid."""
    import subprocess
    import sys

    many_files(tmp_path)
    code = (
        "import sys\n"
        "from gradcheck_kit.cli import main\n"
        f"main(['lint', '--no-cache', '--exit-zero', {str(tmp_path / 'm01.py')!r}])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('multiprocessing', 'concurrent')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"
