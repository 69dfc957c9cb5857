"""The function around a call, and what it passes on: the wrappers of
:mod:`gradcheck_kit.lint.callsites` (``self.dnn = DNN(layers, act)`` in ``Solver.__init__``,
whose callers give ``layers``), read from the AST of the caller's module, one walk per module.
"""

from __future__ import annotations

import ast

from gradcheck_kit.lint.caller_values import Arg, Held, Path
from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.literals import builds_list, constant, literal, literal_node, sized_list
from gradcheck_kit.lint.project import LoadedModule


def parameters(loaded: LoadedModule, node: ast.Call) -> set[str]:
    """The parameters of the module-level function or method around ``node`` (none outside
    one): what no reader of the caller's values can give a literal for."""
    found = enclosing(loaded).get(id(node))
    if found is None:
        return set()
    function = found[0]
    kept = _UNCHANGED.get(id(function))
    if kept is None or kept[0] is not function:
        args = function.args
        names = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        kept = (function, names - changed(function))  # a name stored again may be a literal
        _UNCHANGED[id(function)] = kept
    return kept[1]


def passes_parameters(loaded: LoadedModule, node: ast.Call) -> bool:
    """Whether ``node`` sits in a module-level function or method and passes one of its
    parameters on as an argument (what makes it a wrapper's call: :func:`_wrapped`)."""
    found = enclosing(loaded).get(id(node))
    return found is not None and bool(passed_on(node, *found)[1])


def passed_on(
    node: ast.Call, function: _Def, owner: ast.ClassDef | None
) -> tuple[list[str], set[str]]:
    """The function's positional parameters (less a method's ``self``), and the parameters
    (keyword-only ones too) that ``node`` passes on as plain arguments."""
    params = [a.arg for a in (*function.args.posonlyargs, *function.args.args)]
    if owner is not None:
        params = params[1:]  # self
    names = {*params, *(k.arg for k in function.args.kwonlyargs)}
    local = aliases(function)
    passed = set()
    for arg in (*node.args, *(k.value for k in node.keywords)):
        for part in _parts(arg):
            read = chain(part, local)
            if read is not None and read[0] in names:
                passed.add(read[0])
    return params, passed


def _parts(arg: ast.expr) -> list[ast.expr]:
    """``arg``, or the parts of a list it builds (``[pde.input_dim] + [64] * depth + [1]``)."""
    if isinstance(arg, (ast.List, ast.Tuple)):
        return [p for e in arg.elts for p in _parts(e)]
    if isinstance(arg, ast.BinOp) and builds_list(arg):
        return [*_parts(arg.left), *_parts(arg.right)]
    return [arg]


def aliases(function: _Def) -> dict[str, tuple[str, Path]]:
    """The function's names bound once, in its own body, to a parameter's attribute or item
    (``acti = args.activate``): each read as that attribute."""
    found = _ALIASES.get(id(function))
    if found is not None and found[0] is function:
        return found[1]
    stores: dict[str, int] = {}
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
            stores[node.id] = stores.get(node.id, 0) + 1
    args = function.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
    out: dict[str, tuple[str, Path]] = {}
    for stmt in function.body:
        if not (isinstance(stmt, ast.Assign) and len(stmt.targets) == 1):
            continue
        target = stmt.targets[0]
        read = chain(stmt.value)
        if (
            isinstance(target, ast.Name)
            and stores.get(target.id) == 1
            and target.id not in params
            and read is not None
            and read[1]
            and read[0] in params
        ):
            out[target.id] = read
    _ALIASES[id(function)] = (function, out)
    return out


def chain(
    node: ast.expr, local: dict[str, tuple[str, Path]] | None = None
) -> tuple[str, Path] | None:
    """A name, or a name's attributes and constant items (``args.depth``,
    ``cfg["model"]["depth"]``): the name and the path after it (through ``local``, a
    function's :func:`aliases`); else None."""
    path: list[tuple[str, str | int]] = []
    while True:
        if isinstance(node, ast.Name):
            if local is not None and node.id in local:
                root, before = local[node.id]
                return root, (*before, *reversed(path))
            return node.id, tuple(reversed(path))
        if isinstance(node, ast.Attribute):
            path.append((".", node.attr))
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, (str, int))
            and not isinstance(node.slice.value, bool)
        ):
            path.append(("[]", node.slice.value))
        else:
            return None
        node = node.value


