"""One best-response interface: a problem, the certified answer, the solvers and how they are chosen.

Exploitability and every dynamics ask one question: what is speaker ``i``'s best reply to the
others' fixed rules? (docs/science.md, "One best-response interface".) A
:class:`ResponseProblem` states it (the game, the protocol, every speaker's rule, the speaker,
and whether the reply must be *strict*, a rule that leaves a best-responding user no ties, which
is what dynamics play); a :class:`Response` answers it with

* ``rule``: an actual rule of the speaker (a scheme ``[R, X_i, M]`` or a history-dependent
  :class:`~persuaders.eval.response.rules.TableRule`), and ``lower``, its exact value;
* ``upper``: a certified bound no rule of the speaker beats (``inf`` when nothing certifies it);
* ``current``: the speaker's value under the rules it plays now.

So the speaker's best gain lies in ``[lower - current, upper - current]`` (clipped at 0), and the
rule that proves the lower end is the one a dynamics can play. A :class:`ResponseSolver` says
whether it applies to a problem (:meth:`ResponseSolver.supports`: ``None``, or why not) and
answers it (:meth:`ResponseSolver.respond`); solvers are registered by name
(:func:`register_solver`) with a priority. :func:`best_response` runs the applicable solvers in
priority order and intersects their brackets (the largest ``lower`` with its rule, the least
``upper``), stopping once the bracket is narrower than ``settle``.

**Conventions** (docs/science.md, "Exploitability"). For a best-responding user the exact
solvers' upper ends are suprema: her ties go the deviating speaker's way. So that current and
best values share one convention, :func:`current_value` scores the current profile with her ties
broken for speaker ``i`` wherever its own messages are what she acts on (every history under a
joint protocol; ``i``'s solo outcome under best-AI selection with exact scores). A strict rule has
no ties, so its value is the same under every convention. A logit user has no ties at all.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import numpy as np

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.protocols import BestAI, Protocol, exact_selection, resolve_protocol
from persuaders.envs.game.schemes import check_scheme, profile_list
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate, history_distribution, solo_outcomes
from persuaders.eval.response.deviation import favourable_value, solo_game

__all__ = [
    "EXACT_GAP",
    "Response",
    "ResponseProblem",
    "ResponseSolver",
    "NoSolver",
    "register_solver",
    "response_solvers",
    "solver_class",
    "current_value",
    "best_response",
]

#: Brackets narrower than this are settled: the best value is known (LP tolerances are about 1e-10).
EXACT_GAP = 1e-8


class NoSolver(ValueError):
    """No registered solver applies to a problem; the message lists each solver's reason."""


