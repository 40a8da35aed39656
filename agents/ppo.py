"""Independent PPO for a speaker's signalling policy.

A speaker's action each round is its *scheme*: logits ``[X_i, M]`` whose softmax over messages
gives P(message | own signal). A scheme row has ``M - 1`` degrees of freedom (softmax ignores a
shift of the row), so the policy is a diagonal Gaussian over the identified log-ratios
``z[x, m] = logit[x, m] - logit[x, M-1]`` for ``m < M - 1``,

    z ~ N(mu_theta(obs), diag(sigma^2)),   logits = [z, 0],   log sigma a learned, state-independent vector,

with ``mu_theta`` an MLP of the speaker's observation. Dropping the shift direction removes
exploration noise and score-function variance that cannot change the scheme. Because the scheme is the action, the
user's reading of the messages is a function of the action and the ordinary policy gradient is
unbiased (DESIGN.md section 1). A Gaussian over logits is the standard continuous-control choice
(CleanRL, SB3); it reaches deterministic rows by moving the mean, and its exact value is scored at
the mean (``softmax(mu)``), the scheme the speaker commits to after training.

The update is PPO with clipping (Schulman et al. 2017): for each minibatch,

    ratio = exp(log pi(a|s) - log pi_old(a|s)),
    L_pi  = -E[min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A)],
    L_v   = 0.5 E[(V(s) - R)^2]   (optionally clipped like the ratio),
    L     = L_pi - c_ent * H[pi] + c_v L_v,

with advantages from generalised advantage estimation (``A_t = sum_l (gamma lam)^l delta_{t+l}``,
``delta_t = r_t + gamma V(s_{t+1}) - V(s_t)``), normalised per minibatch, and the global gradient
norm clipped. With ``n_agents > 1`` and parameter sharing, one network serves several speakers and
a one-hot speaker indicator is appended to the observation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn


@dataclass
class PPOConfig:
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

    def to_dict(self) -> dict:
        return asdict(self)


def _layer(n_in: int, n_out: int, std: float = np.sqrt(2), bias: float = 0.0) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias)
    return layer


def _mlp(n_in: int, hidden: list[int], n_out: int, out_std: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [_layer(n_in, h), nn.Tanh()]
        n_in = h
    layers.append(_layer(n_in, n_out, std=out_std))
    return nn.Sequential(*layers)


def to_logits(action: torch.Tensor, action_shape: tuple[int, int]) -> torch.Tensor:
    """Scheme logits ``[B, X, M]`` from flat log-ratio actions ``[B, X * (M - 1)]`` (last logit 0)."""
    x, m = action_shape
    z = action.reshape(action.shape[0], x, m - 1)
    return torch.cat([z, torch.zeros(action.shape[0], x, 1, dtype=z.dtype)], dim=-1)


class SchemeActorCritic(nn.Module):
    """Gaussian policy over a scheme's log-ratios ``[X, M - 1]`` and a state-value critic."""

    def __init__(self, obs_size: int, action_shape: tuple[int, int], hidden_sizes: list[int], init_log_std: float = 0.0):
        super().__init__()
        self.action_shape = tuple(action_shape)
        if self.action_shape[1] < 2:
            raise ValueError("a learning speaker needs messages >= 2 (with one message there is nothing to choose)")
        n_act = self.action_shape[0] * (self.action_shape[1] - 1)
        self.actor_mean = _mlp(obs_size, hidden_sizes, n_act, out_std=0.01)
        self.actor_logstd = nn.Parameter(torch.full((n_act,), float(init_log_std)))
        self.critic = _mlp(obs_size, hidden_sizes, 1, out_std=1.0)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        return self.critic(obs).squeeze(-1)

    def distribution(self, obs: torch.Tensor) -> torch.distributions.Normal:
        mean = self.actor_mean(obs)
        return torch.distributions.Normal(mean, self.actor_logstd.expand_as(mean).exp())

    def mean_logits(self, obs: torch.Tensor) -> torch.Tensor:
        """The committed scheme's logits ``[B, X, M]`` (the policy mean)."""
        return to_logits(self.actor_mean(obs), self.action_shape)


