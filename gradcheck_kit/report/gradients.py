"""Runtime gradient-check results as plain data (no torch import here).

:class:`GradientReport` is what :func:`gradcheck_kit.check_gradients` returns. It never prints:
``rich`` renders it through ``__rich_console__`` (see :mod:`gradcheck_kit.report.gradient_console`),
and :meth:`GradientReport.to_dict` gives the JSON form, documented here because it is a stable
format:

``GradientReport.to_dict()`` ::

    {
      "version": 1,
      "target": str,                 # "pkg.mod:factory", "file.py:factory" or the factory's name
      "passed": bool,
      "failure": null | {
          "kind": "vanishing" | "exploding" | "nonfinite" | "dead" | "error",  # FailureKind
          "depth": int | null,       # smallest failing depth Hypothesis found
          "ratio": float | null,     # flow ratio of that example (null when not measured)
          "amplification": float | null,  # flow ratio x forward growth (exploding criterion)
          "device": str, "dtype": str,
          "input_desc": str,         # the input, in words
          "example": {...},          # depth, batch, scale, distribution, seeds: replays exactly
          "message": str,
          "exception": str | null,   # "RuntimeError: ..." for kind "error"
          "layers": [LayerStat, ...]
      },
      "examples_run": int,           # every forward + backward Hypothesis ran, shrinking included
      "seed": int | null,            # pass it back as seed= to replay the whole run
      "bounds": {"vanish": float, "explode": float, "noise_allowance": float,
                 "parity_rtol": float},
      "depths": [lo, hi] | null,
      "depths_tried": [int, ...],    # every depth an example was built at, sorted
      "ratio": float | null,         # flow ratio of the reported example (worst one if passed)
      "amplification": float | null,
      "scale_free_ratio": float | null,  # (gradient x activation) earliest end / latest end
      "limits": [vanish_limit, explode_limit] | null,  # after the finite-width allowance
      "example": {...} | null,
      "layers": [LayerStat, ...],    # per-layer profile of the reported example
      "sequences": [{"name", "type", "steps": [float, ...], "bidirectional", "ratio",
                     "first_last", "limits"}],  # per-step input gradient of each fused RNN
      "notes": [str, ...],           # inferred input, revived zero-init layers, scale tests
      "devices": [{"device", "dtype", "ratio", "amplification", "passed", "kind", "message"}],
      "parity": [{"dtype", "devices": [a, b], "ratios": [ra, rb], "rel_diff", "agree"}],
      "parity_ok": bool,
      "elapsed_s": float
    }

``LayerStat``: ``{"index", "name", "type", "width", "grad_rms", "param_grad_rms",
"activation_rms", "input_grad_rms", "saturation", "activation", "underflow"}`` - RMS values are
floats, ``null`` where the layer got no gradient (not reached from the loss) or has nothing to
measure; non-finite values are the strings ``"nan"``, ``"inf"``, ``"-inf"``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gradcheck_kit.theory import EXPLODE_BOUND, VANISH_BOUND


class FailureKind(str, Enum):
    """Why a runtime check failed. A ``str`` enum: it compares equal to, formats as and
    serialises to its value (``"vanishing"``...), the stable JSON spelling. Decided in
    :mod:`gradcheck_kit.runtime.verdict` only; defined here, with the report data, so that
    renderers need not import the runtime (which imports torch)."""

    VANISHING = "vanishing"
    EXPLODING = "exploding"
    NONFINITE = "nonfinite"
    DEAD = "dead"
    ERROR = "error"

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    def headline(self, depth: int | None) -> str:
        """One line for a table of checks: ``vanishes from depth 6``."""
        at = f"depth {depth}" if depth is not None else "the first example"
        return {
            FailureKind.VANISHING: f"vanishes from {at}",
            FailureKind.EXPLODING: f"explodes from {at}",
            FailureKind.NONFINITE: f"non-finite gradient at {at}",
            FailureKind.DEAD: f"dead layer at {at}",
            FailureKind.ERROR: f"error at {at}",
        }[self]

    @property
    def is_flow(self) -> bool:
        """A bound on the gradient's size was crossed (not a broken run)."""
        return self in (FailureKind.VANISHING, FailureKind.EXPLODING)


