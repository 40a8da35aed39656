"""User models fitted to observed choices: the data contract, maximum likelihood and simulation.

* :mod:`persuaders.eval.fitting.data`: the choice-data contract (one row per decision), read,
  validated and written;
* :mod:`persuaders.eval.fitting.estimate`: maximum-likelihood fits of ``logit``, ``grether`` and
  ``shrinkage`` with standard errors, intervals, AIC and BIC;
* :mod:`persuaders.eval.fitting.simulate`: decisions drawn from a game, a user model and a profile.

``persuaders-fit`` is the command line (docs/fitting.md).
"""

from persuaders.eval.fitting.data import ChoiceData, DataError, read_choices, write_choices
from persuaders.eval.fitting.estimate import FIT_MODELS, Fit, fit_model, fit_models, model_from_params
from persuaders.eval.fitting.simulate import PROFILES, simulate_choices

__all__ = [
    "ChoiceData",
    "DataError",
    "read_choices",
    "write_choices",
    "FIT_MODELS",
    "Fit",
    "fit_model",
    "fit_models",
    "model_from_params",
    "PROFILES",
    "simulate_choices",
]
