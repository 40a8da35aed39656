"""Monte-Carlo payoffs of persuasion_v0 agree with the exact evaluator (within 4 standard errors)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from persuaders.envs import persuasion_v0
from persuaders.envs.game import load_game
from persuaders.envs.payoff import evaluate

EPISODES = 1500

# (game, schemes per speaker [R, X, M]) with informative, noisy schemes.
CASES = {
    "kg_logit": lambda g: [np.array([[[0.6, 0.4], [0.1, 0.9]]])],
    "hull_pair": lambda g: [np.array([[[0.8, 0.2], [0.3, 0.7]]]), np.array([[[0.5, 0.5], [0.9, 0.1]]])],
    "kg_witness": lambda g: [np.array([[[0.7, 0.3], [0.2, 0.8]], [[0.5, 0.5], [0.1, 0.9]]])],
    "hull_pair_private": lambda g: [np.array([[[0.8, 0.2], [0.3, 0.7]]] * 2), np.array([[[0.6, 0.4], [0.2, 0.8]]] * 2)],
    "noisy_advisors": lambda g: [
        np.full((1, 2, 3), 1 / 3) * 0.5 + 0.5 * np.eye(3)[:2][None],
        np.array([[[0.6, 0.3, 0.1], [0.2, 0.6, 0.2], [0.1, 0.2, 0.7]]]),
    ],
}

# best_ai walks every thread node of every episode: the slow half of the suite's Monte-Carlo checks
SETTINGS = [
    ("simultaneous", "exact"),
    pytest.param("best_ai", "exact", marks=pytest.mark.slow),
    pytest.param("best_ai", 3, marks=pytest.mark.slow),
]


def run_episodes(game_name, schemes, protocol, n_eval, reward_mode, seed):
    env = persuasion_v0.parallel_env(game=game_name, protocol=protocol, n_eval=n_eval, reward_mode=reward_mode)
    names = env.possible_agents
    logits = [np.log(np.maximum(s, 1e-300)).clip(-30) for s in schemes]
    totals = np.zeros((EPISODES, len(names)))
    user = np.zeros(EPISODES)
    for e in range(EPISODES):
        obs, _ = env.reset(seed=seed + e)
        while env.agents:  # round t's scheme at every step of round t (best_ai: every thread node of it)
            t = int(env.layout.round_of(obs[names[0]][None])[0])
            obs, rewards, _, _, infos = env.step({n: logits[i][t] for i, n in enumerate(names)})
            totals[e] += [rewards[n] for n in names]
        user[e] = infos[names[0]]["user_expected_utility"]
    return totals, user


@pytest.mark.parametrize("reward_mode", ["sample", "expect_action", "expect_all"])
@pytest.mark.parametrize("protocol,n_eval", SETTINGS)
@pytest.mark.parametrize("game_name", list(CASES))
def test_monte_carlo_matches_exact(game_name, protocol, n_eval, reward_mode):
    game = load_game(game_name)
    schemes = CASES[game_name](game)
    exact = evaluate(game, schemes, protocol=protocol, n_eval=n_eval)
    totals, user = run_episodes(
        game_name,
        schemes,
        protocol,
        n_eval,
        reward_mode,
        seed=zlib.crc32(f"{game_name}/{protocol}/{n_eval}/{reward_mode}".encode()) % 100_000,
    )
    for i, name in enumerate(game.speaker_names):
        mean, se = totals[:, i].mean(), totals[:, i].std(ddof=1) / np.sqrt(EPISODES)
        assert abs(mean - exact.speaker_values[name]) <= 4 * se + 1e-9, (name, mean, exact.speaker_values[name], se)
    se_u = user.std(ddof=1) / np.sqrt(EPISODES)
    assert abs(user.mean() - exact.user_value) <= 4 * se_u + 1e-9, (user.mean(), exact.user_value, se_u)