def given(
    arg: ast.expr,
    own: Arg,
    passed: set[str],
    bound: dict[str, Arg],
    notes: list[str],
    files: list[DataFile],
    local: dict[str, tuple[str, Path]] | None = None,
) -> Arg:
    """An argument of the inner call: the wrapper's caller's value of a parameter passed on, or
    of its attribute or item (``args.depth`` in ``get_model(args)``, read in that caller: the
    notes and config files it read are added), else what the argument itself reads (``own``)."""
    read = chain(arg, local)
    if read is None and builds_list(arg):
        # a list built of parameters (``[pde.input_dim] + [64] * depth + [1]``): its length
        # from the values the caller gives them, an element it cannot read left unknown
        def part(node: ast.expr) -> ast.expr | None:
            found = given(node, None, passed, bound, notes, files, local)
            if found is None or isinstance(found, Held):
                folded = constant(node)
                return literal_node(folded[0], node) if folded is not None else None
            return found if literal(found) else None

        built = sized_list(arg, part, whole=True)
        return built if built is not None else own
    if read is None or read[0] not in passed:
        return own
    name, path = read
    value = bound.get(name)
    if not path:
        return value
    if isinstance(value, Held):
        found, said, read_files = value.read(path)
        if found is not None:
            notes += said
            files += read_files
            return found
        return own
    if value is not None and literal(value):  # a literal dict passed: its item
        item: object = ast.literal_eval(value)
        for kind, key in path:
            if kind != "[]" or not isinstance(item, (dict, list, tuple)):
                return own
            try:
                item = item[key]  # type: ignore[index]
            except (KeyError, IndexError, TypeError):
                return own
        return literal_node(item, arg)
    return own


def bind(
    function: ast.FunctionDef | ast.AsyncFunctionDef,
    params: list[str],
    args: tuple[Arg, ...],
    kwargs: tuple[tuple[str, Arg], ...],
) -> dict[str, Arg]:
    """The wrapper's parameters as a call site gives them (``args``, ``kwargs``): literal
    defaults, then the call's positional and keyword arguments (None: not a literal)."""
    bound: dict[str, Arg] = {}
    defaults = function.args.defaults
    for param, default in zip(params[len(params) - len(defaults) :], defaults, strict=False):
        bound[param] = default if literal(default) else None
    for keyword, given in zip(function.args.kwonlyargs, function.args.kw_defaults, strict=True):
        if given is not None:
            bound[keyword.arg] = given if literal(given) else None
    for param, arg in zip(params, args, strict=False):
        bound[param] = arg
    bound.update(kwargs)
    return bound


#: Methods that change a list or dict in place: a parameter they are called on is not what the
#: wrapper's caller passed.
_MUTATORS = frozenset(
    {"append", "extend", "insert", "pop", "remove", "clear", "sort", "reverse", "update"}
)


def changed(function: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """The names a function assigns or changes in place (``layers = ...``, ``layers +=``,
    ``layers.insert(0, n)``, ``layers[0] = n``)."""
    out: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            out.add(node.id)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in _MUTATORS
            and isinstance(node.func.value, ast.Name)
        ):
            out.add(node.func.value.id)
        elif isinstance(node, (ast.Subscript, ast.Attribute)) and isinstance(
            node.ctx, (ast.Store, ast.Del)
        ):
            base = node.value
            if isinstance(base, ast.Name):
                out.add(base.id)
    return out


_Def = ast.FunctionDef | ast.AsyncFunctionDef
#: id(function) -> (the function, its parameters it never stores or changes): :func:`parameters`
_UNCHANGED: dict[int, tuple[_Def, set[str]]] = {}
#: id(function) -> (the function, its :func:`aliases`)
_ALIASES: dict[int, tuple[_Def, dict[str, tuple[str, Path]]]] = {}
_ENCLOSING: dict[int, tuple[ast.Module, dict[int, tuple[_Def, ast.ClassDef | None]]]] = {}


def enclosing(loaded: LoadedModule) -> dict[int, tuple[_Def, ast.ClassDef | None]]:
    """Each call inside a module-level function or a method of a module-level class -> that
    function and its class (None for a function), found in one walk per module."""
    found = _ENCLOSING.get(id(loaded.tree))
    if found is not None and found[0] is loaded.tree:
        return found[1]
    table: dict[int, tuple[_Def, ast.ClassDef | None]] = {}
    for stmt in loaded.tree.body:
        pairs: list[tuple[_Def, ast.ClassDef | None]] = []
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            pairs.append((stmt, None))
        elif isinstance(stmt, ast.ClassDef):
            pairs += [
                (item, stmt)
                for item in stmt.body
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
            ]
        for function, owner in pairs:
            for node in ast.walk(function):
                if isinstance(node, ast.Call):
                    table.setdefault(id(node), (function, owner))
    _ENCLOSING[id(loaded.tree)] = (loaded.tree, table)
    return table


def forget() -> None:
    """Forget the tables of past runs' modules."""
    _ENCLOSING.clear()
    _UNCHANGED.clear()
    _ALIASES.clear()
