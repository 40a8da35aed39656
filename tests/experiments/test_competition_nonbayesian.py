"""The competition experiment with a non-Bayesian user (docs/science.md, "Non-Bayesian users")."""

from __future__ import annotations

import pytest

from persuaders.envs.game import GretherUser
from persuaders.envs.game.random_games import random_game
from persuaders.envs.game.validation import SpecError
from persuaders.eval.experiments.competition import game_seed, load_competition_config, one_game, user_model
from persuaders.eval.theory import competition_bound, full_information_value


def test_user_key_is_validated():
    cfg = load_competition_config(None, {"user": {"model": "grether", "alpha": 0.5, "beta": 1.0}})
    assert user_model(cfg) == GretherUser(float("inf"), 0.5, 1.0)
    with pytest.raises(SpecError, match=r"user\.alpha"):
        load_competition_config(None, {"user": {"model": "grether", "alpha": -1, "beta": 1.0}})
    with pytest.raises(SpecError, match="user"):
        load_competition_config(None, {"user": "grether"})


@pytest.mark.slow
def test_one_game_plays_her_and_records_both_bounds():
    user = {"model": "grether", "alpha": 1.0, "beta": 0.5}
    cfg = load_competition_config(None, {"protocol": "simultaneous", "user": user, "k_values": [2]})
    rec = one_game(("outside", 2, 0, cfg))
    assert rec["converged"] and rec["user_model"].startswith("grether")
    game = random_game(2, 2, 3, seed=rec["seed"], regime="outside", epsilon=0.25, messages=3)
    assert rec["seed"] == game_seed(0, "outside", 2, rec["redrawn"])
    # Grether perceives full revelation exactly: her full-information value and bound are the Bayesian's
    assert rec["own_full_information"] == pytest.approx(full_information_value(game), abs=1e-12)
    assert rec["bayes_bound"] == pytest.approx(competition_bound(game), abs=1e-12)
    # the competition bound holds for her too (the proof uses her response only at full revelation)
    assert rec["user_value"] >= rec["own_bound"] - 1e-6
