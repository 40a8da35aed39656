"""The analytic layer: exact theory, exploitability and best-response dynamics (docs/science.md).

Facades (each re-exports the names of the modules behind it):

* :mod:`persuaders.eval.theory`: information values (:mod:`.information`), the convex-hull distance
  (:mod:`.hull`), the single-sender optimum (:mod:`.single_sender`, :mod:`.concavification`), the
  competition and best-AI bounds and :func:`~persuaders.eval.theory.analytic_quantities`;
  ``python -m persuaders.eval.bounds GAME`` prints them;
* :mod:`persuaders.eval.exploitability`: each speaker's best unilateral deviation
  (:mod:`.deviation`, :mod:`.deviation_joint`, :mod:`.deviation_selection`, :mod:`.numerical_deviation`);
* :mod:`persuaders.eval.best_response`: best-response dynamics (:mod:`.belief_line`,
  :mod:`.dynamics_joint`, :mod:`.dynamics_selection`, :mod:`.acceleration`).

Shared pieces: :mod:`.beliefs` (values at beliefs, averaged over the user's types),
:mod:`.geometry` (simplex grids, upper hulls); reports: :mod:`.scoring`, :mod:`.tables`,
:mod:`.report`. This layer imports :mod:`persuaders.game`, :mod:`persuaders.payoff` and
:mod:`persuaders.envs`, never the learners.
"""
