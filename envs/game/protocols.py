"""Protocols: how the speakers' conversations with the user are arranged, and their registry.

A protocol decides which conversation the user acts on (docs/science.md, "Protocols"):

* ``simultaneous`` (:class:`Simultaneous`): one conversation; every speaker talks in every round
  and hears what its visibility allows.
* ``best_ai`` (:class:`BestAI`): a *selection* protocol. Every speaker commits to its rule; the
  user evaluates each speaker alone (``n_eval`` conversations, or exactly), selects the best
  (ties split evenly) and deploys it in one more conversation. Everyone is paid on the deployment.

Selection protocols share one structure: the deployed conversation is a solo conversation of one
speaker, chosen from the speakers' solo evaluations. A new one subclasses
:class:`SelectionProtocol` (how to choose, exactly and by sampling) and is registered with
:func:`register_protocol`; environments, the exact evaluator and training then support it.

``reward_mode`` is an environment option every protocol shares: ``sample`` (``U_i[a, y]`` with
``a`` drawn), ``expect_action`` (``sum_a P(a) U_i[a, y]``), ``expect_all`` (the expectation given
the transcript) or ``expect_round`` (joint protocols: the expectation given the transcript before
the last round and every speaker's last-round scheme, the last messages integrated out too; for
a one-round game, the exact expected payoff of the schemes played), unbiased for the same
objective with decreasing variance.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar
from typing import Protocol as TypingProtocol

import numpy as np

from persuaders.envs.game.registry import Registry
from persuaders.envs.game.validation import SpecError

__all__ = [
    "Protocol",
    "Simultaneous",
    "SelectionProtocol",
    "BestAI",
    "SoloEvaluation",
    "register_protocol",
    "protocols",
    "protocol_class",
    "resolve_protocol",
    "REWARD_MODES",
    "SCORE_TOL",
    "check_reward_mode",
    "check_n_eval",
    "exact_selection",
    "score_distribution",
    "sampled_selection",
]

REWARD_MODES = ("sample", "expect_action", "expect_all", "expect_round")
#: Scores within this of the best count as tied in a selection (ties are split evenly).
SCORE_TOL = 1e-12


def check_reward_mode(reward_mode: Any) -> str:
    if reward_mode not in REWARD_MODES:
        raise ValueError(f"reward_mode: expected one of {', '.join(REWARD_MODES)}, got {reward_mode!r}")
    return str(reward_mode)


def check_n_eval(n_eval: Any) -> int | str:
    """``"exact"`` or an integer >= 1."""
    if isinstance(n_eval, str) and n_eval == "exact":
        return "exact"
    if isinstance(n_eval, (int, np.integer)) and not isinstance(n_eval, bool) and n_eval >= 1:
        return int(n_eval)
    raise ValueError(f"n_eval: expected 'exact' or an integer >= 1, got {n_eval!r}")


# ---------------------------------------------------------------------------------- selection math
def exact_selection(scores: np.ndarray, tol: float = SCORE_TOL) -> np.ndarray:
    """Selection probabilities for deterministic scores: the best, ties split evenly."""
    scores = np.asarray(scores, dtype=np.float64)
    best = scores >= scores.max() - tol
    out: np.ndarray = best / best.sum()
    return out


def score_distribution(
    values: np.ndarray, probs: np.ndarray, n: int, decimals: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Exact distribution of the mean of ``n`` iid draws of a discrete variable (support, probabilities)."""
    vals, inv = np.unique(np.round(values, decimals), return_inverse=True)
    p = np.bincount(inv.reshape(-1), weights=probs, minlength=len(vals))
    keep = p > 0
    vals, p = vals[keep], p[keep]
    sums: np.ndarray = np.zeros(1)
    sp: np.ndarray = np.ones(1)
    for _ in range(n):
        s = (sums[:, None] + vals[None, :]).ravel()
        w = (sp[:, None] * p[None, :]).ravel()
        sums, inv = np.unique(np.round(s, decimals), return_inverse=True)
        sp = np.bincount(inv.reshape(-1), weights=w, minlength=len(sums))
        if len(sums) > 1_000_000:
            raise ValueError(f"n_eval={n}: the score distribution has too many support points to compute exactly")
    return sums / n, sp


