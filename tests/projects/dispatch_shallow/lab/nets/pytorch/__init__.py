from .fnn import FNN

__all__ = ["FNN"]
