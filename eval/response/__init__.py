"""Best responses: one speaker's best unilateral deviation against the others' fixed rules.

Exploitability (:mod:`persuaders.eval.exploitability`) and best-response dynamics
(:mod:`persuaders.eval.dynamics`) both ask "what is speaker ``i``'s best reply?"; the solvers
that answer it live here (docs/science.md, "Exploitability"):

* one round, a belief line or the single-sender LPs of the auxiliary game: :mod:`.deviation_joint`
  (``simultaneous``), :mod:`.deviation_selection` (``best_ai``), on :mod:`.belief_line`;
* any rounds, the sequence form: :mod:`.multiround` (``simultaneous``) and :mod:`.solo_rules`
  (``best_ai``'s solo threads), through :mod:`.deviation_general`, built on
  :mod:`.conversation_tree`, :mod:`.sequence_lp`, :mod:`.strict_lp`, :mod:`.arrangement` and
  history-dependent rules (:mod:`.rules`);
* anything else: multi-start gradient ascent on the exact payoff (:mod:`.numerical_deviation`).

:mod:`.deviation` holds the result every solver returns and the conventions they share.
"""
