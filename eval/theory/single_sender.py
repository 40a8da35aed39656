"""The single-sender optimum: the best one speaker can do alone against this user, and her value then.

The speaker sees ``x ~ O_i[y, :]``; the user has ``x0 ~ O_0[y, :]``, independent given ``y``
(docs/science.md, "Single-sender optimum"). The solver is the one the user model names
(:attr:`~persuaders.envs.game.users.UserModel.analytic`):

* ``"obedience"`` (a best responder): the obedience LP over recommendations ``r in A^{X0}``
  (one action for each of her signals), a supremum (ties go the sender's way);
* ``"concavification"`` (a response continuous in the belief, e.g. logit): the concave closure of
  the sender's value over beliefs on its own signals (:mod:`persuaders.eval.theory.concavification`);
* None: there is no analytic optimum and :func:`single_sender_optimum` raises
  :class:`NoAnalyticOptimum`.

Everything is exact up to LP/solver tolerances (about 1e-9), except the concave closure for a
speaker with three or more signals, which is an LP over a grid of beliefs (at most ~20000
points) refined by LPs over finer lattices around its support.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, sparse

from persuaders.envs.game.spec import Game
from persuaders.eval.theory.beliefs import PROB_TOL, normalise_rows, values_over_types
from persuaders.eval.theory.concavification import GRID_1D, concavify_1d, concavify_grid

__all__ = [
    "SplitPoint",
    "SchemeComponent",
    "SingleSenderResult",
    "NoAnalyticOptimum",
    "MAX_OBEDIENCE_VARIABLES",
    "MAX_USER_MESSAGE_PROFILES",
    "SENDER_SLACK",
    "speaker_index",
    "obedience_lp",
    "single_sender_optimum",
]

#: Largest number of LP variables (speaker signals x recommendation profiles) in the obedience LP.
MAX_OBEDIENCE_VARIABLES = 2_000_000
#: Largest number of user-message profiles (over all rounds) the single-sender optimum splits on.
MAX_USER_MESSAGE_PROFILES = 100_000
#: Slack on the sender's optimum when choosing the user's best sender-optimal scheme.
SENDER_SLACK = 1e-12


class NoAnalyticOptimum(ValueError):
    """The user model names no analytic single-sender solver (its ``analytic`` is None)."""


def speaker_index(game: Game, speaker: int | str) -> int:
    """A speaker's index from its name or index (``KeyError``/``IndexError`` when there is none)."""
    if isinstance(speaker, str):
        return game.speaker_index(speaker)
    i = int(speaker)
    if not 0 <= i < game.n_speakers:
        raise IndexError(f"speaker index {i} out of range for {game.n_speakers} speakers")
    return i


def _fmt(x: np.ndarray, digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in np.asarray(x, dtype=float)) + ")"


@dataclass(frozen=True)
class SplitPoint:
    """One message of the optimal scheme: the beliefs it induces and what it is worth.

    ``weight`` is its probability (within its component); ``signal_belief`` is ``q(x)``, the
    belief over the speaker's own signals, and ``state_belief`` is ``p(y) = sum_x q(x) P(y|x)``
    (before the user's own signal); ``actions`` is, for a best responder, the recommended
    action for each of her signal values of positive probability, in order (``None`` when the
    split is a concavification).
    """

    weight: float
    signal_belief: np.ndarray
    state_belief: np.ndarray
    sender_value: float
    user_value: float
    actions: tuple[str, ...] | None = None


@dataclass(frozen=True)
class SchemeComponent:
    """The optimal scheme after the user has said ``user_message`` (one profile over rounds).

    ``probability`` is P(user_message); ``prior`` the state belief it implies; ``scheme[x, m]``
    is P(message m | speaker signal x), with one column per :class:`SplitPoint`.
    """

    user_message: tuple[int, ...] | None
    probability: float
    prior: np.ndarray
    points: tuple[SplitPoint, ...]
    scheme: np.ndarray
    sender_value: float
    user_value: float


