"""check_gradients over the zoo of real architectures (tests/zoo.py), next to the bare cost of
the same model and the AUTOTRAINER rule.

    python bench/zoo.py [--seeds 3] [--examples 5] [--only NAME] [--markdown] [--threads N]
    python bench/zoo.py --false-alarms [--examples 5]        # healthy models, seeds 0..19

Per model: the expected verdict, the verdicts over ``--seeds`` seeds, the flow ratio and depth
of seed 0's reported example, the check's seconds (median over seeds), the bare cost of one
seeded build + forward + backward at that depth and the full input shape (median of
``--repeats``, measured in this process right after the checks), the per-example overhead
``(check seconds / examples run) / bare seconds`` (the check draws smaller batches and other
depths too, so it is an estimate), and the AUTOTRAINER rule on the same model and depth: the
ratio of the first to the last weight-gradient norm (layers with a weight matrix or kernel, in
forward order) > 70 exploding, < 1e-3 vanishing.

torchvision and timm models at random init are added when importable (``--no-external`` skips
them); Hugging Face transformers models from tiny configs too.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT))  # gradcheck_kit from this checkout unless PYTHONPATH names another

from gradcheck_kit import check_gradients  # noqa: E402
from gradcheck_kit.strategies import InputSpec  # noqa: E402

AUTOTRAINER_EXPLODE, AUTOTRAINER_VANISH = 70.0, 1e-3
FALSE_ALARM_SEEDS = 20


def load_zoo() -> ModuleType:
    """tests/zoo.py by path: ``import zoo`` would find this file (bench/ is sys.path[0])."""
    spec = importlib.util.spec_from_file_location("zoo", ROOT / "tests" / "zoo.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["zoo"] = module
    spec.loader.exec_module(module)
    return module


zoo = load_zoo()
Entry = zoo.ZooEntry


# --------------------------------------------------------------------------- external models


def _fixed(build: Callable[[], nn.Module]) -> Callable[[int], nn.Module]:
    """A fixed architecture as a factory (the depth is ignored)."""

    def factory(depth: int) -> nn.Module:
        return build()

    return factory


def external_models() -> tuple[dict[str, Any], list[str]]:
    """torchvision and timm models at random init (64 px, 10 classes), and what was missing."""
    found: dict[str, Any] = {}
    missing: list[str] = []
    image = (16, 3, 64, 64)  # BatchNorm nets: batch 16
    try:
        import torchvision.models as tvm

        builds: dict[str, Callable[[], nn.Module]] = {
            "tv.resnet50": lambda: tvm.resnet50(num_classes=10),
            "tv.resnet50_zero_init": lambda: tvm.resnet50(num_classes=10, zero_init_residual=True),
            "tv.vit_b_16@64": lambda: tvm.vit_b_16(image_size=64, num_classes=10),
            "tv.convnext_tiny": lambda: tvm.convnext_tiny(num_classes=10),
            "tv.efficientnet_b0": lambda: tvm.efficientnet_b0(num_classes=10),
            "tv.regnet_y_400mf": lambda: tvm.regnet_y_400mf(num_classes=10),
            "tv.swin_t": lambda: tvm.swin_t(num_classes=10),
            "tv.mobilenet_v3_small": lambda: tvm.mobilenet_v3_small(num_classes=10),
            "tv.densenet121": lambda: tvm.densenet121(num_classes=10),
        }
        for name, build in builds.items():
            found[name] = Entry(_fixed(build), image, (1, 1), "pass")
    except ImportError as exc:
        missing.append(f"torchvision ({exc})")
    try:
        import timm

        def timm_model(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
            return lambda: timm.create_model(name, pretrained=False, num_classes=10, **kwargs)

        for name, kwargs in (
            ("resnet50", {}),
            ("vit_small_patch16_224", {"img_size": 64}),
            ("convnext_atto", {}),
            ("efficientnet_b0", {}),
            ("mobilenetv3_small_100", {}),
            ("regnety_002", {}),
        ):
            found[f"timm.{name}"] = Entry(_fixed(timm_model(name, **kwargs)), image, (1, 1), "pass")
    except ImportError as exc:
        missing.append(f"timm ({exc})")
    try:
        import transformers  # noqa: F401

        found.update({f"hf.{k}": v for k, v in zoo.TRANSFORMERS_ZOO.items()})
    except ImportError as exc:
        missing.append(f"transformers ({exc})")
    return found, missing


# --------------------------------------------------------------------------- measurements


def make_input(entry: Any, seed: int = 0) -> torch.Tensor:
    return InputSpec(tuple(entry.input_shape), seed=seed, vocab_size=entry.vocab_size).make()


def bare_seconds(entry: Any, depth: int, repeats: int) -> float:
    """Median seconds of a seeded build + forward + a random projection loss + backward."""
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        torch.manual_seed(i)
        model = entry.factory(depth)
        out = model(make_input(entry, i))
        (out.float() * torch.randn(out.shape)).sum().backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _has_weight(module: nn.Module) -> bool:
    return any(
        "weight" in name and p.dim() >= 2 and p.requires_grad
        for name, p in module.named_parameters(recurse=False)
    )


def autotrainer(entry: Any, depth: int) -> tuple[float, str]:
    """AUTOTRAINER's rule: |grad W_first| / |grad W_last| over layers with a weight matrix or
    kernel, in the order the forward pass runs them; > 70 exploding, < 1e-3 vanishing."""
    torch.manual_seed(0)
    model = entry.factory(depth)
    order: list[nn.Module] = []
    handles = [
        m.register_forward_hook(lambda m, i, o: order.append(m) if m not in order else None)
        for m in model.modules()
        if _has_weight(m)
    ]
    try:
        out = model(make_input(entry))
    finally:
        for handle in handles:
            handle.remove()
    (out.float() * torch.randn(out.shape)).sum().backward()

    def norm(module: nn.Module) -> float:
        grads = [
            p.grad
            for name, p in module.named_parameters(recurse=False)
            if "weight" in name and p.dim() >= 2 and p.grad is not None
        ]
        if not grads:
            return 0.0
        return float(torch.linalg.vector_norm(torch.cat([g.float().flatten() for g in grads])))

    if len(order) < 2:
        return float("nan"), "n/a"
    first, last = norm(order[0]), norm(order[-1])
    ratio = first / last if last > 0 else float("inf")
    if ratio > AUTOTRAINER_EXPLODE:
        return ratio, "exploding"
    if ratio < AUTOTRAINER_VANISH:
        return ratio, "vanishing"
    return ratio, "pass"


def check(entry: Any, seed: int, examples: int) -> Any:
    return check_gradients(
        entry.factory,
        input_shape=entry.input_shape,
        depths=entry.depths,
        vocab_size=entry.vocab_size,
        max_examples=examples,
        seed=seed,
        raise_on_failure=False,
        progress=False,
    )


def verdict(report: Any) -> str:
    return "pass" if report.passed else str(report.failure.kind)


def tally(verdicts: list[str]) -> str:
    counts = Counter(verdicts)
    if len(counts) == 1:
        return verdicts[0]
    return ", ".join(f"{k} {n}/{len(verdicts)}" for k, n in counts.most_common())


def fmt(x: float | None) -> str:
    if x is None:
        return "-"
    return f"{x:.3g}" if 1e-2 <= abs(x) < 1e4 or x == 0 else f"{x:.2e}"


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- output

HEADERS = (
    "model",
    "expected",
    "verdict",
    "depth",
    "flow ratio",
    "check s",
    "examples",
    "bare s",
    "x bare / example",
    "AUTOTRAINER",
)


def print_table(rows: Sequence[Sequence[str]], markdown: bool, headers: Sequence[str]) -> None:
    if markdown:
        print("| " + " | ".join(headers) + " |")
        print("| " + " | ".join("---" for _ in headers) + " |")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def bench_row(name: str, entry: Any, seeds: int, examples: int, repeats: int) -> tuple[str, ...]:
    try:
        reports = [check(entry, seed, examples) for seed in range(seeds)]
        first = reports[0]
        depth = int((first.example or {}).get("depth", entry.depths[0]))
        check_s = statistics.median(r.elapsed_s for r in reports)
        runs = statistics.median(r.examples_run for r in reports)
        bare = bare_seconds(entry, depth, repeats)
        at_ratio, at_verdict = autotrainer(entry, depth)
    except Exception as exc:  # one broken external model must not stop the table
        return (name, entry.expected, f"bench error: {type(exc).__name__}: {exc}"[:80], *"-" * 7)
    mark = "" if all(verdict(r) == entry.expected for r in reports) else " (!)"
    return (
        name,
        entry.expected,
        tally([verdict(r) for r in reports]) + mark,
        str(depth),
        fmt(first.ratio),
        f"{check_s:.2f}",
        f"{runs:g}",
        f"{bare * 1000:.1f} ms",
        f"{check_s / max(runs, 1) / bare:.2f}",
        f"{at_verdict} ({fmt(at_ratio)})",
    )


def false_alarms(models: dict[str, Any], examples: int, markdown: bool) -> None:
    rows = []
    for name, entry in models.items():
        if entry.expected != "pass":
            continue
        reports = [check(entry, seed, examples) for seed in range(FALSE_ALARM_SEEDS)]
        failed = [r for r in reports if not r.passed]
        kinds = Counter(verdict(r) for r in failed)
        rows.append(
            (
                name,
                f"{len(failed)}/{FALSE_ALARM_SEEDS}",
                ", ".join(f"{k} {n}" for k, n in kinds.most_common()) or "-",
                ", ".join(str(r.seed) for r in failed) or "-",
            )
        )
        print(f"  {name}: {rows[-1][1]}", file=sys.stderr, flush=True)
    print_table(rows, markdown, ("model", "failed", "kinds", "failing seeds"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=3, help="check seeds 0..N-1 (default 3)")
    parser.add_argument("--examples", type=int, default=5, help="max_examples (default 5)")
    parser.add_argument("--only", action="append", help="model name (repeatable)")
    parser.add_argument("--markdown", action="store_true", help="a Markdown table")
    parser.add_argument("--repeats", type=int, default=5, help="bare runs per model (median)")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument("--no-external", action="store_true", help="skip torchvision/timm/HF")
    parser.add_argument(
        "--false-alarms",
        action="store_true",
        help=f"healthy models over seeds 0..{FALSE_ALARM_SEEDS - 1}: how many fail",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    models: dict[str, Any] = dict(zoo.ZOO)
    if not args.no_external:
        external, missing = external_models()
        models.update(external)
        for what in missing:
            print(f"not importable, skipped: {what}", file=sys.stderr)
    if args.only:
        unknown = [n for n in args.only if n not in models]
        if unknown:
            parser.error(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(models)}")
        models = {n: models[n] for n in args.only}

    seeds = f"seeds 0..{FALSE_ALARM_SEEDS if args.false_alarms else args.seeds} (excl.)"
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, {seeds}, "
        f"max_examples {args.examples}",
        file=sys.stderr,
    )
    with quiet():
        if args.false_alarms:
            false_alarms(models, args.examples, args.markdown)
            return 0
        rows = []
        for name, entry in models.items():
            rows.append(bench_row(name, entry, args.seeds, args.examples, args.repeats))
            print("  " + "  ".join(rows[-1]), file=sys.stderr, flush=True)
    print_table(rows, args.markdown, HEADERS)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
