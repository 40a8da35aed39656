"""Best-response dynamics among the speakers of a game (docs/science.md, "Best-response dynamics").

:func:`best_response_dynamics` (:mod:`.best_response`; ``persuaders-dynamics GAME`` runs it)
moves the speakers in turn to a best response: on the one-round belief line (:mod:`.joint` for
``simultaneous``, :mod:`.selection` for ``best_ai``, accelerated by :mod:`.acceleration`) or on
the general sequence-form best responses (:mod:`.general`), from the starts of :mod:`.starts`,
with a certified verdict.
"""

from persuaders.eval.dynamics.best_response import DEFAULT_TOLERANCE, BRDynamicsResult, best_response_dynamics
from persuaders.eval.dynamics.starts import DEFAULT_STARTS

__all__ = ["DEFAULT_STARTS", "DEFAULT_TOLERANCE", "BRDynamicsResult", "best_response_dynamics"]
