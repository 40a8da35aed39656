"""Simulated choice data: decisions drawn from a game, a user model and a profile of schemes.

For each decision the speakers commit their schemes (the profile), the state ``y ~ mu0``, the
user's signal, the conversation and its messages are drawn from the exact joint
``P(y, x0, h)`` (:class:`~persuaders.envs.payoff.engine.ExactEngine`), and she acts by her user
model at her posterior: ``a ~ r(perceive(p, mu0))`` with ``p(y) ∝ P(y, x0, h)``. The row records
``likelihood_<y'> = P(x0, h | y') = P(y', x0, h) / mu0(y')``, what the contract asks
(:mod:`persuaders.eval.fitting.data`).

Profiles: ``random`` draws fresh schemes for every decision (each speaker's scheme rows from a
flat Dirichlet: full support, so posteriors vary from decision to decision, which identifies
``alpha`` and ``beta``), ``babbling`` (one message whatever the signal), ``full_revelation`` (the
signal as the message, when there are enough messages; it makes every posterior a point mass,
where Grether's weighting has no effect), or anything
:func:`~persuaders.envs.game.profiles.load_profile` reads (a schemes file, a run directory).
Decisions are spread evenly over ``participants`` (``p1``, ``p2``, ...).
"""

from __future__ import annotations

import numpy as np

from persuaders.envs.game.profiles import load_profile
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import UserModel, response_at
from persuaders.envs.payoff.engine import ExactEngine, fixed_source
from persuaders.eval.fitting.data import ChoiceData

__all__ = ["PROFILES", "simulate_choices", "profile_schemes"]

#: Profiles by name (besides files).
PROFILES = ("random", "babbling", "full_revelation")
#: Decisions drawn per engine call (profiles of one batch).
BATCH = 512


def profile_schemes(game: Game, profile: str, n: int, rng: np.random.Generator) -> list[np.ndarray]:
    """Every speaker's schemes ``[n, R, X_i, M]`` for ``n`` decisions under ``profile`` (module docstring)."""
    r, m = game.rounds, game.messages
    out = []
    for i, s in enumerate(game.speakers):
        x = s.n_signals
        if profile == "random":
            out.append(rng.dirichlet(np.ones(m), size=(n, r, x)))
            continue
        if profile == "babbling":
            scheme = np.zeros((r, x, m))
            scheme[..., 0] = 1.0
        elif profile == "full_revelation":
            if m < x:
                raise ValueError(
                    f"--profile full_revelation: {x} signals need at least as many messages (game has {m})"
                )
            scheme = np.broadcast_to(np.eye(x, m), (r, x, m)).copy()
        else:
            scheme = np.asarray(load_profile(profile, game).schemes[i])
        out.append(np.broadcast_to(scheme, (n, r, x, m)))
    return out


def _draw(game: Game, model: UserModel, schemes: list[np.ndarray], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Actions ``[B]`` and likelihoods ``[B, Y]`` for one batch of profiles."""
    engine = ExactEngine(game, range(game.n_speakers), open_loop=True)
    joint = np.asarray(engine.joint([fixed_source(s) for s in schemes], batch=len(schemes[0])))  # [B, H, Y, X0]
    b, _, n_y, x0 = joint.shape
    flat = joint.reshape(b, -1)
    flat = flat / flat.sum(axis=1, keepdims=True)
    cells = np.array([rng.choice(flat.shape[1], p=row) for row in flat])
    hist, rest = np.divmod(cells, n_y * x0)
    sig = rest % x0
    weights = joint[np.arange(b), hist, :, sig]  # [B, Y]: P(y, x0, h)
    post = weights / weights.sum(axis=1, keepdims=True)
    q = response_at(post, game.user.utility, model, game.prior)
    actions = np.array([rng.choice(len(row), p=row / row.sum()) for row in q])
    lik = weights / game.prior[None, :]
    return actions, lik / lik.sum(axis=1, keepdims=True)


def simulate_choices(
    game: Game, model: UserModel, profile: str, decisions: int, participants: int = 1, seed: int = 0
) -> ChoiceData:
    """``decisions`` decisions of a user acting by ``model`` under ``profile`` (module docstring)."""
    if decisions < 1 or participants < 1:
        raise ValueError("--decisions and --participants must be at least 1")
    rng = np.random.default_rng(seed)
    acts, liks = [], []
    for lo in range(0, decisions, BATCH):
        n = min(BATCH, decisions - lo)
        a, lik = _draw(game, model, profile_schemes(game, profile, n, rng), rng)
        acts.append(a)
        liks.append(lik)
    who = np.array([f"p{1 + (r * participants) // decisions}" for r in range(decisions)], dtype=object)
    likelihood = np.concatenate(liks)
    prior = np.broadcast_to(game.prior, likelihood.shape).copy()
    return ChoiceData(who, np.concatenate(acts).astype(np.int64), prior, likelihood)