@dataclass(frozen=True)
class Bounds:
    """Limits on the flow ratio (gradient RMS at the earliest layer / at the latest).

    Defaults come from measurements (bench/README.md, README "What is measured"): healthy
    residual, LayerNorm and He-initialised ReLU nets stay within 10^-1.8 .. 10^2.4 up to depth 64,
    while tanh (default init) reaches 10^-3.7 at depth 16 and ReLU/Xavier 10^-4.8 at depth 32.

    * ``vanish``: fail when the flow ratio falls below this.
    * ``explode``: fail when the flow ratio times the forward growth of the activations (only
      growth counts, never shrinkage) rises above this - a net that amplifies both ways.
    * ``noise_allowance``: both limits widen by ``exp(noise_allowance * sqrt(sum 1/width))`` over
      the layers on the path, the finite-width fluctuation of a healthy net (Hanin 2018), so a
      narrow healthy net does not fail by chance. 0 turns it off.
    * ``parity_rtol``: two devices agree when their flow ratios differ by at most this (relative).
    """

    vanish: float = VANISH_BOUND  # the linter's predicted mode uses the same two numbers
    explode: float = EXPLODE_BOUND
    noise_allowance: float = 1.0
    parity_rtol: float = 0.05

    def __post_init__(self) -> None:
        if not (0 < self.vanish < 1 < self.explode):
            raise ValueError(
                f"Bounds: need 0 < vanish < 1 < explode, got vanish={self.vanish}, "
                f"explode={self.explode}"
            )
        if self.noise_allowance < 0 or self.parity_rtol < 0:
            raise ValueError("Bounds: noise_allowance and parity_rtol must be >= 0")

    def limits(self, inverse_width_sum: float) -> tuple[float, float]:
        """(vanish, explode) after widening for finite-width noise."""
        widen = math.exp(self.noise_allowance * math.sqrt(max(0.0, inverse_width_sum)))
        return self.vanish / widen, self.explode * widen

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Bounds:
        return cls(**{k: float(v) for k, v in data.items()})

    def to_dict(self) -> dict[str, float]:
        return {
            "vanish": self.vanish,
            "explode": self.explode,
            "noise_allowance": self.noise_allowance,
            "parity_rtol": self.parity_rtol,
        }


def json_number(value: float | None) -> float | str | None:
    """JSON has no NaN/inf: spell them as strings."""
    if value is None or math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _unnum(value: Any) -> float | None:
    """The inverse of :func:`json_number`."""
    if value is None:
        return None
    return float(value)  # float("nan"), float("inf"), float("-inf") read the strings back


def fmt(value: float | None) -> str:
    """Compact engineering notation for gradient magnitudes."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    return f"{value:.2e}"


@dataclass(frozen=True)
class LayerStat:
    """One layer of one example: the module call, in forward order."""

    index: int
    name: str
    type: str
    width: int | None = None
    grad_rms: float | None = None  # gradient at the layer's output
    param_grad_rms: float | None = None
    activation_rms: float | None = None  # the forward output
    input_grad_rms: float | None = None  # only the last layer: where the flow ratio ends
    saturation: float | None = None  # fraction of saturated units after this layer
    activation: str | None = None  # the saturating activation that followed, e.g. "tanh"
    underflow: bool = False  # zero in this dtype, non-zero in float32

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LayerStat:
        return cls(
            index=int(data["index"]),
            name=str(data["name"]),
            type=str(data["type"]),
            width=data.get("width"),
            grad_rms=_unnum(data.get("grad_rms")),
            param_grad_rms=_unnum(data.get("param_grad_rms")),
            activation_rms=_unnum(data.get("activation_rms")),
            input_grad_rms=_unnum(data.get("input_grad_rms")),
            saturation=data.get("saturation"),
            activation=data.get("activation"),
            underflow=bool(data.get("underflow", False)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "name": self.name,
            "type": self.type,
            "width": self.width,
            "grad_rms": json_number(self.grad_rms),
            "param_grad_rms": json_number(self.param_grad_rms),
            "activation_rms": json_number(self.activation_rms),
            "input_grad_rms": json_number(self.input_grad_rms),
            "saturation": self.saturation,
            "activation": self.activation,
            "underflow": self.underflow,
        }


@dataclass(frozen=True)
class SequenceStat:
    """A fused recurrent module's input gradient at every time step: the profile through time."""

    name: str
    type: str
    steps: tuple[float, ...]  # RMS of the gradient at each input step, in time order
    bidirectional: bool = False
    ratio: float | None = None  # smallest step over largest step
    first_last: float | None = None  # first step over last step
    limits: tuple[float, float] | None = None  # (vanish, explode) after the width allowance

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SequenceStat:
        limits = data.get("limits")
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            steps=tuple(_unnum(v) or 0.0 for v in data.get("steps", ())),
            bidirectional=bool(data.get("bidirectional", False)),
            ratio=_unnum(data.get("ratio")),
            first_last=_unnum(data.get("first_last")),
            limits=(float(limits[0]), float(limits[1])) if limits else None,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "steps": [json_number(v) for v in self.steps],
            "bidirectional": self.bidirectional,
            "ratio": json_number(self.ratio),
            "first_last": json_number(self.first_last),
            "limits": list(self.limits) if self.limits else None,
        }

    def buckets(self, count: int = 16) -> list[tuple[int, int, float]]:
        """The profile in at most ``count`` buckets of consecutive steps: (first step, last
        step, geometric mean RMS), for long sequences."""
        n = len(self.steps)
        size = max(1, math.ceil(n / count))
        out = []
        for lo in range(0, n, size):
            chunk = self.steps[lo : lo + size]
            logs = [math.log(v) for v in chunk if v > 0]
            mean = math.exp(math.fsum(logs) / len(logs)) if len(logs) == len(chunk) else 0.0
            out.append((lo, lo + len(chunk) - 1, mean))
        return out


