"""The learners of one training run: which learner plays each speaker, built from the config."""

from __future__ import annotations

from typing import Any

import torch

from persuaders.agents.base import Learner, LearnerSpec
from persuaders.envs.game.users import UserModel
from persuaders.envs.persuasion.batched import BatchedPersuasionEnv
from persuaders.train.config import RunConfig

__all__ = ["Team"]


class Team:
    """Every speaker's learner (:mod:`persuaders.agents`), as the config says
    (:meth:`~persuaders.train.config.RunConfig.speaker_learner`).

    Speakers with the same shareable learner share one instance when ``share_parameters`` is set;
    otherwise each speaker has its own. Learners are built in speaker order, so that a seed fixes
    their initial parameters. ``generator`` (minibatch shuffling) is shared by all of them.
    """

    def __init__(self, cfg: RunConfig, env: BatchedPersuasionEnv, generator: torch.Generator):
        game = self.game = cfg.resolved_game
        plays = [cfg.speaker_learner(s.name) for s in game.speakers]
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(plays):
            key = p.name if (cfg.share_parameters and p.cls.shareable) else f"{p.name}#{i}"
            groups.setdefault(key, []).append(i)
        built: dict[str, Learner] = {}
        self.by_speaker: list[Learner] = []
        for i, p in enumerate(plays):
            key = next(k for k, members in groups.items() if i in members)
            if key not in built:
                members = tuple(groups[key])
                spec = LearnerSpec(
                    game=game,
                    speakers=members,
                    obs_size=env.obs_size,
                    action_shape=env.action_shape,
                    state_size=env.state_size,
                    n_envs=env.n_envs,
                    protocol=env.protocol,
                    options=p.options,
                    generator=generator,
                )
                built[key] = p.cls(spec, p.hyperparameters)
            self.by_speaker.append(built[key])
        self.learners: list[Learner] = list(built.values())
        for learner in self.learners:
            learner.attach(self.profile)

    @property
    def learning(self) -> list[Learner]:
        """The learners that update (fixed speakers excluded), in creation order."""
        return [lr for lr in self.learners if lr.learns]

    def uses_state(self) -> bool:
        return any(lr.uses_state for lr in self.learners)

    def profile(self) -> dict[str, Any]:
        """Each speaker's committed rule: a fixed ``[R, X_i, M]`` scheme, or its learner's scheme
        as a function of the observation (what :func:`persuaders.envs.payoff.evaluate` scores)."""
        out: dict[str, Any] = {}
        for i, s in enumerate(self.game.speakers):
            learner = self.by_speaker[i]
            fixed = learner.commitment(i)
            if fixed is not None:
                out[s.name] = fixed
            else:
                out[s.name] = lambda obs, learner=learner, i=i, x=s.n_signals: learner.scheme(obs, i)[:, :x, :]
        return out

    def set_progress(self, fraction: float) -> None:
        for learner in self.learners:
            learner.set_progress(fraction)

    def set_user_model(self, model: UserModel | None) -> None:
        for learner in self.learners:
            learner.set_user_model(model)

    def state_dict(self) -> list[dict[str, Any]]:
        return [learner.state_dict() for learner in self.learners]

    def load_state_dict(self, states: list[dict[str, Any]]) -> None:
        if len(states) != len(self.learners):
            raise ValueError(f"the checkpoint holds {len(states)} learners, this run has {len(self.learners)}")
        for learner, state in zip(self.learners, states, strict=True):
            learner.load_state_dict(state)
