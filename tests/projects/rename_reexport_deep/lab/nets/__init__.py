from .stack import SquashStack as Net  # renamed on export

__all__ = ["Net"]
