"""Gradient ascent of one speaker's exact payoff in its scheme logits: the routine shared by the
numerical best response and the exact-gradient learner.

Speaker ``i`` holds logits ``theta`` (``[R, X_i, M]``, or a batch ``[B, R, X_i, M]`` of starts);
its schemes are ``softmax(theta)`` and its objective is its exact expected utility on the torch
payoff (:class:`~persuaders.envs.payoff.differentiable.TorchPayoff`), the others' schemes fixed:

    theta <- theta + Adam( grad_theta  sum_{a,y} P_theta(a, y) U_i[a, y] ).

A best-responding user is discontinuous in the schemes, so a caller passes ``sharpness`` (her
argmax replaced by ``softmax(sharpness * EU)``) or another user model; ``transform`` maps the
outcome ``P(a, y)`` ``[B, A, Y]`` and the objective ``[B]`` to the quantity ascended (a penalty,
say). One Adam optimiser holds the state, so steps may be taken a few at a time (a learner's
iterations) or all at once (a search).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch

from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel
from persuaders.envs.payoff.differentiable import TorchPayoff

__all__ = ["SchemeAscent"]

#: ``transform(outcome [B, A, Y], objective [B]) -> ascended [B]``.
Transform = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class SchemeAscent:
    """Adam on speaker ``i``'s exact payoff (module docstring). ``talking`` are the speakers in the
    conversation (every speaker under a joint protocol, ``[i]`` for its solo thread)."""

    def __init__(self, game: Game, i: int, theta: torch.Tensor, lr: float, talking: Sequence[int] | None = None):
        self.game, self.i = game, i
        self.theta = theta
        self.optimizer = torch.optim.Adam([self.theta], lr=lr)
        self.payoff = TorchPayoff(game, range(game.n_speakers) if talking is None else talking)
        self.utility = torch.as_tensor(game.speakers[i].utility)

    def schemes(self) -> torch.Tensor:
        """``softmax(theta)`` (differentiable)."""
        return torch.softmax(self.theta, dim=-1)

    def outcome(
        self, others: Mapping[int, Any], model: UserModel | None = None, sharpness: float | None = None
    ) -> torch.Tensor:
        """``P(a, y)`` ``[B, A, Y]`` with the current schemes and the others' ``others``."""
        return self.payoff({**others, self.i: self.schemes()}, model=model, sharpness=sharpness)

    def objective(
        self,
        others: Mapping[int, Any],
        model: UserModel | None = None,
        sharpness: float | None = None,
        transform: Transform | None = None,
    ) -> torch.Tensor:
        """The ascended quantity ``[B]``: the expected utility, or its ``transform``."""
        out = self.outcome(others, model, sharpness)
        value = (out * self.utility).sum(dim=(1, 2))
        return value if transform is None else transform(out, value)

    def step(
        self,
        others: Mapping[int, Any],
        model: UserModel | None = None,
        sharpness: float | None = None,
        transform: Transform | None = None,
    ) -> torch.Tensor:
        """One Adam step up the objective (summed over the batch); returns the objective before the step."""
        value = self.objective(others, model, sharpness, transform)
        self.optimizer.zero_grad()
        (-value.sum()).backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
        self.optimizer.step()
        return value.detach()
