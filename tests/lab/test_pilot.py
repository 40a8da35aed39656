"""The pilot of docs/lab.md on a small scale: bots with a known logit rationality play the lab
(oTree's bots), the export is fitted, and the fit recovers the rationality: the pilot's own
maximum likelihood, and ``persuaders-fit`` (docs/fitting.md) reading the export as its choice
data. Skipped without oTree."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys

import pytest

from persuaders.envs.game import load_game
from tests.commands import ROOT

pytest.importorskip("otree")

TRUE = 10.0
PARTICIPANTS, TRIALS = 12, 8


def _pilot():
    spec = importlib.util.spec_from_file_location("lab_pilot", ROOT / "examples" / "lab_pilot.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    """The bots' session on noisy_advisors (full revelation of the noisy signals) and its export."""
    pilot = _pilot()
    choices = pilot.play("noisy_advisors", tmp_path_factory.mktemp("pilot"), PARTICIPANTS, TRIALS, TRUE, seed=5)
    with choices.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return pilot, choices, rows


@pytest.mark.slow
def test_the_fit_recovers_the_bots_rationality(played):
    pilot, _, rows = played
    assert len(rows) == PARTICIPANTS * TRIALS
    fit, ll = pilot.fit_rationality(load_game("noisy_advisors"), rows)
    assert fit.stderr < 0.5 * TRUE  # the data are informative about lambda
    assert abs(fit.rationality - TRUE) < 3 * fit.stderr
    assert ll(fit.rationality) >= max(ll(TRUE), ll(fit.rationality * 1.1), ll(fit.rationality / 1.1))


@pytest.mark.slow
def test_persuaders_fit_reads_the_export(played, capsys):
    fit_cli = pytest.importorskip("persuaders.cli.fit")
    _, choices, _ = played
    capsys.readouterr()
    assert fit_cli.main([str(choices), "--game", "noisy_advisors", "--models", "logit", "--json"]) == 0
    logit = json.loads(capsys.readouterr().out)["models"]["logit"]
    lo, hi = logit["ci"]["rationality"]
    assert lo <= TRUE <= hi and hi - lo < TRUE
