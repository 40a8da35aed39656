"""Maximum-likelihood estimates of user models from choice data (docs/fitting.md).

Each decision ``n`` has a prior ``mu_n`` and a likelihood ``L_n`` over states and an action
``a_n``. A model gives her perceived belief ``p~_n`` (docs/science.md, "Non-Bayesian users") and
the logit probability of her action:

    log P(a_n) = lam EU_n(a_n) - log sum_b exp(lam EU_n(b)),   EU_n(a) = sum_y p~_n(y) u[a, y],

* ``logit``: ``p~ = p ∝ mu L`` (parameter ``rationality``);
* ``grether``: ``p~ ∝ mu^alpha L^beta`` (``alpha``, ``beta``, ``rationality``);
* ``shrinkage``: ``p~ = (1 - w) p + w / |Y|`` (``w``, ``rationality``).

The log-likelihood is maximised (``scipy.optimize.minimize``, L-BFGS-B, several starts) over
transformed parameters that make the problem unconstrained: ``log rationality``, ``log alpha``,
``log beta``, ``logit w``. Standard errors come from the observed information: the numerical
Hessian ``H`` of the negative log-likelihood at the optimum (central differences) gives
``cov(theta) = H^-1``, and the delta method maps it back, ``se(g(theta)) = |g'(theta)| se(theta)``.
The 95% intervals are ``g(theta +- 1.96 se(theta))`` (Wald on the transformed scale, inside the
parameter's range), or, with ``bootstrap = B > 0``, the 2.5% and 97.5% percentiles of ``B``
refits on samples of *participants* drawn with replacement (of rows when there is a single
participant). ``AIC = 2k - 2 loglik``, ``BIC = k ln N - 2 loglik``; the chosen model has the
smallest BIC.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, special

from persuaders.envs.game.nonbayesian import GretherUser, ShrinkageUser
from persuaders.envs.game.spec import Game
from persuaders.envs.game.users import LogitUser, UserModel
from persuaders.eval.fitting.data import ChoiceData, DataError

__all__ = ["FIT_MODELS", "Fit", "fit_model", "fit_models", "log_likelihood", "model_from_params", "Z95"]

#: The two-sided 95% normal quantile.
Z95 = 1.959963984540054

#: Each model's parameters (as in the game file) in the order of the transformed vector.
FIT_MODELS: dict[str, tuple[str, ...]] = {
    "logit": ("rationality",),
    "grether": ("alpha", "beta", "rationality"),
    "shrinkage": ("w", "rationality"),
}
#: Bounds of the transformed parameters (log or logit scale): rationality in [e^-7, e^9], alpha and
#: beta in [e^-5, e^3], w in [sigmoid(-12), sigmoid(12)].
_BOUNDS = {"rationality": (-7.0, 9.0), "alpha": (-5.0, 3.0), "beta": (-5.0, 3.0), "w": (-12.0, 12.0)}


def _natural(name: str, t: np.ndarray) -> np.ndarray:
    out: np.ndarray = special.expit(t) if name == "w" else np.exp(t)
    return out


def _derivative(name: str, t: float) -> float:
    x = float(_natural(name, np.asarray(t)))
    return x * (1 - x) if name == "w" else x


def _transformed(name: str, x: float) -> float:
    return float(special.logit(x)) if name == "w" else math.log(x)


def log_likelihood(model: str, params: dict[str, float], data: ChoiceData, utility: np.ndarray) -> np.ndarray:
    """``log P(a_n)`` ``[N]`` of every decision under ``model`` with natural ``params`` (module docstring)."""
    with np.errstate(divide="ignore"):
        log_mu, log_l = np.log(data.prior), np.log(data.likelihood)
    possible = (data.prior > 0) & (data.likelihood > 0)
    a, b = (params["alpha"], params["beta"]) if model == "grether" else (1.0, 1.0)
    z = np.where(possible, a * np.where(possible, log_mu, 0.0) + b * np.where(possible, log_l, 0.0), -np.inf)
    belief = special.softmax(z, axis=1)
    if model == "shrinkage":
        belief = (1 - params["w"]) * belief + params["w"] / belief.shape[1]
    eu = params["rationality"] * (belief @ utility.T)
    out: np.ndarray = eu[np.arange(len(eu)), data.action] - special.logsumexp(eu, axis=1)
    return out


def model_from_params(model: str, params: dict[str, float]) -> UserModel:
    """The :class:`~persuaders.envs.game.users.UserModel` with fitted ``params`` (game-file names)."""
    if model == "logit":
        return LogitUser(params["rationality"])
    if model == "grether":
        return GretherUser(params["rationality"], params["alpha"], params["beta"])
    return ShrinkageUser(params["rationality"], params["w"])


@dataclass
class Fit:
    """One model's fit: ``params``, ``se`` (None where the information matrix is singular), ``ci``
    (``[low, high]``), ``loglik``, ``aic``, ``bic``, ``n`` decisions and ``theta`` (transformed)."""

    model: str
    params: dict[str, float]
    se: dict[str, float | None]
    ci: dict[str, list[float | None]]
    loglik: float
    aic: float
    bic: float
    n: int
    theta: np.ndarray = field(repr=False)

    def to_dict(self) -> dict[str, Any]:
        """The JSON entry ``{params, se, ci, loglik, aic, bic}``."""
        return {
            "params": dict(self.params),
            "se": dict(self.se),
            "ci": {k: list(v) for k, v in self.ci.items()},
            "loglik": self.loglik,
            "aic": self.aic,
            "bic": self.bic,
        }


def _objective(model: str, data: ChoiceData, utility: np.ndarray) -> Callable[[np.ndarray], float]:
    names = FIT_MODELS[model]

    def f(theta: np.ndarray) -> float:
        params = {k: float(_natural(k, np.asarray(t))) for k, t in zip(names, theta, strict=True)}
        return -float(log_likelihood(model, params, data, utility).sum())

    return f


def _starts(model: str, utility: np.ndarray, rng: np.random.Generator, n: int) -> list[np.ndarray]:
    spread = float(np.ptp(utility)) or 1.0
    base = {"rationality": math.log(5.0 / spread), "alpha": 0.0, "beta": 0.0, "w": _transformed("w", 0.1)}
    names = FIT_MODELS[model]
    out = [np.array([base[k] for k in names])]
    out.extend(np.array([base[k] + rng.normal(0, 1.0 if k != "w" else 2.0) for k in names]) for _ in range(n - 1))
    return out


def _maximise(f: Callable[[np.ndarray], float], starts: Sequence[np.ndarray], names: Sequence[str]) -> np.ndarray:
    bounds = [_BOUNDS[k] for k in names]
    best: tuple[float, np.ndarray] | None = None
    for start in starts:
        x0 = np.clip(start, [b[0] for b in bounds], [b[1] for b in bounds])
        res = optimize.minimize(f, x0, method="L-BFGS-B", bounds=bounds)
        if best is None or res.fun < best[0]:
            best = (float(res.fun), np.asarray(res.x))
    assert best is not None
    return best[1]


def _hessian(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of ``f`` at ``x``."""
    k = len(x)
    hess = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            ei, ej = np.eye(k)[i] * h, np.eye(k)[j] * h
            val = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
            hess[i, j] = hess[j, i] = val
    return hess


