"""Values a caller module reads from a config file (:mod:`gradcheck_kit.lint.config_files`):
``cfg["model"]["n_layers"]``, ``cfg.model.n_layers`` (OmegaConf, Hydra) and ``cfg.get("n", 4)``
where ``cfg`` holds what a loader returned for a literal path.

Loaders: ``json.load(open(P))``, ``json.loads(Path(P).read_text())``, ``yaml.safe_load`` /
``yaml.load`` / ``yaml.full_load``, ``tomllib.load(open(P, "rb"))`` / ``tomli`` / ``toml.load(P)``,
``OmegaConf.load(P)``, a file from ``with open(P) as f``, and ``@hydra.main(config_path=...,
config_name=...)``, whose function's first parameter is the composed config. ``P`` is a string
literal, a module constant bound once to one, ``os.path.join`` / ``Path(...) / ...`` of those,
and ``os.path.dirname(__file__)`` / ``Path(__file__).parent`` (the caller's folder).

A name holds a config only when its scope binds it once, to a load (or to a part of another
config: ``model_cfg = cfg["model"]``, or as the parameter of a module function every call of
which passes one config), and nothing changes it (``cfg["x"] = ...``, ``cfg.update(...)``);
anything else is unknown.
"""

from __future__ import annotations

import ast
import os
from typing import Any

from gradcheck_kit.lint import config_files
from gradcheck_kit.lint.config_files import DataFile, Document
from gradcheck_kit.lint.interp.syntax import walked
from gradcheck_kit.lint.project import LoadedModule, Project
from gradcheck_kit.lint.provenance import cite, key_place

#: loader -> (kind of file, what its first argument is: a "stream", "text" or "path" - a
#: "path" loader and yaml's take a stream too)
LOADERS: dict[str, tuple[str, str]] = {
    "json.load": ("json", "stream"),
    "json.loads": ("json", "text"),
    "yaml.safe_load": ("yaml", "text"),
    "yaml.load": ("yaml", "text"),
    "yaml.full_load": ("yaml", "text"),
    "tomllib.load": ("toml", "stream"),
    "tomllib.loads": ("toml", "text"),
    "tomli.load": ("toml", "stream"),
    "tomli.loads": ("toml", "text"),
    "toml.load": ("toml", "path"),
    "toml.loads": ("toml", "text"),
    "omegaconf.OmegaConf.load": ("omegaconf", "path"),
}
_MODULES = frozenset({"json", "yaml", "tomllib", "tomli", "toml", "omegaconf", "hydra"})
#: Hydra's compose API (under ``initialize(config_path=...)``)
_COMPOSE = frozenset({"hydra.compose", "hydra.experimental.compose"})
_MUTATORS = frozenset({"update", "setdefault", "pop", "popitem", "clear", "merge_with"})
#: a path relative to the caller's folder (``os.path.dirname(__file__)``)
_HERE = "\0here"

#: (kind, anchored at the caller's folder, path) or ("hydra", folder, config name)
Spec = tuple[str, bool, str]
#: one access: (key, whether a default is given, the default)
Step = tuple[str | int, bool, Any]
Held = tuple[Spec, tuple[Step, ...]]


