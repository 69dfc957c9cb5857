"""Values the file being linted reads from outside its Python expressions, as its callers'
values are read (:mod:`gradcheck_kit.lint.caller_values`): its own argparse option defaults
(``args.n_layers``), config-class field defaults, and config files it loads by a literal path
(``cfg = yaml.safe_load(open("config.yaml")); n = cfg["model"]["n_layers"]``).

The machine asks only where its own evaluation gave up (an attribute, a subscript or a ``get``
that evaluated to :class:`~gradcheck_kit.lint.interp.values.Unknown`), only in this file's
code, and only when the file mentions a parser or a config loader at all; what these readers
cannot tell stays unknown.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from gradcheck_kit.lint.caller_values import CallerValues
from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.config_reads import LOADERS
from gradcheck_kit.lint.interp.folding import sourced
from gradcheck_kit.lint.interp.values import Const, Value
from gradcheck_kit.lint.project import indexed

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine

_MODULES = frozenset(name.split(".")[0] for name in LOADERS) | {"hydra"}


#: An import of a config loader (or Hydra), read in the text.
_LOADER_IMPORT = re.compile(
    r"^[ \t]*(?:from[ \t]+(?:"
    + "|".join(sorted(_MODULES))
    + r")\b|import[ \t][^\n]*\b(?:"
    + "|".join(sorted(_MODULES))
    + r")\b)",
    re.M,
)


def _reads_outside(tree: ast.Module, text: str | None) -> bool:
    """Whether the file defines argparse options or imports a config loader (read in its text
    where it is known: a word in a string or a comment only costs building the readers)."""
    if text is not None:
        return "add_argument" in text or _LOADER_IMPORT.search(text) is not None
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr == "add_argument":
            return True
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] in _MODULES for a in node.names
        ):
            return True
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in _MODULES:
            return True
    return False


def own_readers(self: Machine) -> CallerValues | None:
    """The readers of the file being linted, made on first use (None: it reads nothing from
    outside)."""
    if self.own is False:
        project = self.project
        own = None
        if _reads_outside(self.module, self.source_text):
            own = CallerValues(
                project,
                indexed(project.current, self.module),
                project.display(project.current.path),
            )
        self.own = own
    return self.own  # type: ignore[return-value]


def read_own(self: Machine, node: ast.expr) -> Value | None:
    """The value the file's own parser or config gives ``node``, as a constant naming where it
    came from; None where it gives none."""
    if self.in_foreign or _root_name(node) in _NEVER_READ:
        return None
    readers = self.own_readers()
    if readers is None:
        return None
    known = self.own_reads.get(id(node))
    if known is None:
        said: list[str] = []
        read: list[DataFile] = []
        try:
            literal = readers.literal(node, said, read)
        except RecursionError:
            literal = None
        known = self.own_reads[id(node)] = (literal, tuple(said), tuple(read))
    found, notes, files = known
    if found is None or not notes:
        return None
    try:
        value = ast.literal_eval(found)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    if isinstance(value, dict):  # a part of a config: what is read from it names its key
        return None
    for data in files:  # an edit of the config re-lints this file
        self.data_files[data.path] = data
    return _value(value, notes[-1])


#: What the readers gave an expression of the file (memoized per node): the literal, the notes
#: saying where it came from, the config files read.
OwnRead = tuple[ast.expr | None, tuple[str, ...], tuple[DataFile, ...]]

#: Names the readers never resolve (an instance's attributes are the interpreter's to read): an
#: expression rooted at one is not asked about (``self.args.n`` evaluated in every forward).
_NEVER_READ = frozenset({"self", "cls"})


def _root_name(node: ast.expr) -> str | None:
    """The name an attribute, subscript or call chain starts from (``args`` of
    ``args.sizes[0]``, ``cfg`` of ``cfg.get("n")``)."""
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            node = node.value
        else:
            return node.id if isinstance(node, ast.Name) else None


def _value(value: object, note: str) -> Value:
    """Plain data read from outside as the machine's values: a list counts its elements from
    ``note`` (``for h in hidden`` is as deep as the option's list is long)."""
    if isinstance(value, (list, tuple)):
        kind = "list" if isinstance(value, list) else "tuple"
        return sourced([_value(v, note) for v in value], note, kind)
    return Const(value, note)


__all__ = ["own_readers", "read_own"]