def _check_identified(model: str, data: ChoiceData, utility: np.ndarray) -> None:
    k = len(FIT_MODELS[model])
    if len(data) <= k:
        raise DataError(
            f"column action: {len(data)} decisions cannot identify the {k} parameter(s) of {model} "
            f"(need at least {k + 1})"
        )
    if model == "grether":
        varied = np.ptp(data.likelihood, axis=1) > 1e-12
        if not varied.any():
            raise DataError(
                "columns likelihood_*: the likelihoods are equal across states in every row, "
                "so grether's beta is not identified"
            )
        if not (np.ptp(data.prior, axis=1) > 1e-12).any():
            raise DataError("columns prior_*: the prior is uniform in every row, so grether's alpha is not identified")
    if model == "shrinkage" and np.ptp(utility.mean(axis=1)) < 1e-12:
        # EU_{p~}(a) = (1 - w) EU_p(a) + w mean_y u[a, y]: with equal means w only rescales lam.
        raise DataError(
            "--models: shrinkage's w is not identified in this game (every action has the same mean "
            "utility over states, so w only rescales the rationality); leave shrinkage out"
        )


def fit_model(model: str, data: ChoiceData, game: Game, *, starts: int = 4, bootstrap: int = 0, seed: int = 0) -> Fit:
    """Fit ``model`` (one of :data:`FIT_MODELS`) to ``data`` by maximum likelihood (module docstring)."""
    if model not in FIT_MODELS:
        raise DataError(f"--models: unknown model {model!r} (fittable: {', '.join(FIT_MODELS)})")
    _check_identified(model, data, game.user.utility)
    names, u = FIT_MODELS[model], game.user.utility
    rng = np.random.default_rng(seed)
    f = _objective(model, data, u)
    theta = _maximise(f, _starts(model, u, rng, starts), names)
    loglik = -f(theta)
    se_t: np.ndarray | None
    try:
        cov = np.linalg.inv(_hessian(f, theta))
        diag = np.diag(cov)
        se_t = np.sqrt(diag) if np.all(diag > 0) and np.all(np.isfinite(diag)) else None
    except np.linalg.LinAlgError:
        se_t = None
    params = {k: float(_natural(k, np.asarray(t))) for k, t in zip(names, theta, strict=True)}
    se: dict[str, float | None] = {
        k: None if se_t is None else abs(_derivative(k, theta[i])) * float(se_t[i]) for i, k in enumerate(names)
    }
    if bootstrap > 0:
        ci = _bootstrap(model, data, game, theta, bootstrap, rng)
    else:
        ci = {
            k: [None, None]
            if se_t is None
            else [float(_natural(k, np.asarray(theta[i] + s * Z95 * se_t[i]))) for s in (-1, 1)]
            for i, k in enumerate(names)
        }
    n, k = len(data), len(names)
    return Fit(model, params, se, ci, loglik, 2 * k - 2 * loglik, k * math.log(n) - 2 * loglik, n, theta)


