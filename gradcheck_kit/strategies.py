"""Hypothesis building blocks for gradient checks, to compose your own ``inputs=`` or
``depths=``: a thin re-export of :mod:`gradcheck_kit.runtime.strategies` (where they live,
next to the internal strategy of a whole example) and of
:func:`gradcheck_kit.runtime.devices.available_devices`.

Input strategies draw a small *recipe* (:class:`InputSpec`: batch size, scale, distribution,
seed), not the tensor itself; it shrinks to batch 2 (or the smallest batch allowed), scale 1, a
normal distribution and seed 0.

Needs the ``runtime`` extra (hypothesis here, torch when a recipe is materialised).
"""

from __future__ import annotations

from gradcheck_kit.runtime.devices import available_devices
from gradcheck_kit.runtime.strategies import DISTRIBUTIONS as DISTRIBUTIONS
from gradcheck_kit.runtime.strategies import SCALES as SCALES
from gradcheck_kit.runtime.strategies import (
    InputSpec,
    depths,
    devices,
    dtypes,
    float_inputs,
    token_inputs,
)

__all__ = [
    "InputSpec",
    "available_devices",
    "depths",
    "devices",
    "dtypes",
    "float_inputs",
    "token_inputs",
]
