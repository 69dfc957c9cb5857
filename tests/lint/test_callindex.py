"""The call-site index (``lint/callindex.py``): kept in the cache directory across runs, and
part of a model file's cache key, so a caller added, removed or edited since the last run
re-lints the model file it builds - and nothing else is linted again."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from gradcheck_kit.config import Config
from gradcheck_kit.lint import callindex, engine
from gradcheck_kit.lint.engine import lint_paths
from tests.lint.spies import linted as _linted

PROJECTS = Path(__file__).resolve().parent.parent / "projects"
DEEP_CALLER = "from nets import SigmoidMLP\n\nnet = SigmoidMLP(64, depth=12)\n"


def _project(tmp_path: Path, *, train: bool = True) -> Path:
    target = tmp_path / "callsite_deep"
    shutil.copytree(PROJECTS / "callsite_deep", target)
    if not train:
        (target / "scripts" / "train.py").unlink()
    return target


def _write(path: Path, text: str) -> None:
    """Write ``text``, with a modification time no earlier run can have recorded."""
    path.write_text(text)
    later = time.time() + 5
    os.utime(path, (later, later))


def _indexed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many bytes the index read (one entry per file read)."""
    read: list[int] = []
    real = callindex._names

    def spy(data: bytes) -> str:
        read.append(len(data))
        return real(data)

    monkeypatch.setattr(callindex, "_names", spy)
    return read


def _depths(result: object) -> list[tuple[str, str, int | None]]:
    return [(f.code, Path(f.path).name, f.depth) for f in result.findings]  # type: ignore[attr-defined]


def test_a_caller_added_since_the_last_run_relints_the_model_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, train=False)
    cache = tmp_path / "cache"
    cold = lint_paths([project], Config(), cache_dir=cache)
    assert _depths(cold) == [("GCK002", "mlp.py", None)]  # no call fixes the depth
    seen = _linted(monkeypatch)
    _write(project / "scripts" / "deep.py", DEEP_CALLER)
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert sorted(seen) == ["deep.py", "mlp.py"]  # the new file, and the model it builds
    assert _depths(warm) == [("GCK001", "mlp.py", 12)]
    assert "at scripts/deep.py:3" in warm.findings[0].message
    seen.clear()
    assert _depths(lint_paths([project], Config(), cache_dir=cache)) == _depths(warm)
    assert seen == []  # and then it is a hit again


def test_a_caller_removed_since_the_last_run_relints_the_model_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    _write(project / "scripts" / "deep.py", DEEP_CALLER)
    assert _depths(lint_paths([project], Config(), cache_dir=cache)) == [("GCK001", "mlp.py", 12)]
    (project / "scripts" / "deep.py").unlink()
    seen = _linted(monkeypatch)
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert seen == ["mlp.py"]
    assert _depths(warm) == [("GCK001", "mlp.py", 8)]  # train.py's call decides now


def test_a_call_made_literal_in_a_file_that_did_not_contribute_relints_the_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path, train=False)
    cache = tmp_path / "cache"
    caller = project / "scripts" / "probe.py"
    _write(caller, "from nets import SigmoidMLP\n\nnet = SigmoidMLP(width, depth)\n")
    assert _depths(lint_paths([project], Config(), cache_dir=cache)) == [("GCK002", "mlp.py", None)]
    seen = _linted(monkeypatch)
    _write(caller, "from nets import SigmoidMLP\n\nnet = SigmoidMLP(64, 12)\n")
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert sorted(seen) == ["mlp.py", "probe.py"]
    assert _depths(warm) == [("GCK001", "mlp.py", 12)]


def test_editing_or_adding_a_file_that_does_not_name_the_model_relints_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    cold = lint_paths([project], Config(), cache_dir=cache)
    seen = _linted(monkeypatch)
    _write(project / "scripts" / "util.py", "def helper(x):\n    return max(x, 1)\n")
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert seen == ["util.py"]
    seen.clear()
    _write(project / "scripts" / "util.py", "def helper(x):\n    return min(x, 1)\n")
    assert lint_paths([project], Config(), cache_dir=cache).findings == warm.findings
    assert seen == ["util.py"]
    assert warm.findings == cold.findings


