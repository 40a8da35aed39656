"""Exact expected payoffs of a profile of signalling schemes, by enumeration.

This is the ground truth that learners are scored with. It enumerates every conversation
history ``h`` (the user's messages and every speaker's messages, round by round) and keeps, for
each, the *unnormalised* joint probabilities

    P(y, x0, h) = mu0(y) O_0[y, x0] prod_t C_t[x0, z_t] prod_i sum_x O_i[y, x] prod_t pi_i^t[x, m_i^t]

(an independent computation from the environments' normalised, incremental update). The user's
posterior at a leaf is ``P(y | x0, h)``, she acts by quantal response, and the outcome
distribution is

    P(a, y) = sum_{h, x0} P(y, x0, h) P(a | x0, h),

from which every party's expected utility follows: ``E[u] = sum_{a,y} P(a, y) u[a, y]``.

A speaker's scheme for round ``t`` may be a fixed array (``[X_i, M]``, or ``[R, X_i, M]`` for one
per round) of probabilities, or any function of the public state: a callable mapping a batch of
observations ``[H, D]`` (the encoding of :class:`envs.conversation.ObservationLayout`, exactly what
the environment gives the speaker) to schemes ``[H, X_i, M]``.

The ``best_ai`` protocol (DESIGN.md section 1) is evaluated from each speaker's solo outcome: its
schemes are open-loop (one per round, as in the environment), the user scores each speaker by her
exact expected utility (``n_eval="exact"``) or by the mean of ``n_eval`` realised utilities (the
exact distribution of that mean is computed, so the selection probabilities are exact too), picks
the best (ties split evenly), and everyone is paid on the deployment outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Union

import numpy as np

from envs.conversation import ObservationLayout, heard_speakers
from envs.game import Game
from envs.protocols import SCORE_TOL, check_n_eval, check_protocol
from envs.quantal import quantal_response

SchemeFn = Callable[[np.ndarray], np.ndarray]
Scheme = Union[np.ndarray, Sequence, SchemeFn]
Profile = Union[Mapping[str, Scheme], Sequence[Scheme]]

#: Largest number of leaf histories (times states and signals) enumerated before refusing.
MAX_ENUMERATION = 4_000_000
#: Scores closer than this count as tied in the best-AI selection.


@dataclass
class ExactOutcome:
    """Exact expected utilities of a profile.

    ``outcome[a, y]`` is the probability that the state is ``y`` and the user plays ``a``. For
    ``best_ai``, ``selection`` gives each speaker's probability of being selected and
    ``solo_user_values`` the user's exact utility with each speaker alone.
    """

    user_value: float
    speaker_values: dict[str, float]
    outcome: np.ndarray
    selection: dict[str, float] = field(default_factory=dict)
    solo_user_values: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        out = {"user_value": self.user_value, "speaker_values": dict(self.speaker_values)}
        if self.selection:
            out["selection"] = dict(self.selection)
            out["solo_user_values"] = dict(self.solo_user_values)
        return out


# ---------------------------------------------------------------------------------- profiles
def _as_profile_list(game: Game, profile: Profile) -> list[Scheme]:
    names = game.speaker_names
    if isinstance(profile, Mapping):
        unknown = [n for n in profile if n not in names]
        if unknown:
            raise ValueError(f"profile: unknown speaker(s) {', '.join(map(str, unknown))}; speakers are {', '.join(names)}")
        missing = [n for n in names if n not in profile]
        if missing:
            raise ValueError(f"profile: no scheme for speaker(s) {', '.join(missing)}")
        return [profile[n] for n in names]
    profile = list(profile)
    if len(profile) != game.n_speakers:
        raise ValueError(f"profile: expected {game.n_speakers} schemes (one per speaker), got {len(profile)}")
    return profile


def check_scheme(game: Game, i: int, scheme: np.ndarray, per_round: bool = True) -> np.ndarray:
    """Validate speaker ``i``'s fixed scheme(s) and return them as ``[R, X_i, M]`` float64."""
    name = game.speakers[i].name
    shape = (game.speakers[i].n_signals, game.messages)
    arr = np.asarray(scheme, dtype=np.float64)
    if arr.shape == shape:
        arr = np.broadcast_to(arr, (game.rounds,) + shape)
    if arr.shape != (game.rounds,) + shape:
        raise ValueError(
            f"scheme of speaker '{name}': expected shape {shape} [signal][message] or "
            f"{(game.rounds,) + shape} [round][signal][message], got {arr.shape}"
        )
    _check_probabilities(arr, f"scheme of speaker '{name}'")
    return arr


