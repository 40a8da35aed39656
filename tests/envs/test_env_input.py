"""The environments refuse seeds out of range and complex actions with a named error (docs/trust.md)."""

from __future__ import annotations

import numpy as np
import pytest

from persuaders.envs import persuasion_v0
from persuaders.envs.game import SpecError
from persuaders.envs.game.validation import MAX_SEED
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from persuaders.envs.persuasion.single_speaker import SingleSpeakerEnv


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 1.5])
def test_seeds_out_of_range_are_named(seed):
    env = persuasion_v0.parallel_env("kg")
    with pytest.raises(SpecError, match=r"^seed: "):
        env.reset(seed=seed)
    with pytest.raises(SpecError, match=r"^seed: "):
        BatchedPersuasionEnv("kg", 4).reset(seed=seed)
    obs, _ = env.reset(seed=MAX_SEED)  # the largest seed is accepted
    assert set(obs) == set(env.agents)


def test_complex_actions_are_refused_not_truncated():
    env = persuasion_v0.parallel_env("kg")
    env.reset(seed=0)
    actions = {a: np.zeros(env.action_space(a).shape) + 1e-3j for a in env.agents}
    with pytest.raises(SpecError, match=r"^speaker 'prosecutor': action: expected real numbers, got complex values$"):
        env.step(actions)
    env.step({a: np.zeros(env.action_space(a).shape) for a in env.agents})  # real actions still step


def test_complex_actions_of_the_single_speaker_view_are_refused():
    game = "kg"
    env = SingleSpeakerEnv(game, "prosecutor")
    env.reset(seed=0)
    with pytest.raises(SpecError, match=r"^action of speaker 'prosecutor': expected real numbers"):
        env.step(np.zeros(env.action_space.shape) + 1j)
