"""The torch twin of the exact payoff: ``P(a, y)`` differentiable in the speakers' schemes.

:class:`TorchPayoff` runs :class:`~persuaders.envs.payoff.engine.ExactEngine` on torch tensors
(float64) for open-loop schemes ``[B, R, X_i, M]``, so a gradient-based best response or learner
optimises the very quantity :func:`persuaders.envs.payoff.evaluate` scores. A best-responding user is
discontinuous in the schemes: ``sharpness`` replaces her argmax by ``softmax(sharpness * EU)``
while optimising (the result is then scored exactly, ties split evenly, with ``sharpness=None``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import torch

from persuaders.envs.game.protocols import Protocol, SelectionProtocol, resolve_protocol
from persuaders.envs.game.schemes import check_scheme
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel
from persuaders.envs.payoff.engine import ExactEngine

__all__ = ["TorchPayoff", "torch_outcome", "torch_evaluate"]


class TorchPayoff:
    """Differentiable ``P(a, y)`` ``[B, A, Y]`` when the speakers ``talking`` converse with the user.

    ``schemes[i]`` is ``[B or 1, R, X_i, M]`` (or ``[R, X_i, M]``) probabilities for each talking
    ``i``, as tensors or arrays; ``model`` overrides the game's user model; ``sharpness`` is passed
    to a discontinuous model's smooth surrogate.
    """

    def __init__(self, game: Game, talking: Sequence[int]):
        self.game = game
        self.talking = list(talking)
        self.engine = ExactEngine(game, self.talking, open_loop=True, backend="torch")

    def __call__(
        self, schemes: Mapping[int, Any], model: UserModel | None = None, sharpness: float | None = None
    ) -> torch.Tensor:
        tensors = []
        for i in self.talking:
            pi = torch.as_tensor(schemes[i], dtype=torch.float64)
            tensors.append(pi[None] if pi.dim() == 3 else pi)
        batch = max(int(p.shape[0]) for p in tensors)

        def source(pi: torch.Tensor) -> Callable[[int, Any, int], torch.Tensor]:
            return lambda t, observations, p: pi[:, t][:, None]

        out: torch.Tensor = self.engine.outcome(
            [source(p) for p in tensors], batch=batch, model=model, sharpness=sharpness
        )
        return out


def torch_outcome(
    game: Game, schemes: Mapping[int, Any], model: UserModel | None = None, sharpness: float | None = None
) -> torch.Tensor:
    """Differentiable ``P(a, y)`` ``[B, A, Y]`` when the speakers in ``schemes`` talk (see :class:`TorchPayoff`)."""
    return TorchPayoff(game, sorted(schemes))(schemes, model=model, sharpness=sharpness)


def torch_evaluate(
    game: Game, schemes: Sequence[Any], protocol: Protocol | str = "simultaneous", n_eval: int | str | None = None
) -> tuple[float, list[float]]:
    """Exact ``(user value, [speaker values])`` computed on the torch backend (ties split evenly).

    Matches :func:`persuaders.envs.payoff.evaluate` for open-loop schemes; a selection protocol uses the
    solo outcomes and its selection rule.
    """
    proto = resolve_protocol(protocol, n_eval)
    u = torch.as_tensor(game.user.utility)
    us = torch.as_tensor(game.speaker_utilities)
    sch = [check_scheme(game, i, s) for i, s in enumerate(schemes)]
    with torch.no_grad():
        if proto.joint:
            out = torch_outcome(game, dict(enumerate(sch)))[0]
        else:
            assert isinstance(proto, SelectionProtocol)
            solo = [torch_outcome(game, {i: sch[i]})[0] for i in range(game.n_speakers)]
            probs = proto.selection_probabilities(game.user.utility, np.stack([o.numpy() for o in solo]))
            out = sum((float(p) * o for p, o in zip(probs, solo, strict=True)), torch.zeros_like(solo[0]))
        return float((out * u).sum()), [float((out * us[j]).sum()) for j in range(game.n_speakers)]
