"""Hydra's instantiation targets in the project's YAML configs, read as call sites of the class
they name: a mapping with ``_target_: pinnstorch.models.FCN`` and ``layers: [2, 20, 20, 1]``
builds ``FCN(layers=[2, 20, 20, 1])`` when the run instantiates it
(``hydra.utils.instantiate(cfg.net)``), the Lightning-Hydra template's way to choose a model.
Read only in a project whose Python files call ``instantiate``.

The target's module is resolved as an import would be (re-exports included:
:func:`~gradcheck_kit.lint.rebinding.defines`); the mapping's other keys are its keyword
arguments (those starting with ``_``, ``_partial_`` and the like, are Hydra's own; an
interpolation, ``${data.width}``, is unknown). The files are found by a walk of the project
(the call index's skipped folders skipped; at most :data:`MAX_FILES` ``.yaml``/``.yml`` files
of at most :data:`~gradcheck_kit.lint.config_files.MAX_CONFIG_BYTES`) whose text names a
``_target_``, once per run; a file read for a class is consulted (editing it re-lints the
class's file).
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING, Any

from gradcheck_kit.lint import callindex, config_files
from gradcheck_kit.lint.literals import literal_node
from gradcheck_kit.lint.provenance import Place

if TYPE_CHECKING:
    from gradcheck_kit.lint.callsites import CallSite
    from gradcheck_kit.lint.project import Project

MAX_FILES = 200
#: the call that builds a ``_target_`` (``hydra.utils.instantiate``): without one in the project's
#: Python files, its configs are not read for targets
INSTANTIATE = "instantiate"
SUFFIXES = (".yaml", ".yml")
_TARGET = re.compile(rb"""^[ \t-]*_target_[ \t]*:[ \t]*['"]?([A-Za-z_][\w.]*)""", re.M)

#: root -> (path, [(line, target)]) of the YAML files that name a ``_target_`` (this run)
_FILES: dict[str, list[tuple[str, list[tuple[int, str]]]]] = {}


def target_sites(project: Project, name: str, home: str) -> list[CallSite]:
    """The mappings of the project's YAML configs whose ``_target_`` is the class ``name`` of
    the file ``home``, as call sites (keyword arguments only)."""
    from gradcheck_kit.lint.rebinding import HOPS, defines

    if project.root is None:
        return []
    project.looked_up.add(INSTANTIATE)  # a file that starts to call it re-lints this one
    if not callindex.index(project.root).callers(INSTANTIATE):
        return []  # no Hydra instantiation in the project: its YAML files are not walked
    sites: list[CallSite] = []
    for path, targets in _files(project.root):
        for line, target in targets:
            module, _, last = target.rpartition(".")
            if last != name or not module:
                continue
            found = project.find_module(module)
            if found is None or not defines(project, found, name, HOPS, home):
                continue
            sites += _sites(project, path, line, target)
    return sites


def _sites(project: Project, path: str, line: int, target: str) -> list[CallSite]:
    from gradcheck_kit.lint.callsites import CallSite

    display = project.display(path)
    document = config_files.read(path, "omegaconf", display)
    if document is None or document.data is None or project.own is None:
        return []
    where = ast.Constant(None, lineno=line, col_offset=0, end_lineno=line, end_col_offset=0)
    out = []
    for mapping in _mappings(document.data, target):
        kwargs = tuple(
            (key, literal_node(value, where))
            for key, value in mapping.items()
            if not key.startswith("_") and config_files.settled(value)
        )
        if not kwargs:
            continue
        text = f"_target_: {target}"
        out.append(
            CallSite(
                (),
                kwargs,
                f"{display}:{line}",
                text,
                project.own,  # the class's own file: nothing more to register
                files=document.files,  # editing the config re-lints the class's file
                place=Place(path, line, 1, line, 1, f"{text}: the config that sets the depth"),
            )
        )
    return out


def _mappings(data: Any, target: str) -> list[dict[str, Any]]:
    """The mappings in ``data`` whose ``_target_`` is ``target``."""
    out: list[dict[str, Any]] = []
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("_target_") == target:
                out.append(item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return out


def _files(root: str) -> list[tuple[str, list[tuple[int, str]]]]:
    found = _FILES.get(root)
    if found is None:
        found = _FILES[root] = _find(root)
    return found


def _find(root: str) -> list[tuple[str, list[tuple[int, str]]]]:
    out: list[tuple[str, list[tuple[int, str]]]] = []
    for path in callindex.other_files(root, SUFFIXES, MAX_FILES):
        data = config_files.read_bytes(path)
        if data is None or b"_target_" not in data:
            continue
        targets = [
            (data.count(b"\n", 0, match.start()) + 1, match.group(1).decode("ascii"))
            for match in _TARGET.finditer(data)
        ]
        if targets:
            out.append((path, targets))
    return out


def forget() -> None:
    """Forget the configs of past runs (they may have changed)."""
    _FILES.clear()
