"""``gradcheck-kit lint``: options -> config -> engine -> output (through the format registry).

Never imports torch: the engine reads source, it does not run it.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from gradcheck_kit._io import write_atomic
from gradcheck_kit.commands import EXIT_ERROR, EXIT_FAILED, EXIT_OK
from gradcheck_kit.config import Config, ConfigError, discover_config, load_config
from gradcheck_kit.lint.cache import default_cache_dir
from gradcheck_kit.lint.diff import DiffError, changed_lines, only_changed
from gradcheck_kit.lint.engine import INTERNAL_ERROR, internal_traceback, lint_paths
from gradcheck_kit.report.findings import Finding, LintResult
from gradcheck_kit.report.registry import RenderOptions, output_format, report_files

if TYPE_CHECKING:  # pragma: no cover
    from gradcheck_kit.report.sarif import RuleInfo

__all__ = ["LintOptions", "config_starts", "load_lint_config", "resolve_config", "run_lint"]


@dataclass(frozen=True)
class LintOptions:
    """What ``gradcheck-kit lint`` was asked to do (its flags, parsed)."""

    paths: tuple[str, ...] = ()
    select: tuple[str, ...] | None = None
    ignore: tuple[str, ...] | None = None
    max_saturating_depth: int | None = None
    vanish_bound: float | None = None
    explode_bound: float | None = None
    format: str = "full"
    output_file: str | None = None
    report: str | None = None
    exit_zero: bool = False
    diff: str | None = None
    jobs: int | None = None
    cache_dir: str | None = None
    config: str | None = None
    no_cache: bool = False
    force_exclude: bool = False
    stdin_filename: str | None = None  # the name of the file read from stdin (``lint -``)
    add_noqa: bool = False
    statistics: bool = False
    fix: bool | None = None  # None: the config's ``fix``
    unsafe_fixes: bool | None = None  # None: the config's ``unsafe-fixes``
    show_fixes: bool = False
    fix_only: bool = False
    fix_diff: bool = False  # ruff's --diff: print the fixes, write nothing
    quiet: bool = False
    verbose: bool = False

    def fixing(self, config: Config) -> bool:
        """Whether this run applies fixes (``--fix``, ``--fix-only``, ``--fix-diff``, or
        ``fix = true`` in the config)."""
        if self.fix_only or self.fix_diff:
            return True
        return self.fix if self.fix is not None else config.fix


def _fail(message: str) -> int:
    print(f"gradcheck-kit: error: {message}", file=sys.stderr)
    return EXIT_ERROR


def _warn(message: str) -> None:
    print(f"gradcheck-kit: warning: {message}", file=sys.stderr)


def _rule_infos() -> list[RuleInfo]:
    """SARIF's rule descriptions (read from the rule pages: only SARIF needs them)."""
    from gradcheck_kit.lint.docs import rule_infos

    return rule_infos()


def load_lint_config(config_file: str | None, paths: list[str]) -> Config:
    """``config_file`` (``--config``), or the pyproject.toml nearest to ``paths``."""
    if config_file:
        return load_config(Path(config_file))
    return discover_config(config_starts(paths))


def resolve_config(options: LintOptions, paths: list[str]) -> Config:
    """The config file (``--config`` or the nearest pyproject.toml) with CLI flags on top."""
    config = load_lint_config(options.config, paths)
    return config.with_overrides(
        select=tuple(options.select) if options.select else None,
        ignore=(config.ignore + tuple(options.ignore)) if options.ignore else None,
        max_saturating_depth=options.max_saturating_depth,
        vanish_bound=options.vanish_bound,
        explode_bound=options.explode_bound,
        force_exclude=True if options.force_exclude else None,
    )


def config_starts(paths: list[str]) -> list[Path]:
    """Where to look for pyproject.toml: each path, or the folder of one that cannot be
    resolved (a symlink loop) - that file is then reported as unreadable, not a crash."""
    starts = []
    for raw in paths:
        path = Path(raw)
        try:
            path.resolve()
        except (OSError, RuntimeError):
            path = Path(os.path.abspath(path)).parent
        starts.append(path)
    return starts


def _unknown_codes(codes: tuple[str, ...]) -> list[str]:
    """The rules are imported only to check codes that were given (a warm run needs none)."""
    if not any(codes):
        return []
    from gradcheck_kit.lint.rules import unknown_codes

    return unknown_codes(codes)


def validate(config: Config, jobs: int | None) -> None:
    """Raise ConfigError for settings lint cannot run with (``lint`` and ``audit`` share it)."""
    bad = _unknown_codes(config.select + config.ignore)
    if bad:
        raise ConfigError(f"unknown rule code(s): {', '.join(bad)} (see `gradcheck-kit rule`)")
    if config.max_saturating_depth is not None and config.max_saturating_depth < 1:
        raise ConfigError("--max-saturating-depth must be at least 1")
    if not config.explode_bound > 1:
        raise ConfigError("--explode-bound must be above 1")
    if jobs is not None and jobs < 1:
        raise ConfigError("--jobs must be at least 1 (leave it out to use every core)")


