"""The environments act on a non-Bayesian user's perceived belief: Monte-Carlo payoffs agree with
the exact evaluator (within 4 standard errors; docs/science.md, "Non-Bayesian users")."""

from __future__ import annotations

import numpy as np
import pytest

from persuaders.envs.game import GretherUser, ShrinkageUser, load_game
from persuaders.envs.payoff import evaluate
from tests.envs.test_env_montecarlo import EPISODES, run_episodes

CASES = [
    ("kg_witness", GretherUser(6.0, 0.5, 1.8), [np.array([[[0.7, 0.3], [0.2, 0.8]], [[0.5, 0.5], [0.1, 0.9]]])]),
    (
        "hull_pair",
        ShrinkageUser(8.0, 0.3),
        [np.array([[[0.8, 0.2], [0.3, 0.7]]]), np.array([[[0.5, 0.5], [0.9, 0.1]]])],
    ),
    ("kg_logit", GretherUser(float("inf"), 0.4, 0.7), [np.array([[[0.6, 0.4], [0.1, 0.9]]])]),
]


@pytest.mark.parametrize("reward_mode", ["sample", "expect_all"])
@pytest.mark.parametrize(("name", "model", "schemes"), CASES, ids=[c[0] for c in CASES])
def test_monte_carlo_matches_exact_for_non_bayesian_users(name, model, schemes, reward_mode):
    game = load_game(name).replace(user_model=model)
    exact = evaluate(game, schemes)
    bayes = evaluate(load_game(name), schemes)
    totals, user = run_episodes(game, schemes, "simultaneous", "exact", reward_mode, seed=123)
    for i, n in enumerate(game.speaker_names):
        mean, se = totals[:, i].mean(), totals[:, i].std(ddof=1) / np.sqrt(EPISODES)
        assert abs(mean - exact.speaker_values[n]) <= 4 * se + 1e-9, (n, mean, exact.speaker_values[n], se)
    se_u = user.std(ddof=1) / np.sqrt(EPISODES)
    assert abs(user.mean() - exact.user_value) <= 4 * se_u + 1e-9
    # and the perceived belief matters here: the Bayesian user's exact payoffs differ
    assert max(abs(exact.speaker_values[n] - bayes.speaker_values[n]) for n in game.speaker_names) > 1e-3


@pytest.mark.slow
def test_best_ai_threads_use_the_perceived_belief():
    name, model, schemes = CASES[1]
    game = load_game(name).replace(user_model=model)
    exact = evaluate(game, schemes, protocol="best_ai")
    totals, user = run_episodes(game, schemes, "best_ai", "exact", "expect_all", seed=7)
    for i, n in enumerate(game.speaker_names):
        mean, se = totals[:, i].mean(), totals[:, i].std(ddof=1) / np.sqrt(EPISODES)
        assert abs(mean - exact.speaker_values[n]) <= 4 * se + 1e-9
    assert abs(user.mean() - exact.user_value) <= 4 * user.std(ddof=1) / np.sqrt(EPISODES) + 1e-9
