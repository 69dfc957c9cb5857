"""Overhead of check_gradients over a bare loop doing the same work, side by side in one process.

Bare loop: for each example, seeded build of the model, forward, a probe loss, backward.
Checked: check_gradients over the same models, depths and number of examples (passing models,
so no shrinking; its count includes the one replay of the reported example).

    python bench/runtime_overhead.py [--repeats 5] [--examples 30]

Prints per-model medians and the ratio; the target is <= 1.15x.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch
from torch import nn

from gradcheck_kit import check_gradients

WIDTH, IN, OUT, BATCH = 128, 32, 10, 16


def he_relu(depth: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(IN, WIDTH), nn.ReLU()]
    for _ in range(depth - 1):
        layers += [nn.Linear(WIDTH, WIDTH), nn.ReLU()]
    layers.append(nn.Linear(WIDTH, OUT))
    model = nn.Sequential(*layers)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            nn.init.zeros_(m.bias)
    return model


class Residual(nn.Module):
    def __init__(self, depth: int) -> None:
        super().__init__()
        self.inp = nn.Linear(IN, WIDTH)
        self.blocks = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(depth))
        self.head = nn.Linear(WIDTH, OUT)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + torch.tanh(block(h))
        return self.head(h)


def layernorm_tanh(depth: int) -> nn.Module:
    layers: list[nn.Module] = [nn.Linear(IN, WIDTH), nn.LayerNorm(WIDTH), nn.Tanh()]
    for _ in range(depth - 1):
        layers += [nn.Linear(WIDTH, WIDTH), nn.LayerNorm(WIDTH), nn.Tanh()]
    layers.append(nn.Linear(WIDTH, OUT))
    return nn.Sequential(*layers)


MODELS = {"he_relu": he_relu, "residual_tanh": Residual, "layernorm_tanh": layernorm_tanh}


def bare_loop(factory, depths: list[int], batches: list[int]) -> float:
    start = time.perf_counter()
    for i, (depth, batch) in enumerate(zip(depths, batches, strict=True)):
        torch.manual_seed(i)
        model = factory(depth)
        x = torch.randn(batch, IN)
        out = model(x)
        (out * torch.randn(out.shape)).sum().backward()
    return time.perf_counter() - start


def checked(factory, examples: int, seed: int) -> tuple[float, list[int], list[int], int]:
    from gradcheck_kit.runtime import check as check_module

    seen: list[tuple[int, int]] = []
    original = check_module.run_example

    def spy(f, example, **kwargs):
        seen.append((example.depth, example.inputs.shape[0]))
        return original(f, example, **kwargs)

    check_module.run_example = spy
    try:
        start = time.perf_counter()
        report = check_gradients(
            factory,
            depths=(2, 32),
            input_shape=(BATCH, IN),
            max_examples=examples,
            seed=seed,
            raise_on_failure=False,
        )
        elapsed = time.perf_counter() - start
    finally:
        check_module.run_example = original
    assert report.passed, report.summary()
    return elapsed, [d for d, _ in seen], [b for _, b in seen], report.examples_run


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--examples", type=int, default=30)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    globals().update(WIDTH=args.width, BATCH=args.batch)
    torch.set_num_threads(1)  # steadier timings
    print(f"torch {torch.__version__}, 1 thread, width {WIDTH}, depths 2..32, batch <= {BATCH}")
    print(f"{'model':<16}{'examples':>9}{'bare (s)':>10}{'check (s)':>11}{'ratio':>8}")
    ratios = []
    for name, factory in MODELS.items():
        bare_times, check_times, runs = [], [], 0
        for r in range(args.repeats):
            # the same depths and batch sizes as the check drew, so both do the same work
            t_check, depths, batches, runs = checked(factory, args.examples, seed=r)
            t_bare = bare_loop(factory, depths, batches)
            check_times.append(t_check)
            bare_times.append(t_bare)
        bare, check = statistics.median(bare_times), statistics.median(check_times)
        ratios.append(check / bare)
        print(f"{name:<16}{runs:>9}{bare:>10.3f}{check:>11.3f}{check / bare:>7.2f}x")
    geo = math.exp(statistics.fmean(math.log(r) for r in ratios))
    print(f"{'geometric mean':<46}{geo:>7.2f}x  (target <= 1.15x)")


if __name__ == "__main__":
    main()
