"""A content-keyed cache of lint results, so a re-run on an unchanged tree is near instant.

One JSON file per (tool, effective config) pair in the cache directory (default
``.gradcheck_cache`` next to the config file, else in the working directory)::

    .gradcheck_cache/lint-<key>.json   {"format": 1, "key": <key>, "files": {
                                         <absolute path>: {"sha256": <content hash>,
                                                           "findings": [...], "error": ...}}}

``<key>`` hashes the tool version, a digest of the linter's own source (so an edited checkout
never serves stale results) and the config that decides findings. An entry is used only when the
file's bytes hash to its ``sha256``. The file is read once at the start and written once at the
end, atomically; a cache that is missing, corrupt, foreign or unwritable is ignored (and
rewritten where possible) - it never fails a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

from gradcheck_kit import __version__
from gradcheck_kit._io import write_atomic
from gradcheck_kit.config import Config
from gradcheck_kit.report.findings import Finding, LintError, RelatedLocation

CACHE_DIR_NAME = ".gradcheck_cache"
_FORMAT = 1
_PACKAGE = Path(__file__).resolve().parent.parent


@cache
def _code_digest() -> str:
    """A digest of the source that decides findings: the version alone misses local edits."""
    digest = hashlib.sha256(__version__.encode())
    files = sorted((_PACKAGE / "lint").glob("*.py"))
    files += [_PACKAGE / "catalog.py", _PACKAGE / "config.py", _PACKAGE / "report" / "findings.py"]
    for path in files:
        try:
            digest.update(path.name.encode() + b"\0" + path.read_bytes())
        except OSError:
            digest.update(path.name.encode() + b"\0missing")
    return digest.hexdigest()


def config_key(config: Config) -> str:
    """Hash of the tool and of every config value that can change a file's findings."""
    relevant: dict[str, object] = {
        "select": config.select,
        "ignore": config.ignore,
        "max_saturating_depth": config.max_saturating_depth,
        "vanish_bound": config.vanish_bound,
        "explode_bound": config.explode_bound,
        "per_file_ignores": sorted((k, list(v)) for k, v in config.per_file_ignores.items()),
        "extend_saturating": config.extend_saturating,
        "extend_normalization": config.extend_normalization,
    }
    if config.per_file_ignores:  # its globs match paths relative to the config's directory
        relevant["root"] = str(config.root.resolve())
    text = json.dumps([_code_digest(), relevant], sort_keys=True, default=list)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_dir(config: Config) -> Path:
    return config.root / CACHE_DIR_NAME


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _finding_from(data: dict[str, Any], path: str) -> Finding:
    related = tuple(RelatedLocation(**item) for item in data.pop("related"))
    data["activations"] = tuple(data["activations"])
    return Finding(**{**data, "path": path, "related": related})


def _finding_to(finding: Finding) -> dict[str, Any]:
    data = asdict(finding)
    del data["path"]  # the same file may be named differently (relative, absolute) next time
    return data


class LintCache:
    """Cached results of one config. ``get`` / ``put`` by absolute path and content hash."""

    def __init__(self, directory: Path, config: Config) -> None:
        self.key = config_key(config)
        self.file = directory / f"lint-{self.key}.json"
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        self.touched: set[str] = set()
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return  # missing, unreadable or corrupt: start empty, rewrite at the end
        if (
            isinstance(data, dict)
            and data.get("format") == _FORMAT
            and data.get("key") == self.key
            and isinstance(data.get("files"), dict)
        ):
            self.entries = data["files"]
        else:
            self.dirty = True  # foreign or older: replace it

    def get(self, path: str, sha256: str) -> tuple[list[Finding], LintError | None] | None:
        self.touched.add(path)
        entry = self.entries.get(path)
        if not isinstance(entry, dict) or entry.get("sha256") != sha256:
            return None
        try:
            findings = [_finding_from(dict(item), path) for item in entry["findings"]]
            error = entry.get("error")
            return findings, (LintError(path, str(error)) if error is not None else None)
        except (KeyError, TypeError, ValueError):
            return None  # a hand-edited or damaged entry: lint the file again

    def put(self, path: str, sha256: str, findings: list[Finding], error: LintError | None) -> None:
        self.touched.add(path)
        self.entries[path] = {
            "sha256": sha256,
            "findings": [_finding_to(f) for f in findings],
            "error": error.message if error is not None else None,
        }
        self.dirty = True

    def save(self) -> None:
        """Write the cache if anything changed; an unwritable directory is not an error."""
        if not self.dirty:
            return
        for path in [p for p in self.entries if p not in self.touched]:
            if not os.path.exists(path):  # deleted or temporary files: do not grow forever
                del self.entries[path]
        text = json.dumps({"format": _FORMAT, "key": self.key, "files": self.entries})
        with contextlib.suppress(OSError):
            directory = self.file.parent
            directory.mkdir(parents=True, exist_ok=True)
            ignore = directory / ".gitignore"
            if not ignore.exists():  # as ruff does: the cache never shows up in `git status`
                write_atomic(ignore, "# Created by gradcheck-kit automatically.\n*\n")
            write_atomic(self.file, text)
            self.dirty = False
