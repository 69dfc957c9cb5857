"""The package's layers, re-exported."""

from .smooth import SmoothUnit

__all__ = ["SmoothUnit"]
