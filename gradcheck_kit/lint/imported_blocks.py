"""The prefilter's third way in (:mod:`gradcheck_kit.lint.prefilter`): a file whose own text names
no saturating activation, but that imports by name a class or function of the project whose own
definition names one, may stack it (``from .blocks import TanhBlock``, then
``nn.Sequential(*[TanhBlock(w) for _ in range(depth)])``): the stack is in this file, the
activation in the other.

Cheap tests first: the call index's mark says whether the imported module mentions a saturating
word at all; only then is the module parsed (once per process, as the interpreter would) and the
definitions bound to the imported names read. A package's ``__init__`` is followed one hop, to
the module it takes each name from. A module imported whole (``from . import blocks``) is not
read this way. Every module tested is added to the file's consulted files, for the cache key.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from gradcheck_kit.lint.caller_text import word_bytes

if TYPE_CHECKING:
    from gradcheck_kit.lint.project import Project

_DEFS = (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)


def imports_saturating_block(
    tree: ast.Module,
    path: str,
    extend_saturating: tuple[str, ...] = (),
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> bool:
    """Whether the file at ``path`` (its ``tree``) imports by name a project class or function
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
    words = tuple(w.decode("utf-8", "surrogateescape") for w in word_bytes(extend_saturating))
    for module, names in imported_names(project, tree):
        stamp = stamp_of(module)
        if stamp is None:
            continue
        if consulted is not None:
            consulted.append(stamp)
        if not mentions(index, module, extend_saturating):
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


def imported_names(project: Project, tree: ast.Module) -> list[tuple[str, tuple[str, ...]]]:
    """(project module, the names imported from it) for each ``from ... import name`` of the
    file; for a package's ``__init__``, the module each name is imported from there (one hop)."""
    from gradcheck_kit.lint.prefilter import import_targets

    me = project.current.path
    out: list[tuple[str, tuple[str, ...]]] = []
    for base, names in import_targets(project, tree.body, me):
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