@dataclass(frozen=True)
class SingleSenderResult:
    """The best a speaker can do alone against this user (docs/science.md, "Single-sender optimum").

    ``sender_value`` is the optimum; ``user_value`` is the user's value at the chosen optimal
    scheme (for a best responder: the sender-optimal scheme that is best for her). ``components``
    give the scheme, one per profile of user messages it conditions on (a single component with
    ``user_message=None`` when she is silent or ``condition_on_user=False``).
    """

    speaker: str
    sender_value: float
    user_value: float
    method: str
    conditioned_on_user: bool
    components: tuple[SchemeComponent, ...] = field(default=())
    description: str = ""


def _user_message_split(
    game: Game, condition: bool
) -> list[tuple[tuple[int, ...] | None, float, np.ndarray, np.ndarray]]:
    """Split the problem on what the user says: ``[(z, P(z), prior_z, O_0 given z)]``.

    The user's messages over all rounds form a garbling ``Z[x0, z] = prod_t C_t[x0, z_t]`` of her
    signal. Given ``z``: ``prior_z(y) ∝ mu0(y) sum_x0 O_0[y, x0] Z[x0, z]`` and her signal has
    the channel ``O_0^z[y, x0] ∝ O_0[y, x0] Z[x0, z]``. Only signal values of positive
    probability are kept.
    """
    mu, o0 = game.prior, game.user.observation
    counts = game.user_message_counts
    if not condition or all(c == 1 for c in counts):
        keep = (mu @ o0) > PROB_TOL
        return [(None, 1.0, mu, normalise_rows(o0[:, keep])[0])]
    n_prof = math.prod(counts)
    if n_prof > MAX_USER_MESSAGE_PROFILES:
        raise ValueError(f"the user has {n_prof} message profiles over the rounds; limit {MAX_USER_MESSAGE_PROFILES}")
    out: list[tuple[tuple[int, ...] | None, float, np.ndarray, np.ndarray]] = []
    for z in itertools.product(*(range(c) for c in counts)):
        zch = np.ones(o0.shape[1])
        for t, zt in enumerate(z):
            zch = zch * game.user.conversation[t][:, zt]
        joint = mu[:, None] * o0 * zch[None, :]  # P(y, x0, z)
        pz = float(joint.sum())
        if pz <= PROB_TOL:
            continue
        prior_z = joint.sum(axis=1) / pz
        keep = joint.sum(axis=0) > PROB_TOL
        o0z = normalise_rows(joint[:, keep])[0]
        out.append((tuple(int(v) for v in z), pz, prior_z, o0z))
    return out


