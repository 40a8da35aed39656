"""Exact analytic quantities of a persuasion game (DESIGN.md section 2).

Notation: states ``y`` with prior ``mu0``; the user's utility ``u[a, y]``, rationality ``lam`` and
private channel ``O_0[y, x0]``; speaker ``i`` with utility ``U_i[a, y]`` and channel ``O_i[y, x]``.
Signals are independent given ``y``. At a belief ``p`` over states the user plays
``P(a) = softmax(lam * EU_p)(a)`` and her value is ``v_lam(p) = sum_a P(a) EU_p(a)``.

* :func:`no_information_value`   ``E_{x0}[v_lam(P(y | x0))]``
* :func:`full_information_value` ``E[v_lam(P(y | x0, x1..xk))]``
* :func:`bayes_optimal_value`    the same with ``lam = inf`` (OPT)
* :func:`logit_loss`             ``ln|A| / lam``: ``v_lam(p) >= max_a EU_p(a) - ln|A| / lam``
* :func:`hull_distance`          ``min_{w, c} max_{a,y} |sum_i w_i U_i[a,y] + c - u[a,y]|`` (LP)
* :func:`single_sender_optimum`  one speaker alone against this user: the obedience LP
  (``lam = inf``) or the concave closure of its value over its own-signal beliefs (finite lam)
* :func:`competition_bound`, :func:`best_ai_bound`  ``full information - 2 eps`` (cone eps)
* :func:`analytic_quantities`    all of the above as a JSON-ready mapping

Everything is exact up to LP/solver tolerances (about 1e-9), except the concave closure for a
speaker with three or more signals, which is an LP over a grid of beliefs (at most ~20000
points) refined by LPs over finer lattices around its support.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, sparse

from envs.game import Game
from eval.geometry import grid_resolution, simplex_grid, upper_hull
from envs.quantal import sender_value as _sender_value_at
from envs.quantal import user_value as _user_value_at

__all__ = [
    "HullFit",
    "SplitPoint",
    "SchemeComponent",
    "SingleSenderResult",
    "MAX_PROFILES",
    "no_information_value",
    "full_information_value",
    "bayes_optimal_value",
    "logit_loss",
    "hull_distance",
    "single_sender_optimum",
    "competition_bound",
    "best_ai_bound",
    "bound_premise_failure",
    "analytic_quantities",
]

#: Largest number of joint signal profiles :func:`full_information_value` will enumerate.
MAX_PROFILES = 1_000_000
#: Largest number of LP variables (speaker signals x recommendation profiles) in the obedience LP.
MAX_OBEDIENCE_VARIABLES = 2_000_000
#: Largest number of user-message profiles (over all rounds) the single-sender optimum splits on.
MAX_USER_MESSAGE_PROFILES = 100_000
#: Grid points of the 1-D concavification.
GRID_1D = 20001
#: Largest number of grid beliefs in the general (simplex-grid) concavification.
GRID_MAX_POINTS = 20000
#: Slack on the sender's optimum when choosing the user's best sender-optimal scheme.
SENDER_SLACK = 1e-12
#: Probabilities below this are treated as zero (dropped signals, unused messages).
PROB_TOL = 1e-12


# ---------------------------------------------------------------------------------------- helpers
def _lam(game: Game, lam: float | None) -> float:
    lam = game.user.rationality if lam is None else float(lam)
    if not lam > 0:
        raise ValueError(f"rationality lam must be > 0, got {lam}")
    return lam


def _normalise_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``x`` divided by their sums (zero rows become uniform) and the sums."""
    s = x.sum(axis=-1, keepdims=True)
    safe = np.where(s > 0, s, 1.0)
    out = np.where(s > 0, x / safe, 1.0 / x.shape[-1])
    return out, s[..., 0]


def _value_over_types(
    p: np.ndarray, o0: np.ndarray, u: np.ndarray, lam: float, util: np.ndarray | None = None
) -> np.ndarray:
    """``sum_{x0} P(x0 | p) * V(Bayes(p, O_0[:, x0]))`` for beliefs ``p`` [..., Y].

    ``V`` is the user's value ``v_lam`` when ``util`` is None, else the expected ``util`` (a
    speaker's utility) under her quantal response. The user's signal ``x0`` is drawn from
    ``O_0[y, :]`` given the state, independently of whatever produced ``p``.
    """
    joint = p[..., :, None] * o0  # [..., Y, X0]
    joint = np.moveaxis(joint, -1, -2)  # [..., X0, Y]
    post, px0 = _normalise_rows(joint)  # post [..., X0, Y], px0 [..., X0]
    if util is None:
        val = _user_value_at(post, u, lam)
    else:
        val = _sender_value_at(post, u, util, lam)
    return (px0 * val).sum(axis=-1)


