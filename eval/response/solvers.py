"""The registered best-response solvers, from the most specialised (exact, fast) to the most general.

Each wraps one of the methods of this package behind :class:`~persuaders.eval.response.base.ResponseSolver`
(docs/science.md, "One best-response interface"); :func:`~persuaders.eval.response.base.best_response`
tries them in this order:

==================  ========================================================  =======================
solver              applies to                                                answer
==================  ========================================================  =======================
one_message         one message per round (no rule says anything)             the current value, exact
one_round_joint     a joint protocol, one round, fixed schemes, an            the obedience LP or the
                    analytic user model (:mod:`.deviation_joint`)             concavification on the
                                                                              auxiliary game
one_round_selection best-AI with exact scores, one round, a silent user       the solo LP with a floor
                    (:mod:`.deviation_selection`)
sequence_form       a joint protocol, any rounds and rules, an analytic       the sequence-form LP, its
                    user model (:mod:`.multiround`)                           M-message program, a
                                                                              certified upper bound
solo_thread         best-AI with exact scores, any rounds (:mod:`.solo_rules`) the same on solo threads
numerical           any protocol, fixed schemes, a user model with a          multi-start gradient
                    differentiable response (:mod:`.numerical_deviation`)     ascent (a lower bound);
                                                                              the selection envelope
                                                                              above it where it holds
==================  ========================================================  =======================

Two more fallbacks are registered in :mod:`.line_solvers`: ``belief_line_joint`` and
``belief_line_selection`` (one round, speakers with two signals: the belief line the one-round
dynamics move on).

A user model declares what it supports through :attr:`~persuaders.envs.game.users.UserModel.analytic`
(``obedience``, ``concavification`` or None) and its torch response; a protocol through
:attr:`~persuaders.envs.game.protocols.Protocol.joint` (one conversation) or as a
:class:`~persuaders.envs.game.protocols.SelectionProtocol`. So a registered user model with a
differentiable response gets the numerical solver, and an analytic one the exact solvers
(docs/extending.md says what each extension gets).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from persuaders.envs.game.protocols import Simultaneous
from persuaders.envs.payoff.engine import EnumerationTooLarge, check_enumerable
from persuaders.envs.payoff.exact import evaluate
from persuaders.eval.response.arrangement import ArrangementTooLarge
from persuaders.eval.response.base import Response, ResponseProblem, ResponseSolver, register_solver
from persuaders.eval.response.deviation import Deviation
from persuaders.eval.response.deviation_general import DEVIATION_GAMMA, as_open_loop, selection_deviation
from persuaders.eval.response.deviation_joint import simultaneous_deviation
from persuaders.eval.response.deviation_selection import best_ai_deviation
from persuaders.eval.response.multiround import multiround_best_response
from persuaders.eval.response.numerical_deviation import numerical_best_response, torch_response_available
from persuaders.eval.response.solo_rules import SoloThread

__all__ = [
    "OneMessage",
    "OneRoundJoint",
    "OneRoundSelection",
    "SequenceForm",
    "SoloThreadSolver",
    "Numerical",
    "selection_envelope",
]


def _analytic(problem: ResponseProblem) -> str | None:
    model = problem.game.user.model
    return None if model.analytic is not None else f"user model {model.label()!r} names no analytic solver"


def _enumerable(problem: ResponseProblem, joint: bool) -> str | None:
    try:
        check_enumerable(problem.game, joint=joint)
    except EnumerationTooLarge as exc:
        return str(exc)
    return None


def _from_deviation(problem: ResponseProblem, dev: Deviation, current: float, solver: str) -> Response:
    """A one-round method's :class:`Deviation` as a certified response.

    Its value ``best`` bounds every rule from above when it is an obedience LP's supremum (``exact``
    or ``upper``); it is the value of an actual rule when it comes with a scheme that has at most
    ``M`` messages (``exact`` or ``lower``)."""
    obedience = problem.game.user.model.best_responder
    upper = dev.best if obedience and dev.bound in ("exact", "upper") else math.inf
    has_rule = dev.scheme is not None and dev.bound in ("exact", "lower")
    lower = dev.best if has_rule else current
    rule = dev.scheme if has_rule else problem.profile[problem.speaker]
    return Response(problem.name, current, lower, max(upper, lower), rule, solver, dev.method)


@register_solver
class OneMessage(ResponseSolver):
    """One message per round: every rule of the speaker says the same thing, so it has no deviation
    and its best value is its current one (exact, under every protocol and user model)."""

    name = "one_message"
    priority = 0

    def supports(self, problem: ResponseProblem) -> str | None:
        return None if problem.game.messages == 1 else "more than one message"

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        rule = problem.profile[problem.speaker]
        method = "one message: every rule says the same, so no deviation changes anything"
        return Response(problem.name, current, current, current, rule, self.name, method)


@register_solver
class OneRoundJoint(ResponseSolver):
    """One round of a joint conversation against fixed schemes: the auxiliary game's single-sender
    optimum (:func:`~persuaders.eval.response.deviation_joint.simultaneous_deviation`)."""

    name = "one_round_joint"
    priority = 10

    def supports(self, problem: ResponseProblem) -> str | None:
        if not problem.protocol.joint:
            return "not a joint protocol"
        if problem.game.rounds != 1:
            return "more than one round"
        if not problem.open_loop:
            return "history-dependent rules"
        if problem.strict and problem.game.user.model.best_responder:
            return "its suprema leave the user ties (a strict rule is asked for)"
        return _analytic(problem)

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        dev = simultaneous_deviation(problem.game, problem.speaker, list(problem.profile), current)
        if dev is None:
            return Response(
                problem.name,
                current,
                current,
                math.inf,
                problem.profile[problem.speaker],
                self.name,
                "the auxiliary game is too large for the one-round solvers",
            )
        return _from_deviation(problem, dev, current, self.name)


@register_solver
class OneRoundSelection(ResponseSolver):
    """Best-AI selection with exact scores, one round, a silent user: the solo persuasion problem
    with a floor on the user's value (:func:`~persuaders.eval.response.deviation_selection.best_ai_deviation`)."""

    name = "one_round_selection"
    priority = 10

    def supports(self, problem: ResponseProblem) -> str | None:
        if not problem.exact_selection:
            return "not best-AI selection with exact scores"
        if problem.game.rounds != 1 or problem.game.user_message_counts != (1,):
            return "more than one round or a user who speaks"
        if not problem.open_loop:
            return "history-dependent rules"
        if problem.strict and problem.game.user.model.best_responder:
            return "its suprema leave the user ties (a strict rule is asked for)"
        return _analytic(problem)

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        dev = best_ai_deviation(problem.game, problem.speaker, list(problem.profile), *problem.solo())
        out = _from_deviation(problem, dev, current, self.name)
        if dev.bound == "exact" and dev.scheme is None and dev.best <= current + 1e-15:
            out.lower = current  # only ties possible: keeping the rule is best
        return out


