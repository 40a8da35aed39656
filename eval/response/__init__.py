"""Best responses: one speaker's best unilateral deviation against the others' fixed rules.

Exploitability (:mod:`persuaders.eval.exploitability`) and best-response dynamics
(:mod:`persuaders.eval.dynamics`) both ask "what is speaker ``i``'s best reply?" of one interface
(:mod:`.base`: :class:`ResponseProblem`, :class:`Response`, :func:`best_response`); the solvers
registered behind it (:mod:`.solvers`, docs/science.md, "One best-response interface") are:

* one round, the single-sender LPs of the auxiliary game: :mod:`.deviation_joint`
  (``simultaneous``), :mod:`.deviation_selection` (``best_ai``), on :mod:`.belief_line`;
* any rounds, the sequence form: :mod:`.multiround` (``simultaneous``) and :mod:`.solo_rules`
  (``best_ai``'s solo threads), through :mod:`.deviation_general`, built on
  :mod:`.conversation_tree`, :mod:`.sequence_lp`, :mod:`.strict_lp`, :mod:`.arrangement`,
  history-dependent rules (:mod:`.rules`) and the exact ``M``-message programs of
  :mod:`.cardinality`;
* anything else: multi-start gradient ascent on the exact payoff (:mod:`.numerical_deviation`).

:mod:`.deviation` holds the conventions the solvers share. A new solver subclasses
:class:`ResponseSolver` and registers with :func:`register_solver`.
"""

from persuaders.eval.response import solvers as _solvers  # noqa: F401  (registers the built-in solvers)
from persuaders.eval.response.base import (
    EXACT_GAP,
    NoSolver,
    Response,
    ResponseProblem,
    ResponseSolver,
    best_response,
    current_value,
    register_solver,
    response_solvers,
    solver_class,
)

__all__ = [
    "EXACT_GAP",
    "NoSolver",
    "Response",
    "ResponseProblem",
    "ResponseSolver",
    "best_response",
    "current_value",
    "register_solver",
    "response_solvers",
    "solver_class",
]
