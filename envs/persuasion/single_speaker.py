"""A Gymnasium single-agent view of a persuasion game: one speaker learns, the others are fixed.

Misaligned speakers need separate policies, so instead of folding every speaker into one shared
policy (SuperSuit's route), this view lets one speaker learn with any single-agent library
(stable-baselines3 and others) while the others play fixed schemes or frozen trained policies.

The action is the learner's scheme logits, flattened and scaled to the symmetric box
``[-1, 1]^(X*M)`` that SB3 recommends: ``logits = logit_scale * action`` (``logit_scale`` = 10
reaches probabilities of ~2e-9). Each Gymnasium step is one round of the underlying
:mod:`persuaders.envs.persuasion.persuasion` episode; the reward is the learner's reward in it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.protocols import Protocol
from persuaders.envs.game.schemes import babbling_scheme, check_scheme, scheme_to_logits, softmax_rows
from persuaders.envs.game.spec import Game
from persuaders.envs.persuasion.persuasion import PersuasionEnv

OtherPolicy = np.ndarray | Callable[[np.ndarray], np.ndarray]


class SingleSpeakerEnv(gym.Env[np.ndarray, np.ndarray]):
    """One speaker (``speaker``) learns; every other speaker follows ``others[name]``.

    ``others`` maps names to a fixed scheme (``[X, M]`` or ``[R, X, M]`` probabilities) or a
    function from a batch of observations ``[B, D]`` to schemes ``[B, X, M]``; speakers left out
    babble (uniform messages).
    """

    metadata: dict[str, Any] = {"render_modes": ["ansi"]}  # noqa: RUF012  (gymnasium.Env declares it per instance)

    def __init__(
        self,
        game: Game | str,
        speaker: str,
        others: Mapping[str, OtherPolicy] | None = None,
        protocol: Protocol | str = "simultaneous",
        n_eval: int | str | None = None,
        reward_mode: str = "expect_action",
        logit_scale: float = 10.0,
        render_mode: str | None = None,
    ):
        self.game = load_game(game)
        self.speaker = speaker
        self.index = self.game.speaker_index(speaker)
        self.logit_scale = float(logit_scale)
        self.render_mode = render_mode
        self.par = PersuasionEnv(
            self.game, protocol=protocol, n_eval=n_eval, reward_mode=reward_mode, render_mode=render_mode
        )
        others = dict(others or {})
        unknown = [n for n in others if n not in self.game.speaker_names or n == speaker]
        if unknown:
            raise ValueError(f"others: {unknown[0]!r} is not another speaker of game '{self.game.name}'")
        self.others: dict[str, OtherPolicy] = {}
        for i, name in enumerate(self.game.speaker_names):
            if name == speaker:
                continue
            policy = others.get(name, babbling_scheme(self.game, i))
            self.others[name] = policy if callable(policy) else check_scheme(self.game, i, policy)
        x, m = self.game.speakers[self.index].n_signals, self.game.messages
        self.scheme_shape = (x, m)
        self.observation_space = self.par.observation_space(speaker)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (x * m,), dtype=np.float32)
        self._obs: dict[str, np.ndarray] = {}
        self._round = 0

    def _other_logits(self) -> dict[str, np.ndarray]:
        out = {}
        for name, policy in self.others.items():
            obs = self._obs[name][None]
            scheme = policy(obs)[0] if callable(policy) else policy[min(self._round, self.game.rounds - 1)]
            out[name] = scheme_to_logits(np.asarray(scheme, dtype=np.float64))
        return out

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._obs, infos = self.par.reset(seed=seed, options=options)
        self._round = 0
        return self._obs[self.speaker], infos[self.speaker]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = np.asarray(action, dtype=np.float64)
        if a.shape != self.action_space.shape or not np.all(np.isfinite(a)):
            raise ValueError(
                f"action of speaker '{self.speaker}': expected finite values of shape {self.action_space.shape}, "
                f"got {a.shape}"
            )
        actions = self._other_logits()
        actions[self.speaker] = (self.logit_scale * np.clip(a, -1.0, 1.0)).reshape(self.scheme_shape)
        obs, rewards, terms, truncs, infos = self.par.step(actions)
        self._round += 1
        self._obs = obs
        return (
            obs[self.speaker],
            float(rewards[self.speaker]),
            bool(terms[self.speaker]),
            bool(truncs[self.speaker]),
            infos[self.speaker],
        )

    def render(self) -> str | None:  # type: ignore[override]  # the ansi text, as gymnasium's ansi mode
        return self.par.render()

    def scheme_from_action(self, action: np.ndarray) -> np.ndarray:
        """The scheme ``[X, M]`` a (deterministic) action commits to."""
        return softmax_rows(
            self.logit_scale * np.clip(np.asarray(action, dtype=np.float64), -1, 1).reshape(self.scheme_shape)
        )
