"""The README's picture: a depth sweep of a width-512 tanh MLP at PyTorch's default init, with
its fit and the mean-field prediction (needs matplotlib, the ``plot`` extra).

    python bench/sweep_picture.py [OUT.svg]   # default: bench/sweep_tanh.svg
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_sweep_theory import mlp_factory

from gradcheck_kit import sweep


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("sweep_tanh.svg")
    torch.set_num_threads(1)
    report = sweep(
        mlp_factory("tanh", "default"),
        range(2, 33, 2),
        5,
        input_shape=(16, 16),
        name="tanh MLP, width 512, PyTorch default init",
    )
    image = report.plot(out.suffix.lstrip(".") or "svg")
    if image is None:
        raise SystemExit("needs matplotlib: pip install 'gradcheck-kit[plot]'")
    out.write_bytes(image)
    print(report.summary())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
