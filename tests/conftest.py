"""What every test folder shares: the Hypothesis profile and the ``cli`` fixture.

The tests are grouped by the package's layers (tests/game, tests/payoff, tests/envs, tests/eval,
tests/agents, tests/train, tests/experiments, tests/cli); ``pytest tests/eval`` runs one layer
alone. The shared brute-force references (tests/brute.py, tests/brute_rules.py) and the command
runners (tests/commands.py) are modules of the ``tests`` package. Tests marked ``slow`` (over
about 2 s on 2 cores) are left out of the inner loop, ``pytest -m "not slow"`` (README).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import pytest

from tests import hypothesis_profiles  # noqa: F401  # registers and loads HYPOTHESIS_PROFILE's profile
from tests.commands import ROOT, Ran, run_main


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Callable[..., Ran]:
    """``cli(main, *argv)``: a console command's ``main`` run in this process from the repository
    root, as its console script would run it; returns its status, stdout and stderr (a :class:`Ran`)."""
    monkeypatch.chdir(ROOT)
    return functools.partial(run_main, capsys=capsys)
