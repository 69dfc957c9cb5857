"""The dynamic half: build the model at depths Hypothesis chooses, run forward and backward,
measure the gradient at every layer.

torch and hypothesis are imported by the submodules, never by ``import gradcheck_kit``.
"""

from __future__ import annotations

__all__ = ["check_gradients"]


def __getattr__(name: str) -> object:
    if name == "check_gradients":
        from gradcheck_kit.runtime.check import check_gradients

        return check_gradients
    raise AttributeError(f"module 'gradcheck_kit.runtime' has no attribute {name!r}")
