"""Config files a caller reads by a literal path (JSON, YAML, TOML, Hydra/OmegaConf): their
data, read and parsed, never executed.

Every failure is "unknown" (None), never a crash: a path outside the project root or that does
not exist, a symlink loop, something that is not a regular file, a file over
:data:`MAX_CONFIG_BYTES`, bytes that are not UTF-8, text that does not parse, and any value that
is not plain data (numbers, strings, booleans, lists and mappings of them). YAML is read with
PyYAML's ``safe_load`` when ``yaml`` is importable, else with :func:`parse_yaml`, a small subset
(block mappings nested by indentation, block lists, flow lists, plain scalars); TOML with
``tomllib`` (Python 3.11+) or ``tomli``. A Hydra config is composed as Hydra would from its
``defaults:`` list when that list is simple (``- group: option``, ``- name``, ``- _self_``).
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
import stat
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

#: A config file larger than this is not read.
MAX_CONFIG_BYTES = 1_000_000
#: A value with more nodes than this (lists, mappings, scalars) is not plain data: a YAML alias
#: bomb or a recursive structure stops here.
MAX_NODES = 10_000


@dataclass(frozen=True)
class DataFile:
    """A non-Python project file an interpretation read (for the cache key): its path, content
    hash and (size, mtime in ns)."""

    path: str
    sha256: str
    stamp: tuple[int, int]

    @property
    def consulted(self) -> tuple[str, str, int, int]:
        """As a cache entry records a consulted file: (path, sha256, size, mtime in ns)."""
        return (self.path, self.sha256, *self.stamp)


@dataclass(frozen=True)
class Document:
    """A config file's data (None where it cannot be read) and the files it came from (a
    Hydra config: the primary file and its group files). ``sources``: key path -> the display
    name of the file that set it (composed configs only). ``attributes``: whether the loader
    gives attribute access (OmegaConf, Hydra: ``cfg.model.n_layers``)."""

    data: Any
    display: str
    files: tuple[DataFile, ...]
    attributes: bool = False
    sources: dict[tuple[str, ...], str] = field(default_factory=dict, hash=False, compare=False)

    def source(self, keys: tuple[str, ...]) -> str:
        """The file that set the value at ``keys`` (the longest recorded prefix)."""
        for end in range(len(keys), 0, -1):
            found = self.sources.get(keys[:end])
            if found is not None:
                return found
        return self.display


class _Unsure:
    """A YAML scalar whose meaning depends on the loader (``yes``, ``1e-3``) or an OmegaConf
    interpolation (``${model.width}``): unknown."""

    def __repr__(self) -> str:
        return "<unsure>"


UNSURE = _Unsure()


def locate(relative: str, folders: tuple[str, ...], root: str) -> str | None:
    """The real path of ``relative`` in the first of ``folders`` that holds it (as Python opens
    a relative path from the current directory: the caller's folder or the project root, which
    are tried in that order), inside ``root``; None if no folder holds it, if two hold different
    files (which one is read depends on where the program is started), or if it leaves the
    root."""
    if not relative or "\0" in relative or os.path.isabs(relative):
        return None
    found: list[str] = []
    for folder in folders:
        candidate = os.path.join(folder, relative)
        try:
            real = os.path.realpath(candidate, strict=True)
        except (OSError, ValueError, RuntimeError):  # missing, a symlink loop
            continue
        if os.path.isfile(real):
            found.append(real)
    if not found or len(set(found)) > 1:
        return None
    inside = found[0] == root or found[0].startswith(root.rstrip(os.sep) + os.sep)
    return found[0] if inside else None


def read(path: str, kind: str, display: str) -> Document | None:
    """The config file at ``path`` (a real path), parsed as ``kind`` (``json``, ``yaml``,
    ``toml``, ``omegaconf``); None where it cannot be read. A file that was read but does not
    parse is a Document with data None (its edits still re-lint the files that tried)."""
    loaded = _file(path)
    if loaded is None:
        return None
    data, info = loaded
    return Document(_parse(data, kind), display, (info,), attributes=kind == "omegaconf")


def read_bytes(path: str) -> bytes | None:
    """A config file's bytes as :func:`read` reads them (cached per stamp; None past
    :data:`MAX_CONFIG_BYTES`, for anything not a regular file, or on an error)."""
    found = _file(path)
    return found[0] if found is not None else None


def _file(path: str) -> tuple[bytes, DataFile] | None:
    try:
        info = os.stat(path)
    except (OSError, ValueError):
        return None
    if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_CONFIG_BYTES:
        return None
    return _read_file(path, info.st_size, info.st_mtime_ns)


@lru_cache(maxsize=16)  # up to 1 MB each
def _read_file(path: str, size: int, mtime: int) -> tuple[bytes, DataFile] | None:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as handle:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError:
        return None
    if len(data) > MAX_CONFIG_BYTES:
        return None
    return data, DataFile(path, hashlib.sha256(data).hexdigest(), (size, mtime))


def _parse(data: bytes, kind: str) -> Any:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if "\0" in text:
        return None
    try:
        if kind == "json":
            value = json.loads(text)
        elif kind == "toml":
            value = _toml(text)
        else:
            value = _yaml(text, interpolations=kind == "omegaconf")
    except (ValueError, TypeError, RecursionError, MemoryError, IndexError, KeyError):
        return None
    return value if plain(value) else None


def _toml(text: str) -> Any:
    try:
        import tomllib as toml_module
    except ImportError:  # Python 3.10: tomli, a dependency there
        try:
            import tomli as toml_module  # type: ignore[no-redef]
        except ImportError:
            return None
    try:
        return toml_module.loads(text)
    except toml_module.TOMLDecodeError:
        return None


def _yaml(text: str, interpolations: bool) -> Any:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        value = parse_yaml(text)
    else:
        try:
            value = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError:
            return None
    if not plain(value):  # before walking it: an alias bomb is small only while shared
        return None
    return _interpolated(value) if interpolations else value


def _interpolated(value: Any) -> Any:
    """OmegaConf data: an interpolation (``${...}``) is unknown."""
    if isinstance(value, str) and "${" in value:
        return UNSURE
    if isinstance(value, dict):
        return {k: _interpolated(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolated(v) for v in value]
    return value


def plain(value: Any) -> bool:
    """Whether ``value`` is plain, finite data of at most :data:`MAX_NODES` nodes (no dates,
    no infinities, no cycles, no unsure scalars)."""
    count = 0
    stack = [value]
    while stack:
        item = stack.pop()
        count += 1
        if count > MAX_NODES:
            return False
        if isinstance(item, dict):
            if not all(isinstance(k, str) for k in item):
                return False
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, float):
            if not math.isfinite(item):
                return False
        elif item is UNSURE:
            continue  # unknown where it is read, not the whole file
        elif not (item is None or isinstance(item, (bool, int, str))):
            return False
    return True


def settled(value: Any) -> bool:
    """Whether ``value`` is plain data with no unknown part (see :data:`UNSURE`)."""
    if not plain(value):
        return False
    stack = [value]
    while stack:
        item = stack.pop()
        if item is UNSURE:
            return False
        if isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return True


# -- Hydra ---------------------------------------------------------------------------------------

_SIMPLE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*(/[A-Za-z0-9_][A-Za-z0-9_.-]*)*")


def hydra(
    folder: str, name: str, display: Any, root: str, overrides: tuple[str, ...] = ()
) -> Document | None:
    """The config Hydra composes from ``folder/name.yaml`` and its ``defaults:`` list (group
    files ``folder/group/option.yaml`` placed under ``group``, or where their ``# @package``
    header puts them: ``_global_``, ``_group_``, ``a.b``), then ``overrides`` as ``compose``
    takes them (``model=mlp_deep`` picks a group's option, ``model.n_layers=8`` sets a value);
    None where a piece cannot be read or is not simple (``override``/``optional`` entries,
    ``group@pkg``, nested defaults, interpolated options, ``+``/``~`` overrides).
    ``display``: path -> how messages name it."""
    primary = _group_file(folder, name, root)
    if primary is None:
        return None
    first = read(primary, "omegaconf", display(primary))
    if first is None or not isinstance(first.data, dict):
        return first
    files = list(first.files)
    data: dict[str, Any] = {}  # merged into: copies, never the parsed data itself
    sources: dict[tuple[str, ...], str] = {}
    parsed = _overrides(overrides)
    if parsed is None:
        return Document(None, first.display, tuple(files), True)
    choices, values = parsed
    defaults = first.data.get("defaults", [])
    own = {k: v for k, v in first.data.items() if k != "defaults"}
    if not isinstance(defaults, list):
        return Document(None, first.display, tuple(files), True)
    entries = list(defaults) if "_self_" in defaults else [*defaults, "_self_"]
    for entry in entries:
        if entry == "_self_":
            _merge(data, own, (), first.display, sources)
            continue
        group, option = _entry(entry)
        if group is None:
            return Document(None, first.display, tuple(files), True)
        option = choices.pop("/".join(group), option) if group else option
        if option is None:
            continue  # ``- group: null``: nothing
        path = _group_file(os.path.join(folder, *group), option, root)
        part = read(path, "omegaconf", display(path)) if path else None
        if part is None or path is None:
            return Document(None, first.display, tuple(files), True)
        files.extend(part.files)
        package = _package(path, group)
        if not isinstance(part.data, dict) or "defaults" in part.data or package is None:
            return Document(None, first.display, tuple(files), True)
        nested: dict[str, Any] = part.data
        for key in reversed(package):
            nested = {key: nested}
        _merge(data, nested, (), part.display, sources)
    if any("/" in key for key in choices):  # a nested group the defaults list does not name
        return Document(None, first.display, tuple(files), True)
    values += [((key,), value) for key, value in choices.items()]  # top-level values after all
    for keys, value in values:
        target = data
        for key in keys[:-1]:
            target = target.get(key) if isinstance(target, dict) else None  # type: ignore[assignment]
        if not isinstance(target, dict) or keys[-1] not in target:
            return Document(None, first.display, tuple(files), True)  # ``+key=``: not here
        target[keys[-1]] = value
        sources[keys] = f"{first.display} overridden by '{'.'.join(keys)}={value!r}'"
    return Document(data, first.display, tuple(files), True, sources)


def _overrides(
    overrides: tuple[str, ...],
) -> tuple[dict[str, str], list[tuple[tuple[str, ...], Any]]] | None:
    """``compose(overrides=[...])`` as (group -> option, [(key path, value)]); None for any
    override that is not ``key=value`` with a simple key and a plain value."""
    choices: dict[str, str] = {}
    values: list[tuple[tuple[str, ...], Any]] = []
    for item in overrides:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not _SIMPLE.fullmatch(key):
            return None  # ``+key=``, ``~key``, ``key@pkg=``, no ``=``
        try:
            value = _scalar(raw)
        except YamlSubsetError:
            return None
        if value is UNSURE or not plain(value):
            return None
        if "/" in key or ("." not in key and isinstance(value, str)):
            choices[key] = value  # a group's option (checked against the defaults list)
        else:
            values.append((tuple(key.split(".")), value))
    return choices, values


def _entry(entry: Any) -> tuple[tuple[str, ...] | None, str | None]:
    """A defaults entry as (group path, option): ``{"model": "mlp"}`` -> (("model",), "mlp"),
    ``"base"`` -> ((), "base"); (None, None) for an entry that is not simple."""
    if isinstance(entry, str) and _SIMPLE.fullmatch(entry):
        return (), entry
    if isinstance(entry, dict) and len(entry) == 1:
        ((key, value),) = entry.items()
        if not _SIMPLE.fullmatch(key):
            return None, None  # ``override x``, ``optional x``, ``x@pkg``
        if value is None:
            return tuple(key.split("/")), None
        if isinstance(value, str) and _SIMPLE.fullmatch(value):
            return tuple(key.split("/")), value
    return None, None


def _group_file(folder: str, name: str, root: str) -> str | None:
    name = name if name.endswith((".yaml", ".yml")) else name + ".yaml"
    return locate(name, (folder,), root)


def _package(path: str, group: tuple[str, ...]) -> tuple[str, ...] | None:
    """Where a group file's keys go: under its group, or where its ``# @package`` header says
    (``_global_``: the top, ``_group_``: the group, ``a.b``: there); None for a header this
    does not read."""
    loaded = _file(path)
    if loaded is None:
        return None
    found = re.search(rb"^#\s*@package\s+(\S+)\s*$", loaded[0][:2048], re.MULTILINE)
    if found is None:
        return group
    package = found.group(1).decode("ascii", "replace")
    if package == "_global_":
        return ()
    if package == "_group_":
        return group
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*", package):
        return tuple(package.split("."))
    return None


def _merge(
    into: dict[str, Any],
    over: dict[str, Any],
    prefix: tuple[str, ...],
    source: str,
    sources: dict[tuple[str, ...], str],
) -> None:
    for key, value in over.items():
        keys = (*prefix, key)
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, keys, source, sources)
        else:
            into[key] = copy.deepcopy(value)
            sources[keys] = source


# -- a YAML subset, for when PyYAML is not installed -----------------------------------------------

_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_FLOAT = re.compile(r"[-+]?([0-9]+\.[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?")
_KEY = re.compile(r"""(?P<key>[A-Za-z0-9_][^:#'"]*?|"[^"]*"|'[^']*')\s*:(\s+|$)""")
_NULLS = {"", "~", "null", "Null", "NULL"}
_BOOLS = {"true": True, "True": True, "TRUE": True, "false": False, "False": False}


class YamlSubsetError(ValueError):
    """Text outside the subset :func:`parse_yaml` reads."""


def parse_yaml(text: str) -> Any:
    """A small YAML subset: block mappings nested by indentation, block lists (``- item``,
    ``- key: value``), flow lists of scalars (``[64, 64]``), comments, and scalars (integers,
    floats with a dot, ``true``/``false``, ``null``/``~``, quoted and plain strings). A scalar
    whose meaning differs between YAML loaders (``yes``, ``1e-3``, ``0x10``, dates) is unknown;
    anything else outside the subset (anchors, tags, multi-line strings, flow mappings, several
    documents) raises :class:`YamlSubsetError`."""
    lines: list[tuple[int, str]] = []
    for raw in text.splitlines():
        stripped = _uncomment(raw).rstrip()
        if not stripped.strip():
            continue
        if "\t" in raw[: len(raw) - len(raw.lstrip())]:
            raise YamlSubsetError("tab indentation")
        if stripped.strip() in ("---", "...") and not lines:
            continue
        lines.append((len(stripped) - len(stripped.lstrip(" ")), stripped.strip()))
    if not lines:
        return None
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines):
        raise YamlSubsetError("unexpected indentation")
    return value


def _uncomment(line: str) -> str:
    quote = ""
    for i, char in enumerate(line):
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i]
    return line


def _block(lines: list[tuple[int, str]], start: int, indent: int) -> tuple[Any, int]:
    if lines[start][1].startswith("- ") or lines[start][1] == "-":
        return _sequence(lines, start, indent)
    return _mapping(lines, start, indent)


def _mapping(lines: list[tuple[int, str]], start: int, indent: int) -> tuple[Any, int]:
    out: dict[str, Any] = {}
    i = start
    while i < len(lines) and lines[i][0] == indent:
        match = _KEY.match(lines[i][1])
        if match is None:
            raise YamlSubsetError(f"not a key: {lines[i][1]!r}")
        key = match.group("key")
        key = key[1:-1] if key[:1] in "'\"" else key.rstrip()
        if key in out:
            raise YamlSubsetError(f"duplicate key {key!r}")
        rest = lines[i][1][match.end() :]
        i += 1
        if rest:
            out[key] = _scalar(rest)
        elif i < len(lines) and (
            lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("-"))
        ):
            out[key], i = _block(lines, i, lines[i][0])
        else:
            out[key] = None
    if i < len(lines) and lines[i][0] > indent:
        raise YamlSubsetError("unexpected indentation")
    return out, i