@register_solver
class SequenceForm(ResponseSolver):
    """Any rounds of a joint conversation, any rules of the others: the sequence-form best response
    with its exact ``M``-message program (:func:`~persuaders.eval.response.multiround.multiround_best_response`)."""

    name = "sequence_form"
    priority = 20

    def supports(self, problem: ResponseProblem) -> str | None:
        if not problem.protocol.joint or not isinstance(problem.protocol, Simultaneous):
            return "not a joint protocol"
        return _analytic(problem) or _enumerable(problem, joint=True)

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        game, i = problem.game, problem.speaker
        try:
            r = multiround_best_response(
                game,
                i,
                list(problem.profile),
                strict=problem.strict,
                margins=problem.margins,
                accept=problem.context.get("accept", current),
                milp_time=problem.time_limit,
                certify=problem.context.get("certify", True),
                incumbent=current,
                settle=problem.settle,
                deadline=problem.deadline,
            )
        except (EnumerationTooLarge, ArrangementTooLarge) as exc:
            return Response(problem.name, current, current, math.inf, problem.profile[i], self.name, str(exc))
        if problem.strict and r.strict_rule is not None and r.strict_value is not None:
            rule, lower = r.strict_rule, r.strict_value
            method = r.method + "; the strict rule (no ties for the user)"
        else:
            rule, lower = r.rule, r.lower
            method = r.method
        rule = as_open_loop(game, rule)
        return Response(problem.name, current, lower, max(r.upper, lower), rule, self.name, method, needed=r.needed)


