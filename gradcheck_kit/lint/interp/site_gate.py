"""Whether the call sites of a class (or of a builder function: :func:`sites_matter`) in other
files can change what the linter finds in it: the test that keeps a project-wide lint from
parsing every caller of every class.

Looking a class's call sites up parses each file that calls it (timm's ``DropPath`` has a
hundred callers) and reads their values; the class is then built again with each call's
arguments. That can only add a finding when those arguments can make the class hold what the
rules look for. The class's default instance is already built (:meth:`Machine.run`), so the
test reads it first, and then only text:

(a) its default instance holds a saturating layer, a layer the linter cannot see or an affine
    layer with an explicit init (GCK006): a call's arguments may deepen it (a repeat of unknown
    count alone does not count: repeating layers that are none of these finds nothing);
(b) the class's code, or a top-level class, function or value of its file that the code names
    (followed through the names they name in turn), mentions a saturating word (``nn.Tanh``,
    ``"sigmoid"``, ``torch.tanh``): a count of zero or a flag off by default hides a saturating
    layer the class can build; where the default instance has no sketch at all (its forward
    could not be read with the defaults), an explicit init (``normal_``, ``kaiming_...``)
    counts too;
(c) a caller passes a saturating activation: a call of the class mentions a saturating word or
    object, or shares a name with a line of the caller (or a module or config file it reads)
    that does (:func:`~gradcheck_kit.lint.prefilter.passes_activation`, text only); or a call
    of a wrapper that passes its parameters on to the class (a top-level class or function of
    this file whose code names it, or of another file whose text calls it:
    :func:`~gradcheck_kit.lint.caller_text.wrappers_of`, two wrappers deep) has a saturating
    word in a positional argument or in a keyword the wrapper's call passes on.

None of them holding, no argument can put a saturating layer or an explicit init into the class,
and its call sites are not looked up. The files that name the class or a wrapper read for (c)
stay in the cache key all the same (a caller edited to pass ``"tanh"`` re-lints the file).
What the gate cannot see is a block passed as a class from another file (``Stack(block=
TanhBlock)`` with ``Stack`` building no saturating layer itself): call sites do not read such an
argument either.
"""

from __future__ import annotations

import ast
import re
from typing import TYPE_CHECKING

from gradcheck_kit.lint.interp.values import ClassInfo, Instance, Value
from gradcheck_kit.lint.sketch import Layer, Node, nodes

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine


def call_sites_matter(machine: Machine, info: ClassInfo, default: Value | None) -> bool:
    """Whether call sites of ``info`` in other files may change the findings (module docstring);
    ``default``: its instance built with its defaults (None: that failed)."""
    return sites_matter(machine, info.node, info.name, _open_default(machine, default))


def sites_matter(machine: Machine, node: ast.stmt, name: str, opened: bool | None) -> bool:
    """:func:`call_sites_matter` for a class or a builder function (``node``, named ``name``)
    whose default build holds what the rules look for (``opened``; None: no sketch)."""
    return (
        opened is True
        or _names_saturating(machine, node, inits=opened is None)
        or _callers_pass(machine, name)
    )


def opened_sketch(machine: Machine, built: list[Node]) -> bool:
    """Whether the sketches ``built`` (a builder's Sequentials) hold a saturating layer, a layer
    the linter cannot see, or an affine layer with an explicit init."""
    return any(_holds(machine, node) for node in built)


def _open_default(machine: Machine, default: Value | None) -> bool | None:
    """Whether the default instance's sketch holds a saturating layer, a layer the linter cannot
    see, or an affine layer with an explicit init; None where it has no sketch."""
    if not isinstance(default, Instance):
        return None
    node = machine.instance_node(default)
    if node is None:
        return None
    return _holds(machine, node)


def _holds(machine: Machine, node: Node) -> bool:
    inits = machine.inits.keys() | machine.unread_inits.keys()
    return any(
        isinstance(layer, Layer)
        and (
            layer.kind in ("saturating", "unknown")
            or (layer.kind == "affine" and id(layer.origin) in inits)
        )
        for layer in nodes(node)
    )