def _speaker_index(game: Game, speaker: int | str) -> int:
    if isinstance(speaker, str):
        return game.speaker_index(speaker)
    i = int(speaker)
    if not 0 <= i < game.n_speakers:
        raise IndexError(f"speaker index {i} out of range for {game.n_speakers} speakers")
    return i


def _fmt(x: np.ndarray, digits: int = 4) -> str:
    return "(" + ", ".join(f"{v:.{digits}f}" for v in np.asarray(x, dtype=float)) + ")"


# ------------------------------------------------------------------------- information values
def no_information_value(game: Game) -> float:
    """The user's value with only her own signal: ``E_{x0}[v_lam(P(y | x0))]``.

    ``P(x0) = sum_y mu0(y) O_0[y, x0]`` and ``P(y | x0) ∝ mu0(y) O_0[y, x0]``; with no private
    signal this is ``v_lam(mu0)``.
    """
    lam = _lam(game, None)
    return float(_value_over_types(game.prior, game.user.observation, game.user.utility, lam))


def full_information_value(game: Game, lam: float | None = None) -> float:
    """The user's value when everything every party observes is revealed to her.

    ``E[v_lam(P(y | x0, x1..xk))]`` with ``P(y, x0, x1..xk) = mu0(y) O_0[y, x0] prod_i O_i[y, x_i]``,
    enumerating every signal profile. When some speaker sees the state the posterior is a point
    mass and the value is ``sum_y mu0(y) v_lam(delta_y)``. ``lam`` defaults to the game's.

    Raises ``ValueError`` if the number of signal profiles exceeds :data:`MAX_PROFILES`.
    """
    lam = _lam(game, lam)
    u = game.user.utility
    n_y = game.n_states
    if any(s.sees_state for s in game.speakers):
        return float(game.prior @ _user_value_at(np.eye(n_y), u, lam))
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
    post, prob = _normalise_rows(joint.T)
    return float(prob @ _user_value_at(post, u, lam))


def bayes_optimal_value(game: Game) -> float:
    """OPT: the full-information value of a best-responding user (``lam = inf``)."""
    return full_information_value(game, lam=math.inf)


def logit_loss(game: Game) -> float:
    """``ln|A| / lam`` (0 for a best responder): ``v_lam(p) >= max_a EU_p(a) - ln|A| / lam``.

    Hence full information ``>=`` OPT ``- ln|A| / lam``.
    """
    lam = game.user.rationality
    return 0.0 if math.isinf(lam) else math.log(game.n_actions) / lam


# ------------------------------------------------------------------------------- hull distance
@dataclass(frozen=True)
class HullFit:
    """Best fit ``sum_i w_i U_i + c`` to the user's utility in the sup norm.

    ``epsilon = max_{a,y} |sum_i weights[i] U_i[a, y] + offset - u[a, y]|`` at the optimum;
    ``weights`` lie in the simplex, or only ``>= 0`` for the cone fit (``cone=True``).
    """

    epsilon: float
    weights: np.ndarray
    offset: float
    cone: bool = False


def _fit(u: np.ndarray, us: np.ndarray, cone: bool) -> HullFit:
    """LP: min t s.t. |sum_i w_i U_i[a,y] + c - u[a,y]| <= t, w >= 0, (sum w = 1), c free."""
    k = us.shape[0]
    cells = us.reshape(k, -1).T  # [cells, k]
    target = u.reshape(-1)
    n = cells.shape[0]
    ones = np.ones((n, 1))
    # variables: w (k), c, t
    a_ub = np.vstack([np.hstack([cells, ones, -ones]), np.hstack([-cells, -ones, -ones])])
    b_ub = np.concatenate([target, -target])
    cost = np.zeros(k + 2)
    cost[-1] = 1.0
    bounds = [(0, None)] * k + [(None, None), (0, None)]
    if cone or k == 0:
        a_eq = b_eq = None
    else:
        a_eq = np.concatenate([np.ones(k), [0.0, 0.0]])[None, :]
        b_eq = np.array([1.0])
    res = optimize.linprog(cost, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"hull-distance LP failed: {res.message}")
    w = np.clip(res.x[:k], 0.0, None)
    c = float(res.x[k]) + 0.0  # no negative zero
    eps = float(np.max(np.abs(np.tensordot(w, us, axes=1) + c - u))) if k else float(np.max(np.abs(c - u)))
    return HullFit(epsilon=eps, weights=w, offset=c, cone=cone)


