"""Shell scripts of a project that run one of its Python files with options: ``python
train_com_new.py --layer 8 --activate Tanh`` in ``demo/test_2.sh``. Each such line is a run of
that file whose argparse options take the values it passes (read by
:class:`~gradcheck_kit.lint.argparse_options.Options`, converted by the option's ``type=``), as
a class's call sites give its parameters: the file's calls are read once with the defaults and
once per distinct run, and the deepest decides.

Read, never run: lines joined at a trailing ``\\``, split as the shell splits words
(``shlex``), a ``#`` comment dropped. A run names the file by a path relative to the script's
folder or to the project root (``python -m`` and other launchers are not followed). A value
that holds a shell variable (``--layer $L``, a loop's) or a flag with no value is not read.
At most :data:`MAX_SCRIPTS` scripts (``.sh``, ``.bash``; not in the folders the call index
skips: hidden ones, virtual environments, build output) of :data:`MAX_BYTES` each; a script
that cannot be read or split is skipped. The
scripts a run came from are consulted: editing one re-lints the file that reads it.
"""

from __future__ import annotations

import hashlib
import os
import re
import shlex
from dataclasses import dataclass
from functools import lru_cache

from gradcheck_kit.lint.callindex import other_files
from gradcheck_kit.lint.config_files import DataFile

MAX_SCRIPTS = 200
MAX_BYTES = 200_000
SUFFIXES = (".sh", ".bash")
#: ``python``, ``python3``, ``python3.11``, ``/usr/bin/python3``: the interpreter's word.
_PYTHON = re.compile(r"(?:.*/)?python[0-9.]*")


@dataclass(frozen=True)
class ShellRun:
    """One line of a script that runs a Python file: the flags it passes, as written."""

    script: DataFile
    line: int
    values: tuple[tuple[str, tuple[str, ...]], ...]  # ("--layer", ("8",)), in order


def runs_of(root: str, module: str) -> list[ShellRun]:
    """The runs of the file at ``module`` in the scripts under ``root``, in script order."""
    return [run for path, run in _runs(root) if path == module]


@lru_cache(maxsize=8)
def _runs(root: str) -> tuple[tuple[str, ShellRun], ...]:
    """Every run in the project's scripts: (the Python file it runs, the run)."""
    out: list[tuple[str, ShellRun]] = []
    for path in other_files(root, SUFFIXES, MAX_SCRIPTS):
        try:
            with open(path, "rb") as handle:
                data = handle.read(MAX_BYTES + 1)
            info = os.stat(path)
        except OSError:
            continue
        if len(data) > MAX_BYTES or b"python" not in data:
            continue
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        script = DataFile(path, hashlib.sha256(data).hexdigest(), (info.st_size, info.st_mtime_ns))
        for line, words in _lines(text):
            found = _run(words, os.path.dirname(path), root)
            if found is not None:
                module, values = found
                out.append((module, ShellRun(script, line, values)))
    return tuple(out)


def run_with_word(root: str | None, module: str, words: tuple[bytes, ...]) -> DataFile | None:
    """The first script that runs ``module`` with one of ``words`` (lowercased bytes) in an
    option's value (``--act Tanh``), or None."""
    if root is None:
        return None
    for run in runs_of(root, module):
        texts = [text.lower().encode() for _, taken in run.values for text in taken]
        if any(word in text for text in texts for word in words):
            return run.script
    return None


def _lines(text: str) -> list[tuple[int, list[str]]]:
    """(the first line's number, its words) of each logical line (``\\`` continues one)."""
    out: list[tuple[int, list[str]]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        if raw.rstrip().endswith("\\"):
            pending.append(raw.rstrip()[:-1])
            continue
        pending.append(raw)
        joined, pending = " ".join(pending), []
        if "python" not in joined:
            continue
        try:
            words = shlex.split(joined, comments=True)
        except ValueError:  # an unclosed quote: not a line the linter can split
            continue
        out.append((start, words))
    return out


def _run(
    words: list[str], folder: str, root: str
) -> tuple[str, tuple[tuple[str, tuple[str, ...]], ...]] | None:
    """(the Python file a line runs, the flags it passes to it), or None."""
    for at, word in enumerate(words):
        if not _PYTHON.fullmatch(word):
            continue
        rest = words[at + 1 :]
        while rest and rest[0].startswith("-") and rest[0] not in ("-m", "-c"):
            rest = rest[1:]  # the interpreter's own flags (``-u``, ``-O``)
        if not rest or not rest[0].endswith(".py"):
            return None
        module = _resolve(rest[0], folder, root)
        return (module, _flags(rest[1:])) if module is not None else None
    return None


def _resolve(name: str, folder: str, root: str) -> str | None:
    if "$" in name:
        return None
    for base in (folder, root):
        path = os.path.realpath(os.path.join(base, name))
        if os.path.isfile(path):
            return path
    return None


def _flags(words: list[str]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Each flag and the words after it up to the next flag (``--sizes 64 64``; ``--act=tanh``:
    one word); a flag with none (a switch) or with a shell variable is left out."""
    out: list[tuple[str, tuple[str, ...]]] = []
    flag: str | None = None
    taken: list[str] = []

    def close() -> None:
        if flag is not None and taken and not any("$" in w or "`" in w for w in taken):
            out.append((flag, tuple(taken)))

    for word in words:
        if word in (";", "&&", "||", "|", "&") or word.startswith((">", "2>", "<")):
            break  # the command ends
        if word.startswith("-") and not _number(word):
            close()
            flag, taken = word, []
            if "=" in word:
                flag, value = word.split("=", 1)
                taken = [value]
                close()
                flag = None
        elif flag is not None:
            taken.append(word)
    close()
    return tuple(out)


def _number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def forget() -> None:
    """Forget the scripts read (a new run: they may have changed)."""
    _runs.cache_clear()