class PPOLearner:
    """One PPO learner: a :class:`SchemeActorCritic`, its optimiser and the PPO update.

    ``n_agents`` > 1 makes it a shared learner for that many speakers: observations are extended
    with a one-hot speaker indicator (``agent_ids`` tells which speaker each row belongs to).
    """

    def __init__(self, obs_size: int, action_shape: tuple[int, int], config: PPOConfig, n_agents: int = 1):
        self.config = config
        self.n_agents = n_agents
        self.model = SchemeActorCritic(obs_size + (n_agents if n_agents > 1 else 0), action_shape, config.hidden_sizes, config.init_log_std)
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=config.learning_rate, eps=1e-5)

    def _inputs(self, obs: torch.Tensor, agent_ids: torch.Tensor | None) -> torch.Tensor:
        if self.n_agents == 1:
            return obs
        return torch.cat([obs, nn.functional.one_hot(agent_ids, self.n_agents).to(obs.dtype)], dim=-1)

    @torch.no_grad()
    def act(self, obs: torch.Tensor, agent_ids: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample flat log-ratios; return (actions [B, X*(M-1)], log-probs [B], values [B])."""
        x = self._inputs(obs, agent_ids)
        dist = self.model.distribution(x)
        action = dist.sample()
        return action, dist.log_prob(action).sum(-1), self.model.value(x)

    @torch.no_grad()
    def value(self, obs: torch.Tensor, agent_ids: torch.Tensor | None = None) -> torch.Tensor:
        return self.model.value(self._inputs(obs, agent_ids))

    @torch.no_grad()
    def scheme(self, obs: np.ndarray, agent_id: int = 0) -> np.ndarray:
        """The committed scheme ``softmax(mean logits)`` ``[B, X, M]`` at a batch of observations."""
        o = torch.as_tensor(obs, dtype=torch.float32)
        ids = torch.full((o.shape[0],), agent_id, dtype=torch.long)
        return torch.softmax(self.model.mean_logits(self._inputs(o, ids)), dim=-1).double().numpy()

    def set_learning_rate(self, lr: float) -> None:
        for group in self.optimizer.param_groups:
            group["lr"] = lr

    def update(
        self,
        obs: torch.Tensor,
        actions: torch.Tensor,
        logprobs: torch.Tensor,
        advantages: torch.Tensor,
        returns: torch.Tensor,
        values: torch.Tensor,
        agent_ids: torch.Tensor | None,
        generator: torch.Generator,
    ) -> dict[str, float]:
        """PPO epochs over a flat batch; returns the last epoch's loss statistics."""
        cfg = self.config
        n = obs.shape[0]
        mb = max(1, n // cfg.num_minibatches)
        clipfracs: list[float] = []
        stats: dict[str, float] = {}
        for _ in range(cfg.update_epochs):
            order = torch.randperm(n, generator=generator)
            for start in range(0, n, mb):
                idx = order[start : start + mb]
                x = self._inputs(obs[idx], None if agent_ids is None else agent_ids[idx])
                dist = self.model.distribution(x)
                new_logprob = dist.log_prob(actions[idx]).sum(-1)
                entropy = dist.entropy().sum(-1)
                log_ratio = new_logprob - logprobs[idx]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()
                    clipfracs.append(((ratio - 1.0).abs() > cfg.clip_coef).float().mean().item())
                adv = advantages[idx]
                if cfg.norm_adv and len(idx) > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio, -adv * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)).mean()
                new_value = self.model.value(x)
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
        stats.update(
            policy_loss=pg_loss.item(), value_loss=v_loss.item(), entropy=ent.item(), approx_kl=approx_kl.item(),
            clipfrac=float(np.mean(clipfracs)), explained_variance=explained,
            log_std=self.model.actor_logstd.mean().item(),
        )
        return stats

    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])


def gae(rewards: torch.Tensor, values: torch.Tensor, dones: torch.Tensor, last_value: torch.Tensor, gamma: float, lam: float) -> tuple[torch.Tensor, torch.Tensor]:
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
