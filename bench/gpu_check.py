"""GPU smoke check for the runtime checker (< 2 minutes on one GPU).

Runs check_gradients on cuda in float32, bfloat16 and float16, and CPU vs cuda parity for the
same seeded examples, then prints a table. Exits 0 with a message when there is no cuda device.

    python bench/gpu_check.py
"""

from __future__ import annotations

import sys
import time

import torch
from torch import nn

from gradcheck_kit import check_gradients
from gradcheck_kit.report.gradients import fmt


def mlp(act: type[nn.Module], width: int = 256, he: bool = False):
    def factory(depth: int) -> nn.Module:
        layers: list[nn.Module] = [nn.Linear(64, width), act()]
        for _ in range(depth - 1):
            layers += [nn.Linear(width, width), act()]
        layers.append(nn.Linear(width, 10))
        model = nn.Sequential(*layers)
        if he:
            for m in model.modules():
                if isinstance(m, nn.Linear):
                    nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                    nn.init.zeros_(m.bias)
        return model

    return factory


class LayerNormTanh(nn.Module):
    def __init__(self, depth: int, width: int = 256) -> None:
        super().__init__()
        self.inp = nn.Linear(64, width)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(width), nn.Linear(width, width), nn.Tanh())
            for _ in range(depth)
        )
        self.head = nn.Linear(width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.inp(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(h)


CASES = [
    # name, factory, depths, expected verdict
    ("he_relu", mlp(nn.ReLU, he=True), (2, 48), "pass"),
    ("prenorm_residual_tanh", LayerNormTanh, (2, 48), "pass"),
    ("sigmoid_mlp", mlp(nn.Sigmoid), (2, 32), "vanishing"),
    ("sigmoid_mlp_depth16", mlp(nn.Sigmoid), (16, 16), "dead|vanishing"),
]


def main() -> int:
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device here (torch.cuda.is_available() is False); nothing to do")
        return 0
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name(0)}")
    header = f"{'model':<24}{'dtypes':<28}{'verdict':<11}{'depth':>6}{'ratio':>10}  parity  s"
    print(header)
    print("-" * len(header))
    ok = True
    started = time.perf_counter()
    for name, factory, depths, expected in CASES:
        for dtypes in (("float32",), ("bfloat16",), ("float16",)):
            t = time.perf_counter()
            report = check_gradients(
                factory,
                depths=depths,
                input_shape=(32, 64),
                devices=("cpu", "cuda"),
                dtypes=dtypes,
                max_examples=8,
                seed=0,
                raise_on_failure=False,
                timeout=60,
            )
            verdict = "pass" if report.passed else report.failure.kind
            depth = report.failure.depth if report.failure else report.example["depth"]
            ratio = report.failure.ratio if report.failure else report.ratio
            parity = "ok" if report.parity_ok else "DIFF"
            if dtypes == ("float32",):
                ok &= verdict in expected.split("|") and report.parity_ok
            print(
                f"{name:<24}{','.join(dtypes):<28}{verdict:<11}{depth:>6}{fmt(ratio):>10}  "
                f"{parity:<6}{time.perf_counter() - t:5.1f}"
            )
            for p in report.parity:
                if not p.agree:
                    print(f"    parity {p.devices}: {fmt(p.ratios[0])} vs {fmt(p.ratios[1])}")
            if report.failure and report.failure.dtype in ("float16", "bfloat16"):
                print(f"    {report.failure.message}")
    print(f"total {time.perf_counter() - started:.1f} s; float32 verdicts as expected: {ok}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
