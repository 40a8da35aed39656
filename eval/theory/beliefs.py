"""Values at beliefs: what the user and the speakers expect when she acts at a state belief.

A speaker who splits the prior induces state beliefs ``p``; the user then also has a *type*
``t`` (her own signal, and, when one speaker deviates in a joint conversation, the other
speakers' messages) drawn from a channel ``types[y, t]`` given the state. At ``p`` her type has
probability ``P(t | p) = sum_y p(y) types[y, t]`` and her posterior is ``Bayes(p, types[:, t])``;
she acts there by her user model (docs/science.md, "User models"). :func:`values_over_types`
gives her value and every speaker's expected utility, averaged over her types: the objective of
every analytic solver in this layer (single-sender optimum, exact deviations, dynamics).
"""

from __future__ import annotations

import numpy as np

from persuaders.envs.game.users import UserModel, favourable_response, response_at

__all__ = ["PROB_TOL", "normalise_rows", "values_over_types"]

#: Probabilities below this are treated as zero (dropped signals, unused messages, empty splits).
PROB_TOL = 1e-12


def normalise_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` (last axis) divided by their sums (zero rows become uniform), and the sums."""
    s = x.sum(axis=-1, keepdims=True)
    safe = np.where(s > 0, s, 1.0)
    out = np.where(s > 0, x / safe, 1.0 / x.shape[-1])
    return out, s[..., 0]


def values_over_types(
    p: np.ndarray,
    types: np.ndarray,
    utility: np.ndarray,
    model: UserModel,
    utils: np.ndarray | None = None,
    favour: int | None = None,
    prior: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The user's value and the expected ``utils[j]`` at state beliefs ``p`` ``[..., Y]``, averaged over her types.

    ``types[y, t]`` is her type channel, ``utility[a, y]`` her utility and ``model`` her user
    model; ``utils`` ``[J, A, Y]`` are the utilities whose expectations are wanted (none by
    default). With ``P(t | p)`` and ``p_t = Bayes(p, types[:, t])`` as in the module docstring,

        v(p) = sum_t P(t | p) sum_a P(a | p_t) EU_{p_t}(a),
        g_j(p) = sum_t P(t | p) sum_a P(a | p_t) sum_y p_t(y) utils[j, a, y].

    ``favour``: for a best-responding user, break her ties in favour of ``utils[favour]`` (the
    convention of the persuasion LP suprema, :func:`~persuaders.envs.game.users.favourable_response`);
    otherwise ties are split evenly. ``prior``: the common prior, needed by a non-Bayesian model
    (she acts on ``perceive(p_t, prior)``, docs/science.md, "Non-Bayesian users").
    Returns ``v`` ``[...]`` and ``g`` ``[..., J]``.
    """
    p = np.asarray(p, dtype=np.float64)
    types = np.asarray(types, dtype=np.float64)
    utility = np.asarray(utility, dtype=np.float64)
    utils = np.zeros((0, *utility.shape)) if utils is None else np.asarray(utils, dtype=np.float64)
    lead = p.shape[:-1]
    p = p.reshape(-1, p.shape[-1])
    joint = p[:, None, :] * types.T[None]  # [n, T, Y]
    pt = joint.sum(axis=2)  # [n, T]
    post = joint / np.where(pt > 0, pt, 1.0)[..., None]
    eu = post @ utility.T  # [n, T, A]
    if favour is not None and model.best_responder:
        q = favourable_response(eu, post @ utils[favour].T)
    else:
        q = response_at(post, utility, model, prior)
    v = (pt * (q * eu).sum(axis=-1)).sum(axis=1)
    g = np.einsum("nt,nta,nty,jay->nj", pt, q, post, utils)
    return v.reshape(lead), g.reshape((*lead, utils.shape[0]))
