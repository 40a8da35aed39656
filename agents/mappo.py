"""MAPPO: PPO with a centralised critic on the global state (``learner: mappo``).

Yu et al. 2022 ("The Surprising Effectiveness of PPO in Cooperative Multi-Agent Games"): each
actor acts on its own observation, exactly as in :mod:`persuaders.agents.ppo`, but the critic
that gives the advantages sees the environment's global state ``s`` (the true state, every
party's signal and the public record: :meth:`~persuaders.envs.persuasion.batched.BatchedPersuasionEnv.state`),
which is available in training though no speaker holds it when it acts:

    A_t = GAE(r_t + gamma V(s_{t+1}) - V(s_t)),   V: state -> expected return of the speaker.

A better baseline lowers the variance of the policy gradient; the actor's update is PPO's. The
speakers here are misaligned, so each has its own value: with parameter sharing the critic also
sees the speaker's one-hot id. Hyperparameters are PPO's (under ``mappo:`` in a config).
"""

from __future__ import annotations

import torch
from torch import nn

from persuaders.agents.base import LearnerSpec, register_learner
from persuaders.agents.ppo import PPOConfig, PPOLearner, SchemeActorCritic

__all__ = ["MAPPOLearner"]


@register_learner
class MAPPOLearner(PPOLearner):
    """PPO whose critic is ``V(global state [, speaker id])`` (see the module docstring)."""

    name = "mappo"
    config_class = PPOConfig
    uses_state = True

    def build_model(self, input_size: int, spec: LearnerSpec) -> SchemeActorCritic:
        extra = len(spec.speakers) if len(spec.speakers) > 1 else 0
        return SchemeActorCritic(
            input_size,
            spec.action_shape,
            self.config.hidden_sizes,
            self.config.init_log_std,
            critic_size=spec.state_size + extra,
        )

    def critic_inputs(self, obs: torch.Tensor, state: torch.Tensor | None, speaker: int | torch.Tensor) -> torch.Tensor:
        if state is None:
            raise ValueError("learner 'mappo' needs the global state in its rollouts")
        if self.n_agents == 1:
            return state
        ids = (
            speaker
            if isinstance(speaker, torch.Tensor)
            else torch.full((state.shape[0],), self.slot[speaker], dtype=torch.long)
        )
        return torch.cat([state, nn.functional.one_hot(ids, self.n_agents).to(state.dtype)], dim=-1)
