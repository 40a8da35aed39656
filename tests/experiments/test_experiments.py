"""The competition experiment's pipeline on a tiny configuration, checked against the theory."""

from __future__ import annotations

import functools
import json

import pytest
import yaml

from persuaders.cli.experiment import main as experiment_main
from persuaders.envs.game.validation import SpecError
from persuaders.eval.experiments.competition import load_competition_config


@pytest.fixture
def run_experiments(cli):
    """``persuaders-experiment ARGS`` in this process from the repository root, output captured."""
    return functools.partial(cli, experiment_main)


def test_competition_pipeline_tiny(tmp_path, run_experiments):
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"k_values": [1, 2, 3], "games": 3, "workers": 1}))
    out = tmp_path / "out"
    res = run_experiments(
        "competition", "--config", str(cfg), "--games", "4", "--seed", "5", "--out", str(out), "--no-progress"
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads((out / "results.json").read_text())
    assert {(r["regime"], r["k"]) for r in rows} == {(g, k) for g in ("inside", "outside") for k in (1, 2, 3)}
    for r in rows:
        for key in ("regime", "k", "n_games", "converged_fraction", "mean_normalized_user_utility", "ci95"):
            assert key in r
        assert r["n_games"] == 4
    games = json.loads((out / "games.json").read_text())
    for g in games:
        # The best-AI bound (docs/science.md, "The best-AI bound"): with eps = 0, a converged outcome gives the user
        # her full-information value; with k = 1 inside the hull the speaker is the user (w = 1).
        if g["regime"] == "inside" and g["converged"]:
            assert g["user_value"] >= g["full_information"] - 1e-6
        if g["converged"] and g["best_ai_bound"] is not None:
            assert g["user_value"] >= g["best_ai_bound"] - 1e-6
    assert (out / "results.csv").read_text().startswith("regime,k,n_games")
    assert (out / "competition.png").read_bytes()[:4] == b"\x89PNG"


def test_competition_config_errors():
    with pytest.raises(SpecError, match=r"^colour: unknown key"):
        load_competition_config(None, {"colour": 1})
    with pytest.raises(SpecError, match=r"^regimes"):
        load_competition_config(None, {"regimes": ["sideways"]})
    with pytest.raises(SpecError, match=r"^games: must be >= 1"):
        load_competition_config(None, {"games": 0})


def test_experiments_entry_point_lists_and_rejects(run_experiments):
    res = run_experiments("sideways")
    assert res.returncode == 2 and "competition" in res.stderr and "hull" in res.stderr
    assert "Traceback" not in res.stderr


@pytest.mark.slow
def test_competition_across_rounds_and_states(tmp_path, run_experiments):
    """``--rounds 1 2 --states 2 3``: rows per (rounds, states, regime, k) carrying ``rounds`` and
    ``states``; with 2 messages a converged outcome inside the hull gives the user her
    full-information value wherever M^R >= |Y| (the best-AI bound, eps = 0)."""
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({"k_values": [2], "games": 1, "workers": 1, "messages": 2}))
    out = tmp_path / "out"
    rounds_states = ("--rounds", "1", "2", "--states", "2", "3")
    res = run_experiments("competition", "--config", str(cfg), *rounds_states, "--out", str(out), "--no-progress")
    assert res.returncode == 0, res.stderr
    rows = json.loads((out / "results.json").read_text())
    assert {(r["rounds"], r["states"], r["regime"]) for r in rows} == {
        (n, s, g) for n in (1, 2) for s in (2, 3) for g in ("inside", "outside")
    }
    for g in json.loads((out / "games.json").read_text()):
        if g["regime"] == "inside" and g["converged"] and 2 ** g["rounds"] >= g["states"]:
            assert g["user_value"] >= g["full_information"] - 1e-6
    assert (out / "competition_rounds.png").read_bytes()[:4] == b"\x89PNG"
