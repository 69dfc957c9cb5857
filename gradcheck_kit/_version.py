"""The version, in a module of its own: every module imports it from here, never back up from
the package root (``gradcheck_kit/__init__.py`` re-exports it)."""

__version__ = "0.1.0"