def hull_distance(game: Game, cone: bool = False) -> HullFit:
    """Distance of the user's utility to the convex hull (or cone) of the speakers' utilities.

    ``eps = min_{w, c} max_{a, y} |sum_i w_i U_i[a, y] + c - u[a, y]|`` over ``w >= 0`` with
    ``sum_i w_i = 1`` (dropped when ``cone=True``) and a free offset ``c``, solved as the LP
    ``min t`` subject to ``-t <= sum_i w_i U_i[a, y] + c - u[a, y] <= t`` with HiGHS. The
    reported epsilon is re-evaluated at the returned weights. The cone distance is never larger.
    """
    return _fit(game.user.utility, game.speaker_utilities, cone)


# ------------------------------------------------------------------------ single-sender optimum
@dataclass(frozen=True)
class SplitPoint:
    """One message of the optimal scheme: the beliefs it induces and what it is worth.

    ``weight`` is its probability (within its component); ``signal_belief`` is ``q(x)``, the
    belief over the speaker's own signals, and ``state_belief`` is ``p(y) = sum_x q(x) P(y|x)``
    (before the user's own signal); ``actions`` is, for a best responder, the recommended
    action for each of her signal values of positive probability, in order (``None`` for a
    logit user).
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
    """The best a speaker can do alone against this user (DESIGN.md section 2).

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


def _user_message_split(game: Game, condition: bool) -> list[tuple[tuple[int, ...] | None, float, np.ndarray, np.ndarray]]:
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
        return [(None, 1.0, mu, _normalise_rows(o0[:, keep])[0])]
    n_prof = math.prod(counts)
    if n_prof > MAX_USER_MESSAGE_PROFILES:
        raise ValueError(f"the user has {n_prof} message profiles over the rounds; limit {MAX_USER_MESSAGE_PROFILES}")
    out = []
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
        o0z = _normalise_rows(joint[:, keep])[0]
        out.append((tuple(int(v) for v in z), pz, prior_z, o0z))
    return out


