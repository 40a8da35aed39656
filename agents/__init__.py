"""The learners: one interface (:class:`Learner`), a registry by name, and the built-in algorithms.

Importing this package registers ``ppo`` (:mod:`persuaders.agents.ppo`) and the fixed speakers
``full_revelation``, ``babbling`` and ``fixed`` (:mod:`persuaders.agents.fixed`). A training
config selects a learner by name (``learner: ppo``, or per speaker).
"""

from persuaders.agents.base import Learner, LearnerConfig, LearnerSpec, Rollout, learner_class, learners, register_learner
from persuaders.agents.ppo import PPOConfig, PPOLearner  # registered first: the default learner
from persuaders.agents.fixed import Babbling, FixedLearner, FixedSchemes, FullRevelation  # noqa: I001

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
]
