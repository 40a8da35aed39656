"""Non-Bayesian user models: she acts by logit or best response on a *perceived* belief.

A non-Bayesian user is a map from the Bayesian posterior ``p`` (and the common prior ``mu0``) to
the belief she acts on, ``p~ = perceive(p, mu0)``, followed by the logit response with
``rationality`` (``inf``: the best response). Two are registered (docs/science.md,
"Non-Bayesian users"):

* ``grether`` (Grether's weighting): ``p~(y) ∝ mu0(y)^alpha * L(y)^beta`` where ``L`` is the
  likelihood of everything she has heard (cumulative over rounds). Since ``L ∝ p / mu0``,
  ``p~(y) ∝ mu0(y)^(alpha - beta) * p(y)^beta`` and states with ``p(y) = 0`` keep ``p~(y) = 0``.
  ``alpha < 1`` is base-rate neglect, ``beta < 1`` conservatism, ``alpha = beta = 1`` Bayes.
* ``shrinkage`` (a perception-noised belief): ``p~ = (1 - w) p + w / |Y|``, ``w`` in ``[0, 1)``.

Both are functions of the Bayesian posterior, so the exact payoff engine, the environments and
the learners use them unchanged: they apply :meth:`UserModel.perceive` before the response.

:meth:`UserModel.bayesian_equivalent` gives, where one exists, a Bayesian user (utility ``u~``
and a built-in model) who acts *identically* at every posterior:

* ``shrinkage`` always: ``EU_{p~}(a) = sum_y p(y) u~[a, y]`` with
  ``u~[a, y] = (1 - w) u[a, y] + w * mean_y' u[a, y']`` (``p~`` is affine in ``p``), for logit and
  best response alike;
* ``grether`` with ``beta = 1`` and ``rationality = inf``: ``EU_{p~}(a) = sum_y p(y) mu0(y)^(alpha-1)
  u[a, y] / Z(p)`` with ``Z(p) > 0`` the same for every action, so the argmax is that of a
  Bayesian with ``u~[a, y] = u[a, y] mu0(y)^(alpha-1) / c`` (``c = max_y mu0(y)^(alpha-1)``).
  Under logit ``Z(p)`` rescales the rationality belief by belief, so only ``alpha = 1`` qualifies;
* ``grether`` with ``alpha = beta = 1`` (Bayes);
* any of them with two states and ``rationality = inf``: ``p~`` is increasing in ``p = P(state 1)``,
  so each action is optimal on an interval of posteriors, and a Bayesian best responder whose
  lines have the same breakpoints acts identically (:func:`threshold_equivalent`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import (
    BestResponseUser,
    LogitUser,
    UserModel,
    quantal_response,
    register_user_model,
    user_model_from_rationality,
)
from persuaders.envs.game.validation import SpecError, as_float

if TYPE_CHECKING:
    import torch

__all__ = ["PerceivingUser", "GretherUser", "ShrinkageUser", "bayesian_equivalent_game", "threshold_equivalent"]


def _envelope(u: np.ndarray) -> list[tuple[float, int]]:
    """The upper envelope of the lines ``EU_a(s) = u[a, 0] + s (u[a, 1] - u[a, 0])`` over ``s`` in
    [0, 1]: ``[(s_start, a), ...]`` in increasing ``s`` (of tied identical lines, the first)."""
    b, m = u[:, 0], u[:, 1] - u[:, 0]
    s, out = 0.0, []
    cur = max(range(len(b)), key=lambda a: (b[a], m[a], -a))
    while True:
        out.append((s, cur))
        # the first crossing by a steeper line; of lines crossing there, the steepest wins after it
        cands = [((b[cur] - b[a]) / (m[a] - m[cur]), -m[a], a) for a in range(len(b)) if m[a] > m[cur] + 1e-15]
        cands = [c for c in cands if c[0] >= s - 1e-15]
        if not cands or min(cands)[0] >= 1.0:
            return out
        x, _, cur = min(cands)
        s = max(x, s)


def threshold_equivalent(utility: np.ndarray, inverse: Callable[[float], float]) -> tuple[np.ndarray, UserModel]:
    """A Bayesian best responder acting as a two-state user who best-responds to ``s = phi(p)``,
    ``phi`` increasing with inverse ``inverse`` (``p = P(state 1)``).

    Her action is optimal on an interval of ``s``, hence on the interval of ``p`` its ends map to.
    Lines ``L_i(p) = i p + b_i`` with ``b_0 = 0`` and ``b_i = b_(i-1) - t_(i-1)`` (``t`` the
    breakpoints in ``p``) have exactly those breakpoints and that order, so ``u~[a] = (b_i, b_i + i)``
    for the ``i``-th action of the envelope, identical utility rows sharing it, and a line below the
    envelope for actions never optimal; the rows are scaled into [-1, 1].
    """
    env = _envelope(utility)
    breaks = [inverse(s) for s, _ in env[1:]]
    tilde = np.empty_like(utility)
    b = 0.0
    lines = {}
    for i, (_, a) in enumerate(env):
        if i:
            b -= breaks[i - 1]
        lines[a] = (b, b + i)
    floor = min(min(v) for v in lines.values()) - 1.0
    for a in range(len(utility)):
        same = [e for e in lines if np.array_equal(utility[e], utility[a])]
        tilde[a] = lines[same[0]] if same else (floor, floor)
    return tilde / np.abs(tilde).max(), BestResponseUser()


class PerceivingUser(UserModel):
    """A user who acts by logit (finite ``rationality``) or best response (``inf``) on a perceived
    belief ``p~ = perceive(p, mu0)``. Subclasses define :meth:`perceive` and :meth:`perceive_torch`
    and their own parameters (beside ``rationality``)."""

    #: The model's own parameters: (key, lower bound, upper bound or None, lower bound included).
    own: tuple[tuple[str, float, float | None, bool], ...] = ()
    analytic = None

    @classmethod
    def _out_of_range(cls, key: str, v: float) -> str | None:
        """Why ``v`` is not a valid ``key`` (None when it is)."""
        _, low, high, closed = next(o for o in cls.own if o[0] == key)
        ok = math.isfinite(v) and (v >= low if closed else v > low) and (high is None or v < high)
        if ok:
            return None
        lo = f"[{low:g}" if closed else f"({low:g}"
        return f"expected a number in {lo}, {'inf' if high is None else f'{high:g}'}), got {v:g}"

    def __init__(self, rationality: float, **params: float):
        lam = float(rationality)
        if not lam > 0:
            raise ValueError(f"rationality: expected a number > 0 or inf, got {rationality!r}")
        self.lam = lam
        for key, *_ in self.own:
            v = float(params[key])
            why = self._out_of_range(key, v)
            if why:
                raise ValueError(f"{key}: {why}")
            setattr(self, key, v)

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], where: str = "user") -> PerceivingUser:
        allowed = ("rationality", *(o[0] for o in cls.own))
        extra = [k for k in fields if k not in allowed]
        if extra:
            raise SpecError(f"{where}.{extra[0]}", f"user model '{cls.name}' takes {', '.join(allowed)}")
        for key in allowed:
            if key not in fields:
                raise SpecError(f"{where}.{key}", f"user model '{cls.name}' needs {', '.join(allowed)}")
        lam = as_float(fields["rationality"], f"{where}.rationality", exclusive_minimum=0.0, allow_inf=True)
        params = {}
        for key, *_ in cls.own:
            v = as_float(fields[key], f"{where}.{key}")
            why = cls._out_of_range(key, v)
            if why:
                raise SpecError(f"{where}.{key}", why)
            params[key] = v
        return cls(lam, **params)

    def fields(self) -> dict[str, Any]:
        return {**{o[0]: getattr(self, o[0]) for o in self.own}, "rationality": self.lam}

    @property
    def best_response(self) -> bool:
        """True when she best-responds (``rationality = inf``) to her perceived belief."""
        return math.isinf(self.lam)

    @property
    def best_responder(self) -> bool:  # type: ignore[override]  # discontinuous: the numerical search anneals it
        return self.best_response

    @property
    def rationality(self) -> float:
        return self.lam

    def base(self) -> UserModel:
        """The Bayesian model she would be with the same rationality (logit or best response)."""
        return user_model_from_rationality(self.lam)

    def respond(self, eu: np.ndarray) -> np.ndarray:
        return quantal_response(eu, self.lam)

    def respond_torch(self, eu: torch.Tensor, *, sharpness: float | None = None) -> torch.Tensor:
        return self.base().respond_torch(eu, sharpness=sharpness)

    def value_loss(self, n_actions: int) -> float | None:
        """Unknown relative to the *true* expected utilities (she acts on ``p~``, not ``p``)."""
        return None if not self.bayesian else self.base().value_loss(n_actions)

    def two_state_equivalent(self, utility: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, UserModel] | None:
        """With two states and the best response, a Bayesian best responder who acts identically
        (module docstring), or None in any other case."""
        if not (self.best_response and len(prior) == 2):
            return None
        return threshold_equivalent(np.asarray(utility, dtype=np.float64), lambda s: self._inverse(s, prior))

    def _inverse(self, s: float, prior: np.ndarray) -> float:
        """The posterior ``p = P(state 1)`` at which she perceives ``s`` (bisection: ``perceive`` is
        increasing in ``p`` for two states)."""
        lo, hi = 0.0, 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if self.perceive(np.array([1.0 - mid, mid]), prior)[1] < s:
                lo = mid
            else:
                hi = mid
            if hi - lo < 1e-17:
                break
        return 0.5 * (lo + hi)

    def label(self) -> str:
        params = ", ".join(f"{o[0]} = {getattr(self, o[0]):g}" for o in self.own)
        return f"{self.name} ({params}, lam = {self.lam:g})"


class GretherUser(PerceivingUser):
    """Grether's weighting: ``p~(y) ∝ mu0(y)^(alpha - beta) p(y)^beta`` (module docstring)."""

    name = "grether"
    parameters = ("alpha", "beta", "rationality")
    own = (("alpha", 0.0, None, False), ("beta", 0.0, None, False))
    alpha: float
    beta: float

    def __init__(self, rationality: float, alpha: float, beta: float):
        super().__init__(rationality, alpha=alpha, beta=beta)

    @property
    def bayesian(self) -> bool:
        return self.alpha == 1.0 and self.beta == 1.0

    def perceive(self, posterior: np.ndarray, prior: np.ndarray) -> np.ndarray:
        p = np.asarray(posterior, dtype=np.float64)
        mu = np.asarray(prior, dtype=np.float64)
        pos = p > 0
        with np.errstate(divide="ignore"):
            logp = np.log(np.where(pos, p, 1.0))
            z = np.where(pos, (self.alpha - self.beta) * np.log(mu) + self.beta * logp, -np.inf)
        z = z - z.max(axis=-1, keepdims=True)
        out: np.ndarray = np.exp(z)
        out /= out.sum(axis=-1, keepdims=True)
        return out

    def perceive_torch(self, posterior: torch.Tensor, prior: Any) -> torch.Tensor:
        import torch

        mu = torch.as_tensor(np.asarray(prior), dtype=posterior.dtype)
        pos = posterior > 0
        lp = torch.log(torch.where(pos, posterior, torch.ones_like(posterior)))
        z = (self.alpha - self.beta) * torch.log(mu) + self.beta * lp
        z = torch.where(pos, z, torch.full_like(z, -math.inf))
        return torch.softmax(z, dim=-1)

    def bayesian_equivalent(self, utility: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, UserModel] | None:
        u = np.asarray(utility, dtype=np.float64)
        if self.bayesian:
            return u.copy(), self.base()
        if self.beta == 1.0 and self.best_response:
            scale = np.asarray(prior, dtype=np.float64) ** (self.alpha - 1.0)
            return u * (scale / scale.max())[None, :], BestResponseUser()
        return self.two_state_equivalent(u, prior)


