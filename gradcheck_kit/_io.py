"""Small I/O helpers shared by every front end."""

from __future__ import annotations

import contextlib
import os
import stat
import sys
import tempfile
from pathlib import Path

# Names of the process's own streams: written through the stream already open (opening them
# again would truncate a file the shell redirected stdout to, or fail on some platforms).
_STREAMS = {
    "/dev/stdout": 1,
    "/dev/stderr": 2,
    "/dev/fd/1": 1,
    "/dev/fd/2": 2,
    "/proc/self/fd/1": 1,
    "/proc/self/fd/2": 2,
}


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(
    path: str | os.PathLike[str], text: str | bytes, *, follow_links: bool = True
) -> None:
    """Write ``text`` (UTF-8) or ``bytes`` to ``path``.

    A regular file (or a new one) is written through a temporary file and a rename, so a reader
    (or an interrupted run) never sees a half-written file; an existing file keeps its mode. A
    symlink is followed and its target written (the link stays a link), and a special file (a
    FIFO, a device, ``/dev/stdout``) is written through, as the shell's ``>`` does.
    ``follow_links=False`` (files the tool owns, such as its cache) replaces whatever is at
    ``path`` - a link planted there is replaced, never followed.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    target = Path(path)
    if follow_links:
        stream = _STREAMS.get(os.path.abspath(target))
        if stream is not None:
            _write_stream(stream, data)
            return
        try:
            info: os.stat_result | None = os.stat(target)  # follows links; ELOOP raises
        except FileNotFoundError:
            info = None  # new, or a dangling link: create its target
        if info is not None and stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "Is a directory", str(target))
        if info is not None and not stat.S_ISREG(info.st_mode):
            _write_through(target, data)
            return
        target = Path(os.path.realpath(target))
    else:
        info = None
        with contextlib.suppress(OSError):
            info = os.lstat(target)
        if info is not None and not stat.S_ISREG(info.st_mode):
            info = None  # not ours: replaced, its mode not copied
    _replace(target, data, info.st_mode if info is not None else None)


def _write_stream(fd: int, data: bytes) -> None:
    stream = sys.stdout if fd == 1 else sys.stderr
    stream.flush()
    buffer = getattr(stream, "buffer", None)
    if buffer is not None:
        buffer.write(data)
        buffer.flush()
    else:  # a replaced stream (pytest's capture): text only
        stream.write(data.decode("utf-8"))
        stream.flush()


def _write_through(target: Path, data: bytes) -> None:
    """Open and write a special file (a FIFO blocks until a reader opens it, as ``>`` does)."""
    fd = os.open(target, os.O_WRONLY | getattr(os, "O_BINARY", 0))
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def _replace(target: Path, data: bytes, mode: int | None) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        # mkstemp makes it owner-only; a report is for sharing (or keeps the file's own mode)
        os.chmod(tmp, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def ignore_in_git(directory: str | os.PathLike[str]) -> None:
    """Create ``directory`` with a ``.gitignore`` of ``*`` (as ruff does for its cache): what
    the tool keeps there never shows up in ``git status``. Raises OSError."""
    os.makedirs(directory, exist_ok=True)
    ignore = Path(directory, ".gitignore")
    if not ignore.exists():
        write_atomic(ignore, "# Created by gradcheck-kit automatically.\n*\n", follow_links=False)
