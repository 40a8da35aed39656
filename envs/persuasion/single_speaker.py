"""A Gymnasium single-agent view of a persuasion game: one speaker learns, the others are fixed.

Misaligned speakers need separate policies, so instead of folding every speaker into one shared
policy (SuperSuit's route), this view lets one speaker learn with any single-agent library
(stable-baselines3 and others) while the others play fixed schemes or frozen trained policies.

The learner's observation and action are those of the PettingZoo environment
(:mod:`persuaders.envs.persuasion.persuasion`) made with the same options, so that a policy carries
over between the two: the action is the scheme logits in the ``[-LOGIT_BOUND, LOGIT_BOUND]`` box,
as a ``[X, M]`` matrix (``action_format="matrix"``, the default) or row by row
(``action_format="flat"``), and the observation carries the speaker's one-hot id under
``agent_id=True``. As there, logits beyond the box are legal. ``unit_box=True`` rescales the box to
the symmetric ``[-1, 1]`` that stable-baselines3 recommends, ``logits = LOGIT_BOUND * action``
(:mod:`persuaders.train.sb3` trains on it). Each Gymnasium step is one round of the underlying
episode; the reward is the learner's reward in it.
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
from persuaders.envs.game.validation import as_real_array
from persuaders.envs.persuasion.persuasion import LOGIT_BOUND, PersuasionEnv

OtherPolicy = np.ndarray | Callable[[np.ndarray], np.ndarray]


class SingleSpeakerEnv(gym.Env[np.ndarray, np.ndarray]):
    """One speaker (``speaker``) learns; every other speaker follows ``others[name]``.

    ``others`` maps names to a fixed scheme (``[X, M]`` or ``[R, X, M]`` probabilities) or a
    function from a batch of observations ``[B, D]`` to schemes ``[B, X, M]``, as
    :func:`persuaders.envs.payoff.evaluate` takes them (the observation without the id, whatever
    ``agent_id``); speakers left out babble (uniform messages). ``action_format`` and ``agent_id``
    are the PettingZoo environment's options (module docstring); ``unit_box`` rescales the action
    box to ``[-1, 1]``.
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
        action_format: str = "matrix",
        agent_id: bool = False,
        unit_box: bool = False,
        render_mode: str | None = None,
    ):
        if not isinstance(unit_box, bool):
            raise ValueError(f"unit_box: expected True or False, got {unit_box!r}")
        self.game = load_game(game)
        self.speaker = speaker
        self.index = self.game.speaker_index(speaker)
        self.render_mode = render_mode
        self.par = PersuasionEnv(
            self.game,
            protocol=protocol,
            n_eval=n_eval,
            reward_mode=reward_mode,
            render_mode=render_mode,
            action_format=action_format,
            agent_id=agent_id,
        )
        #: logits = action_scale * action: 1, or LOGIT_BOUND on the unit box
        self.action_scale = LOGIT_BOUND if unit_box else 1.0
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
        self.scheme_shape = (self.game.speakers[self.index].n_signals, self.game.messages)
        self.observation_space = self.par.observation_space(speaker)
        box = self.par.action_space(speaker)
        bound = LOGIT_BOUND / self.action_scale
        self.action_space = gym.spaces.Box(-bound, bound, box.shape, np.float32)
        self._layout_size = self.par.layout.size  # the observation without the id, as the others take it
        self._obs: dict[str, np.ndarray] = {}
        self._round = 0

    def _other_logits(self) -> dict[str, np.ndarray]:
        out = {}
        for name, policy in self.others.items():
            obs = self._obs[name][None, : self._layout_size]
            scheme = policy(obs)[0] if callable(policy) else policy[min(self._round, self.game.rounds - 1)]
            logits = scheme_to_logits(np.asarray(scheme, dtype=np.float64))
            out[name] = logits.reshape(-1) if self.par.action_format == "flat" else logits
        return out

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._obs, infos = self.par.reset(seed=seed, options=options)
        self._round = 0
        return self._obs[self.speaker], infos[self.speaker]

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        a = as_real_array(action, f"action of speaker '{self.speaker}'")
        if a.shape != self.action_space.shape or not np.all(np.isfinite(a)):
            raise ValueError(
                f"action of speaker '{self.speaker}': expected finite values of shape {self.action_space.shape}, "
                f"got {a.shape}"
            )
        actions = self._other_logits()
        actions[self.speaker] = self.action_scale * a
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
        """The scheme ``[X, M]`` an action commits to: the softmax of each signal's row of logits
        (``action_scale * action``, read as ``[X, M]``), as in the PettingZoo environment."""
        return softmax_rows(self.action_scale * np.asarray(action, dtype=np.float64).reshape(self.scheme_shape))