def lint_changed(
    paths: list[str],
    config: Config,
    *,
    diff: str | None = None,
    jobs: int | None = None,
    cache_dir: str | None = None,
    no_cache: bool = False,
    warn: Callable[[str], None] | None = None,
) -> LintResult:
    """:func:`~gradcheck_kit.lint.engine.lint_paths` with lint's ``--diff``, ``--jobs``,
    ``--cache-dir`` and ``--no-cache`` (``lint`` and ``audit`` share it). ConfigError when git
    cannot answer ``--diff``."""
    changed = None
    if diff:
        try:
            changed = changed_lines(diff, Path(paths[0]))
        except DiffError as exc:
            raise ConfigError(str(exc)) from exc
    cache = None
    if not no_cache:
        cache = Path(cache_dir) if cache_dir else default_cache_dir(config)
    result = lint_paths(
        paths,
        config,
        jobs=jobs,
        cache_dir=cache,
        only=changed.touches if changed is not None else None,
        warn=warn,
    )
    if changed is not None:
        result.findings = only_changed(result.findings, changed)
    return result


def lint_stdin(data: bytes, display: str, config: Config) -> LintResult:
    """One buffer read from stdin, linted as the file ``display`` (its per-file ignores and
    notebook handling apply; nothing is cached)."""
    from gradcheck_kit.lint.engine import lint_bytes

    findings, error = lint_bytes(data, display, config)
    result = LintResult(files_checked=1, findings=list(findings))
    if error is not None:
        result.errors.append(error)
    result.sort()
    return result


def _fix_flags(options: LintOptions) -> list[str]:
    """The fix flags given on the command line (a config's ``fix = true`` is not one)."""
    named = [("--fix", options.fix), ("--fix-only", options.fix_only)]
    named.append(("--fix-diff", options.fix_diff))
    return [flag for flag, value in named if value]


def run_lint(options: LintOptions) -> int:
    """``gradcheck-kit lint``: the exit code."""
    paths = list(options.paths) or ["."]
    stdin = paths == ["-"]
    try:
        if "-" in paths and not stdin:
            raise ConfigError("`-` (read stdin) cannot be combined with other paths")
        if options.add_noqa and (stdin or options.diff):
            raise ConfigError("--add-noqa edits files on disk: not with `-` or --diff")
        flags = _fix_flags(options)
        if flags and (options.diff or options.add_noqa):
            raise ConfigError(
                f"{flags[0]} fixes whole files: not with "
                + ("--diff REV" if options.diff else "--add-noqa")
                + " (--fix-diff prints the fixes as a diff)"
            )
        config = resolve_config(options, [options.stdin_filename or "."] if stdin else paths)
        validate(config, options.jobs)
        if options.diff or options.add_noqa:  # a config's fix = true: those runs do not fix
            options = replace(options, fix=False)
        if options.report:
            try:
                report_files("lint").check(options.report)
            except ValueError as exc:
                raise ConfigError(f"--report: {exc}") from exc
    except ConfigError as exc:
        return _fail(str(exc))
    data = b""
    try:
        if stdin:  # an editor integration: the buffer on stdin, named by --stdin-filename
            data = sys.stdin.buffer.read()
            result = lint_stdin(data, options.stdin_filename or "-", config)
        else:
            result = lint_changed(
                paths,
                config,
                diff=options.diff,
                jobs=options.jobs,
                cache_dir=options.cache_dir,
                no_cache=options.no_cache,
                warn=_warn,
            )
    except ConfigError as exc:  # a --diff git cannot answer
        return _fail(str(exc))
    except Exception as exc:
        if options.verbose:
            traceback.print_exc()
        return _fail(f"internal error: {exc} (run with --verbose for the traceback; please report)")
    result.unsafe_fixes = (
        options.unsafe_fixes if options.unsafe_fixes is not None else config.unsafe_fixes
    )
    if options.fixing(config):
        return _run_fixes(options, config, result, data if stdin else None)
    if options.add_noqa:
        from gradcheck_kit.lint.add_noqa import add_noqa

        added = add_noqa(result.findings, _warn)
        print(f"Added {added} noqa directive{'s' if added != 1 else ''}.", file=sys.stderr)
        return EXIT_OK if not result.errors else EXIT_FAILED
    if result.files_checked == 0 and not result.errors and not options.diff:
        _warn(  # as ruff: a gate that checked nothing must not look like a pass
            "no Python files found under "
            + ", ".join(paths)
            + " (excluded directories are skipped: name a file or folder inside one to lint it)"
        )

    code = _report(options, config, result)
    if options.show_fixes:
        _show_available(options, result, data if stdin else None)
    return code


