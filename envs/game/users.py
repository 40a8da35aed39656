"""How the user acts on what she believes: user models, their registry, and the quantal response.

At a posterior ``p`` over states the user's expected utility of action ``a`` is
``EU(a) = sum_y p(y) u[a, y]``. A *user model* maps these expected utilities to action
probabilities (docs/science.md, "User models"). Two are built in:

* ``logit`` (quantal response) with rationality ``lam > 0``:
  ``P(a) = softmax(lam * EU)(a) = exp(lam * (EU(a) - max EU)) / sum_b exp(lam * (EU(b) - max EU))``,
  computed with the maximum subtracted so that any ``lam`` up to 1e9 is stable;
* ``best_response`` (``lam = inf``): the exact argmax, ties (within :data:`TIE_TOL`) split evenly.

Her value at ``p`` is ``v(p) = sum_a P(a) EU(a)``. Everything is vectorised over leading axes.

A new model is one subclass of :class:`UserModel` registered with :func:`register_user_model`;
a game file then selects it by name (``user: {model: NAME, <its parameters>}``) and every
environment, the exact evaluator and the learners use it without further change. The analytic
side needs more than the response: a model says through :attr:`UserModel.analytic` which
single-sender solver is valid for it, and where there is none the bounds say so.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import numpy as np

from persuaders.envs.game.registry import Registry
from persuaders.envs.game.validation import SpecError, as_float

if TYPE_CHECKING:  # torch is needed only by the differentiable payoff
    import torch

__all__ = [
    "TIE_TOL",
    "UserModel",
    "LogitUser",
    "BestResponseUser",
    "register_user_model",
    "user_model_class",
    "user_models",
    "user_model_from_rationality",
    "quantal_response",
    "favourable_response",
    "expected_utilities",
    "perceived",
    "response_at",
    "user_value",
    "sender_value",
]

#: Expected utilities closer than this count as a tie for a best-responding user.
TIE_TOL = 1e-9


# ---------------------------------------------------------------------------------- responses
def quantal_response(eu: np.ndarray, lam: float) -> np.ndarray:
    """Action probabilities ``softmax(lam * eu)`` over the last axis (argmax, ties split, if inf)."""
    eu = np.asarray(eu, dtype=np.float64)
    if not lam > 0:
        raise ValueError(f"rationality lam must be > 0, got {lam}")
    top = np.maximum.reduce(eu, axis=-1, keepdims=True)  # ufunc methods: no wrapper on tiny arrays
    if math.isinf(lam):
        best = (eu >= top - TIE_TOL).astype(np.float64)
        best /= np.add.reduce(best, axis=-1, keepdims=True)
        return best
    z = eu - top
    z *= lam
    np.exp(z, out=z)
    z /= np.add.reduce(z, axis=-1, keepdims=True)
    return z


def favourable_response(eu: np.ndarray, eu_i: np.ndarray) -> np.ndarray:
    """Best response with ties (within :data:`TIE_TOL`) broken for a speaker whose expected
    utilities are ``eu_i``, then split evenly: the convention of the persuasion LP suprema."""
    best = eu >= eu.max(axis=-1, keepdims=True) - TIE_TOL
    masked = np.where(best, eu_i, -np.inf)
    fav = best & (eu_i >= masked.max(axis=-1, keepdims=True) - 1e-12)
    out: np.ndarray = fav / fav.sum(axis=-1, keepdims=True)
    return out


def expected_utilities(posterior: np.ndarray, utility: np.ndarray) -> np.ndarray:
    """``EU[..., a] = sum_y posterior[..., y] * utility[a, y]``."""
    return np.asarray(posterior, dtype=np.float64) @ np.asarray(utility, dtype=np.float64).T


# ---------------------------------------------------------------------------------- the interface
M = TypeVar("M", bound="UserModel")


class UserModel(ABC):
    """How the user turns expected utilities into action probabilities.

    Subclasses set :attr:`name` (the game file's ``user.model``), :attr:`parameters` (the game
    file keys beside ``model`` that configure it) and implement :meth:`respond`. Optional:
    :meth:`respond_torch` (a differentiable response, for gradient-based best responses and the
    exact-gradient learner), :meth:`value_loss` (how far below the best action's expected
    utility her value can fall, for the logit-loss line) and :attr:`analytic`.
    """

    #: Registry key, the ``model`` a game file names.
    name: ClassVar[str] = ""
    #: Game-file keys (beside ``model``) that configure the model.
    parameters: ClassVar[tuple[str, ...]] = ()
    #: True for the exact best response: ties and the obedience LP apply.
    best_responder: ClassVar[bool] = False
    #: The single-sender solver valid for this model: ``"obedience"`` (a linear program over
    #: recommendations, for a best responder), ``"concavification"`` (the concave closure of the
    #: sender's value over beliefs, for a response continuous in the belief) or None (no analytic
    #: single-sender optimum: the bounds report it as unavailable).
    analytic: ClassVar[str | None] = None

    @classmethod
    def from_fields(cls: type[M], fields: Mapping[str, Any], where: str = "user") -> M:
        """Build the model from its game-file keys (a :class:`SpecError` names a bad one)."""
        if fields:
            key = next(iter(fields))
            raise SpecError(f"{where}.{key}", f"user model '{cls.name}' takes no parameter '{key}'")
        return cls()

    def fields(self) -> dict[str, Any]:
        """The game-file keys (beside ``model``) that rebuild this model."""
        return {}

    @property
    def bayesian(self) -> bool:
        """True when she acts on the Bayesian posterior itself (:meth:`perceive` is the identity)."""
        return True

    def perceive(self, posterior: np.ndarray, prior: np.ndarray) -> np.ndarray:
        """The belief ``[..., Y]`` she acts on at the Bayesian posterior ``[..., Y]`` given the common
        prior ``[Y]`` (docs/science.md, "Non-Bayesian users"); the identity for a Bayesian user."""
        return np.asarray(posterior, dtype=np.float64)

    def perceive_torch(self, posterior: torch.Tensor, prior: Any) -> torch.Tensor:
        """:meth:`perceive` on torch tensors, differentiable in the posterior."""
        return posterior

    def bayesian_equivalent(self, utility: np.ndarray, prior: np.ndarray) -> tuple[np.ndarray, UserModel] | None:
        """A Bayesian user ``(u~ [A, Y], model)`` who acts exactly as this one at every posterior,
        or None when there is none. A Bayesian model is its own equivalent."""
        return (np.asarray(utility, dtype=np.float64).copy(), self) if self.bayesian else None

    @abstractmethod
    def respond(self, eu: np.ndarray) -> np.ndarray:
        """Action probabilities ``[..., A]`` from expected utilities ``[..., A]``."""

    def respond_torch(self, eu: torch.Tensor, *, sharpness: float | None = None) -> torch.Tensor:
        """A differentiable response (torch). ``sharpness`` asks a discontinuous model for a
        smooth surrogate (the best responder plays ``softmax(sharpness * eu)``)."""
        raise NotImplementedError(f"user model '{self.name}' has no differentiable (torch) response")

    def value_loss(self, n_actions: int) -> float | None:
        """An upper bound on ``max_a EU(a) - v(p)`` over all beliefs, or None if unknown."""
        return None

    @property
    def rationality(self) -> float | None:
        """The logit rationality this model equals (``inf`` for the best responder), else None."""
        return None

    def label(self) -> str:
        """A short human-readable description, e.g. ``logit (lam = 10)``."""
        fields = ", ".join(f"{k} = {v}" for k, v in self.fields().items())
        return f"{self.name} ({fields})" if fields else self.name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.fields() == self.fields()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.fields().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.fields().items())
        return f"{type(self).__name__}({args})"


class LogitUser(UserModel):
    """Quantal response ``P(a) = softmax(lam * EU)(a)`` with rationality ``lam > 0`` (finite)."""

    name = "logit"
    parameters = ("rationality",)
    analytic = "concavification"

    def __init__(self, rationality: float):
        lam = float(rationality)
        if not (lam > 0 and math.isfinite(lam)):
            raise ValueError(f"rationality: expected a finite number > 0, got {rationality!r}")
        self.lam = lam

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], where: str = "user") -> LogitUser:
        extra = [k for k in fields if k != "rationality"]
        if extra:
            raise SpecError(f"{where}.{extra[0]}", "user model 'logit' takes only 'rationality'")
        if "rationality" not in fields:
            raise SpecError(f"{where}.rationality", "user model 'logit' needs a rationality > 0")
        lam = as_float(fields["rationality"], f"{where}.rationality", exclusive_minimum=0.0, allow_inf=True)
        if math.isinf(lam):
            raise SpecError(f"{where}.rationality", "inf is the best response: use model best_response (or omit model)")
        return cls(lam)

    def fields(self) -> dict[str, Any]:
        return {"rationality": self.lam}

    def respond(self, eu: np.ndarray) -> np.ndarray:
        return quantal_response(eu, self.lam)

    def respond_torch(self, eu: torch.Tensor, *, sharpness: float | None = None) -> torch.Tensor:
        import torch

        return torch.softmax(self.lam * eu, dim=-1)

    def value_loss(self, n_actions: int) -> float:
        """``ln|A| / lam``: ``v_lam(p) >= max_a EU_p(a) - ln|A| / lam`` (the entropy of a softmax)."""
        return math.log(n_actions) / self.lam

    @property
    def rationality(self) -> float:
        return self.lam

    def label(self) -> str:
        return f"logit (lam = {self.lam:g})"


class BestResponseUser(UserModel):
    """The exact best response (``lam = inf``): argmax, ties within :data:`TIE_TOL` split evenly."""

    name = "best_response"
    parameters = ("rationality",)
    best_responder = True
    analytic = "obedience"

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any], where: str = "user") -> BestResponseUser:
        extra = [k for k in fields if k != "rationality"]
        if extra:
            raise SpecError(f"{where}.{extra[0]}", "user model 'best_response' takes no parameters")
        if "rationality" in fields:
            lam = as_float(fields["rationality"], f"{where}.rationality", exclusive_minimum=0.0, allow_inf=True)
            if not math.isinf(lam):
                raise SpecError(f"{where}.rationality", f"a best responder has rationality inf, got {lam:g}")
        return cls()

    def respond(self, eu: np.ndarray) -> np.ndarray:
        return quantal_response(eu, math.inf)

    def respond_torch(self, eu: torch.Tensor, *, sharpness: float | None = None) -> torch.Tensor:
        import torch

        if sharpness is not None:
            return torch.softmax(sharpness * eu, dim=-1)
        best = (eu >= eu.max(dim=-1, keepdim=True).values - TIE_TOL).to(eu.dtype)
        return best / best.sum(dim=-1, keepdim=True)

    def value_loss(self, n_actions: int) -> float:
        return 0.0

    @property
    def rationality(self) -> float:
        return math.inf

    def label(self) -> str:
        return "best response (lam = inf)"


# ---------------------------------------------------------------------------------- registry
_REGISTRY: Registry[type[UserModel]] = Registry("user model", UserModel)


def register_user_model(cls: type[M], *, replace: bool = False) -> type[M]:
    """Register a :class:`UserModel` subclass under its :attr:`~UserModel.name` (a decorator).

    A name already taken raises ``ValueError`` unless ``replace=True``.
    """
    _REGISTRY.register(cls, replace=replace)
    return cls


def user_models() -> tuple[str, ...]:
    """Names of the registered user models."""
    return _REGISTRY.names()


def user_model_class(name: Any, where: str = "user.model") -> type[UserModel]:
    """The registered model called ``name`` (a :class:`SpecError` naming ``where`` lists the others)."""
    return _REGISTRY.get(name, where)


def user_model_from_rationality(lam: Any, where: str = "user.rationality") -> UserModel:
    """The built-in model for a rationality: ``inf`` is the best response, a number ``> 0`` logit."""
    value = as_float(lam, where, exclusive_minimum=0.0, allow_inf=True)
    return BestResponseUser() if math.isinf(value) else LogitUser(value)


register_user_model(LogitUser)
register_user_model(BestResponseUser)


# ---------------------------------------------------------------------------------- values
def perceived(posterior: np.ndarray, model: UserModel, prior: np.ndarray | None) -> np.ndarray:
    """The belief she acts on at ``posterior`` (:meth:`UserModel.perceive`); a non-Bayesian model
    needs the common ``prior`` (a ``ValueError`` says so when it is missing)."""
    if model.bayesian:
        return np.asarray(posterior, dtype=np.float64)
    if prior is None:
        raise ValueError(f"prior: user model {model.label()!r} is not Bayesian and needs the common prior")
    return model.perceive(posterior, prior)


def response_at(
    posterior: np.ndarray, utility: np.ndarray, model: UserModel, prior: np.ndarray | None = None
) -> np.ndarray:
    """The user's action probabilities at each Bayesian posterior (batch over leading axes):
    ``r(perceive(p, mu0))``; ``prior`` ``mu0`` is needed for a non-Bayesian model."""
    return model.respond(expected_utilities(perceived(posterior, model, prior), utility))


def user_value(
    posterior: np.ndarray, utility: np.ndarray, model: UserModel, prior: np.ndarray | None = None
) -> np.ndarray:
    """``v(p) = sum_a P(a | p) EU_p(a)``: the user's expected utility at the Bayesian posterior ``p``
    (she acts on her perceived belief, her utility is judged at ``p``)."""
    eu = expected_utilities(posterior, utility)
    out: np.ndarray = (response_at(posterior, utility, model, prior) * eu).sum(axis=-1)
    return out


def sender_value(
    posterior: np.ndarray,
    user_utility: np.ndarray,
    utility: np.ndarray,
    model: UserModel,
    prior: np.ndarray | None = None,
) -> np.ndarray:
    """``sum_a P(a | p) E_p U(a)``: a speaker's expected utility when the user acts at belief ``p``."""
    q = response_at(posterior, user_utility, model, prior)
    out: np.ndarray = (q * expected_utilities(posterior, utility)).sum(axis=-1)
    return out
