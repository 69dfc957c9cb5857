from .mlp import SigmoidMLP

__all__ = ["SigmoidMLP"]