def _report(
    options: LintOptions, config: Config, result: LintResult, out: TextIO | None = None
) -> int:
    """Render ``result`` as asked (stdout, or ``out``), its errors to stderr: the exit code."""
    if options.report:
        try:
            report_files("lint").write(options.report, result, _warn)
        except (ValueError, OSError) as exc:
            return _fail(f"--report {options.report}: {exc}")
    output = output_format("statistics" if options.statistics else "lint", options.format)
    rendering = RenderOptions(
        quiet=options.quiet,
        to_file=bool(options.output_file) or (out is not None and out is not sys.stdout),
        rules=_rule_infos,
    )
    text, errors_in_text = output.render(result, rendering), output.shows_errors
    if options.output_file:
        try:
            write_atomic(options.output_file, text)
        except OSError as exc:
            return _fail(f"cannot write --output-file {options.output_file}: {exc.strerror or exc}")
    elif text:
        (out or sys.stdout).write(text)
    if not errors_in_text or options.output_file:
        for error in result.errors:  # machine output stays parseable; errors go to stderr
            print(f"gradcheck-kit: {error.path}: {error.message}", file=sys.stderr)
    internal = [e for e in result.errors if e.message.startswith(INTERNAL_ERROR)]
    if internal:  # a bug in gradcheck-kit, not in the user's files: exit 2, as ruff does
        for error in internal:
            trace = internal_traceback(Path(error.path), config) if options.verbose else None
            if trace:
                print(f"gradcheck-kit: traceback for {error.path}:\n{trace}", file=sys.stderr)
        # a fix that went wrong says what it did in its message: it has no traceback
        raised = [e for e in internal if not e.message.startswith(f"{INTERNAL_ERROR} (fixing ")]
        if raised and not options.verbose:
            print(
                "gradcheck-kit: internal error on "
                f"{', '.join(e.path for e in raised)}; run with --verbose for the traceback",
                file=sys.stderr,
            )
        return EXIT_ERROR
    if (result.findings or result.errors) and not options.exit_zero:
        return EXIT_FAILED
    return EXIT_OK


def _run_fixes(options: LintOptions, config: Config, result: LintResult, data: bytes | None) -> int:
    """``--fix``, ``--fix-only``, ``--fix-diff``: the fix loop on every file with an applicable
    fix (``data``: the buffer read from stdin), then the report of what remains."""
    from gradcheck_kit.lint.fixes import applicabilities, fix_bytes, fix_file
    from gradcheck_kit.report.fix_summary import fixed_text, plural

    applies = applicabilities(result.unsafe_fixes)
    write = not options.fix_diff
    by_path: dict[str, list[Finding]] = {}
    for finding in result.findings:
        by_path.setdefault(finding.path, []).append(finding)
    stdin = data is not None
    outcomes = []
    for path, findings in by_path.items():
        if not any(f.fix and f.fix.applicability in applies for f in findings):
            continue
        if stdin:
            outcome = fix_bytes(data or b"", path, config, applies, findings)
        else:
            outcome = fix_file(Path(path), config, applies, write=write, findings=findings)
        outcomes.append(outcome)
        by_path[path] = outcome.findings
        result.fixed.extend(outcome.fixed)
        if outcome.error is not None:
            result.errors.append(outcome.error)
    result.findings = [f for findings in by_path.values() for f in findings]
    result.sort()
    # stdin: the (fixed) source or its diff is the output; everything else goes to stderr
    info = sys.stderr if stdin or options.fix_diff else sys.stdout
    if options.fix_diff:
        for outcome in outcomes:
            sys.stdout.write(outcome.diff())
    elif stdin:
        fixed = outcomes[0].after if outcomes else (data or b"")
        sys.stdout.buffer.write(fixed)
        sys.stdout.flush()
    if options.fix_only or options.fix_diff:
        for error in result.errors:
            print(f"gradcheck-kit: {error.path}: {error.message}", file=sys.stderr)
        if not options.quiet:
            n = len(result.fixed)
            if options.fix_diff:
                print(
                    f"Would fix {plural(n, 'finding')}." if n else "No fixes available.", file=info
                )
            elif not options.show_fixes:
                print(f"Fixed {plural(n, 'finding')}." if n else "No fixes applied.", file=info)
        code = EXIT_OK
    else:
        code = _report(options, config, result, out=info)
    if options.show_fixes and not options.fix_diff:
        info.write(fixed_text(result.fixed))
    if any(e.message.startswith(INTERNAL_ERROR) for e in result.errors):
        return EXIT_ERROR
    if options.fix_diff:
        changed = any(o.changed for o in outcomes)
        return EXIT_FAILED if (changed or result.errors) and not options.exit_zero else EXIT_OK
    if options.fix_only:
        return EXIT_FAILED if result.errors and not options.exit_zero else EXIT_OK
    return code


def _show_available(options: LintOptions, result: LintResult, data: bytes | None) -> None:
    """``--show-fixes`` without ``--fix``: each finding's fix (every applicability, display-only
    suggestions included) with its diff, after the report."""
    from gradcheck_kit.lint.discovery import read_file
    from gradcheck_kit.lint.fixes import one_fix_diff
    from gradcheck_kit.report.fix_summary import fixes_text

    items = []
    files: dict[str, bytes | None] = {}
    for finding in result.findings:
        if finding.fix is None:
            continue
        if finding.path not in files:
            files[finding.path] = data if data is not None else read_file(Path(finding.path))[0]
        content = files[finding.path]
        items.append((finding, one_fix_diff(content, finding) if content is not None else ""))
    text = fixes_text(items)
    machine = options.format not in ("full", "concise") or data is not None
    (sys.stderr if machine else sys.stdout).write(text)
