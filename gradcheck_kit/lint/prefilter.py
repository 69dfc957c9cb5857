"""The project-aware prefilter: a file whose own text names no saturating activation is still
interpreted for the saturating rules when one can reach it from the project the two ways the
interpreter follows together - a string from a caller, mapped by a table or helper here:

(a) a project file that calls a class or function defined at the top level of the file passes
    a saturating word: the call mentions one (``FNN(sizes, "tanh")`` in ``train.py``) or shares
    a name with a line that does (``activation = "tanh"``, an argparse default); the callers are
    the call index's (notebooks included), and one counts only where its imports bind the name
    to this file (:func:`~gradcheck_kit.lint.callsites.binds`: another module's ``FNN`` is not
    this one), and
(b) a project module the file imports mentions one too (``from .utils import get_activation``,
    ``from .. import activations``; a package's ``__init__`` is followed one hop further, to the
    modules it imports), or the file looks attributes up by a computed name (``getattr(nn,
    name)``: ``"Tanh"`` is torch's own).

A third way needs no caller: the file imports by name a project class or function whose own
definition names one (``from .blocks import TanhBlock``, stacked here:
:mod:`gradcheck_kit.lint.imported_blocks`).

For the first two, both are needed: a caller's string becomes a saturating module only through such a mapping, and a
mapping with no saturating caller is the shared helper every model file imports (transformers'
``ACT2FN``), whose activation comes from a config the linter cannot read. The cheap tests come
first: the call index records whether each file's lowercased bytes hold a saturating word (its
``!`` mark; with ``extend-saturating``, the candidates' text is read for those names too), then
a caller's text is searched around the calls, and only a caller that passes both is parsed (once
per process) to resolve its imports. An activation passed as a
module (``FNN(sizes, nn.Tanh())``) or read from a config file by the caller is not seen this way.

The cache key covers what decided: the file "consulted" the call index's digest of every file
that names its top-level names (:func:`~gradcheck_kit.lint.callindex.callers_entry`: a caller
added, edited or removed re-lints it) and each imported module tested, up to the first that
mentions a saturating word. A single-file run asks the same index, so it decides the same.
"""

from __future__ import annotations

import ast
import hashlib
import os
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from gradcheck_kit.lint.caller_text import (
    IDENTIFIER,
    SATURATING_WORDS,
    assignments,
    calls_of,
    defined_functions,
    lowered_bytes,
    passes_directly,
    read_bytes,
    saturating_names,
    shared_names,
    word_bytes,
)
from gradcheck_kit.lint.caller_text import forget as forget_text
from gradcheck_kit.lint.import_statements import import_targets

if TYPE_CHECKING:  # imported where used: a run that never interprets needs none of them
    from gradcheck_kit.lint.callindex import CallIndex
    from gradcheck_kit.lint.project import Project
    from gradcheck_kit.lint.rules.base import Rule

#: A consulted file: (path, sha256, size, mtime in ns).
Stamp = tuple[str, str, int, int]
#: At most this many imported modules are tested per file.
MAX_MODULES = 64

#: (path, extend-saturating) -> whether the file mentions a saturating word (this run)
_MENTIONS: dict[tuple[str, tuple[str, ...]], bool] = {}
#: path -> (path, sha256, size, mtime in ns): a tested module, as the cache records it
_STAMPS: dict[str, tuple[str, str, int, int] | None] = {}


def forget() -> None:
    """Forget what files said (a new run: they may have changed)."""
    _MENTIONS.clear()
    _STAMPS.clear()
    _IMPORTED_BY_TEXT.clear()
    _CONFIGS.clear()
    forget_text()


