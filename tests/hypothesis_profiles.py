"""Hypothesis settings profiles: the full example counts in CI, fewer in the inner loop.

``HYPOTHESIS_PROFILE`` names the profile (importing this module registers and loads it; conftest.py
does so before any test module is collected):

* ``ci``: Hypothesis's default budget, 100 examples a test; CI's full check (.ci/run) uses it;
* ``dev`` (the default): 20 examples a test, for the inner loop (README).

A test that sets its own count writes ``max_examples=examples(N)``: N under ``ci`` (the count the
test was written with) and ``N * 20 / 100`` under ``dev`` (at least :data:`MIN_EXAMPLES`). A
derandomized test (``derandomize=True``) draws its examples from a seed fixed by its source, so
each profile draws the same examples on every run.
"""

from __future__ import annotations

import os

from hypothesis import settings

__all__ = ["CI_EXAMPLES", "MIN_EXAMPLES", "PROFILE", "examples"]

#: Examples per test under ``ci``: Hypothesis's own default, which each test's count is written against.
CI_EXAMPLES = 100
#: The fewest examples a test draws under ``dev``.
MIN_EXAMPLES = 5

settings.register_profile("ci", max_examples=CI_EXAMPLES)
settings.register_profile("dev", max_examples=20)

#: The profile in force: ``HYPOTHESIS_PROFILE`` (``ci`` or ``dev``), ``dev`` when unset.
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.load_profile(PROFILE)  # an unknown name is refused, naming the registered profiles


def examples(n: int) -> int:
    """The example count of a test written for ``n`` examples, scaled to the profile in force."""
    return max(MIN_EXAMPLES, round(n * settings.default.max_examples / CI_EXAMPLES))
