"""Best-response dynamics among the speakers of a game, with a certified verdict.

Gauss-Seidel: the speakers, in turn, replace their rule by a best response to the others' current
rules, asked of the best-response interface (:mod:`persuaders.eval.response`); a speaker moves
only when that gains it more than ``tol``. A run stops after a full pass in which nobody moves,
when it revisits a state three times (a best-response cycle) or after ``max_passes`` passes
(docs/science.md, "Best-response dynamics"). Both protocols are supported: ``simultaneous`` and
``best_ai`` with exact evaluation; races are accelerated by :mod:`persuaders.eval.dynamics.acceleration`.

**Engines.** In a one-round game where each speaker's own signal takes at most two values of
positive probability, a split of its prior is a distribution over one number in [0, 1]: the
belief-line solvers move the speakers (:mod:`persuaders.eval.dynamics.joint`,
:mod:`persuaders.eval.dynamics.selection`; engine ``line``). Every other game runs on the general
best responses (:mod:`persuaders.eval.dynamics.general`: sequence-form LPs and their exact
``M``-message programs, history-dependent rules in ``simultaneous``, closed-loop solo rules in
``best_ai``; engine ``general``).

**Verdicts** (docs/science.md, "Verdicts of the dynamics"). The final profile's exploitability is
certified (:func:`persuaders.eval.exploitability.exploitability`); ``converged`` is True only when
every speaker's certified upper gain is at most ``tolerance``. Otherwise ``reason`` says why:
``cycle``, ``max passes``, ``stalled race`` (a best-AI race creeping at its largest increment),
``gain found`` (the certificate found a gain above the tolerance that the run did not take; see
"Continuation") or ``uncertified`` (nobody gains more than the tolerance by any rule found, but
the certified bracket stays above it). Dynamics that do not converge are started
again from the next of ``starts`` (babbling, full revelation, seeded random rules:
:mod:`persuaders.eval.dynamics.starts`); ``start`` says which start reached the result and
``attempts`` what each start did.

**Time budget.** With ``time_limit`` (seconds for the whole call) the starts share the clock: each
start may begin passes until half of what is left has gone (the last start, until all of it has),
then stops with reason ``time budget``. Such a start is certified only when no later start has
time left (its certificate's ``M``-message programs then run for the dynamics' own limit,
``MILP_TIME_DYNAMICS``); otherwise the next start gets the time, and ``exploitability`` of that
attempt is empty. A start that stopped by itself while a later one still has time is certified
with a deadline, half of what is left: a logit user's pricing stops there, so a certificate that
would take minutes (a babbling profile of a game with more states than messages) ends with a
wider bracket, and the next start runs. No start begins once the budget is spent. A
best-response pass in a game of several rounds takes seconds, so a slow start no longer keeps
the later ones (full revelation often is an equilibrium reached in one pass) from running.

**Continuation.** A start whose certificate finds a gain above the tolerance goes on, up to
``MAX_CONTINUATIONS`` times while its share of the budget lasts: a line run on the general best
responses (the certificate's own solvers) from where it stopped; a general run (either protocol)
from its profile with the speaker the certificate found gaining most playing the certificate's
best rule (when the evaluator, ties split evenly, agrees that it gains). So the rule that
certifies a gain is a rule the dynamics play, and their moves can be cheaper than the certificate:
a logit user's moves are priced on the refined belief grid alone (the certified pricing, which
can take a minute per move, runs in the certificate). ``attempts`` records each stage.

``passes`` counts passes at the literal increment; ``accelerated_passes`` the kept accelerated
ones; ``max_passes`` bounds the former and ``20 * max_passes`` the latter, per stage and start.

**Non-Bayesian users** (docs/science.md, "Non-Bayesian users"). Under ``simultaneous`` a user
with a Bayesian equivalent is replaced by it for the dynamics and the certificate (the outcomes are
the same); the final ``user_value`` is evaluated with her own model and utility, while ``history``
records the equivalent user's values. A user without one (and with a differentiable response) gets
:func:`numerical_dynamics`: numerical best responses, never certified (``converged`` False,
``engine`` ``numerical``).

``persuaders-dynamics GAME [--protocol P] [--json]`` runs them on a game.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from persuaders.envs.game.catalog import load_game
from persuaders.envs.game.limits import check_count
from persuaders.envs.game.nonbayesian import bayesian_equivalent_game
from persuaders.envs.game.protocols import BestAI, Protocol, Simultaneous, resolve_protocol
from persuaders.envs.game.spec import Game
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.dynamics.acceleration import DynamicsOutcome
from persuaders.eval.dynamics.general import MILP_TIME_DYNAMICS, general_dynamics
from persuaders.eval.dynamics.joint import simultaneous_dynamics
from persuaders.eval.dynamics.selection import best_ai_dynamics
from persuaders.eval.dynamics.starts import DEFAULT_STARTS, check_start, start_profile
from persuaders.eval.exploitability import Exploitability, exploitability
from persuaders.eval.response.deviation import ETA
from persuaders.eval.response.line_solvers import DEFAULT_GRID, on_belief_line
from persuaders.eval.response.numerical_deviation import numerical_best_response, torch_response_available
from persuaders.eval.response.rules import rule_to_jsonable

__all__ = [
    "DEFAULT_GRID",
    "DEFAULT_TOLERANCE",
    "BRDynamicsResult",
    "best_response_dynamics",
    "on_belief_line",
    "ETA",
]

#: Default verdict tolerance: the certified upper gain of every speaker at an equilibrium. Above the
#: move threshold ``tol`` (1e-6) by the strict rules' margins and the solvers' brackets.
DEFAULT_TOLERANCE = 1e-5
#: Seconds each ``M``-message program of a start's certificate may run (the dynamics' own
#: :data:`~persuaders.eval.dynamics.general.MILP_TIME_DYNAMICS` after a start stopped on the time budget).
CERTIFICATE_MILP_TIME = 20.0


@dataclass
class BRDynamicsResult:
    """Outcome of best-response dynamics (module docstring).

    ``schemes[s]`` is speaker ``s``'s final rule (``[X, M]``, ``[R, X, M]`` or a history-dependent
    :class:`~persuaders.eval.response.rules.TableRule`); ``user_value`` and ``speaker_values`` are
    exact (:func:`persuaders.envs.payoff.evaluate`); ``exploitability`` is the certificate of the
    final profile (None with ``check=False``); ``converged`` and ``reason`` the verdict;
    ``history`` the user's value after each accepted pass; ``protocol`` the protocol's name;
    ``start`` and ``attempts`` the starts tried.
    """

    game: str
    protocol: str
    converged: bool
    passes: int
    schemes: dict[str, Any]
    user_value: float
    speaker_values: dict[str, float]
    exploitability: Exploitability | None
    history: list[float] = field(default_factory=list)
    accelerated_passes: int = 0
    selection: dict[str, float] = field(default_factory=dict)
    restricted: int = 0
    engine: str = "line"
    reason: str | None = None
    start: str = "babbling"
    tolerance: float = DEFAULT_TOLERANCE
    attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "game": self.game,
            "protocol": self.protocol,
            "converged": self.converged,
            "reason": self.reason,
            "tolerance": self.tolerance,
            "start": self.start,
            "attempts": list(self.attempts),
            "passes": self.passes,
            "accelerated_passes": self.accelerated_passes,
            "user_value": float(self.user_value),
            "speaker_values": {k: float(v) for k, v in self.speaker_values.items()},
            "selection": dict(self.selection),
            "exploitability": None if self.exploitability is None else self.exploitability.to_dict(),
            "schemes": {k: rule_to_jsonable(v) for k, v in self.schemes.items()},
            "profile": {k: rule_to_jsonable(v) for k, v in self.schemes.items()},
            "history": [float(h) for h in self.history],
            "restricted": self.restricted,
            "engine": self.engine,
        }


def _dynamics_protocol(protocol: Protocol | str) -> Protocol:
    """``simultaneous`` or ``best_ai`` with exact scores (the dynamics' best responses are exact)."""
    proto = resolve_protocol(protocol, "exact")
    if isinstance(proto, BestAI) and proto.n_eval == "exact":
        return proto
    if type(proto) is Simultaneous:
        return proto
    raise ValueError(
        f"best-response dynamics support simultaneous and best_ai with exact evaluation, not {proto.label()}"
    )


def _check_options(tol: float, tolerance: float, max_passes: int, grid: int | None) -> None:
    for name, v in (("tol", tol), ("tolerance", tolerance)):
        if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
            raise ValueError(f"{name}: must be a finite number >= 0, got {v!r}")
    if not (isinstance(max_passes, int) and max_passes >= 1):
        raise ValueError(f"max_passes: must be an integer >= 1, got {max_passes!r}")
    if grid is not None and not (isinstance(grid, int) and grid >= 3):
        raise ValueError(f"grid: must be an integer >= 3, got {grid!r}")
    if grid is not None:
        check_count(grid, "grid", "grid")


def _run(
    game: Game,
    proto: Protocol,
    line: bool,
    start: list[Any],
    tol: float,
    max_passes: int,
    grid: int,
    progress: bool,
    deadline: float | None,
) -> DynamicsOutcome:
    if not line:
        return general_dynamics(game, proto.joint, tol, max_passes, progress=progress, start=start, deadline=deadline)
    if proto.joint:
        return simultaneous_dynamics(game, tol, max_passes, grid, start, deadline)
    return best_ai_dynamics(game, tol, max_passes, grid, start, deadline)


#: Passes of the numerical fallback (each best response is a multi-start gradient search).
NUMERICAL_PASSES = 10


def numerical_dynamics(
    game: Game, proto: Protocol, tol: float, max_passes: int, tolerance: float, *, starts: int = 8, steps: int = 200
) -> BRDynamicsResult:
    """Gauss-Seidel dynamics of open-loop schemes on numerical best responses (multi-start gradient
    ascent on the differentiable payoff, :func:`~persuaders.eval.response.numerical_deviation.numerical_best_response`),
    for a user model with no exact solver (a non-Bayesian user without a Bayesian equivalent).

    From babbling, each speaker in turn moves to the best scheme found when it gains more than
    ``tol``; the run stops after a pass without a move or ``max_passes`` passes. A search finds
    lower bounds only, so the outcome is never certified: ``converged`` is False, with reason
    ``uncertified`` (no gain above ``tolerance`` found by the final exploitability search) or
    ``gain found``; ``engine`` is ``numerical``.
    """
    names = list(game.speaker_names)
    schemes = start_profile(game, "babbling")
    history, passes = [], 0
    for passes in range(1, max_passes + 1):
        moved = False
        for i, name in enumerate(names):
            now = evaluate(game, schemes, proto).speaker_values[name]
            best, scheme = numerical_best_response(
                game, i, schemes, proto, starts=starts, steps=steps, seed=passes * len(names) + i
            )
            if best > now + tol:
                schemes[i], moved = scheme, True
        history.append(evaluate(game, schemes, proto).user_value)
        if not moved:
            break
    expl = exploitability(schemes, game, protocol=proto, tol=tolerance, method="numerical", starts=starts, steps=steps)
    final = evaluate(game, schemes, proto)
    reason = "gain found" if expl.lower > tolerance else "uncertified"
    return BRDynamicsResult(
        game=game.name,
        protocol=proto.name,
        converged=False,
        passes=passes,
        schemes=dict(zip(names, schemes, strict=True)),
        user_value=final.user_value,
        speaker_values=final.speaker_values,
        exploitability=expl,
        history=history,
        selection=final.selection,
        engine="numerical",
        reason=reason,
        tolerance=tolerance,
    )


def _analysis_game(game: Game, proto: Protocol) -> Game:
    """The game the dynamics run on: a non-Bayesian user's Bayesian equivalent under a joint
    protocol (the same outcomes; module docstring), else the game itself."""
    if proto.joint and not game.user.model.bayesian:
        return bayesian_equivalent_game(game) or game
    return game


def _verdict(run: DynamicsOutcome, expl: Exploitability | None, tolerance: float) -> tuple[bool, str | None]:
    """(converged, reason): converged when every certified upper gain is within the tolerance."""
    if expl is None:
        return False, "unchecked"
    if expl.upper <= tolerance:
        return True, None
    if run.stop != "no move":
        return False, run.stop
    return False, "gain found" if expl.lower > tolerance else "uncertified"


def _attempt(
    name: str,
    engine: str,
    run: DynamicsOutcome,
    expl: Exploitability | None,
    converged: bool,
    reason: str | None,
    seconds: float,
) -> dict[str, Any]:
    return {
        "start": name,
        "engine": engine,
        "converged": converged,
        "reason": reason,
        "passes": run.passes,
        "accelerated_passes": run.accelerated_passes,
        "exploitability_upper": None if expl is None or not math.isfinite(expl.upper) else float(expl.upper),
        "exploitability_lower": None if expl is None else float(expl.lower),
        "user_value": run.history[-1] if run.history else None,
        "seconds": seconds,
    }


#: Times a start is continued after its certificate found a gain (module docstring, "Continuation").
MAX_CONTINUATIONS = 8


def _continuation(
    game: Game, proto: Protocol, from_line: bool, run: DynamicsOutcome, expl: Exploitability, tol: float
) -> list[Any] | None:
    """The profile a start continues from after its certificate found a gain, or None (module docstring).

    From a line run: its rules, now moved by the general best responses. Otherwise: the
    certificate's best rule of the speaker it found gaining most, played when the evaluator agrees
    that it gains more than ``tol`` (ties split evenly)."""
    rules = list(run.schemes.values())
    if from_line:
        return rules
    name = max(expl.gain_lower, key=lambda n: expl.gain_lower[n])
    i = game.speaker_names.index(name)
    now = evaluate(game, rules, proto).speaker_values[name]
    rules[i] = expl.best_schemes[name]
    if evaluate(game, rules, proto).speaker_values[name] <= now + tol:
        return None
    return rules


#: One start's outcome: (converged, upper gain, start, run, certificate, reason, engine, order).
_Result = tuple[bool, float, str, DynamicsOutcome, Exploitability | None, str | None, str, int]


def _try_starts(
    game: Game,
    proto: Protocol,
    line: bool,
    names: list[str],
    tol: float,
    tolerance: float,
    max_passes: int,
    grid: int | None,
    progress: bool,
    check: bool,
    time_limit: float | None,
) -> tuple[list[dict[str, Any]], list[_Result]]:
    """The dynamics from each start in ``names`` in turn, each certified, until one converges (module
    docstring, "Time budget"): what each start did, and each one's outcome (``_Result``)."""
    t0 = time.monotonic()
    attempts: list[dict[str, Any]] = []
    results: list[_Result] = []
    shared: dict[str, Any] = {"certificate_threads": {}}  # solo threads the certificates share

    def time_left(last: bool) -> bool:
        """Whether a later start still has time to run."""
        return time_limit is not None and not last and time.monotonic() < t0 + time_limit

    def certify(run: DynamicsOutcome, skip: bool) -> tuple[Exploitability | None, bool, str | None]:
        if not check:
            return None, *_verdict(run, None, tolerance)
        if skip and run.stop == "time budget":  # the next start gets the time instead
            return None, False, "time budget"
        milp_time = MILP_TIME_DYNAMICS if run.stop == "time budget" else CERTIFICATE_MILP_TIME
        # while a later start has time, this certificate may refine its bounds until half of what is left
        now = time.monotonic()
        cut = None if not skip or time_limit is None else now + (t0 + time_limit - now) / 2
        expl = exploitability(
            run.schemes, game, protocol=proto, tol=tolerance, time_limit=milp_time, deadline=cut, context=shared
        )
        return expl, *_verdict(run, expl, tolerance)

    for n, name in enumerate(names):
        begun = time.monotonic()
        last = n == len(names) - 1
        deadline = None if time_limit is None else begun + (t0 + time_limit - begun) / (1 if last else 2)
        profile = start_profile(game, name)
        run = _run(game, proto, line, profile, tol, max_passes, grid or DEFAULT_GRID, progress, deadline)
        engine = "line" if line else "general"
        # a start stopped on the budget is certified only when no later start has time left to run
        more_time = time_left(last)
        expl, converged, reason = certify(run, more_time)
        for _ in range(MAX_CONTINUATIONS):  # module docstring, "Continuation"
            if reason != "gain found" or (deadline is not None and time.monotonic() >= deadline):
                break
            assert expl is not None  # a gain was found by the certificate
            again = _continuation(game, proto, line and engine == "line", run, expl, tol)
            if again is None:
                break
            attempts.append(_attempt(name, engine, run, expl, converged, reason, time.monotonic() - begun))
            more = general_dynamics(game, proto.joint, tol, max_passes, start=again, deadline=deadline)
            run = more._replace(
                passes=run.passes + more.passes,
                accelerated_passes=run.accelerated_passes + more.accelerated_passes,
                history=run.history + more.history,
                restricted=run.restricted + more.restricted,
            )
            engine = "line+general" if line else "general"
            more_time = time_left(last)
            expl, converged, reason = certify(run, more_time)
        attempts.append(_attempt(name, engine, run, expl, converged, reason, time.monotonic() - begun))
        upper = math.inf if expl is None else expl.upper
        results.append((converged, upper, name, run, expl, reason, engine, len(results)))
        if converged or not check or (time_limit is not None and expl is not None and not more_time):
            break
    return attempts, results


def best_response_dynamics(
    game: Game | str,
    protocol: Protocol | str = "best_ai",
    *,
    tol: float = 1e-6,
    tolerance: float = DEFAULT_TOLERANCE,
    max_passes: int = 50,
    grid: int | None = None,
    check: bool = True,
    progress: bool = False,
    starts: Sequence[str] = DEFAULT_STARTS,
    time_limit: float | None = None,
) -> BRDynamicsResult:
    """Gauss-Seidel best-response dynamics with a certified verdict (see the module docstring).

    ``protocol``: ``best_ai`` (exact evaluation) or ``simultaneous`` (a name or a
    :class:`~persuaders.envs.game.protocols.Protocol`). ``tol``: a speaker moves only if it gains
    more than this. ``tolerance``: ``converged`` when every speaker's certified upper gain is at
    most this. ``grid``: belief-grid size for a smooth response on the belief line (default
    :data:`DEFAULT_GRID`). ``check=False`` skips the certificate (and so the verdict: ``converged``
    is then False with reason ``unchecked``, and only the first start runs). ``starts``: the
    starting profiles, tried in order until one converges. ``time_limit``: seconds the starts
    share (module docstring, "Time budget"; None: no limit). ``progress``: a progress bar on
    stderr while the general (multi-round) best responses run, when stderr is a terminal.
    """
    game = load_game(game)
    proto = _dynamics_protocol(protocol)
    _check_options(tol, tolerance, max_passes, grid)
    if time_limit is not None and not (isinstance(time_limit, (int, float)) and 0 < time_limit < math.inf):
        raise ValueError(f"time_limit: must be a positive number of seconds or None, got {time_limit!r}")
    names = [check_start(s) for s in starts] or ["babbling"]
    original, game = game, _analysis_game(game, proto)
    if (model := game.user.model).analytic is None and not model.bayesian and torch_response_available(model, 2):
        return numerical_dynamics(original, proto, tol, min(max_passes, NUMERICAL_PASSES), tolerance)
    if model.analytic is None:
        raise ValueError(
            f"best-response dynamics need exact best responses; user model {model.label()!r} names no analytic solver"
        )
    line = on_belief_line(game)
    opts = (tol, tolerance, max_passes, grid, progress, check, time_limit)
    attempts, results = _try_starts(game, proto, line, names, *opts)
    converged, _, name, run, expl, reason, engine, _ = min(results, key=lambda r: (not r[0], r[1], r[7]))
    final = evaluate(original, run.schemes, proto)  # her welfare with her own utility and model
    return BRDynamicsResult(
        game=original.name,
        protocol=proto.name,
        converged=converged,
        passes=run.passes,
        schemes=run.schemes,
        user_value=final.user_value,
        speaker_values=final.speaker_values,
        exploitability=expl,
        history=run.history,
        accelerated_passes=run.accelerated_passes,
        selection=final.selection,
        restricted=run.restricted,
        engine=engine,
        reason=reason,
        start=name,
        tolerance=tolerance,
        attempts=attempts,
    )
