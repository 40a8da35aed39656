"""The pilot of docs/lab.md on a small scale: bots with a known logit rationality play the lab
(oTree's bots), the export is fitted, and the fit recovers the rationality within three standard
errors. Skipped without oTree."""

from __future__ import annotations

import csv
import importlib.util
import sys

import pytest

from persuaders.envs.game import load_game
from tests.commands import ROOT

pytest.importorskip("otree")


def _pilot():
    spec = importlib.util.spec_from_file_location("lab_pilot", ROOT / "examples" / "lab_pilot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_fit_recovers_the_bots_rationality(tmp_path):
    pilot = _pilot()
    true = 10.0
    choices = pilot.play("noisy_advisors", tmp_path, participants=12, trials=8, rationality=true, seed=5)
    with choices.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 * 8
    fit, ll = pilot.fit_rationality(load_game("noisy_advisors"), rows)
    assert fit.stderr < 0.5 * true  # the data are informative about lambda
    assert abs(fit.rationality - true) < 3 * fit.stderr
    assert ll(fit.rationality) >= max(ll(true), ll(fit.rationality * 1.1), ll(fit.rationality / 1.1))
