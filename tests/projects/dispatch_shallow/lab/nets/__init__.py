"""Networks: ``lab.nets.FNN`` is the current backend's."""

import importlib

from ..backend import NAME


def _load(name):
    module = importlib.import_module(f".{name}", __name__)
    globals().update(vars(module))


_load(NAME)
