"""Independent PPO for a speaker's signalling policy (``learner: ppo``).

A speaker's action each round is its *scheme*: logits ``[X_i, M]`` whose softmax over messages
gives P(message | own signal). A scheme row has ``M - 1`` degrees of freedom (softmax ignores a
shift of the row), so the policy is a diagonal Gaussian over the identified log-ratios
``z[x, m] = logit[x, m] - logit[x, M-1]`` for ``m < M - 1``,

    z ~ N(mu_theta(obs), diag(sigma^2)),   logits = [z, 0],   log sigma a learned, state-independent vector,

with ``mu_theta`` an MLP of the speaker's observation. Dropping the shift direction removes
exploration noise and score-function variance that cannot change the scheme. Because the scheme
is the action, the user's reading of the messages is a function of the action and the ordinary
policy gradient is unbiased (docs/science.md, "One episode"). The committed scheme is the mean,
``softmax([mu, 0])``, which is what the exact evaluator scores.

The update is PPO with clipping (Schulman et al. 2017): for each minibatch,

    ratio = exp(log pi(a|s) - log pi_old(a|s)),
    L_pi  = -E[min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)],
    L_v   = 0.5 E[(V(s) - R)^2]   (optionally clipped like the ratio),
    L     = L_pi - c_ent * H[pi] + c_v L_v,

with advantages from generalised advantage estimation (``A_t = sum_l (gamma lam)^l delta_{t+l}``,
``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)``), normalised per minibatch, and the global gradient
norm clipped. With parameter sharing (``share_parameters: true``) one network serves several
speakers and a one-hot speaker indicator is appended to the observation.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from persuaders.agents.base import Learner, LearnerConfig, LearnerSpec, Rollout, register_learner
from persuaders.envs.game.validation import SpecError, as_float, as_int

__all__ = ["PPOConfig", "SchemeActorCritic", "PPOLearner", "gae", "to_logits", "layer_init"]


@dataclass
class PPOConfig(LearnerConfig):
    """PPO hyperparameters (CleanRL's names). Defaults tuned on kg_logit with 1024 parallel episodes."""

    learning_rate: float = 5e-3
    anneal_lr: bool = True
    gamma: float = 1.0
    gae_lambda: float = 0.95
    update_epochs: int = 2
    num_minibatches: int = 2
    clip_coef: float = 0.2
    clip_vloss: bool = False
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    norm_adv: bool = True
    target_kl: float | None = None
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    init_log_std: float = 0.0
    #: When set, the policy's log standard deviation is annealed linearly to this value from the
    #: fraction ``log_std_anneal_start`` of training on (learned before it): exploration noise then
    #: vanishes and the mean, the committed scheme, settles precisely (e.g. at the edge of a best
    #: responder's indifference, where the optimum sits).
    final_log_std: float | None = None
    log_std_anneal_start: float = 0.0

    def check(self, where: str) -> None:
        f = f"{where}."
        as_float(self.learning_rate, f + "learning_rate", exclusive_minimum=0.0)
        as_float(self.gamma, f + "gamma", minimum=0.0, maximum=1.0)
        as_float(self.gae_lambda, f + "gae_lambda", minimum=0.0, maximum=1.0)
        as_int(self.update_epochs, f + "update_epochs", minimum=1)
        as_int(self.num_minibatches, f + "num_minibatches", minimum=1)
        as_float(self.clip_coef, f + "clip_coef", exclusive_minimum=0.0)
        as_float(self.ent_coef, f + "ent_coef")
        as_float(self.vf_coef, f + "vf_coef", minimum=0.0)
        as_float(self.max_grad_norm, f + "max_grad_norm", exclusive_minimum=0.0)
        as_float(self.init_log_std, f + "init_log_std")
        if self.final_log_std is not None:
            as_float(self.final_log_std, f + "final_log_std")
        as_float(self.log_std_anneal_start, f + "log_std_anneal_start", minimum=0.0, maximum=1.0)
        if self.target_kl is not None:
            as_float(self.target_kl, f + "target_kl", exclusive_minimum=0.0)
        if not self.hidden_sizes or any(h <= 0 for h in self.hidden_sizes):
            raise SpecError(
                f + "hidden_sizes", f"expected a non-empty list of positive integers, got {self.hidden_sizes!r}"
            )


def layer_init(n_in: int, n_out: int, std: float = float(np.sqrt(2)), bias: float = 0.0) -> nn.Linear:
    """A linear layer with orthogonal weights of gain ``std`` (CleanRL's initialisation)."""
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def mlp(n_in: int, hidden: list[int], n_out: int, out_std: float) -> nn.Sequential:
    """A tanh MLP with orthogonal initialisation; the output layer's gain is ``out_std``."""
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [layer_init(n_in, h), nn.Tanh()]
        n_in = h
    layers.append(layer_init(n_in, n_out, std=out_std))
    return nn.Sequential(*layers)


def to_logits(action: torch.Tensor, action_shape: tuple[int, int]) -> torch.Tensor:
    """Scheme logits ``[B, X, M]`` from flat log-ratio actions ``[B, X * (M - 1)]`` (last logit 0)."""
    x, m = action_shape
    z = action.reshape(action.shape[0], x, m - 1)
    return torch.cat([z, torch.zeros(action.shape[0], x, 1, dtype=z.dtype)], dim=-1)


class SchemeActorCritic(nn.Module):
    """Gaussian policy over a scheme's log-ratios ``[X, M - 1]`` and a state-value critic."""

    def __init__(
        self,
        obs_size: int,
        action_shape: tuple[int, int],
        hidden_sizes: list[int],
        init_log_std: float = 0.0,
        critic_size: int | None = None,
    ):
        super().__init__()
        self.action_shape = (int(action_shape[0]), int(action_shape[1]))
        if self.action_shape[1] < 2:
            raise ValueError("a learning speaker needs messages >= 2 (with one message there is nothing to choose)")
        n_act = self.action_shape[0] * (self.action_shape[1] - 1)
        self.actor_mean = mlp(obs_size, hidden_sizes, n_act, out_std=0.01)
        self.actor_logstd = nn.Parameter(torch.full((n_act,), float(init_log_std)))
        self.critic = mlp(obs_size if critic_size is None else critic_size, hidden_sizes, 1, out_std=1.0)

    def value(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.critic(x).squeeze(-1)
        return out

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        mean = self.actor_mean(obs)
        return torch.distributions.Normal(mean, self.actor_logstd.expand_as(mean).exp())

    def mean_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """The committed scheme's logits ``[B, X, M]`` (the policy mean)."""
        return to_logits(self.actor_mean(obs), self.action_shape)


def gae(
    rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation over a rollout ``[T, B]``.

    ``dones[t]`` marks that the episode ended *at* step t (no bootstrap from ``t + 1``).
    Returns (advantages, returns = advantages + values).
    """
    T = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = torch.zeros_like(last_value)
    for t in reversed(range(T)):
        next_value = last_value if t == T - 1 else values[t + 1]
        nonterminal = 1.0 - dones[t]
        delta = rewards[t] + gamma * next_value * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv, adv + values


@register_learner
class PPOLearner(Learner):
    """Independent PPO (see the module docstring); shareable between speakers with an id one-hot."""

    name = "ppo"
    config_class = PPOConfig
    shareable = True
    config: PPOConfig

    def __init__(self, spec: LearnerSpec, config: PPOConfig):
        super().__init__(spec, config)
        self.n_agents = len(spec.speakers)
        self.slot = {i: j for j, i in enumerate(spec.speakers)}
        extra = self.n_agents if self.n_agents > 1 else 0
        self.model = self.build_model(spec.obs_size + extra, spec)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate, eps=1e-5)
        self.anneal_from: float | None = None  # the learned log std when its annealing began

    def build_model(self, input_size: int, spec: LearnerSpec) -> SchemeActorCritic:
        """The actor-critic network (a subclass may give the critic other inputs)."""
        return SchemeActorCritic(input_size, spec.action_shape, self.config.hidden_sizes, self.config.init_log_std)

    # ------------------------------------------------------------------ inputs
    def inputs(self, obs: torch.Tensor, speaker: int | torch.Tensor) -> torch.Tensor:
        """The network input: the observation, with a one-hot speaker id when parameters are shared."""
        if self.n_agents == 1:
            return obs
        if isinstance(speaker, torch.Tensor):
            ids = speaker
        else:
            ids = torch.full((obs.shape[0],), self.slot[speaker], dtype=torch.long)
        return torch.cat([obs, nn.functional.one_hot(ids, self.n_agents).to(obs.dtype)], dim=-1)

    def critic_inputs(self, obs: torch.Tensor, state: torch.Tensor | None, speaker: int | torch.Tensor) -> torch.Tensor:
        """What the critic sees (independent PPO: the same as the actor)."""
        return self.inputs(obs, speaker)

    # ------------------------------------------------------------------ acting
    @torch.no_grad()
    def act(
        self, obs: torch.Tensor, speaker: int, state: torch.Tensor | None = None
    ) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        x = self.inputs(obs, speaker)
        dist = self.model.distribution(x)
        action = dist.sample()  # type: ignore[no-untyped-call]  # torch.distributions is unannotated
        value = self.model.value(self.critic_inputs(obs, state, speaker))
        logits = to_logits(action, self.spec.action_shape).double().numpy()
        logprob = dist.log_prob(action).sum(-1)  # type: ignore[no-untyped-call]  # torch.distributions is unannotated
        return logits, {"action": action, "logprob": logprob, "value": value}

    @torch.no_grad()
    def scheme(self, obs: np.ndarray, speaker: int) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32)
        return torch.softmax(self.model.mean_logits(self.inputs(o, speaker)), dim=-1).double().numpy()

    def set_progress(self, fraction: float) -> None:
        cfg = self.config
        if cfg.anneal_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = cfg.learning_rate * (1.0 - fraction)
        if cfg.final_log_std is not None and fraction >= cfg.log_std_anneal_start:
            std = self.model.actor_logstd
            if self.anneal_from is None:  # from now on the schedule sets it: no more learning
                self.anneal_from = float(std.detach().mean())
                std.requires_grad_(False)
            span = max(1.0 - cfg.log_std_anneal_start, 1e-12)
            x = (fraction - cfg.log_std_anneal_start) / span
            with torch.no_grad():
                std.fill_(self.anneal_from + (cfg.final_log_std - self.anneal_from) * x)

    # ------------------------------------------------------------------ learning
    def update(self, rollouts: list[Rollout]) -> dict[str, float]:
        """Advantages per speaker, then PPO epochs over the concatenated batch."""
        cfg = self.config
        parts: list[tuple[torch.Tensor, ...]] = []
        critic: list[torch.Tensor | None] = []  # the critic's state inputs, when it has them
        for r in rollouts:
            T, n = r.rewards.shape
            ids = torch.full((n,), self.slot[r.speaker], dtype=torch.long)
            with torch.no_grad():
                last_value = self.model.value(self.critic_inputs(r.next_obs, r.next_state, r.speaker))
            adv, ret = gae(r.rewards, r.extras["value"], r.dones, last_value, cfg.gamma, cfg.gae_lambda)
            critic.append(None if r.states is None else r.states.reshape(T * n, -1))
            parts.append(
                (
                    r.obs.reshape(T * n, -1),
                    r.extras["action"].reshape(T * n, -1),
                    r.extras["logprob"].reshape(-1),
                    adv.reshape(-1),
                    ret.reshape(-1),
                    r.extras["value"].reshape(-1),
                    ids.repeat(T),
                )
            )
        obs, actions, logprobs, advantages, returns, values, ids = (torch.cat([p[j] for p in parts]) for j in range(7))
        states = None if critic[0] is None else torch.cat([c for c in critic if c is not None])
        return self.ppo_epochs(obs, actions, logprobs, advantages, returns, values, ids, states)

    def ppo_epochs(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        logprobs: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        values: torch.Tensor,
        ids: torch.Tensor,
        states: torch.Tensor | None,
    ) -> dict[str, float]:
        """The clipped PPO update over a flat batch; returns the last epoch's loss statistics."""
        cfg = self.config
        n = obs.shape[0]
        mb = max(1, n // cfg.num_minibatches)
        clipfracs: list[float] = []
        for _ in range(cfg.update_epochs):
            order = torch.randperm(n, generator=self.spec.generator)
            for start in range(0, n, mb):
                idx = order[start : start + mb]
                x = self.inputs(obs[idx], ids[idx])
                dist = self.model.distribution(x)
                new_logprob = dist.log_prob(actions[idx]).sum(-1)  # type: ignore[no-untyped-call]  # (as in act)
                entropy = dist.entropy().sum(-1)  # type: ignore[no-untyped-call]
                log_ratio = new_logprob - logprobs[idx]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean().item())
                adv = advantages[idx]
                if cfg.norm_adv and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(
                    -adv * ratio, -adv * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
                ).mean()
                critic_x = x if states is None else self.critic_inputs(obs[idx], states[idx], ids[idx])
                new_value = self.model.value(critic_x)
                if cfg.clip_vloss:
                    v_clipped = values[idx] + torch.clamp(new_value - values[idx], -cfg.clip_coef, cfg.clip_coef)
                    v_loss = 0.5 * torch.max((new_value - returns[idx]) ** 2, (v_clipped - returns[idx]) ** 2).mean()
                else:
                    v_loss = 0.5 * ((new_value - returns[idx]) ** 2).mean()
                ent = entropy.mean()
                loss = pg_loss - cfg.ent_coef * ent + cfg.vf_coef * v_loss
                self.optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm)
                self.optimizer.step()
            if cfg.target_kl is not None and approx_kl > cfg.target_kl:
                break
        var_y = returns.var()
        explained = float("nan") if var_y == 0 else float(1 - (returns - values).var() / var_y)
        return {
            "policy_loss": pg_loss.item(),
            "value_loss": v_loss.item(),
            "entropy": ent.item(),
            "approx_kl": approx_kl.item(),
            "clipfrac": float(np.mean(clipfracs)),
            "explained_variance": explained,
            "log_std": self.model.actor_logstd.mean().item(),
        }

    def state_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "anneal_from": self.anneal_from,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.anneal_from = state.get("anneal_from")
        if self.anneal_from is not None:
            self.model.actor_logstd.requires_grad_(False)