def obedience_lp(
    mu: np.ndarray, o0: np.ndarray, oi: np.ndarray, u: np.ndarray, ui: np.ndarray
) -> tuple[float, float, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Obedience LP over recommendations for every user type (best-responding user).

    Messages are ``r in A^{X0}`` (an action for each user signal). Variables ``pi[x, r] >= 0`` with
    ``sum_r pi[x, r] = 1``. With ``J[y, x, x0] = mu0(y) O_i[y, x] O_0[y, x0]``, obedience for each
    ``x0, r, a'``: ``sum_{y,x} J pi[x, r] (u[r(x0), y] - u[a', y]) >= 0``; maximise
    ``sum_{y,x,x0,r} J pi[x, r] U_i[r(x0), y]``. Ties go the sender's way (a supremum). A second LP
    maximises the user's utility over the schemes within :data:`SENDER_SLACK` of the optimum.

    Returns (sender value, user value, pi [X, R], recommendation table [R, X0], sender and user
    coefficient matrices [X, R]).
    """
    n_a = u.shape[0]
    n_x, n_x0 = oi.shape[1], o0.shape[1]
    n_r = n_a**n_x0
    if n_r * n_x > MAX_OBEDIENCE_VARIABLES:
        raise ValueError(
            f"the obedience LP needs {n_x} x {n_a}^{n_x0} = {n_r * n_x} variables, more than "
            f"{MAX_OBEDIENCE_VARIABLES}; the user's private signal has too many values"
        )
    recs = np.array(list(itertools.product(range(n_a), repeat=n_x0)), dtype=np.int64).reshape(n_r, n_x0)
    joint = mu[:, None, None] * oi[:, :, None] * o0[:, None, :]  # [Y, X, X0]
    u_rec = u[recs]  # [R, X0, Y]: u[r(x0), y]
    ui_rec = ui[recs]
    c_send = np.einsum("yxz,rzy->xr", joint, ui_rec)
    c_user = np.einsum("yxz,rzy->xr", joint, u_rec)
    # obedience rows (x0, r, a'): sum_x pi[x, r] D[x0, r, a', x] >= 0
    gain = u_rec[:, :, None, :] - u[None, None, :, :]  # [R, X0, A', Y]
    d = np.einsum("yxz,rzay->zrax", joint, gain)  # [X0, R, A', X]
    zz, rr, aa = np.meshgrid(np.arange(n_x0), np.arange(n_r), np.arange(n_a), indexing="ij")
    active = aa != recs[rr, zz]  # a' differs from the recommendation
    zz, rr, aa = zz[active], rr[active], aa[active]
    n_rows = zz.size
    rows = np.repeat(np.arange(n_rows), n_x)
    cols = (np.arange(n_x)[None, :] * n_r + rr[:, None]).reshape(-1)
    vals = -d[zz, rr, aa, :].reshape(-1)
    a_ub = sparse.csr_matrix((vals, (rows, cols)), shape=(n_rows, n_x * n_r)) if n_rows else None
    b_ub = np.zeros(n_rows) if n_rows else None
    a_eq = sparse.kron(sparse.eye(n_x), np.ones((1, n_r)), format="csr")
    b_eq = np.ones(n_x)
    res = optimize.linprog(
        -c_send.reshape(-1), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    if res.status != 0:
        raise RuntimeError(f"obedience LP failed: {res.message}")
    best = -float(res.fun)
    pi = res.x.reshape(n_x, n_r)
    # Second stage: among (near-)sender-optimal schemes, the one best for the user.
    row = sparse.csr_matrix(-c_send.reshape(1, -1))
    a_ub2 = sparse.vstack([a_ub, row]) if a_ub is not None else row
    b_ub2 = np.concatenate([b_ub if b_ub is not None else [], [-(best - SENDER_SLACK)]])
    res2 = optimize.linprog(
        -c_user.reshape(-1), A_ub=a_ub2, b_ub=b_ub2, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs"
    )
    if res2.status == 0:
        pi = res2.x.reshape(n_x, n_r)
    pi = np.clip(pi, 0.0, None)
    pi = pi / pi.sum(axis=1, keepdims=True)
    user = float((c_user * pi).sum())
    return best, user, pi, recs, c_send, c_user


def _to_scheme(n_signals: int, keep: np.ndarray, cols: list[np.ndarray]) -> np.ndarray:
    """Columns P(message | x) over the kept signals -> ``[X_i, m]`` with babbling rows elsewhere."""
    s = np.full((n_signals, len(cols)), 1.0 / max(len(cols), 1))
    if cols:
        s[keep, :] = np.stack(cols, axis=1)
    return s


@dataclass(frozen=True)
class _Component:
    """One single-sender problem: prior ``mu``, the user's channel ``o0`` and the speaker's kept
    signals ``keep`` (positive probability ``px``, posteriors ``post_x[x, y] = P(y | x)``)."""

    game: Game
    i: int
    mu: np.ndarray
    o0: np.ndarray
    keep: np.ndarray
    px: np.ndarray
    post_x: np.ndarray


def _obedience_component(c: _Component) -> tuple[float, float, list[SplitPoint], np.ndarray, str]:
    """A best responder: the obedience LP, one split point per recommendation used."""
    game, spk = c.game, c.game.speakers[c.i]
    oi = spk.observation[:, c.keep]
    best, user, pi, recs, c_send, c_user = obedience_lp(c.mu, c.o0, oi, game.user.utility, spk.utility)
    pr = c.px @ pi  # P(r)
    points, cols = [], []
    for r in np.flatnonzero(pr > PROB_TOL):
        q = c.px * pi[:, r] / pr[r]
        points.append(
            SplitPoint(
                weight=float(pr[r]),
                signal_belief=q,
                state_belief=q @ c.post_x,
                sender_value=float(c_send[:, r] @ pi[:, r] / pr[r]),
                user_value=float(c_user[:, r] @ pi[:, r] / pr[r]),
                actions=tuple(game.actions[a] for a in recs[r]),
            )
        )
        cols.append(pi[:, r])
    return best, user, points, _to_scheme(spk.n_signals, c.keep, cols), "obedience LP"


def _concavification_component(c: _Component, method: str) -> tuple[float, float, list[SplitPoint], np.ndarray, str]:
    """A response continuous in the belief: the concave closure of the sender's value at ``P(x)``."""
    game, spk = c.game, c.game.speakers[c.i]
    u, model = game.user.utility, game.user.model

    def g_send(q: np.ndarray) -> np.ndarray:
        return values_over_types(q @ c.post_x, c.o0, u, model, spk.utility[None], prior=game.prior)[1][..., 0]

    def g_user(q: np.ndarray) -> np.ndarray:
        return values_over_types(q @ c.post_x, c.o0, u, model, prior=game.prior)[0]

    n_x = c.keep.size
    if n_x == 1:
        pts, used = [(1.0, np.ones(1))], "no split (one signal)"
        value = float(g_send(np.ones((1, 1)))[0])
    elif n_x == 2 and method in ("auto", "exact"):

        def g1(t: np.ndarray) -> np.ndarray:
            t = np.asarray(t, dtype=float)
            return g_send(np.stack([1.0 - t, t], axis=-1))

        value, pairs = concavify_1d(g1, float(c.px[1]))
        pts = [(w, np.array([1.0 - t, t])) for w, t in pairs]
        used = f"concavification, exact 1-D ({GRID_1D}-point hull + refinement)"
    else:
        if method == "exact":
            raise ValueError("method='exact' needs a speaker with at most two signals of positive probability")
        value, pts, n_grid = concavify_grid(g_send, c.px)
        used = f"concavification, grid LP ({n_grid} beliefs) + local refinement"
    points, cols = [], []
    for w, belief in pts:
        q = np.asarray(belief, dtype=float)
        points.append(
            SplitPoint(
                weight=float(w),
                signal_belief=q,
                state_belief=q @ c.post_x,
                sender_value=float(g_send(q[None, :])[0]),
                user_value=float(g_user(q[None, :])[0]),
            )
        )
        cols.append(w * q / c.px)
    user = float(sum(p.weight * p.user_value for p in points))
    return value, user, points, _to_scheme(spk.n_signals, c.keep, cols), used


