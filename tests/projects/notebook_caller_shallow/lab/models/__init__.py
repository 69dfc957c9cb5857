from .stack import SigmoidStack

__all__ = ["SigmoidStack"]
