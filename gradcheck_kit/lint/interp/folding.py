"""Constant folding for the extractor: literals, ranges, comparisons, arithmetic - on the
syntax tree only, bounded so that a hostile file cannot make it use unbounded time or memory."""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from typing import Any

from gradcheck_kit.lint.interp.values import (
    ClassRef,
    Const,
    Data,
    DictVal,
    FuncRef,
    Instance,
    ModuleVal,
    Ref,
    Repeated,
    SeqVal,
    Unknown,
    Value,
)
from gradcheck_kit.lint.sketch import Count

UNROLL_LIMIT = 64  # loops with a known count up to this are unrolled exactly


def range_of(args: list[Value]) -> Value:
    if not args or not all(isinstance(a, Const) and isinstance(a.value, int) for a in args):
        unknown = next((a for a in args if isinstance(a, Unknown)), None)
        symbol = unknown.symbol if unknown else None
        per_step = bool(unknown and unknown.from_data)
        return SeqVal((Repeated(Count(None, symbol=symbol, per_step=per_step), (Unknown(),)),))
    values = [a.value for a in args]  # type: ignore[attr-defined]
    source = next((a.source for a in args if isinstance(a, Const) and a.source), None)
    try:
        numbers = range(*values)
    except (TypeError, ValueError):
        return Unknown()
    if len(numbers) <= UNROLL_LIMIT:
        entries = tuple(Const(i) for i in numbers)
        if source:
            return SeqVal((Repeated(Count(len(numbers), source), entries, unrolled=True),))
        return SeqVal(entries)
    return SeqVal((Repeated(Count(len(numbers), source), (Unknown(),)),))


def sourced(entries: list[Value], source: str | None, kind: str = "list") -> SeqVal:
    """A list of known elements that came from ``source`` (an option default, a config value):
    iterating it counts ``len(entries)`` passes that name it, as ``range(depth)`` does."""
    if not source:
        return SeqVal(tuple(entries), kind)
    if len(entries) <= UNROLL_LIMIT:
        return SeqVal((Repeated(Count(len(entries), source), tuple(entries), unrolled=True),), kind)
    return SeqVal((Repeated(Count(len(entries), source), (entries[0],)),), kind)


def split_string(value: Const, args: list[Value]) -> Value:
    """``"64,64,64".split(",")``: the parts, counted from where the string came from."""
    text = value.value
    if len(args) > 1 or not isinstance(text, str) or len(text) > _MAX_FOLDED_LEN:
        return Unknown()
    sep = args[0] if args else Const(None)
    if not isinstance(sep, Const) or not (sep.value is None or isinstance(sep.value, str)):
        return Unknown()
    if sep.value == "":
        return Unknown()
    parts = text.split(sep.value)
    return sourced([Const(p, value.source) for p in parts], value.source)


def count_of(value: Value) -> Count:
    if isinstance(value, Const) and isinstance(value.value, int):
        return Count(value.value, value.source)
    if isinstance(value, Unknown):
        return Count(None, symbol=value.symbol, per_step=value.from_data)
    return Count(None)


def fold(op: type[ast.operator], left: Const, right: Const) -> Value:
    fns: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
        ast.Add: lambda a, b: a + b,
        ast.Sub: lambda a, b: a - b,
        ast.Mult: lambda a, b: a * b,
        ast.Div: lambda a, b: a / b,
        ast.FloorDiv: lambda a, b: a // b,
        ast.Mod: lambda a, b: a % b,
        ast.Pow: lambda a, b: a**b if abs(b) < 64 else math.inf,
    }
    fn = fns.get(op)
    if fn is None or not _cheap_to_fold(op, left.value, right.value):
        return Unknown()
    try:
        value = fn(left.value, right.value)
    except Exception:
        return Unknown()
    if isinstance(value, (str, bytes, list, tuple)) and len(value) > _MAX_FOLDED_LEN:
        return Unknown()
    return Const(value, left.source or right.source)


_MAX_FOLDED_LEN = 10_000
_MAX_FOLDED_BITS = 1_024
_SEQUENCES = (str, bytes, list, tuple)


#: a printf specifier with a width or precision (``%0999999999d``, ``%*d``, ``%.5s``)
_SIZED_SPECIFIER = re.compile(r"%[-#0 +]*(?:[0-9*]|\.)")


def _cheap_to_fold(op: type[ast.operator], a: Any, b: Any) -> bool:
    """Whether folding ``a op b`` is cheap. ``"a" * 10**10``, ``"%0999999999d" % 1`` or
    ``n = n * n`` in an unrolled loop would cost gigabytes or hours: they stay unknown."""
    if any(isinstance(v, int) and v.bit_length() > _MAX_FOLDED_BITS for v in (a, b)):
        return False
    if op is ast.Mod and isinstance(a, (str, bytes)):
        # printf-style formatting: a width can be any size (``"layer_%d" % i`` has none)
        text = a.decode("latin-1") if isinstance(a, bytes) else a
        return len(text) <= _MAX_FOLDED_LEN and _SIZED_SPECIFIER.search(text) is None
    if op is ast.Mult:
        for seq, times in ((a, b), (b, a)):
            if isinstance(seq, _SEQUENCES) and isinstance(times, int):
                return len(seq) * max(times, 0) <= _MAX_FOLDED_LEN
    if op is ast.Add and isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES):
        return len(a) + len(b) <= _MAX_FOLDED_LEN
    return True


def compare(op: ast.cmpop, left: Value, right: Value) -> bool | None:
    if isinstance(op, (ast.Is, ast.IsNot)):
        if isinstance(left, Const) and isinstance(right, Const) and right.value is None:
            same = left.value is None
            return same if isinstance(op, ast.Is) else not same
        if right_is_none(right) and isinstance(
            left, (ModuleVal, ClassRef, FuncRef, Instance, Ref, SeqVal, Data)
        ):
            return isinstance(op, ast.IsNot)
        return None
    if not (isinstance(left, Const) and isinstance(right, Const)):
        if (
            isinstance(op, (ast.In, ast.NotIn))
            and isinstance(left, Const)
            and isinstance(right, (SeqVal, DictVal))
        ):
            keys = (
                right.items.keys()
                if isinstance(right, DictVal)
                else [v.value for v in (right.plain() or []) if isinstance(v, Const)]
            )
            if isinstance(right, SeqVal) and right.plain() is None:
                return None
            found = left.value in keys
            return found if isinstance(op, ast.In) else not found
        return None
    a, b = left.value, right.value
    ops: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
        ast.Eq: lambda x, y: x == y,
        ast.NotEq: lambda x, y: x != y,
        ast.Lt: lambda x, y: x < y,
        ast.LtE: lambda x, y: x <= y,
        ast.Gt: lambda x, y: x > y,
        ast.GtE: lambda x, y: x >= y,
        ast.In: lambda x, y: x in y,
        ast.NotIn: lambda x, y: x not in y,
    }
    fn = ops.get(type(op))
    if fn is None:
        return None
    try:
        return bool(fn(a, b))
    except Exception:
        return None


def right_is_none(value: Value) -> bool:
    return isinstance(value, Const) and value.value is None


def same_const(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:
        return False


def hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
