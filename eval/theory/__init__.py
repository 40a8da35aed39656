"""The theory: exact analytic quantities of a game (docs/science.md, "Analytic quantities").

* information values: :func:`no_information_value`, :func:`full_information_value`,
  :func:`bayes_optimal_value`, :func:`logit_loss` (:mod:`.information`);
* the convex-hull and cone distances: :func:`hull_distance`, :class:`HullFit` (:mod:`.hull`);
* the single-sender optimum: :func:`single_sender_optimum` (:mod:`.single_sender`, by the
  obedience LP or by concavification, :mod:`.concavification`, :mod:`.logit_bounds`);
* the competition and best-AI bounds and every quantity as one mapping,
  :func:`analytic_quantities` (:mod:`.quantities`; ``persuaders-bounds GAME`` prints it).

Shared pieces: :mod:`.beliefs` (values at beliefs, averaged over the user's types),
:mod:`.geometry` (simplex grids, upper hulls); :mod:`.tables` prints an outcome beside the theory.
"""

from persuaders.eval.theory.hull import HullFit, fit_hull, hull_distance
from persuaders.eval.theory.information import (
    MAX_PROFILES,
    bayes_optimal_value,
    full_information_value,
    logit_loss,
    no_information_value,
)
from persuaders.eval.theory.quantities import (
    JSON_DECIMALS,
    analytic_quantities,
    best_ai_bound,
    bound_fit,
    bound_premise_failure,
    competition_bound,
    single_sender_values,
)
from persuaders.eval.theory.single_sender import (
    NoAnalyticOptimum,
    SchemeComponent,
    SingleSenderResult,
    SplitPoint,
    single_sender_optimum,
)

__all__ = [
    "HullFit",
    "SplitPoint",
    "SchemeComponent",
    "SingleSenderResult",
    "NoAnalyticOptimum",
    "MAX_PROFILES",
    "JSON_DECIMALS",
    "no_information_value",
    "full_information_value",
    "bayes_optimal_value",
    "logit_loss",
    "fit_hull",
    "hull_distance",
    "single_sender_optimum",
    "single_sender_values",
    "competition_bound",
    "best_ai_bound",
    "bound_fit",
    "bound_premise_failure",
    "analytic_quantities",
]
