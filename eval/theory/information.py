"""The user's value with no information, full information, and as a Bayes-optimal decision maker.

Notation (docs/science.md, "Analytic quantities"): states ``y`` with prior ``mu0``, the user's
utility ``u[a, y]``, user model and private channel ``O_0[y, x0]``; speaker ``i``'s channel
``O_i[y, x]``; signals independent given ``y``. At a belief ``p`` she acts by her user model and
her value is ``v(p) = sum_a P(a | p) EU_p(a)``.

* :func:`no_information_value`   ``E_{x0}[v(P(y | x0))]``
* :func:`full_information_value` ``E[v(P(y | x0, x1..xk))]``
* :func:`bayes_optimal_value`    the same for a best responder (OPT)
* :func:`logit_loss`             how far below OPT full information can fall (``ln|A| / lam``)
"""

from __future__ import annotations

import math

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import BestResponseUser, UserModel, user_value
from persuaders.eval.theory.beliefs import normalise_rows, values_over_types

__all__ = ["MAX_PROFILES", "no_information_value", "full_information_value", "bayes_optimal_value", "logit_loss"]

#: Largest number of joint signal profiles :func:`full_information_value` will enumerate.
MAX_PROFILES = 1_000_000


def no_information_value(game: Game) -> float:
    """The user's value with only her own signal: ``E_{x0}[v(P(y | x0))]``.

    ``P(x0) = sum_y mu0(y) O_0[y, x0]`` and ``P(y | x0) ∝ mu0(y) O_0[y, x0]``; with no private
    signal this is ``v(mu0)``.
    """
    v, _ = values_over_types(game.prior, game.user.observation, game.user.utility, game.user.model, prior=game.prior)
    return float(v)


def full_information_value(game: Game, model: UserModel | None = None) -> float:
    """The user's value when everything every party observes is revealed to her.

    ``E[v(P(y | x0, x1..xk))]`` with ``P(y, x0, x1..xk) = mu0(y) O_0[y, x0] prod_i O_i[y, x_i]``,
    enumerating every signal profile. When some speaker sees the state the posterior is a point
    mass and the value is ``sum_y mu0(y) v(delta_y)``. ``model`` (default the game's) is the
    user model she acts by.

    Raises ``ValueError`` if the number of signal profiles exceeds :data:`MAX_PROFILES`.
    """
    model = game.user.model if model is None else model
    u = game.user.utility
    n_y = game.n_states
    if any(s.sees_state for s in game.speakers):
        return float(game.prior @ user_value(np.eye(n_y), u, model, game.prior))
    channels = [game.user.observation] + [s.observation for s in game.speakers]
    n_profiles = math.prod(int(c.shape[1]) for c in channels)
    if n_profiles > MAX_PROFILES:
        sizes = " x ".join(str(c.shape[1]) for c in channels)
        raise ValueError(
            f"full information needs {n_profiles} joint signal profiles ({sizes}), more than the "
            f"limit of {MAX_PROFILES}; reduce the speakers' signal sets"
        )
    joint = game.prior[:, None]  # [Y, profiles so far]
    for c in channels:
        joint = (joint[:, :, None] * c[:, None, :]).reshape(n_y, -1)
        joint = joint[:, joint.sum(axis=0) > 0]  # drop impossible profiles as we go
    post, prob = normalise_rows(joint.T)
    return float(prob @ user_value(post, u, model, game.prior))


def bayes_optimal_value(game: Game) -> float:
    """OPT: the full-information value of a best-responding user."""
    return full_information_value(game, BestResponseUser())


def logit_loss(game: Game) -> float | None:
    """How far below the best action's expected utility the user's value can fall (None if unknown).

    ``ln|A| / lam`` for a logit user (``v(p) >= max_a EU_p(a) - ln|A| / lam``), 0 for a best
    responder: :meth:`~persuaders.envs.game.users.UserModel.value_loss`. Hence full information
    ``>=`` OPT ``-`` this.
    """
    return game.user.model.value_loss(game.n_actions)
