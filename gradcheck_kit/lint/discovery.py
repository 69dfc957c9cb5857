"""Which files a run lints and how they are read: discovery (excludes as ruff applies them,
named paths, symlink loops, unreadable folders), per-file ignores, reading a file's bytes
without ever blocking on a FIFO or a device, and decoding them as Python does."""

from __future__ import annotations

import errno
import fnmatch
import functools
import io
import os
import re
import stat
import tokenize
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from gradcheck_kit.config import DEFAULT_EXCLUDE, Config
from gradcheck_kit.lint.cache import FileStamp
from gradcheck_kit.report.findings import LintError


def per_file_ignored(path: str, config: Config) -> tuple[str, ...]:
    if not config.per_file_ignores:
        return ()
    rel = relative(path, config)
    out: list[str] = []
    for pattern, codes in config.per_file_ignores.items():
        if matches(rel, pattern):
            out.extend(codes)
    return tuple(out)


def relative(path: str, config: Config) -> str:
    try:
        return Path(path).resolve().relative_to(config.root.resolve()).as_posix()
    except (ValueError, OSError, RuntimeError):
        return Path(path).as_posix()


def matches(rel: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    parts = rel.split("/")
    return (
        fnmatch.fnmatch(rel, pattern)
        or fnmatch.fnmatch(rel, f"{pattern}/*")
        or fnmatch.fnmatch(rel, f"*/{pattern}")
        or any(fnmatch.fnmatch(part, pattern) for part in parts)
    )


def discover(paths: Iterable[str | os.PathLike[str]], config: Config) -> Iterator[Path]:
    """Python files under ``paths``, sorted, skipping excluded directories. Paths named
    explicitly are always linted (as ruff does), unless they match ``exclude``."""
    for path, _ in discover_keyed(paths, config):
        yield path


def discover_keyed(
    paths: Iterable[str | os.PathLike[str]],
    config: Config,
    problems: list[LintError] | None = None,
) -> Iterator[tuple[Path, str]]:
    """:func:`discover`, with each file's resolved path (its identity, and its cache key);
    a directory that cannot be read is added to ``problems``."""
    excludes = (config.exclude or DEFAULT_EXCLUDE) + config.extend_exclude
    seen: set[str] = set()
    for raw in paths:
        path = Path(raw)
        if not os.path.lexists(path):
            continue  # not a file checked: reported once, as "no such file or directory"
        if config.force_exclude and exclude_matcher(excludes)(
            relative(str(path), config), path.name
        ):
            continue  # --force-exclude: named or not, an excluded path is skipped
        if path.is_dir():
            for found, key in walk(path, excludes, config, problems):
                if key not in seen:
                    seen.add(key)
                    yield found, key
        else:
            key = real_path(path)
            if key not in seen and not named_excluded(path, excludes, config):
                seen.add(key)
                yield path, key


def named_excluded(path: Path, excludes: tuple[str, ...], config: Config) -> bool:
    """Whether a path named explicitly is excluded: only by patterns with a ``/`` or a ``*``
    (a bare directory name such as ``build`` excludes what discovery walks into, not this)."""
    rel = relative(str(path), config)
    return any(fnmatch.fnmatch(rel, p) for p in excludes if "/" in p or "*" in p)


@functools.lru_cache(maxsize=32)
def exclude_matcher(excludes: tuple[str, ...]) -> Callable[[str, str], bool]:
    """:func:`matches` for every pattern at once (or the file name): one compiled regex each
    for the whole path and for its parts, since discovery asks for every file of a tree."""
    patterns = [p.rstrip("/") for p in excludes if p.rstrip("/")]
    if not patterns:
        return lambda rel, name: False
    whole = re.compile(
        "|".join(fnmatch.translate(q) for p in patterns for q in (p, f"{p}/*", f"*/{p}"))
    )
    part = re.compile("|".join(fnmatch.translate(p) for p in patterns))

    def excluded(rel: str, name: str) -> bool:
        rel, name = os.path.normcase(rel), os.path.normcase(name)
        return (
            whole.match(rel) is not None
            or part.match(name) is not None
            or any(part.match(piece) is not None for piece in rel.split("/"))
        )

    return excluded


def walk(
    root: Path,
    excludes: tuple[str, ...],
    config: Config,
    problems: list[LintError] | None = None,
) -> Iterator[tuple[Path, str]]:
    """Files under ``root`` (top-down, sorted, following directory symlinks once), each with
    its resolved path. Each directory is resolved once and its files' paths are joined to it:
    resolving every file cost more than a warm cached run.

    A directory named on the command line is walked even if its own name is excluded (as
    ruff: ``lint site-packages/pkg`` lints it; ``--force-exclude`` skips it): bare-name
    patterns (``build``, ``.venv``) are matched below it only, patterns with a ``/`` against
    the path from the project root."""
    anchored = exclude_matcher(tuple(p for p in excludes if "/" in p.rstrip("/")))
    bare = exclude_matcher(tuple(p for p in excludes if "/" not in p.rstrip("/")))
    if config.force_exclude:
        anchored = bare = exclude_matcher(excludes)
    top = real_path(root)

    def excluded(rel: str, name: str, real_path: str) -> bool:
        below = real_path[len(top) + 1 :].replace(os.sep, "/") if real_path.startswith(top) else rel
        return anchored(rel, name) or bare(rel if config.force_exclude else below, name)

    base = real_path(config.root)
    visited: set[tuple[int, int]] = set()
    stack = [str(root)]
    while stack:
        directory = stack.pop()
        try:
            info = os.stat(directory)
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:  # unreadable (EACCES, EIO): named, never skipped silently
            if problems is not None and os.path.lexists(directory):
                reason = exc.strerror or type(exc).__name__
                problems.append(LintError(directory, f"cannot read this directory: {reason}"))
            continue
        if (info.st_dev, info.st_ino) in visited:  # a symlink loop
            continue
        visited.add((info.st_dev, info.st_ino))
        real = real_path(Path(directory))
        inside = real.startswith(base + os.sep) or real == base
        rel_dir = real[len(base) + 1 :].replace(os.sep, "/") if inside else None
        subdirectories = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else None
            if rel is None:  # outside the project root: matched as written (``relative``)
                rel = Path(entry.path).as_posix()
            if excluded(rel, entry.name, os.path.join(real, entry.name)):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if is_dir:
                subdirectories.append(entry.path)
            elif entry.name.endswith((".py", ".pyi", ".ipynb")):
                key = os.path.join(real, entry.name)
                if entry.is_symlink():
                    key = real_path(Path(entry.path))
                yield Path(entry.path), key
        stack.extend(reversed(subdirectories))


def real_path(path: Path) -> str:
    """The file or directory a path names (its identity, and its cache key); a symlink loop or
    an unresolvable path is its own identity, and reading it reports the problem."""
    try:
        return str(path.resolve())
    except (OSError, RuntimeError):  # a symlink loop raises RuntimeError before Python 3.13
        return os.path.abspath(path)


def read_file(path: Path) -> tuple[bytes | None, LintError | None]:
    data, _, error = read_stat(path)
    return data, error


def read_stat(path: Path) -> tuple[bytes | None, FileStamp | None, LintError | None]:
    """The file's bytes and its stamp (size, mtime), or the error naming the problem."""
    display = str(path)
    try:
        data, stamp = read_regular(path)
        return data, stamp, None
    except NotRegular as exc:
        return None, None, LintError(display, f"not a regular file ({exc}); skipped")
    except FileNotFoundError:
        return None, None, LintError(display, "file not found (deleted during the run?)")
    except IsADirectoryError:
        return None, None, LintError(display, "is a directory")
    except OSError as exc:
        return None, None, LintError(display, f"cannot read: {exc.strerror or exc}")


class NotRegular(Exception):
    pass


def read_regular(path: Path) -> tuple[bytes, FileStamp]:
    """The file's bytes. Opened non-blocking and checked with fstat (no race), so a FIFO or a
    device named ``*.py`` is refused instead of blocking the run forever."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "rb") as handle:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", str(path))
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
            raise NotRegular(kind)
        info = os.fstat(fd)
        return handle.read(), (info.st_size, info.st_mtime_ns)


class SourceError(Exception):
    """A file's bytes cannot be turned into Python source text."""


def decode_source(data: bytes) -> str:
    """Decode as Python does: a BOM or a PEP 263 coding line, else UTF-8."""
    if b"\x00" in data:
        raise SourceError("contains NUL bytes (binary file?)")
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        if "invalid or missing" in str(exc):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise SourceError(
                    f"cannot decode as utf-8 ({bad.reason} at byte {bad.start}); save the file "
                    "as UTF-8 or declare its encoding (PEP 263)"
                ) from bad
        raise SourceError(f"bad encoding declaration: {exc}") from exc
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise SourceError(f"cannot decode as {encoding}: {exc}") from exc
    return text[1:] if text.startswith("\ufeff") else text
