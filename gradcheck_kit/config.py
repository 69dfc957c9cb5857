"""``[tool.gradcheck-kit]`` in pyproject.toml -> a frozen :class:`Config`.

Keys mirror the CLI flags. An unknown key or a value of the wrong type is a :class:`ConfigError`
naming the key, which the CLI reports with exit code 2.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".git",
    ".hg",
    ".svn",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".eggs",
    "__pycache__",
    "build",
    "dist",
    "node_modules",
    "site-packages",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".gradcheck_cache",
    ".ipynb_checkpoints",
)


_TABLE_HEADER = re.compile(r"^\s*\[\[?\s*tool\s*\.\s*\"?gradcheck-kit", re.MULTILINE)


class ConfigError(ValueError):
    """A configuration value is wrong. The message names the key and what to do."""


@dataclass(frozen=True)
class Config:
    select: tuple[str, ...] = ()  # empty: every rule that is on by default
    ignore: tuple[str, ...] = ()
    #: None: the predicted mode (GCK001 fires where the predicted flow ratio of a chain falls
    #: below ``vanish_bound``); N: the structural mode (any un-reset chain longer than N).
    max_saturating_depth: int | None = None
    vanish_bound: float = 1e-3  # the runtime checker's Bounds.vanish default
    explode_bound: float = 1e3  # predicted mode, GCK006: the runtime's Bounds.explode default
    exclude: tuple[str, ...] = ()
    extend_exclude: tuple[str, ...] = ()
    #: exclude also paths named on the command line (pre-commit passes every staged file)
    force_exclude: bool = False
    #: run each runtime check (check, audit) in a child process (``--isolate``); None: only
    #: in CI (:func:`isolate_checks`)
    isolate: bool | None = None
    per_file_ignores: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    extend_saturating: tuple[str, ...] = ()
    extend_normalization: tuple[str, ...] = ()
    checks: tuple[Mapping[str, Any], ...] = ()  # [[tool.gradcheck-kit.check]] tables, raw
    #: ``lint`` applies safe fixes (``--fix``) / also unsafe ones (``--unsafe-fixes``); neither
    #: changes a finding, so neither is part of the lint cache's key
    fix: bool = False
    unsafe_fixes: bool = False
    source: Path | None = None  # the pyproject.toml this came from

    @property
    def root(self) -> Path:
        return self.source.parent if self.source else Path.cwd()

    def with_overrides(self, **changes: Any) -> Config:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _str_list(key: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"[tool.gradcheck-kit] {key}: expected a list of strings, got {value!r}")
    return tuple(value)


def isolate_checks(flag: bool | None, config: Config) -> bool:
    """Whether runtime checks run in a child process: the flag, else the config, else
    ``GRADCHECK_KIT_ISOLATE`` (``1``/``0``), else in CI (the ``CI`` variable set): there a gate
    must survive any target, for ~2 s a run (one child serves every check)."""
    for choice in (flag, config.isolate):
        if choice is not None:
            return choice
    env = os.environ.get("GRADCHECK_KIT_ISOLATE", "").strip().lower()
    if env in ("1", "true", "yes", "on"):
        return True
    if env in ("0", "false", "no", "off"):
        return False
    return bool(os.environ.get("CI"))


def _flag(key: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(f"[tool.gradcheck-kit] {key}: expected true or false, got {value!r}")
    return value


def _codes(key: str, value: Any) -> tuple[str, ...]:
    return tuple(code.strip().upper() for code in _str_list(key, value))


def _positive_int(key: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"[tool.gradcheck-kit] {key}: expected a positive integer, got {value!r}")
    return value


def _bound(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
        raise ConfigError(f"[tool.gradcheck-kit] {key}: expected a number in (0, 1), got {value!r}")
    return float(value)


def _explode_bound(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 < value < math.inf:
        raise ConfigError(f"[tool.gradcheck-kit] {key}: expected a number above 1, got {value!r}")
    return float(value)


def _per_file_ignores(key: str, value: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(value, dict):
        raise ConfigError(
            f"[tool.gradcheck-kit] {key}: expected a table of glob = [codes], got {value!r}"
        )
    from gradcheck_kit.lint.rules import unknown_codes

    parsed = {str(glob): _codes(f"{key}.{glob}", codes) for glob, codes in value.items()}
    for glob, codes in parsed.items():
        bad = unknown_codes(codes)
        if bad:
            raise ConfigError(
                f"[tool.gradcheck-kit] {key}.{glob!r}: unknown rule code(s) {', '.join(bad)} "
                "(see `gradcheck-kit rule`)"
            )
    return parsed


def did_you_mean(key: str, known: Any) -> str:
    """`` (did you mean 'x'?)`` for a misspelt key, else ``""``."""
    close = difflib.get_close_matches(key, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_depths_value(value: Any) -> tuple[int, int]:
    """``"2:32"``, ``"16"``, ``[2, 32]`` or an int -> (lo, hi); ValueError naming what is wrong."""
    if isinstance(value, (bool, float)):
        raise ValueError(f"expected LO:HI (e.g. 2:32), got {value!r}")
    if isinstance(value, int):
        lo = hi = value
    elif isinstance(value, (list, tuple)):
        if len(value) != 2 or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in value
        ):
            raise ValueError(f"expected LO:HI (e.g. 2:32) or [LO, HI], got {value!r}")
        lo, hi = value
    elif isinstance(value, str):
        lo_s, _, hi_s = value.strip().partition(":")
        hi_s = hi_s or lo_s
        if not (lo_s.strip().isdigit() and hi_s.strip().isdigit()):
            raise ValueError(f"expected LO:HI (e.g. 2:32), got {value!r}")
        lo, hi = int(lo_s), int(hi_s)
    else:
        raise ValueError(f"expected LO:HI (e.g. 2:32), got {value!r}")
    if lo < 1 or hi < lo:
        raise ValueError(f"need 1 <= LO <= HI, got {lo}:{hi}")
    return lo, hi


def parse_shape_value(value: Any) -> tuple[int, ...]:
    """``[16, 64]``, ``"16,64"`` or ``"16x64"`` -> (16, 64); every size a positive integer."""
    if isinstance(value, (list, tuple)):
        parts: list[Any] = list(value)
        ok = all(isinstance(v, int) and not isinstance(v, bool) for v in parts)
    elif isinstance(value, str):
        parts = [p.strip() for p in value.replace("x", ",").split(",")]
        ok = all(p.isdigit() for p in parts)
        parts = [int(p) for p in parts] if ok else parts
    else:
        parts, ok = [], False
    if not ok or not parts or any(p < 1 for p in parts):
        raise ValueError(
            f"expected an input shape of positive integer sizes like 16,64, got {value!r}"
        )
    return tuple(parts)


#: One input's shape; several positional inputs; or keyword inputs by name.
InputShapes = tuple[int, ...] | tuple[tuple[int, ...], ...] | dict[str, tuple[int, ...]]


def parse_input_shapes(value: Any) -> InputShapes:
    """The forward's input(s): one shape (``[16, 64]``, ``"16,64"``); several positional ones
    (``[[16, 1], [16, 1]]``, ``"16,1;16,1"``); or keyword ones (``{x = [16, 1], t = [16, 1]}``,
    ``"x=16,1;t=16,1"``). They share the batch size (the first size)."""
    if isinstance(value, str) and (";" in value or "=" in value):
        parts = [p.strip() for p in value.split(";") if p.strip()]
        named = [p.partition("=") for p in parts]
        if all(sep for _, sep, _ in named):
            value = {name.strip(): shape for name, _, shape in named}
        elif not any(sep for _, sep, _ in named):
            value = parts
        else:
            raise ValueError(f"name every input or none, got {value!r}")
    if isinstance(value, dict):
        if not value or not all(isinstance(k, str) and k.isidentifier() for k in value):
            raise ValueError(f"expected input names mapped to shapes, got {value!r}")
        shapes = {k: parse_shape_value(v) for k, v in value.items()}
        _same_batch(list(shapes.values()), value)
        return shapes
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (list, tuple, str)) for v in value)
    ):
        several = tuple(parse_shape_value(v) for v in value)
        _same_batch(list(several), value)
        return several if len(several) > 1 else several[0]
    return parse_shape_value(value)


def _same_batch(shapes: list[tuple[int, ...]], value: Any) -> None:
    if len({shape[0] for shape in shapes}) > 1:
        raise ValueError(f"the inputs must share their batch size (the first size), got {value!r}")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_value(key: str, value: Any) -> None:
    """Raise ValueError (the message without the key) when a [[check]] value is wrong."""
    if key in ("target", "input-dtype"):
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"expected a non-empty string, got {value!r}")
    elif key == "depths":
        parse_depths_value(value)
    elif key == "input-shape":
        parse_input_shapes(value)
    elif key in ("vocab-size", "max-examples"):
        if not _is_int(value) or value < 1:
            raise ValueError(f"expected a positive integer, got {value!r}")
    elif key == "seed":
        if not _is_int(value) or value < 0:
            raise ValueError(f"expected a non-negative integer, got {value!r}")
    elif key in ("device", "dtype"):
        if not (isinstance(value, (str, list))) or not all(
            isinstance(v, str) for v in ([value] if isinstance(value, str) else value)
        ):
            raise ValueError(f"expected a string or a list of strings, got {value!r}")
    elif key in ("timeout", "vanish", "explode") and (not _is_number(value) or value <= 0):
        raise ValueError(f"expected a positive number, got {value!r}")


#: [[tool.gradcheck-kit.check]] keys (the CLI flags, plus target) -> argparse attribute.
CHECK_KEYS: dict[str, str] = {
    "target": "target",
    "depths": "depths",
    "input-shape": "input_shape",
    "input-dtype": "input_dtype",
    "vocab-size": "vocab_size",
    "device": "device",
    "dtype": "dtype",
    "max-examples": "max_examples",
    "seed": "seed",
    "vanish": "vanish",
    "explode": "explode",
    "timeout": "timeout",
}


def validate_check_table(table: Any, where: str) -> Mapping[str, Any]:
    """One [[check]] table: every key known, every value of the right type; ``where`` names the
    table in the message (``[[tool.gradcheck-kit.check]] #2``)."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: expected a table, got {table!r}")
    for key, value in table.items():
        if key not in CHECK_KEYS:
            raise ConfigError(
                f"{where}: unknown key {key!r}{did_you_mean(key, CHECK_KEYS)} "
                f"(known: {', '.join(CHECK_KEYS)})"
            )
        try:
            _check_value(key, value)
        except ValueError as exc:
            raise ConfigError(f"{where}: {key}: {exc}") from None
    if "target" not in table:
        raise ConfigError(f"{where}: missing 'target' (e.g. target = \"models.py:make_model\")")
    return table


def _checks(key: str, value: Any) -> tuple[Mapping[str, Any], ...]:
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise ConfigError(f"[[tool.gradcheck-kit.{key}]]: expected an array of tables")
    return tuple(
        validate_check_table(table, f"[[tool.gradcheck-kit.{key}]] #{i + 1}")
        for i, table in enumerate(value)
    )


_PARSERS = {
    "select": ("select", _codes),
    "ignore": ("ignore", _codes),
    "extend-select": ("select", _codes),
    "max-saturating-depth": ("max_saturating_depth", _positive_int),
    "vanish-bound": ("vanish_bound", _bound),
    "explode-bound": ("explode_bound", _explode_bound),
    "exclude": ("exclude", _str_list),
    "extend-exclude": ("extend_exclude", _str_list),
    "force-exclude": ("force_exclude", _flag),
    "isolate": ("isolate", _flag),
    "per-file-ignores": ("per_file_ignores", _per_file_ignores),
    "extend-saturating": ("extend_saturating", _str_list),
    "extend-normalization": ("extend_normalization", _str_list),
    "check": ("checks", _checks),
    "fix": ("fix", _flag),
    "unsafe-fixes": ("unsafe_fixes", _flag),
}


def config_from_mapping(table: Mapping[str, Any], source: Path | None = None) -> Config:
    """Validate a ``[tool.gradcheck-kit]`` table."""
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in _PARSERS:
            known = ", ".join(sorted(_PARSERS))
            raise ConfigError(
                f"[tool.gradcheck-kit] unknown key {key!r}{did_you_mean(key, _PARSERS)} "
                f"(known keys: {known})"
            )
        attr, parse = _PARSERS[key]
        values[attr] = parse(key, raw)
    return Config(source=source, **values)


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; raises OSError or ValueError (TOMLDecodeError is one)."""
    data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    return data


def load_config(path: Path) -> Config:
    """Read the ``[tool.gradcheck-kit]`` table of one pyproject.toml (or a bare gradcheck.toml)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from exc
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"{path}: 'tool' must be a table ([tool.gradcheck-kit]), got {tool!r}")
    if path.name == "pyproject.toml":
        table = tool.get("gradcheck-kit", {})
    else:
        table = tool.get("gradcheck-kit", data)
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [tool.gradcheck-kit] must be a table")
    try:
        return config_from_mapping(table, source=path.resolve())
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above ``start`` that has a [tool.gradcheck-kit] table,
    else the nearest pyproject.toml at all."""
    start = start.resolve()
    if start.is_file():
        start = start.parent
    nearest: Path | None = None
    for directory in (start, *start.parents):
        candidate = directory / "pyproject.toml"
        if candidate.is_file():
            nearest = nearest or candidate
            try:
                text = candidate.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if _TABLE_HEADER.search(text):
                return candidate
    return nearest


def discover_config(paths: list[Path] | None = None) -> Config:
    """The config that applies to a run over ``paths`` (the first path decides)."""
    start = paths[0] if paths else Path.cwd()
    found = find_pyproject(start)
    return load_config(found) if found else Config()
