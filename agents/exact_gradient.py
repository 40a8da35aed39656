"""The exact-gradient reference learner (``learner: exact_gradient``).

Each speaker holds open-loop scheme logits ``theta[t, x, m]`` (one scheme per round) and climbs
its *exact* expected payoff, differentiated through the torch twin of the payoff engine
(:class:`~persuaders.envs.payoff.differentiable.TorchPayoff`), the other speakers' current schemes held
fixed:

    theta <- theta + Adam(grad_theta  sum_{a,y} P_theta(a, y) U_i[a, y]),   pi = softmax(theta).

The ascent is :class:`~persuaders.envs.payoff.ascent.SchemeAscent`, the routine the numerical best
response uses too. No episode is sampled for the gradient: this learner shows what the exact model allows, beside
the sampled learners (PPO, MAPPO). A best-responding user is discontinuous in the schemes, so it
is optimised through a smooth surrogate: the logit users of the config's rationality homotopy
(``rationality_schedule``) while it lasts, then ``softmax(sharpness * EU)`` (``sharpness``, default
1000), whose optimum lies on the safe side of her indifference, ``O(log(sharpness) / sharpness)``
from it; the step size is annealed to 0 so that the last steps cannot overshoot it.
Joint protocols (``simultaneous``); the other speakers' schemes are read as open-loop schemes
(their scheme at each round on the path where every earlier message was 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from persuaders.agents.base import Learner, LearnerConfig, LearnerSpec, Rollout, register_learner
from persuaders.envs.game.observations import ObservationLayout
from persuaders.envs.game.users import UserModel
from persuaders.envs.game.validation import SpecError, as_float, as_int
from persuaders.envs.payoff.ascent import SchemeAscent

__all__ = ["ExactGradientConfig", "ExactGradientLearner"]


@dataclass
class ExactGradientConfig(LearnerConfig):
    """Adam on the exact payoff: ``steps`` gradient steps per training iteration."""

    learning_rate: float = 0.05
    anneal_lr: bool = True
    steps: int = 4
    sharpness: float = 1000.0
    init_scale: float = 0.01

    def check(self, where: str) -> None:
        as_float(self.learning_rate, f"{where}.learning_rate", exclusive_minimum=0.0)
        as_int(self.steps, f"{where}.steps", minimum=1)
        as_float(self.sharpness, f"{where}.sharpness", exclusive_minimum=0.0)
        as_float(self.init_scale, f"{where}.init_scale", minimum=0.0)


@register_learner
class ExactGradientLearner(Learner):
    """Gradient ascent of the exact payoff (see the module docstring); one speaker per learner."""

    name = "exact_gradient"
    config_class = ExactGradientConfig
    config: ExactGradientConfig

    def __init__(self, spec: LearnerSpec, config: ExactGradientConfig):
        super().__init__(spec, config)
        if len(spec.speakers) != 1:
            raise SpecError("share_parameters", "learner 'exact_gradient' controls one speaker (no parameter sharing)")
        if not spec.protocol.joint:
            raise SpecError("protocol", f"learner 'exact_gradient' needs a joint protocol, not {spec.protocol.name}")
        g = spec.game
        self.i = spec.speakers[0]
        self.x_i = g.speakers[self.i].n_signals
        self.layout = ObservationLayout.for_game(g)
        theta = (config.init_scale * torch.randn(g.rounds, self.x_i, g.messages, dtype=torch.float64)).requires_grad_(
            True
        )
        self.ascent = SchemeAscent(g, self.i, theta, config.learning_rate)
        self.theta, self.optimizer = self.ascent.theta, self.ascent.optimizer
        self.user_model: UserModel | None = None  # None: the game's own user
        self.profile: Callable[[], dict[str, Any]] | None = None

    # ------------------------------------------------------------------ the interface
    def schemes(self) -> np.ndarray:
        """The committed schemes ``[R, X_i, M]``."""
        return torch.softmax(self.theta.detach(), dim=-1).numpy()

    def _padded(self, rounds: np.ndarray) -> np.ndarray:
        out = np.full((len(rounds), *self.spec.action_shape), 1.0 / self.spec.action_shape[1])
        out[:, : self.x_i] = self.schemes()[rounds]
        return out

    def act(
        self, obs: torch.Tensor, speaker: int, state: torch.Tensor | None = None
    ) -> tuple[np.ndarray, dict[str, torch.Tensor]]:
        rnd = self.layout.round_of(np.asarray(obs[:1]))
        logits = np.zeros((1, *self.spec.action_shape))
        logits[0, : self.x_i] = self.theta.detach().numpy()[rnd[0]]
        return np.broadcast_to(logits[0], (obs.shape[0], *logits.shape[1:])), {}

    def scheme(self, obs: np.ndarray, speaker: int) -> np.ndarray:
        return self._padded(self.layout.round_of(obs))

    def set_user_model(self, model: UserModel | None) -> None:
        self.user_model = model

    def set_progress(self, fraction: float) -> None:
        if self.config.anneal_lr:
            for group in self.optimizer.param_groups:
                group["lr"] = self.config.learning_rate * (1.0 - fraction)

    def update(self, rollouts: list[Rollout]) -> dict[str, float]:
        """``steps`` Adam steps on the exact payoff against the others' current schemes."""
        g = self.spec.game
        others = self._others()
        model = self.user_model if self.user_model is not None else g.user.model
        sharpness = self.config.sharpness if model.best_responder else None
        for _ in range(self.config.steps):
            value = self.ascent.step(others, model=model, sharpness=sharpness)
        return {"exact_value": float(value[0])}

    def _others(self) -> dict[int, torch.Tensor]:
        """The other speakers' current schemes as open-loop ``[R, X_j, M]`` tensors."""
        if self.profile is None:
            raise RuntimeError("learner 'exact_gradient' needs the team's profile (Team attaches it)")
        g = self.spec.game
        profile = self.profile()
        out = {}
        for j, s in enumerate(g.speakers):
            if j == self.i:
                continue
            scheme = profile[s.name]
            if callable(scheme):
                scheme = open_loop_schemes(g, self.layout, scheme)
            out[j] = torch.as_tensor(np.asarray(scheme, dtype=np.float64))
        return out

    def commitment(self, speaker: int) -> np.ndarray:
        return self.schemes()

    def attach(self, profile: Callable[[], dict[str, Any]]) -> None:
        self.profile = profile

    def state_dict(self) -> dict[str, Any]:
        return {"theta": self.theta.detach().clone(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        with torch.no_grad():
            self.theta.copy_(state["theta"])
        self.optimizer.load_state_dict(state["optimizer"])


def open_loop_schemes(game: Any, layout: ObservationLayout, scheme: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """A policy's scheme at each round ``[R, X, M]``, on the path where nobody has said anything but
    message 0 (the user included) and the belief is the prior: the open-loop reading of a policy."""
    rows = []
    for t in range(game.rounds):
        user = np.full((1, game.rounds), -1, dtype=np.int64)
        user[0, : t + 1] = 0
        heard = np.full((1, game.rounds, layout.n_heard), -1, dtype=np.int64)
        heard[0, :t] = 0
        obs = layout.encode(t, game.prior[None], user, heard)
        rows.append(np.asarray(scheme(obs))[0])
    return np.stack(rows)
