"""``gradcheck-kit sweep TARGET``: the flow ratio against depth, from the command line.

Exit codes: 0 the bounds hold over the whole swept range; 1 the sweep failed - the fitted curve
(or, for a curve that is not log-linear, the measured median) crosses a bound at or before the
deepest swept depth (``max_safe_depth`` < the top of ``--depths``), or some depth broke
(NaN/inf, a dead layer, an exception); 2 usage error, target not importable, or the runtime extra
missing. A max safe depth *beyond* the swept range (extrapolated) is information, not a failure.

``--format json`` prints ``SweepReport.to_dict()`` (one object). ``--report FILE`` also writes,
by suffix, through the shared report export (:mod:`gradcheck_kit.report.export`, the same
files as ``audit --report``): ``.json`` (the export envelope, the sweep under ``"sweeps"``),
``.svg`` (the terminal rendering, chart included), ``.html`` (the same, plus the matplotlib
plot inline when matplotlib is installed), ``.md`` (plus the plot saved next to it as
``FILE.md.svg`` and linked, when matplotlib is installed); ``.png`` is the matplotlib plot
alone - without matplotlib it is skipped with a warning, not an error.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import sys
from pathlib import Path
from typing import Any

from gradcheck_kit.runtime.command import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_OK,
    INSTALL_HINT,
    UsageError,
    check_arity,
    load_factory,
    parse_shape,
)

REPORT_SUFFIXES = (".json", ".md", ".svg", ".png", ".html")


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


def _sweep_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    from gradcheck_kit.report.gradients import Bounds

    kwargs: dict[str, Any] = {"depths": parse_depth_range(args.depths)}
    if args.seeds is not None:
        if args.seeds < 1:
            raise UsageError(f"--seeds: need at least 1, got {args.seeds}")
        kwargs["seeds"] = args.seeds
    if args.input_shape is not None:
        kwargs["input_shape"] = parse_shape(args.input_shape)
    if args.input_dtype is not None:
        kwargs["input_dtype"] = args.input_dtype
    if args.vocab_size is not None:
        kwargs["vocab_size"] = args.vocab_size
    if args.device is not None:
        kwargs["devices"] = args.device
    if args.dtype is not None:
        kwargs["dtypes"] = args.dtype
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if args.timeout is not None:
        kwargs["timeout"] = args.timeout
    bounds = {k: getattr(args, k) for k in ("vanish", "explode") if getattr(args, k) is not None}
    if bounds:
        try:
            kwargs["bounds"] = Bounds(**bounds)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    if args.report and Path(args.report).suffix.lower() not in REPORT_SUFFIXES:
        raise UsageError(
            f"--report {args.report}: unknown suffix (use {', '.join(REPORT_SUFFIXES)})"
        )
    return kwargs


def run_sweep(args: argparse.Namespace) -> int:
    try:
        import hypothesis  # noqa: F401
        import torch  # noqa: F401
    except ImportError as exc:
        _err(f"the sweep needs torch and hypothesis ({exc.name} is missing): {INSTALL_HINT}")
        return EXIT_ERROR
    from gradcheck_kit.runtime.devices import DeviceUnavailableError
    from gradcheck_kit.runtime.sweep import sweep

    try:
        kwargs = _sweep_kwargs(args)
        factory = load_factory(args.target, Path.cwd())
        check_arity(factory, args.target)
        try:
            report = sweep(factory, name=args.target, **kwargs)
        except (ValueError, TypeError, DeviceUnavailableError) as exc:
            raise UsageError(f"{args.target}: {exc}") from exc
    except UsageError as exc:
        _err(str(exc))
        return EXIT_ERROR
    _emit(report, args)
    if args.report:
        _write_report(report, Path(args.report))
    return EXIT_OK if report.passed else EXIT_FAILED


def _console(file: Any, record: bool = False, width: int | None = None) -> Any:
    from rich.console import Console

    return Console(file=file, record=record, width=width, no_color=file is not sys.stdout)


def _emit(report: Any, args: argparse.Namespace) -> None:
    from gradcheck_kit._io import write_atomic

    if args.format == "json":
        text = json.dumps(report.to_dict(), indent=2) + "\n"
    elif args.quiet:
        text = "" if report.passed else report.summary() + "\n"
    elif args.output_file:
        buffer = io.StringIO()
        _console(buffer, width=110).print(report)
        text = buffer.getvalue()
    else:
        width = None if sys.stdout.isatty() else 110
        _console(sys.stdout, width=width).print(report)
        return
    if args.output_file:
        write_atomic(args.output_file, text)
    else:
        sys.stdout.write(text)


def _write_report(report: Any, path: Path) -> None:
    """Through the shared report export (gradcheck_kit.report.export), plus the plot."""
    from gradcheck_kit._io import write_atomic
    from gradcheck_kit.report.export import write_report
    from gradcheck_kit.report.sweep_plot import render_plot

    if path.suffix.lower() == ".png":
        image = render_plot(report, "png")
        if image is None:
            _err(f"no image written to {path}: the plot needs matplotlib ({PLOT_HINT})")
            return
        write_atomic(path, image)
        return
    fmt = write_report(path, sweeps=[report])
    if fmt not in ("html", "markdown"):
        return
    image = render_plot(report, "svg")
    if image is None:
        return
    text = path.read_text(encoding="utf-8")
    if fmt == "html":
        data = base64.b64encode(image).decode("ascii")
        tag = f'<img alt="flow ratio against depth" src="data:image/svg+xml;base64,{data}">'
        text = text.replace("<body>", f"<body>\n{tag}", 1)
    else:
        image_path = path.with_name(path.name + ".svg")
        write_atomic(image_path, image.decode("utf-8"))
        text = text.rstrip("\n") + f"\n\n![flow ratio against depth]({image_path.name})\n"
    write_atomic(path, text)


PLOT_HINT = "pip install 'gradcheck-kit[plot]'"
