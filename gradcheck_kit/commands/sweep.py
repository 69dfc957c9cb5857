"""``gradcheck-kit sweep TARGET``: the flow ratio against depth, from the command line.

Exit codes: 0 the bounds hold over the whole swept range; 1 the sweep failed - the fitted curve
(or, for a curve that is not log-linear, the measured median) crosses a bound at or before the
deepest swept depth (``max_safe_depth`` < the top of ``--depths``), or some depth broke
(NaN/inf, a dead layer, an exception); 2 usage error, target not importable, or the runtime extra
missing. A max safe depth *beyond* the swept range (extrapolated) is information, not a failure.

``--format json`` prints ``SweepReport.to_dict()`` (one object). ``--report FILE`` also writes,
by suffix, through the format registry (:mod:`gradcheck_kit.report.registry`) and the shared report
export (:mod:`gradcheck_kit.report.export`, the same files as ``lint --report``): ``.json`` (the export envelope, the sweep under ``"sweeps"``),
``.svg`` (the terminal rendering, chart included), ``.html`` (the same, plus the matplotlib
plot inline when matplotlib is installed), ``.md`` (plus the plot saved next to it as
``FILE.md.svg`` and linked, when matplotlib is installed); ``.png`` is the matplotlib plot
alone - without matplotlib it is skipped with a warning, not an error.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gradcheck_kit.commands import EXIT_ERROR, EXIT_FAILED, EXIT_OK, INSTALL_HINT, RuntimeOptions
from gradcheck_kit.runtime.targets import UsageError, check_arity, load_factory, parse_shape

__all__ = ["SweepOptions", "parse_depth_range", "run_sweep"]


@dataclass(frozen=True, kw_only=True)
class SweepOptions(RuntimeOptions):
    """What ``gradcheck-kit sweep`` was asked to do."""

    target: str
    depths: str = "2:64:2"
    seeds: int | None = 5
    format: str = "full"
    report: str | None = None


def _err(message: str) -> None:
    print(f"gradcheck-kit sweep: {message}", file=sys.stderr)


def parse_depth_range(value: str) -> list[int]:
    """``LO:HI[:STEP]`` (inclusive), a comma list ``2,4,8``, or one depth."""
    text = str(value).strip()
    try:
        if ":" in text:
            parts = [int(p) for p in text.split(":")]
            if len(parts) not in (2, 3):
                raise ValueError
            lo, hi = parts[0], parts[1]
            step = parts[2] if len(parts) == 3 else 1
            if lo < 1 or hi < lo or step < 1:
                raise UsageError(f"--depths: need 1 <= LO <= HI and STEP >= 1, got {text}")
            depths = list(range(lo, hi + 1, step))
        else:
            depths = sorted({int(p) for p in text.split(",") if p.strip()})
    except ValueError:
        raise UsageError(
            f"--depths: expected LO:HI[:STEP] (e.g. 2:64:2) or a list 2,4,8, got {value!r}"
        ) from None
    if not depths or depths[0] < 1:
        raise UsageError(f"--depths: expected positive depths, got {value!r}")
    return depths


def _sweep_kwargs(options: SweepOptions) -> dict[str, Any]:
    from gradcheck_kit.report.gradients import Bounds
    from gradcheck_kit.report.registry import report_files

    kwargs: dict[str, Any] = {"depths": parse_depth_range(options.depths)}
    if options.seeds is not None:
        if options.seeds < 1:
            raise UsageError(f"--seeds: need at least 1, got {options.seeds}")
        kwargs["seeds"] = options.seeds
    if options.input_shape is not None:
        kwargs["input_shape"] = parse_shape(options.input_shape)
    if options.input_dtype is not None:
        kwargs["input_dtype"] = options.input_dtype
    if options.vocab_size is not None:
        kwargs["vocab_size"] = options.vocab_size
    if options.device is not None:
        kwargs["devices"] = options.device
    if options.dtype is not None:
        kwargs["dtypes"] = options.dtype
    if options.seed is not None:
        kwargs["seed"] = options.seed
    if options.timeout is not None:
        kwargs["timeout"] = options.timeout
    bounds = {
        k: getattr(options, k) for k in ("vanish", "explode") if getattr(options, k) is not None
    }
    if bounds:
        try:
            kwargs["bounds"] = Bounds(**bounds)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    if options.report:
        try:
            report_files("sweep").check(options.report)
        except ValueError as exc:
            raise UsageError(f"--report {options.report}: {exc}") from exc
    return kwargs


def run_sweep(options: SweepOptions) -> int:
    """``gradcheck-kit sweep``: the exit code."""
    try:
        import hypothesis  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        _err(f"the sweep needs torch and hypothesis ({exc.name} is missing): {INSTALL_HINT}")
        return EXIT_ERROR
    from gradcheck_kit._io import write_atomic
    from gradcheck_kit.report.registry import RenderOptions, render, report_files
    from gradcheck_kit.runtime.devices import DeviceUnavailableError
    from gradcheck_kit.runtime.sweep import sweep

    try:
        kwargs = _sweep_kwargs(options)
        factory = load_factory(options.target, Path.cwd())
        check_arity(factory, options.target)
        try:
            report = sweep(factory, name=options.target, **kwargs)
        except (ValueError, TypeError, DeviceUnavailableError) as exc:
            raise UsageError(f"{options.target}: {exc}") from exc
    except UsageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    rendering = RenderOptions(quiet=options.quiet, to_file=bool(options.output_file))
    text = render("sweep", options.format, report, rendering)
    if options.output_file:
        write_atomic(options.output_file, text)
    else:
        sys.stdout.write(text)
    if options.report:
        report_files("sweep").write(options.report, report, _err)
    return EXIT_OK if report.passed else EXIT_FAILED
