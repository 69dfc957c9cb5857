"""The README's table of examples: the smallest failing depth the checker finds (depths 2..64)
and the flow ratio at depth 32, for every example architecture. CPU, seeded, reproducible:

    python bench/examples_table.py
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))

import deep_sigmoid_mlp
import normalized_mlp
import recurrent
import relu_init
import transformer
import yolo_backbone

from gradcheck_kit import check_gradients

TOKENS: dict[str, Any] = {"input_shape": (8, 16), "input_dtype": "long", "vocab_size": 1000}
CASES: list[tuple[str, Any, dict[str, Any], int]] = [
    ("deep_sigmoid_mlp.py:make_model", deep_sigmoid_mlp.make_model, {}, 64),
    ("normalized_mlp.py:make_batchnorm", normalized_mlp.make_batchnorm, {}, 64),
    ("normalized_mlp.py:make_layernorm", normalized_mlp.make_layernorm, {}, 64),
    ("normalized_mlp.py:make_residual", normalized_mlp.make_residual, {}, 64),
    ("relu_init.py:make_default_init", relu_init.make_default_init, {}, 64),
    ("relu_init.py:make_he_init", relu_init.make_he_init, {}, 64),
    ("recurrent.py:make_rnn", recurrent.make_rnn, {}, 64),
    ("recurrent.py:make_lstm", recurrent.make_lstm, {}, 64),
    ("yolo_backbone.py:make_backbone", yolo_backbone.make_backbone, {}, 16),
    ("transformer.py:make_encoder", transformer.make_encoder, TOKENS, 32),
]


def main() -> None:
    print(f"{'example':<36}{'smallest failing depth':>24}{'ratio at depth 32 (median of 3)':>34}")
    for name, factory, kwargs, hi in CASES:
        search = check_gradients(
            factory, depths=(2, hi), max_examples=30, seed=0, raise_on_failure=False, **kwargs
        )
        failing = f"{search.failure.kind} at {search.failure.depth}" if search.failure else "none"
        ratios = []
        for seed in range(3):
            at32 = check_gradients(
                factory, depths=(32, 32), max_examples=3, seed=seed, raise_on_failure=False,
                **kwargs,
            )  # fmt: skip
            value = at32.failure.ratio if at32.failure else at32.ratio
            if value is not None:
                ratios.append(value)
        ratio = f"{statistics.median(ratios):.2e}" if ratios else "-"
        print(f"{name:<36}{failing:>24}{ratio:>34}", flush=True)


if __name__ == "__main__":
    main()
