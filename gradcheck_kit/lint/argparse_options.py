"""The argparse options of a caller module (:class:`Options`): ``args.layers`` is the default of
``parser.add_argument("--layers", type=int, default=8)``, read, never run; the options a
function of the project adds to the module's parser (``add_model_args(parser)``) count too."""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gradcheck_kit.lint.config_files import DataFile
from gradcheck_kit.lint.derived_values import TYPES
from gradcheck_kit.lint.interp.syntax import walked
from gradcheck_kit.lint.literals import literal, literal_node
from gradcheck_kit.lint.provenance import cite, node_place

#: argparse's ``type=`` callables applied to a string default, as argparse does.
_TYPES = TYPES


class Options:
    """The argparse options of a caller module: ``args.layers`` is the default of
    ``parser.add_argument("--layers", type=int, default=8)`` when ``args`` is what
    ``parse_args()`` returned (directly, through a function that returns it, or passed on as a
    parameter of the same name). An option defined twice, or with a default that is not a
    literal, is unknown."""

    def __init__(self, tree: ast.Module, display: str, path: str | None = None) -> None:
        self.path = path  # the module's file, for the related locations of the notes
        self.defaults: dict[str, tuple[Any, str] | None] = {}
        self.holders: set[str] = set()
        #: calls that hand a parser to a function (``add_model_args(parser)``,
        #: ``Model.add_args(parser)``), with the parser's position (or keyword) in the call
        self.handed: list[tuple[ast.Call, int | str]] = []
        #: flag (``--layer``) -> (its option's name, the ``type=`` that converts a value - None:
        #: a string -, whether it takes a list: ``nargs="+"``), for the options a shell script
        #: may set (:mod:`shell_runs`)
        self.flags: dict[str, tuple[str, Callable[[str], Any] | None, bool]] = {}
        #: the values of the shell run being read (None: the defaults)
        self.run: dict[str, tuple[Any, str] | None] | None = None
        if not _mentions(tree, "add_argument") and not _mentions(tree, "parse_args"):
            return
        parsers = {"parse_args", "parse_known_args"}
        returning: set[str] = set()
        for node in walked(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and any(
                isinstance(r, ast.Return) and _calls_method(r.value, parsers)
                for r in ast.walk(node)
            ):
                returning.add(node.name)
        for node in walked(tree):
            if isinstance(node, ast.Call) and _method(node) == "add_argument":
                self._option(node, display)
            elif isinstance(node, ast.Assign) and (
                _calls_method(node.value, parsers)
                or (isinstance(node.value, ast.Call) and _name(node.value.func) in returning)
            ):
                for target in node.targets:
                    first = target.elts[0] if isinstance(target, ast.Tuple) else target
                    if isinstance(first, ast.Name):
                        self.holders.add(first.id)
        made = {
            target.id
            for node in walked(tree)
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and _called_name(node.value.func).endswith("ArgumentParser")
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in walked(tree):
            if isinstance(node, ast.Call) and made and _method(node) not in _PARSER_METHODS:
                for i, arg in enumerate(node.args):
                    if isinstance(arg, ast.Name) and arg.id in made:
                        self.handed.append((node, i))
                for keyword in node.keywords:
                    if isinstance(keyword.value, ast.Name) and keyword.value.id in made:
                        self.handed.append((node, str(keyword.arg)))
        # ``main(get_args())`` / ``main(args)``: main's parameter holds the options too
        functions = {
            n.name: n
            for n in walked(tree)
            if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
        }
        for node in walked(tree):
            if not isinstance(node, ast.Call) or _name(node.func) not in functions:
                continue
            params = functions[str(_name(node.func))].args.args
            for param, arg in zip(params, node.args, strict=False):
                if (
                    (isinstance(arg, ast.Name) and arg.id in self.holders)
                    or _calls_method(arg, parsers)
                    or (isinstance(arg, ast.Call) and _name(arg.func) in returning)
                ):
                    self.holders.add(param.arg)

    def add_from(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef, param: str, display: str, path: str
    ) -> None:
        """The options a function of the project adds to the parser it is given as ``param``
        (``def add_model_args(parser): parser.add_argument(...)``, argument groups included)."""
        receivers = {param}
        for node in ast.walk(function):
            if (
                isinstance(node, ast.Assign)
                and isinstance(node.value, ast.Call)
                and _method(node.value) in ("add_argument_group", "add_mutually_exclusive_group")
                and isinstance(node.value.func, ast.Attribute)
                and isinstance(node.value.func.value, ast.Name)
                and node.value.func.value.id in receivers
            ):
                receivers.update(t.id for t in node.targets if isinstance(t, ast.Name))
        kept = self.path
        self.path = path
        try:
            for node in ast.walk(function):
                if (
                    isinstance(node, ast.Call)
                    and _method(node) == "add_argument"
                    and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id in receivers
                ):
                    self._option(node, display)
        finally:
            self.path = kept

    def _option(self, call: ast.Call, display: str) -> None:
        flags = [
            a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)
        ]
        keywords = {k.arg: k.value for k in call.keywords if k.arg}
        dest_node = keywords.get("dest")
        if isinstance(dest_node, ast.Constant) and isinstance(dest_node.value, str):
            dest = dest_node.value
        else:
            long = [f for f in flags if f.startswith("--")] or flags
            if not long:
                return
            dest = long[0].lstrip("-").replace("-", "_")
        flag = next((f for f in flags if f.startswith("-")), dest)
        value: tuple[Any, str] | None = None
        default = keywords.get("default")
        kind = keywords.get("type")
        convert = _TYPES.get(kind.id) if isinstance(kind, ast.Name) else None
        action = keywords.get("action")
        nargs = keywords.get("nargs")
        many = nargs is not None and not (isinstance(nargs, ast.Constant) and nargs.value == "?")
        if action is None and (kind is None or convert is not None):  # a script can set it
            self.flags.update({f: (dest, convert, many) for f in flags if f.startswith("-")})
        if default is not None and literal(default):
            raw = ast.literal_eval(default)
            if isinstance(raw, str) and convert is not None:
                try:
                    raw = convert(raw)
                except ValueError:
                    raw = None
            elif kind is not None and convert is None:
                raw = None  # ``type=parse_list``: what it makes of the default is unseen
            if raw is not None:
                label = f"{flag} default {raw!r}"
                place = node_place(self.path, call, label) if self.path else None
                value = (raw, cite(f"{label} at {display}:{call.lineno}", place=place))
        self.defaults[dest] = None if dest in self.defaults else value

    def runs(self, root: str, display: Callable[[str], str]) -> list[Run]:
        """The distinct values the project's shell scripts run this file with
        (:func:`~gradcheck_kit.lint.shell_runs.runs_of`), each an option -> (value, note)
        table with the script it came from; a value its ``type=`` rejects is unknown."""
        from gradcheck_kit.lint.provenance import Place
        from gradcheck_kit.lint.shell_runs import runs_of

        if self.path is None or not self.flags:
            return []
        out: list[Run] = []
        seen: set[tuple[tuple[str, str], ...]] = set()
        for run in runs_of(root, self.path):
            table: dict[str, tuple[Any, str] | None] = {}
            for flag, words in run.values:
                if flag not in self.flags:
                    continue
                dest, convert, many = self.flags[flag]
                try:
                    converted = [convert(w) if convert else w for w in words]
                except ValueError:
                    table[dest] = None
                    continue
                value: Any = converted if many else converted[0]
                where = f"{display(run.script.path)}:{run.line}"
                label = f"{flag} {value!r}"
                place = Place(run.script.path, run.line, 1, run.line, 1, label)
                table[dest] = (value, cite(f"{label} at {where}", place=place))
            key = tuple(sorted((k, repr(v[0]) if v else "") for k, v in table.items()))
            if table and key not in seen:
                seen.add(key)
                out.append(Run(table, run.script))
        return out

    def value(self, node: ast.expr, notes: list[str]) -> ast.expr | None:
        """The option default ``node`` reads (``args.layers``), as a literal; else None."""
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.holders
        ):
            found = self.defaults.get(node.attr)
            if self.run is not None and node.attr in self.run:
                found = self.run[node.attr]
            if found is not None:
                value, note = found
                notes.append(note)
                return literal_node(value, node)
        return None


@dataclass(frozen=True, eq=False)
class Run:
    """A shell script's run of the file: option -> (value, note), and the script (consulted)."""

    values: dict[str, tuple[Any, str] | None]
    script: DataFile


#: A parser's own methods: a call of one hands the parser to no other function.
_PARSER_METHODS = frozenset(
    {"add_argument", "add_argument_group", "add_mutually_exclusive_group", "parse_args"}
    | {"parse_known_args", "set_defaults", "add_subparsers", "print_help", "error"}
)


def _mentions(tree: ast.Module, attribute: str) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == attribute for n in walked(tree))


def _method(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else None


def _calls_method(node: ast.expr | None, names: set[str]) -> bool:
    while isinstance(node, ast.Subscript):  # ``parser.parse_known_args()[0]``
        node = node.value
    return isinstance(node, ast.Call) and _method(node) in names


def _name(node: ast.expr) -> str | None:
    return node.id if isinstance(node, ast.Name) else None


def _called_name(func: ast.expr) -> str:
    """``f`` of ``f(...)`` or ``m.f(...)``; "" for anything else."""
    if isinstance(func, ast.Attribute):
        return func.attr
    return func.id if isinstance(func, ast.Name) else ""