def _sequence(lines: list[tuple[int, str]], start: int, indent: int) -> tuple[Any, int]:
    out: list[Any] = []
    i = start
    while i < len(lines) and lines[i][0] == indent and lines[i][1][:2] in ("- ", "-"):
        item = lines[i][1][1:].lstrip(" ")
        if not item:
            i += 1
            if i < len(lines) and lines[i][0] > indent:
                value, i = _block(lines, i, lines[i][0])
                out.append(value)
            else:
                out.append(None)
            continue
        if _KEY.match(item):  # ``- key: value`` (and more keys indented under it)
            inner = indent + (len(lines[i][1]) - len(item))
            rewritten = [*lines[:i], (inner, item), *lines[i + 1 :]]
            value, i = _mapping(rewritten, i, inner)
            out.append(value)
            continue
        out.append(_scalar(item))
        i += 1
    return out, i


def _scalar(text: str) -> Any:
    text = text.strip()
    if text[:1] in "&*!|>{%@`":
        raise YamlSubsetError(f"outside the subset: {text!r}")
    if text.startswith("["):
        if not text.endswith("]"):
            raise YamlSubsetError("multi-line flow list")
        body = text[1:-1].strip()
        if any(c in body for c in "[]{}\"'"):
            raise YamlSubsetError("nested or quoted flow list")
        return [_scalar(part) for part in body.split(",")] if body else []
    if text[:1] in "'\"":
        if len(text) < 2 or text[-1] != text[0]:
            raise YamlSubsetError("unterminated string")
        inner = text[1:-1]
        if text[0] == '"' and "\\" in inner:
            return UNSURE
        return inner.replace("''", "'") if text[0] == "'" else inner
    if text in _NULLS:
        return None
    if text in _BOOLS:
        return _BOOLS[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    if text.lower() in {"yes", "no", "on", "off", "y", "n", ".inf", "-.inf", ".nan"}:
        return UNSURE
    if re.fullmatch(r"[-+0-9._:eExXoObB]+", text):  # 1e-3, 0x10, 010, 1_000, 12:30, dates
        return UNSURE
    if ": " in text or text.endswith(":"):
        raise YamlSubsetError("a mapping in a scalar position")
    return text


__all__ = [
    "MAX_CONFIG_BYTES",
    "UNSURE",
    "DataFile",
    "Document",
    "hydra",
    "locate",
    "parse_yaml",
    "plain",
    "read",
    "read_bytes",
    "settled",
]
