"""The project a lint run covers: its files and their module names, and the seam through which
the interpreter resolves a name imported from another module of the project.

A file flows so: the engine builds a :class:`Project` and hands it to the interpreter with the
file; the interpreter asks :meth:`Project.resolve` for each name it imports and records every
project file it consulted (the file itself always); the cache keys the file's results by its own
content hash plus the hashes of the files it consulted
(:func:`gradcheck_kit.lint.cache.file_key`). For now a project serves only the file being linted:
a name from any other module resolves to None (unknown), as before; project-wide resolution is a
later change behind the same interface.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

#: The module name of source that is not a file (``lint_source`` on a string).
NO_MODULE = "__main__"


@dataclass(frozen=True)
class ProjectFile:
    path: str
    module: str  # dotted module name (``pkg.models.mlp``)


def module_name(path: str) -> str:
    """``pkg/models/mlp.py`` -> ``pkg.models.mlp``: the file's stem and the package folders above
    it (folders with an ``__init__.py``); ``pkg/__init__.py`` -> ``pkg``."""
    if not path or path.startswith("<"):
        return NO_MODULE
    folder, name = os.path.split(os.path.abspath(path))
    stem = name.rsplit(".", 1)[0]
    parts = [] if stem == "__init__" else [stem]
    while folder and os.path.isfile(os.path.join(folder, "__init__.py")):
        folder, package = os.path.split(folder)
        if not package:
            break
        parts.append(package)
    return ".".join(reversed(parts)) or NO_MODULE


class Project:
    """The files of one lint run, by module name; :attr:`current` is the file being linted."""

    def __init__(self, current: ProjectFile, files: tuple[ProjectFile, ...] = ()) -> None:
        self.current = current
        self.files = {f.module: f for f in (*files, current)}

    @classmethod
    def single(cls, path: str) -> Project:
        """The project of one file, alone (``lint_source``, and every file for now)."""
        return cls(ProjectFile(path, module_name(path)))

    def resolve(self, module: str, name: str) -> ProjectFile | None:
        """The project file where ``module``'s ``name`` is defined, or None when the project
        does not serve it. For now it serves only the file being linted."""
        if module == self.current.module:
            return self.current
        return None


__all__ = ["NO_MODULE", "Project", "ProjectFile", "module_name"]
