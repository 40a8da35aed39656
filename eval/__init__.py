"""Evaluation: the exact theory of a game, best responses, exploitability, dynamics and experiments.

Grouped by job (docs/science.md):

* :mod:`persuaders.eval.theory`: what the theory says of a game (information values, the hull
  and cone distances, single-sender optima, the competition and best-AI bounds);
* :mod:`persuaders.eval.response`: one speaker's best reply to the others' rules;
* :mod:`persuaders.eval.exploitability`: every speaker's best gain, certified;
* :mod:`persuaders.eval.dynamics`: best-response dynamics among the speakers;
* :mod:`persuaders.eval.experiments`: the paper's experiments (the top layer: it runs the others).

Apart from the experiments, this layer imports only the game (:mod:`persuaders.envs.game`) and the
payoff engine (:mod:`persuaders.envs.payoff`): never the environments or the learners.
"""

from persuaders.compat import install_aliases

install_aliases()  # the previous release's module names, deprecated (persuaders.compat)