def _solve_component(
    game: Game, i: int, mu: np.ndarray, o0: np.ndarray, method: str
) -> tuple[float, float, list[SplitPoint], np.ndarray, str]:
    """Single-sender optimum for prior ``mu`` and user channel ``o0`` (the speaker's signals kept
    in the game's numbering). Returns (sender, user, points, scheme [X_i, m], method used)."""
    oi_full = game.speakers[i].observation
    px_full = mu @ oi_full
    keep = np.flatnonzero(px_full > PROB_TOL)
    oi = oi_full[:, keep]
    px = px_full[keep]
    post_x = (mu[:, None] * oi).T / px[:, None]  # [X, Y]: P(y | x)
    comp = _Component(game, i, mu, o0, keep, px, post_x)
    if game.user.model.analytic == "obedience":
        return _obedience_component(comp)
    return _concavification_component(comp, method)


def single_sender_optimum(
    game: Game, speaker: int | str, *, condition_on_user: bool = True, method: str = "auto"
) -> SingleSenderResult:
    """The best speaker ``speaker`` can do alone against this user, and her value then.

    The speaker sees ``x ~ O_i[y, :]``; the user has ``x0 ~ O_0[y, :]``, independent given ``y``.

    * a best responder (``analytic == "obedience"``): the obedience LP over recommendations
      ``r in A^{X0}`` (one action for each user signal), variables ``pi[x, r]`` (see
      :func:`obedience_lp`). A supremum: ties go the sender's way. ``user_value`` is the user's
      utility at the sender-optimal scheme that is best for her (a second LP maximises her
      utility subject to sender value ``>= optimum - 1e-12``).
    * ``analytic == "concavification"`` (e.g. a logit user): concavification over the speaker's
      own-signal simplex. A belief ``q`` over ``x`` induces ``p(y) = sum_x q(x) P(y|x)``; the
      objective is ``g(q) = sum_{x0} P(x0|p) sum_a P(a | p_x0) E_{p_x0} U_i(a)`` with
      ``p_x0 = Bayes(p, O_0[:, x0])`` and ``P(a | .)`` her user model's response; the value is the
      concave closure of ``g`` at ``q0 = P(x)``. Two signals: exact 1-D closure (hull on a
      20001-point grid, refined). More: an LP over a simplex grid of at most ~20000 beliefs
      (vertices and ``q0`` included), then refined locally. ``user_value = sum_j tau_j h(q_j)``,
      ``h`` her value at ``q_j``, at the chosen solution.
    * a non-Bayesian user with a finite rationality (she acts by logit on ``perceive(p, mu0)``,
      a continuous function of the Bayesian posterior): the same concavification, since the
      splitting argument only needs a response that is a function of the posterior;
    * no analytic solver (``analytic`` None): raises :class:`NoAnalyticOptimum` (a ``ValueError``).

    What the user says before the speaker speaks is a garbling ``z`` of ``x0`` that the speaker
    hears, so with ``condition_on_user=True`` (default) the problem is solved for each profile
    ``z`` of her messages over all rounds (prior ``P(y|z)``, her signal's channel given ``z``) and
    averaged: ``sum_z P(z) V_z``. This is the Bayes-plausibility bound for any number of rounds.
    For a silent user there is one profile and it is exactly the problem above;
    ``condition_on_user=False`` ignores her messages.

    Message spaces are taken to be rich enough for the optimal split (at most ``|X_i|`` messages
    for a concavification, ``|A|^{X0}`` for a best responder), as in the one-shot theory.

    ``method``: ``"auto"``; ``"grid"`` forces the grid LP even for two signals; ``"exact"``
    requires the 1-D method.
    """
    if method not in ("auto", "grid", "exact"):
        raise ValueError(f"method must be auto, grid or exact, got {method!r}")
    model = game.user.model
    if not model.bayesian and math.isfinite(model.rationality or math.inf):
        pass  # a smooth response to a perceived belief: concavification (docs/science.md, "Non-Bayesian users")
    elif model.analytic not in ("obedience", "concavification"):
        raise NoAnalyticOptimum(
            f"user model {model.label()!r} names no analytic single-sender solver (analytic = {model.analytic!r}): "
            "there is no single-sender optimum to report"
        )
    i = speaker_index(game, speaker)
    comps: list[SchemeComponent] = []
    used = ""
    split = _user_message_split(game, condition_on_user)
    for z, pz, mu_z, o0_z in split:
        s_val, u_val, points, scheme, used = _solve_component(game, i, mu_z, o0_z, method)
        comps.append(
            SchemeComponent(
                user_message=z,
                probability=pz,
                prior=mu_z,
                points=tuple(points),
                scheme=scheme,
                sender_value=s_val,
                user_value=u_val,
            )
        )
    sender = float(sum(c.probability * c.sender_value for c in comps))
    user = float(sum(c.probability * c.user_value for c in comps))
    conditioned = split[0][0] is not None
    result = SingleSenderResult(
        speaker=game.speakers[i].name,
        sender_value=sender,
        user_value=user,
        method=used,
        conditioned_on_user=conditioned,
        components=tuple(comps),
    )
    return _with_description(result)


def _with_description(r: SingleSenderResult) -> SingleSenderResult:
    lines = [
        f"speaker {r.speaker} alone ({r.method}): sender value {r.sender_value:.6f}, user value {r.user_value:.6f}"
    ]
    if r.conditioned_on_user:
        lines.append("  the scheme conditions on what the user says (one part per profile of her messages)")
    for c in r.components:
        ind = "  "
        if c.user_message is not None:
            lines.append(
                f"  after user messages {c.user_message} (prob {c.probability:.4f}, state prior {_fmt(c.prior)}):"
                f" sender {c.sender_value:.6f}, user {c.user_value:.6f}"
            )
            ind = "    "
        for p in c.points:
            act = f", recommends {'/'.join(p.actions)}" if p.actions is not None else ""
            lines.append(
                f"{ind}w.p. {p.weight:.4f}: belief over states {_fmt(p.state_belief)}{act}"
                f" (sender {p.sender_value:.4f}, user {p.user_value:.4f})"
            )
    return dataclasses.replace(r, description="\n".join(lines))