def test_touching_a_caller_without_changing_it_relints_only_the_caller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    train = project / "scripts" / "train.py"
    _write(train, train.read_text())
    seen = _linted(monkeypatch)
    lint_paths([project], Config(), cache_dir=cache)
    assert seen == ["train.py"]  # its own stamp changed; its content hash did not


def test_the_index_is_kept_in_the_cache_directory_and_only_changed_files_are_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (stored,) = cache.glob("callindex-*.json")
    saved = json.loads(stored.read_text())
    assert saved["root"] == str(project.resolve())
    assert {Path(p).name for p in saved["files"]} == {
        "__init__.py",
        "mlp.py",
        "train.py",
        "unrelated.py",
    }
    read = _indexed(monkeypatch)
    mlp = project / "nets" / "mlp.py"
    _write(mlp, mlp.read_text() + "\n")  # the model is linted again: it looks up call sites
    assert [f.depth for f in lint_paths([project], Config(), cache_dir=cache).findings] == [8]
    assert len(read) == 1  # the one changed file, not the project


def test_no_cache_keeps_the_index_in_memory(tmp_path: Path) -> None:
    project = _project(tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    cold = lint_paths([project], Config())
    assert [f.depth for f in cold.findings] == [8]
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written


@pytest.mark.parametrize(
    "planted",
    [b"", b"{", b"[]", b'{"format": 1, "files": 3}', b"\xff" * 100],
)
def test_a_broken_saved_index_is_rebuilt(tmp_path: Path, planted: bytes) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (stored,) = cache.glob("callindex-*.json")
    stored.write_bytes(planted)
    (cached,) = cache.glob("lint-*.json")
    cached.unlink()  # lint everything again, with the broken index
    result = lint_paths([project], Config(), cache_dir=cache)
    assert [f.depth for f in result.findings] == [8] and result.errors == []
    assert json.loads(stored.read_text())["files"]


def test_a_saved_entry_with_the_wrong_names_is_not_trusted_past_its_stamp(
    tmp_path: Path,
) -> None:
    """An entry is reused only while the file's size and time are the recorded ones."""
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (stored,) = cache.glob("callindex-*.json")
    saved = json.loads(stored.read_text())
    train = str((project / "scripts" / "train.py").resolve())
    saved["files"][train][1] -= 1  # another modification time: read again
    saved["files"][train][3] = " "  # names nothing
    stored.write_text(json.dumps(saved))
    (cached,) = cache.glob("lint-*.json")
    cached.unlink()
    assert [f.depth for f in lint_paths([project], Config(), cache_dir=cache).findings] == [8]


def _notebook_project(tmp_path: Path) -> Path:
    target = tmp_path / "notebook_caller_deep"
    shutil.copytree(PROJECTS / "notebook_caller_deep", target)
    return target


def test_a_notebook_that_starts_building_the_model_relints_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Notebooks are in the persisted index and in the model file's callers digest: a notebook
    whose call said nothing literal (so the model file consulted no notebook) and now fixes
    the depth re-lints the model file on a warm run."""
    project = _notebook_project(tmp_path)
    notebook = project / "notebooks" / "analysis.ipynb"
    text = notebook.read_text()
    _write(notebook, text.replace("Net(WIDTH, depth=8)", "Net(WIDTH, depth=DEPTH)"))
    cache = tmp_path / "cache"
    assert _depths(lint_paths([project], Config(), cache_dir=cache)) == [
        ("GCK002", "stack.py", None)
    ]
    seen = _linted(monkeypatch)
    _write(notebook, text)
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert sorted(seen) == ["analysis.ipynb", "stack.py"]
    assert _depths(warm) == [("GCK001", "stack.py", 8)]


def test_a_warm_run_does_not_read_unchanged_notebooks_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = _notebook_project(tmp_path)
    cache = tmp_path / "cache"
    cold = lint_paths([project], Config(), cache_dir=cache)
    (saved,) = cache.glob("callindex-*.json")
    assert any(path.endswith("analysis.ipynb") for path in json.loads(saved.read_text())["files"])
    read = _indexed(monkeypatch)
    helper = project / "lab" / "helpers.py"
    _write(helper, "WIDTH = 32\n")  # a new file: the index is brought up to date
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert read == [len(helper.read_bytes())]  # the new file only, not the notebook
    assert warm.findings == cold.findings


def test_with_two_jobs_the_index_is_built_and_saved_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``--jobs 2`` on a cold run: the parent builds the index before the pool forks, so each
    file is read for it once and the index file is written once - not once per worker."""
    project = _project(tmp_path)
    for i in range(12):  # enough files and bytes for a pool of two workers, each of which
        # asks the index (the project-aware prefilter looks up who calls ``helper{i}``)
        text = f"def helper{i}(x):\n    return x\n\n\n" + "Y = [1, 2, 3]\n" * 500
        (project / "scripts" / f"pad{i}.py").write_text(text)
    log = tmp_path / "events.log"

    def note(event: str) -> None:  # from any process: one line each, appended
        with open(log, "a") as handle:
            handle.write(f"{event} {os.getpid()}\n")

    real_names, real_save, real_job = callindex._names, callindex._save, engine.lint_job

    def names(data: bytes) -> tuple[str, str]:
        note("read")
        return real_names(data)

    def save(root: str, entries: dict[str, callindex.Entry]) -> None:
        note("save")
        real_save(root, entries)

    def job(item: tuple[bytes, str, Config]) -> engine.Outcome:
        note("lint")
        return real_job(item)

    monkeypatch.setattr(callindex, "_names", names)
    monkeypatch.setattr(callindex, "_save", save)
    monkeypatch.setattr(engine, "lint_job", job)
    result = lint_paths([project], Config(), jobs=2, cache_dir=tmp_path / "cache")
    assert _depths(result) == [("GCK001", "mlp.py", 8)]
    events = [line.split() for line in log.read_text().splitlines()]
    assert {pid for event, pid in events if event == "lint"} - {str(os.getpid())}  # a pool ran
    assert [event for event, _ in events].count("save") == 1
    assert [event for event, _ in events].count("read") == len(list(project.rglob("*.py")))


def test_a_few_changed_files_do_not_rewrite_the_saved_index_and_are_still_seen(
    tmp_path: Path,
) -> None:
    """Up to ``UNSAVED_CHANGES`` files differing from the saved index are re-read each run
    (cheap) instead of rewriting the whole index; the saved mark table answers for the rest."""
    project = _project(tmp_path, train=False)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (stored,) = cache.glob("callindex-*.json")
    before = stored.read_bytes()
    assert json.loads(before)["marks"]["=SigmoidMLP"]  # the table is saved with the entries
    _write(project / "scripts" / "deep.py", DEEP_CALLER)
    warm = lint_paths([project], Config(), cache_dir=cache)
    assert _depths(warm) == [("GCK001", "mlp.py", 12)]
    assert stored.read_bytes() == before
    for i in range(callindex.UNSAVED_CHANGES):
        _write(project / "scripts" / f"extra{i}.py", f"X = {i}\n")
    assert _depths(lint_paths([project], Config(), cache_dir=cache)) == _depths(warm)
    saved = json.loads(stored.read_text())
    assert any(path.endswith("deep.py") for path in saved["files"])  # past the limit: saved


@pytest.mark.parametrize("planted", ["x", "99999", "-1", "0 x"])
def test_a_broken_mark_table_is_not_trusted(tmp_path: Path, planted: str) -> None:
    project = _project(tmp_path)
    cache = tmp_path / "cache"
    lint_paths([project], Config(), cache_dir=cache)
    (stored,) = cache.glob("callindex-*.json")
    saved = json.loads(stored.read_text())
    saved["marks"]["=SigmoidMLP"] = planted
    stored.write_text(json.dumps(saved))
    (cached,) = cache.glob("lint-*.json")
    cached.unlink()  # lint everything again, with the planted table
    # train.py's call is found by scanning the entries, not lost to the table
    assert _depths(lint_paths([project], Config(), cache_dir=cache)) == [("GCK001", "mlp.py", 8)]