def _obedience_lp(
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
    res = optimize.linprog(-c_send.reshape(-1), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res.status != 0:
        raise RuntimeError(f"obedience LP failed: {res.message}")
    best = -float(res.fun)
    pi = res.x.reshape(n_x, n_r)
    # Second stage: among (near-)sender-optimal schemes, the one best for the user.
    row = sparse.csr_matrix(-c_send.reshape(1, -1))
    a_ub2 = sparse.vstack([a_ub, row]) if a_ub is not None else row
    b_ub2 = np.concatenate([b_ub if b_ub is not None else [], [-(best - SENDER_SLACK)]])
    res2 = optimize.linprog(-c_user.reshape(-1), A_ub=a_ub2, b_ub=b_ub2, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
    if res2.status == 0:
        pi = res2.x.reshape(n_x, n_r)
    pi = np.clip(pi, 0.0, None)
    pi = pi / pi.sum(axis=1, keepdims=True)
    user = float((c_user * pi).sum())
    return best, user, pi, recs, c_send, c_user


def _concavify_1d(g: Callable[[np.ndarray], np.ndarray], q0: float) -> tuple[float, list[tuple[float, float]]]:
    """Concave closure at ``q0`` of ``g`` on [0, 1]: returns (value, [(weight, q), ...]).

    The upper concave hull of ``g`` on a grid of :data:`GRID_1D` points brackets ``q0`` by the
    best pair ``q_lo <= q0 <= q_hi``; the pair is then refined by bounded scalar optimisation of
    the chord value ``((q_hi - q0) g(q_lo) + (q0 - q_lo) g(q_hi)) / (q_hi - q_lo)``. Not
    splitting (value ``g(q0)``) is always a candidate.
    """
    grid = np.linspace(0.0, 1.0, GRID_1D)
    h = grid[1] - grid[0]
    vals = g(grid)
    g1 = lambda q: float(g(np.array([q]))[0])  # noqa: E731
    g0 = g1(q0)

    def chord(lo: float, hi: float) -> float:
        if hi - lo <= 1e-15:
            return g0
        return ((hi - q0) * g1(lo) + (q0 - lo) * g1(hi)) / (hi - lo)

    hull = upper_hull(grid, vals)
    hx = grid[hull]
    pairs = []
    j = int(np.searchsorted(hx, q0, side="right"))  # hx[j-1] <= q0 < hx[j]
    for a in (j - 2, j - 1, j):
        if 0 <= a and a + 1 < len(hx) and hx[a] <= q0 + h and hx[a + 1] >= q0 - h:
            pairs.append((min(hx[a], q0), max(hx[a + 1], q0)))
    best_val, best_pair = g0, (q0, q0)
    for lo, hi in pairs:
        cur = chord(lo, hi)
        for _ in range(20):
            prev = cur
            lo_b = (max(0.0, lo - 2 * h), min(q0, lo + 2 * h))
            cands = [lo, lo_b[0], lo_b[1]]
            if lo_b[1] > lo_b[0]:
                r = optimize.minimize_scalar(lambda v: -chord(v, hi), bounds=lo_b, method="bounded", options={"xatol": 1e-13})
                cands.append(float(r.x))
            lo = max(cands, key=lambda v: chord(v, hi))
            hi_b = (max(q0, hi - 2 * h), min(1.0, hi + 2 * h))
            cands = [hi, hi_b[0], hi_b[1]]
            if hi_b[1] > hi_b[0]:
                r = optimize.minimize_scalar(lambda v: -chord(lo, v), bounds=hi_b, method="bounded", options={"xatol": 1e-13})
                cands.append(float(r.x))
            hi = max(cands, key=lambda v: chord(lo, v))
            cur = chord(lo, hi)
            if cur - prev <= 1e-15:
                break
        if cur > best_val:
            best_val, best_pair = cur, (lo, hi)
    lo, hi = best_pair
    if hi - lo <= 1e-15:
        return g0, [(1.0, q0)]
    w_hi = (q0 - lo) / (hi - lo)
    points = [(1.0 - w_hi, lo), (w_hi, hi)]
    return best_val, [(w, q) for w, q in points if w > PROB_TOL]


def _concavify_grid(g: Callable[[np.ndarray], np.ndarray], q0: np.ndarray) -> tuple[float, list[tuple[float, np.ndarray]], int]:
    """Concave closure at ``q0`` of ``g`` over the simplex: LP over weights of a grid of beliefs.

    ``max sum_j tau_j g(q_j)`` subject to ``sum_j tau_j q_j = q0`` and ``tau >= 0`` (which
    implies ``sum_j tau_j = 1``), over a simplex grid with denominators ``n`` (vertices included,
    at most :data:`GRID_MAX_POINTS` points) plus ``q0``. The support is then refined: each round
    re-solves the LP over the current support and a fine lattice around each support belief
    (spacing a fraction of the last), so the value never decreases; the final split is made
    exactly Bayes plausible. Returns (value, [(weight, belief)], number of beliefs in the first grid).
    """
    d = q0.size
    n = grid_resolution(d, GRID_MAX_POINTS - 1)
    grid = np.vstack([simplex_grid(d, n), q0[None, :]])
    n_grid = grid.shape[0]
    step = 1.0 / n

    def solve(points: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        vals = g(points)
        res = optimize.linprog(-vals, A_eq=points.T, b_eq=q0, bounds=(0, None), method="highs")
        if res.status != 0:
            raise RuntimeError(f"concavification LP failed: {res.message}")
        sup = np.flatnonzero(res.x > PROB_TOL)
        w = res.x[sup] / res.x[sup].sum()
        return float(w @ vals[sup]), w, points[sup]

    best, w, qs = solve(grid)
    # Local lattices in the tangent directions e_i - e_d, at most ~1500 points per support belief.
    k_side = 1
    while (2 * (k_side + 1) + 1) ** (d - 1) <= 1500:
        k_side += 1
    offs = np.array(list(itertools.product(range(-k_side, k_side + 1), repeat=d - 1)), dtype=float)
    basis = np.hstack([np.eye(d - 1), -np.ones((d - 1, 1))])  # rows e_i - e_d
    moves = offs @ basis  # [L, d]
    for _ in range(60):
        if step < 1e-10:
            break
        s = step / k_side
        local = (qs[:, None, :] + s * moves[None, :, :]).reshape(-1, d)
        local = local[np.all(local >= -1e-15, axis=1)]
        local = np.clip(local, 0.0, None)
        local = local / local.sum(axis=1, keepdims=True)
        cand = np.vstack([qs, q0[None, :], local])
        val, w2, qs2 = solve(cand)
        if val >= best:
            best, w, qs = val, w2, qs2
        step = s
    # The LP meets sum_j tau_j q_j = q0 only to its tolerance (~1e-7). Make the split exactly
    # Bayes plausible by scaling the columns of T[j, x] = tau_j q_j(x) to sum to q0(x) (new
    # weights are its row sums), merge beliefs closer than 1e-6 and re-evaluate.
    t = w[:, None] * qs
    t = t * (q0 / t.sum(axis=0))[None, :]
    merged: list[np.ndarray] = []
    for row in t:
        q = row / row.sum()
        for j, m in enumerate(merged):
            if np.abs(m / m.sum() - q).sum() < 1e-6:
                merged[j] = m + row
                break
        else:
            merged.append(row)
    t = np.array(merged)
    w = t.sum(axis=1)
    qs = t / w[:, None]
    best = float(w @ g(qs))
    return best, list(zip(w.tolist(), qs)), n_grid


def _solve_component(
    game: Game, i: int, mu: np.ndarray, o0: np.ndarray, method: str
) -> tuple[float, float, list[SplitPoint], np.ndarray, str]:
    """Single-sender optimum for prior ``mu`` and user channel ``o0`` (the speaker's signals kept
    in the game's numbering). Returns (sender, user, points, scheme [X_i, m], method used)."""
    spk = game.speakers[i]
    u, ui, lam = game.user.utility, spk.utility, game.user.rationality
    oi_full = spk.observation
    px_full = mu @ oi_full
    keep = np.flatnonzero(px_full > PROB_TOL)
    oi = oi_full[:, keep]
    px = px_full[keep]
    post_x = (mu[:, None] * oi).T / px[:, None]  # [X, Y]: P(y | x)
    n_x = keep.size

    def to_scheme(cols: list[np.ndarray]) -> np.ndarray:
        """Columns P(message | x) over kept signals -> [X_i, m] with babbling rows elsewhere."""
        s = np.full((oi_full.shape[1], len(cols)), 1.0 / max(len(cols), 1))
        if cols:
            s[keep, :] = np.stack(cols, axis=1)
        return s

    if math.isinf(lam):
        best, user, pi, recs, c_send, c_user = _obedience_lp(mu, o0, oi, u, ui)
        pr = px @ pi  # P(r)
        points, cols = [], []
        for r in np.flatnonzero(pr > PROB_TOL):
            q = px * pi[:, r] / pr[r]
            points.append(
                SplitPoint(
                    weight=float(pr[r]),
                    signal_belief=q,
                    state_belief=q @ post_x,
                    sender_value=float(c_send[:, r] @ pi[:, r] / pr[r]),
                    user_value=float(c_user[:, r] @ pi[:, r] / pr[r]),
                    actions=tuple(game.actions[a] for a in recs[r]),
                )
            )
            cols.append(pi[:, r])
        return best, user, points, to_scheme(cols), "obedience LP"

    def g_send(q: np.ndarray) -> np.ndarray:
        return _value_over_types(q @ post_x, o0, u, lam, util=ui)

    def g_user(q: np.ndarray) -> np.ndarray:
        return _value_over_types(q @ post_x, o0, u, lam)

    if n_x == 1:
        pts, used = [(1.0, np.ones(1))], "no split (one signal)"
        value = float(g_send(np.ones((1, 1)))[0])
    elif n_x == 2 and method in ("auto", "exact"):
        def g1(t: np.ndarray) -> np.ndarray:
            t = np.asarray(t, dtype=float)
            return g_send(np.stack([1.0 - t, t], axis=-1))

        value, pairs = _concavify_1d(g1, float(px[1]))
        pts = [(w, np.array([1.0 - t, t])) for w, t in pairs]
        used = f"concavification, exact 1-D ({GRID_1D}-point hull + refinement)"
    else:
        if method == "exact":
            raise ValueError("method='exact' needs a speaker with at most two signals of positive probability")
        value, pts, n_grid = _concavify_grid(g_send, px)
        used = f"concavification, grid LP ({n_grid} beliefs) + local refinement"
    points, cols = [], []
    for w, q in pts:
        q = np.asarray(q, dtype=float)
        points.append(
            SplitPoint(
                weight=float(w),
                signal_belief=q,
                state_belief=q @ post_x,
                sender_value=float(g_send(q[None, :])[0]),
                user_value=float(g_user(q[None, :])[0]),
            )
        )
        cols.append(w * q / px)
    user = float(sum(p.weight * p.user_value for p in points))
    return value, user, points, to_scheme(cols), used


def single_sender_optimum(
    game: Game, speaker: int | str, *, condition_on_user: bool = True, method: str = "auto"
) -> SingleSenderResult:
    """The best speaker ``speaker`` can do alone against this user, and her value then.

    The speaker sees ``x ~ O_i[y, :]``; the user has ``x0 ~ O_0[y, :]``, independent given ``y``.

    * ``lam = inf``: the obedience LP over recommendations ``r in A^{X0}`` (one action for each
      user signal), variables ``pi[x, r]`` (see :func:`_obedience_lp`). A supremum: ties go the
      sender's way. ``user_value`` is the user's utility at the sender-optimal scheme that is best
      for her (a second LP maximises her utility subject to sender value ``>= optimum - 1e-9``).
    * finite ``lam``: concavification over the speaker's own-signal simplex. A belief ``q`` over
      ``x`` induces ``p(y) = sum_x q(x) P(y|x)``; the objective is
      ``g(q) = sum_{x0} P(x0|p) sum_a softmax(lam EU_{p_x0})(a) E_{p_x0} U_i(a)`` with
      ``p_x0 = Bayes(p, O_0[:, x0])``; the value is the concave closure of ``g`` at ``q0 = P(x)``.
      Two signals: exact 1-D closure (hull on a 20001-point grid, refined). More: an LP over a
      simplex grid of at most ~20000 beliefs (vertices and ``q0`` included), then refined locally.
      ``user_value = sum_j tau_j h(q_j)``, ``h`` her value at ``q_j``, at the chosen solution.

    What the user says before the speaker speaks is a garbling ``z`` of ``x0`` that the speaker
    hears, so with ``condition_on_user=True`` (default) the problem is solved for each profile
    ``z`` of her messages over all rounds (prior ``P(y|z)``, her signal's channel given ``z``) and
    averaged: ``sum_z P(z) V_z``. This is the Bayes-plausibility bound for any number of rounds.
    For a silent user there is one profile and it is exactly the problem above;
    ``condition_on_user=False`` ignores her messages.

    Message spaces are taken to be rich enough for the optimal split (at most ``|X_i|`` messages
    for a logit user, ``|A|^{X0}`` for a best responder), as in the one-shot theory.

    ``method``: ``"auto"``; ``"grid"`` forces the grid LP even for two signals; ``"exact"``
    requires the 1-D method.
    """
    if method not in ("auto", "grid", "exact"):
        raise ValueError(f"method must be auto, grid or exact, got {method!r}")
    i = _speaker_index(game, speaker)
    comps: list[SchemeComponent] = []
    used = ""
    split = _user_message_split(game, condition_on_user)
    for z, pz, mu_z, o0_z in split:
        s_val, u_val, points, scheme, used = _solve_component(game, i, mu_z, o0_z, method)
        comps.append(
            SchemeComponent(
                user_message=z, probability=pz, prior=mu_z, points=tuple(points), scheme=scheme,
                sender_value=s_val, user_value=u_val,
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
    return _with_description(game, result)


def _with_description(game: Game, r: SingleSenderResult) -> SingleSenderResult:
    lines = [
        f"speaker {r.speaker} alone ({r.method}): sender value {r.sender_value:.6f}, user value {r.user_value:.6f}"
    ]
    if r.conditioned_on_user:
        lines.append("  the scheme conditions on what the user says (one part per profile of her messages)")
    for c in r.components:
        ind = "  "
        if c.user_message is not None:
            lines.append(f"  after user messages {c.user_message} (prob {c.probability:.4f}, state prior {_fmt(c.prior)}):"
                         f" sender {c.sender_value:.6f}, user {c.user_value:.6f}")
            ind = "    "
        for p in c.points:
            act = f", recommends {'/'.join(p.actions)}" if p.actions is not None else ""
            lines.append(
                f"{ind}w.p. {p.weight:.4f}: belief over states {_fmt(p.state_belief)}{act}"
                f" (sender {p.sender_value:.4f}, user {p.user_value:.4f})"
            )
    return dataclasses.replace(r, description="\n".join(lines))


# ------------------------------------------------------------------------------------- bounds
def bound_premise_failure(game: Game) -> str | None:
    """Why the competition bound's premises fail, or ``None`` when they hold.

    Premises: some speaker observes the state exactly (so it can deviate to full revelation)
    and ``messages ** rounds >= |Y|`` (so full revelation fits in the conversation).
    """
    if game.messages**game.rounds < game.n_states:
        return f"messages**rounds = {game.messages}**{game.rounds} < {game.n_states} states: full revelation does not fit"
    if not any(s.sees_state for s in game.speakers):
        return "no speaker observes the state exactly, so none can deviate to full revelation"
    return None


def _bound_fit(game: Game) -> HullFit | None:
    """Cone fit whose positive weights sit only on speakers that observe the state.

    The cone fit over all speakers is used when its positive weights satisfy this; otherwise it
    is refitted over the state-observing speakers alone (a larger but valid epsilon).
    """
    if bound_premise_failure(game) is not None:
        return None
    fit = hull_distance(game, cone=True)
    sees = np.array([s.sees_state for s in game.speakers])
    if np.all(sees | (fit.weights <= PROB_TOL)):
        return fit
    sub = _fit(game.user.utility, game.speaker_utilities[sees], cone=True)
    w = np.zeros(game.n_speakers)
    w[sees] = sub.weights
    return HullFit(epsilon=sub.epsilon, weights=w, offset=sub.offset, cone=True)


def competition_bound(game: Game) -> float | None:
    """Every equilibrium of the simultaneous protocol gives the user ``>= full information - 2 eps``.

    ``eps`` is the cone distance (the proof never uses ``sum_i w_i = 1``, so it may replace the
    hull distance and is never larger). Premises: every speaker with positive weight observes
    the state exactly and ``messages ** rounds >= |Y|``. When a positive weight of the best cone
    fit falls on a speaker that does not see the state, the fit is redone over the speakers that
    do. Returns ``None`` when no speaker sees the state or the messages are too few.
    """
    fit = _bound_fit(game)
    if fit is None:
        return None
    return full_information_value(game) - 2.0 * fit.epsilon


def best_ai_bound(game: Game) -> float | None:
    """Best-AI selection with exact evaluation: the user gets ``>= full information - 2 eps``.

    Same number and premises as :func:`competition_bound`: a positive-weight speaker that sees
    the state could deviate to full revelation and would then be selected.
    """
    return competition_bound(game)


# ------------------------------------------------------------------------------------- summary
def _fit_dict(fit: HullFit) -> dict[str, Any]:
    return {"epsilon": float(fit.epsilon), "weights": [float(w) for w in fit.weights], "offset": float(fit.offset)}


def analytic_quantities(game: Game) -> dict[str, Any]:
    """All analytic quantities as plain floats and lists (JSON-serialisable).

    Keys, in order: ``no_information``, ``full_information``, ``bayes_optimal``, ``hull``
    {``epsilon``, ``weights``, ``offset``}, ``single_sender`` {speaker: {``sender_value``,
    ``user_value``}}, ``competition_bound`` (``None`` when its premises fail), ``cone``
    {``epsilon``, ``weights``, ``offset``}, ``best_ai_bound``. Values are rounded to
    :data:`JSON_DECIMALS` decimals, below the linear programs' tolerance, so that an exact answer
    (0.7) is not printed as its solver rendering (0.700000000001).
    """
    hull = hull_distance(game)
    cone = hull_distance(game, cone=True)
    single = {}
    for s in game.speakers:
        r = single_sender_optimum(game, s.name)
        single[s.name] = {"sender_value": float(r.sender_value), "user_value": float(r.user_value)}
    bound = competition_bound(game)
    return _rounded({
        "no_information": no_information_value(game),
        "full_information": full_information_value(game),
        "bayes_optimal": bayes_optimal_value(game),
        "hull": _fit_dict(hull),
        "single_sender": single,
        "competition_bound": bound,
        "cone": _fit_dict(cone),
        "best_ai_bound": best_ai_bound(game) if bound is not None else None,
    })


#: Decimals kept in :func:`analytic_quantities` (the LPs are solved to about 1e-9 or better).
JSON_DECIMALS = 10


def _rounded(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _rounded(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_rounded(v) for v in x]
    if isinstance(x, float):
        return round(x, JSON_DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return x