def _check_probabilities(arr: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what}: contains NaN or inf")
    if np.any(arr < 0) or np.any(np.abs(arr.sum(axis=-1) - 1.0) > 1e-6):
        raise ValueError(f"{what}: every row must be a probability distribution over messages")


class _SchemeSource:
    """Gives speaker ``i``'s round-``t`` schemes for a batch of observations."""

    def __init__(self, game: Game, i: int, scheme: Scheme):
        self.game, self.i = game, i
        self.fn: SchemeFn | None = scheme if callable(scheme) else None
        self.fixed = None if self.fn is not None else check_scheme(game, i, scheme)

    def __call__(self, t: int, obs_fn: Callable[[], np.ndarray], batch: int) -> np.ndarray:
        if self.fixed is not None:
            return np.broadcast_to(self.fixed[t], (batch,) + self.fixed.shape[1:])
        out = np.asarray(self.fn(obs_fn()), dtype=np.float64)
        want = (batch, self.game.speakers[self.i].n_signals, self.game.messages)
        if out.shape != want:
            raise ValueError(f"scheme function of speaker '{self.game.speakers[self.i].name}': returned shape {out.shape}, expected {want}")
        _check_probabilities(out, f"scheme function of speaker '{self.game.speakers[self.i].name}'")
        return out


# ---------------------------------------------------------------------------------- enumeration
def _leaf_count(game: Game, n_talking: int) -> int:
    n = 1
    for z in game.user_message_counts:
        n *= z * game.messages**n_talking
    return n