@dataclass(frozen=True)
class ResponseProblem:
    """Speaker ``speaker``'s best reply to the others' rules in ``profile`` (module docstring).

    ``profile`` lists every speaker's rule (arrays ``[X_i, M]`` or ``[R, X_i, M]``, or functions of
    the observation); ``strict`` asks for a rule without ties for a best-responding user (what
    dynamics play), with ``margins`` the user's expected-utility margins to try, largest first;
    ``increment`` is the user value by which a best-AI speaker that wants to be selected must
    beat the best rival (the literal :data:`~persuaders.eval.response.deviation.ETA` unless a
    dynamics accelerates a race); ``time_limit`` bounds each mixed-integer program in seconds;
    ``seed``, ``starts`` and ``steps`` tune randomised searches (random starts, gradient steps).
    ``scale`` multiplies the strict offsets of a dynamics accelerating a race; ``grid`` is the
    belief-grid size of a one-dimensional smooth response. ``settle``: a bracket narrower than
    this is settled; a solver may stop searching for a better rule once its certified upper bound
    is within ``settle`` of the best value in hand (the current rule's or its own), since no rule
    it could still find would gain more. ``deadline`` (a :func:`time.monotonic` reading): a solver
    that refines a certified bound stops refining there (the bracket stays valid, only wider).
    ``context`` carries data a caller already holds (for
    example the solo outcomes of a best-AI dynamics) and a solver's own options (``certify``: a
    logit user's certified pricing skipped), keyed by name.
    """

    game: Game
    protocol: Protocol
    profile: tuple[Any, ...]
    speaker: int
    strict: bool = False
    margins: tuple[float, ...] = ()
    increment: float | None = None
    time_limit: float = 20.0
    seed: int = 0
    starts: int = 16
    steps: int = 300
    scale: float = 1.0
    grid: int | None = None
    settle: float = EXACT_GAP
    deadline: float | None = None
    context: Mapping[str, Any] = field(default_factory=dict)
    _cache: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def for_speaker(self, i: int, **changes: Any) -> ResponseProblem:
        """The same question for speaker ``i`` (sharing what was computed once for the profile)."""
        return replace(self, speaker=i, **changes)

    @property
    def name(self) -> str:
        return self.game.speakers[self.speaker].name

    @property
    def open_loop(self) -> bool:
        """Whether every rule is a fixed array (no function of the observation)."""
        return all(not callable(s) for s in self.profile)

    @property
    def exact_selection(self) -> bool:
        """Best-AI selection with exact scores (the protocol the exact selection solvers handle)."""
        return isinstance(self.protocol, BestAI) and self.protocol.n_eval == "exact"

    def solo(self) -> tuple[np.ndarray, np.ndarray]:
        """``(user value [k], speaker values [k, k])`` with each speaker alone (computed once)."""
        if "solo" in self.context:
            out: tuple[np.ndarray, np.ndarray] = self.context["solo"]
            return out
        if "solo" not in self._cache:
            self._cache["solo"] = solo_outcomes(self.game, list(self.profile))
        out = self._cache["solo"]
        return out

    def joint(self) -> np.ndarray:
        """``P(y, x0, h)`` of the joint conversation under the profile (computed once)."""
        if "joint" not in self._cache:
            self._cache["joint"] = history_distribution(self.game, list(self.profile))
        out: np.ndarray = self._cache["joint"]
        return out

    @classmethod
    def make(
        cls,
        game: Game | str,
        profile: Any,
        speaker: int | str,
        protocol: Protocol | str = "simultaneous",
        n_eval: int | str | None = None,
        **options: Any,
    ) -> ResponseProblem:
        """A problem from a game (name, path or :class:`Game`), a profile (mapping by speaker name or
        list), a speaker (index or name) and a protocol (name or object)."""
        g = load_game(game)
        proto = resolve_protocol(protocol, n_eval)
        rules = profile_list(g, profile)
        checked = tuple(s if callable(s) else check_scheme(g, j, s) for j, s in enumerate(rules))
        i = g.speaker_index(speaker) if isinstance(speaker, str) else int(speaker)
        if not 0 <= i < g.n_speakers:
            raise ValueError(f"speaker: {speaker!r} is not a speaker of game '{g.name}' ({', '.join(g.speaker_names)})")
        return cls(g, proto, checked, i, **options)


@dataclass
class Response:
    """A certified best reply (module docstring): ``rule`` worth ``lower``, nothing above ``upper``.

    ``solver`` names the solver(s) whose answers were combined, ``method`` says how each worked,
    ``detail`` what the best reply does (``keep``, ``passed over``, ``selected``...) and ``needed``
    the most last-round messages the solver's relaxation used at an information set (0 when not
    computed; above ``M`` the cardinality constraint binds). ``extra`` holds what a solver returns
    for the dynamics that call it (a belief-line split, say).
    """

    speaker: str
    current: float
    lower: float
    upper: float
    rule: Any
    solver: str
    method: str
    detail: str = ""
    needed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def gain_lower(self) -> float:
        """The gain an actual rule achieves (``lower - current``, at least 0)."""
        return max(0.0, self.lower - self.current)

    @property
    def gain_upper(self) -> float:
        """No rule gains more (``upper - current``, at least 0; ``inf`` when uncertified)."""
        return max(0.0, self.upper - self.current)

    @property
    def gap(self) -> float:
        return self.upper - self.lower

    def settled(self, tol: float = EXACT_GAP) -> bool:
        """Whether the best value is known to within ``tol`` (a closed bracket)."""
        return self.gap <= tol


class ResponseSolver(ABC):
    """A way of answering :class:`ResponseProblem` s, registered by :attr:`name`.

    :attr:`priority` orders the solvers :func:`best_response` tries (lower first: exact and
    fast before general and slow); a :attr:`fallback` solver is tried only when none before it
    applies. :meth:`supports` returns ``None`` when the solver applies, else a sentence saying why
    not (shown when no solver applies).
    """

    name: ClassVar[str] = ""
    priority: ClassVar[int] = 100
    #: A fallback runs under ``auto`` only when no solver before it applied (a slow, general search).
    fallback: ClassVar[bool] = False

    @abstractmethod
    def supports(self, problem: ResponseProblem) -> str | None: ...

    @abstractmethod
    def respond(self, problem: ResponseProblem, current: float) -> Response: ...