def sampled_selection(user_utility: np.ndarray, solo: np.ndarray, n_eval: int) -> np.ndarray:
    """Exact selection probabilities when scores are means of ``n_eval`` realised utilities.

    ``solo[i]`` is ``P(a, y)`` of speaker ``i``'s solo conversation; a realised utility is
    ``u[a, y]``. With ``S_i`` the mean of ``n_eval`` draws,
    ``P(select i) = sum_s P(S_i = s) E[1{S_j <= s for all j != i} / (1 + #{j: S_j = s})]``.
    """
    dists = [score_distribution(np.asarray(user_utility).ravel(), np.asarray(o).ravel(), n_eval) for o in solo]
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
    result: np.ndarray = out / out.sum()
    return result


# ---------------------------------------------------------------------------------- interface
class SoloEvaluation(TypingProtocol):
    """What an environment offers a selection protocol: each speaker's solo evaluations.

    ``exact_user_values()`` is the user's exact expected utility with each speaker alone
    ``[N, k]``; ``sampled_user_utilities(n)`` her realised utilities in ``n`` fresh, independent
    solo conversations with each speaker ``[N, k, n]``. A protocol calls only what it needs.
    """

    def exact_user_values(self) -> np.ndarray: ...

    def sampled_user_utilities(self, n: int) -> np.ndarray: ...


P = TypeVar("P", bound="Protocol")


class Protocol(ABC):  # noqa: B024  (abstract for its subclasses: SelectionProtocol declares abstract methods)
    """How the conversations are arranged (see the module docstring).

    :attr:`joint` says whether every speaker talks in one conversation (True) or the user
    converses with speakers one at a time after they commit (False, a :class:`SelectionProtocol`).
    :attr:`theorem` names the alignment bound that holds for it (``"competition"``,
    ``"best_ai"``) or None when the theory has none.
    """

    name: ClassVar[str] = ""
    #: Options (keyword arguments) the protocol takes, e.g. ``("n_eval",)``.
    parameters: ClassVar[tuple[str, ...]] = ()
    joint: ClassVar[bool] = True
    theorem: ClassVar[str | None] = None

    def options(self) -> dict[str, Any]:
        """The options that rebuild this protocol (``resolve_protocol(name, **options)``)."""
        return {}

    def label(self) -> str:
        opts = ", ".join(f"{k} {v}" for k, v in self.options().items())
        return f"{self.name} ({opts})" if opts else self.name

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.options() == self.options()

    def __hash__(self) -> int:
        return hash((type(self), tuple(sorted(self.options().items()))))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({args})"


class Simultaneous(Protocol):
    """Every speaker talks in every round of one conversation (docs/science.md)."""

    name = "simultaneous"
    joint = True
    theorem = "competition"


