"""The machine's imports: a name imported from another module of the project is that module's
value, interpreted there (:class:`~gradcheck_kit.lint.interp.values.ModuleEnv`: its globals,
evaluated one name at a time on first use, memoized per module for the file being linted).

Only what the file reaches is read: ``from .blocks import Block`` evaluates the ``class Block``
statement of ``blocks.py`` (and, through its bases and class body, what they name), not the rest
of the module. A name bound once at the top level is evaluated; one bound inside an ``if``/``try``,
more than once, or changed after binding (``LAYERS.append(...)``) stays unknown, as does an
import the project does not resolve (it stays the qualified reference it always was). Import
cycles are safe: a name read while it is being evaluated is unknown. ``__init__`` re-exports,
``__all__`` and ``from x import *`` are followed as Python follows them.

Code of another module runs *foreign* (:attr:`Machine.in_foreign`): its classes and functions are
not roots of this file (that module reports them), it records no events, and a layer it builds is
anchored at the call in this file that led into it (:attr:`Machine.entry`), so findings stay in
this file's lines.
"""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from gradcheck_kit.lint.interp.frames import BudgetExceeded, Frame
from gradcheck_kit.lint.interp.models.generic import unmodelled_call
from gradcheck_kit.lint.interp.values import (
    ClassRef,
    Const,
    FuncRef,
    Instance,
    LazyImport,
    ModuleEnv,
    ModuleNS,
    ProjectConst,
    Ref,
    Unknown,
    Value,
)
from gradcheck_kit.lint.provenance import cite, node_place

if TYPE_CHECKING:
    from gradcheck_kit.lint.interp.machine import Machine

#: Nested evaluations of another module's names (a chain of re-exports) before one is unknown.
MAX_IMPORT_DEPTH = 16


def importer_of(frame: Frame) -> ModuleEnv | None:
    """The project module whose code ``frame`` runs (None: the file being linted)."""
    if isinstance(frame.env, ModuleEnv):
        return frame.env
    if frame.outer and isinstance(frame.outer[-1], ModuleEnv):
        return frame.outer[-1]
    return None


def module_env(self: Machine, path: str) -> ModuleEnv | None:
    """The globals of the project module at ``path`` (memoized), or None if it cannot be read."""
    if path in self.modules:
        return self.modules[path]
    loaded = self.project.load(path)
    env = ModuleEnv(loaded, self.resolve_global) if loaded is not None else None
    self.modules[path] = env
    if loaded is not None:
        self.consulted.setdefault(loaded.file.path, loaded.file)
        self.loaded[loaded.file.path] = loaded
    return env


def module_attr(self: Machine, module: ModuleNS, attr: str) -> Value:
    """``blocks.Block`` for a module bound to a name: its global, else its submodule."""
    env = self.module_env(module.path) if module.path.endswith(".py") else None
    if env is not None and attr in env:
        return env[attr]
    if (env is None and not module.path.endswith(".py")) or (
        env is not None and env.module.is_package
    ):
        sub = self.project.submodule(module.path, attr)
        if sub is not None:
            return ModuleNS(sub)
    if env is not None and env.module.dispatches:
        return self.dispatched(module.path, attr)
    return Unknown(attr)


def dispatched(self: Machine, package: str, attr: str) -> Value:
    """``attr`` of a package that loads one of its submodules by a computed name
    (:attr:`~gradcheck_kit.lint.project.LoadedModule.dispatches`: ``bkd.tanh`` with deepxde's
    backends): its PyTorch submodule's (:meth:`~gradcheck_kit.lint.project.Project.dispatched`),
    the first that binds it."""
    for sub in self.project.dispatched(package):
        env = self.module_env(sub)
        if env is not None and attr in env:
            return env[attr]
    return Unknown(attr)


def resolve_lazy(self: Machine, lazy: LazyImport) -> Value:
    """The value of a name this file imported from the project (see :class:`LazyImport`)."""
    if lazy.value is None:
        value = None
        if self.foreign_left > 0 or self.in_foreign:
            value = self.module_attr(ModuleNS(lazy.path), lazy.name)
        lazy.value = value if value is not None and not isinstance(value, Unknown) else None
        if lazy.value is None:
            lazy.value = Ref(lazy.reference)
    return lazy.value


def exported(env: ModuleEnv, name: str) -> bool:
    """Whether ``from module import *`` binds ``name`` (``__all__``, else public names)."""
    exports = env.module.exports
    return name in exports if exports is not None else not name.startswith("_")


def resolve_global(self: Machine, env: ModuleEnv, name: str) -> bool:
    """Evaluate the statement of ``env``'s module that binds ``name``; whether it bound it."""
    module = env.module
    if name in env.busy or self.import_depth >= MAX_IMPORT_DEPTH:
        return False
    if not self.in_foreign and self.foreign_left <= 0:
        return False  # the foreign budget is spent: the import stays a reference
    env.busy.add(name)
    self.import_depth += 1
    saved = (self.in_foreign, self.loops, self.limit)
    outer, start = self.in_foreign, self.steps
    if not outer:
        self.limit = min(self.limit, start + self.foreign_left)
    self.in_foreign, self.loops = True, []
    frame = Frame(env, "", [])
    self.frame_stack.append(frame)
    try:
        statements = module.bindings.get(name)
        if statements and name not in module.unsure:
            statement = statements[0]
            if isinstance(statement, ast.ImportFrom):
                self.import_from(statement, frame, only=name)
            else:
                self.exec_stmt(statement, frame)
                value = dict.get(env, name)
                if isinstance(value, Const) and value.source is None and _plain(value.value):
                    where = f"{self.project.display(module.file.path)}:{statement.lineno}"
                    label = f"{name} = {value.value!r}"
                    place = node_place(module.file.path, statement, label)
                    env[name] = ProjectConst(value.value, cite(f"{where} ({label})", place=place))
        elif not statements and name not in module.unsure:
            self.bind_star_or_submodule(env, name)
    except BudgetExceeded:
        if outer or self.steps > saved[2]:
            raise
        dict.pop(env, name, None)
    finally:
        self.frame_stack.pop()
        self.in_foreign, self.loops, self.limit = saved
        if not outer:
            self.foreign_left -= self.steps - start
        self.import_depth -= 1
        env.busy.discard(name)
    return dict.__contains__(env, name)