def _bootstrap(
    model: str, data: ChoiceData, game: Game, theta: np.ndarray, reps: int, rng: np.random.Generator
) -> dict[str, list[float | None]]:
    """Percentile 95% intervals from ``reps`` refits on participant-clustered resamples."""
    names = FIT_MODELS[model]
    people = data.participants()
    if len(people) > 1:
        groups = [np.flatnonzero(data.participant == p) for p in people]
    else:
        groups = [np.array([r]) for r in range(len(data))]
    draws = np.empty((reps, len(names)))
    for b in range(reps):
        pick = rng.integers(0, len(groups), size=len(groups))
        sample = data.subset(np.concatenate([groups[g] for g in pick]))
        t = _maximise(_objective(model, sample, game.user.utility), [theta], names)
        draws[b] = [float(_natural(k, np.asarray(x))) for k, x in zip(names, t, strict=True)]
    lo, hi = np.percentile(draws, [2.5, 97.5], axis=0)
    return {k: [float(lo[i]), float(hi[i])] for i, k in enumerate(names)}


def fit_models(
    models: Sequence[str], data: ChoiceData, game: Game, *, starts: int = 4, bootstrap: int = 0, seed: int = 0
) -> dict[str, Any]:
    """Fit every model; returns ``{"models": {name: Fit.to_dict()}, "chosen": name}`` (smallest BIC)
    and, under ``"fits"``, the :class:`Fit` objects."""
    fits = {m: fit_model(m, data, game, starts=starts, bootstrap=bootstrap, seed=seed) for m in models}
    chosen = min(fits, key=lambda m: fits[m].bic)
    return {"models": {m: f.to_dict() for m, f in fits.items()}, "chosen": chosen, "fits": fits}