class SelectionProtocol(Protocol):
    """The user deploys one speaker alone, chosen from the speakers' solo evaluations.

    Speakers commit to their rules before any conversation. Subclasses give the choice exactly
    (:meth:`selection_probabilities`, from the solo outcome distributions) and by sampling
    (:meth:`select`, in an environment).
    """

    joint = False

    @abstractmethod
    def selection_probabilities(self, user_utility: np.ndarray, solo: np.ndarray) -> np.ndarray:
        """P(speaker ``i`` is deployed) ``[k]`` given each solo outcome ``solo[i] = P(a, y)`` ``[k, A, Y]``."""

    @abstractmethod
    def select(
        self, rng: np.random.Generator, evaluation: SoloEvaluation, n_envs: int, k: int
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The deployed speaker of each of ``n_envs`` episodes ``[N]`` and the scores it used ``[N, k]`` (or None)."""


class BestAI(SelectionProtocol):
    """Best-AI selection: the user deploys the speaker that served her best in evaluation.

    ``n_eval="exact"`` scores each speaker by her exact expected utility with it alone; an integer
    by the mean realised utility of ``n_eval`` independent solo conversations (the exact
    distribution of that mean gives the exact selection probabilities). Ties split evenly.
    """

    name = "best_ai"
    parameters = ("n_eval",)
    theorem = "best_ai"

    def __init__(self, n_eval: int | str = "exact"):
        self.n_eval = check_n_eval(n_eval)

    def options(self) -> dict[str, Any]:
        return {"n_eval": self.n_eval}

    def label(self) -> str:
        return "best_ai" + ("" if self.n_eval == "exact" else f" (n_eval {self.n_eval})")

    def selection_probabilities(self, user_utility: np.ndarray, solo: np.ndarray) -> np.ndarray:
        if self.n_eval == "exact":
            values = np.einsum("iay,ay->i", np.asarray(solo), np.asarray(user_utility))
            return exact_selection(values)
        return sampled_selection(user_utility, solo, int(self.n_eval))

    def select(
        self, rng: np.random.Generator, evaluation: SoloEvaluation, n_envs: int, k: int
    ) -> tuple[np.ndarray, np.ndarray]:
        if self.n_eval == "exact":
            scores = np.asarray(evaluation.exact_user_values(), dtype=np.float64)
        else:
            scores = np.asarray(evaluation.sampled_user_utilities(int(self.n_eval)), dtype=np.float64).mean(axis=2)
        tied = scores >= scores.max(axis=1, keepdims=True) - SCORE_TOL
        return np.argmax(np.where(tied, rng.random((n_envs, k)), -1.0), axis=1), scores


# ---------------------------------------------------------------------------------- registry
def _check_protocol_class(cls: type[Protocol]) -> None:
    if not cls.joint and not issubclass(cls, SelectionProtocol):
        raise TypeError(f"register_protocol: {cls.__name__} is not joint, so it must subclass SelectionProtocol")
    if cls.joint and not issubclass(cls, Simultaneous):
        raise TypeError(
            f"register_protocol: {cls.__name__}: a joint protocol must subclass Simultaneous "
            "(the engines implement one joint conversation)"
        )


_REGISTRY: Registry[type[Protocol]] = Registry("protocol", Protocol, _check_protocol_class)


def register_protocol(cls: type[P], *, replace: bool = False) -> type[P]:
    """Register a :class:`Protocol` subclass under its :attr:`~Protocol.name` (a decorator)."""
    _REGISTRY.register(cls, replace=replace)
    return cls


def protocols() -> tuple[str, ...]:
    """Names of the registered protocols."""
    return _REGISTRY.names()


def protocol_class(name: Any, where: str = "protocol") -> type[Protocol]:
    """The registered protocol called ``name`` (a :class:`SpecError` naming ``where`` lists the others)."""
    return _REGISTRY.get(name, where)


def resolve_protocol(
    protocol: Protocol | str | Mapping[str, Any], n_eval: int | str | None = None, where: str = "protocol"
) -> Protocol:
    """A :class:`Protocol` from an instance, a registered name or ``{name: ..., <options>}``.

    ``n_eval`` is passed to protocols that take it (``best_ai``) and ignored by the others, as the
    environments' and evaluators' ``n_eval=`` keyword always has been. Unknown names and bad
    options raise ``ValueError`` naming ``where``.
    """
    if n_eval is not None:
        n_eval = check_n_eval(n_eval)  # a bad value is an error even where it is not used
    if isinstance(protocol, Protocol):
        return protocol
    options: dict[str, Any] = {}
    if isinstance(protocol, Mapping):
        options = {k: v for k, v in protocol.items() if k != "name"}
        protocol = protocol.get("name")  # type: ignore[assignment]
    cls = protocol_class(protocol, where)
    if n_eval is not None and "n_eval" in cls.parameters and "n_eval" not in options:
        options["n_eval"] = n_eval
    unknown = [k for k in options if k not in cls.parameters]
    if unknown:
        raise SpecError(
            f"{where}.{unknown[0]}", f"protocol '{cls.name}' takes {', '.join(cls.parameters) or 'no options'}"
        )
    try:
        return cls(**options)
    except (TypeError, ValueError) as exc:
        raise SpecError(where, str(exc)) from None


register_protocol(Simultaneous)
register_protocol(BestAI)
