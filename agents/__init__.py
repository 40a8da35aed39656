"""The learners: one interface (:class:`Learner`), a registry by name, and the built-in algorithms.

Importing this package registers ``ppo`` (:mod:`persuaders.agents.ppo`), ``mappo`` (a centralised
critic, :mod:`persuaders.agents.mappo`), ``exact_gradient`` (gradient ascent of the exact payoff,
:mod:`persuaders.agents.exact_gradient`) and the fixed speakers ``full_revelation``, ``babbling``
and ``fixed`` (:mod:`persuaders.agents.fixed`). A training
config selects a learner by name (``learner: ppo``, or per speaker).
"""

from persuaders.agents.base import (
    Learner,
    LearnerConfig,
    LearnerSpec,
    Rollout,
    learner_class,
    learners,
    register_learner,
)

# The import order is the registration order, which learners() lists.
# isort: off
from persuaders.agents.ppo import PPOConfig, PPOLearner  # registered first: the default learner
from persuaders.agents.fixed import Babbling, FixedLearner, FixedSchemes, FullRevelation
from persuaders.agents.mappo import MAPPOLearner
from persuaders.agents.exact_gradient import ExactGradientConfig, ExactGradientLearner
# isort: on

__all__ = [
    "Learner",
    "LearnerConfig",
    "LearnerSpec",
    "Rollout",
    "register_learner",
    "learner_class",
    "learners",
    "PPOConfig",
    "PPOLearner",
    "FixedLearner",
    "FullRevelation",
    "Babbling",
    "FixedSchemes",
    "MAPPOLearner",
    "ExactGradientLearner",
    "ExactGradientConfig",
]