@dataclass(frozen=True)
class Failure:
    """Why the check failed, for the smallest example Hypothesis found."""

    kind: FailureKind
    depth: int | None
    ratio: float | None
    device: str
    dtype: str
    input_desc: str
    layers: tuple[LayerStat, ...] = ()
    message: str = ""
    exception: str | None = None
    amplification: float | None = None
    example: Mapping[str, Any] = field(default_factory=dict)
    traceback: str | None = None  # the user's code, for an error (``check -v`` prints it)

    def headline(self) -> str:
        """One line for a table of checks, worded as the report panel words it: ``vanishes from
        depth 6``; a non-finite failure says where (``NaN in the forward pass at depth 3``)."""
        if self.kind is FailureKind.NONFINITE and self.message:
            at = f"depth {self.depth}" if self.depth is not None else "the first example"
            return f"{self.message.split(',')[0]} at {at}"
        return self.kind.headline(self.depth)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Failure:
        return cls(
            kind=FailureKind(data["kind"]),
            depth=data.get("depth"),
            ratio=_unnum(data.get("ratio")),
            amplification=_unnum(data.get("amplification")),
            device=str(data.get("device", "")),
            dtype=str(data.get("dtype", "")),
            input_desc=str(data.get("input_desc", "")),
            example=dict(data.get("example") or {}),
            message=str(data.get("message", "")),
            exception=data.get("exception"),
            traceback=data.get("traceback"),
            layers=tuple(LayerStat.from_dict(d) for d in data.get("layers", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "depth": self.depth,
            "ratio": json_number(self.ratio),
            "amplification": json_number(self.amplification),
            "device": self.device,
            "dtype": self.dtype,
            "input_desc": self.input_desc,
            "example": dict(self.example),
            "message": self.message,
            "exception": self.exception,
            "traceback": self.traceback,
            "layers": [layer.to_dict() for layer in self.layers],
        }


@dataclass(frozen=True)
class DeviceResult:
    """The reported example replayed on one device and dtype."""

    device: str
    dtype: str
    ratio: float | None
    amplification: float | None
    passed: bool
    kind: FailureKind | None = None
    message: str = ""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DeviceResult:
        return cls(
            device=str(data["device"]),
            dtype=str(data["dtype"]),
            ratio=_unnum(data.get("ratio")),
            amplification=_unnum(data.get("amplification")),
            passed=bool(data["passed"]),
            kind=FailureKind(data["kind"]) if data.get("kind") else None,
            message=str(data.get("message", "")),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "device": self.device,
            "dtype": self.dtype,
            "ratio": json_number(self.ratio),
            "amplification": json_number(self.amplification),
            "passed": self.passed,
            "kind": self.kind.value if self.kind else None,
            "message": self.message,
        }


@dataclass(frozen=True)
class Parity:
    """Flow ratios of the same seeded example on two devices, same dtype."""

    dtype: str
    devices: tuple[str, str]
    ratios: tuple[float | None, float | None]
    rel_diff: float | None
    agree: bool

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Parity:
        a, b = data["devices"]
        ra, rb = data["ratios"]
        return cls(
            dtype=str(data["dtype"]),
            devices=(str(a), str(b)),
            ratios=(_unnum(ra), _unnum(rb)),
            rel_diff=_unnum(data.get("rel_diff")),
            agree=bool(data["agree"]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "dtype": self.dtype,
            "devices": list(self.devices),
            "ratios": [json_number(r) for r in self.ratios],
            "rel_diff": json_number(self.rel_diff),
            "agree": self.agree,
        }


@dataclass(frozen=True)
class GradientReport:
    """The result of one :func:`gradcheck_kit.check_gradients` run."""

    target: str
    passed: bool
    failure: Failure | None
    examples_run: int
    layers: tuple[LayerStat, ...] = ()
    ratio: float | None = None
    amplification: float | None = None
    limits: tuple[float, float] | None = None
    example: Mapping[str, Any] | None = None
    bounds: Bounds = field(default_factory=Bounds)
    seed: int | None = None
    depths: tuple[int, int] | None = None
    devices: tuple[DeviceResult, ...] = ()
    parity: tuple[Parity, ...] = ()
    elapsed_s: float = 0.0
    reproduce: str = ""
    depths_tried: tuple[int, ...] = ()
    scale_free_ratio: float | None = None
    sequences: tuple[SequenceStat, ...] = ()  # per-step profiles of fused recurrent modules
    notes: tuple[str, ...] = ()  # what the reader should know: inferred input, revived zeros...

    @property
    def name(self) -> str:
        return self.target

    @property
    def shown_ratio(self) -> float | None:
        """The flow ratio a report shows: the failing example's when it failed."""
        return self.failure.ratio if self.failure else self.ratio

    @property
    def depth_span(self) -> str:
        """The depths it was built at, ``2..32`` (``-`` when none were recorded)."""
        return f"{self.depths[0]}..{self.depths[1]}" if self.depths else "-"

    @property
    def limits_text(self) -> str:
        """Its bounds, ``1e-03 .. 1e+03`` (``-`` when none were recorded)."""
        return f"{fmt(self.limits[0])} .. {fmt(self.limits[1])}" if self.limits else "-"

    @property
    def parity_ok(self) -> bool:
        return all(p.agree for p in self.parity)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GradientReport:
        """The inverse of :meth:`to_dict` (e.g. a report sent from a pytest-xdist worker)."""
        failure = data.get("failure")
        limits = data.get("limits")
        depths = data.get("depths")
        example = data.get("example")
        return cls(
            target=str(data["target"]),
            passed=bool(data["passed"]),
            failure=Failure.from_dict(failure) if failure else None,
            examples_run=int(data.get("examples_run", 0)),
            layers=tuple(LayerStat.from_dict(d) for d in data.get("layers", ())),
            ratio=_unnum(data.get("ratio")),
            amplification=_unnum(data.get("amplification")),
            limits=(float(limits[0]), float(limits[1])) if limits else None,
            example=dict(example) if example is not None else None,
            bounds=Bounds.from_dict(data["bounds"]) if data.get("bounds") else Bounds(),
            seed=data.get("seed"),
            depths=(int(depths[0]), int(depths[1])) if depths else None,
            devices=tuple(DeviceResult.from_dict(d) for d in data.get("devices", ())),
            parity=tuple(Parity.from_dict(p) for p in data.get("parity", ())),
            elapsed_s=float(data.get("elapsed_s", 0.0)),
            reproduce=str(data.get("reproduce", "")),
            depths_tried=tuple(int(d) for d in data.get("depths_tried", ())),
            scale_free_ratio=_unnum(data.get("scale_free_ratio")),
            sequences=tuple(SequenceStat.from_dict(d) for d in data.get("sequences", ())),
            notes=tuple(str(n) for n in data.get("notes", ())),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": 1,
            "target": self.target,
            "passed": self.passed,
            "failure": self.failure.to_dict() if self.failure else None,
            "examples_run": self.examples_run,
            "seed": self.seed,
            "bounds": self.bounds.to_dict(),
            "depths": list(self.depths) if self.depths else None,
            "depths_tried": list(self.depths_tried),
            "ratio": json_number(self.ratio),
            "amplification": json_number(self.amplification),
            "scale_free_ratio": json_number(self.scale_free_ratio),
            "limits": list(self.limits) if self.limits else None,
            "example": dict(self.example) if self.example is not None else None,
            "layers": [layer.to_dict() for layer in self.layers],
            "sequences": [seq.to_dict() for seq in self.sequences],
            "notes": list(self.notes),
            "devices": [d.to_dict() for d in self.devices],
            "parity": [p.to_dict() for p in self.parity],
            "parity_ok": self.parity_ok,
            "reproduce": self.reproduce,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def summary(self) -> str:
        """Plain text: what failed, where, the worst layers and how to reproduce it."""
        return "\n".join(_summary_lines(self))

    def __str__(self) -> str:
        return self.summary()

    def __rich_console__(self, console: Any, options: Any) -> Iterator[Any]:
        from gradcheck_kit.report.gradient_console import render_gradient_report

        yield render_gradient_report(self)


def worst_layers(layers: tuple[LayerStat, ...], count: int = 5) -> list[LayerStat]:
    """The layers with the smallest (vanishing) or largest (exploding) gradient, plus any that
    are zero or non-finite: the ones a person should look at first."""

    def badness(layer: LayerStat) -> float:
        g = layer.grad_rms
        if g is None:
            return -math.inf
        if not math.isfinite(g) or g == 0.0:
            return math.inf
        return abs(math.log10(g))

    picked = sorted(layers, key=badness, reverse=True)[:count]
    return sorted(picked, key=lambda layer: layer.index)


def _summary_lines(report: GradientReport) -> list[str]:
    failure = report.failure
    if failure is None:
        ratio = fmt(report.ratio)
        lines = [
            f"gradient check passed for {report.target}: {report.examples_run} examples, "
            f"worst flow ratio {ratio}"
        ]
        if not report.parity_ok:
            lines.append("  devices disagree: " + _parity_text(report))
        lines += [f"  note: {note}" for note in report.notes]
        return lines
    where = f"{failure.device}, {failure.dtype}"
    depth = f"depth {failure.depth}" if failure.depth is not None else "the first example"
    lines = [
        f"gradient check failed for {report.target}: {failure.kind}",
        f"  smallest failing example: {depth} ({where}), after {report.examples_run} examples",
        f"  {failure.message}",
        f"  input: {failure.input_desc}",
    ]
    if failure.exception:
        lines.append(f"  exception: {failure.exception}")
    if failure.layers:
        lines.append("  worst layers (gradient RMS at the layer's output, forward order):")
        for layer in worst_layers(failure.layers):
            extra = ""
            if layer.saturation is not None:
                extra += f"  saturated {layer.saturation:.0%}"
            if layer.underflow:
                extra += "  underflow"
            lines.append(
                f"    {layer.index:>3} {layer.name:<24} {layer.type:<12} "
                f"{fmt(layer.grad_rms):>9}{extra}"
            )
    for seq in report.sequences:
        lines.append(f"  through time, {seq.type} {seq.name!r} ({len(seq.steps)} steps):")
        lines.append(
            "    "
            + "  ".join(
                f"{a}-{b} {fmt(v)}" if a != b else f"{a} {fmt(v)}" for a, b, v in seq.buckets(8)
            )
        )
    if not report.parity_ok:
        lines.append("  devices disagree: " + _parity_text(report))
    lines += [f"  note: {note}" for note in report.notes]
    if report.reproduce:
        lines.append(f"  reproduce: {report.reproduce}")
    return lines


def _parity_text(report: GradientReport) -> str:
    return "; ".join(
        f"{p.devices[0]} {fmt(p.ratios[0])} vs {p.devices[1]} {fmt(p.ratios[1])} ({p.dtype})"
        for p in report.parity
        if not p.agree
    )


class GradientFlowError(AssertionError):
    """Raised by :func:`gradcheck_kit.check_gradients` when a check fails; ``.report`` has it all."""

    def __init__(self, report: GradientReport) -> None:
        super().__init__(report.summary())
        self.report = report