@register_solver
class SoloThreadSolver(ResponseSolver):
    """Best-AI selection with exact scores, any rounds: closed-loop rules on the solo thread, the
    larger of being passed over and being selected
    (:func:`~persuaders.eval.response.deviation_general.selection_deviation`)."""

    name = "solo_thread"
    priority = 20

    def supports(self, problem: ResponseProblem) -> str | None:
        if not problem.exact_selection:
            return "not best-AI selection with exact scores"
        return _analytic(problem) or _enumerable(problem, joint=False)

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        game, i = problem.game, problem.speaker
        try:
            threads = problem.context.get("threads")
            thread = threads[i] if threads is not None else _certificate_thread(problem)
            dev = selection_deviation(
                game,
                i,
                list(problem.profile),
                *problem.solo(),
                thread=thread,
                increment=problem.increment,
                certify=problem.context.get("certify", True),
            )
        except (EnumerationTooLarge, ArrangementTooLarge) as exc:
            return Response(problem.name, current, current, math.inf, problem.profile[i], self.name, str(exc))
        upper = dev.upper if dev.upper is not None else math.inf
        lower = dev.lower if dev.lower is not None else dev.best
        rule = dev.scheme if lower > current else problem.profile[i]
        return Response(
            problem.name,
            current,
            max(lower, current),
            max(upper, lower),
            rule,
            self.name,
            dev.method,
            detail=dev.detail,
        )


def _certificate_thread(problem: ResponseProblem) -> SoloThread:
    """Speaker ``i``'s solo thread for a certificate, with the problem's deadline: a new one, or the one
    kept in the caller's dict ``context["certificate_threads"]`` (speaker index to thread, filled
    here), which the certificates of one game share: a solo answer depends on the game alone."""
    shared = problem.context.get("certificate_threads")
    i = problem.speaker
    if shared is None or i not in shared:
        thread = SoloThread(problem.game, i, gamma=DEVIATION_GAMMA, deadline=problem.deadline)
        if shared is not None:
            shared[i] = thread
        return thread
    kept: SoloThread = shared[i]
    kept.deadline = problem.deadline
    return kept


def selection_envelope(problem: ResponseProblem) -> tuple[float, Any, float]:
    """Under a selection protocol the user deploys one speaker's solo thread, so speaker ``i`` gets a
    convex combination of its values in each thread: nothing beats ``max(its closed-loop solo
    optimum, its value in each rival's thread)`` (docs/science.md, "Certified exploitability").
    Returns ``(that bound, the solo-optimal rule or None, its value under the protocol)``;
    ``inf`` when the thread is too large."""
    game, i = problem.game, problem.speaker
    try:
        thread = _certificate_thread(problem)
        own = thread.upper(None)
        solo_rule = thread.best_rule(None)
    except (EnumerationTooLarge, ArrangementTooLarge):
        return math.inf, None, -math.inf
    if not math.isfinite(own):
        return math.inf, None, -math.inf
    _, solo_spk = problem.solo()
    rivals = [float(solo_spk[j, i]) for j in range(game.n_speakers) if j != i]
    value = -math.inf
    if solo_rule is not None:
        trial = list(problem.profile)
        trial[i] = solo_rule.rule
        value = float(evaluate(game, trial, problem.protocol).speaker_values[problem.name])
    return max([own, *rivals]), None if solo_rule is None else solo_rule.rule, value


@register_solver
class Numerical(ResponseSolver):
    """Any protocol, fixed schemes: multi-start gradient ascent on the exact differentiable payoff
    (:func:`~persuaders.eval.response.numerical_deviation.numerical_best_response`), a lower bound;
    under a selection protocol with an analytic user model, the selection envelope bounds it from
    above (:func:`selection_envelope`)."""

    name = "numerical"
    priority = 90
    fallback = True

    def supports(self, problem: ResponseProblem) -> str | None:
        if not problem.open_loop:
            return "history-dependent rules (the search is over fixed schemes)"
        model = problem.game.user.model
        if not torch_response_available(model, problem.game.n_actions):
            return f"user model {model.label()!r} has no differentiable (torch) response"
        return _enumerable(problem, joint=problem.protocol.joint)

    def respond(self, problem: ResponseProblem, current: float) -> Response:
        game, i = problem.game, problem.speaker
        schemes = [np.asarray(s) for s in problem.profile]
        best, scheme = numerical_best_response(
            game, i, schemes, problem.protocol, starts=problem.starts, steps=problem.steps, seed=problem.seed + i
        )
        method = (
            f"numerical (multi-start Adam on the exact differentiable payoff, {problem.starts}+3 starts, "
            f"{problem.steps} steps; open-loop deviations; a lower bound)"
        )
        lower, rule, upper = best, scheme, math.inf
        if not problem.protocol.joint and game.user.model.analytic is not None:
            upper, solo_rule, value = selection_envelope(problem)
            if solo_rule is not None and value > lower + 1e-15:
                lower, rule = value, solo_rule
                method += "; the closed-loop solo optimum did better"
            if math.isfinite(upper):
                method += "; upper bound: the larger of its solo optimum and its value in a rival's thread"
        if lower <= current:
            lower, rule = current, problem.profile[i]
        return Response(problem.name, current, lower, max(upper, lower), rule, self.name, method)
