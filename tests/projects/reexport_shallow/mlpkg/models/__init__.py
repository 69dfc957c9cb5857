from .mlp import DeepMLP

__all__ = ["DeepMLP"]