class ShrinkageUser(PerceivingUser):
    """A perception-noised belief ``p~ = (1 - w) p + w / |Y|`` (module docstring)."""

    name = "shrinkage"
    parameters = ("w", "rationality")
    own = (("w", 0.0, 1.0, True),)
    w: float

    def __init__(self, rationality: float, w: float):
        super().__init__(rationality, w=w)

    @property
    def bayesian(self) -> bool:
        return self.w == 0.0

    def perceive(self, posterior: np.ndarray, prior: np.ndarray) -> np.ndarray:
        p = np.asarray(posterior, dtype=np.float64)
        out: np.ndarray = (1.0 - self.w) * p + self.w / p.shape[-1]
        return out

    def perceive_torch(self, posterior: torch.Tensor, prior: Any) -> torch.Tensor:
        return (1.0 - self.w) * posterior + self.w / posterior.shape[-1]

    def bayesian_equivalent(self, utility: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, UserModel] | None:
        u = np.asarray(utility, dtype=np.float64)
        tilde = (1.0 - self.w) * u + self.w * u.mean(axis=1, keepdims=True)
        return tilde, BestResponseUser() if self.best_response else LogitUser(self.lam)


register_user_model(GretherUser)
register_user_model(ShrinkageUser)


def bayesian_equivalent_game(game: Game) -> Game | None:
    """The game with the user replaced by her Bayesian equivalent (utility ``u~``, a built-in
    model), or None when her model has none; ``game`` itself when she is Bayesian.

    Every outcome ``P(a, y)`` is the same in both games, so every speaker's payoff, every best
    response and the exploitability are the same; *her* welfare must still be evaluated with her
    own utility in ``game`` (``u~`` is not her utility). Under a selection protocol the user
    chooses by her own exact value, which ``u~`` does not preserve: use it for joint protocols.
    """
    model = game.user.model
    if model.bayesian:
        return game
    eq = model.bayesian_equivalent(game.user.utility, game.prior)
    if eq is None:
        return None
    utility, bayes = eq
    d = game.to_dict()
    user = {k: v for k, v in d["user"].items() if k not in ("model", *type(model).parameters)}
    user.update({"utility": utility.tolist(), "model": bayes.name, **bayes.fields()})
    d["user"] = user
    d["name"] = f"{game.name} (Bayesian equivalent)"
    return Game.from_dict(d, source=game.source)
