"""The array backend, chosen at run time (as deepxde chooses its own)."""

import importlib
import os

NAME = os.environ.get("LAB_BACKEND", "pytorch")


def _load(name):
    module = importlib.import_module(".%s" % name, __name__)
    globals().update(vars(module))


_load(NAME)
