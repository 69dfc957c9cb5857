"""The ``gradcheck-kit`` command line: argument parsing, nothing else. Each sub-command's flags
become its frozen options dataclass, and :mod:`gradcheck_kit.commands` runs it.

Exit codes: 0 clean, 1 findings or failed checks, 2 usage or internal error.
Heavy modules (torch, hypothesis) are imported only by the sub-commands that need them.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import signal
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import fields
from typing import Any, TypeVar

from gradcheck_kit._version import __version__
from gradcheck_kit.commands import EXIT_ERROR
from gradcheck_kit.report.registry import output_formats

_Options = TypeVar("_Options")


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def _number(kind: type[int] | type[float], minimum: float, words: str) -> Any:
    """An argparse type: ``kind`` parsed from the flag's text, finite and at least ``minimum``
    (above it for floats), or a message with ``words`` ("a positive integer")."""

    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}") from None
        if kind is int:
            bad = value < minimum
        else:
            bad = not math.isfinite(value) or value <= minimum
        if bad:
            raise argparse.ArgumentTypeError(f"expected {words}, got {text!r}")
        return value

    return parse


_positive_int = _number(int, 1, "a positive integer")
_seed = _number(int, 0, "a non-negative integer")
_positive_float = _number(float, 0.0, "a positive number")


def _shape(text: str) -> Any:
    from gradcheck_kit.config import parse_input_shapes

    try:
        return parse_input_shapes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _add_lint_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    p.add_argument("--select", type=_codes, metavar="CODES", help="comma-separated rule codes")
    p.add_argument("--ignore", type=_codes, metavar="CODES", help="comma-separated rule codes")
    p.add_argument(
        "--max-saturating-depth",
        type=int,
        metavar="N",
        help="structural mode: flag any un-reset run of saturating activations longer than N "
        "(default: flag the runs predicted to cross the vanish bound)",
    )
    p.add_argument(
        "--vanish-bound",
        type=float,
        metavar="X",
        help="predicted mode: flag runs whose predicted flow ratio is below X (default 1e-3)",
    )
    p.add_argument(
        "--explode-bound",
        type=float,
        metavar="X",
        help="predicted mode: flag stacks whose predicted flow ratio is above X (default 1e3)",
    )
    p.add_argument(
        "--format",
        choices=output_formats("lint"),
        default="full",
        help="output format (default: full)",
    )
    p.add_argument("--output-file", metavar="FILE", help="write the report here, not stdout")
    p.add_argument("--report", metavar="FILE", help="also write .html, .svg, .md or .json")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings")
    p.add_argument(
        "--diff", metavar="REV", help="only findings on lines changed since git revision REV"
    )
    p.add_argument(
        "--jobs", "-j", type=int, metavar="N", help="parallel workers (default: CPU count)"
    )
    p.add_argument("--cache-dir", metavar="DIR", help="cache location (default .gradcheck_cache)")
    p.add_argument("--config", metavar="FILE", help="pyproject.toml to read instead of searching")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the cache")
    p.add_argument(
        "--stdin-filename",
        metavar="NAME",
        help="with PATH `-`: the name of the file read from stdin (config, per-file-ignores)",
    )
    p.add_argument(
        "--add-noqa",
        action="store_true",
        help="add `# noqa: CODE` to every line with a finding (baseline a legacy codebase)",
    )
    p.add_argument(
        "--force-exclude",
        action="store_true",
        help="apply exclude to paths named on the command line too (as pre-commit passes them)",
    )
    p.add_argument("--statistics", action="store_true", help="print a count per rule")
    _add_fix_arguments(p)
    p.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    p.add_argument("-v", "--verbose", action="store_true", help="full tracebacks on errors")


def _add_fix_arguments(p: argparse.ArgumentParser) -> None:
    """ruff's fix flags (``--fix-diff`` is ruff's ``--diff``: ours already means REV)."""
    fixes = p.add_argument_group("fixes")
    fixes.add_argument(
        "--fix",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="apply the safe fixes to the files, then report what remains (config: fix = true)",
    )
    fixes.add_argument(
        "--unsafe-fixes",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="also apply (and count) unsafe fixes, which may change what the code does "
        "(config: unsafe-fixes = true)",
    )
    fixes.add_argument(
        "--show-fixes",
        action="store_true",
        help="list the fixes: those applied with --fix, else each fixable finding's fix as a "
        "diff (display-only suggestions included)",
    )
    fixes.add_argument(
        "--fix-only",
        action="store_true",
        help="apply the fixes and report only them, not the findings that remain (exit 0 "
        "unless a file could not be fixed)",
    )
    fixes.add_argument(
        "--fix-diff",
        action="store_true",
        help="write nothing: print the fixes --fix would apply as a unified diff (exit 1 when "
        "there is one). Not --diff REV, which only keeps findings on lines changed since REV",
    )


def _add_check_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="package.module:factory or path/to/file.py:factory "
        "(default: every [[tool.gradcheck-kit.check]] in pyproject.toml)",
    )
    p.add_argument("--depths", metavar="LO:HI", help="inclusive depth range (default 2:32)")
    p.add_argument(
        "--max-examples", type=_positive_int, metavar="N", help="Hypothesis examples per check"
    )
    p.add_argument("--format", choices=output_formats("check"), default="full")
    p.add_argument("--report", metavar="FILE", help="also write .html, .svg, .md or .json")
    _add_isolate(p)
    _add_runtime_options(p)


def _add_isolate(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--isolate",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="run the checks in a child process: a target that exits, hangs or crashes is an "
        "error, never the end of the run (default: on in CI)",
    )


def _add_runtime_options(p: argparse.ArgumentParser) -> None:
    """Options shared by ``check`` and ``sweep`` (how to build inputs, where to run)."""
    p.add_argument(
        "--input-shape",
        type=_shape,
        metavar="N,D,...",
        help="batch-first input shape, e.g. 16,64; several inputs: 16,1;16,1 (positional) or "
        "x=16,1;t=16,1 (keywords), sharing the batch size",
    )
    p.add_argument("--input-dtype", metavar="DTYPE", help="e.g. long, for token ids")
    p.add_argument(
        "--vocab-size", type=_positive_int, metavar="N", help="token ids drawn from range(N)"
    )
    p.add_argument("--device", metavar="DEVICES", help="cpu,cuda,mps or auto (default cpu)")
    p.add_argument("--dtype", metavar="DTYPES", help="float32,bfloat16,float16 (default float32)")
    p.add_argument("--seed", type=_seed, metavar="N", help="fixed seed: an identical run")
    p.add_argument(
        "--vanish", type=_positive_float, metavar="X", help="fail when the flow ratio is below X"
    )
    p.add_argument(
        "--explode", type=_positive_float, metavar="X", help="fail when the flow ratio is above X"
    )
    p.add_argument(
        "--timeout", type=_positive_float, metavar="SECONDS", help="per-example time limit"
    )
    p.add_argument("--output-file", metavar="FILE", help="write the report here, not stdout")
    p.add_argument("--config", metavar="FILE", help="pyproject.toml to read instead of searching")
    p.add_argument("-q", "--quiet", action="store_true", help="print failures only")
    p.add_argument(
        "-v", "--verbose", action="store_true", help="the traceback of your code on errors"
    )


def _add_sweep_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("target", metavar="TARGET", help="package.module:factory or file.py:factory")
    p.add_argument("--depths", default="2:64:2", metavar="LO:HI[:STEP]", help="default 2:64:2")
    p.add_argument("--seeds", type=int, default=5, metavar="N", help="seeds per depth (default 5)")
    p.add_argument("--format", choices=output_formats("sweep"), default="full")
    p.add_argument("--report", metavar="FILE", help="also write .html, .svg, .md or .json")
    _add_runtime_options(p)


def _add_audit_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (default: .)")
    p.add_argument(
        "--checks",
        metavar="FILE.toml",
        help="runtime checks to run (default: the "
        "[[tool.gradcheck-kit.check]] tables of the nearest pyproject.toml)",
    )
    p.add_argument("--format", choices=output_formats("audit"), default="full")
    p.add_argument("--report", metavar="FILE", help="also write .html, .svg, .md or .json")
    p.add_argument("--exit-zero", action="store_true", help="exit 0 even when something failed")
    p.add_argument(
        "--max-examples", type=_positive_int, metavar="N", help="Hypothesis examples per check"
    )
    p.add_argument("--seed", type=_seed, metavar="N", help="fixed seed: an identical run")
    p.add_argument("--no-runtime", action="store_true", help="lint only; run no checks")
    # the linting half takes lint's options
    p.add_argument("--select", type=_codes, metavar="CODES", help="comma-separated rule codes")
    p.add_argument("--ignore", type=_codes, metavar="CODES", help="comma-separated rule codes")
    p.add_argument(
        "--diff", metavar="REV", help="only findings on lines changed since git revision REV"
    )
    p.add_argument("--jobs", "-j", type=int, metavar="N", help="lint workers (default: CPU count)")
    p.add_argument("--cache-dir", metavar="DIR", help="lint cache location")
    p.add_argument("--no-cache", action="store_true", help="do not read or write the lint cache")
    _add_isolate(p)
    p.add_argument("--config", metavar="FILE", help="pyproject.toml to read instead of searching")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("-v", "--verbose", action="store_true", help="full tracebacks on errors")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gradcheck-kit",
        description="Catch vanishing and exploding gradients in PyTorch models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    lint = sub.add_parser("lint", help="statically flag deep saturating stacks (no torch import)")
    _add_lint_arguments(lint)

    check = sub.add_parser("check", help="run the model and check per-layer gradients")
    _add_check_arguments(check)

    sweep = sub.add_parser("sweep", help="gradient flow against depth: per-layer gain, max depth")
    _add_sweep_arguments(sweep)

    audit = sub.add_parser("audit", help="lint, then run the declared runtime checks: one report")
    _add_audit_arguments(audit)

    rule = sub.add_parser("rule", help="explain a rule (without a code: list all rules)")
    rule.add_argument("code", nargs="?", metavar="CODE")
    rule.add_argument("--format", choices=["full", "markdown", "json"], default="full")
    return parser


EXIT_SIGINT, EXIT_SIGTERM = 130, 143  # 128 + the signal number, as a shell reports it
REPORT_HINT = "this is a bug in gradcheck-kit: please report it"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so every ``finally`` (and temp-file cleanup) runs."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While a command runs, SIGTERM unwinds the stack instead of killing the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_ERROR
    try:
        with _sigterm_raises():
            return _dispatch(parser, args)
    except KeyboardInterrupt as exc:
        terminated = isinstance(exc, Terminated)
        name = "SIGTERM" if terminated else "SIGINT"
        print(f"gradcheck-kit: interrupted by {name}", file=sys.stderr)
        return EXIT_SIGTERM if terminated else EXIT_SIGINT
    except OSError as exc:  # an output file or directory that cannot be written, ...
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"gradcheck-kit {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # a bug in gradcheck-kit: a short message, not a bare traceback
        if getattr(args, "verbose", False):
            traceback.print_exc()
        where = "" if getattr(args, "verbose", False) else "; run with --verbose for the traceback"
        print(
            f"gradcheck-kit {args.command}: internal error: {type(exc).__name__}: {exc}\n"
            f"  {REPORT_HINT} with the command line{where}",
            file=sys.stderr,
        )
        return EXIT_ERROR


def _options(cls: type[_Options], args: argparse.Namespace) -> _Options:
    """The options dataclass ``cls`` from the parsed flags of the same names (lists become
    tuples: the options are frozen)."""
    values = {}
    for f in fields(cls):  # type: ignore[arg-type]
        value = getattr(args, f.name)
        values[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**values)


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "lint":
        from gradcheck_kit.commands.lint import LintOptions, run_lint

        return run_lint(_options(LintOptions, args))
    if args.command == "rule":
        from gradcheck_kit.commands.rule import RuleOptions, run_rule

        return run_rule(_options(RuleOptions, args))
    if args.command == "check":
        from gradcheck_kit.commands.check import CheckOptions, run_check

        return run_check(_options(CheckOptions, args))
    if args.command == "sweep":
        from gradcheck_kit.commands.sweep import SweepOptions, run_sweep

        return run_sweep(_options(SweepOptions, args))
    if args.command == "audit":
        from gradcheck_kit.commands.audit import AuditOptions, run_audit

        return run_audit(_options(AuditOptions, args))
    parser.error(f"unknown command {args.command!r}")
    return EXIT_ERROR  # pragma: no cover