_SOLVERS: dict[str, type[ResponseSolver]] = {}


def register_solver(cls: type[ResponseSolver]) -> type[ResponseSolver]:
    """Class decorator: make a solver available to :func:`best_response` under ``cls.name``."""
    if not cls.name:
        raise TypeError(f"register_solver: {cls.__name__} has no name")
    _SOLVERS[cls.name] = cls
    return cls


def response_solvers() -> tuple[str, ...]:
    """Registered solver names, in the order :func:`best_response` tries them."""
    return tuple(sorted(_SOLVERS, key=lambda n: (_SOLVERS[n].priority, n)))


def solver_class(name: str) -> type[ResponseSolver]:
    try:
        return _SOLVERS[name]
    except KeyError:
        known = ", ".join(response_solvers())
        raise ValueError(f"solver: unknown best-response solver {name!r}; choose one of {known}") from None


def current_value(problem: ResponseProblem) -> float:
    """Speaker ``i``'s value now, with a best responder's ties broken its way where its own
    messages are what she acts on (the convention of the module docstring)."""
    game, i, proto = problem.game, problem.speaker, problem.protocol
    best_responder = game.user.model.best_responder
    if proto.joint:
        if best_responder:
            return favourable_value(game, problem.joint(), i)
        return float(evaluate(game, list(problem.profile), proto).speaker_values[problem.name])
    if problem.exact_selection:
        solo_user, solo_spk = problem.solo()
        own = float(solo_spk[i, i])
        if best_responder:
            sg = solo_game(game, i)
            own = favourable_value(sg, history_distribution(sg, [problem.profile[i]]), 0)
        sel = exact_selection(solo_user)
        return float(sum(sel[w] * (own if w == i else solo_spk[w, i]) for w in range(game.n_speakers)))
    return float(evaluate(game, list(problem.profile), proto).speaker_values[problem.name])


def _combine(problem: ResponseProblem, current: float, answers: Sequence[Response]) -> Response:
    """One response from several solvers' (module docstring): the best actual rule, the least upper bound."""
    keep = Response(problem.name, current, current, math.inf, problem.profile[problem.speaker], "", "", "keep")
    best = max([keep, *answers], key=lambda r: r.lower)
    upper = min(r.upper for r in answers) if answers else math.inf
    upper = max(upper, best.lower)
    return Response(
        speaker=problem.name,
        current=current,
        lower=best.lower,
        upper=upper,
        rule=best.rule,
        solver="+".join(r.solver for r in answers),
        method="; then ".join(r.method for r in answers),
        detail=best.detail,
        needed=max((r.needed for r in answers), default=0),
        extra=best.extra,
    )


def best_response(
    problem: ResponseProblem,
    *,
    solver: str | Sequence[str] = "auto",
    settle: float | None = None,
    current: float | None = None,
) -> Response:
    """Speaker ``problem.speaker``'s certified best reply (module docstring).

    ``solver``: ``auto`` (every applicable registered solver, in priority order, until the
    bracket is narrower than ``settle``), one solver's name, or a list of names (tried in that
    order). A named solver that does not apply raises :class:`NoSolver` with its reason, as does
    a problem no solver applies to. ``settle`` defaults to ``problem.settle``. ``current`` may be
    passed when the caller already knows it.
    """
    names = response_solvers() if solver == "auto" else ((solver,) if isinstance(solver, str) else tuple(solver))
    reasons: dict[str, str] = {}
    chosen: list[ResponseSolver] = []
    for name in names:
        s = solver_class(name)()
        if solver == "auto" and s.fallback and chosen:
            continue
        why = s.supports(problem)
        if why is None:
            chosen.append(s)
        else:
            reasons[name] = why
    if not chosen:
        listed = "; ".join(f"{n}: {r}" for n, r in reasons.items())
        raise NoSolver(f"no best-response solver applies to speaker '{problem.name}' ({listed})")
    cur = current_value(problem) if current is None else current
    settle = problem.settle if settle is None else settle
    answers: list[Response] = []
    for s in chosen:
        answers.append(s.respond(problem, cur))
        combined = _combine(problem, cur, answers)
        if combined.settled(settle):
            return combined
    return _combine(problem, cur, answers)
