from . import backend, nets

__all__ = ["backend", "nets"]