_IMPORTS = (ast.Import, ast.ImportFrom)


def _names_saturating(machine: Machine, definition: ast.stmt, inits: bool) -> bool:
    """Whether the class's (or function's) code, or the top-level definitions of its file it reaches by name
    (the bindings the project indexed for the file: :attr:`Project.own`), mentions a saturating
    word (or, with ``inits``, an explicit init: GCK006's own words)."""
    from gradcheck_kit.lint.caller_text import word_bytes
    from gradcheck_kit.lint.rules.gck006_exploding_init import INIT_WORDS

    own = machine.project.own
    if own is None or own.tree is not machine.module or definition not in machine.module.body:
        return True  # its file's names are not indexed: do not skip on a guess
    extend = tuple(sorted(machine.extra_saturating))
    words = tuple(w.decode("utf-8", "surrogateescape") for w in word_bytes(extend))
    if inits:
        words += INIT_WORDS
    table = own.bindings
    seen: set[int] = set()
    todo: list[ast.stmt] = [definition]
    while todo:
        stmt = todo.pop()
        if id(stmt) in seen:
            continue
        seen.add(id(stmt))
        names, text = _mentioned(machine, stmt)
        if any(word in text for word in words):
            return True
        for name in names:
            # an import line names many things; what it imports is another file's to say
            todo.extend(s for s in table.get(name, ()) if not isinstance(s, _IMPORTS))
    return False


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _mentioned(machine: Machine, stmt: ast.stmt) -> tuple[frozenset[str], str]:
    """The identifiers in ``stmt``'s source text, and that text lowercased (comments and
    docstrings included: a word there costs a lookup, never a finding)."""
    found = machine.site_mentions.get(id(stmt))
    if found is None:
        lines = machine.source_lines
        if lines is None:
            text = ast.unparse(stmt)
        else:
            end = getattr(stmt, "end_lineno", None) or stmt.lineno
            text = "\n".join(lines[stmt.lineno - 1 : end])
        found = (frozenset(_IDENTIFIER.findall(text)), text.lower())
        machine.site_mentions[id(stmt)] = found
    return found


def _callers_pass(machine: Machine, name: str) -> bool:
    """Whether a caller in another file passes ``name`` a saturating activation, or passes one
    to a wrapper that builds it with its own parameters (``Solver(layers, "tanh")`` where
    ``Solver.__init__`` builds ``DNN(layers, act)``; in this file or another), up to
    :data:`~gradcheck_kit.lint.callsites.MAX_WRAPPERS` wrappers. Every name read is added to
    the project's looked-up names: a caller edited to pass one re-lints the file."""
    from gradcheck_kit.lint.caller_text import wrappers_of
    from gradcheck_kit.lint.callsites import MAX_WRAPPERS
    from gradcheck_kit.lint.prefilter import passes_activation

    project = machine.project
    if project.root is None:
        return False
    extend = tuple(sorted(machine.extra_saturating))
    seen = {name}
    # name -> the names a wrapper passes on to what it wraps (None: the class itself)
    names: dict[str, frozenset[str] | None] = {name: None}
    for wraps in range(MAX_WRAPPERS + 1):
        project.looked_up.update(names)
        if any(passes_activation(project, n, extend, passed) for n, passed in names.items()):
            return True
        if wraps == MAX_WRAPPERS:
            break
        found: dict[str, frozenset[str]] = {}
        for stmt in machine.module.body:
            if isinstance(stmt, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                mentioned = _mentioned(machine, stmt)[0]
                if not mentioned.isdisjoint(names):
                    found[stmt.name] = mentioned  # its whole text: an over-estimate
        for n in names:
            for wrapper, passed in wrappers_of(project, n).items():
                found[wrapper] = found.get(wrapper, frozenset()) | passed
        names = {w: passed for w, passed in found.items() if w not in seen}
        seen.update(names)
        if not names:
            break
    return False
