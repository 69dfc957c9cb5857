"""The package's public names: the stack is exported as ``Net``, a name its module never uses."""

from lab.nets import Net

__all__ = ["Net"]
