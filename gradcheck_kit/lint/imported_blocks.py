"""The prefilter's third way in (:mod:`gradcheck_kit.lint.prefilter`): a file whose own text names
no saturating activation, but that imports by name a class or function of the project whose own
definition names one, may stack it (``from .blocks import TanhBlock``, then
``nn.Sequential(*[TanhBlock(w) for _ in range(depth)])``): the stack is in this file, the
activation in the other.

Cheap tests first: the call index's mark says whether the imported module mentions a saturating
word at all; only then is the module parsed (once per process, as the interpreter would) and the
definitions bound to the imported names read. A package's ``__init__`` is followed one hop, to
the module it takes each name from. A module imported whole (``from lab import layers``, ``import
lab.layers as layers``) counts through the attributes the file reads of it (``layers.SmoothUnit``). Every module tested is added to the file's consulted files, for the cache key.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from gradcheck_kit.lint.caller_text import definition_text, word_bytes

if TYPE_CHECKING:
    from gradcheck_kit.lint.project import Project

_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def imports_saturating_block(
    tree: ast.Module,
    text: str,
    path: str,
    extend_saturating: tuple[str, ...] = (),
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> bool:
    """Whether the file at ``path`` (its ``tree`` and ``text``) imports by name a project class or function
    whose definition names a saturating activation. The modules tested go to ``consulted``."""
    from gradcheck_kit.lint import callindex
    from gradcheck_kit.lint.prefilter import mentions, stamp_of
    from gradcheck_kit.lint.project import Project

    if only_imports(tree):
        return False  # a package's ``__init__`` that re-exports the block stacks nothing
    project = Project.for_file(path)
    if project.root is None:
        return False
    index = callindex.index(project.root)
    lowered_words = word_bytes(extend_saturating)
    words = tuple(w.decode("utf-8", "surrogateescape") for w in lowered_words)
    for module, names in imported_names(project, tree, text):
        stamp = stamp_of(module)
        if stamp is None:
            continue
        if consulted is not None:
            consulted.append(stamp)
        if not mentions(index, module, extend_saturating):
            continue
        if not any(  # by the text first: a module is parsed only for a definition that may
            word in segment
            for name in names
            for segment in definition_text(module, name)
            for word in lowered_words
        ):
            continue
        loaded = project.load(module)
        if loaded is None:
            continue
        for name in names:
            if any(
                isinstance(stmt, _DEFS) and names_a_word(stmt, words)
                for stmt in loaded.bindings.get(name, ())
            ):
                return True
    return False


def only_imports(tree: ast.Module) -> bool:
    """Whether the module holds only imports, strings and literal assignments (``__all__``)."""
    return all(
        isinstance(stmt, (ast.Import, ast.ImportFrom))
        or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))
        or (
            isinstance(stmt, (ast.Assign, ast.AugAssign))
            and isinstance(stmt.value, (ast.Constant, ast.List, ast.Tuple))
        )
        for stmt in tree.body
    )


def imported_names(
    project: Project, tree: ast.Module, text: str
) -> list[tuple[str, tuple[str, ...]]]:
    """(project module, the names imported from it) for each ``from ... import name`` of the
    file, and for each module it imports whole, the attributes it reads of it; for a package's
    ``__init__``, the module each name is imported from there (one hop)."""
    from gradcheck_kit.lint.import_statements import import_targets

    me = project.current.path
    out: list[tuple[str, tuple[str, ...]]] = []
    for base, names in import_targets(project, tree.body, me) + _whole_modules(project, tree, text):
        if not names or base == me:
            continue
        out.append((base, names))
        if not base.endswith("__init__.py"):
            continue
        package = project.load(base)
        if package is None:
            continue
        binding: list[ast.stmt] = [
            stmt
            for name in names
            for stmt in package.bindings.get(name, ())
            if isinstance(stmt, ast.ImportFrom)
        ]
        out += [
            (hop, hop_names)
            for hop, hop_names in import_targets(project, binding, base)
            if hop_names
        ]
    return [(m, n) for m, n in dict.fromkeys(out) if m != me]


def _whole_modules(
    project: Project, tree: ast.Module, text: str
) -> list[tuple[str, tuple[str, ...]]]:
    """(project module, the attributes the file reads of it) for each module imported whole
    under a name (``from lab import layers`` / ``import lab.layers as layers``, then
    ``layers.SmoothUnit(w)``)."""
    from gradcheck_kit.lint.import_statements import modules_bound

    local = modules_bound(project, tree.body, project.current.path)
    if not local:
        return []
    used: dict[str, set[str]] = {}
    for name, module in local.items():  # by the text: walking the tree costs more
        read = re.findall(rf"(?<![\w.]){re.escape(name)}\s*\.\s*([A-Za-z_]\w*)", text)
        if read:
            used.setdefault(module, set()).update(read)
    return [(module, tuple(sorted(names))) for module, names in used.items()]


def names_a_word(definition: ast.AST, words: tuple[str, ...]) -> bool:
    """Whether a name or attribute in ``definition`` holds one of ``words`` (lowercase), or a
    short string is one: ``nn.Tanh()``, ``torch.sigmoid(x)``, ``act="tanh"`` (a docstring or a
    message that mentions one is not)."""
    for node in ast.walk(definition):
        if isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and len(node.value) <= _NAME_LENGTH
        ):
            text = node.value
        else:
            continue
        lowered = text.lower()
        if any(word in lowered for word in words):
            return True
    return False


#: the longest string read as the name of an activation (``"torch.nn.Sigmoid"``)
_NAME_LENGTH = 40
