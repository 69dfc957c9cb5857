"""Shared test setup: Hypothesis settings profiles.

* ``quick`` (default): few examples, so the whole suite stays fast on 2 cores.
* ``ci``: the same, derandomized so CI is reproducible.
* ``slow``: long fuzzing runs, for tests marked ``slow`` (``pytest -m slow``).

Pick one with ``HYPOTHESIS_PROFILE=...``.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "quick",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
    database=None,
)
settings.register_profile(
    "slow",
    max_examples=2000,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

# Checks save failures to an example database and replay them first next time (as Hypothesis
# does); the suite must not depend on what an earlier run left, so it runs without one unless a
# test asks for it.
os.environ.setdefault("GRADCHECK_KIT_DATABASE", "none")

# In CI, check and audit isolate their checks by default; the suite tests each mode on purpose
# (tests/test_isolation.py), so it does not inherit that default from the machine it runs on.
os.environ.setdefault("GRADCHECK_KIT_ISOLATE", "0")
