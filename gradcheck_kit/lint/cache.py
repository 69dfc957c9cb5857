"""A content-keyed cache of lint results, so a re-run on an unchanged tree is near instant.

One JSON file per (tool, effective config) pair in the cache directory (default
``.gradcheck_cache`` next to the config file, else in the working directory)::

    .gradcheck_cache/lint-<key>.json   {"format": 2, "tool": <version>, "key": <key>, "files": {
                                         <absolute path>: {"sha256": <file key>,
                                                           "stamp": [<size>, <mtime ns>],
                                                           "findings": [...], "error": ...,
                                                           "consulted": {<path>: [<sha256>,
                                                                <size>, <mtime ns>]}}}}

``sha256`` is :func:`file_key`: the file's content hash, combined with the content hashes of the
other project files its interpretation consulted (``consulted``, present only when there were
any: an entry that consulted nothing is keyed by its content hash alone). A consulted file whose
size and modification time are the recorded ones is taken to hold the recorded bytes (as the
file itself is); one that changed is hashed again, so editing ``train.py`` re-lints the model
file that read its call site, and nothing else. A file that looked up call sites of its classes
in other files also "consulted" the pseudo path ``<callers-of>NAMES@ROOT`` whose hash is the call
index's digest of every project file that names them (:mod:`gradcheck_kit.lint.callindex`): a
caller added or removed since the last run is a miss too.

``<key>`` hashes the tool version, a digest of the linter's own source (so an edited checkout
never serves stale results) and the config that decides findings. An entry is used only when the
file's bytes hash to its ``sha256`` and the file's size and modification time (in nanoseconds)
are the ones recorded when this machine linted it: a cache file planted in the tree (committed,
or unpacked from an archive) cannot know the time a checkout wrote each file, so it cannot hide
findings. Every entry is validated field by field; anything malformed is a miss. The file is read
once at the start (only if it is a regular file: a FIFO or a device planted there is ignored) and
written once at the end, atomically; a cache that is missing, corrupt, foreign or unwritable is
ignored (and rewritten where possible) - it never fails a run.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
from collections.abc import Mapping
from dataclasses import asdict
from functools import cache
from pathlib import Path
from typing import Any

from gradcheck_kit._io import ignore_in_git, write_atomic
from gradcheck_kit._version import __version__
from gradcheck_kit.config import Config
from gradcheck_kit.lint.project import ROOT_PREFIX, root_digest
from gradcheck_kit.report.findings import Finding, LintError

CACHE_DIR_NAME = ".gradcheck_cache"
_FORMAT = 3
_MAX_BYTES = 256 * 1024 * 1024  # a larger "cache" was not written by this tool

FileStamp = tuple[int, int]  # (size, mtime in nanoseconds) of a linted file
#: another project file a file's interpretation read: (path, sha256, size, mtime in ns)
ConsultedFile = tuple[str, str, int, int]
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


def file_key(own: str, consulted: Mapping[str, str] | None = None) -> str:
    """The key of a file's cached results: its content hash ``own`` plus the content hashes of
    the other project files its interpretation consulted (path -> hash). With none the key is
    the content hash itself, so entries written before stay valid."""
    if not consulted:
        return own
    parts = [own, *(f"{module}={consulted[module]}" for module in sorted(consulted))]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class _Invalid(Exception):
    """A cache entry that this tool did not write."""


def _finding_from(data: object, path: str) -> Finding:
    """A cached finding (stored without its path, with the paths of its related locations in
    other files relative to its folder), read by :meth:`Finding.from_dict`."""
    return Finding.from_dict(data, path=".").moved(path)


def _finding_to(finding: Finding) -> dict[str, Any]:
    data = asdict(finding.moved("."))  # related paths: relative to the file's folder
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
        self._hashes: dict[str, str | None] = {}  # consulted path -> its hash now (this run)
        self._load()

    def _load(self) -> None:
        try:
            data = json.loads(_read_regular(self.file))
        except (OSError, ValueError, RecursionError):
            self.dirty = True  # missing, unreadable, planted or corrupt: rewrite at the end
            return
        if (
            isinstance(data, dict)
            and data.get("format") == _FORMAT
            and data.get("tool") == __version__
            and data.get("key") == self.key
            and isinstance(data.get("files"), dict)
        ):
            self.entries = data["files"]
        else:
            self.dirty = True  # foreign or older: replace it

    def get(
        self, path: str, sha256: str, stamp: FileStamp | None = None
    ) -> tuple[list[Finding], LintError | None] | None:
        """The cached outcome of ``path``, or ``None`` (a miss) unless the entry is valid and
        records these bytes (``sha256``) with this size and modification time (``stamp``)."""
        self.touched.add(path)
        entry = self.entries.get(path)
        if (
            not isinstance(entry, dict)
            or set(entry) - {"consulted"} != {"sha256", "stamp", "findings", "error"}
            or stamp is None
            or entry["stamp"] != list(stamp)
            or entry["sha256"] != self._key(sha256, entry.get("consulted", {}))
        ):
            return None
        try:
            if not isinstance(entry["findings"], list):
                raise _Invalid("findings is not a list")
            findings = [_finding_from(item, path) for item in entry["findings"]]
            error = entry["error"]
            if error is not None and not isinstance(error, str):
                raise _Invalid("error is not a string")
        except (_Invalid, KeyError, TypeError, ValueError):
            self.entries.pop(path, None)  # a planted, hand-edited or damaged entry: lint again
            self.dirty = True
            return None
        return findings, (LintError(path, error) if error is not None else None)

    def _key(self, own: str, consulted: object) -> str | None:
        """The key an entry that consulted ``consulted`` must have now (None: unknowable)."""
        if not consulted:
            return own
        if not isinstance(consulted, dict):
            return None
        now: dict[str, str] = {}
        for other, recorded in consulted.items():
            if not (
                isinstance(recorded, list)
                and len(recorded) == 3
                and isinstance(recorded[0], str)
                and all(isinstance(v, int) for v in recorded[1:])
            ):
                return None
            current = self._current_hash(other, recorded[0], (recorded[1], recorded[2]))
            if current is None:
                return None
            now[other] = current
        return file_key(own, now)

    def _current_hash(self, path: str, recorded: str, stamp: FileStamp) -> str | None:
        if path not in self._hashes and path.startswith(ROOT_PREFIX):  # the file's root
            self._hashes[path] = root_digest(path)
        if path not in self._hashes and path.startswith("<"):  # not a file: the call index's
            from gradcheck_kit.lint import callindex  # "files that name these classes"

            self._hashes[path] = callindex.callers_digest(path)
        if path not in self._hashes:
            try:
                info = os.stat(path)
                if (info.st_size, info.st_mtime_ns) == tuple(stamp):
                    self._hashes[path] = recorded
                else:
                    self._hashes[path] = content_hash(_read_regular(Path(path)))
            except OSError:
                self._hashes[path] = None  # deleted, or not a file: lint again
        return self._hashes[path]

    def put(
        self,
        path: str,
        sha256: str,
        stamp: FileStamp | None,
        findings: list[Finding],
        error: LintError | None,
        consulted: tuple[ConsultedFile, ...] = (),
    ) -> None:
        self.touched.add(path)
        if stamp is None:
            return
        entry: dict[str, Any] = {
            "sha256": file_key(sha256, {p: h for p, h, _, _ in consulted}),
            "stamp": list(stamp),
            "findings": [_finding_to(f) for f in findings],
            "error": error.message if error is not None else None,
        }
        if consulted:
            entry["consulted"] = {p: [h, size, mtime] for p, h, size, mtime in consulted}
        self.entries[path] = entry
        self.dirty = True

    def save(self) -> None:
        """Write the cache if anything changed; an unwritable directory is not an error."""
        if not self.dirty:
            return
        for path in [p for p in self.entries if p not in self.touched]:
            if not os.path.exists(path):  # deleted or temporary files: do not grow forever
                del self.entries[path]
        text = json.dumps(
            {"format": _FORMAT, "tool": __version__, "key": self.key, "files": self.entries}
        )
        with contextlib.suppress(OSError):
            ignore_in_git(self.file.parent)
            write_atomic(self.file, text, follow_links=False)
            self.dirty = False


def _read_regular(path: Path) -> bytes:
    """The bytes of a regular file; a FIFO, a device or an outsized file raises OSError (opened
    non-blocking and checked with fstat, so a FIFO planted as the cache never blocks a run)."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > _MAX_BYTES:
            raise OSError(f"{path}: not a regular file of a plausible size")
        return handle.read(_MAX_BYTES + 1)
