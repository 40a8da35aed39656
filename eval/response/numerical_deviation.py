"""Numerical best responses: multi-start Adam on the differentiable exact payoff.

Where no exact method applies (several rounds, ``best_ai`` with a finite ``n_eval``, a user model
with no analytic solver), speaker ``i``'s best open-loop deviation is searched for on
:class:`~persuaders.envs.payoff.differentiable.TorchPayoff`, the torch twin of the exact payoff
(docs/science.md, "Exploitability"): its logits ``[R, X_i, M]`` are maximised by Adam
(:class:`~persuaders.envs.payoff.ascent.SchemeAscent`, the exact-gradient learner's routine) from
several starts in one batch (random, the current scheme, full revelation, babbling); the iterates
are scored exactly (argmax with ties split evenly for a best responder) at eleven checkpoints
along the way and the best is confirmed with :func:`persuaders.envs.payoff.evaluate`. The value is
achieved, so it is a lower bound of the best deviation (deviations are open-loop and the search
is local).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch

from persuaders.envs.game.protocols import (
    BestAI,
    Protocol,
    exact_selection,
    resolve_protocol,
)
from persuaders.envs.game.schemes import (
    babbling_scheme,
    check_scheme,
    full_revelation_scheme,
    scheme_to_logits,
)
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel
from persuaders.envs.payoff.ascent import SchemeAscent
from persuaders.envs.payoff.differentiable import TorchPayoff, torch_outcome
from persuaders.envs.payoff.exact import evaluate, solo_outcomes

__all__ = ["LAM_HARD", "torch_response_available", "numerical_best_response"]

#: Sharpness reached while optimising against a best-responding user (the result is scored exactly).
LAM_HARD = 1e4


def torch_response_available(model: UserModel, n_actions: int) -> bool:
    """Whether ``model`` has a differentiable (torch) response, as the numerical search needs."""
    try:
        model.respond_torch(torch.zeros((1, n_actions), dtype=torch.float64))
    except NotImplementedError:
        return False
    return True


class _Search:
    """Speaker ``i``'s objective and exact scores on the torch payoff, the others' schemes fixed."""

    def __init__(self, game: Game, i: int, schemes: list[np.ndarray], proto: Protocol):
        self.game, self.i, self.proto = game, i, proto
        self.model = game.user.model
        self.ui = torch.as_tensor(game.speakers[i].utility)
        self.u = torch.as_tensor(game.user.utility)
        self.others = {j: torch.as_tensor(schemes[j])[None] for j in range(game.n_speakers) if j != i}
        best_ai = isinstance(proto, BestAI)
        self.vstar = None
        if best_ai and self.others:
            with torch.no_grad():
                self.vstar = max(float((torch_outcome(game, {j: schemes[j]})[0] * self.u).sum()) for j in self.others)
        self.talking = list(range(game.n_speakers)) if proto.joint else [i]
        self.payoff = TorchPayoff(game, self.talking)
        self.exact_ai = isinstance(proto, BestAI) and proto.n_eval == "exact"
        if self.exact_ai and self.others:
            rival_user, rival_spk = solo_outcomes(game, schemes)
            self.rival_user = np.delete(rival_user, i)
            self.rival_own = np.delete(rival_spk[:, i], i)

    def score(self, pis: np.ndarray) -> np.ndarray:
        """Exact values (ties split evenly) of a batch of schemes, or -inf where not computed here."""
        i, ui, u = self.i, self.ui, self.u
        with torch.no_grad():
            if self.proto.joint:
                out = self.payoff({**self.others, i: torch.as_tensor(pis)})
                return (out * ui).sum(dim=(1, 2)).numpy()
            if not self.exact_ai:
                return np.full(len(pis), -np.inf)
            out = self.payoff({i: torch.as_tensor(pis)})
            g, v = (out * ui).sum(dim=(1, 2)).numpy(), (out * u).sum(dim=(1, 2)).numpy()
            if not self.others:
                return g
            vals = np.empty(len(pis))
            for b in range(len(pis)):
                sel = exact_selection(np.concatenate([[v[b]], self.rival_user]))
                vals[b] = sel[0] * g[b] + sel[1:] @ self.rival_own
            return vals

    def sharpness(self, step: int, steps: int) -> float | None:
        """A best responder's argmax is annealed from ``softmax(10 EU)`` to ``softmax(LAM_HARD EU)`` over
        the first 70% of the steps (None for any other user model)."""
        if not self.model.best_responder:
            return None
        frac = min(1.0, step / max(1, int(0.7 * steps)))
        return float(10.0 * (LAM_HARD / 10.0) ** frac)

    def penalty(self, out: torch.Tensor, value: torch.Tensor) -> torch.Tensor:
        """In ``best_ai`` the first half of the batch is penalised for giving the user less than the
        best rival plus 1e-6 (the other half climbs the plain solo payoff)."""
        if self.vstar is None:
            return value
        half = value.shape[0] // 2
        pen = 10.0 * torch.relu(self.vstar + 1e-6 - (out * self.u).sum(dim=(1, 2)))
        return torch.cat([value[:half] - pen[:half], value[half:]])


def _fixed_starts(game: Game, i: int, current: np.ndarray) -> list[np.ndarray]:
    """The current scheme, babbling and (when it fits) full revelation."""
    fixed = [current, babbling_scheme(game, i)]
    with contextlib.suppress(ValueError):  # full revelation does not fit the messages
        fixed.append(full_revelation_scheme(game, i))
    return fixed


def numerical_best_response(
    game: Game,
    i: int,
    schemes: Sequence[np.ndarray],
    protocol: Protocol | str = "simultaneous",
    n_eval: int | str | None = None,
    *,
    starts: int = 16,
    steps: int = 300,
    lr: float = 0.1,
    seed: int = 0,
) -> tuple[float, np.ndarray]:
    """Speaker ``i``'s best open-loop deviation found by multi-start Adam; returns (value, scheme).

    Starts: ``starts`` random logits (``N(0, 1.5^2)`` from a torch generator seeded with
    ``seed``), the current scheme, full revelation and babbling, optimised in one batch on the
    differentiable payoff (a logit user keeps her rationality; a best responder is annealed from
    sharpness 10 to :data:`LAM_HARD`). In ``best_ai`` half the starts maximise the solo payoff
    subject to a penalty for giving the user less than the best rival plus 1e-6, half the plain
    solo payoff. The iterates are scored exactly at checkpoints (the torch payoff with ties split
    evenly; for a selection protocol without exact scores only the final iterates are scored) and
    the best candidate is scored with :func:`persuaders.envs.payoff.evaluate` under the game's
    protocol, so the value returned is achieved (a lower bound of the best deviation).
    """
    proto = resolve_protocol(protocol, n_eval)
    if not torch_response_available(game.user.model, game.n_actions):
        raise ValueError(
            f"user model {game.user.model.label()!r} has no differentiable (torch) response: no numerical best response"
        )
    schemes = [check_scheme(game, j, s) for j, s in enumerate(schemes)]
    gen = torch.Generator().manual_seed(seed)
    shape = schemes[i].shape
    inits = [torch.randn(shape, generator=gen, dtype=torch.float64) * 1.5 for _ in range(starts)]
    fixed = _fixed_starts(game, i, schemes[i])
    inits += [torch.as_tensor(scheme_to_logits(s)) for s in fixed]
    theta = torch.stack(inits).clone().requires_grad_(True)
    search = _Search(game, i, schemes, proto)
    ascent = SchemeAscent(game, i, theta, lr, talking=search.talking)
    others = search.others if proto.joint else {}
    best_val, best_scheme = -np.inf, schemes[i]
    checkpoints = set(np.linspace(0, steps, 11).astype(int).tolist())
    for step in range(steps + 1):
        if step in checkpoints:
            pis = torch.softmax(theta, dim=-1).detach().numpy()
            vals = search.score(pis)
            b = int(np.argmax(vals))
            if vals[b] > best_val:
                best_val, best_scheme = float(vals[b]), pis[b].copy()
        if step == steps:
            break
        ascent.step(others, sharpness=search.sharpness(step, steps), transform=search.penalty)
    if not np.isfinite(best_val):  # sampled scores: score the final schemes exactly
        cands = list(torch.softmax(theta, dim=-1).detach().numpy()) + fixed
    else:
        cands = [best_scheme, *fixed]
    return _confirm(game, i, schemes, proto, cands)


def _confirm(
    game: Game, i: int, schemes: list[np.ndarray], proto: Protocol, cands: list[np.ndarray]
) -> tuple[float, np.ndarray]:
    """The candidate with the best exact value under the protocol, and that value."""
    name = game.speakers[i].name
    best_val, out_scheme = -np.inf, schemes[i]
    for cand in cands:
        prof = list(schemes)
        prof[i] = cand
        val = evaluate(game, prof, proto).speaker_values[name]
        if val > best_val:
            best_val, out_scheme = val, cand
    return float(best_val), np.asarray(out_scheme)