def bind_star_or_submodule(self: Machine, env: ModuleEnv, name: str) -> None:
    module = env.module
    for star in module.stars:
        found = self.project.find_module(_base(star), module.file.path)
        target = self.module_env(found) if found is not None and found.endswith(".py") else None
        if target is not None and exported(target, name) and name in target:
            dict.__setitem__(env, name, target[name])
            return
    if module.is_package:
        sub = self.project.submodule(module.file.path, name)
        if sub is not None:
            dict.__setitem__(env, name, ModuleNS(sub))


def _plain(value: object) -> bool:
    """A constant worth naming as a depth's source (a number, a string, a short list)."""
    if isinstance(value, (list, tuple)):
        return len(value) <= 8 and all(_plain(v) for v in value)
    return isinstance(value, (int, float, str)) and len(repr(value)) <= 40


def _base(stmt: ast.ImportFrom) -> str:
    return "." * stmt.level + (stmt.module or "")


def import_from(self: Machine, stmt: ast.ImportFrom, frame: Frame, only: str | None = None) -> None:
    """``from base import a, b as c``: each name is the project module's value where the
    project resolves ``base``, else the qualified reference it always was."""
    base = _base(stmt)
    importer = importer_of(frame)
    found = self.project.find_module(
        base, importer.module.file.path if importer is not None else None
    )
    if any(alias.name == "*" for alias in stmt.names):
        if importer is None:
            self.star_modules = (*self.star_modules, base)
            target = self.module_env(found) if found and found.endswith(".py") else None
            if target is not None:
                self.star_envs.append(target)
        return
    for alias in stmt.names:
        bound = alias.asname or alias.name
        if only is not None and bound != only:
            continue
        reference = f"{base}.{alias.name}" if base else alias.name
        if found is None or found == self.project.current.path:
            frame.env[bound] = Ref(reference)
            continue
        lazy = LazyImport(found, alias.name, reference)
        frame.env[bound] = lazy if only is None else self.resolve_lazy(lazy)


def import_names(self: Machine, stmt: ast.Import, frame: Frame) -> None:
    """``import a.b as c`` / ``import a.b``: a project module where the project resolves it."""
    importer = importer_of(frame)
    where = importer.module.file.path if importer is not None else None
    for alias in stmt.names:
        name = alias.name if alias.asname is not None else alias.name.split(".")[0]
        found = self.project.find_module(name, where)
        if found is not None and found != self.project.current.path:
            frame.env[alias.asname or name] = ModuleNS(found)
        else:
            frame.env[alias.asname or name] = Ref(name)


def star_global(self: Machine, name: str) -> Value | None:
    """A name the file imported with ``from <project module> import *``."""
    for env in self.star_envs:
        if exported(env, name) and name in env:
            value = env[name]
            return self.resolve_lazy(value) if isinstance(value, LazyImport) else value
    return None


def is_foreign(func: FuncRef) -> bool:
    return bool(func.scope) and isinstance(func.scope[-1], ModuleEnv)


def call_foreign(
    self: Machine,
    func: FuncRef,
    args: list[Value],
    kwargs: dict[str, Value],
    call: ast.Call | None,
) -> Value:
    """Call another module's function from this file's code, within the foreign budget
    (:data:`~gradcheck_kit.lint.interp.machine.FOREIGN_BUDGET`): past it, the callable is
    what an unresolved import is (its tensor argument passes through, a name that says
    normalization is one)."""
    anchor = self.foreign_anchor(func, call)
    if self.foreign_left <= 0:
        return self.foreign_fallback(func, args, anchor)
    saved, start, refunded = (self.entry, self.limit), self.steps, self.refunded
    self.entry, self.limit = anchor, min(self.limit, start + self.foreign_left)
    self.in_foreign = True
    try:
        return self.call_function(func, args, kwargs, call)
    except BudgetExceeded:
        if self.steps > saved[1]:
            raise  # the file's own budget (or an outer call's) is spent: not ours to catch
        return self.foreign_fallback(func, args, anchor)
    finally:
        self.in_foreign = False
        # this file's code it called back is not the other module's (classes.call_function)
        self.foreign_left -= self.steps - start - (self.refunded - refunded)
        self.entry, self.limit = saved


def foreign_fallback(
    self: Machine, func: FuncRef, args: list[Value], anchor: ast.AST | None
) -> Value:
    name = func.owner.name if func.owner is not None else func.qualname
    if anchor is None:
        return Unknown(name)
    return unmodelled_call(self, name, args, anchor)  # type: ignore[arg-type]


def foreign_anchor(self: Machine, func: FuncRef, call: ast.AST | None) -> ast.AST | None:
    """Where layers built by another module's code, entered here from this file, are
    reported: the call in this file, else (a method run with no call, an inherited
    ``forward``) the base class named in this file's class statement."""
    if call is not None:
        return call
    bound = func.bound
    if isinstance(bound, Instance) and not bound.cls.foreign:
        node = bound.cls.node
        for base, value in zip(node.bases, bound.cls.bases, strict=False):
            if isinstance(value, ClassRef) and value.cls.foreign:
                return base
        return node.bases[0] if node.bases else None
    return self.entry