def _enumerate(game: Game, talking: Sequence[int], sources: Sequence[_SchemeSource], best_ai: bool) -> np.ndarray:
    """``P(y, x0, h)`` ``[H, Y, X0]`` over every history ``h`` of the speakers ``talking`` with the user."""
    n_y, x0_n = game.n_states, game.user.n_signals
    leaves = _leaf_count(game, len(talking))
    size = leaves * n_y * max([x0_n] + [game.speakers[i].n_signals for i in talking])
    if size > MAX_ENUMERATION:
        raise ValueError(
            f"game '{game.name}' is too large to enumerate exactly: {leaves:,} conversation histories "
            f"(limit {MAX_ENUMERATION:,} entries); use fewer speakers, messages or rounds, or Monte-Carlo estimates"
        )
    layout = ObservationLayout.for_game(game)
    R, k = game.rounds, game.n_speakers
    # Per history: P0[h, y, x0] (prior, user's signal and messages) and c[i][h, y, x].
    p0 = (game.prior[:, None] * game.user.observation)[None]
    c = {i: game.speakers[i].observation[None].copy() for i in talking}
    user_msgs = -np.ones((1, R), dtype=np.int64)
    spk_msgs = -np.ones((1, R, k), dtype=np.int64)

    def repeat(n: int) -> None:
        nonlocal user_msgs, spk_msgs
        for i in talking:
            c[i] = np.repeat(c[i], n, axis=0)
        user_msgs = np.repeat(user_msgs, n, axis=0)
        spk_msgs = np.repeat(spk_msgs, n, axis=0)

    for t in range(R):
        # The user speaks first: z ~ C_t[x0].
        ch = game.user.conversation[t]  # [X0, Z]
        n_z = ch.shape[1]
        p0 = (p0[:, None, :, :] * ch.T[None, :, None, :]).reshape(-1, n_y, x0_n)
        repeat(n_z)
        user_msgs[:, t] = np.tile(np.arange(n_z), len(p0) // n_z)
        # Every talking speaker commits its scheme for this round from what it has heard.
        schemes = {}
        for i in talking:
            schemes[i] = sources[i](t, lambda i=i: _observations(game, layout, i, t, p0, c, user_msgs, spk_msgs, best_ai), len(p0))
        for i in talking:
            pi = schemes.pop(i)
            h, m = len(p0), game.messages
            c[i] = (c[i][:, None, :, :] * pi.transpose(0, 2, 1)[:, :, None, :]).reshape(h * m, n_y, -1)
            for j in schemes:
                schemes[j] = np.repeat(schemes[j], m, axis=0)
            others = [j for j in talking if j != i]
            for j in others:
                c[j] = np.repeat(c[j], m, axis=0)
            p0 = np.repeat(p0, m, axis=0)
            user_msgs = np.repeat(user_msgs, m, axis=0)
            spk_msgs = np.repeat(spk_msgs, m, axis=0)
            spk_msgs[:, t, i] = np.tile(np.arange(m), h)
        # Histories of probability zero never happen: drop them.
        keep = _joint(p0, c, talking).sum(axis=(1, 2)) > 0
        if not keep.all():
            p0, user_msgs, spk_msgs = p0[keep], user_msgs[keep], spk_msgs[keep]
            for i in talking:
                c[i] = c[i][keep]

    return _joint(p0, c, talking)


def _outcome_distribution(game: Game, talking: Sequence[int], sources: Sequence[_SchemeSource], best_ai: bool) -> np.ndarray:
    """``P(a, y)`` when the speakers ``talking`` (indices) converse with the user."""
    joint = _enumerate(game, talking, sources, best_ai)  # [H, Y, X0] = P(y, x0, h)
    n_y = game.n_states
    mass = joint.sum(axis=1, keepdims=True)  # P(x0, h)
    post = np.where(mass > 0, joint / np.where(mass > 0, mass, 1.0), 1.0 / n_y)
    eu = np.einsum("hyx,ay->hxa", post, game.user.utility)
    q = quantal_response(eu, game.user.rationality)  # [H, X0, A]
    return np.einsum("hyx,hxa->ay", joint, q)


def _joint(p0: np.ndarray, c: Mapping[int, np.ndarray], talking: Sequence[int]) -> np.ndarray:
    lik = np.ones(p0.shape[:2])
    for i in talking:
        lik = lik * c[i].sum(axis=-1)
    return p0 * lik[:, :, None]


def _observations(game, layout, i, t, p0, c, user_msgs, spk_msgs, best_ai) -> np.ndarray:
    """The observation speaker ``i`` gets at round ``t`` at every history (as in the environment)."""
    h = len(p0)
    if best_ai:
        # Open-loop commitment: the round and the prior, nothing heard.
        return layout.encode(
            np.full(h, t), np.broadcast_to(game.prior, (h, game.n_states)),
            -np.ones((h, game.rounds), dtype=np.int64), -np.ones((h, game.rounds, layout.n_heard), dtype=np.int64),
        )
    heard = heard_speakers(game, i)
    w = p0.sum(axis=2)
    for j in heard:
        w = w * c[j].sum(axis=-1) if j in c else w
    belief = w / w.sum(axis=1, keepdims=True)
    return layout.encode(np.full(h, t), belief, user_msgs, spk_msgs[:, :, list(heard)])


# ---------------------------------------------------------------------------------- public API
def history_distribution(game: Game, profile: Profile) -> np.ndarray:
    """``P(y, x0, h)`` ``[H, Y, X0]`` for every history ``h`` of the simultaneous conversation."""
    sources = [_SchemeSource(game, i, s) for i, s in enumerate(_as_profile_list(game, profile))]
    return _enumerate(game, range(game.n_speakers), sources, best_ai=False)


def outcome_values(game: Game, outcome: np.ndarray) -> tuple[float, dict[str, float]]:
    """The user's and each speaker's expected utility under an outcome distribution ``P(a, y)``."""
    user = float((outcome * game.user.utility).sum())
    return user, {s.name: float((outcome * s.utility).sum()) for s in game.speakers}


def evaluate(game: Game, profile: Profile, protocol: str = "simultaneous", n_eval: int | str = "exact") -> ExactOutcome:
    """Exact expected utilities of the user and every speaker under ``profile``.

    ``profile`` maps each speaker's name to its scheme (fixed array or function of the
    observation); see the module docstring. ``protocol`` is ``simultaneous`` or ``best_ai``;
    ``n_eval`` (``"exact"`` or a number of evaluation conversations) matters for ``best_ai`` only.
    """
    check_protocol(protocol)
    sources = [_SchemeSource(game, i, s) for i, s in enumerate(_as_profile_list(game, profile))]
    if protocol == "simultaneous":
        outcome = _outcome_distribution(game, range(game.n_speakers), sources, best_ai=False)
        user, speakers = outcome_values(game, outcome)
        return ExactOutcome(user, speakers, outcome)
    solo = [_outcome_distribution(game, [i], sources, best_ai=True) for i in range(game.n_speakers)]
    solo_user = np.array([outcome_values(game, o)[0] for o in solo])
    if n_eval == "exact":
        probs = exact_selection(solo_user)
    else:
        probs = sampled_selection(game, solo, check_n_eval(n_eval))
    outcome = np.einsum("i,iay->ay", probs, np.stack(solo))
    user, speakers = outcome_values(game, outcome)
    names = game.speaker_names
    return ExactOutcome(
        user, speakers, outcome,
        selection=dict(zip(names, probs.tolist())),
        solo_user_values=dict(zip(names, solo_user.tolist())),
    )


def score_profile(game: Game, profile: Profile, protocol: str = "simultaneous",
                  seed: int = 0) -> tuple[ExactOutcome, dict[str, list]]:
    """:func:`evaluate` of ``profile``, and each speaker's scheme at the first observation of a
    persuasion_v0 episode reset with ``seed`` (as a nested list): what a trained policy committed to."""
    from envs import persuasion_v0  # lazily: the environment imports this module lazily too

    exact = evaluate(game, profile, protocol=protocol)
    obs, _ = persuasion_v0.parallel_env(game=game, protocol=protocol).reset(seed=seed)
    schemes = {}
    for name in game.speaker_names:
        scheme = profile[name]
        schemes[name] = np.asarray(scheme(obs[name][None])[0] if callable(scheme) else scheme).tolist()
    return exact, schemes


def solo_outcomes(game: Game, schemes: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Each speaker alone with the user, with open-loop per-round schemes ``[R, X_i, M]``.

    Returns ``user_values[i]`` (the user's exact utility when speaker ``i`` talks alone) and
    ``speaker_values[i, j]`` (speaker ``j``'s exact utility then).
    """
    sources = [_SchemeSource(game, i, s) for i, s in enumerate(schemes)]
    solo = [_outcome_distribution(game, [i], sources, best_ai=True) for i in range(game.n_speakers)]
    user = np.array([(o * game.user.utility).sum() for o in solo])
    spk = np.array([[(o * s.utility).sum() for s in game.speakers] for o in solo])
    return user, spk


def exact_selection(scores: np.ndarray, tol: float = SCORE_TOL) -> np.ndarray:
    """Selection probabilities for deterministic scores: the best, ties split evenly."""
    scores = np.asarray(scores, dtype=np.float64)
    best = scores >= scores.max() - tol
    return best / best.sum()


def score_distribution(values: np.ndarray, probs: np.ndarray, n: int, decimals: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Exact distribution of the mean of ``n`` iid draws of a discrete variable (support, probabilities)."""
    vals, inv = np.unique(np.round(values, decimals), return_inverse=True)
    p = np.bincount(inv, weights=probs, minlength=len(vals))
    keep = p > 0
    vals, p = vals[keep], p[keep]
    sums, sp = np.zeros(1), np.ones(1)
    for _ in range(n):
        s = (sums[:, None] + vals[None, :]).ravel()
        w = (sp[:, None] * p[None, :]).ravel()
        sums, inv = np.unique(np.round(s, decimals), return_inverse=True)
        sp = np.bincount(inv, weights=w, minlength=len(sums))
        if len(sums) > 1_000_000:
            raise ValueError(f"n_eval={n}: the score distribution has too many support points to compute exactly")
    return sums / n, sp


def sampled_selection(game: Game, solo: Sequence[np.ndarray], n_eval: int) -> np.ndarray:
    """Exact selection probabilities when scores are means of ``n_eval`` realised utilities.

    P(select i) = sum_s P(S_i = s) E[ 1{S_j <= s for all j != i} / (1 + #{j: S_j = s}) ].
    """
    dists = [score_distribution(game.user.utility.ravel(), o.ravel(), n_eval) for o in solo]
    k = len(dists)
    out = np.zeros(k)
    for i, (s_i, p_i) in enumerate(dists):
        # Polynomial in z: prod_j (P(S_j < s) + P(S_j = s) z); coefficient t = P(t others tie, none beat).
        poly = np.ones((len(s_i), 1))
        for j, (s_j, p_j) in enumerate(dists):
            if j == i:
                continue
            lt = (p_j[None, :] * (s_j[None, :] < s_i[:, None] - 1e-9)).sum(axis=1)
            eq = (p_j[None, :] * (np.abs(s_j[None, :] - s_i[:, None]) <= 1e-9)).sum(axis=1)
            new = np.zeros((len(s_i), poly.shape[1] + 1))
            new[:, :-1] += poly * lt[:, None]
            new[:, 1:] += poly * eq[:, None]
            poly = new
        share = (poly / np.arange(1, poly.shape[1] + 1)[None, :]).sum(axis=1)
        out[i] = (p_i * share).sum()
    return out / out.sum()
