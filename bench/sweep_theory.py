"""Predicted vs measured per-layer gradient gain: the README's theory table.

    python bench/sweep_theory.py [--width 512] [--depths 2:64:2] [--seeds 5]

Sweeps plain MLPs (tanh, sigmoid, ReLU x PyTorch default / Xavier / He init, and tanh with
weight variance 4/n) with :func:`gradcheck_kit.sweep` and prints a Markdown table of the fitted
gain (95% CI), the mean-field prediction of :func:`gradcheck_kit.theory.predicted_gain` for the
nominal init, and how far apart they are. One thread (small matmuls), CPU.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_sweep_theory import mlp_factory, nominal

from gradcheck_kit import sweep
from gradcheck_kit.commands.sweep import parse_depth_range
from gradcheck_kit.theory import mean_field

CASES = [
    ("tanh", "default"),
    ("tanh", "xavier"),
    ("tanh", "var4"),
    ("sigmoid", "default"),
    ("sigmoid", "xavier"),
    ("relu", "default"),
    ("relu", "xavier"),
    ("relu", "he"),
]
INIT_NAMES = {
    "default": "PyTorch default",
    "xavier": "Xavier",
    "he": "He",
    "var4": "variance 4/n",
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--width", type=int, default=512)
    parser.add_argument("--depths", default="2:64:2")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    depths = parse_depth_range(args.depths)
    print(
        f"width {args.width}, depths {depths[0]}..{depths[-1]} ({len(depths)}), "
        f"{args.seeds} seeds, batch 16, float32, CPU\n"
    )
    print("| activation | init | s_w^2 | q* | predicted | measured (95% CI) | apart | fit |")
    print("| --- | --- | ---: | ---: | ---: | --- | ---: | --- |")
    for act, init in CASES:
        started = time.perf_counter()
        report = sweep(mlp_factory(act, init, args.width), depths, args.seeds, input_shape=(16, 16))
        weight_var, bias_var = nominal(init)
        if init == "default":
            bias_var = 1 / (3 * args.width)
        field = mean_field(act, weight_var, bias_var)
        gain, ci = report.gain, report.gain_ci
        assert gain is not None and ci is not None
        apart = (gain - field.gain) / field.gain
        print(
            f"| {act} | {INIT_NAMES[init]} | {weight_var:.3g} | {field.q_star:.3g} | "
            f"{field.gain:.3f} | {gain:.3f} ({ci[0]:.3f}-{ci[1]:.3f}) | {apart:+.1%} | "
            f"{report.fit.shape} ({time.perf_counter() - started:.0f} s) |"
        )


if __name__ == "__main__":
    main()
