"""A failure found once is replayed first next time (Hypothesis' example database), per target;
CI and ``GRADCHECK_KIT_DATABASE=none`` turn it off; its directory is git-ignored."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("hypothesis")

from gradcheck_kit.runtime.check import check_gradients, default_database
from tests.runtime_models import he_relu


def deep_fails(seen: list[int]) -> Any:
    def factory(depth: int) -> Any:
        seen.append(depth)
        if depth >= 20:
            raise ValueError("too deep for this test")
        return he_relu(depth)

    return factory


def run(factory: Any, name: str, seed: int, database: Any) -> Any:
    return check_gradients(
        factory,
        depths=(2, 64),
        input_shape=(4, 16),
        max_examples=12,
        seed=seed,
        database=database,
        raise_on_failure=False,
        name=name,
        progress=False,
    )


def test_the_saved_failure_is_the_first_example_next_time(tmp_path: Path) -> None:
    seen: list[int] = []
    first = run(deep_fails(seen), "t", seed=1, database=tmp_path / "db")
    assert not first.passed and first.failure is not None
    assert first.failure.depth == 20  # shrunk to the smallest failing depth
    seen.clear()
    second = run(deep_fails(seen), "t", seed=2, database=tmp_path / "db")
    assert seen[0] == 20  # replayed before anything new is drawn
    assert not second.passed and second.failure is not None and second.failure.depth == 20


def test_another_target_does_not_replay_it(tmp_path: Path) -> None:
    run(deep_fails([]), "t", seed=1, database=tmp_path / "db")
    fresh: list[int] = []
    run(deep_fails(fresh), "u", seed=2, database=None)
    with_db: list[int] = []
    run(deep_fails(with_db), "u", seed=2, database=tmp_path / "db")
    assert fresh[0] != 20  # so a replay of "t"'s saved failure would show first
    assert with_db[:3] == fresh[:3]  # "u" starts as if there were no database


def test_default_database_policy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GRADCHECK_KIT_DATABASE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert default_database() == str(Path(".gradcheck_cache") / "hypothesis")
    monkeypatch.setenv("CI", "true")
    assert default_database() is None  # a CI run never depends on leftovers
    monkeypatch.setenv("GRADCHECK_KIT_DATABASE", str(tmp_path / "mine"))
    assert default_database() == str(tmp_path / "mine")
    monkeypatch.setenv("GRADCHECK_KIT_DATABASE", "none")
    assert default_database() is None


def test_auto_database_lives_in_the_git_ignored_cache(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("GRADCHECK_KIT_DATABASE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.chdir(tmp_path)
    run(deep_fails([]), "t", seed=1, database="auto")
    assert (tmp_path / ".gradcheck_cache" / ".gitignore").read_text().endswith("*\n")
    assert any((tmp_path / ".gradcheck_cache" / "hypothesis").iterdir())