def reached(
    tree: ast.Module,
    text: str,
    path: str,
    extend_saturating: tuple[str, ...] = (),
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> bool:
    """Whether a saturating activation may reach the file at ``path`` (its ``text`` and
    ``tree``) from the project (see the module docstring). What decided is added to
    ``consulted``, for the cache key."""
    from gradcheck_kit.lint import callindex
    from gradcheck_kit.lint.callsites import binds
    from gradcheck_kit.lint.project import Project

    names = sorted(
        {
            node.name
            for node in tree.body
            if isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
        }
    )
    if not names:
        return False
    project = Project.for_file(path)
    if project.root is None:
        return False
    index = callindex.index(project.root)
    if consulted is not None:
        consulted.append(callindex.callers_entry(project.root, names))
    me = project.current.path
    passing = [
        (caller, name)
        for name in names
        for caller in index.callers(name)
        if caller != me and _passes(index, caller, name, extend_saturating, project, consulted)
    ]
    passing = [(caller, name) for caller, name in passing if binds(project, caller, name)]
    if not passing:
        passing = _through_wrappers(project, index, names, extend_saturating, consulted)
    if not passing:
        return False
    if any(_passes_object(caller, name, extend_saturating) for caller, name in passing):
        return True  # ``MLP(sizes, activation=nn.Tanh)``: no table needed here
    if "getattr(" in text:
        return True
    return any(
        mentions(index, module, extend_saturating)
        for module in _consulted_imports(project, tree, consulted)
    )


def _through_wrappers(
    project: Project,
    index: CallIndex,
    names: list[str],
    extend: tuple[str, ...],
    consulted: list[tuple[str, str, int, int]] | None,
) -> list[tuple[str, str]]:
    """The callers that pass parsed argparse options with a saturating default to a wrapper in
    another file of ``names`` (``get_model(args)`` in ``train.py``, whose ``get_model`` in
    ``builders.py`` builds ``MLP(..., act=args.activation)``): one wrapper deep, by the text,
    as (caller, wrapper)."""
    from gradcheck_kit.lint import callindex
    from gradcheck_kit.lint.caller_text import wrappers_of

    wrappers = sorted({w for name in names for w in wrappers_of(project, name)} - set(names))
    if not wrappers:
        return []
    if consulted is not None:  # a caller of a wrapper edited to pass one re-lints the file
        consulted.append(callindex.callers_entry(project.root or "", wrappers))
    me = project.current.path
    return [
        (caller, wrapper)
        for wrapper in wrappers
        for caller in index.callers(wrapper)
        if caller != me and _passes_assigned(index, caller, wrapper, extend)
    ]


def passes_activation(
    project: Project,
    name: str,
    extend_saturating: tuple[str, ...] = (),
    passed_on: frozenset[str] | None = None,
) -> bool:
    """Whether a project file other than ``project.current`` that calls ``name`` may pass it a
    saturating activation, by the text tests :func:`reached` makes of each caller (a word or a
    torch object in the call, or a name shared with a line that has one, in the caller, a module
    it imports or a config file it names). Text only: nothing is parsed.

    ``passed_on``: ``name`` is a wrapper that passes only these names on (the identifiers of its
    call of the class): only a word or an object in the call itself counts, as a positional
    argument or the value of a keyword among them."""
    from gradcheck_kit.lint import callindex

    if project.root is None:
        return False
    index = callindex.index(project.root)
    me = project.current.path
    for caller in index.callers(name):
        if caller == me:
            continue
        if passed_on is not None:
            if passes_directly(caller, name, extend_saturating, passed_on) or _passes_assigned(
                index, caller, name, extend_saturating
            ):
                return True
        elif _passes(index, caller, name, extend_saturating, project) or _passes_object(
            caller, name, extend_saturating
        ):
            return True
    return False


def widened(
    chosen: list[Rule],
    rules: list[Rule],
    tree: ast.Module,
    text: str,
    path: str,
    extend_saturating: tuple[str, ...] = (),
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> list[Rule]:
    """``rules`` (those of ``chosen`` whose own prefilter the file's text passes), with the
    saturating rules when an activation reaches the file from the project (:func:`reached`),
    and, where the file is interpreted anyway, each rule whose words are in a module it imports
    (:func:`imported_tokens`: an init helper elsewhere)."""
    from gradcheck_kit.lint.imported_blocks import imports_saturating_block
    from gradcheck_kit.lint.rules import saturating

    held = [r for r in chosen if r not in rules and saturating(r)]
    if held and (
        reached(tree, text, path, extend_saturating, consulted)
        or imports_saturating_block(tree, text, path, extend_saturating, consulted)
    ):
        rules = [r for r in chosen if r in rules or r in held]  # the activation is elsewhere
    candidates = [r for r in chosen if r not in rules and r.imported_words]
    if candidates and any(not r.syntactic for r in rules):
        rules = rules + [
            r for r in candidates if imported_tokens(tree, path, r.prefilter, consulted)
        ]
    return rules


def imported_tokens(
    tree: ast.Module,
    path: str,
    groups: tuple[tuple[str, ...], ...],
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> bool:
    """Whether a project module the file at ``path`` imports (one hop, as :func:`reached`
    reads them) passes a rule's own prefilter ``groups``: an init helper in ``utils.py`` that
    calls ``nn.init.normal_`` on the layers a model file hands it (``self.apply(init_weights)``).
    The modules tested are added to ``consulted``."""
    from gradcheck_kit.lint.project import Project

    if not _hands_layers_on(tree):
        return False
    project = Project.for_file(path)
    if project.root is None:
        return False
    for module in _consulted_imports(project, tree, consulted):
        text = lowered_bytes(module).decode("utf-8", "replace")
        if all(any(token in text for token in group) for group in groups):
            return True
    return False


def _consulted_imports(
    project: Project, tree: ast.Module, consulted: list[tuple[str, str, int, int]] | None
) -> Iterator[str]:
    """The project modules ``tree`` imports (:func:`_imported`), each added to ``consulted``
    as it is tested (what decided is in the cache key; the rest was not read)."""
    for module in _imported(project, tree):
        stamp = stamp_of(module)
        if stamp is None:
            continue
        if consulted is not None:
            consulted.append(stamp)
        yield module


def _hands_layers_on(tree: ast.Module) -> bool:
    """Whether the file calls something that may initialise its layers elsewhere:
    ``module.apply(fn)``, or a function or method whose name says so (``init_weights(m)``,
    ``reset_parameters()``), ``__init__`` aside."""
    from gradcheck_kit.lint.interp.syntax import walked

    for node in walked(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if name == "apply" or (name != "__init__" and ("init" in name or "reset" in name)):
                return True
    return False


def _passes(
    index: CallIndex,
    caller: str,
    name: str,
    extend: tuple[str, ...],
    project: Project | None = None,
    consulted: list[tuple[str, str, int, int]] | None = None,
) -> bool:
    """Whether ``caller`` may pass a saturating activation to ``name``: a call ``name(...)`` in
    it mentions a saturating word, or shares a name with a line that does (``activation =
    "tanh"``, ``add_argument("--act", default="tanh")``, a config field) in the caller or in a
    project module it imports (``act = "tanh"`` in ``parameters.py``, read through ``from
    parameters import params``); where the name is imported under an alias, any mention in the
    file counts."""
    own = mentions(index, caller, extend)
    if not own:
        return project is not None and (
            _passes_from_imports(index, caller, name, extend, project, consulted)
            or _run_passes(project, caller, extend, consulted)
        )
    entry = index.entries.get(caller)
    if entry is not None and f" ~{name} " in entry[4]:
        return True
    text = lowered_bytes(caller)
    words = word_bytes(extend)
    shared: set[bytes] = set()
    for call in calls_of(text, name):
        if any(word in call for word in words):
            return True
        shared.update(IDENTIFIER.findall(call))
    saturating = saturating_names(caller, extend)
    if not saturating.isdisjoint(shared):
        return True
    return _hop(caller, shared, saturating)


def _hop(caller: str, shared: set[bytes], saturating: frozenset[bytes]) -> bool:
    """Whether the call passes the parsed argparse options of a caller whose options have a
    saturating default: ``get_model(args)`` after ``args = parser.parse_args()`` (or ``args =
    get_args()``, a function of the file), with ``add_argument("--act", default="tanh")``."""
    if b"add_argument" not in saturating:
        return False
    assigned = assignments(caller)
    parsers = _PARSE | (
        defined_functions(caller) if b"parse_args" in lowered_bytes(caller) else set()
    )
    return any(not parsers.isdisjoint(assigned.get(name, ())) for name in shared)


#: What returns parsed options.
_PARSE = frozenset({b"parse_args", b"parse_known_args"})


def _run_passes(
    project: Project, caller: str, extend: tuple[str, ...], consulted: list[Stamp] | None
) -> bool:
    """A shell script runs ``caller`` with a saturating word in an option's value."""
    from gradcheck_kit.lint.shell_runs import run_with_word

    script = run_with_word(project.root, caller, word_bytes(extend))
    if script is not None and consulted is not None:
        consulted.append(script.consulted)
    return script is not None


def _passes_assigned(index: CallIndex, caller: str, name: str, extend: tuple[str, ...]) -> bool:
    """A caller that passes a wrapper a name assigned from a saturating line (:func:`_hop`):
    the options or config object it passes carries the activation."""
    if not mentions(index, caller, extend):
        return False
    shared = shared_names(lowered_bytes(caller), name)
    return bool(shared) and _hop(caller, shared, saturating_names(caller, extend))


def _passes_object(caller: str, name: str, extend: tuple[str, ...]) -> bool:
    """Whether a call ``name(...)`` in ``caller`` passes a saturating activation as an object,
    not a string: ``nn.Tanh``, ``torch.nn.Sigmoid()``, ``torch.tanh``, ``F.sigmoid``."""
    text = lowered_bytes(caller)
    words = b"|".join(re.escape(w) for w in word_bytes(extend))
    pattern = re.compile(rb"(?<![\w'\"])(?:[a-z_][a-z0-9_]*\.)*(?:" + words + rb")\b(?![\w'\"])")
    return any(pattern.search(call) for call in calls_of(text, name))


def _passes_from_imports(
    index: CallIndex,
    caller: str,
    name: str,
    extend: tuple[str, ...],
    project: Project,
    consulted: list[tuple[str, str, int, int]] | None,
) -> bool:
    """A caller that names no saturating word itself passes a value from a project module it
    imports that does, on a line that shares a name with the call (``act``)."""
    shared = shared_names(lowered_bytes(caller), name)
    if not shared:
        return False
    for base in _imported_by_text(project, caller):  # a regex over its imports: no parse
        if base == project.current.path or not mentions(index, base, extend):
            continue
        if not saturating_names(base, extend).isdisjoint(shared):
            stamp = stamp_of(base)
            if consulted is not None and stamp is not None:
                consulted.append(stamp)  # editing it may change what passes
            return True
    for config in _configs(caller, project.root):  # ``act: Tanh`` in the YAML it reads
        if not saturating_names(config, extend).isdisjoint(shared):
            stamp = stamp_of(config)
            if consulted is not None and stamp is not None:
                consulted.append(stamp)
            return True
    return False


#: ``from x.y import ...`` / ``import x.y``, at the start of a line (indented or not).
_IMPORT_LINE = re.compile(rb"^[ \t]*(?:from[ \t]+([.\w]+)[ \t]+import|import[ \t]+([\w.]+))", re.M)


#: (root, caller) -> the project modules its import lines name (this run)
_IMPORTED_BY_TEXT: dict[tuple[str | None, str], list[str]] = {}


def _imported_by_text(project: Project, caller: str) -> list[str]:
    """The project ``.py`` modules the caller's import lines name (read as text: a statement
    inside a string may count, which only costs a look at a module)."""
    key = (project.root, caller)
    known = _IMPORTED_BY_TEXT.get(key)
    if known is None:
        known = _IMPORTED_BY_TEXT[key] = _find_imported_by_text(project, caller)
    return known


def _find_imported_by_text(project: Project, caller: str) -> list[str]:
    found: list[str] = []
    for match in _IMPORT_LINE.finditer(read_bytes(caller)):
        module = (match.group(1) or match.group(2)).decode("ascii", "replace")
        path = project.find_module(module, caller)
        if path is not None and path.endswith(".py"):
            found.append(path)
    return list(dict.fromkeys(found))


#: A string literal naming a config file, or Hydra's ``config_path`` folder.
_CONFIG_LITERAL = re.compile(
    rb"""["']([^"'\n]{1,200}?\.(?:ya?ml|json|toml))["']|config_path\s*=\s*["']([^"'\n]{1,200})["']"""
)
_CONFIG_SUFFIXES = (".yaml", ".yml", ".json", ".toml")
#: At most this many config files are read for one caller (a Hydra folder).
_MAX_CONFIGS = 64


#: (caller, root) -> the config files it may read (this run)
_CONFIGS: dict[tuple[str, str | None], list[str]] = {}


def _configs(caller: str, root: str | None) -> list[str]:
    """The config files the caller may read: its string literals that name a ``.yaml``,
    ``.yml``, ``.json`` or ``.toml`` file, or a folder of them (``config_path="conf"``), found
    from its folder or the project root, inside the root, at most :data:`MAX_CONFIG_BYTES`."""
    if root is None:
        return []
    known = _CONFIGS.get((caller, root))
    if known is None:
        known = _CONFIGS[(caller, root)] = _find_configs(caller, root)
    return known


def _find_configs(caller: str, root: str) -> list[str]:
    from gradcheck_kit.lint.config_files import MAX_CONFIG_BYTES

    found: list[str] = []
    folders = (os.path.dirname(caller), root)
    for match in _CONFIG_LITERAL.finditer(read_bytes(caller)):
        name = (match.group(1) or match.group(2)).decode("utf-8", "replace")
        for folder in folders:
            path = os.path.realpath(os.path.join(folder, name))
            if not (path == root or path.startswith(root.rstrip(os.sep) + os.sep)):
                continue
            if os.path.isdir(path) and path != root:
                for inner, _, files in os.walk(path):
                    found += [
                        os.path.join(inner, f)
                        for f in sorted(files)
                        if f.endswith(_CONFIG_SUFFIXES)
                    ]
                    if len(found) >= _MAX_CONFIGS:
                        break
            elif name.endswith(_CONFIG_SUFFIXES) and os.path.isfile(path):
                found.append(path)
        if len(found) >= _MAX_CONFIGS:
            break
    out = []
    for path in dict.fromkeys(found[:_MAX_CONFIGS]):
        try:
            if os.path.getsize(path) <= MAX_CONFIG_BYTES:
                out.append(path)
        except OSError:
            continue
    return out


def mentions(index: CallIndex, path: str, extend: tuple[str, ...]) -> bool:
    """Whether the project file at ``path`` mentions a saturating word (the index's mark), or,
    with ``extend`` (``extend-saturating``), the last part of one of those names."""
    key = (path, extend)
    found = _MENTIONS.get(key)
    if found is not None:
        return found
    entry = index.entries.get(path)
    if entry is not None and not extend:
        found = " ! " in entry[4]
    else:
        lowered = lowered_bytes(path)
        found = any(word in lowered for word in word_bytes(extend))
    _MENTIONS[key] = found
    return found


def stamp_of(path: str) -> tuple[str, str, int, int] | None:
    """The module at ``path`` as a consulted file: (path, sha256, size, mtime in ns)."""
    if path not in _STAMPS:
        try:
            info = os.stat(path)
            with open(path, "rb") as handle:
                digest = hashlib.sha256(handle.read()).hexdigest()
            _STAMPS[path] = (path, digest, info.st_size, info.st_mtime_ns)
        except OSError:
            _STAMPS[path] = None
    return _STAMPS[path]


def _imported(project: Project, tree: ast.Module) -> list[str]:
    """The project modules (``.py`` files) that ``tree`` imports, in order, then, for a package's
    ``__init__``, the modules it takes the imported names from (all it imports, for a package
    imported whole): one hop, at most :data:`MAX_MODULES` modules."""
    found: list[str] = []
    for base, names in import_targets(project, tree.body, project.current.path):
        found.append(base)
        if not base.endswith("__init__.py"):
            continue
        loaded = project.load(base)
        if loaded is None:
            continue
        # the statements of the package that bind the names (or may: its star imports); a
        # package imported whole (``from .. import backend``) may lend any name it imports
        if names:
            binding = [s for n in names for s in loaded.bindings.get(n, ()) if _is_import(s)]
        else:
            binding = [s for s in loaded.tree.body if _is_import(s)]
        for hop, _ in import_targets(project, [*binding, *loaded.stars], base):
            found.append(hop)
    return [p for p in dict.fromkeys(found) if p != project.current.path][:MAX_MODULES]


def _is_import(stmt: ast.stmt) -> bool:
    return isinstance(stmt, (ast.Import, ast.ImportFrom))


__all__ = ["MAX_MODULES", "SATURATING_WORDS", "forget", "reached"]