class ConfigReads:
    """The config files a caller module reads, and what its expressions read from them."""

    def __init__(self, project: Project, loaded: LoadedModule, display: str) -> None:
        self.project = project
        self.loaded = loaded
        self.folder = os.path.dirname(loaded.file.path)
        self.imports: dict[str, str] = {}
        self.holders: dict[tuple[int, str], Held | None] = {}
        self.scope_of: dict[int, int] = {}
        self.documents: dict[Spec, Document | None] = {}
        self.local: set[tuple[int, str]] = set()  # (scope, name) bound in that scope
        #: Hydra's compose API: the config folder of each call under ``with initialize(...)``,
        #: and of each scope that calls ``initialize(...)`` as a statement (None: two folders)
        self.compose_dirs: dict[int, str] = {}
        self.hydra_dirs: dict[int, str | None] = {}
        tree = loaded.tree
        for node in walked(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in _MODULES:
                        self.imports[alias.asname or alias.name.split(".")[0]] = (
                            alias.name if alias.asname else alias.name.split(".")[0]
                        )
            elif (
                isinstance(node, ast.ImportFrom)
                and not node.level
                and node.module
                and node.module.split(".")[0] in _MODULES
            ):
                for alias in node.names:
                    self.imports[alias.asname or alias.name] = f"{node.module}.{alias.name}"
        if self.imports:
            try:
                self._scan(tree)
            except RecursionError:  # a chain of thousands of ``a / b`` or ``a.b``: nothing
                self.holders.clear()

    # -- scanning the caller ------------------------------------------------------------------

    def _scan(self, tree: ast.Module) -> None:
        module = id(tree)
        functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        stores: dict[tuple[int, str], int] = {}
        bindings: list[tuple[int, str, ast.expr]] = []  # (scope, name, value) of ``name = v``
        files: dict[tuple[int, str], tuple[bool, str] | None] = {}  # ``with open(P) as f``
        changed: set[str] = set()  # names changed in place somewhere: never a config
        stack: list[tuple[ast.AST, int]] = [(tree, module)]
        while stack:
            node, scope = stack.pop()
            self.scope_of[id(node)] = scope
            inner = scope
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                inner = id(node)
                if scope == module and not isinstance(node, ast.Lambda):
                    functions[node.name] = node
                for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                    stores[(inner, arg.arg)] = stores.get((inner, arg.arg), 0) + 1
                if not isinstance(node, ast.Lambda):
                    self._hydra(node, inner)
            elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                stores[(scope, node.id)] = stores.get((scope, node.id), 0) + 1
            elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(
                node.ctx, (ast.Store, ast.Del)
            ):
                base = _base_name(node)
                if base is not None:
                    changed.add(base)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in _MUTATORS
            ):
                base = _base_name(node.func.value)
                if base is not None:
                    changed.add(base)
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target = node.targets[0]
                if isinstance(target, ast.Name):
                    bindings.append((scope, target.id, node.value))
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                folder = self._hydra_folder(node.value)  # ``initialize(config_path=...)``
                if folder is not None:
                    seen = self.hydra_dirs.get(scope, folder)
                    self.hydra_dirs[scope] = folder if seen == folder else None
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    folder = self._hydra_folder(item.context_expr)
                    if folder is not None:  # ``with initialize(config_path="conf"):``
                        for inner_node in ast.walk(node):
                            if isinstance(inner_node, ast.Call):
                                self.compose_dirs[id(inner_node)] = folder
                for item in node.items:
                    if isinstance(item.optional_vars, ast.Name):
                        path = self._opened(item.context_expr, scope, {})
                        key = (scope, item.optional_vars.id)
                        files[key] = path if files.get(key, path) == path else None
            stack.extend((child, inner) for child in ast.iter_child_nodes(node))
        once = {key for key, count in stores.items() if count == 1}
        self.local = set(stores)
        for key in list(self.holders):  # hydra parameters
            if key not in once:
                self.holders[key] = None
        for _ in range(3):  # ``cfg = load(...)``, then ``sub = cfg["model"]``, then calls
            for scope, name, value in bindings:
                key = (scope, name)
                if key not in once or key in self.holders:
                    continue
                spec = self._load(value, scope, files)
                held = (spec, ()) if spec is not None else self._resolve(value, scope)
                if held is not None:
                    self.holders[key] = held
            self._parameters(tree, functions, once)
        for key in self.holders:
            if key[1] in changed:
                self.holders[key] = None

    def _parameters(
        self,
        tree: ast.Module,
        functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
        once: set[tuple[int, str]],
    ) -> None:
        """``main(cfg)`` / ``build(cfg.model)``: the parameter holds what every call passes."""
        passed: dict[tuple[int, str], list[Held | None]] = {}
        for node in walked(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            func = functions.get(node.func.id)
            if func is None:
                continue
            scope = self.scope_of.get(id(node), id(tree))
            params = [*func.args.posonlyargs, *func.args.args]
            pairs = list(zip(params, node.args, strict=False))
            by_name = {p.arg: p for p in [*params, *func.args.kwonlyargs]}
            pairs += [(by_name[k.arg], k.value) for k in node.keywords if k.arg in by_name]
            for param, arg in pairs:
                passed.setdefault((id(func), param.arg), []).append(self._resolve(arg, scope))
        for key, values in passed.items():
            if (
                key in once
                and key not in self.holders
                and values[0] is not None
                and all(v == values[0] for v in values)
            ):
                self.holders[key] = values[0]

    def _hydra(self, func: ast.FunctionDef | ast.AsyncFunctionDef, scope: int) -> None:
        """``@hydra.main(config_path="conf", config_name="config")``: the first parameter."""
        for decorator in func.decorator_list:
            if not isinstance(decorator, ast.Call) or self._full(decorator.func) != "hydra.main":
                continue
            given = dict(zip(("config_path", "config_name"), decorator.args, strict=False))
            given.update({k.arg: k.value for k in decorator.keywords if k.arg})
            path, name = given.get("config_path"), given.get("config_name")
            params = [*func.args.posonlyargs, *func.args.args]
            if not (
                params
                and isinstance(path, ast.Constant)
                and isinstance(path.value, str)
                and isinstance(name, ast.Constant)
                and isinstance(name.value, str)
            ):
                return
            folder = os.path.normpath(os.path.join(self.folder, path.value))
            self.holders[(scope, params[0].arg)] = (("hydra", True, f"{folder}\0{name.value}"), ())

    def _hydra_folder(self, node: ast.expr) -> str | None:
        """The config folder of ``hydra.initialize(config_path="conf")`` (relative to this
        file, as Hydra takes it); None for any other expression."""
        if not isinstance(node, ast.Call):
            return None
        if self._full(node.func) not in ("hydra.initialize", "hydra.experimental.initialize"):
            return None
        given = {k.arg: k.value for k in node.keywords if k.arg}
        path = given.get("config_path", node.args[0] if node.args else None)
        if not (isinstance(path, ast.Constant) and isinstance(path.value, str)):
            return None
        return os.path.normpath(os.path.join(self.folder, path.value))

    def _compose(self, node: ast.Call, scope: int) -> Spec | None:
        """``compose(config_name="config", overrides=["model.n_layers=8"])`` under an
        ``initialize(config_path=...)``: the Hydra config it composes."""
        folder = self.compose_dirs.get(id(node)) or self.hydra_dirs.get(scope)
        given = {k.arg: k.value for k in node.keywords if k.arg}
        name = given.get("config_name", node.args[0] if node.args else None)
        if folder is None or not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            return None
        overrides: list[str] = []
        if "overrides" in given:
            try:
                listed = ast.literal_eval(given["overrides"])
            except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                return None
            if not (isinstance(listed, list) and all(isinstance(o, str) for o in listed)):
                return None
            overrides = listed
        if any("\0" in part for part in (name.value, *overrides)):
            return None
        return ("hydra", True, "\0".join((folder, name.value, *overrides)))

    def _full(self, node: ast.expr) -> str | None:
        """The dotted name ``node`` calls, its first part read through the imports."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        known = ("open", "os", "Path", "pathlib")
        head = self.imports.get(node.id, node.id if node.id in known else None)
        if head is None:
            return None
        return ".".join([head, *reversed(parts)])

    def _load(
        self, node: ast.expr, scope: int, files: dict[tuple[int, str], tuple[bool, str] | None]
    ) -> Spec | None:
        if isinstance(node, ast.Call) and self._full(node.func) in _COMPOSE:
            return self._compose(node, scope)
        if not (isinstance(node, ast.Call) and node.args):
            return None
        loader = LOADERS.get(self._full(node.func) or "")
        if loader is None:
            return None
        kind, takes = loader
        arg = node.args[0]
        path: tuple[bool, str] | None = None
        if isinstance(arg, ast.Name) and (scope, arg.id) in files:
            path = files[(scope, arg.id)]  # ``with open(P) as f: json.load(f)``
        elif takes == "text":
            path = self._read_text(arg, scope, files) or self._opened(arg, scope, files)
        else:
            path = self._opened(arg, scope, files)
            if path is None and takes == "path":
                path = self._path(arg)
        return (kind, *path) if path is not None else None

    def _opened(
        self, node: ast.expr, scope: int, files: dict[tuple[int, str], tuple[bool, str] | None]
    ) -> tuple[bool, str] | None:
        """``open(P, ...)``, ``io.open(P)``, ``Path(P).open()``: P."""
        if not isinstance(node, ast.Call):
            return None
        if isinstance(node.func, ast.Name) and node.func.id == "open" and node.args:
            return self._path(node.args[0])
        if isinstance(node.func, ast.Attribute) and node.func.attr == "open":
            return self._path(node.func.value)
        return None

    def _read_text(
        self, node: ast.expr, scope: int, files: dict[tuple[int, str], tuple[bool, str] | None]
    ) -> tuple[bool, str] | None:
        """``open(P).read()``, ``f.read()``, ``Path(P).read_text()``: P."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            return None
        owner = node.func.value
        if node.func.attr == "read_text":
            return self._path(owner)
        if node.func.attr == "read":
            if isinstance(owner, ast.Name) and (scope, owner.id) in files:
                return files[(scope, owner.id)]
            return self._opened(owner, scope, files)
        return None

    def _path(self, node: ast.expr) -> tuple[bool, str] | None:
        """A literal path: (anchored at the caller's folder, the path)."""
        text = self._string(node, 3)
        if text is None:
            return None
        if text == _HERE or text.startswith(_HERE + "/"):
            return True, text[len(_HERE) + 1 :]
        return (False, text) if _HERE not in text else None

    def _string(self, node: ast.expr, depth: int) -> str | None:
        if depth < 0:
            return None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            if node.id == "__file__":
                return _HERE + "/__file__"
            stmts = self.loaded.bindings.get(node.id, [])
            if len(stmts) == 1 and node.id not in self.loaded.unsure:
                (stmt,) = stmts
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
                    return self._string(stmt.value, depth - 1)
            return None
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):  # Path(a) / "b"
            left, right = self._string(node.left, depth), self._string(node.right, depth)
            return _join(left, right) if left is not None and right is not None else None
        if isinstance(node, ast.Attribute) and node.attr == "parent":  # Path(__file__).parent
            inner = self._string(node.value, depth)
            return _parent(inner) if inner is not None else None
        if not isinstance(node, ast.Call):
            return None
        full = self._full(node.func) or ""
        if full.endswith("Path") and len(node.args) == 1 and not node.keywords:
            return self._string(node.args[0], depth)
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("resolve", "absolute"):
            return self._string(node.func.value, depth) if not node.args else None
        if full in ("os.path.abspath", "os.path.realpath") and len(node.args) == 1:
            return self._string(node.args[0], depth)
        if full == "os.path.dirname" and len(node.args) == 1:
            inner = self._string(node.args[0], depth)
            return _parent(inner) if inner is not None else None
        if full == "os.path.join" and node.args and not node.keywords:
            parts = [self._string(a, depth) for a in node.args]
            if any(p is None for p in parts):
                return None
            out = str(parts[0])
            for part in parts[1:]:
                out = _join(out, str(part))
            return out
        return None

    # -- reading values -------------------------------------------------------------------------

    def _resolve(self, node: ast.expr, scope: int) -> Held | None:
        """The config and the keys ``node`` reads (``cfg["model"].n_layers``), or None."""
        if isinstance(node, ast.Name):
            if (scope, node.id) in self.local:
                return self.holders.get((scope, node.id))
            return self.holders.get((id(self.loaded.tree), node.id))
        if isinstance(node, ast.Call) and (spec := self._load(node, scope, {})) is not None:
            return spec, ()  # ``json.load(open(P))["sizes"]``: read where it is loaded
        if isinstance(node, ast.Subscript):
            base = self._resolve(node.value, scope)
            key = node.slice
            if base is None or not isinstance(key, ast.Constant):
                return None
            if not isinstance(key.value, (str, int)) or isinstance(key.value, bool):
                return None
            return base[0], (*base[1], (key.value, False, None))
        if isinstance(node, ast.Attribute):
            base = self._resolve(node.value, scope)
            if base is None or base[0][0] not in ("omegaconf", "hydra"):
                return None
            return base[0], (*base[1], (node.attr, False, None))
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and 1 <= len(node.args) <= 2
            and not node.keywords
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            base = self._resolve(node.func.value, scope)
            if base is None:
                return None
            default: Any = None
            if len(node.args) == 2:
                try:
                    default = ast.literal_eval(node.args[1])
                except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                    return None
            return base[0], (*base[1], (node.args[0].value, True, default))
        return None

    def document(self, spec: Spec) -> Document | None:
        if spec not in self.documents:
            self.documents[spec] = self._read(spec)
        return self.documents[spec]

    def _read(self, spec: Spec) -> Document | None:
        root = self.project.root
        if root is None:
            return None
        kind, anchored, path = spec
        if kind == "hydra":
            folder, name, *overrides = path.split("\0")
            return config_files.hydra(folder, name, self.project.display, root, tuple(overrides))
        folders = (self.folder,) if anchored else tuple(dict.fromkeys((self.folder, root)))
        real = config_files.locate(os.path.normpath(path), folders, root)
        if real is None:
            return None
        return config_files.read(real, kind, self.project.display(real))

    def holds(self, node: ast.Name) -> bool:
        """Whether the name ``node`` holds a config file's document (``cfg = yaml.safe_load(
        open("config.yaml"))``), not a value read from one."""
        if not self.imports:
            return False
        try:
            held = self._resolve(node, self.scope_of.get(id(node), id(self.loaded.tree)))
        except RecursionError:
            return False
        return held is not None and not held[1]

    def value(self, node: ast.expr, notes: list[str], files: list[DataFile]) -> tuple[Any] | None:
        """The plain value a config file gives ``node`` (with a note naming the file and key;
        the files read are added to ``files``); else None."""
        if not self.imports:  # no loader imported: nothing is read from a config file
            return None
        try:
            held = self._resolve(node, self.scope_of.get(id(node), id(self.loaded.tree)))
        except RecursionError:
            return None
        if held is None or not held[1]:
            return None
        spec, steps = held
        doc = self.document(spec)
        if doc is None:
            return None
        files.extend(doc.files)
        value, defaulted = doc.data, False
        keys: list[str] = []
        for key, has_default, default in steps:
            keys.append(f"[{key}]" if isinstance(key, int) else str(key))
            if (isinstance(value, dict) and isinstance(key, str) and key in value) or (
                isinstance(value, list) and isinstance(key, int) and -len(value) <= key < len(value)
            ):
                value = value[key]  # type: ignore[index]
            elif isinstance(value, dict) and has_default:
                value, defaulted = default, True
            else:
                return None
        if value is None or not config_files.settled(value):
            return None
        dotted = ".".join(keys).replace(".[", "[")
        last = keys[-1]
        if defaulted:
            notes.append(f"{last} = {value!r}: get() default, not in {doc.display} ({dotted})")
        else:
            source = doc.source(tuple(str(k) for k, _, _ in steps))
            path = next((f.path for f in doc.files if self.project.display(f.path) == source), None)
            label = f"{last} = {value!r}"
            place = key_place(path, last, f"{label} ({dotted})") if path else None
            notes.append(cite(f"{label} from {source} ({dotted})", place=place))
        return (value,)


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Subscript, ast.Attribute)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def _join(left: str, right: str) -> str:
    if os.path.isabs(right):
        return right
    return right if left in ("", ".") else f"{left.rstrip('/')}/{right}"


def _parent(path: str) -> str:
    return path.rsplit("/", 1)[0] if "/" in path else ""


__all__ = ["LOADERS", "ConfigReads"]
